//! Who may spend what: `[keys.NAME]`, `[teams.NAME]`, `[classes.NAME]`, `[model_limits.ID]`,
//! `[governance]` and `[state]` (where the counters live: in this process, or in Redis so
//! that every replica of a fleet sees the same budgets, limits and revocations).
//!
//! The key and limit types are also the JSON the admin API accepts for keys created at run
//! time, so a key looks the same whether it came from the file or from `POST /admin/keys`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[state]`: where shared state lives.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    /// `"local"` (default: one process, nothing external) or `"redis"`.
    pub backend: StateBackend,
    /// `redis://host:port/db`, for `backend = "redis"`. Or name a variable with `redis_url_env`
    /// when the URL carries a password.
    pub redis_url: Option<String>,
    pub redis_url_env: Option<String>,
    /// Longest any one Redis call may take before the limit's fail mode applies. Default 100.
    pub timeout_ms: u64,
    /// After a failed call, Redis is probed this often (and skipped by requests) until it
    /// answers again. Default 250.
    pub probe_ms: u64,
    /// How often each replica checks the key-store version, which bounds how long a revoked
    /// key stays usable on another replica. Default 250.
    pub keys_refresh_ms: u64,
    /// Prefix of every Redis key Switchyard writes. Default `"switchyard"`.
    pub prefix: String,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            backend: StateBackend::Local,
            redis_url: None,
            redis_url_env: None,
            timeout_ms: 100,
            probe_ms: 250,
            keys_refresh_ms: 250,
            prefix: "switchyard".to_string(),
        }
    }
}

/// Which [`crate::state::SharedState`] implementation serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    #[default]
    Local,
    Redis,
}

/// `[governance]`: settings of the budget and limit checks.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GovernanceConfig {
    /// Output tokens assumed for a request without `max_tokens` when its cost is estimated
    /// (the reservation made before the first call). Default 1024.
    pub estimate_output_tokens: u32,
}

impl Default for GovernanceConfig {
    fn default() -> Self {
        GovernanceConfig { estimate_output_tokens: 1024 }
    }
}

/// What a limit does when the shared state cannot be reached in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitFailMode {
    /// Serve, counting against this replica's own counters (seeded with the last shared
    /// value it saw); the local counts are added to the shared ones when Redis returns.
    #[default]
    Open,
    /// Refuse with 503 until the shared state answers again.
    Closed,
}

/// The period a budget resets on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// A UTC calendar day.
    Day,
    /// A UTC calendar month.
    Month,
    /// The last `window_minutes`, sliding.
    Rolling,
}

/// One budget in USD.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Named in the 429 that refuses a request over it. Unique within its key or team.
    pub name: String,
    /// The most that may be spent per period, in USD.
    pub usd: f64,
    pub period: Period,
    /// The window of a `rolling` budget.
    #[serde(default)]
    pub window_minutes: Option<u64>,
    /// Default `"closed"`: money is what this exists to hold.
    #[serde(default = "closed")]
    pub fail: LimitFailMode,
}

/// Requests and tokens per minute (a sliding window of 12 five-second buckets).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    #[serde(default)]
    pub requests_per_minute: Option<u64>,
    /// Input plus output tokens; the estimate is reserved, the actual count settled.
    #[serde(default)]
    pub tokens_per_minute: Option<u64>,
    /// Default `"open"`: a rate limit protects capacity, and a short outage of Redis should
    /// not become an outage of the proxy.
    #[serde(default = "open")]
    pub fail: LimitFailMode,
}

fn closed() -> LimitFailMode {
    LimitFailMode::Closed
}
fn open() -> LimitFailMode {
    LimitFailMode::Open
}

/// How a key may go above its class's tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Escalation {
    /// Never (default).
    #[default]
    Never,
    /// Always up to the class's `approval_tier` (the approval is the key's own flag).
    Approved,
    /// Up to `approval_tier` on requests that carry `x-switchyard-approve-escalation: true`.
    Header,
}

/// What happens to a request whose estimated cost is above `max_estimated_usd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CostGateAction {
    /// Refused unless it carries `x-switchyard-accept-cost: true` (default).
    #[default]
    Refuse,
    /// The plan's most expensive steps are dropped until the estimate fits.
    Downgrade,
}

/// Cost gating of one key.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CostGateConfig {
    pub max_estimated_usd: f64,
    #[serde(default)]
    pub action: CostGateAction,
}

/// `[classes.NAME]`: a request class binds a key to a model tier.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassConfig {
    /// The highest model tier a plan may reach for this class.
    pub max_tier: u32,
    /// The highest tier reachable with an approval (see [`Escalation`]). Default: none.
    #[serde(default)]
    pub approval_tier: Option<u32>,
}

/// `[teams.NAME]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    /// Passed to plugins as `switchyard.team.<key>` request metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Shared by every key of the team.
    #[serde(default)]
    pub budgets: Vec<BudgetConfig>,
    #[serde(default)]
    pub rate_limits: Option<RateLimitConfig>,
    /// The class of the team's keys that name none.
    #[serde(default)]
    pub class: Option<String>,
}

/// `[keys.NAME]`, or the JSON body of `POST /admin/keys`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The `[teams.NAME]` the key belongs to.
    pub team: String,
    /// Hex SHA-256 of the key (the file holds only the hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_sha256: Option<String>,
    /// Or the environment variable holding the key (hashed at load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
    /// The `[classes.NAME]`; default the team's, else unclamped.
    #[serde(default)]
    pub class: Option<String>,
    /// Routes the key may ask for; empty = all.
    #[serde(default)]
    pub routes: Vec<String>,
    /// Models the key may reach (asked directly or in a plan); empty = all.
    #[serde(default)]
    pub models: Vec<String>,
    /// Passed to plugins as `switchyard.key.<key>` request metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub escalation: Escalation,
    #[serde(default)]
    pub budgets: Vec<BudgetConfig>,
    #[serde(default)]
    pub rate_limits: Option<RateLimitConfig>,
    #[serde(default)]
    pub cost_gate: Option<CostGateConfig>,
}

/// Checks one key's cross references and numbers against `config` (the file's keys at
/// load, and keys created through the admin API); returns `(key path suffix, problem)` pairs.
pub fn check_key(key: &KeyConfig, config: &super::Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !config.teams.contains_key(&key.team) {
        let known: Vec<&str> = config.teams.keys().map(String::as_str).collect();
        out.push(("team".into(), format!("unknown team {:?}; expected one of [{}]", key.team, known.join(", "))));
    }
    if let Some(class) = &key.class
        && !config.classes.contains_key(class)
    {
        let known: Vec<&str> = config.classes.keys().map(String::as_str).collect();
        out.push(("class".into(), format!("unknown class {class:?}; expected one of [{}]", known.join(", "))));
    }
    for (i, route) in key.routes.iter().enumerate() {
        if !config.routes.contains_key(route) && !config.models.contains_key(route) {
            out.push((format!("routes[{i}]"), format!("unknown route {route:?}")));
        }
    }
    for (i, model) in key.models.iter().enumerate() {
        if !config.models.contains_key(model) {
            out.push((format!("models[{i}]"), format!("unknown model {model:?}")));
        }
    }
    out.extend(check_budgets(&key.budgets));
    if let Some(limits) = &key.rate_limits {
        out.extend(check_rate_limits(limits).into_iter().map(|(k, m)| (format!("rate_limits.{k}"), m)));
    }
    if let Some(gate) = &key.cost_gate
        && !(gate.max_estimated_usd.is_finite() && gate.max_estimated_usd >= 0.0)
    {
        out.push(("cost_gate.max_estimated_usd".into(), format!("expected USD >= 0, got {}", gate.max_estimated_usd)));
    }
    out
}

/// Checks a list of budgets: positive amounts, unique names, a window for rolling ones.
pub(crate) fn check_budgets(budgets: &[BudgetConfig]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, b) in budgets.iter().enumerate() {
        let at = format!("budgets[{i}]");
        if b.name.is_empty() || b.name.contains(':') {
            out.push((format!("{at}.name"), format!("expected a name without ':', got {:?}", b.name)));
        } else if !seen.insert(&b.name) {
            out.push((format!("{at}.name"), format!("budget {:?} is defined twice", b.name)));
        }
        if !(b.usd.is_finite() && b.usd > 0.0) {
            out.push((format!("{at}.usd"), format!("expected USD > 0, got {}", b.usd)));
        }
        match (b.period, b.window_minutes) {
            (Period::Rolling, None | Some(0)) => {
                out.push((format!("{at}.window_minutes"), "a rolling budget needs window_minutes > 0".into()))
            }
            (Period::Day | Period::Month, Some(_)) => {
                out.push((format!("{at}.window_minutes"), "only a rolling budget has a window".into()))
            }
            _ => {}
        }
    }
    out
}

/// Checks one set of rate limits.
pub(crate) fn check_rate_limits(limits: &RateLimitConfig) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (field, value) in
        [("requests_per_minute", limits.requests_per_minute), ("tokens_per_minute", limits.tokens_per_minute)]
    {
        if value == Some(0) {
            out.push((field.to_string(), "expected a limit > 0 (remove it for no limit)".to_string()));
        }
    }
    out
}
