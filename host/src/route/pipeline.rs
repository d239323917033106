//! Classify → plan: what runs before the first upstream call.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Response};
use tokio::sync::OwnedSemaphorePermit;

use super::cascade::{self, Plan};
use super::governed;
use super::decision::{DecisionRecord, PlanRecord, PlanSource, PluginRun};
use super::recorder::{Recorder, new_request_id, now_ms};
use super::request::{self, ChatBody};
use super::snapshot::{Route, Snapshot};
use crate::config::FailMode;
use crate::govern::Identity;
use crate::plugin::{CallError, Request, Signal};
use crate::server::App;
use crate::server::body::Body;
use crate::server::error::ApiError;

/// Serves one parsed chat request end to end.
pub async fn run(
    app: Arc<App>,
    body: ChatBody,
    headers: HeaderMap,
    started: Instant,
    permit: OwnedSemaphorePermit,
    identity: Option<Arc<Identity>>,
) -> Response<Body> {
    let snapshot = app.snapshot();
    let record = DecisionRecord {
        id: new_request_id(),
        ts_ms: now_ms(),
        snapshot: snapshot.version,
        requested_model: body.model.clone(),
        stream: body.stream,
        ..Default::default()
    };
    let mut recorder = Recorder::new(app.clone(), started, record, permit);
    let mut request = request::plugin_request(&recorder.record.id, &body, &headers);
    if let Some(refused) = governed::check_access(identity.as_deref(), &body.model, &snapshot) {
        return cascade::fail(recorder, refused, &snapshot);
    }
    governed::annotate(&mut request, identity.as_deref(), recorder.app.governance()).await;

    if let Some(route) = snapshot.routes.get(&body.model).cloned() {
        recorder.record.route = Some(route.alias.clone());
        let deadline = tokio::time::Instant::from_std(started + route.deadline);
        let plan = match plan_route(&mut recorder, &snapshot, &route, &request).await {
            Ok(plan) => plan,
            Err(error) => return cascade::fail(recorder, error, &snapshot),
        };
        governed::run(recorder, snapshot, Some(route), body, request, plan, deadline, identity, &headers).await
    } else if snapshot.models.contains_key(&body.model) {
        let deadline = tokio::time::Instant::from_std(started + snapshot.config.server.request_timeout());
        let plan = Plan { steps: vec![body.model.clone()], reason: "the client named this model".to_string() };
        recorder.record.plan =
            PlanRecord { steps: plan.steps.clone(), reason: plan.reason.clone(), source: PlanSource::Direct };
        governed::run(recorder, snapshot, None, body, request, plan, deadline, identity, &headers).await
    } else {
        cascade::fail(recorder, ApiError::model_not_found(&body.model), &snapshot)
    }
}

/// Runs the route's classifiers and policy, applying fail modes, and records both.
async fn plan_route(
    recorder: &mut Recorder,
    snapshot: &Snapshot,
    route: &Route,
    request: &Request,
) -> Result<Plan, ApiError> {
    let app = recorder.app.clone();
    let mut signals: Vec<Signal> = Vec::new();
    for slot in &route.classifiers {
        let started = Instant::now();
        let result = slot.plugin.classify(request).await;
        let elapsed = started.elapsed();
        let failure = result.as_ref().err().map(CallError::label);
        app.metrics().observe_plugin(slot.plugin.name(), "classifier", elapsed.as_secs_f64(), failure);
        let mut run = PluginRun {
            plugin: slot.plugin.name().to_string(),
            micros: elapsed.as_micros() as u64,
            ..Default::default()
        };
        match result {
            Ok(found) => {
                signals.extend_from_slice(&found);
                run.signals = found;
            }
            Err(error) => {
                tracing::warn!(plugin = slot.plugin.name(), "classifier failed: {error}");
                run.error = Some(error.to_string());
                run.fail_mode = Some(slot.fail_mode.as_str().to_string());
                recorder.record.classifiers.push(run);
                if slot.fail_mode == FailMode::Error {
                    return Err(ApiError::internal(format!("Routing failed: {error}")).with_code("plugin_failed"));
                }
                continue;
            }
        }
        recorder.record.classifiers.push(run);
    }

    let Some(slot) = &route.policy else {
        let plan =
            Plan { steps: route.default_plan.clone(), reason: "the route's default plan (no policy)".to_string() };
        recorder.record.plan =
            PlanRecord { steps: plan.steps.clone(), reason: plan.reason.clone(), source: PlanSource::Default };
        return Ok(plan);
    };

    let models = snapshot.model_table(app.health());
    let started = Instant::now();
    let result = slot.plugin.route(request, &signals, &models).await.and_then(|plan| {
        match plan.steps.iter().find(|step| !snapshot.models.contains_key(*step)) {
            Some(unknown) => Err(CallError::BadOutput {
                plugin: slot.plugin.name().to_string(),
                detail: format!("the plan names `{unknown}`, which is not a model in the configuration"),
            }),
            None => Ok(plan),
        }
    });
    let elapsed = started.elapsed();
    let failure = result.as_ref().err().map(CallError::label);
    app.metrics().observe_plugin(slot.plugin.name(), "policy", elapsed.as_secs_f64(), failure);
    let mut run =
        PluginRun { plugin: slot.plugin.name().to_string(), micros: elapsed.as_micros() as u64, ..Default::default() };
    let plan = match result {
        Ok(plan) => {
            run.plan = Some(plan.steps.clone());
            run.reason = Some(plan.reason.clone());
            recorder.record.plan =
                PlanRecord { steps: plan.steps.clone(), reason: plan.reason.clone(), source: PlanSource::Policy };
            Plan { steps: dedupe(plan.steps), reason: plan.reason }
        }
        Err(error) => {
            tracing::warn!(plugin = slot.plugin.name(), "policy failed: {error}");
            run.error = Some(error.to_string());
            run.fail_mode = Some(slot.fail_mode.as_str().to_string());
            if slot.fail_mode == FailMode::Error {
                recorder.record.policy = Some(run);
                return Err(ApiError::internal(format!("Routing failed: {error}")).with_code("plugin_failed"));
            }
            let plan = Plan {
                steps: route.default_plan.clone(),
                reason: format!("the route's default plan (policy `{}` failed: {})", slot.plugin.name(), error.label()),
            };
            recorder.record.plan =
                PlanRecord { steps: plan.steps.clone(), reason: plan.reason.clone(), source: PlanSource::Default };
            plan
        }
    };
    recorder.record.policy = Some(run);
    Ok(plan)
}

/// A model named twice in a plan would be tried twice; keep the first.
fn dedupe(steps: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    steps.into_iter().filter(|s| seen.insert(s.clone())).collect()
}
