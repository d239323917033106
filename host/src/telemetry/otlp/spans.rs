//! A finished decision record as OpenTelemetry spans, named and attributed after the GenAI
//! semantic conventions: one `chat {model}` server span for the request, an internal span per
//! plugin call (`classify`, `route`, `gate`), and a client span per upstream attempt
//! (`chat {upstream model}`), carrying the span id its `traceparent` header named.
//!
//! Built after the fact from the record, which holds each step's start and duration: the
//! request path creates no span objects, and what the trace says is exactly what the
//! decision log says.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::telemetry::decision::{Attempt, AttemptOutcome, DecisionRecord, GateRun, PluginRun};
use crate::telemetry::trace_context::TraceContext;

/// Builds every span of one request. `None` when the record has no trace ids.
pub fn spans(record: &DecisionRecord, scope: &InstrumentationScope) -> Vec<SpanData> {
    let trace = record.trace;
    if !trace.is_set() {
        return Vec::new();
    }
    let start = UNIX_EPOCH + Duration::from_millis(record.ts_ms);
    let end = start + Duration::from_secs_f64(record.latency_ms.max(0.0) / 1000.0);
    let builder = Builder { trace, scope, start };
    let mut out = Vec::with_capacity(2 + record.classifiers.len() + record.attempts.len() * 2);
    out.push(builder.request(record, end));
    for run in &record.classifiers {
        out.push(builder.plugin(run, "classify", "classifier", trace.span_id));
    }
    if let Some(run) = &record.policy {
        out.push(builder.plugin(run, "route", "policy", trace.span_id));
    }
    for attempt in &record.attempts {
        if attempt.span_id == 0 {
            continue; // skipped without an upstream call: an event on the request span
        }
        out.push(builder.attempt(attempt));
        for gate in &attempt.gates {
            out.push(builder.gate(gate, attempt));
        }
    }
    out
}

struct Builder<'a> {
    trace: TraceContext,
    scope: &'a InstrumentationScope,
    start: SystemTime,
}

fn kv(key: &'static str, value: impl Into<opentelemetry::Value>) -> KeyValue {
    KeyValue::new(key, value)
}

impl Builder<'_> {
    fn span(
        &self,
        (span_id, parent): (u64, u64),
        name: String,
        kind: SpanKind,
        (start, end): (SystemTime, SystemTime),
        attributes: Vec<KeyValue>,
        status: Status,
    ) -> SpanData {
        let flags = if self.trace.sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
        let remote_parent = parent != 0 && Some(parent) == self.trace.parent_span_id;
        SpanData {
            span_context: SpanContext::new(
                self.trace.trace_id(),
                SpanId::from_bytes(span_id.to_be_bytes()),
                flags,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from_bytes(parent.to_be_bytes()),
            parent_span_is_remote: remote_parent,
            span_kind: kind,
            name: Cow::Owned(name),
            start_time: start,
            end_time: end,
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: self.scope.clone(),
        }
    }

    fn at(&self, start_us: u64, micros: u64) -> (SystemTime, SystemTime) {
        let start = self.start + Duration::from_micros(start_us);
        (start, start + Duration::from_micros(micros))
    }

    fn request(&self, record: &DecisionRecord, end: SystemTime) -> SpanData {
        let input: u64 = record.attempts.iter().map(|a| u64::from(a.input_tokens)).sum();
        let output: u64 = record.attempts.iter().map(|a| u64::from(a.output_tokens)).sum();
        let mut attributes = vec![
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.request.model", record.requested_model.clone()),
            kv("gen_ai.usage.input_tokens", input as i64),
            kv("gen_ai.usage.output_tokens", output as i64),
            kv("http.response.status_code", i64::from(record.outcome.http_status)),
            kv("switchyard.request.id", record.id.clone()),
            kv("switchyard.snapshot", record.snapshot as i64),
            kv("switchyard.plan.steps", record.plan.steps.join(",")),
            kv("switchyard.plan.reason", record.plan.reason.clone()),
            kv("switchyard.plan.source", format!("{:?}", record.plan.source).to_lowercase()),
            kv("switchyard.attempts", record.attempts.len() as i64),
            kv("switchyard.escalations", record.escalations() as i64),
            kv("switchyard.fallbacks", record.fallbacks() as i64),
            kv("switchyard.outcome", record.outcome.status.clone()),
        ];
        if let Some(route) = &record.route {
            attributes.push(kv("switchyard.route", route.clone()));
        }
        if let Some(cost) = record.cost_usd {
            attributes.push(kv("switchyard.cost_usd", cost));
        }
        if let Some(model) = &record.outcome.model {
            attributes.push(kv("gen_ai.response.model", model.clone()));
        }
        if let Some(key) = &record.key {
            attributes.push(kv("switchyard.key", key.clone()));
        }
        let status = match &record.outcome.error {
            Some(error) => {
                attributes.push(kv("error.type", record.outcome.http_status.to_string()));
                Status::error(error.clone())
            }
            None => Status::Ok,
        };
        let mut span = self.span(
            (self.trace.span_id, self.trace.parent_span_id.unwrap_or(0)),
            format!("chat {}", record.requested_model),
            SpanKind::Server,
            (self.start, end),
            attributes,
            status,
        );
        // Steps skipped without a call (open circuit, deadline) are events, not spans.
        for skipped in record.attempts.iter().filter(|a| a.span_id == 0) {
            span.events.events.push(opentelemetry::trace::Event::new(
                "switchyard.step_skipped",
                end,
                vec![
                    kv("switchyard.step", skipped.step as i64),
                    kv("gen_ai.request.model", skipped.model.clone()),
                    kv("switchyard.reason", skipped.error.clone().unwrap_or_default()),
                ],
                0,
            ));
        }
        span
    }

    fn plugin(&self, run: &PluginRun, operation: &str, kind: &'static str, parent: u64) -> SpanData {
        let mut attributes = vec![kv("switchyard.plugin.name", run.plugin.clone()), kv("switchyard.plugin.kind", kind)];
        if !run.signals.is_empty() {
            let signals: Vec<String> = run
                .signals
                .iter()
                .map(|s| match &s.label {
                    Some(label) => format!("{}={}({label})", s.name, s.value),
                    None => format!("{}={}", s.name, s.value),
                })
                .collect();
            attributes.push(kv("switchyard.signals", signals.join(",")));
        }
        if let Some(plan) = &run.plan {
            attributes.push(kv("switchyard.plan.steps", plan.join(",")));
        }
        if let Some(reason) = &run.reason {
            attributes.push(kv("switchyard.plan.reason", reason.clone()));
        }
        let status = match &run.error {
            Some(error) => {
                attributes.push(kv("error.type", "plugin_failed"));
                if let Some(mode) = &run.fail_mode {
                    attributes.push(kv("switchyard.fail_mode", mode.clone()));
                }
                Status::error(error.clone())
            }
            None => Status::Unset,
        };
        self.span(
            (child_id(self.trace.span_id, &run.plugin, run.start_us), parent),
            format!("{operation} {}", run.plugin),
            SpanKind::Internal,
            self.at(run.start_us, run.micros),
            attributes,
            status,
        )
    }

    fn attempt(&self, attempt: &Attempt) -> SpanData {
        let mut attributes = vec![
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.provider.name", attempt.provider.clone()),
            kv("gen_ai.request.model", attempt.upstream_model.clone()),
            kv("switchyard.model", attempt.model.clone()),
            kv("switchyard.step", attempt.step as i64),
            kv("switchyard.attempt.outcome", outcome_label(attempt.outcome)),
            kv("switchyard.buffered", attempt.buffered),
        ];
        if let Some(cost) = attempt.cost_usd {
            attributes.push(kv("switchyard.cost_usd", cost));
        }
        if attempt.status == Some(200) {
            attributes.extend([
                kv("gen_ai.response.model", attempt.upstream_model.clone()),
                kv("gen_ai.usage.input_tokens", i64::from(attempt.input_tokens)),
                kv("gen_ai.usage.output_tokens", i64::from(attempt.output_tokens)),
                kv("switchyard.tokens_estimated", attempt.tokens_estimated),
            ]);
        }
        if let Some(status) = attempt.status {
            attributes.push(kv("http.response.status_code", i64::from(status)));
        }
        if let Some(verdict) = attempt.gates.last() {
            attributes.push(kv("switchyard.verdict", verdict.verdict.clone()));
        }
        let status = match (&attempt.error, attempt.outcome) {
            (Some(error), _) => {
                attributes.push(kv("error.type", outcome_label(attempt.outcome)));
                Status::error(error.clone())
            }
            (None, AttemptOutcome::StreamBroken) => Status::error("the stream broke"),
            _ => Status::Unset,
        };
        let micros = (attempt.latency_ms.max(0.0) * 1000.0) as u64;
        self.span(
            (attempt.span_id, self.trace.span_id),
            format!("chat {}", attempt.upstream_model),
            SpanKind::Client,
            self.at(attempt.start_us, micros),
            attributes,
            status,
        )
    }

    /// A gate judged an attempt's answer: a child of that attempt.
    fn gate(&self, gate: &GateRun, attempt: &Attempt) -> SpanData {
        let mut attributes = vec![
            kv("switchyard.plugin.name", gate.plugin.clone()),
            kv("switchyard.plugin.kind", "gate"),
            kv("switchyard.verdict", gate.verdict.clone()),
            kv("switchyard.step", attempt.step as i64),
        ];
        if let Some(confidence) = gate.confidence {
            attributes.push(kv("switchyard.confidence", confidence));
        }
        if let Some(reason) = &gate.reason {
            attributes.push(kv("switchyard.reason", reason.clone()));
        }
        let status = match &gate.error {
            Some(error) => {
                attributes.push(kv("error.type", "plugin_failed"));
                Status::error(error.clone())
            }
            None => Status::Unset,
        };
        self.span(
            (child_id(attempt.span_id, &gate.plugin, gate.start_us), attempt.span_id),
            format!("gate {}", gate.plugin),
            SpanKind::Internal,
            self.at(gate.start_us, gate.micros),
            attributes,
            status,
        )
    }
}

fn outcome_label(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Returned => "returned",
        AttemptOutcome::Escalated => "escalated",
        AttemptOutcome::Rejected => "rejected",
        AttemptOutcome::RejectedNext => "rejected_next",
        AttemptOutcome::UpstreamError => "upstream_error",
        AttemptOutcome::DeadlineExceeded => "deadline_exceeded",
        AttemptOutcome::StreamBroken => "stream_broken",
    }
}

/// A span id for a plugin call, derived from its parent, name and start (FNV-1a): unique
/// within the trace without drawing random numbers, and stable if a record is exported twice.
fn child_id(parent: u64, name: &str, start_us: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parent.to_le_bytes().iter().chain(name.as_bytes()).chain(start_us.to_le_bytes().iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::Signal;
    use crate::telemetry::decision::{Outcome, PlanRecord};

    fn record() -> DecisionRecord {
        DecisionRecord {
            id: "r1".into(),
            ts_ms: 1_700_000_000_000,
            snapshot: 3,
            requested_model: "auto".into(),
            route: Some("auto".into()),
            classifiers: vec![PluginRun {
                plugin: "complexity".into(),
                start_us: 10,
                micros: 20,
                signals: vec![Signal { name: "complexity".into(), value: 0.9, label: None }],
                ..Default::default()
            }],
            policy: Some(PluginRun { plugin: "cheapest".into(), start_us: 40, micros: 5, ..Default::default() }),
            plan: PlanRecord {
                steps: vec!["small".into(), "large".into()],
                reason: "hard".into(),
                ..Default::default()
            },
            attempts: vec![
                Attempt {
                    step: 0,
                    model: "small".into(),
                    provider: "sim".into(),
                    upstream_model: "sim-small".into(),
                    outcome: AttemptOutcome::Escalated,
                    status: Some(200),
                    gates: vec![GateRun {
                        plugin: "length".into(),
                        start_us: 900,
                        micros: 7,
                        verdict: "escalate".into(),
                        ..Default::default()
                    }],
                    input_tokens: 10,
                    output_tokens: 3,
                    start_us: 50,
                    latency_ms: 0.8,
                    span_id: 0xa1,
                    ..Default::default()
                },
                Attempt {
                    step: 1,
                    model: "large".into(),
                    provider: "sim".into(),
                    upstream_model: "sim-large".into(),
                    outcome: AttemptOutcome::Returned,
                    status: Some(200),
                    input_tokens: 10,
                    output_tokens: 30,
                    start_us: 1000,
                    latency_ms: 2.0,
                    span_id: 0xa2,
                    ..Default::default()
                },
            ],
            outcome: Outcome { status: "ok".into(), http_status: 200, model: Some("large".into()), error: None },
            latency_ms: 3.5,
            trace: TraceContext { trace_id: 7, span_id: 0x55, parent_span_id: Some(0x44), sampled: true },
            ..Default::default()
        }
    }

    fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a opentelemetry::Value> {
        span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
    }

    #[test]
    fn one_request_span_with_plugin_attempt_and_gate_children() {
        let scope = InstrumentationScope::builder("switchyard").build();
        let spans = spans(&record(), &scope);
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
        assert_eq!(
            names,
            ["chat auto", "classify complexity", "route cheapest", "chat sim-small", "gate length", "chat sim-large"]
        );
        let root = &spans[0];
        assert_eq!(root.span_context.span_id(), SpanId::from_bytes(0x55u64.to_be_bytes()));
        assert_eq!(root.parent_span_id, SpanId::from_bytes(0x44u64.to_be_bytes()));
        assert!(root.parent_span_is_remote);
        assert_eq!(root.span_kind, SpanKind::Server);
        assert_eq!(attr(root, "gen_ai.response.model").unwrap().as_str(), "large");
        assert_eq!(attr(root, "gen_ai.usage.output_tokens"), Some(&opentelemetry::Value::I64(33)));
        assert_eq!(attr(root, "switchyard.route").unwrap().as_str(), "auto");
        for child in &spans[1..] {
            assert_eq!(child.span_context.trace_id(), root.span_context.trace_id());
            assert!(child.start_time >= root.start_time && child.end_time <= root.end_time, "{}", child.name);
        }
        assert_eq!(spans[1].parent_span_id, root.span_context.span_id());
        let small = &spans[3];
        assert_eq!(small.span_kind, SpanKind::Client);
        assert_eq!(small.span_context.span_id(), SpanId::from_bytes(0xa1u64.to_be_bytes()));
        assert_eq!(attr(small, "gen_ai.provider.name").unwrap().as_str(), "sim");
        assert_eq!(attr(small, "switchyard.verdict").unwrap().as_str(), "escalate");
        assert_eq!(spans[4].parent_span_id, small.span_context.span_id(), "a gate is a child of its attempt");
        let ids: std::collections::HashSet<_> = spans.iter().map(|s| s.span_context.span_id()).collect();
        assert_eq!(ids.len(), spans.len(), "span ids are unique");
    }

    #[test]
    fn a_record_without_trace_ids_has_no_spans() {
        let scope = InstrumentationScope::builder("switchyard").build();
        assert!(spans(&DecisionRecord::default(), &scope).is_empty());
    }
}
