//! The decision record: one per request, the product's memory of what it did and why.
//!
//! Written as one JSON line to the decision log, summarised in metrics, and read by the
//! dashboard, `switchyard eval` and anyone debugging a surprising answer.

use serde::Serialize;

use crate::plugin::Signal;
use crate::telemetry::trace_context::TraceContext;

/// Everything decided and observed while serving one request.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DecisionRecord {
    /// The request id (also returned to the client as the completion id's suffix).
    pub id: String,
    /// Unix time in milliseconds when the request arrived.
    pub ts_ms: u64,
    /// The snapshot (config + plugins) version that served the request.
    pub snapshot: u64,
    /// The name the client asked for.
    pub requested_model: String,
    /// The route alias, when the request named one; `None` for a concrete model.
    pub route: Option<String>,
    /// The client key's fingerprint (first 12 hex digits of its SHA-256), when client keys
    /// are required: who sent it, without the key itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub stream: bool,
    pub classifiers: Vec<PluginRun>,
    pub policy: Option<PluginRun>,
    pub plan: PlanRecord,
    pub attempts: Vec<Attempt>,
    pub outcome: Outcome,
    /// Key, team, class clamp, cost gate and budget reservation, for requests with a key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub governance: Option<super::governance::GovernanceRecord>,
    /// Sum of the cost of every attempt, in US dollars; `None` when an attempt's model is
    /// unpriced.
    pub cost_usd: Option<f64>,
    /// Wall time from the request's arrival to its last byte, in milliseconds.
    pub latency_ms: f64,
    /// The W3C trace this request belongs to (the client's `traceparent`, or a new trace):
    /// the ids its spans are exported under and that upstream calls carry.
    pub trace: TraceContext,
}

/// One plugin call and what it produced.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PluginRun {
    pub plugin: String,
    /// When the call started, in microseconds after the request arrived (for trace spans).
    pub start_us: u64,
    pub micros: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<Signal>,
    /// For a policy: the plan's steps and reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The failure, when the call failed; the fail mode that was applied says what followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_mode: Option<String>,
    /// The failure's kind (`CallError::label`), for metrics.
    #[serde(skip)]
    pub failure: Option<&'static str>,
}

/// Where the plan came from.
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PlanSource {
    /// The route's policy returned it.
    #[default]
    Policy,
    /// The route has no policy, or the policy failed: the route's `default_plan`.
    Default,
    /// The client named a concrete model.
    Direct,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct PlanRecord {
    pub steps: Vec<String>,
    pub reason: String,
    pub source: PlanSource,
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// Its answer was returned to the client.
    #[default]
    Returned,
    /// A gate escalated: the next step was tried.
    Escalated,
    /// A gate rejected it and the route's `on_reject = "next"` moved on to the next step.
    RejectedNext,
    /// A gate rejected it and the request failed.
    Rejected,
    /// The upstream failed (connect, timeout, 5xx, 429, bad body): a fallback.
    UpstreamError,
    /// The request's total deadline ran out during this attempt.
    DeadlineExceeded,
    /// The stream broke after bytes had reached the client.
    StreamBroken,
}

/// One step of the plan as it was tried.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Attempt {
    pub step: usize,
    pub model: String,
    pub provider: String,
    pub upstream_model: String,
    pub outcome: AttemptOutcome,
    /// Upstream HTTP status, when one was received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the answer was held back for the gates before the client saw it.
    pub buffered: bool,
    pub gates: Vec<GateRun>,
    pub input_tokens: u32,
    pub output_tokens: u32,
    /// Token counts were estimated because the upstream did not report usage.
    pub tokens_estimated: bool,
    /// Input tokens the provider served from its prompt cache, where reported.
    #[serde(skip_serializing_if = "is_zero")]
    pub cached_input_tokens: u32,
    /// `None` when the model is unpriced.
    pub cost_usd: Option<f64>,
    pub latency_ms: f64,
    /// When the attempt started, in microseconds after the request arrived.
    pub start_us: u64,
    /// The span id the upstream call carried in its `traceparent` (0: not called).
    #[serde(serialize_with = "crate::telemetry::trace_context::hex_span", skip_serializing_if = "is_zero_span")]
    pub span_id: u64,
}

fn is_zero_span(n: &u64) -> bool {
    *n == 0
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One gate's verdict on one attempt.
#[derive(Debug, Clone, Serialize, Default)]
pub struct GateRun {
    pub plugin: String,
    /// When the call started, in microseconds after the request arrived.
    pub start_us: u64,
    pub micros: u64,
    /// `accept`, `escalate` or `reject`; for a failed gate, the verdict its fail mode chose.
    pub verdict: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The failure's kind (`CallError::label`), for metrics.
    #[serde(skip)]
    pub failure: Option<&'static str>,
}

/// How the request ended.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Outcome {
    /// `ok` or `error`.
    pub status: String,
    /// The HTTP status returned to the client.
    pub http_status: u16,
    /// The model whose answer was returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl AttemptOutcome {
    /// A gate's verdict moved the plan on from this attempt (an escalation, or a rejection
    /// under `on_reject = "next"`). The one definition the proxy's metrics and eval count by.
    pub fn moved_on_by_gate(self) -> bool {
        matches!(self, AttemptOutcome::Escalated | AttemptOutcome::RejectedNext)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Returned => "returned",
            AttemptOutcome::Escalated => "escalated",
            AttemptOutcome::RejectedNext => "rejected_next",
            AttemptOutcome::Rejected => "rejected",
            AttemptOutcome::UpstreamError => "upstream_error",
            AttemptOutcome::DeadlineExceeded => "deadline_exceeded",
            AttemptOutcome::StreamBroken => "stream_broken",
        }
    }
}

/// Sum of costs, unknown when any is unknown.
pub fn total_cost<'a>(costs: impl IntoIterator<Item = &'a Option<f64>>) -> Option<f64> {
    costs.into_iter().try_fold(0.0, |sum, cost| cost.map(|c| sum + c))
}

impl DecisionRecord {
    /// Escalations (gate verdicts that moved on) in this request.
    pub fn escalations(&self) -> usize {
        self.attempts.iter().filter(|a| a.outcome.moved_on_by_gate()).count()
    }

    /// Fallbacks (upstream failures that moved on) in this request.
    pub fn fallbacks(&self) -> usize {
        self.attempts.iter().filter(|a| a.outcome == AttemptOutcome::UpstreamError).count()
    }

    /// Cost of every attempt so far; `None` when one of them is unpriced.
    pub fn cost_so_far(&self) -> Option<f64> {
        total_cost(self.attempts.iter().map(|a| &a.cost_usd))
    }
}

/// Milliseconds since the Unix epoch, for records' timestamps.
pub fn now_ms() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Keeps the record of a decision. The routing core (`route::decide`) reports each stage as it
/// ends; what is kept (a decision record, eval counters, a trace) is the observer's business.
/// The trait lives here, below the core, so telemetry's observers need not import `route`.
pub trait Observer: Send {
    fn classified(&mut self, run: PluginRun);
    fn planned(&mut self, policy: Option<PluginRun>, plan: &PlanRecord);
    fn attempted(&mut self, attempt: Attempt);
}

/// The decision record keeps itself: the proxy's recorder and tests observe into one.
impl Observer for DecisionRecord {
    fn classified(&mut self, run: PluginRun) {
        self.classifiers.push(run);
    }
    fn planned(&mut self, policy: Option<PluginRun>, plan: &PlanRecord) {
        self.policy = policy;
        self.plan = plan.clone();
    }
    fn attempted(&mut self, attempt: Attempt) {
        self.attempts.push(attempt);
    }
}
