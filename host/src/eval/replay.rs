//! One routing decision replayed offline: the route's classifiers, policy and gates run on
//! one item exactly as `route::pipeline` and `route::cascade` run them on a live request,
//! with the data's answers standing in for upstream calls.
//!
//! What is the same as the proxy: the plugin calls (same loaded components, limits, warm
//! instances), the order (classifiers in route order, signals concatenated, then the policy
//! with the model table, then each plan step judged by the gates in order, stopping at the
//! first that does not accept), fail modes (a failing classifier is skipped or fails the
//! request, a failing or unknown-model plan falls back to the default plan, a failing gate
//! follows its fail mode), plan dedupe, escalation (an escalated last step is returned
//! anyway), rejection (`on_reject`), and gates judging the last step too.
//!
//! What differs, because nothing is called: every model is healthy, an "upstream call" is a
//! lookup in the data (a plan step naming a model the data lacks counts as an upstream
//! failure, so the plan falls back to its next step), and there are no deadlines or retries.
//! Plugins are pure functions of their inputs, which is what makes this replay faithful.

use std::collections::HashSet;
use std::sync::Arc;

use super::data::Item;
use super::mapping::ModelMap;
use crate::config::{FailMode, OnReject};
use crate::plugin::{CallError, Candidate, ModelInfo, Plugin, Request, ResponseFormat, Signal, ToolChoice, Verdict};
use crate::provider::cost::estimate_tokens;
use crate::route::snapshot::{Route, Slot};

/// A route's plugins as eval runs them; a sweep swaps one plugin for a re-configured copy.
#[derive(Debug, Clone)]
pub struct RouteUnderTest {
    pub alias: String,
    pub classifiers: Vec<Slot>,
    pub policy: Option<Slot>,
    pub gates: Vec<Slot>,
    pub default_plan: Vec<String>,
    pub on_reject: OnReject,
}

impl RouteUnderTest {
    pub fn from_route(route: &Route) -> Self {
        RouteUnderTest {
            alias: route.alias.clone(),
            classifiers: route.classifiers.clone(),
            policy: route.policy.clone(),
            gates: route.gates.clone(),
            default_plan: route.default_plan.clone(),
            on_reject: route.on_reject,
        }
    }

    /// Every plugin name on the route.
    pub fn plugin_names(&self) -> Vec<&str> {
        self.classifiers.iter().chain(&self.policy).chain(&self.gates).map(|s| s.plugin.name()).collect()
    }

    /// This route with every slot holding plugin `name` given `plugin` instead.
    pub fn with_plugin(&self, name: &str, plugin: &Arc<Plugin>) -> Self {
        let swap = |slot: &Slot| {
            if slot.plugin.name() == name {
                Slot { plugin: plugin.clone(), fail_mode: slot.fail_mode }
            } else {
                slot.clone()
            }
        };
        RouteUnderTest {
            alias: self.alias.clone(),
            classifiers: self.classifiers.iter().map(swap).collect(),
            policy: self.policy.as_ref().map(swap),
            gates: self.gates.iter().map(swap).collect(),
            default_plan: self.default_plan.clone(),
            on_reject: self.on_reject,
        }
    }
}

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
    /// Per mapped model: the score of its answer.
    pub scores: Vec<f64>,
    /// Per mapped model: the cost of calling it, USD.
    pub costs: Vec<f64>,
}

/// Builds the request the proxy would have built for the item (as `route::request` does for
/// a chat body: one message per entry, ~4 characters a token plus 4 per message).
pub fn prepare(item: &Item, alias: &str, map: &ModelMap, options: &ReplayOptions) -> Prepared {
    let input_tokens =
        item.messages.iter().map(|m| estimate_tokens(&m.content).saturating_add(4)).fold(0u32, u32::saturating_add);
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
    let mut candidates = Vec::with_capacity(map.models.len());
    let mut scores = Vec::with_capacity(map.models.len());
    let mut costs = Vec::with_capacity(map.models.len());
    for model in &map.models {
        // Items missing a mapped model's result are dropped before replay.
        let result = item.results.get(model.data_index).and_then(Option::as_ref).cloned().unwrap_or_default();
        let input = result.input_tokens.unwrap_or(input_tokens);
        let output = result
            .output_tokens
            .or_else(|| result.answer.as_deref().map(estimate_tokens))
            .unwrap_or(options.default_output_tokens);
        let cost = result.cost_usd.unwrap_or_else(|| {
            (f64::from(input) * model.input_price + f64::from(output) * model.output_price) / 1_000_000.0
        });
        scores.push(result.score);
        costs.push(cost);
        candidates.push(result.answer.map(|content| Candidate {
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
    Prepared { request, candidates, scores, costs }
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
    /// Gate verdicts that moved the request on to a next step.
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

impl Decision {
    fn failed(&mut self, error: &CallError) {
        self.plugin_failures += 1;
        tracing::debug!("{error}");
        if self.first_failure.is_none() {
            self.first_failure = Some(error.to_string());
        }
    }
}

/// Why a decision cannot be replayed at all.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReplayError {
    #[error(
        "item `{item}`: the route's gates must judge the answer of `{model}`, but the data has no answer \
         text for it (give answers in the data, or evaluate a route without gates)"
    )]
    NoAnswerText { item: String, model: String },
}

/// The configuration facts replay checks plans against.
#[derive(Debug, Clone)]
pub struct Models {
    /// The model table handed to the policy (all healthy).
    pub table: Vec<ModelInfo>,
    /// Every model id of the config.
    pub known: HashSet<String>,
}

/// Replays one item through the route.
pub fn decide(
    route: &RouteUnderTest,
    models: &Models,
    map: &ModelMap,
    item: &Prepared,
) -> Result<Decision, ReplayError> {
    let mut decision = Decision { calls: vec![0; map.models.len()], ..Default::default() };
    let request = &item.request;

    let mut signals: Vec<Signal> = Vec::new();
    for slot in &route.classifiers {
        decision.plugin_calls += 1;
        match slot.plugin.classify_blocking(request) {
            Ok(found) => signals.extend(found),
            Err(error) => {
                decision.failed(&error);
                if slot.fail_mode == FailMode::Error {
                    decision.outcome = Outcome::PluginError;
                    return Ok(decision);
                }
            }
        }
    }

    let steps = match &route.policy {
        None => {
            decision.default_plan = true;
            route.default_plan.clone()
        }
        Some(slot) => {
            decision.plugin_calls += 1;
            let planned = slot.plugin.route_blocking(request, &signals, &models.table).and_then(|plan| {
                match plan.steps.iter().find(|step| !models.known.contains(*step)) {
                    Some(unknown) => Err(CallError::BadOutput {
                        plugin: slot.plugin.name().to_string(),
                        detail: format!("the plan names `{unknown}`, which is not a model in the configuration"),
                    }),
                    None => Ok(plan.steps),
                }
            });
            match planned {
                Ok(steps) => dedupe(steps),
                Err(error) => {
                    decision.failed(&error);
                    if slot.fail_mode == FailMode::Error {
                        decision.outcome = Outcome::PluginError;
                        return Ok(decision);
                    }
                    decision.default_plan = true;
                    route.default_plan.clone()
                }
            }
        }
    };

    let last = steps.len().saturating_sub(1);
    for (step, model_id) in steps.iter().enumerate() {
        let Some((model, _)) = map.get(model_id) else {
            decision.unmapped_steps += 1;
            continue;
        };
        decision.calls[model] += 1;
        decision.cost_usd += item.costs[model];
        let verdict = if route.gates.is_empty() {
            GateOutcome::Accept
        } else {
            let Some(candidate) = &item.candidates[model] else {
                return Err(ReplayError::NoAnswerText { item: request.id.clone(), model: model_id.clone() });
            };
            let mut candidate = candidate.clone();
            candidate.last_step = step == last;
            judge(&route.gates, request, &candidate, &mut decision)
        };
        match verdict {
            GateOutcome::Escalate if step != last => decision.escalations += 1,
            GateOutcome::Reject => {
                if route.on_reject == OnReject::Next && step != last {
                    decision.escalations += 1;
                    continue;
                }
                decision.outcome = Outcome::Rejected;
                return Ok(decision);
            }
            GateOutcome::Accept | GateOutcome::Escalate => {
                decision.outcome = Outcome::Answered;
                decision.answered_by = Some(model);
                decision.score = item.scores[model];
                return Ok(decision);
            }
        }
    }
    decision.outcome = Outcome::NoAnswer;
    Ok(decision)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum GateOutcome {
    Accept,
    Escalate,
    Reject,
}

/// The gates in order, stopping at the first that does not accept (as `route::gates::judge`).
fn judge(gates: &[Slot], request: &Request, candidate: &Candidate, decision: &mut Decision) -> GateOutcome {
    for slot in gates {
        decision.plugin_calls += 1;
        let outcome = match slot.plugin.check_blocking(request, candidate) {
            Ok(Verdict::Accept(_)) => GateOutcome::Accept,
            Ok(Verdict::Escalate(_)) => GateOutcome::Escalate,
            Ok(Verdict::Reject(_)) => GateOutcome::Reject,
            Err(error) => {
                decision.failed(&error);
                match slot.fail_mode {
                    FailMode::Accept => GateOutcome::Accept,
                    FailMode::Reject => GateOutcome::Reject,
                    _ => GateOutcome::Escalate,
                }
            }
        };
        if outcome != GateOutcome::Accept {
            return outcome;
        }
    }
    GateOutcome::Accept
}

/// A model named twice in a plan would be tried twice; keep the first (as the pipeline does).
fn dedupe(steps: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    steps.into_iter().filter(|s| seen.insert(s.clone())).collect()
}
