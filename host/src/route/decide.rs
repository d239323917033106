//! The routing core: classifiers → policy → plan → steps → gates → outcome.
//!
//! This is the only code that knows how a route decides. The proxy, `switchyard eval`,
//! `plugin test` fixtures and everything built on "what would this route decide?" call
//! [`decide`] (or its stages); they differ only in the [`Upstream`] they pass (live
//! providers, or answers recorded in a data set) and the [`Observer`] that keeps the record.
//!
//! The rules, in one place:
//! - Classifiers run in route order; their signals are concatenated. A failing classifier
//!   contributes nothing (`skip`) or fails the request (`error`).
//! - The policy sees the request, the signals and the route's model table. A plan that is
//!   empty, names a model outside the route's models, or fails, is a policy failure: the
//!   route's default plan (`default_plan`) or a failed request (`error`). A model named twice
//!   is tried once.
//! - Each step: skipped when the deadline has passed (and the plan stops) or the model's
//!   circuit is open (unless it is the last hope: the last step with nothing tried). An
//!   upstream failure moves on (a fallback); an upstream that refuses the request itself
//!   (400/413/422) stops the plan, since every model would.
//! - Gates judge every complete answer in order, stopping at the first that does not
//!   accept; a failing gate stands for its fail mode's verdict. Escalate moves on; on the
//!   last step there is nowhere to go and the answer is returned. Reject moves on under
//!   `on_reject = "next"` (except on the last step) and otherwise fails the request.
//! - An answer already streaming to the client (the last step of a streamed plan, or any
//!   step of a streamed request on a route without gates) is not judged.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::time::Instant as Deadline;

use super::error::{RouteError, Tried};
use super::slots::{ClassifierSlot, GateSlot, PolicySlot};
use super::snapshot::{ModelEntry, Route};
use crate::config::{ClassifierFailMode, GateFailMode, OnReject, PolicyFailMode};
use crate::plugin::{CallError, Candidate, ModelInfo, Request, Signal, Verdict};
use crate::provider::{Usage, cost_usd};
pub use crate::telemetry::decision::Observer;
use crate::telemetry::decision::{Attempt, AttemptOutcome, GateRun, PlanRecord, PlanSource, PluginRun};

/// What a request asked for: a route, or one concrete model (a plain gateway hop).
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Route(&'a Route),
    Model(&'a Arc<ModelEntry>),
}

/// Everything one decision reads.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub request: &'a Request,
    pub target: Target<'a>,
    /// Every configured model, by id.
    pub models: &'a HashMap<String, Arc<ModelEntry>>,
    /// The model table the policy sees: the route's models, with live health.
    pub table: &'a [ModelInfo],
    /// When the whole request must be over; `None` offline.
    pub deadline: Option<Deadline>,
}

/// One upstream answer for a plan step.
#[derive(Debug)]
pub enum Answer<H> {
    /// A complete answer the gates can judge; `held` is what the caller renders if it wins.
    /// `reported_cost` is the upstream's (or the data's) own figure, used over the price
    /// list when present.
    Complete { candidate: Candidate, usage: Usage, reported_cost: Option<f64>, held: H },
    /// An answer already streaming to the client: not judged, its usage known at its end.
    Streaming { held: H },
}

/// How an upstream call failed.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamFailure {
    pub kind: FailureKind,
    pub message: String,
    /// The upstream's HTTP status, when one was received.
    pub status: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Connect error, 5xx, 429, bad body...: fall back to the next step.
    Failed,
    /// The call ran out of time: fall back (the deadline check stops the plan if it passed).
    TimedOut,
    /// The upstream refused the request itself (400/413/422): stop.
    Refused,
}

/// Where answers come from: live providers in the proxy, a data set in eval, a fake in tests.
pub trait Upstream {
    /// What the caller gets back for the answer that is returned.
    type Held: Send;

    /// Whether `model` may be called now (false while its circuit is open).
    fn available(&self, model: &ModelEntry) -> bool;

    /// Calls `model`. `must_complete` says gates will judge the answer, so it must be whole
    /// (a stream is buffered); otherwise it may stream straight to the client.
    fn call(
        &mut self,
        model: &Arc<ModelEntry>,
        must_complete: bool,
    ) -> impl Future<Output = Result<Answer<Self::Held>, UpstreamFailure>> + Send;
}

/// The answer a decision returned.
#[derive(Debug)]
pub struct Served<H> {
    pub model: Arc<ModelEntry>,
    /// The plan step (0-based) that answered.
    pub step: usize,
    pub held: H,
    /// Whether the answer is still streaming (its attempt's usage and cost are filled in by
    /// whoever relays the stream).
    pub streaming: bool,
}

/// The steps to try, in order, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<String>,
    pub reason: String,
}

/// What stands between a plan and its first upstream call: the caller's key clamps the plan
/// to its class and reserves its budget (see `route/governed.rs`); offline callers admit
/// every plan ([`Unbounded`]).
pub trait Admission: Send {
    /// The plan that may run, or why none may.
    fn admit(&mut self, plan: Plan) -> impl Future<Output = Result<Plan, RouteError>> + Send;
}

/// Admits every plan unchanged.
pub struct Unbounded;

impl Admission for Unbounded {
    async fn admit(&mut self, plan: Plan) -> Result<Plan, RouteError> {
        Ok(plan)
    }
}

/// Decides one request: runs the route's plugins, tries the plan, returns the answer chosen.
pub async fn decide<U: Upstream, O: Observer>(
    ask: Ask<'_>,
    upstream: &mut U,
    observer: &mut O,
) -> Result<Served<U::Held>, RouteError> {
    decide_admitted(ask, upstream, observer, &mut Unbounded).await
}

/// [`decide`], with the plan passing `admission` before any step runs.
pub async fn decide_admitted<U: Upstream, O: Observer, A: Admission>(
    ask: Ask<'_>,
    upstream: &mut U,
    observer: &mut O,
    admission: &mut A,
) -> Result<Served<U::Held>, RouteError> {
    let (plan, gates, on_reject) = match ask.target {
        Target::Model(entry) => {
            let plan = Plan { steps: vec![entry.id.clone()], reason: "the client named this model".to_string() };
            observer.planned(None, &record_of(&plan.steps, &plan.reason, PlanSource::Direct));
            (plan, &[][..], OnReject::Next)
        }
        Target::Route(route) => {
            let signals = classify(&route.classifiers, ask.request, observer).await?;
            let plan = plan(route, ask.request, &signals, ask.table, observer).await?;
            (plan, &route.gates[..], route.on_reject)
        }
    };
    let plan = admission.admit(plan).await?;
    run_plan(&ask, &plan, gates, on_reject, upstream, observer).await
}

/// Runs the classifiers in order and concatenates their signals, applying fail modes.
pub async fn classify<O: Observer>(
    slots: &[ClassifierSlot],
    request: &Request,
    observer: &mut O,
) -> Result<Vec<Signal>, RouteError> {
    let mut signals = Vec::new();
    for slot in slots {
        let started = Instant::now();
        let result = slot.plugin.classify(request).await;
        let mut run = plugin_run(slot.plugin.name(), started);
        match result {
            Ok(found) => {
                signals.extend_from_slice(&found);
                run.signals = found;
                observer.classified(run);
            }
            Err(error) => {
                tracing::warn!(plugin = slot.plugin.name(), "classifier failed: {error}");
                failed(&mut run, &error, slot_mode_classifier(slot.on_failure));
                observer.classified(run);
                match slot.on_failure {
                    ClassifierFailMode::Skip => {}
                    ClassifierFailMode::Error => return Err(RouteError::PluginFailed(error)),
                }
            }
        }
    }
    Ok(signals)
}

/// Asks the route's policy for a plan (or takes the default plan), applying its fail mode.
pub async fn plan<O: Observer>(
    route: &Route,
    request: &Request,
    signals: &[Signal],
    table: &[ModelInfo],
    observer: &mut O,
) -> Result<Plan, RouteError> {
    let Some(slot) = &route.policy else {
        let plan =
            Plan { steps: route.default_plan.clone(), reason: "the route's default plan (no policy)".to_string() };
        observer.planned(None, &record_of(&plan.steps, &plan.reason, PlanSource::Default));
        return Ok(plan);
    };
    let started = Instant::now();
    let result = call_policy(slot, request, signals, table, route).await;
    let mut run = plugin_run(slot.plugin.name(), started);
    match result {
        Ok(planned) => {
            run.plan = Some(planned.steps.clone());
            run.reason = Some(planned.reason.clone());
            observer.planned(Some(run), &record_of(&planned.steps, &planned.reason, PlanSource::Policy));
            Ok(Plan { steps: dedupe(planned.steps), reason: planned.reason })
        }
        Err(error) => {
            tracing::warn!(plugin = slot.plugin.name(), "policy failed: {error}");
            failed(&mut run, &error, slot_mode_policy(slot.on_failure));
            match slot.on_failure {
                PolicyFailMode::Error => {
                    observer.planned(Some(run), &PlanRecord::default());
                    Err(RouteError::PluginFailed(error))
                }
                PolicyFailMode::DefaultPlan => {
                    let plan = Plan {
                        steps: route.default_plan.clone(),
                        reason: format!(
                            "the route's default plan (policy `{}` failed: {})",
                            slot.plugin.name(),
                            error.label()
                        ),
                    };
                    observer.planned(Some(run), &record_of(&plan.steps, &plan.reason, PlanSource::Default));
                    Ok(plan)
                }
            }
        }
    }
}

/// Calls the policy and checks its plan against the route: a plan must name only models the
/// route may use, and at least one.
async fn call_policy(
    slot: &PolicySlot,
    request: &Request,
    signals: &[Signal],
    table: &[ModelInfo],
    route: &Route,
) -> Result<crate::plugin::Plan, CallError> {
    let plan = slot.plugin.route(request, signals, table).await?;
    let bad = |detail: String| CallError::BadOutput { plugin: slot.plugin.name().to_string(), detail };
    if plan.steps.is_empty() {
        return Err(bad("the plan has no steps".to_string()));
    }
    if let Some(unknown) = plan.steps.iter().find(|step| !route.allows(step)) {
        return Err(bad(format!("the plan names `{unknown}`, which is not a model this route may use")));
    }
    Ok(plan)
}

/// The combined verdict of a route's gates on one answer.
#[derive(Debug, Clone, PartialEq)]
pub enum GateOutcome {
    Accept,
    /// `plugin: reason` of the gate that escalated.
    Escalate(String),
    /// `plugin: reason` of the gate that rejected.
    Reject(String),
}

/// Runs the gates in order, stopping at the first that does not accept; a failing gate
/// stands for its fail mode's verdict.
pub async fn judge(gates: &[GateSlot], request: &Request, candidate: &Candidate) -> (GateOutcome, Vec<GateRun>) {
    let mut runs = Vec::with_capacity(gates.len());
    for slot in gates {
        let name = slot.plugin.name();
        let (result, mut run) = check_gate(slot, request, candidate).await;
        let verdict = match result {
            Ok(verdict) => verdict,
            Err(error) => {
                tracing::warn!(plugin = name, "gate failed: {error}");
                run.error = Some(error.to_string());
                run.failure = Some(error.label());
                let why = format!("failed ({})", error.label());
                match slot.on_failure {
                    GateFailMode::Accept => Verdict::Accept(0.0),
                    GateFailMode::Escalate => Verdict::Escalate(why),
                    GateFailMode::Reject => Verdict::Reject(why),
                }
            }
        };
        let outcome = match verdict {
            Verdict::Accept(confidence) => {
                run.verdict = "accept".into();
                run.confidence = run.error.is_none().then_some(confidence);
                GateOutcome::Accept
            }
            Verdict::Escalate(reason) => {
                run.verdict = "escalate".into();
                let outcome = GateOutcome::Escalate(format!("{name}: {reason}"));
                run.reason = Some(reason);
                outcome
            }
            Verdict::Reject(reason) => {
                run.verdict = "reject".into();
                let outcome = GateOutcome::Reject(format!("{name}: {reason}"));
                run.reason = Some(reason);
                outcome
            }
        };
        runs.push(run);
        if outcome != GateOutcome::Accept {
            return (outcome, runs);
        }
    }
    (GateOutcome::Accept, runs)
}

/// Calls one gate and starts its record; [`judge`] folds a failure into the slot's fail mode,
/// `plugin test` reports it as it is.
pub async fn check_gate(
    slot: &GateSlot,
    request: &Request,
    candidate: &Candidate,
) -> (Result<Verdict, CallError>, GateRun) {
    let started = Instant::now();
    let result = slot.plugin.check(request, candidate).await;
    (result, GateRun { plugin: slot.plugin.name().to_string(), micros: micros(started), ..Default::default() })
}

/// Tries the plan's steps in order.
async fn run_plan<U: Upstream, O: Observer>(
    ask: &Ask<'_>,
    plan: &Plan,
    gates: &[GateSlot],
    on_reject: OnReject,
    upstream: &mut U,
    observer: &mut O,
) -> Result<Served<U::Held>, RouteError> {
    let mut tried = Tried::default();
    let mut called_any = false;
    let steps = plan.steps.len();
    for (step, model_id) in plan.steps.iter().enumerate() {
        let last = step + 1 == steps;
        let Some(entry) = ask.models.get(model_id) else {
            // Plans are checked against the route's models; a default plan against the
            // config. A model missing here means the snapshot is inconsistent: skip it.
            tried.0.push((model_id.clone(), "not a configured model".to_string()));
            continue;
        };
        if ask.deadline.is_some_and(|d| Deadline::now() >= d) {
            let why = "the request's deadline had passed";
            observer.attempted(skipped(step, entry, AttemptOutcome::DeadlineExceeded, why));
            tried.0.push((entry.id.clone(), why.to_string()));
            break;
        }
        if !upstream.available(entry) && (!last || called_any) {
            let why = "circuit open: the model failed repeatedly";
            observer.attempted(skipped(step, entry, AttemptOutcome::UpstreamError, why));
            tried.0.push((entry.id.clone(), why.to_string()));
            continue;
        }
        called_any = true;
        let must_complete = !gates.is_empty() && !last;
        let started = Deadline::now();
        let mut attempt = Attempt {
            step,
            model: entry.id.clone(),
            provider: entry.provider.name().to_string(),
            upstream_model: entry.upstream_name().to_string(),
            buffered: must_complete && ask.request.streaming,
            ..Default::default()
        };
        let answer = upstream.call(entry, must_complete).await;
        attempt.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (candidate, usage, held) = match answer {
            Err(failure) => {
                attempt.outcome = match failure.kind {
                    FailureKind::TimedOut => AttemptOutcome::DeadlineExceeded,
                    FailureKind::Failed | FailureKind::Refused => AttemptOutcome::UpstreamError,
                };
                attempt.status = failure.status;
                attempt.error = Some(failure.message.clone());
                // A failed call returned no answer to bill: it costs nothing, and must not
                // make the whole request's cost unknown (budgets settle to it).
                attempt.cost_usd = Some(0.0);
                observer.attempted(attempt);
                tried.0.push((entry.id.clone(), failure.message.clone()));
                if failure.kind == FailureKind::Refused {
                    return Err(RouteError::RefusedRequest {
                        model: entry.id.clone(),
                        status: failure.status.unwrap_or(400),
                        message: failure.message,
                    });
                }
                continue;
            }
            Ok(Answer::Streaming { held }) => {
                attempt.status = Some(200);
                attempt.outcome = AttemptOutcome::Returned;
                observer.attempted(attempt);
                return Ok(Served { model: entry.clone(), step, held, streaming: true });
            }
            Ok(Answer::Complete { mut candidate, usage, reported_cost, held }) => {
                candidate.last_step = last;
                attempt.cost_usd = reported_cost.or_else(|| cost_usd(&usage, entry.config.prices()));
                (candidate, usage, held)
            }
        };
        attempt.status = Some(200);
        attempt.input_tokens = usage.prompt_tokens;
        attempt.output_tokens = usage.completion_tokens;
        attempt.cached_input_tokens = usage.cached_prompt_tokens;
        attempt.tokens_estimated = usage.estimated;
        let verdict = if gates.is_empty() {
            GateOutcome::Accept
        } else {
            let (verdict, runs) = judge(gates, ask.request, &candidate).await;
            attempt.gates = runs;
            verdict
        };
        match verdict {
            GateOutcome::Escalate(reason) if !last => {
                attempt.outcome = AttemptOutcome::Escalated;
                observer.attempted(attempt);
                tried.0.push((entry.id.clone(), format!("escalated by {reason}")));
            }
            GateOutcome::Reject(reason) if on_reject == OnReject::Next && !last => {
                attempt.outcome = AttemptOutcome::RejectedNext;
                observer.attempted(attempt);
                tried.0.push((entry.id.clone(), format!("rejected by {reason}")));
            }
            GateOutcome::Reject(reason) => {
                attempt.outcome = AttemptOutcome::Rejected;
                observer.attempted(attempt);
                return Err(RouteError::Rejected { model: entry.id.clone(), reason });
            }
            // Accepted, or escalated with nowhere left to go: the best answer there is.
            GateOutcome::Accept | GateOutcome::Escalate(_) => {
                attempt.outcome = AttemptOutcome::Returned;
                observer.attempted(attempt);
                return Ok(Served { model: entry.clone(), step, held, streaming: false });
            }
        }
    }
    if ask.deadline.is_some_and(|d| Deadline::now() >= d) {
        Err(RouteError::DeadlinePassed { tried })
    } else {
        Err(RouteError::NoAnswer { tried })
    }
}

fn skipped(step: usize, entry: &ModelEntry, outcome: AttemptOutcome, why: &str) -> Attempt {
    Attempt {
        step,
        model: entry.id.clone(),
        provider: entry.provider.name().to_string(),
        upstream_model: entry.upstream_name().to_string(),
        outcome,
        error: Some(why.to_string()),
        cost_usd: Some(0.0),
        ..Default::default()
    }
}

fn micros(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn plugin_run(name: &str, started: Instant) -> PluginRun {
    PluginRun { plugin: name.to_string(), micros: micros(started), ..Default::default() }
}

fn failed(run: &mut PluginRun, error: &CallError, mode: &'static str) {
    run.error = Some(error.to_string());
    run.failure = Some(error.label());
    run.fail_mode = Some(mode.to_string());
}

fn slot_mode_classifier(mode: ClassifierFailMode) -> &'static str {
    crate::config::FailMode::Classifier(mode).as_str()
}

fn slot_mode_policy(mode: PolicyFailMode) -> &'static str {
    crate::config::FailMode::Policy(mode).as_str()
}

fn record_of(steps: &[String], reason: &str, source: PlanSource) -> PlanRecord {
    PlanRecord { steps: steps.to_vec(), reason: reason.to_string(), source }
}

/// A model named twice in a plan would be tried twice; keep the first.
fn dedupe(steps: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    steps.into_iter().filter(|s| seen.insert(s.clone())).collect()
}

#[cfg(test)]
mod tests;
