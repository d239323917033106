//! One simulated request: parse it, pick the behavior for the requested model, answer.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Map, Value, json};

use super::SimOptions;
use super::answer::{Answer, Quality, answer};
use super::faults::{Behavior, LISTED, behavior, flaky_fails, latency};
use super::wire;
use crate::provider::sse;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The simulator's response body type.
pub(crate) type Body = BoxBody<Bytes, BoxError>;

/// Returned to hyper to make it drop the connection without a response (`reset`).
#[derive(Debug, thiserror::Error)]
#[error("simulated connection reset")]
pub(crate) struct Reset;

/// Largest request body the simulator reads.
pub(super) const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// Answers one request; `None` means "reset the connection".
pub(crate) async fn handle(req: Request<Incoming>, options: SimOptions) -> Option<Response<Body>> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    match (req.method(), path.as_str()) {
        (&Method::GET, "/v1/models") => Some(json_response(StatusCode::OK, &wire::models(LISTED))),
        (&Method::POST, "/v1/chat/completions") => chat(req, options).await,
        (&Method::POST, "/v1/messages") => super::messages::handle(req, options).await,
        (&Method::POST, "/v1/embeddings") => Some(embeddings(req).await),
        (_, "/v1/models" | "/v1/chat/completions" | "/v1/messages" | "/v1/embeddings") => {
            Some(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"))
        }
        _ => Some(error(StatusCode::NOT_FOUND, &format!("no route for {path}"))),
    }
}

async fn chat(req: Request<Incoming>, options: SimOptions) -> Option<Response<Body>> {
    let raw = match Limited::new(req.into_body(), MAX_REQUEST_BYTES).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return Some(error(StatusCode::PAYLOAD_TOO_LARGE, "request body unreadable or too large"));
        }
    };
    let body: Map<String, Value> = match serde_json::from_slice(&raw) {
        Ok(body) => body,
        Err(e) => {
            return Some(error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")));
        }
    };
    let Some(model) = body.get("model").and_then(Value::as_str).map(str::to_string) else {
        return Some(error(StatusCode::BAD_REQUEST, "missing \"model\""));
    };
    if !body.get("messages").is_some_and(Value::is_array) {
        return Some(error(StatusCode::BAD_REQUEST, "\"messages\" must be an array"));
    }
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage =
        body.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool).unwrap_or(false);
    let logprobs = body.get("logprobs").and_then(Value::as_bool).unwrap_or(false);
    let Some(behavior) = behavior(&model) else {
        let message = format!("The model `{model}` does not exist");
        let body = wire::error(&message, "invalid_request_error", Some("model_not_found"));
        return Some(json_response(StatusCode::NOT_FOUND, &body));
    };
    let small = |delay: Duration| Reply::Answer(answer(&model, Quality::Small, &body), delay);
    let reply = match behavior {
        Behavior::Answer(quality) => {
            let a = answer(&model, quality, &body);
            let delay = latency(quality, a.completion_tokens, options.latency_scale);
            Reply::Answer(a, delay)
        }
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
        Behavior::Slow(ms) => small(Duration::from_millis(ms)),
        Behavior::Flaky(n) if flaky_fails(n) => {
            return Some(error(StatusCode::SERVICE_UNAVAILABLE, "simulated flaky failure"));
        }
        Behavior::Flaky(_) => {
            let a = answer(&model, Quality::Small, &body);
            let delay = latency(Quality::Small, a.completion_tokens, options.latency_scale);
            Reply::Answer(a, delay)
        }
        Behavior::Echo => {
            let mut a = answer(&model, Quality::Small, &body);
            a.content = String::from_utf8_lossy(&raw).into_owned();
            // `echo` shows the request it received as text, even when tools were offered.
            a.tool_calls.clear();
            a.completion_tokens = crate::provider::cost::estimate_tokens(&a.content);
            a.finish_reason = "stop";
            Reply::Answer(a, Duration::ZERO)
        }
        Behavior::CutStream => Reply::Cut(answer(&model, Quality::Small, &body)),
        Behavior::BadJson => Reply::BadJson,
        Behavior::NoChoices => Reply::NoChoices(answer(&model, Quality::Small, &body)),
    };
    Some(reply.render(&model, stream, include_usage, logprobs).await)
}

/// `POST /v1/embeddings`: deterministic unit vectors (`dimensions`, default 8) from a hash of
/// the model and each input, with usage.
async fn embeddings(req: Request<Incoming>) -> Response<Body> {
    let raw = match Limited::new(req.into_body(), MAX_REQUEST_BYTES).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "request body unreadable or too large"),
    };
    let body: Map<String, Value> = match serde_json::from_slice(&raw) {
        Ok(body) => body,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")),
    };
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "missing \"model\"");
    };
    if behavior(model).is_none() {
        let body = wire::error(
            &format!("The model `{model}` does not exist"),
            "invalid_request_error",
            Some("model_not_found"),
        );
        return json_response(StatusCode::NOT_FOUND, &body);
    }
    match body.get("input") {
        Some(input @ (Value::String(_) | Value::Array(_))) => {
            let dimensions = body.get("dimensions").and_then(Value::as_u64).unwrap_or(8).clamp(1, 4096) as usize;
            json_response(StatusCode::OK, &wire::embeddings(model, input, dimensions))
        }
        _ => error(StatusCode::BAD_REQUEST, "\"input\" must be a string or an array"),
    }
}

/// A successful-status reply, rendered as JSON or SSE.
enum Reply {
    Answer(Answer, Duration),
    Cut(Answer),
    BadJson,
    NoChoices(Answer),
}

impl Reply {
    async fn render(self, model: &str, stream: bool, include_usage: bool, logprobs: bool) -> Response<Body> {
        match (self, stream) {
            (Reply::Answer(a, delay), false) => {
                tokio::time::sleep(delay).await;
                json_response(StatusCode::OK, &wire::completion(model, &a, logprobs))
            }
            (Reply::Answer(a, delay), true) => {
                let chunks = wire::chunks(model, &a, include_usage);
                // Spread the generation time over the chunks, like a real token stream.
                let per_chunk = delay / u32::try_from(chunks.len()).unwrap_or(1).max(1);
                let mut frames: Vec<Bytes> = chunks.iter().map(sse::event).collect();
                frames.push(sse::done());
                sse_response(frames, per_chunk, false)
            }
            (Reply::Cut(a), _) => {
                let frames = wire::chunks(model, &a, false)
                    .iter()
                    // Content chunks only: the cut must come before the finish reason.
                    .filter(|c| c.pointer("/choices/0/finish_reason").is_some_and(Value::is_null))
                    .take(2)
                    .map(sse::event)
                    .collect();
                sse_response(frames, Duration::ZERO, true)
            }
            (Reply::BadJson, false) => {
                raw_response("application/json", Bytes::from_static(b"{\"id\": \"x\", \"choices\": ["))
            }
            (Reply::BadJson, true) => raw_response(
                "text/event-stream",
                Bytes::from_static(b"data: {\"id\": \"x\", \"choi\n\ndata: [DONE]\n\n"),
            ),
            (Reply::NoChoices(a), false) => {
                let mut v = wire::completion(model, &a, false);
                v["choices"] = json!([]);
                json_response(StatusCode::OK, &v)
            }
            (Reply::NoChoices(a), true) => {
                let mut v = wire::chunk(model, &a, json!({}), None);
                v["choices"] = json!([]);
                sse_response(vec![sse::event(&v), sse::done()], Duration::ZERO, false)
            }
        }
    }
}

pub(super) fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

pub(super) fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

pub(super) fn raw_response(content_type: &'static str, bytes: Bytes) -> Response<Body> {
    let mut r = Response::new(full(bytes));
    r.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    r
}

pub(super) fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut r = raw_response("application/json", Bytes::from(value.to_string()));
    *r.status_mut() = status;
    r
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    let kind = if status.is_server_error() { "server_error" } else { "invalid_request_error" };
    json_response(status, &wire::error(message, kind, None))
}

/// An SSE response sending `frames` `gap` apart; `cut` ends it with a body error, which
/// makes hyper drop the connection mid-stream.
pub(super) fn sse_response(frames: Vec<Bytes>, gap: Duration, cut: bool) -> Response<Body> {
    let state = (frames.into_iter(), cut, false);
    let stream = futures_util::stream::unfold(state, move |(mut frames, cut, first_sent)| async move {
        match frames.next() {
            Some(frame) => {
                if first_sent && !gap.is_zero() {
                    tokio::time::sleep(gap).await;
                }
                Some((Ok::<_, BoxError>(Frame::data(frame)), (frames, cut, true)))
            }
            None if cut => {
                // Let hyper flush the head and chunks first: an error in the same poll
                // would abort the connection before the client saw a response at all.
                tokio::time::sleep(Duration::from_millis(30)).await;
                Some((Err(BoxError::from("simulated stream cut")), (frames, false, true)))
            }
            None => None,
        }
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    let headers = r.headers_mut();
    headers.insert(header::CONTENT_TYPE, http::HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    r
}
