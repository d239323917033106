//! The plan, step by step: call a model, let the gates judge, fall back on upstream failure,
//! escalate on a gate's verdict.
//!
//! Streaming: a step that gates will judge is buffered whole (the client sees nothing of an
//! answer that may be thrown away) and replayed once accepted. The last step of a plan, and
//! every step of a route without gates, streams straight through from the first byte.

use std::sync::Arc;
use std::time::Instant;

use http::{Response, StatusCode};
use tokio::time::Instant as Deadline;

use super::decision::{Attempt, AttemptOutcome};
use super::gates::{self, GateOutcome};
use super::recorder::Recorder;
use super::request::ChatBody;
use super::respond;
use super::snapshot::{ModelEntry, Route, Snapshot};
use crate::config::OnReject;
use crate::plugin::{Candidate, Request};
use crate::provider::{Completion, ProviderError, UpstreamCall, UpstreamReply, cost_usd};
use crate::server::body::Body;
use crate::server::error::ApiError;

/// The steps to try, in order, and why.
#[derive(Debug, Clone)]
pub struct Plan {
    pub steps: Vec<String>,
    pub reason: String,
}

/// Runs the plan and answers the client.
pub async fn run(
    mut recorder: Recorder,
    snapshot: Arc<Snapshot>,
    route: Option<Arc<Route>>,
    body: ChatBody,
    request: Request,
    plan: Plan,
    deadline: Deadline,
) -> Response<Body> {
    let has_gates = route.as_ref().is_some_and(|r| !r.gates.is_empty());
    let on_reject = route.as_ref().map_or(OnReject::Next, |r| r.on_reject);
    let steps = plan.steps.len();
    for (step, model_id) in plan.steps.iter().enumerate() {
        let last = step + 1 == steps;
        let Some(entry) = snapshot.models.get(model_id).cloned() else {
            continue; // plans are checked against the model table before this point
        };
        if Deadline::now() >= deadline {
            recorder.record.attempts.push(skipped(
                step,
                &entry,
                AttemptOutcome::DeadlineExceeded,
                "the request's deadline had passed",
            ));
            break;
        }
        let nothing_tried = recorder.record.attempts.iter().all(|a| a.status.is_none());
        let open_circuit = !recorder.app.health().allow(model_id);
        if open_circuit && !(last && nothing_tried) {
            recorder.record.attempts.push(skipped(
                step,
                &entry,
                AttemptOutcome::UpstreamError,
                "circuit open: the model failed repeatedly",
            ));
            continue;
        }
        let buffered = body.stream && has_gates && !last;
        let started = Instant::now();
        // The client's body, untouched but for asking streams to report usage (needed for
        // the cost; stripped again if the client did not ask for it).
        let call = UpstreamCall {
            body: &body.json,
            upstream_model: entry.upstream_name(),
            stream: body.stream,
            stream_usage: true,
            deadline,
        };
        let reply = entry.provider.chat(call).await;
        let mut attempt = Attempt {
            step,
            model: entry.id.clone(),
            provider: entry.provider.name().to_string(),
            upstream_model: entry.upstream_name().to_string(),
            buffered,
            ..Default::default()
        };

        let reply = match reply {
            Ok(reply) => reply,
            Err(error) => {
                upstream_failed(&recorder, &mut attempt, &error, started);
                recorder.record.attempts.push(attempt);
                if let ProviderError::Status { status: status @ (400 | 413 | 422), message, .. } = &error {
                    // The request itself is wrong; every model would say so.
                    let api = ApiError::new(
                        StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
                        "invalid_request_error",
                        format!("The upstream for `{}` rejected the request: {message}", entry.id),
                    );
                    return fail(recorder, api, &snapshot);
                }
                continue;
            }
        };

        // A stream that is not judged goes to the client as it arrives.
        let reply = match reply {
            UpstreamReply::Stream(stream) if !buffered => {
                attempt.status = Some(200);
                return respond::passthrough(recorder, attempt, &entry, stream, &body, &plan, started, &request);
            }
            UpstreamReply::Stream(stream) => stream.collect().await.map(|(c, chunks)| (c, Some(chunks))),
            UpstreamReply::Complete(completion) => Ok((completion, None)),
        };
        let (completion, chunks) = match reply {
            Ok(done) => done,
            Err(error) => {
                upstream_failed(&recorder, &mut attempt, &error, started);
                recorder.record.attempts.push(attempt);
                continue;
            }
        };
        account(&recorder, &mut attempt, &entry, &completion, started, true);

        let verdict = if has_gates {
            let route = route.as_deref().expect("has_gates implies a route");
            let candidate = candidate(&entry, &completion, last);
            let (verdict, runs) = gates::judge(&recorder.app, route, &request, &candidate).await;
            attempt.gates = runs;
            verdict
        } else {
            GateOutcome::Accept
        };
        match verdict {
            GateOutcome::Escalate(_) if !last => {
                attempt.outcome = AttemptOutcome::Escalated;
                recorder.record.attempts.push(attempt);
                continue;
            }
            GateOutcome::Reject(reason) => {
                attempt.outcome = AttemptOutcome::Rejected;
                recorder.record.attempts.push(attempt);
                if on_reject == OnReject::Next && !last {
                    continue;
                }
                let api = ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_error",
                    format!("The answer of `{}` was rejected by a gate: {reason}", entry.id),
                )
                .with_code("answer_rejected");
                return fail(recorder, api, &snapshot);
            }
            // Accepted, or escalated with nowhere left to go: this answer is the best there is.
            GateOutcome::Accept | GateOutcome::Escalate(_) => {
                attempt.outcome = AttemptOutcome::Returned;
                recorder.record.attempts.push(attempt);
                return match chunks {
                    Some(chunks) => respond::buffered_stream(recorder, &entry, chunks, &body, &plan),
                    None => respond::complete(recorder, &entry, completion, &plan),
                };
            }
        }
    }
    let api = no_answer(&recorder, deadline);
    fail(recorder, api, &snapshot)
}

fn skipped(step: usize, entry: &ModelEntry, outcome: AttemptOutcome, why: &str) -> Attempt {
    Attempt {
        step,
        model: entry.id.clone(),
        provider: entry.provider.name().to_string(),
        upstream_model: entry.upstream_name().to_string(),
        outcome,
        error: Some(why.to_string()),
        ..Default::default()
    }
}

fn upstream_failed(recorder: &Recorder, attempt: &mut Attempt, error: &ProviderError, started: Instant) {
    attempt.outcome = match error {
        ProviderError::Timeout(_) => AttemptOutcome::DeadlineExceeded,
        _ => AttemptOutcome::UpstreamError,
    };
    if let ProviderError::Status { status, .. } = error {
        attempt.status = Some(*status);
    }
    attempt.error = Some(format!("{} ({})", error, error.kind_label()));
    attempt.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    recorder.app.health().record(&attempt.model, false, started.elapsed());
    tracing::info!(model = %attempt.model, "upstream attempt failed: {error}");
}

/// Fills tokens, cost and latency from a complete answer, and feeds passive health.
pub(crate) fn account(
    recorder: &Recorder,
    attempt: &mut Attempt,
    entry: &ModelEntry,
    completion: &Completion,
    started: Instant,
    record_health: bool,
) {
    attempt.status = Some(200);
    attempt.input_tokens = completion.usage.prompt_tokens;
    attempt.output_tokens = completion.usage.completion_tokens;
    attempt.tokens_estimated = completion.usage.estimated;
    attempt.cost_usd = cost_usd(&completion.usage, entry.config.input_price, entry.config.output_price);
    attempt.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if record_health {
        recorder.app.health().record(&entry.id, true, started.elapsed());
    }
}

fn candidate(entry: &ModelEntry, completion: &Completion, last: bool) -> Candidate {
    Candidate {
        model: entry.id.clone(),
        content: completion.content.clone(),
        finish_reason: completion.finish_reason.clone(),
        input_tokens: completion.usage.prompt_tokens,
        output_tokens: completion.usage.completion_tokens,
        mean_logprob: completion.mean_logprob,
        last_step: last,
        tool_calls: super::lower::tool_calls(completion),
        refusal: completion.refusal.clone(),
    }
}

/// The error when every step failed: what was tried and how each attempt ended.
fn no_answer(recorder: &Recorder, deadline: Deadline) -> ApiError {
    let tried: Vec<String> = recorder
        .record
        .attempts
        .iter()
        .map(|a| format!("{}: {}", a.model, a.error.as_deref().unwrap_or("no answer")))
        .collect();
    let tried = if tried.is_empty() { "nothing".to_string() } else { tried.join("; ") };
    if Deadline::now() >= deadline {
        ApiError::timeout(format!("The request's deadline passed before any model answered. Tried: {tried}."))
    } else {
        ApiError::no_answer(StatusCode::BAD_GATEWAY, format!("No model in the plan could answer. Tried: {tried}."))
    }
}

/// Answers with an error, finishing the record.
pub fn fail(recorder: Recorder, error: ApiError, snapshot: &Snapshot) -> Response<Body> {
    respond::error(recorder, error, snapshot)
}
