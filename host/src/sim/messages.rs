//! The simulator's Anthropic face: `POST /v1/messages`, plain and streamed, so tests have
//! an Anthropic-dialect upstream offline. The request is checked like Anthropic checks it
//! (`anthropic-version` header, `max_tokens`, content blocks) and answered by the same
//! simulated models as the OpenAI face, rendered through the translators the proxy uses.
//!
//! When the request offers tools and its last turn is the user's, the model calls one (the
//! one `tool_choice` names, else the first), with arguments built from the tool's schema.
//! After a `tool_result` it answers in text.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use super::SimOptions;
use super::answer::{Answer, Quality, answer, hash};
use super::faults::{Behavior, behavior, flaky_fails, latency};
use super::respond::{Body, MAX_REQUEST_BYTES, json_response, sse_response, status};
use super::wire;
use crate::provider::translate::stream_out::Event;
use crate::provider::translate::{OpenaiToAnthropic, request_in, response, stop};

/// A simulated answer to a Messages request, as an Anthropic `message`.
pub fn message(model: &str, quality: Quality, original: &Map<String, Value>) -> Result<(Value, Answer), String> {
    let canonical = request_in::canonical(original, false).map_err(|e| e.message)?;
    let (completion, answer) = openai_completion(model, quality, &canonical);
    Ok((response::to_anthropic(&completion), answer))
}

/// The same answer as Anthropic stream events, in order.
pub fn events(model: &str, quality: Quality, original: &Map<String, Value>) -> Result<(Vec<Event>, Answer), String> {
    let canonical = request_in::canonical(original, false).map_err(|e| e.message)?;
    let (completion, answer) = openai_completion(model, quality, &canonical);
    let mut translator = OpenaiToAnthropic::new(model);
    let mut out = Vec::new();
    for chunk in chunks(&completion) {
        translator.chunk(&chunk, &mut out);
    }
    translator.finish(&mut out);
    Ok((out, answer))
}

/// The OpenAI `chat.completion` the simulated model gives (with a tool call when due).
fn openai_completion(model: &str, quality: Quality, canonical: &Map<String, Value>) -> (Value, Answer) {
    let answer = answer(model, quality, canonical);
    let mut completion = wire::completion(model, &answer, false);
    completion["id"] = json!(format!("msg_sim{:016x}", answer.seed));
    let has_call = completion.pointer("/choices/0/message/tool_calls").is_some_and(|c| !c.is_null());
    if !has_call && let Some(call) = tool_call(canonical, answer.seed) {
        completion["choices"][0]["message"]["content"] = json!("I'll look that up.");
        completion["choices"][0]["message"]["tool_calls"] = json!([call]);
        completion["choices"][0]["finish_reason"] = json!("tool_calls");
    }
    (completion, answer)
}

/// The tool call the model makes, if it makes one.
fn tool_call(canonical: &Map<String, Value>, seed: u64) -> Option<Value> {
    let tools = canonical.get("tools")?.as_array()?;
    let last = canonical.get("messages")?.as_array()?.last()?;
    if last.get("role").and_then(Value::as_str) != Some("user") || canonical.get("tool_choice") == Some(&json!("none"))
    {
        return None;
    }
    let named = canonical.get("tool_choice").and_then(|c| c.pointer("/function/name")).and_then(Value::as_str);
    let tool =
        tools.iter().find(|t| named.is_none_or(|n| t.pointer("/function/name").and_then(Value::as_str) == Some(n)))?;
    let name = tool.pointer("/function/name")?.as_str()?;
    let schema = tool.pointer("/function/parameters");
    let mut arguments = Map::new();
    let topic = last.get("content").and_then(Value::as_str).unwrap_or("it");
    let word = topic.split_whitespace().last().unwrap_or("it").trim_matches(|c: char| !c.is_alphanumeric());
    let required = schema.and_then(|s| s.get("required")).and_then(Value::as_array).cloned().unwrap_or_default();
    for key in required.iter().filter_map(Value::as_str) {
        let kind = schema.and_then(|s| s.pointer(&format!("/properties/{key}/type"))).and_then(Value::as_str);
        let enum_first = schema.and_then(|s| s.pointer(&format!("/properties/{key}/enum/0"))).cloned();
        let value = match (enum_first, kind) {
            (Some(first), _) => first,
            (None, Some("integer" | "number")) => json!(1 + (seed % 9)),
            (None, Some("boolean")) => json!(true),
            (None, Some("array")) => json!([]),
            (None, Some("object")) => json!({}),
            _ => json!(word),
        };
        arguments.insert(key.to_string(), value);
    }
    let id = format!("toolu_sim{:016x}", hash(&[name, &seed.to_string()]));
    Some(
        json!({"id": id, "type": "function", "function": {"name": name, "arguments": Value::Object(arguments).to_string()}}),
    )
}

/// A complete answer as the chunks an OpenAI stream of it would have: content a few words
/// at a time, each tool call's arguments in two fragments, the finish reason, the usage.
fn chunks(completion: &Value) -> Vec<Value> {
    let id = completion.get("id").cloned().unwrap_or(json!(""));
    let chunk = |delta: Value, finish: Value| json!({"id": id, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    let message = completion.pointer("/choices/0/message");
    let content = message.and_then(|m| m.get("content")).and_then(Value::as_str).unwrap_or_default();
    let mut out = Vec::new();
    let words: Vec<&str> = content.split_inclusive(' ').collect();
    for piece in words.chunks(3) {
        out.push(chunk(json!({"content": piece.concat()}), Value::Null));
    }
    for (i, call) in
        message.and_then(|m| m.get("tool_calls")).and_then(Value::as_array).into_iter().flatten().enumerate()
    {
        let arguments = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default();
        let name = call.pointer("/function/name").cloned().unwrap_or(json!(""));
        let first =
            json!({"index": i, "id": call.get("id"), "type": "function", "function": {"name": name, "arguments": ""}});
        out.push(chunk(json!({"tool_calls": [first]}), Value::Null));
        let half = arguments.char_indices().nth(arguments.chars().count() / 2).map_or(arguments.len(), |(at, _)| at);
        for part in [&arguments[..half], &arguments[half..]] {
            out.push(chunk(json!({"tool_calls": [{"index": i, "function": {"arguments": part}}]}), Value::Null));
        }
    }
    out.push(chunk(json!({}), completion.pointer("/choices/0/finish_reason").cloned().unwrap_or(json!("stop"))));
    let mut usage = chunk(json!({}), Value::Null);
    usage["choices"] = json!([]);
    usage["usage"] = completion.get("usage").cloned().unwrap_or(json!({}));
    out.push(usage);
    out
}

/// `POST /v1/messages`; `None` means "reset the connection".
pub(crate) async fn handle(req: Request<Incoming>, options: SimOptions) -> Option<Response<Body>> {
    if req.headers().get("anthropic-version").is_none() {
        return Some(error(StatusCode::BAD_REQUEST, "anthropic-version: header is required"));
    }
    let raw = match Limited::new(req.into_body(), MAX_REQUEST_BYTES).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Some(error(StatusCode::PAYLOAD_TOO_LARGE, "request body unreadable or too large")),
    };
    let body: Map<String, Value> = match serde_json::from_slice(&raw) {
        Ok(body) => body,
        Err(e) => return Some(error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}"))),
    };
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let Some(behavior) = behavior(&model) else {
        return Some(error(StatusCode::NOT_FOUND, &format!("model: {model}")));
    };
    let quality = match behavior {
        Behavior::Answer(quality) => quality,
        Behavior::Status(code) => return Some(error(status(code), "simulated upstream failure")),
        Behavior::RateLimited => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "Rate limit reached (simulated)");
            r.headers_mut().insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
            return Some(r);
        }
        Behavior::Hang => {
            std::future::pending::<()>().await;
            return None;
        }
        Behavior::Reset => return None,
        Behavior::Flaky(n) if flaky_fails(n) => {
            return Some(error(StatusCode::SERVICE_UNAVAILABLE, "simulated flaky failure"));
        }
        _ => Quality::Small,
    };
    let echo = behavior == Behavior::Echo;
    let delay = |a: &Answer| match behavior {
        Behavior::Slow(ms) => Duration::from_millis(ms),
        _ => latency(quality, a.completion_tokens, options.latency_scale),
    };
    if !stream {
        let (mut message, answer) = match message(&model, quality, &body) {
            Ok(done) => done,
            Err(invalid) => return Some(error(StatusCode::BAD_REQUEST, &invalid)),
        };
        if echo {
            message["content"] = json!([{"type": "text", "text": String::from_utf8_lossy(&raw)}]);
            message["stop_reason"] = json!("end_turn");
        }
        tokio::time::sleep(delay(&answer)).await;
        return Some(json_response(StatusCode::OK, &message));
    }
    let (mut events, answer) = match events(&model, quality, &body) {
        Ok(done) => done,
        Err(invalid) => return Some(error(StatusCode::BAD_REQUEST, &invalid)),
    };
    let cut = behavior == Behavior::CutStream;
    if cut {
        // Up to the first text delta: the cut comes before the stop reason.
        let first_delta = events.iter().position(|e| e.name == "content_block_delta").unwrap_or(0);
        events.truncate(first_delta + 1);
    }
    let frames: Vec<Bytes> = events.iter().map(|e| named(e.name, &e.data)).collect();
    let per_event = delay(&answer) / u32::try_from(frames.len()).unwrap_or(1).max(1);
    Some(sse_response(frames, per_event, cut))
}

fn named(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// An error in Anthropic's shape.
fn error(status: StatusCode, message: &str) -> Response<Body> {
    json_response(status, &stop::anthropic_error(status.as_u16(), message))
}
