//! The routing core's rules, one test each, with fake plugins and a fake upstream on tokio's
//! paused clock: every fail mode of every kind, `on_reject` both ways, circuit-open skips,
//! the deadline passing mid-plan, plans naming unknown or duplicate models, and gates
//! judging the last step. No sockets, no wasm: the whole file runs in milliseconds.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::*;
use crate::config::{ModelConfig, ProviderConfig};
use crate::plugin::{Plan as PluginPlan, Request};
use crate::provider::Provider;
use crate::route::slots::{Classify, Judge, PlanRoute};
use crate::telemetry::decision::DecisionRecord;

fn fault(plugin: &str) -> CallError {
    CallError::Trap { plugin: plugin.to_string(), detail: "unreachable executed".to_string() }
}

#[derive(Debug)]
struct FakeClassifier {
    name: &'static str,
    signals: Option<Vec<Signal>>,
}

impl Classify for FakeClassifier {
    fn name(&self) -> &str {
        self.name
    }
    fn classify<'a>(&'a self, _: &'a Request) -> BoxFuture<'a, Result<Vec<Signal>, CallError>> {
        Box::pin(async move { self.signals.clone().ok_or_else(|| fault(self.name)) })
    }
}

#[derive(Debug)]
struct FakePolicy {
    /// `None`: the call fails.
    steps: Option<Vec<&'static str>>,
}

impl PlanRoute for FakePolicy {
    fn name(&self) -> &str {
        "policy"
    }
    fn route<'a>(
        &'a self,
        _: &'a Request,
        signals: &'a [Signal],
        _: &'a [ModelInfo],
    ) -> BoxFuture<'a, Result<PluginPlan, CallError>> {
        Box::pin(async move {
            let steps = self.steps.as_ref().ok_or_else(|| fault("policy"))?;
            let seen: Vec<String> = signals.iter().map(|s| s.name.clone()).collect();
            Ok(PluginPlan {
                steps: steps.iter().map(|s| s.to_string()).collect(),
                reason: format!("signals: {}", seen.join(",")),
            })
        })
    }
}

/// A gate with one verdict per model; a model it has no verdict for makes it fail.
#[derive(Debug)]
struct FakeGate {
    name: &'static str,
    verdicts: HashMap<&'static str, Verdict>,
}

impl Judge for FakeGate {
    fn name(&self) -> &str {
        self.name
    }
    fn check<'a>(&'a self, _: &'a Request, candidate: &'a Candidate) -> BoxFuture<'a, Result<Verdict, CallError>> {
        Box::pin(async move { self.verdicts.get(candidate.model.as_str()).cloned().ok_or_else(|| fault(self.name)) })
    }
}

fn gate(name: &'static str, verdicts: &[(&'static str, Verdict)], on_failure: GateFailMode) -> GateSlot {
    GateSlot { plugin: Arc::new(FakeGate { name, verdicts: verdicts.iter().cloned().collect() }), on_failure }
}

fn escalate() -> Verdict {
    Verdict::Escalate("too short".into())
}
fn reject() -> Verdict {
    Verdict::Reject("unsafe".into())
}
fn accept() -> Verdict {
    Verdict::Accept(0.9)
}

/// How the fake upstream answers a model.
#[derive(Debug, Clone)]
enum Behaviour {
    Answer,
    Fail,
    Refuse,
    /// Answers after this long on the (paused) clock.
    Slow(Duration),
    Stream,
}

struct FakeUpstream {
    behaviour: HashMap<&'static str, Behaviour>,
    open_circuits: HashSet<&'static str>,
    calls: Vec<String>,
}

impl FakeUpstream {
    fn new(behaviour: &[(&'static str, Behaviour)]) -> Self {
        FakeUpstream { behaviour: behaviour.iter().cloned().collect(), open_circuits: HashSet::new(), calls: vec![] }
    }
}

impl Upstream for FakeUpstream {
    type Held = String;

    fn available(&self, model: &ModelEntry) -> bool {
        !self.open_circuits.contains(model.id.as_str())
    }

    async fn call(&mut self, model: &Arc<ModelEntry>, _must_complete: bool) -> Result<Answer<String>, UpstreamFailure> {
        self.calls.push(model.id.clone());
        let behaviour = self.behaviour.get(model.id.as_str()).cloned().unwrap_or(Behaviour::Answer);
        let failure = |kind, status| UpstreamFailure { kind, message: format!("{} failed", model.id), status };
        match behaviour {
            Behaviour::Fail => return Err(failure(FailureKind::Failed, Some(503))),
            Behaviour::Refuse => return Err(failure(FailureKind::Refused, Some(400))),
            Behaviour::Stream => return Ok(Answer::Streaming { held: format!("stream of {}", model.id) }),
            Behaviour::Slow(wait) => tokio::time::sleep(wait).await,
            Behaviour::Answer => {}
        }
        let candidate = Candidate {
            model: model.id.clone(),
            content: format!("answer of {}", model.id),
            finish_reason: "stop".into(),
            input_tokens: 10,
            output_tokens: 5,
            mean_logprob: None,
            last_step: false,
            tool_calls: Vec::new(),
            refusal: None,
        };
        let usage = Usage { prompt_tokens: 1_000_000, completion_tokens: 0, ..Default::default() };
        Ok(Answer::Complete { candidate, usage, reported_cost: None, held: model.id.clone() })
    }
}

/// Models `small` (tier 0, $1/M in), `mid` (tier 1, $2/M) and `large` (tier 2, $4/M).
fn models() -> HashMap<String, Arc<ModelEntry>> {
    let provider: ProviderConfig = toml::from_str("base_url = \"http://127.0.0.1:9\"").unwrap();
    let provider = Arc::new(Provider::new("p", &provider, None).unwrap());
    [("small", 0, 1.0), ("mid", 1, 2.0), ("large", 2, 4.0)]
        .into_iter()
        .map(|(id, tier, price)| {
            let text = format!(
                "provider = \"p\"\nupstream = \"{id}-v1\"\ntier = {tier}\ninput_price = {price}\noutput_price = 0"
            );
            let config: ModelConfig = toml::from_str(&text).unwrap();
            (id.to_string(), Arc::new(ModelEntry { id: id.to_string(), config, provider: provider.clone() }))
        })
        .collect()
}

fn route() -> Route {
    Route {
        alias: "auto".into(),
        classifiers: vec![],
        policy: Some(PolicySlot {
            plugin: Arc::new(FakePolicy { steps: Some(vec!["small", "mid", "large"]) }),
            on_failure: PolicyFailMode::DefaultPlan,
        }),
        gates: vec![],
        default_plan: vec!["large".into()],
        on_reject: OnReject::Next,
        deadline: Duration::from_secs(30),
        models: vec!["small".into(), "mid".into(), "large".into()],
    }
}

fn request() -> Request {
    crate::plugin::samples::requests().remove(0)
}

struct Run {
    result: Result<Served<String>, RouteError>,
    record: DecisionRecord,
    calls: Vec<String>,
}

impl Run {
    fn answered_by(&self) -> &str {
        &self.result.as_ref().expect("an answer").held
    }
    fn outcomes(&self) -> Vec<(&str, AttemptOutcome)> {
        self.record.attempts.iter().map(|a| (a.model.as_str(), a.outcome)).collect()
    }
}

async fn run_with(route: &Route, mut upstream: FakeUpstream, deadline: Option<Duration>) -> Run {
    let models = models();
    let request = request();
    let mut record = DecisionRecord::default();
    let ask = Ask {
        request: &request,
        target: Target::Route(route),
        models: &models,
        table: &[],
        deadline: deadline.map(|d| Deadline::now() + d),
    };
    let result = decide(ask, &mut upstream, &mut record).await;
    Run { result, record, calls: upstream.calls }
}

async fn run(route: &Route, upstream: FakeUpstream) -> Run {
    run_with(route, upstream, None).await
}

#[tokio::test(start_paused = true)]
async fn the_first_step_answers_when_nothing_judges_it() {
    let run = run(&route(), FakeUpstream::new(&[])).await;
    assert_eq!(run.answered_by(), "small");
    assert_eq!(run.outcomes(), [("small", AttemptOutcome::Returned)]);
    assert_eq!(run.record.plan.source, PlanSource::Policy);
    assert_eq!(run.record.attempts[0].upstream_model, "small-v1");
    assert_eq!(run.record.attempts[0].cost_usd, Some(1.0), "priced through the one cost function");
}

#[tokio::test(start_paused = true)]
async fn a_failing_classifier_is_skipped_or_fails_the_request() {
    let mut route = route();
    let ok = Signal { name: "complexity.score".into(), value: 0.4, label: None };
    route.classifiers = vec![
        ClassifierSlot {
            plugin: Arc::new(FakeClassifier { name: "broken", signals: None }),
            on_failure: ClassifierFailMode::Skip,
        },
        ClassifierSlot {
            plugin: Arc::new(FakeClassifier { name: "fine", signals: Some(vec![ok]) }),
            on_failure: ClassifierFailMode::Skip,
        },
    ];
    let skipped = run(&route, FakeUpstream::new(&[])).await;
    assert_eq!(skipped.answered_by(), "small");
    assert_eq!(skipped.record.classifiers[0].fail_mode.as_deref(), Some("skip"));
    assert_eq!(skipped.record.classifiers[0].failure, Some("trap"));
    assert_eq!(skipped.record.plan.reason, "signals: complexity.score", "the policy saw the signals that were made");

    route.classifiers[0].on_failure = ClassifierFailMode::Error;
    let failed = run(&route, FakeUpstream::new(&[])).await;
    assert!(matches!(failed.result, Err(RouteError::PluginFailed(CallError::Trap { .. }))));
    assert!(failed.calls.is_empty(), "no upstream is called after a routing failure");
    assert_eq!(failed.record.classifiers.len(), 1, "the classifiers after the failing one never ran");
}

#[tokio::test(start_paused = true)]
async fn a_failing_policy_falls_back_to_the_default_plan_or_fails_the_request() {
    let mut route = route();
    route.policy =
        Some(PolicySlot { plugin: Arc::new(FakePolicy { steps: None }), on_failure: PolicyFailMode::DefaultPlan });
    let fallback = run(&route, FakeUpstream::new(&[])).await;
    assert_eq!(fallback.answered_by(), "large");
    assert_eq!(fallback.record.plan.source, PlanSource::Default);
    assert!(fallback.record.plan.reason.contains("policy `policy` failed: trap"), "{}", fallback.record.plan.reason);
    assert_eq!(fallback.record.policy.as_ref().unwrap().fail_mode.as_deref(), Some("default_plan"));

    route.policy = Some(PolicySlot { plugin: Arc::new(FakePolicy { steps: None }), on_failure: PolicyFailMode::Error });
    let failed = run(&route, FakeUpstream::new(&[])).await;
    assert!(matches!(failed.result, Err(RouteError::PluginFailed(_))));
    assert!(failed.calls.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_route_without_a_policy_uses_its_default_plan() {
    let mut route = route();
    route.policy = None;
    let run = run(&route, FakeUpstream::new(&[])).await;
    assert_eq!(run.answered_by(), "large");
    assert_eq!(run.record.plan.source, PlanSource::Default);
    assert!(run.record.policy.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_plan_naming_a_model_outside_the_route_is_a_policy_failure() {
    let mut route = route();
    route.models = vec!["mid".into(), "large".into()];
    // `small` is configured, but not one of this route's models; `ghost` is not configured.
    for steps in [vec!["small", "large"], vec!["ghost"]] {
        route.policy = Some(PolicySlot {
            plugin: Arc::new(FakePolicy { steps: Some(steps) }),
            on_failure: PolicyFailMode::DefaultPlan,
        });
        let run = run(&route, FakeUpstream::new(&[])).await;
        assert_eq!(run.answered_by(), "large");
        assert_eq!(run.record.plan.source, PlanSource::Default);
        let error = run.record.policy.as_ref().unwrap().error.as_deref().unwrap();
        assert!(error.contains("not a model this route may use"), "{error}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_model_named_twice_is_tried_once() {
    let mut route = route();
    route.policy = Some(PolicySlot {
        plugin: Arc::new(FakePolicy { steps: Some(vec!["small", "small", "large"]) }),
        on_failure: PolicyFailMode::DefaultPlan,
    });
    let run = run(&route, FakeUpstream::new(&[("small", Behaviour::Fail)])).await;
    assert_eq!(run.calls, ["small", "large"]);
    assert_eq!(run.record.plan.steps, ["small", "small", "large"], "the record keeps the plan as the policy made it");
}

#[tokio::test(start_paused = true)]
async fn an_upstream_failure_falls_back_and_a_refusal_stops_the_plan() {
    let fallback = run(&route(), FakeUpstream::new(&[("small", Behaviour::Fail)])).await;
    assert_eq!(fallback.answered_by(), "mid");
    assert_eq!(fallback.outcomes(), [("small", AttemptOutcome::UpstreamError), ("mid", AttemptOutcome::Returned)]);
    assert_eq!(fallback.record.attempts[0].status, Some(503));
    assert_eq!(fallback.record.fallbacks(), 1);

    let refused = run(&route(), FakeUpstream::new(&[("small", Behaviour::Refuse)])).await;
    assert!(matches!(refused.result, Err(RouteError::RefusedRequest { status: 400, .. })));
    assert_eq!(refused.calls, ["small"], "every model would refuse a bad request");

    let all = run(
        &route(),
        FakeUpstream::new(&[("small", Behaviour::Fail), ("mid", Behaviour::Fail), ("large", Behaviour::Fail)]),
    )
    .await;
    let Err(RouteError::NoAnswer { tried }) = &all.result else { panic!("{:?}", all.result) };
    assert_eq!(tried.to_string(), "small: small failed; mid: mid failed; large: large failed");
}

#[tokio::test(start_paused = true)]
async fn gates_escalate_and_the_last_step_is_returned_anyway() {
    let mut route = route();
    route.gates =
        vec![gate("g", &[("small", escalate()), ("mid", escalate()), ("large", escalate())], GateFailMode::Escalate)];
    let run = run(&route, FakeUpstream::new(&[])).await;
    assert_eq!(run.answered_by(), "large", "escalated with nowhere to go: the best answer there is");
    assert_eq!(
        run.outcomes(),
        [("small", AttemptOutcome::Escalated), ("mid", AttemptOutcome::Escalated), ("large", AttemptOutcome::Returned)]
    );
    assert_eq!(run.record.escalations(), 2);
    assert_eq!(run.record.attempts[2].gates[0].verdict, "escalate", "gates judge the last step too");
}

#[tokio::test(start_paused = true)]
async fn gates_run_in_order_and_stop_at_the_first_that_does_not_accept() {
    let mut route = route();
    route.gates = vec![
        gate("first", &[("small", escalate()), ("mid", accept())], GateFailMode::Escalate),
        gate("second", &[("mid", accept())], GateFailMode::Escalate),
    ];
    let run = run(&route, FakeUpstream::new(&[])).await;
    assert_eq!(run.answered_by(), "mid");
    assert_eq!(run.record.attempts[0].gates.len(), 1, "`second` never judged the escalated answer");
    assert_eq!(run.record.attempts[1].gates.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failing_gate_stands_for_its_fail_mode() {
    // The gate has no verdict for `small`, so it fails there.
    let cases = [
        (GateFailMode::Escalate, Ok("mid"), AttemptOutcome::Escalated),
        (GateFailMode::Accept, Ok("small"), AttemptOutcome::Returned),
        (GateFailMode::Reject, Ok("mid"), AttemptOutcome::RejectedNext),
    ];
    for (mode, answered, first) in cases {
        let mut route = route();
        route.gates = vec![gate("flaky", &[("mid", accept()), ("large", accept())], mode)];
        let run = run(&route, FakeUpstream::new(&[])).await;
        assert_eq!(
            run.result.as_ref().map(|s| s.held.as_str()).map_err(|_| ()),
            answered.map_err(|_: ()| ()),
            "{mode:?}"
        );
        assert_eq!(run.record.attempts[0].outcome, first, "{mode:?}");
        let judged = &run.record.attempts[0].gates[0];
        assert_eq!(judged.failure, Some("trap"), "{mode:?}");
        assert_eq!(judged.verdict, crate::config::FailMode::Gate(mode).as_str(), "{mode:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_rejection_moves_on_or_fails_as_on_reject_says() {
    let mut route = route();
    route.gates = vec![gate("g", &[("small", reject()), ("mid", accept())], GateFailMode::Escalate)];
    let next = run(&route, FakeUpstream::new(&[])).await;
    assert_eq!(next.answered_by(), "mid");
    assert_eq!(next.outcomes()[0], ("small", AttemptOutcome::RejectedNext));
    assert_eq!(
        next.record.escalations(),
        1,
        "a rejection that moved on counts like an escalation, in eval and metrics alike"
    );

    route.on_reject = OnReject::Error;
    let error = run(&route, FakeUpstream::new(&[])).await;
    let Err(RouteError::Rejected { model, reason }) = &error.result else { panic!("{:?}", error.result) };
    assert_eq!((model.as_str(), reason.as_str()), ("small", "g: unsafe"));
    assert_eq!(error.calls, ["small"]);
}

#[tokio::test(start_paused = true)]
async fn a_rejected_last_step_fails_even_under_on_reject_next() {
    let mut route = route();
    route.gates =
        vec![gate("g", &[("small", escalate()), ("mid", escalate()), ("large", reject())], GateFailMode::Escalate)];
    let run = run(&route, FakeUpstream::new(&[])).await;
    assert!(matches!(run.result, Err(RouteError::Rejected { ref model, .. }) if model == "large"));
    assert_eq!(run.outcomes()[2], ("large", AttemptOutcome::Rejected));
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_skipped_unless_it_is_the_last_hope() {
    let mut upstream = FakeUpstream::new(&[]);
    upstream.open_circuits.insert("small");
    let skipped = run(&route(), upstream).await;
    assert_eq!(skipped.answered_by(), "mid");
    assert_eq!(skipped.calls, ["mid"]);
    assert_eq!(skipped.record.attempts[0].error.as_deref(), Some("circuit open: the model failed repeatedly"));

    // Every circuit open: the last step is tried anyway rather than answering nothing.
    let mut upstream = FakeUpstream::new(&[]);
    upstream.open_circuits.extend(["small", "mid", "large"]);
    let last_hope = run(&route(), upstream).await;
    assert_eq!(last_hope.answered_by(), "large");
    assert_eq!(last_hope.calls, ["large"]);

    // But not when something was already tried.
    let mut upstream = FakeUpstream::new(&[("small", Behaviour::Fail)]);
    upstream.open_circuits.extend(["mid", "large"]);
    let nothing = run(&route(), upstream).await;
    assert!(matches!(nothing.result, Err(RouteError::NoAnswer { .. })));
    assert_eq!(nothing.calls, ["small"]);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_passing_mid_plan_stops_it() {
    let mut route = route();
    route.gates =
        vec![gate("g", &[("small", escalate()), ("mid", accept()), ("large", accept())], GateFailMode::Escalate)];
    let upstream = FakeUpstream::new(&[("small", Behaviour::Slow(Duration::from_secs(2)))]);
    let started = Deadline::now();
    let run = run_with(&route, upstream, Some(Duration::from_secs(1))).await;
    assert!(matches!(run.result, Err(RouteError::DeadlinePassed { .. })), "{:?}", run.result);
    assert_eq!(run.calls, ["small"], "nothing is called once the deadline has passed");
    assert_eq!(run.outcomes(), [("small", AttemptOutcome::Escalated), ("mid", AttemptOutcome::DeadlineExceeded)]);
    assert!(run.record.attempts[0].latency_ms >= 2000.0);
    assert!(started.elapsed() < Duration::from_secs(3), "the paused clock only moved as far as the slow call");
}

#[tokio::test(start_paused = true)]
async fn a_streaming_answer_is_returned_unjudged() {
    let mut route = route();
    route.gates = vec![gate("g", &[], GateFailMode::Reject)];
    let run = run(&route, FakeUpstream::new(&[("small", Behaviour::Stream)])).await;
    let served = run.result.as_ref().unwrap();
    assert!(served.streaming);
    assert_eq!(served.held, "stream of small");
    assert!(run.record.attempts[0].gates.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_concrete_model_is_one_step_without_plugins() {
    let models = models();
    let request = request();
    let mut record = DecisionRecord::default();
    let mut upstream = FakeUpstream::new(&[("mid", Behaviour::Fail)]);
    let ask =
        Ask { request: &request, target: Target::Model(&models["mid"]), models: &models, table: &[], deadline: None };
    let result = decide(ask, &mut upstream, &mut record).await;
    assert!(matches!(result, Err(RouteError::NoAnswer { .. })));
    assert_eq!(record.plan.source, PlanSource::Direct);
    assert_eq!(upstream.calls, ["mid"], "a concrete model has no fallback");
}
