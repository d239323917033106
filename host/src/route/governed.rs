//! Governance in the routing core's seams: the key's identity in the plugin request's
//! metadata ([`annotate`]), and the [`Admission`] that stands between the plan and its first
//! upstream call ([`Governed`]): the plan clamped to the key's class, the cost gate, and the
//! budget and rate-limit reservation (settled when the record finishes, by the server's
//! recorder). A request without an identity (no keys defined, or a plain `client_keys` key)
//! is admitted unchanged.

use std::sync::Arc;

use http::HeaderMap;

use super::decide::{Admission, Plan};
use super::error::RouteError;
use super::snapshot::Snapshot;
use crate::config::{Config, CostGateAction};
use crate::govern::budget::{self, Remaining, Reservation};
use crate::govern::class::{self, APPROVAL_HEADER};
use crate::govern::{Governance, Identity, Refused};
use crate::plugin::Request;
use crate::telemetry::governance::GovernanceRecord;

/// The header that acknowledges a request estimated above the key's cost threshold.
pub const ACCEPT_COST_HEADER: &str = "x-switchyard-accept-cost";

/// Metadata keys the host sets; a client cannot send them.
const RESERVED_PREFIX: &str = "switchyard.";

/// Refuses a key asking for a route or model it may not use.
pub fn check_access(identity: Option<&Identity>, model: &str, snapshot: &Snapshot) -> Option<Refused> {
    let identity = identity?;
    let is_route = snapshot.routes.contains_key(model);
    if identity.may_ask_for(model, is_route) {
        return None;
    }
    let what = if is_route { "route" } else { "model" };
    Some(Refused::Forbidden {
        message: format!("Key `{}` may not use the {what} `{model}`.", identity.name),
        code: "model_not_allowed",
    })
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

/// The admission of one governed request; what it decided stays here for the caller (the
/// record's governance section, the reservation to settle, what is left for the headers).
pub struct Governed<'a> {
    identity: &'a Identity,
    governance: Arc<Governance>,
    config: Arc<Config>,
    input_tokens: u32,
    max_tokens: Option<u32>,
    approval: bool,
    accept_cost: bool,
    pub record: GovernanceRecord,
    pub reservation: Option<Reservation>,
    pub remaining: Option<Remaining>,
}

impl<'a> Governed<'a> {
    pub fn new(
        identity: &'a Identity,
        governance: Arc<Governance>,
        config: Arc<Config>,
        request: &Request,
        headers: &HeaderMap,
    ) -> Self {
        Governed {
            identity,
            governance,
            config,
            input_tokens: request.input_tokens,
            max_tokens: request.max_tokens,
            approval: flag(headers, APPROVAL_HEADER),
            accept_cost: flag(headers, ACCEPT_COST_HEADER),
            record: GovernanceRecord {
                key: identity.name.clone(),
                team: identity.team.clone(),
                class: identity.class.as_ref().map(|(n, _)| n.clone()),
                ..Default::default()
            },
            reservation: None,
            remaining: None,
        }
    }
}

impl Admission for Governed<'_> {
    async fn admit(&mut self, plan: Plan) -> Result<Plan, RouteError> {
        let identity = self.identity;
        let config = self.config.clone();
        let clamped = class::clamp(&plan.steps, identity, &config.models, self.approval);
        self.record.ceiling_tier = clamped.ceiling;
        self.record.approval = clamped.approval.map(str::to_string);
        self.record.dropped = clamped.dropped.clone();
        let mut steps = clamped.steps;
        if steps.is_empty() {
            let why: Vec<String> = clamped.dropped.iter().map(|d| format!("{}: {}", d.model, d.why)).collect();
            return Err(RouteError::Governed(Refused::Forbidden {
                message: format!(
                    "No step of the plan is within what key `{}` may use: {}.",
                    identity.name,
                    why.join("; ")
                ),
                code: "class_forbids_plan",
            }));
        }

        let output = self.max_tokens.unwrap_or(config.governance.estimate_output_tokens);
        let mut estimate = budget::estimate(&steps, &config.models, self.input_tokens, output);
        if let Some(gate) = &identity.key.cost_gate
            && estimate.usd() > gate.max_estimated_usd
            && !self.accept_cost
        {
            let asked = estimate.usd();
            let fits = downgrade(&mut steps, &mut estimate, gate.max_estimated_usd);
            if gate.action == CostGateAction::Downgrade && fits {
                self.record.cost_gate =
                    Some(format!("downgraded to [{}] to stay under ${}", steps.join(", "), gate.max_estimated_usd));
            } else {
                self.record.cost_gate = Some("refused".into());
                return Err(RouteError::Governed(Refused::CostGate(format!(
                    "This request is estimated at ${asked:.6}, above key `{}`'s threshold of ${}. Send `{ACCEPT_COST_HEADER}: true` to accept the cost.",
                    identity.name, gate.max_estimated_usd
                ))));
            }
        }

        let now = crate::state::now_ms();
        let charges =
            budget::charges(identity, &config.model_limits, steps.first().map(String::as_str), &estimate, now);
        let mut reason = plan.reason;
        if steps.len() < plan.steps.len() {
            let dropped: Vec<&str> = plan.steps.iter().filter(|s| !steps.contains(s)).map(String::as_str).collect();
            reason = format!("{reason} (governance dropped: {})", dropped.join(", "));
        }
        if !charges.charges.is_empty() {
            let (reservation, remaining) = budget::reserve(self.governance.state(), &charges, estimate.usd())
                .await
                .map_err(|refusal| RouteError::Governed(Refused::Limit(refusal)))?;
            self.record.reserved_usd = estimate.usd();
            self.record.degraded = reservation.degraded();
            self.reservation = Some(reservation);
            self.remaining = Some(remaining);
        }
        Ok(Plan { steps, reason })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::Message;

    const CONFIG: &str = r#"
[providers.p]
base_url = "http://127.0.0.1:9/v1"
[models.small]
provider = "p"
input_price = 1.0
output_price = 1.0
[classes.basic]
max_tier = 0
[teams.research]
class = "basic"
metadata = { cost_center = "r-042" }
budgets = [{ name = "daily", usd = 2.0, period = "day" }]
[keys.alice]
team = "research"
key_sha256 = "0000000000000000000000000000000000000000000000000000000000000001"
metadata = { owner = "alice" }
"#;

    fn request() -> Request {
        Request {
            id: "r".into(),
            model: "small".into(),
            messages: vec![Message::text("user", "hi")],
            max_tokens: None,
            temperature: None,
            streaming: false,
            wants_json: false,
            json_schema: None,
            has_tools: false,
            tools: Vec::new(),
            tool_choice: crate::plugin::types::ToolChoice::Auto,
            response_format: crate::plugin::types::ResponseFormat::Text,
            input_tokens: 5,
            metadata: vec![("switchyard.team".into(), "forged".into()), ("tier".into(), "2".into())],
        }
    }

    #[tokio::test]
    async fn plugins_see_team_class_and_budget_and_clients_cannot_forge_them() {
        let config = crate::config::Config::from_str_with_env(CONFIG, std::path::Path::new("t.toml"), &|_| None)
            .unwrap_or_else(|e| panic!("{e}"));
        let governance = Governance::start(&config).await.unwrap();
        let mut hash = [0u8; 32];
        hash[31] = 1;
        let identity = governance.lookup(&hash).expect("alice");
        let mut request = request();
        annotate(&mut request, Some(&identity), &governance).await;
        let get = |k: &str| request.metadata.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("switchyard.team"), Some("research"));
        assert_eq!(
            request.metadata.iter().filter(|(k, _)| k == "switchyard.team").count(),
            1,
            "the forged one is gone"
        );
        assert_eq!(get("switchyard.class"), Some("basic"));
        assert_eq!(get("switchyard.class_max_tier"), Some("0"));
        assert_eq!(get("switchyard.team.cost_center"), Some("r-042"));
        assert_eq!(get("switchyard.key.owner"), Some("alice"));
        assert_eq!(get("switchyard.budget_remaining_usd"), Some("2.000000"));
        assert_eq!(get("tier"), Some("2"), "the client's own hints stay");
    }
}
