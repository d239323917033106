//! Turning the chosen answer into the client's response: the body in OpenAI's shape with
//! `model` naming the model that answered, plus the transparency headers.

use bytes::BytesMut;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::Value;

use super::body::{self, Body, full};
use super::error::ApiError;
use super::headers::{Transparency, trail};
use super::recorder::Recorder;
use crate::plugin::Request;
use crate::provider::{Completion, CompletionStream, StreamEvent, cost_usd, sse};
use crate::route::request::ChatBody;
use crate::route::snapshot::ModelEntry;
use crate::telemetry::decision::AttemptOutcome;

/// Chunks buffered between the upstream reader and a slow client before reading pauses.
const STREAM_BUFFER_CHUNKS: usize = 64;

fn transparency(
    recorder: &Recorder,
    model: Option<&str>,
    cost: Option<f64>,
    stream: Option<&'static str>,
) -> Transparency {
    let record = &recorder.record;
    Transparency {
        request_id: record.id.clone(),
        snapshot: record.snapshot,
        model: model.map(str::to_string),
        route: record.route.clone(),
        attempts: record.attempts.len(),
        reason: record.plan.reason.clone(),
        trail: trail(&record.attempts),
        cost_usd: cost,
        stream,
    }
}

fn with_headers(mut response: Response<Body>, content_type: &'static str, t: &Transparency) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if content_type.starts_with("text/event-stream") {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    t.apply(headers);
    response
}

/// A whole (non-streamed) answer.
pub fn complete(recorder: Recorder, entry: &ModelEntry, completion: Completion) -> Response<Body> {
    let bytes = completion.body.with_model(&entry.id);
    let t = transparency(&recorder, Some(&entry.id), recorder.cost_so_far(), None);
    recorder.finish(200, Some(entry.id.clone()), None);
    with_headers(Response::new(full(bytes)), "application/json", &t)
}

/// A streamed answer that was held back for the gates and accepted: replayed in one go.
pub fn buffered_stream(recorder: Recorder, entry: &ModelEntry, chunks: Vec<Value>, body: &ChatBody) -> Response<Body> {
    let mut out = BytesMut::new();
    for chunk in chunks {
        if let Some(chunk) = client_chunk(chunk, &entry.id, body.include_usage) {
            out.extend_from_slice(&sse::event(&chunk));
        }
    }
    out.extend_from_slice(&sse::done());
    let t = transparency(&recorder, Some(&entry.id), recorder.cost_so_far(), Some("buffered"));
    recorder.finish(200, Some(entry.id.clone()), None);
    with_headers(Response::new(full(out.freeze())), "text/event-stream; charset=utf-8", &t)
}

/// A stream that goes to the client as it arrives. Its attempt is already the record's last
/// (the core recorded it when the stream started); the relay fills in its usage, cost and
/// latency when the stream ends, then finishes the record.
pub fn passthrough(
    recorder: Recorder,
    entry: &ModelEntry,
    mut stream: CompletionStream,
    body: &ChatBody,
    request: &Request,
) -> Response<Body> {
    // The final cost is known only at the end of the stream; the header carries what is
    // known now (earlier attempts and this prompt). The decision record has the exact sum.
    let prices = entry.config.prices();
    let prompt_cost = prices.map(|p| p.input * f64::from(request.input_tokens) / 1e6);
    let earlier =
        crate::telemetry::decision::total_cost(recorder.record.attempts.iter().rev().skip(1).map(|a| &a.cost_usd));
    let header_cost = earlier.zip(prompt_cost).map(|(a, b)| a + b);
    let t = transparency(&recorder, Some(&entry.id), header_cost, Some("passthrough"));
    let (sender, response_body) = body::channel(STREAM_BUFFER_CHUNKS);
    let include_usage = body.include_usage;
    let model_id = entry.id.clone();
    let mut recorder = recorder;
    let attempt_started = std::time::Instant::now();
    tokio::spawn(async move {
        let mut error = None;
        let mut outcome = AttemptOutcome::Returned;
        loop {
            match stream.next_event().await {
                Ok(Some(StreamEvent::Chunk(chunk))) => {
                    let Some(chunk) = client_chunk(chunk, &model_id, include_usage) else {
                        continue;
                    };
                    if sender.send(sse::event(&chunk)).await.is_err() {
                        error = Some("the client disconnected".to_string());
                        break;
                    }
                }
                Ok(Some(StreamEvent::Done)) | Ok(None) => {
                    let _ = sender.send(sse::done()).await;
                    break;
                }
                Err(cut) => {
                    let message = format!("The upstream stream of `{model_id}` broke: {cut}");
                    let event = ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", message.clone()).body_json();
                    let _ = sender.send(sse::event(&event)).await;
                    outcome = AttemptOutcome::StreamBroken;
                    error = Some(message);
                    break;
                }
            }
        }
        let summary = stream.summary();
        let mut latency = attempt_started.elapsed();
        if let Some(attempt) = recorder.record.attempts.last_mut() {
            attempt.outcome = outcome;
            attempt.input_tokens = summary.usage.prompt_tokens;
            attempt.output_tokens = summary.usage.completion_tokens;
            attempt.cached_input_tokens = summary.usage.cached_prompt_tokens;
            attempt.tokens_estimated = summary.usage.estimated;
            attempt.cost_usd = cost_usd(&summary.usage, prices);
            attempt.latency_ms += latency.as_secs_f64() * 1000.0;
            latency = std::time::Duration::from_secs_f64(attempt.latency_ms / 1000.0);
        }
        recorder.app.health().record(&model_id, outcome != AttemptOutcome::StreamBroken, latency);
        recorder.finish(200, Some(model_id), error);
    });
    with_headers(Response::new(response_body), "text/event-stream; charset=utf-8", &t)
}

/// A chunk as the client should see it: `model` names our model; the usage chunk we asked
/// for on the client's behalf is dropped unless the client asked for it too.
fn client_chunk(mut chunk: Value, model: &str, include_usage: bool) -> Option<Value> {
    let Value::Object(object) = &mut chunk else {
        return Some(chunk);
    };
    if !include_usage && object.contains_key("usage") {
        let no_choices = object.get("choices").and_then(Value::as_array).is_none_or(Vec::is_empty);
        if no_choices {
            return None;
        }
        object.remove("usage");
    }
    object.insert("model".into(), Value::String(model.to_string()));
    Some(chunk)
}

/// An error answer, with the record finished.
pub fn error(recorder: Recorder, error: ApiError) -> Response<Body> {
    let t = transparency(&recorder, None, recorder.cost_so_far(), None);
    recorder.finish(error.status.as_u16(), None, Some(error.message.clone()));
    let mut response = error.into_response();
    t.apply(response.headers_mut());
    response
}
