//! Fixture files for `switchyard plugin test`: one JSON object per line, each a request (and
//! signals and a model table for policies, a candidate answer for gates) with what the plugin
//! is expected to answer.
//!
//! ```json
//! {"defaults": {"models": [{"id": "small", "tier": 0}, {"id": "large", "tier": 1}]}}
//! {"name": "hello", "user": "Hi!", "signals": [{"name": "complexity.score", "value": 0.1}], "expect": {"steps": ["small", "large"]}}
//! {"name": "json", "request": {"messages": [{"role": "user", "content": "JSON please"}], "wants_json": true}, "candidate": {"content": "{}"}, "expect": {"verdict": "accept"}}
//! ```
//!
//! Everything but the request is optional; omitted request fields get the values a plain
//! chat request would have (`input_tokens` estimated as the proxy does). A `defaults` line
//! sets `models`, `signals` or `candidate` for the lines after it. Unknown keys are errors, so
//! a typo in an expectation cannot pass silently. The expectation keys are listed on
//! [`Expect`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::plugin::{Candidate, Message, ModelInfo, Plan, Request, Signal, Verdict, samples};
use crate::provider::cost::{estimate_messages, estimate_tokens};

/// One fixture, ready to run.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub name: String,
    /// 1-based line in the file.
    pub line: usize,
    pub request: Request,
    pub signals: Vec<Signal>,
    pub models: Vec<ModelInfo>,
    pub candidate: Candidate,
    pub expect: Expect,
}

/// Why a fixture file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read fixtures {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}: {detail}", path.display())]
    Invalid { path: PathBuf, line: usize, detail: String },
    #[error("{} holds no fixtures", path.display())]
    Empty { path: PathBuf },
}

/// A line as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    name: Option<String>,
    /// Shorthand for a request with one user message.
    user: Option<String>,
    request: Option<RequestSpec>,
    signals: Option<Vec<Signal>>,
    models: Option<Vec<ModelSpec>>,
    candidate: Option<CandidateSpec>,
    #[serde(default)]
    expect: Expect,
    defaults: Option<Defaults>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    signals: Option<Vec<Signal>>,
    models: Option<Vec<ModelSpec>>,
    candidate: Option<CandidateSpec>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RequestSpec {
    id: Option<String>,
    model: Option<String>,
    messages: Vec<Message>,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
    streaming: bool,
    wants_json: bool,
    json_schema: Option<String>,
    has_tools: bool,
    input_tokens: Option<u32>,
    /// An object (`{"tenant": "acme"}`) or a list of pairs.
    metadata: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ModelSpec {
    id: String,
    tier: u32,
    input_price: f64,
    output_price: f64,
    context_window: u32,
    tags: Vec<String>,
    healthy: bool,
    p50_ms: u32,
    error_rate: f64,
}

impl Default for ModelSpec {
    fn default() -> Self {
        ModelSpec {
            id: String::new(),
            tier: 0,
            input_price: 0.0,
            output_price: 0.0,
            context_window: 128_000,
            tags: Vec::new(),
            healthy: true,
            p50_ms: 0,
            error_rate: 0.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CandidateSpec {
    model: String,
    content: String,
    finish_reason: String,
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
    mean_logprob: Option<f64>,
    last_step: bool,
}

impl Default for CandidateSpec {
    fn default() -> Self {
        CandidateSpec {
            model: "small".into(),
            content: String::new(),
            finish_reason: "stop".into(),
            input_tokens: None,
            output_tokens: None,
            mean_logprob: None,
            last_step: false,
        }
    }
}

/// What a fixture expects. Every key is optional; only those given are checked.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Expect {
    /// `true`: the plugin returns an error; a string: an error containing it.
    pub error: Option<Value>,
    /// Classifier: signal name → a number, or `{"value", "min", "max", "label"}`.
    pub signals: Option<BTreeMap<String, SignalExpect>>,
    /// Classifier: signal names that must not be emitted.
    pub absent: Vec<String>,
    /// Policy: the exact plan.
    pub steps: Option<Vec<String>>,
    /// Policy: the plan's first step.
    pub first: Option<String>,
    /// Policy or gate: the exact reason.
    pub reason: Option<String>,
    /// Policy or gate: a piece of the reason.
    pub reason_contains: Option<String>,
    /// Gate: `accept`, `escalate` or `reject`.
    pub verdict: Option<String>,
    /// Gate: the accept confidence, a number or `{"min", "max"}`.
    pub confidence: Option<NumberExpect>,
}

/// An expected signal.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum SignalExpect {
    Value(f64),
    Detail {
        #[serde(default)]
        value: Option<f64>,
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
        #[serde(default)]
        label: Option<String>,
    },
}

/// An expected number.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum NumberExpect {
    Value(f64),
    Range {
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
    },
}

/// Reads a fixture file.
pub fn load(path: &Path) -> Result<Vec<Fixture>, FixtureError> {
    let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Read { path: path.into(), source })?;
    parse(&text)
        .map_err(|(line, detail)| FixtureError::Invalid { path: path.into(), line, detail })?
        .ok_or_else(|| FixtureError::Empty { path: path.into() })
}

/// Parses fixture lines; the error is (line, message). `None` when there are none.
pub fn parse(text: &str) -> Result<Option<Vec<Fixture>>, (usize, String)> {
    let mut models: Vec<ModelInfo> = samples::models();
    let mut signals: Vec<Signal> = Vec::new();
    let mut candidate = CandidateSpec::default();
    let mut fixtures = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with("//") || trimmed.starts_with('#') {
            continue;
        }
        let line: Line = serde_json::from_str(trimmed).map_err(|e| (line_no, e.to_string()))?;
        if let Some(defaults) = line.defaults {
            if line.user.is_some() || line.request.is_some() {
                return Err((line_no, "a `defaults` line holds no request".into()));
            }
            if let Some(m) = defaults.models {
                models = m.into_iter().map(model).collect();
            }
            if let Some(s) = defaults.signals {
                signals = s;
            }
            if let Some(c) = defaults.candidate {
                candidate = c;
            }
            continue;
        }
        let spec = match (line.user, line.request) {
            (Some(text), None) => {
                RequestSpec { messages: vec![Message { role: "user".into(), content: text }], ..Default::default() }
            }
            (None, Some(spec)) => spec,
            (Some(_), Some(_)) => return Err((line_no, "give `user` or `request`, not both".into())),
            (None, None) => return Err((line_no, "a fixture needs `user` (text) or `request`".into())),
        };
        let name = line.name.unwrap_or_else(|| format!("line-{line_no}"));
        let request = request(&name, spec).map_err(|e| (line_no, e))?;
        let candidate = candidate_for(&request, line.candidate.unwrap_or_else(|| candidate.clone()));
        fixtures.push(Fixture {
            name,
            line: line_no,
            signals: line.signals.unwrap_or_else(|| signals.clone()),
            models: line.models.map(|m| m.into_iter().map(model).collect()).unwrap_or_else(|| models.clone()),
            candidate,
            expect: line.expect,
            request,
        });
    }
    Ok((!fixtures.is_empty()).then_some(fixtures))
}

fn request(name: &str, spec: RequestSpec) -> Result<Request, String> {
    let metadata = match spec.metadata {
        Value::Null => Vec::new(),
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                other => Err(format!("metadata `{k}`: expected a string, got {other}")),
            })
            .collect::<Result<_, _>>()?,
        Value::Array(pairs) => serde_json::from_value(Value::Array(pairs))
            .map_err(|e| format!("metadata: expected [key, value] string pairs: {e}"))?,
        other => return Err(format!("metadata: expected an object or a list of pairs, got {other}")),
    };
    // The proxy's own estimate.
    let estimate = estimate_messages(spec.messages.iter().map(|m| m.content.as_str()));
    Ok(Request {
        id: spec.id.unwrap_or_else(|| name.to_string()),
        model: spec.model.unwrap_or_else(|| "auto".into()),
        input_tokens: spec.input_tokens.unwrap_or(estimate),
        messages: spec.messages,
        max_tokens: spec.max_tokens,
        temperature: spec.temperature,
        streaming: spec.streaming,
        wants_json: spec.wants_json,
        json_schema: spec.json_schema,
        has_tools: spec.has_tools,
        metadata,
    })
}

fn model(spec: ModelSpec) -> ModelInfo {
    ModelInfo {
        id: spec.id,
        tier: spec.tier,
        input_price: spec.input_price,
        output_price: spec.output_price,
        context_window: spec.context_window,
        tags: spec.tags,
        healthy: spec.healthy,
        p50_ms: spec.p50_ms,
        error_rate: spec.error_rate,
    }
}

fn candidate_for(request: &Request, spec: CandidateSpec) -> Candidate {
    Candidate {
        output_tokens: spec.output_tokens.unwrap_or_else(|| estimate_tokens(&spec.content)),
        input_tokens: spec.input_tokens.unwrap_or(request.input_tokens),
        model: spec.model,
        content: spec.content,
        finish_reason: spec.finish_reason,
        mean_logprob: spec.mean_logprob,
        last_step: spec.last_step,
    }
}

/// What a plugin answered on one fixture.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Signals(Vec<Signal>),
    Plan(Plan),
    Verdict(Verdict),
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Signals(signals) if signals.is_empty() => f.write_str("(no signals)"),
            Output::Signals(signals) => {
                let parts: Vec<String> = signals
                    .iter()
                    .map(|s| match &s.label {
                        Some(label) => format!("{}={:.3} ({label})", s.name, s.value),
                        None => format!("{}={:.3}", s.name, s.value),
                    })
                    .collect();
                f.write_str(&parts.join(" "))
            }
            Output::Plan(plan) => write!(f, "[{}] — {}", plan.steps.join(" → "), plan.reason),
            Output::Verdict(Verdict::Accept(c)) => write!(f, "accept ({c:.2})"),
            Output::Verdict(Verdict::Escalate(why)) => write!(f, "escalate: {why}"),
            Output::Verdict(Verdict::Reject(why)) => write!(f, "reject: {why}"),
        }
    }
}

const EPSILON: f64 = 1e-9;

fn check_number(what: &str, got: f64, want: &NumberExpect, failures: &mut Vec<String>) {
    match *want {
        NumberExpect::Value(v) if (got - v).abs() > EPSILON => {
            failures.push(format!("{what}: expected {v}, got {got}"))
        }
        NumberExpect::Range { min, max } => {
            if min.is_some_and(|m| got < m - EPSILON) || max.is_some_and(|m| got > m + EPSILON) {
                let range = format!(
                    "{}..={}",
                    min.map(|m| m.to_string()).unwrap_or_default(),
                    max.map(|m| m.to_string()).unwrap_or_default()
                );
                failures.push(format!("{what}: expected {range}, got {got}"));
            }
        }
        NumberExpect::Value(_) => {}
    }
}

impl Expect {
    /// The unmet expectations for `result` (empty when all are met).
    pub fn check(&self, result: &Result<Output, String>) -> Vec<String> {
        let mut failures = Vec::new();
        let output = match (result, &self.error) {
            (Err(error), None) => return vec![format!("expected an answer, got an error: {error}")],
            (Err(error), Some(Value::String(part))) if !error.contains(part.as_str()) => {
                return vec![format!("expected an error containing {part:?}, got: {error}")];
            }
            (Err(_), Some(_)) => return failures,
            (Ok(output), Some(want)) if *want != Value::Bool(false) => {
                return vec![format!("expected an error, got: {output}")];
            }
            (Ok(output), _) => output,
        };
        match output {
            Output::Signals(signals) => {
                for (name, want) in self.signals.iter().flatten() {
                    let Some(got) = signals.iter().find(|s| &s.name == name) else {
                        failures.push(format!("signal {name}: missing"));
                        continue;
                    };
                    let what = format!("signal {name}");
                    match want {
                        SignalExpect::Value(v) => {
                            check_number(&what, got.value, &NumberExpect::Value(*v), &mut failures)
                        }
                        SignalExpect::Detail { value, min, max, label } => {
                            if let Some(v) = value {
                                check_number(&what, got.value, &NumberExpect::Value(*v), &mut failures);
                            }
                            check_number(
                                &what,
                                got.value,
                                &NumberExpect::Range { min: *min, max: *max },
                                &mut failures,
                            );
                            if label.is_some() && got.label != *label {
                                failures.push(format!("{what}: expected label {label:?}, got {:?}", got.label));
                            }
                        }
                    }
                }
                for name in &self.absent {
                    if signals.iter().any(|s| &s.name == name) {
                        failures.push(format!("signal {name}: expected absent"));
                    }
                }
            }
            Output::Plan(plan) => {
                if let Some(steps) = &self.steps
                    && *steps != plan.steps
                {
                    failures.push(format!("expected steps [{}], got [{}]", steps.join(", "), plan.steps.join(", ")));
                }
                if let Some(first) = &self.first
                    && plan.steps.first() != Some(first)
                {
                    failures.push(format!("expected first step {first}, got {:?}", plan.steps.first()));
                }
                check_reason(self, &plan.reason, &mut failures);
            }
            Output::Verdict(verdict) => {
                let (kind, reason, confidence) = match verdict {
                    Verdict::Accept(c) => ("accept", "", Some(*c)),
                    Verdict::Escalate(why) => ("escalate", why.as_str(), None),
                    Verdict::Reject(why) => ("reject", why.as_str(), None),
                };
                if let Some(want) = &self.verdict
                    && want != kind
                {
                    failures.push(format!("expected verdict {want}, got {output}"));
                }
                if let Some(want) = &self.confidence {
                    match confidence {
                        Some(c) => check_number("confidence", c, want, &mut failures),
                        None => failures.push(format!("expected an accept confidence, got {output}")),
                    }
                }
                if !reason.is_empty() || self.reason.is_some() || self.reason_contains.is_some() {
                    check_reason(self, reason, &mut failures);
                }
            }
        }
        failures
    }

    /// Whether the expectation names anything at all.
    pub fn is_empty(&self) -> bool {
        *self == Expect::default()
    }
}

fn check_reason(expect: &Expect, reason: &str, failures: &mut Vec<String>) {
    if let Some(want) = &expect.reason
        && want != reason
    {
        failures.push(format!("expected reason {want:?}, got {reason:?}"));
    }
    if let Some(part) = &expect.reason_contains
        && !reason.contains(part.as_str())
    {
        failures.push(format!("expected the reason to contain {part:?}, got {reason:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_shorthand_defaults_and_metadata() {
        let text = r#"
            {"defaults": {"models": [{"id": "a"}, {"id": "b", "tier": 1, "tags": ["json"]}]}}
            {"name": "hi", "user": "hello world!", "expect": {"first": "a"}}
            {"request": {"messages": [{"role": "user", "content": "x"}], "metadata": {"tier": "1"}}, "candidate": {"content": "ok"}}
        "#;
        let fixtures = parse(text).unwrap().unwrap();
        assert_eq!(fixtures.len(), 2);
        assert_eq!(fixtures[0].models.len(), 2);
        assert_eq!(fixtures[0].request.input_tokens, 3 + 4);
        assert_eq!(fixtures[1].name, "line-4");
        assert_eq!(fixtures[1].request.metadata, [("tier".to_string(), "1".to_string())]);
        assert_eq!(fixtures[1].candidate.content, "ok");
        assert_eq!(fixtures[0].models[1].context_window, 128_000);
    }

    #[test]
    fn typos_are_errors_with_the_line() {
        let error = parse("{\"user\": \"x\", \"expect\": {\"step\": []}}").unwrap_err();
        assert_eq!(error.0, 1);
        assert!(error.1.contains("step"), "{}", error.1);
        assert!(parse("\n# nothing\n").unwrap().is_none());
    }

    #[test]
    fn checks_plans_signals_and_verdicts() {
        let plan = Output::Plan(Plan { steps: vec!["a".into(), "b".into()], reason: "cheap first".into() });
        let expect: Expect =
            serde_json::from_value(serde_json::json!({"steps": ["a"], "reason_contains": "cheap"})).unwrap();
        assert_eq!(expect.check(&Ok(plan.clone())).len(), 1);
        let signals = Output::Signals(vec![Signal { name: "s".into(), value: 0.5, label: Some("x".into()) }]);
        let expect: Expect =
            serde_json::from_value(serde_json::json!({"signals": {"s": {"min": 0.4, "label": "x"}}, "absent": ["t"]}))
                .unwrap();
        assert!(expect.check(&Ok(signals)).is_empty());
        let expect: Expect =
            serde_json::from_value(serde_json::json!({"verdict": "accept", "confidence": {"min": 0.9}})).unwrap();
        assert_eq!(expect.check(&Ok(Output::Verdict(Verdict::Accept(0.5)))).len(), 1);
        assert_eq!(expect.check(&Err("boom".into())).len(), 1);
        let expect: Expect = serde_json::from_value(serde_json::json!({"error": "boom"})).unwrap();
        assert!(expect.check(&Err("it went boom".into())).is_empty());
        assert_eq!(expect.check(&Ok(plan)).len(), 1);
    }
}
