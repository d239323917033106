//! One labelled item decided offline by the routing core: [`route::decide`] itself, with the
//! data's answers standing in for upstream calls ([`Recorded`]) and an observer that counts
//! what eval reports ([`Tally`]).
//!
//! Nothing about how a route decides lives here: fail modes, default plans, gate order,
//! escalation and `on_reject` are the proxy's own code. What differs, because nothing is
//! called: every model is healthy, an "upstream call" is a lookup in the data (a plan step
//! naming a model the data lacks counts as an upstream failure, so the plan falls back to its
//! next step), and there are no deadlines or retries. Plugins are pure functions of their
//! inputs, which is what makes the replay faithful.

use std::collections::HashMap;
use std::sync::Arc;

use super::data::Item;
use super::mapping::ModelMap;
use crate::plugin::{self, Candidate, ModelInfo, Request, ResponseFormat, ToolChoice};
use crate::provider::Usage;
use crate::provider::cost::{estimate_messages, estimate_tokens};
use crate::route::decide::{Answer, FailureKind, Observer, UpstreamFailure};
use crate::route::snapshot::{ModelEntry, Route};
use crate::route::{Ask, RouteError, Target, Upstream, decide as route_decide};
use crate::telemetry::decision::{Attempt, PlanRecord, PlanSource, PluginRun};

/// How replay prices and fills in what the data does not say.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Output tokens assumed for an answer whose length the data does not give (no text, no
    /// count); used for cost only.
    pub default_output_tokens: u32,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions { default_output_tokens: 256 }
    }
}

/// What one item needs, built once and reused at every sweep point.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub request: Request,
    /// Per mapped model (index like [`ModelMap::models`]): its answer as a gate sees it,
    /// `None` when the data has no answer text.
    pub candidates: Vec<Option<Candidate>>,
    /// Per mapped model: the tokens of its answer.
    pub usage: Vec<Usage>,
    /// Per mapped model: the score of its answer.
    pub scores: Vec<f64>,
    /// Per mapped model: the cost of calling it, USD (the data's, or priced from `usage`).
    pub costs: Vec<f64>,
}

/// Builds the request the proxy would have built for the item (same token estimate).
pub fn prepare(item: &Item, alias: &str, map: &ModelMap, options: &ReplayOptions) -> Prepared {
    let input_tokens = estimate_messages(item.messages.iter().map(|m| m.content.as_str()));
    let request = Request {
        id: item.id.clone(),
        model: alias.to_string(),
        messages: item.messages.clone(),
        max_tokens: None,
        temperature: None,
        streaming: false,
        wants_json: false,
        json_schema: None,
        has_tools: false,
        tools: Vec::new(),
        tool_choice: ToolChoice::Auto,
        response_format: ResponseFormat::Text,
        input_tokens,
        metadata: item.metadata.clone(),
    };
    let mut prepared = Prepared {
        request,
        candidates: Vec::with_capacity(map.models.len()),
        usage: Vec::with_capacity(map.models.len()),
        scores: Vec::with_capacity(map.models.len()),
        costs: Vec::with_capacity(map.models.len()),
    };
    for model in &map.models {
        // Items missing a mapped model's result are dropped before replay.
        let result = item.results.get(model.data_index).and_then(Option::as_ref).cloned().unwrap_or_default();
        let input = result.input_tokens.unwrap_or(input_tokens);
        let output = result
            .output_tokens
            .or_else(|| result.answer.as_deref().map(estimate_tokens))
            .unwrap_or(options.default_output_tokens);
        let usage = Usage { prompt_tokens: input, completion_tokens: output, ..Default::default() };
        let priced = crate::provider::cost_usd(&usage, Some(model.prices()));
        prepared.costs.push(result.cost_usd.or(priced).unwrap_or(0.0));
        prepared.scores.push(result.score);
        prepared.usage.push(usage);
        prepared.candidates.push(result.answer.map(|content| Candidate {
            model: model.id.clone(),
            content,
            finish_reason: result.finish_reason.clone().unwrap_or_else(|| "stop".to_string()),
            input_tokens: input,
            output_tokens: output,
            mean_logprob: result.mean_logprob,
            last_step: false,
            tool_calls: Vec::new(),
            refusal: None,
        }));
    }
    prepared
}

/// How a replayed request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A model's answer was returned.
    #[default]
    Answered,
    /// A gate rejected the answer and the route failed the request.
    Rejected,
    /// No plan step could be answered (every step named an unmapped model).
    NoAnswer,
    /// A plugin with fail mode `error` failed.
    PluginError,
}

/// One replayed decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    /// The returned answer's score; 0 when nothing was returned.
    pub score: f64,
    /// Every call's cost, USD.
    pub cost_usd: f64,
    /// Calls per mapped model (index like [`ModelMap::models`]).
    pub calls: Vec<u32>,
    /// The mapped model whose answer was returned.
    pub answered_by: Option<usize>,
    /// Gate verdicts that moved the request on to a next step (escalations, and rejections
    /// under `on_reject = "next"`: the same count as the proxy's escalation metric).
    pub escalations: u32,
    /// Plugin calls that failed (fail modes applied).
    pub plugin_failures: u32,
    /// Plan steps naming a model the data has no answers for.
    pub unmapped_steps: u32,
    /// The route's default plan was used (no policy, or the policy failed).
    pub default_plan: bool,
    /// Plugin calls made.
    pub plugin_calls: u32,
    /// The first plugin failure's message, for the report.
    pub first_failure: Option<String>,
}

/// Why a decision cannot be replayed at all.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ReplayError {
    #[error(
        "item `{item}`: the route's gates must judge the answer of `{model}`, but the data has no answer \
         text for it (give answers in the data, or evaluate a route without gates)"
    )]
    NoAnswerText { item: String, model: String },
}

/// The configuration facts a replay decides against.
#[derive(Debug, Clone)]
pub struct Models {
    /// The model table handed to the policy (the route's models, all healthy).
    pub table: Vec<ModelInfo>,
    /// Every configured model, by id.
    pub entries: HashMap<String, Arc<ModelEntry>>,
}

/// Answers from the data: the proxy's upstream, offline.
struct Recorded<'a> {
    item: &'a Prepared,
    map: &'a ModelMap,
    /// The route has gates, so every answer must have text for them to judge.
    judged: bool,
    unmapped: u32,
    calls: Vec<u32>,
    missing_text: Option<ReplayError>,
}

impl Upstream for Recorded<'_> {
    /// The mapped model's index.
    type Held = usize;

    fn available(&self, _model: &ModelEntry) -> bool {
        true
    }

    async fn call(&mut self, entry: &Arc<ModelEntry>, _must_complete: bool) -> Result<Answer<usize>, UpstreamFailure> {
        let Some((model, _)) = self.map.get(&entry.id) else {
            self.unmapped += 1;
            return Err(UpstreamFailure {
                kind: FailureKind::Failed,
                message: "the data has no answers for this model".to_string(),
                status: None,
            });
        };
        self.calls[model] += 1;
        let candidate = match &self.item.candidates[model] {
            Some(candidate) => candidate.clone(),
            None if self.judged => {
                self.missing_text.get_or_insert(ReplayError::NoAnswerText {
                    item: self.item.request.id.clone(),
                    model: entry.id.clone(),
                });
                return Err(UpstreamFailure {
                    kind: FailureKind::Refused,
                    message: "no answer text".to_string(),
                    status: None,
                });
            }
            None => Candidate {
                model: entry.id.clone(),
                content: String::new(),
                finish_reason: "stop".to_string(),
                input_tokens: self.item.usage[model].prompt_tokens,
                output_tokens: self.item.usage[model].completion_tokens,
                mean_logprob: None,
                last_step: false,
                tool_calls: Vec::new(),
                refusal: None,
            },
        };
        Ok(Answer::Complete {
            candidate,
            usage: self.item.usage[model],
            reported_cost: Some(self.item.costs[model]),
            held: model,
        })
    }
}

/// Counts what the report needs, and nothing else: eval makes tens of thousands of
/// decisions a second and keeps no records.
#[derive(Default)]
struct Tally {
    decision: Decision,
}

impl Tally {
    fn plugin(&mut self, failure: Option<&str>, error: Option<&String>) {
        self.decision.plugin_calls += 1;
        if failure.is_some() {
            self.decision.plugin_failures += 1;
            if self.decision.first_failure.is_none() {
                self.decision.first_failure = error.cloned();
            }
        }
    }
}

impl Observer for Tally {
    fn classified(&mut self, run: PluginRun) {
        self.plugin(run.failure, run.error.as_ref());
    }
    fn planned(&mut self, policy: Option<PluginRun>, plan: &PlanRecord) {
        if let Some(run) = &policy {
            self.plugin(run.failure, run.error.as_ref());
        }
        self.decision.default_plan = plan.source == PlanSource::Default;
    }
    fn attempted(&mut self, attempt: Attempt) {
        for gate in &attempt.gates {
            self.plugin(gate.failure, gate.error.as_ref());
        }
        if attempt.outcome.moved_on_by_gate() {
            self.decision.escalations += 1;
        }
        self.decision.cost_usd += attempt.cost_usd.unwrap_or(0.0);
    }
}

/// Decides one item through the route, exactly as the proxy would, on this thread (eval's
/// worker threads; not from inside an async runtime: use [`decide_async`] there).
pub fn decide(route: &Route, models: &Models, map: &ModelMap, item: &Prepared) -> Result<Decision, ReplayError> {
    plugin::blocking::run(decide_async(route, models, map, item))
}

/// [`decide`], for callers already on an async runtime.
pub async fn decide_async(
    route: &Route,
    models: &Models,
    map: &ModelMap,
    item: &Prepared,
) -> Result<Decision, ReplayError> {
    let mut upstream = Recorded {
        item,
        map,
        judged: !route.gates.is_empty(),
        unmapped: 0,
        calls: vec![0; map.models.len()],
        missing_text: None,
    };
    let mut tally = Tally::default();
    let ask = Ask {
        request: &item.request,
        target: Target::Route(route),
        models: &models.entries,
        table: &models.table,
        deadline: None,
    };
    let result = route_decide(ask, &mut upstream, &mut tally).await;
    if let Some(missing) = upstream.missing_text {
        return Err(missing);
    }
    let mut decision = tally.decision;
    decision.calls = upstream.calls;
    decision.unmapped_steps = upstream.unmapped;
    match result {
        Ok(served) => {
            decision.outcome = Outcome::Answered;
            decision.answered_by = Some(served.held);
            decision.score = item.scores[served.held];
        }
        Err(RouteError::Rejected { .. }) => decision.outcome = Outcome::Rejected,
        Err(RouteError::PluginFailed(error)) => {
            tracing::debug!("{error}");
            decision.outcome = Outcome::PluginError;
        }
        // Eval decides with `Unbounded` admission: no governance refusal can occur.
        Err(
            RouteError::NoAnswer { .. }
            | RouteError::DeadlinePassed { .. }
            | RouteError::RefusedRequest { .. }
            | RouteError::Governed(_),
        ) => {
            decision.outcome = Outcome::NoAnswer;
        }
    }
    Ok(decision)
}
