//! The request path's governance hooks, between planning and the cascade: the key's identity
//! in the plugin request's metadata, the plan clamped to its class, the cost gate, and the
//! reservation made before the first upstream call (settled when the record finishes, see
//! [`super::recorder::Recorder::finish`]). A request without an identity (no keys defined,
//! or a plain `client_keys` key) passes through untouched.

use std::sync::Arc;

use http::{HeaderMap, Response, StatusCode};
use tokio::time::Instant as Deadline;

use super::cascade::{self, Plan};
use super::recorder::Recorder;
use super::request::ChatBody;
use super::snapshot::{Route, Snapshot};
use crate::config::CostGateAction;
use crate::govern::budget;
use crate::govern::class::{self, APPROVAL_HEADER};
use crate::govern::record::GovernanceRecord;
use crate::govern::{Governance, Identity};
use crate::plugin::Request;
use crate::server::body::Body;
use crate::server::error::ApiError;
use crate::server::refusal;

/// The header that acknowledges a request estimated above the key's cost threshold.
pub const ACCEPT_COST_HEADER: &str = "x-switchyard-accept-cost";

/// Metadata keys the host sets; a client cannot send them.
const RESERVED_PREFIX: &str = "switchyard.";

/// Refuses a key asking for a route or model it may not use.
pub fn check_access(identity: Option<&Identity>, model: &str, snapshot: &Snapshot) -> Option<ApiError> {
    let identity = identity?;
    let is_route = snapshot.routes.contains_key(model);
    if identity.may_ask_for(model, is_route) {
        return None;
    }
    let what = if is_route { "route" } else { "model" };
    Some(
        ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            format!("Key `{}` may not use the {what} `{model}`.", identity.name),
        )
        .with_code("model_not_allowed")
        .with_param(Some("model".into())),
    )
}

/// Puts the key's team, class and remaining budget into the plugin request's metadata
/// (`switchyard.team`, `switchyard.class`, `switchyard.budget_remaining_usd`, …), after
/// removing any `switchyard.*` entries the client sent.
pub async fn annotate(request: &mut Request, identity: Option<&Identity>, governance: &Governance) {
    request.metadata.retain(|(k, _)| !k.starts_with(RESERVED_PREFIX));
    let Some(identity) = identity else { return };
    let mut add = |k: String, v: String| request.metadata.push((k, v));
    add("switchyard.key".into(), identity.name.clone());
    add("switchyard.team".into(), identity.team.clone());
    if let Some((name, class)) = &identity.class {
        add("switchyard.class".into(), name.clone());
        add("switchyard.class_max_tier".into(), class.max_tier.to_string());
    }
    for (k, v) in &identity.team_config.metadata {
        add(format!("switchyard.team.{k}"), v.clone());
    }
    for (k, v) in &identity.key.metadata {
        add(format!("switchyard.key.{k}"), v.clone());
    }
    if let Some(left) = remaining_budget(identity, governance).await {
        add("switchyard.budget_remaining_usd".into(), format!("{left:.6}"));
    }
}

/// The tightest budget's room, from what this replica last saw (one read when it has seen
/// nothing yet). Stale by the other replicas' spending since; exact enough to plan with.
async fn remaining_budget(identity: &Identity, governance: &Governance) -> Option<f64> {
    let empty = budget::Estimate { per_step: vec![], tokens: 0 };
    let mut counters = budget::charges(identity, &Default::default(), None, &empty, crate::state::now_ms());
    counters.charges.truncate(identity.key.budgets.len() + identity.team_config.budgets.len());
    if counters.charges.is_empty() {
        return None;
    }
    let state = governance.state();
    let seen: Option<Vec<i64>> = counters.charges.iter().map(|c| state.seen(&c.counter)).collect();
    let used = match seen {
        Some(used) => used,
        None => state.look(&counters.charges).await?,
    };
    counters.charges.iter().zip(used).map(|(c, u)| crate::state::usd((c.limit - u).max(0))).reduce(f64::min)
}

/// Clamps, gates and reserves, then runs the cascade.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    mut recorder: Recorder,
    snapshot: Arc<Snapshot>,
    route: Option<Arc<Route>>,
    body: ChatBody,
    request: Request,
    plan: Plan,
    deadline: Deadline,
    identity: Option<Arc<Identity>>,
    headers: &HeaderMap,
) -> Response<Body> {
    let Some(identity) = identity else {
        return cascade::run(recorder, snapshot, route, body, request, plan, deadline).await;
    };
    let config = snapshot.config.clone();
    let clamped = class::clamp(&plan.steps, &identity, &config.models, flag(headers, APPROVAL_HEADER));
    let mut record = GovernanceRecord {
        key: identity.name.clone(),
        team: identity.team.clone(),
        class: identity.class.as_ref().map(|(n, _)| n.clone()),
        ceiling_tier: clamped.ceiling,
        approval: clamped.approval.map(str::to_string),
        dropped: clamped.dropped.clone(),
        ..Default::default()
    };
    let mut steps = clamped.steps;
    if steps.is_empty() {
        let why: Vec<String> = clamped.dropped.iter().map(|d| format!("{}: {}", d.model, d.why)).collect();
        recorder.record.governance = Some(record);
        let api = ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            format!("No step of the plan is within what key `{}` may use: {}.", identity.name, why.join("; ")),
        )
        .with_code("class_forbids_plan");
        return cascade::fail(recorder, api, &snapshot);
    }

    let output = request.max_tokens.unwrap_or(config.governance.estimate_output_tokens);
    let mut estimate = budget::estimate(&steps, &config.models, request.input_tokens, output);
    if let Some(gate) = &identity.key.cost_gate
        && estimate.usd() > gate.max_estimated_usd
        && !flag(headers, ACCEPT_COST_HEADER)
    {
        let fits = downgrade(&mut steps, &mut estimate, gate.max_estimated_usd);
        match gate.action {
            CostGateAction::Downgrade if fits => {
                record.cost_gate = Some(format!("downgraded to [{}] to stay under ${}", steps.join(", "), gate.max_estimated_usd));
            }
            _ => {
                record.cost_gate = Some("refused".into());
                recorder.record.governance = Some(record);
                let api = ApiError::new(
                    StatusCode::PAYMENT_REQUIRED,
                    "invalid_request_error",
                    format!(
                        "This request is estimated at ${:.6}, above key `{}`'s threshold of ${}. Send `{ACCEPT_COST_HEADER}: true` to accept the cost.",
                        budget::estimate(&plan.steps, &config.models, request.input_tokens, output).usd(),
                        identity.name,
                        gate.max_estimated_usd
                    ),
                )
                .with_code("cost_not_acknowledged");
                return cascade::fail(recorder, api, &snapshot);
            }
        }
    }

    let charges = budget::charges(&identity, &config.model_limits, steps.first().map(String::as_str), &estimate, crate::state::now_ms());
    let mut reason = plan.reason.clone();
    if !clamped.dropped.is_empty() || record.cost_gate.is_some() {
        let dropped: Vec<&str> = plan.steps.iter().filter(|s| !steps.contains(s)).map(String::as_str).collect();
        reason = format!("{reason} (governance dropped: {})", dropped.join(", "));
    }
    let plan = Plan { steps, reason };
    if charges.charges.is_empty() {
        recorder.record.governance = Some(record);
        return cascade::run(recorder, snapshot, route, body, request, plan, deadline).await;
    }
    let governance = recorder.app.governance().clone();
    match budget::reserve(governance.state(), &charges, estimate.usd()).await {
        Ok((reservation, remaining)) => {
            record.reserved_usd = estimate.usd();
            record.degraded = reservation.degraded();
            recorder.record.governance = Some(record);
            recorder.reservation = Some(reservation);
            let mut response = cascade::run(recorder, snapshot, route, body, request, plan, deadline).await;
            refusal::remaining_headers(response.headers_mut(), &remaining);
            response
        }
        Err(refused) => {
            recorder.record.governance = Some(record);
            let (api, extra) = refusal::to_api_error(&refused);
            let mut response = cascade::fail(recorder, api, &snapshot);
            response.headers_mut().extend(extra);
            response
        }
    }
}

/// Drops the most expensive steps until the estimate is within `max_usd` (keeping at least
/// one step). Returns whether it fits.
fn downgrade(steps: &mut Vec<String>, estimate: &mut budget::Estimate, max_usd: f64) -> bool {
    while estimate.usd() > max_usd && steps.len() > 1 {
        let (worst, _) = estimate
            .per_step
            .iter()
            .enumerate()
            .fold((0, f64::MIN), |best, (i, c)| if *c > best.1 { (i, *c) } else { best });
        steps.remove(worst);
        estimate.per_step.remove(worst);
    }
    estimate.usd() <= max_usd
}

fn flag(headers: &HeaderMap, name: &str) -> bool {
    headers.get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}
