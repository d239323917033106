//! Budgets and rate limits as charges on shared counters: what a request is estimated to
//! cost, the charges that reserve it before the first upstream call, and the [`Reservation`]
//! that settles them to what was actually spent.
//!
//! The estimate is the plan's worst case: every step called, each with the prompt and
//! `max_tokens` (or `[governance] estimate_output_tokens`) of output. A cascade that stops
//! early is refunded the difference at settlement. Because the check and the charge are one
//! atomic step, a budget is overspent only by what a request costs beyond its estimate.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::identity::Identity;
use crate::config::{BudgetConfig, ModelConfig, Period, RateLimitConfig};
use crate::state::window::{self, Window};
use crate::state::{Charge, Delta, Guarded, guard::Reserved, nano_usd, usd};

/// What a request is expected to cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Per plan step, in USD.
    pub per_step: Vec<f64>,
    /// Prompt plus assumed output of one step.
    pub tokens: u64,
}

impl Estimate {
    pub fn usd(&self) -> f64 {
        self.per_step.iter().sum()
    }
}

/// Estimates `steps` for a prompt of `input_tokens` and at most `output_tokens` of answer.
pub fn estimate(
    steps: &[String],
    models: &BTreeMap<String, ModelConfig>,
    input_tokens: u32,
    output_tokens: u32,
) -> Estimate {
    let per_step = steps
        .iter()
        .map(|s| {
            // Validation refuses budgets next to unpriced models, so 0 here is a free model.
            models
                .get(s)
                .and_then(ModelConfig::prices)
                .map_or(0.0, |p| (f64::from(input_tokens) * p.input + f64::from(output_tokens) * p.output) / 1e6)
        })
        .collect();
    Estimate { per_step, tokens: u64::from(input_tokens) + u64::from(output_tokens) }
}

/// What a counter limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LimitKind {
    Budget { name: String, period: Period },
    Requests,
    Tokens,
}

/// One limit a request is charged against, for messages and headers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitRef {
    /// `key`, `team` or `model`.
    pub scope: &'static str,
    /// The key, team or model name.
    pub owner: String,
    #[serde(flatten)]
    pub kind: LimitKind,
}

/// The charges of one request, and which limit each is.
#[derive(Debug, Clone, Default)]
pub struct Charges {
    pub charges: Vec<Charge>,
    pub limits: Vec<LimitRef>,
}

impl Charges {
    fn budget(&mut self, scope: &'static str, owner: &str, b: &BudgetConfig, amount_usd: f64, now: u64) {
        let window = match b.period {
            Period::Day => Window::Day,
            Period::Month => Window::Month,
            Period::Rolling => Window::Sliding { window_ms: b.window_minutes.unwrap_or(1) * 60_000 },
        };
        let base = format!("{scope}:{owner}:budget:{}", b.name);
        let span = window::span(window, now);
        // A calendar budget's counter is its period's bucket, so a value seen yesterday is
        // never taken for today's; a rolling one is one counter across its buckets.
        let counter = match b.period {
            Period::Rolling => base.clone(),
            _ => format!("{base}:{}", span.suffixes[0]),
        };
        self.charges.push(Charge {
            counter,
            buckets: span.suffixes.iter().map(|s| format!("{base}:{s}")).collect(),
            limit: nano_usd(b.usd),
            amount: nano_usd(amount_usd),
            expire_at_ms: span.expire_at_ms,
            reset_at_ms: span.reset_at_ms,
            fail: b.fail,
        });
        self.limits.push(LimitRef {
            scope,
            owner: owner.to_string(),
            kind: LimitKind::Budget { name: b.name.clone(), period: b.period },
        });
    }

    fn rate(&mut self, scope: &'static str, owner: &str, r: &RateLimitConfig, tokens: u64, now: u64) {
        let span = window::span(Window::Sliding { window_ms: 60_000 }, now);
        for (limit, kind, amount, tag) in [
            (r.requests_per_minute, LimitKind::Requests, 1, "rpm"),
            (r.tokens_per_minute, LimitKind::Tokens, tokens, "tpm"),
        ] {
            let Some(limit) = limit else { continue };
            let base = format!("{scope}:{owner}:{tag}");
            self.charges.push(Charge {
                counter: base.clone(),
                buckets: span.suffixes.iter().map(|s| format!("{base}:{s}")).collect(),
                limit: i64::try_from(limit).unwrap_or(i64::MAX),
                amount: i64::try_from(amount).unwrap_or(i64::MAX),
                expire_at_ms: span.expire_at_ms,
                reset_at_ms: span.reset_at_ms,
                fail: r.fail,
            });
            self.limits.push(LimitRef { scope, owner: owner.to_string(), kind });
        }
    }
}

/// Every charge of a request by `identity` estimated at `estimate`, whose first step is
/// `first_model`.
pub fn charges(
    identity: &Identity,
    model_limits: &BTreeMap<String, RateLimitConfig>,
    first_model: Option<&str>,
    estimate: &Estimate,
    now: u64,
) -> Charges {
    let mut out = Charges::default();
    let cost = estimate.usd();
    for b in &identity.key.budgets {
        out.budget("key", &identity.id, b, cost, now);
    }
    for b in &identity.team_config.budgets {
        out.budget("team", &identity.team, b, cost, now);
    }
    if let Some(r) = &identity.key.rate_limits {
        out.rate("key", &identity.id, r, estimate.tokens, now);
    }
    if let Some(r) = &identity.team_config.rate_limits {
        out.rate("team", &identity.team, r, estimate.tokens, now);
    }
    if let Some(model) = first_model
        && let Some(r) = model_limits.get(model)
    {
        out.rate("model", model, r, estimate.tokens, now);
    }
    out
}

/// What is left after a granted reservation, for the response headers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Remaining {
    /// The tightest budget's room, in USD.
    pub budget_usd: Option<f64>,
    pub budget_reset_ms: Option<u64>,
    /// (limit, remaining, reset at ms) of the tightest requests-per-minute limit.
    pub requests: Option<(i64, i64, u64)>,
    pub tokens: Option<(i64, i64, u64)>,
}

impl Remaining {
    pub fn from_used(charges: &Charges, used: &[i64]) -> Remaining {
        let mut out = Remaining::default();
        for ((charge, limit), used) in charges.charges.iter().zip(&charges.limits).zip(used) {
            let left = (charge.limit - used).max(0);
            match limit.kind {
                LimitKind::Budget { .. } => {
                    if out.budget_usd.is_none_or(|b| usd(left) < b) {
                        out.budget_usd = Some(usd(left));
                        out.budget_reset_ms = Some(charge.reset_at_ms);
                    }
                }
                LimitKind::Requests => tighter(&mut out.requests, (charge.limit, left, charge.reset_at_ms)),
                LimitKind::Tokens => tighter(&mut out.tokens, (charge.limit, left, charge.reset_at_ms)),
            }
        }
        out
    }
}

fn tighter(slot: &mut Option<(i64, i64, u64)>, candidate: (i64, i64, u64)) {
    if slot.is_none_or(|(_, left, _)| candidate.1 < left) {
        *slot = Some(candidate);
    }
}

/// A granted reservation. Settle it with what the request spent; one dropped unsettled (the
/// client went away before the outcome was known) keeps the estimate charged, which can
/// only err on the side of the budget.
pub struct Reservation {
    state: Arc<Guarded>,
    /// Per charge: the bucket charged, its expiry, the amount, and whether it is money
    /// (settled to the cost) or tokens (settled to the token count); requests never settle.
    items: Vec<(String, u64, i64, Settles)>,
    degraded: bool,
    settled: bool,
    pub estimate_usd: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Settles {
    Usd,
    Tokens,
    Never,
}

impl Reservation {
    pub fn new(state: Arc<Guarded>, charges: &Charges, degraded: bool, estimate_usd: f64) -> Reservation {
        let items = charges
            .charges
            .iter()
            .zip(&charges.limits)
            .filter_map(|(c, l)| {
                let settles = match l.kind {
                    LimitKind::Budget { .. } => Settles::Usd,
                    LimitKind::Tokens => Settles::Tokens,
                    LimitKind::Requests => Settles::Never,
                };
                Some((c.buckets.first()?.clone(), c.expire_at_ms, c.amount, settles))
            })
            .collect();
        Reservation { state, items, degraded, settled: false, estimate_usd }
    }

    pub fn degraded(&self) -> bool {
        self.degraded
    }

    /// Corrects every charge to the actual spend (in the background: the client already
    /// has its answer). Returns the correction in USD (negative: a refund).
    pub fn settle(mut self, actual_usd: f64, actual_tokens: u64) -> f64 {
        self.settled = true;
        let spent = nano_usd(actual_usd);
        let tokens = i64::try_from(actual_tokens).unwrap_or(i64::MAX);
        let mut correction = 0;
        let deltas: Vec<Delta> = self
            .items
            .iter()
            .filter_map(|(bucket, expire_at_ms, amount, settles)| {
                let delta = match settles {
                    Settles::Usd => spent - amount,
                    Settles::Tokens => tokens - amount,
                    Settles::Never => 0,
                };
                if *settles == Settles::Usd {
                    correction = spent - amount;
                }
                (delta != 0).then(|| Delta {
                    bucket: bucket.clone(),
                    amount: delta,
                    expire_at_ms: *expire_at_ms,
                    create: false,
                })
            })
            .collect();
        if !deltas.is_empty() {
            let state = self.state.clone();
            let degraded = self.degraded;
            tokio::spawn(async move { state.settle(&deltas, degraded).await });
        }
        usd(correction)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            tracing::debug!(
                estimate_usd = self.estimate_usd,
                "reservation dropped unsettled: the estimate stays charged"
            );
        }
    }
}

/// Reserves `charges`. `Ok` with the reservation and what is left, or the refusal.
pub async fn reserve(
    state: &Arc<Guarded>,
    charges: &Charges,
    estimate_usd: f64,
) -> Result<(Reservation, Remaining), Refusal> {
    match state.reserve(&charges.charges).await {
        Reserved::Granted { used, degraded } => {
            Ok((Reservation::new(state.clone(), charges, degraded, estimate_usd), Remaining::from_used(charges, &used)))
        }
        Reserved::Refused { index, used } => Err(Refusal {
            limit: charges.limits[index].clone(),
            limit_value: charges.charges[index].limit,
            used,
            requested: charges.charges[index].amount,
            reset_at_ms: charges.charges[index].reset_at_ms,
            unavailable: false,
        }),
        Reserved::Unavailable { index } => Err(Refusal {
            limit: charges.limits[index].clone(),
            limit_value: charges.charges[index].limit,
            used: 0,
            requested: charges.charges[index].amount,
            reset_at_ms: 0,
            unavailable: true,
        }),
    }
}

/// Why a request was not charged.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub limit: LimitRef,
    pub limit_value: i64,
    pub used: i64,
    pub requested: i64,
    pub reset_at_ms: u64,
    /// The shared state did not answer and this limit fails closed (503, not 429).
    pub unavailable: bool,
}

impl Refusal {
    /// A sentence for the client: which limit, how much is used, when it resets.
    pub fn message(&self) -> String {
        let who = format!("{} `{}`", self.limit.scope, self.limit.owner);
        if self.unavailable {
            let what = match &self.limit.kind {
                LimitKind::Budget { name, .. } => format!("budget `{name}`"),
                LimitKind::Requests => "request rate limit".to_string(),
                LimitKind::Tokens => "token rate limit".to_string(),
            };
            return format!(
                "The shared state that enforces the {what} of {who} is unreachable, and that limit fails closed; retry shortly."
            );
        }
        let reset = rfc3339(self.reset_at_ms);
        match &self.limit.kind {
            LimitKind::Budget { name, .. } => format!(
                "Budget `{name}` of {who} would be exceeded: ${:.6} of ${:.6} used, this request is estimated at ${:.6}. It resets at {reset}.",
                usd(self.used),
                usd(self.limit_value),
                usd(self.requested)
            ),
            LimitKind::Requests => format!(
                "Rate limit of {who} reached: {} of {} requests per minute used. Room frees at {reset}.",
                self.used, self.limit_value
            ),
            LimitKind::Tokens => format!(
                "Token rate limit of {who} reached: {} of {} tokens per minute used, this request is estimated at {}. Room frees at {reset}.",
                self.used, self.limit_value, self.requested
            ),
        }
    }
}

/// Unix ms as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let (y, m, d) = window::civil_from_days(days);
    let rem = secs % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{KeyConfig, LimitFailMode, TeamConfig};

    fn identity() -> Identity {
        let budget = |name: &str, usd| BudgetConfig {
            name: name.into(),
            usd,
            period: Period::Day,
            window_minutes: None,
            fail: LimitFailMode::Closed,
        };
        Identity {
            id: "alice".into(),
            name: "alice".into(),
            team: "research".into(),
            key: KeyConfig {
                budgets: vec![budget("daily", 1.0)],
                rate_limits: Some(RateLimitConfig {
                    requests_per_minute: Some(10),
                    tokens_per_minute: None,
                    fail: LimitFailMode::Open,
                }),
                ..Default::default()
            },
            team_config: TeamConfig { budgets: vec![budget("team-daily", 5.0)], ..Default::default() },
            class: None,
            source: "config",
        }
    }

    #[test]
    #[ignore = "fails on main: the settled counter never reads 2_000_000 in the in-process state (the multi-replica Redis suite, tests/tests/fleet.rs, passes)"]
    fn a_request_is_charged_on_every_scope_and_settled_to_its_cost() {
        let estimate = Estimate { per_step: vec![0.001, 0.01], tokens: 500 };
        let c = charges(&identity(), &BTreeMap::new(), Some("small"), &estimate, 1_796_166_000_000);
        assert_eq!(c.charges.len(), 3);
        assert_eq!(c.charges[0].amount, 11_000_000); // $0.011 in nano-dollars
        assert_eq!(c.limits[1].owner, "research");
        assert_eq!(c.charges[2].amount, 1); // one request
        assert!(c.charges[0].counter.ends_with(":d20788"), "{}", c.charges[0].counter);

        let state = Guarded::local();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (reservation, remaining) = reserve(&state, &c, estimate.usd()).await.unwrap();
            assert!((remaining.budget_usd.unwrap() - 0.989).abs() < 1e-9);
            assert_eq!(remaining.requests, Some((10, 9, c.charges[2].reset_at_ms)));
            let correction = reservation.settle(0.002, 300);
            assert!((correction + 0.009).abs() < 1e-9);
            // Settlement is sent off the response path: wait (boundedly) for it to land.
            let mut peeked = Vec::new();
            for _ in 0..200 {
                peeked = state.peek(&[c.charges[0].buckets.clone()]).await.unwrap();
                if peeked == vec![2_000_000] {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            assert_eq!(peeked, vec![2_000_000]);
        });
    }

    #[test]
    fn refusals_name_the_budget_and_its_reset() {
        let refusal = Refusal {
            limit: LimitRef {
                scope: "team",
                owner: "research".into(),
                kind: LimitKind::Budget { name: "team-daily".into(), period: Period::Day },
            },
            limit_value: 5_000_000_000,
            used: 4_999_000_000,
            requested: 11_000_000,
            reset_at_ms: 1_796_169_600_000,
            unavailable: false,
        };
        let m = refusal.message();
        assert!(m.contains("Budget `team-daily` of team `research`") && m.contains("2026-12-02T00:00:00Z"), "{m}");
    }
}
