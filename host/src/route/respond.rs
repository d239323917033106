//! Turning the chosen answer into the client's response: the body in OpenAI's shape with
//! `model` naming the model that answered, plus the transparency headers.

use std::time::Instant;

use bytes::BytesMut;
use http::{HeaderValue, Response, StatusCode, header};

use super::cascade::Plan;
use super::decision::{Attempt, AttemptOutcome};
use super::recorder::Recorder;
use super::request::ChatBody;
use super::snapshot::{ModelEntry, Snapshot};
use crate::plugin::Request;
use crate::provider::translate::ClientStream;
use crate::provider::{Completion, CompletionStream, StreamEvent, cost_usd};
use crate::server::body::{self, Body, full};
use crate::server::error::ApiError;
use crate::server::headers::Transparency;

/// Chunks buffered between the upstream reader and a slow client before reading pauses.
const STREAM_BUFFER_CHUNKS: usize = 64;

fn transparency(
    recorder: &Recorder,
    model: Option<&str>,
    plan_reason: &str,
    cost: f64,
    stream: Option<&'static str>,
) -> Transparency {
    Transparency {
        request_id: recorder.record.id.clone(),
        snapshot: recorder.record.snapshot,
        model: model.map(str::to_string),
        route: recorder.record.route.clone(),
        attempts: recorder.record.attempts.len(),
        reason: plan_reason.to_string(),
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

/// A whole (non-streamed) answer, in the client's dialect.
pub fn complete(
    recorder: Recorder,
    entry: &ModelEntry,
    completion: Completion,
    body: &ChatBody,
    plan: &Plan,
) -> Response<Body> {
    let bytes = completion.into_client_body(body.dialect, &entry.id);
    let t = transparency(&recorder, Some(&entry.id), &plan.reason, recorder.cost_so_far(), None);
    recorder.finish(200, Some(entry.id.clone()), None);
    with_headers(Response::new(full(bytes)), "application/json", &t)
}

/// A streamed answer that was held back for the gates and accepted: replayed in one go.
pub fn buffered_stream(
    recorder: Recorder,
    entry: &ModelEntry,
    events: Vec<StreamEvent>,
    body: &ChatBody,
    plan: &Plan,
) -> Response<Body> {
    let mut out = BytesMut::new();
    let mut writer = ClientStream::new(body.dialect, &entry.id, body.include_usage);
    for event in events {
        writer.write(event, &mut out);
    }
    writer.done(&mut out);
    let t = transparency(&recorder, Some(&entry.id), &plan.reason, recorder.cost_so_far(), Some("buffered"));
    recorder.finish(200, Some(entry.id.clone()), None);
    with_headers(Response::new(full(out.freeze())), "text/event-stream; charset=utf-8", &t)
}

/// A stream that goes to the client as it arrives. The record is finished when the stream
/// ends, with the usage the stream reported.
#[allow(clippy::too_many_arguments)]
pub fn passthrough(
    recorder: Recorder,
    mut attempt: Attempt,
    entry: &ModelEntry,
    mut stream: CompletionStream,
    body: &ChatBody,
    plan: &Plan,
    started: Instant,
    request: &Request,
) -> Response<Body> {
    // The final cost is known only at the end of the stream; the header carries what is
    // known now (earlier attempts and this prompt). The decision record has the exact sum.
    let prompt_cost = entry.config.input_price * f64::from(request.input_tokens) / 1e6;
    let mut t = transparency(
        &recorder,
        Some(&entry.id),
        &plan.reason,
        recorder.cost_so_far() + prompt_cost,
        Some("passthrough"),
    );
    t.attempts += 1; // this attempt joins the record when the stream ends
    let (sender, response_body) = body::channel(STREAM_BUFFER_CHUNKS);
    let mut writer = ClientStream::new(body.dialect, &entry.id, body.include_usage);
    let model_id = entry.id.clone();
    let (input_price, output_price) = (entry.config.input_price, entry.config.output_price);
    let mut recorder = recorder;
    tokio::spawn(async move {
        let mut error = None;
        let mut out = BytesMut::new();
        loop {
            match stream.next_event().await {
                Ok(Some(event)) => {
                    let end = event == StreamEvent::Done;
                    writer.write(event, &mut out);
                    if end {
                        writer.done(&mut out);
                    }
                    if !out.is_empty() && sender.send(out.split().freeze()).await.is_err() {
                        error = Some("the client disconnected".to_string());
                        break;
                    }
                    if end {
                        break;
                    }
                }
                Ok(None) => {
                    writer.done(&mut out);
                    let _ = sender.send(out.split().freeze()).await;
                    break;
                }
                Err(cut) => {
                    let message = format!("The upstream stream of `{model_id}` broke: {cut}");
                    let event = ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", message.clone()).body_json();
                    writer.error(StatusCode::BAD_GATEWAY.as_u16(), &message, &event, &mut out);
                    let _ = sender.send(out.split().freeze()).await;
                    attempt.outcome = AttemptOutcome::StreamBroken;
                    error = Some(message);
                    break;
                }
            }
        }
        let summary = stream.summary();
        attempt.input_tokens = summary.usage.prompt_tokens;
        attempt.output_tokens = summary.usage.completion_tokens;
        attempt.tokens_estimated = summary.usage.estimated;
        attempt.cost_usd = cost_usd(&summary.usage, input_price, output_price);
        attempt.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        recorder.app.health().record(&model_id, attempt.outcome != AttemptOutcome::StreamBroken, started.elapsed());
        recorder.record.attempts.push(attempt);
        recorder.finish(200, Some(model_id), error);
    });
    with_headers(Response::new(response_body), "text/event-stream; charset=utf-8", &t)
}

/// An error answer, with the record finished.
pub fn error(recorder: Recorder, error: ApiError, _snapshot: &Snapshot) -> Response<Body> {
    let reason = recorder.record.plan.reason.clone();
    let t = transparency(&recorder, None, &reason, recorder.cost_so_far(), None);
    recorder.finish(error.status.as_u16(), None, Some(error.message.clone()));
    let mut response = error.into_response();
    t.apply(response.headers_mut());
    response
}
