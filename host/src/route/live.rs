//! The proxy's [`Upstream`]: live providers, with passive health and circuit breakers, the
//! request's deadline, and the choice between buffering a stream (gates will judge it) and
//! letting it flow straight to the client.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio::time::Instant as Deadline;

use super::decide::{Answer, FailureKind, Upstream, UpstreamFailure};
use super::request::ChatBody;
use super::snapshot::ModelEntry;
use crate::plugin::Candidate;
use crate::provider::{Completion, CompletionStream, HealthBook, ProviderError, UpstreamCall, UpstreamReply};
use crate::telemetry::timing::CallSpan;
use crate::telemetry::trace_context::TraceContext;

/// What a live step answered with, held until the core picks the answer to return.
#[derive(Debug)]
pub enum Reply {
    /// A non-streamed answer.
    Complete(Completion),
    /// A streamed answer held back for the gates: its chunks, replayed once accepted.
    Buffered(Vec<Value>),
    /// A stream flowing straight to the client.
    Stream(CompletionStream),
}

/// Calls the configured providers for one client request.
pub struct LiveUpstream<'a> {
    pub body: &'a ChatBody,
    pub health: &'a HealthBook,
    pub deadline: Deadline,
    /// The request's trace: each call carries a `traceparent` naming a new span, announced
    /// through `call_span` so the record (and the exported trace) knows it.
    pub trace: TraceContext,
    pub call_span: &'a CallSpan,
}

impl Upstream for LiveUpstream<'_> {
    type Held = Reply;

    fn available(&self, model: &ModelEntry) -> bool {
        self.health.allow(&model.id)
    }

    async fn call(&mut self, entry: &Arc<ModelEntry>, must_complete: bool) -> Result<Answer<Reply>, UpstreamFailure> {
        let started = Instant::now();
        let span_id = TraceContext::new_child_span();
        self.call_span.set(span_id);
        // The client's body, untouched but for asking streams to report usage (needed for
        // the cost; stripped again if the client did not ask for it).
        let call = UpstreamCall {
            body: &self.body.json,
            upstream_model: entry.upstream_name(),
            stream: self.body.stream,
            stream_usage: true,
            deadline: self.deadline,
            traceparent: self.trace.header_for(span_id),
        };
        let reply = entry.provider.chat(call).await;
        let answered = match reply {
            Ok(UpstreamReply::Stream(stream)) if !must_complete => {
                // Health is recorded by the relay when the stream ends.
                return Ok(Answer::Streaming { held: Reply::Stream(stream) });
            }
            Ok(UpstreamReply::Stream(stream)) => {
                stream.collect().await.map(|(completion, chunks)| (completion, Some(chunks)))
            }
            Ok(UpstreamReply::Complete(completion)) => Ok((completion, None)),
            Err(error) => Err(error),
        };
        match answered {
            Ok((completion, chunks)) => {
                self.health.record(&entry.id, true, started.elapsed());
                let candidate = candidate_of(entry, &completion);
                let usage = completion.usage;
                let held = match chunks {
                    Some(chunks) => Reply::Buffered(chunks),
                    None => Reply::Complete(completion),
                };
                Ok(Answer::Complete { candidate, usage, reported_cost: None, held })
            }
            Err(error) => {
                self.health.record(&entry.id, false, started.elapsed());
                tracing::info!(model = %entry.id, "upstream attempt failed: {error}");
                Err(failure_of(&error))
            }
        }
    }
}

/// The candidate gates judge, from a complete answer.
pub fn candidate_of(entry: &ModelEntry, completion: &Completion) -> Candidate {
    Candidate {
        model: entry.id.clone(),
        content: completion.content.clone(),
        finish_reason: completion.finish_reason.clone(),
        input_tokens: completion.usage.prompt_tokens,
        output_tokens: completion.usage.completion_tokens,
        mean_logprob: completion.mean_logprob,
        last_step: false,
    }
}

/// How the core should treat a provider error.
fn failure_of(error: &ProviderError) -> UpstreamFailure {
    let (kind, status) = match error {
        ProviderError::Timeout(_) => (FailureKind::TimedOut, None),
        ProviderError::Status { status: status @ (400 | 413 | 422), .. } => (FailureKind::Refused, Some(*status)),
        ProviderError::Status { status, .. } => (FailureKind::Failed, Some(*status)),
        _ => (FailureKind::Failed, None),
    };
    let message = match error {
        ProviderError::Status { message, .. } if kind == FailureKind::Refused => message.clone(),
        _ => format!("{error} ({})", error.kind_label()),
    };
    UpstreamFailure { kind, message, status }
}
