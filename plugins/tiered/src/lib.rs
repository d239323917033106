//! `tiered`: pick a start tier from one signal's thresholds, then try the tiers above it
//! cheapest-first, then the ones below it.
//!
//! This policy exists in three languages with the same logic, line for line:
//! this crate, `plugins/python/tiered/app.py` and `plugins/js/tiered/plugin.js`. The
//! polyglot tests run all three over `plugins/tiered/fixtures.jsonl` and require identical
//! plans, reasons included. Change one, change all three.
//!
//! 1. **Start tier.** `score` is the first signal named `signal` (default
//!    `complexity.score`); missing or not finite counts as 0. The start tier is the number of
//!    `thresholds` (default `[0.35, 0.7]`) that `score` reaches. A request's metadata hint
//!    `hint_key` (default `tier`, from header `x-switchyard-tier`), when it is 1 to 3 ASCII
//!    digits, overrides it.
//! 2. **Fit.** A model fits when its context window holds `input-tokens + out`, where `out` is
//!    the request's `max-tokens` or `output_reserve` (default 1024). A request that wants JSON
//!    keeps only models tagged `json`, and one with tools only models tagged `tools`, each
//!    when at least one fitting model has that tag. Nothing fits: an error (the host then uses
//!    the route's default plan).
//! 3. **Health.** Unhealthy models are skipped, unless all are (then all are tried).
//! 4. **Order.** Tiers at or above the start, ascending; then tiers below it, descending.
//!    Within a tier, by the request's estimated cost (`input-price · input-tokens +
//!    output-price · out`), then by id. At most `max_steps` (default 3) steps.
//!
//! The reason reads `tiered: start tier 1 (score 42%); 3 of 4 models` (percentages rounded
//! half up, so every language prints the same digits).

use serde::Deserialize;
use switchyard_plugin_sdk::config::{self, ConfigCell};
use switchyard_plugin_sdk::{ModelInfo, Plan, Policy, Request, Signal};

/// The policy's configuration.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The signal that sets the start tier (default `complexity.score`).
    pub signal: String,
    /// Ascending scores; the start tier is how many of them the score reaches.
    pub thresholds: Vec<f64>,
    /// Answer tokens assumed when the request sets no `max_tokens` (default 1024).
    pub output_reserve: u32,
    /// Longest plan (default 3, at least 1).
    pub max_steps: u32,
    /// Metadata key whose digits override the start tier (default `tier`; `""` disables).
    pub hint_key: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            signal: "complexity.score".into(),
            thresholds: vec![0.35, 0.7],
            output_reserve: 1024,
            max_steps: 3,
            hint_key: "tier".into(),
        }
    }
}

/// Parses and validates the configuration `configure` receives.
pub fn parse_config(json: &str) -> Result<Config, String> {
    let config: Config = config::parse(json)?;
    if config.thresholds.iter().any(|t| !t.is_finite()) || config.thresholds.windows(2).any(|w| w[0] > w[1]) {
        return Err("config key `thresholds`: expected ascending finite numbers".into());
    }
    if config.max_steps == 0 {
        return Err("config key `max_steps`: expected at least 1".into());
    }
    Ok(config)
}

static CONFIG: ConfigCell<Config> = ConfigCell::new();

struct Tiered;

impl Policy for Tiered {
    fn configure(config: String) -> Result<(), String> {
        CONFIG.set(parse_config(&config)?);
        Ok(())
    }

    fn route(req: Request, signals: Vec<Signal>, models: Vec<ModelInfo>) -> Result<Plan, String> {
        plan(&*CONFIG.get()?, &req, &signals, &models)
    }
}

switchyard_plugin_sdk::export_policy!(Tiered);

/// `score` as a whole percentage, clamped to 0..=100 and rounded half up: plain IEEE
/// arithmetic that Python and JavaScript reproduce exactly (their `{:.2}` equivalents do not
/// all round the same way).
fn percent(score: f64) -> i64 {
    (score.clamp(0.0, 1.0) * 100.0 + 0.5).floor() as i64
}

/// The tier hinted by the request's metadata, when `hint_key` holds 1 to 3 ASCII digits.
fn hinted_tier(config: &Config, req: &Request) -> Option<(u32, String)> {
    if config.hint_key.is_empty() {
        return None;
    }
    let value = req.metadata.iter().find(|(k, _)| *k == config.hint_key).map(|(_, v)| v)?;
    if value.is_empty() || value.len() > 3 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((value.parse().ok()?, value.clone()))
}

/// The plan for one request (see the crate docs for the rules).
pub fn plan(config: &Config, req: &Request, signals: &[Signal], models: &[ModelInfo]) -> Result<Plan, String> {
    let score = signals.iter().find(|s| s.name == config.signal).map(|s| s.value).filter(|v| v.is_finite());
    let mut start = config.thresholds.iter().filter(|t| score.unwrap_or(0.0) >= **t).count() as u32;
    let mut why = match score {
        Some(score) => format!("score {}%", percent(score)),
        None => format!("no {}", config.signal),
    };
    if let Some((tier, text)) = hinted_tier(config, req) {
        start = tier;
        why = format!("hint {}={text}", config.hint_key);
    }

    let out = req.max_tokens.unwrap_or(config.output_reserve);
    let need = u64::from(req.input_tokens) + u64::from(out);
    let mut fit: Vec<&ModelInfo> = models.iter().filter(|m| u64::from(m.context_window) >= need).collect();
    for (wanted, tag) in [(req.wants_json, "json"), (req.has_tools, "tools")] {
        if wanted && fit.iter().any(|m| m.has_tag(tag)) {
            fit.retain(|m| m.has_tag(tag));
        }
    }
    if fit.is_empty() {
        return Err(format!("no model fits {need} tokens"));
    }
    let mut note = "";
    let mut usable: Vec<&ModelInfo> = fit.iter().copied().filter(|m| m.healthy).collect();
    if usable.is_empty() {
        usable = fit.clone();
        note = "; all unhealthy";
    }

    let cost = |m: &ModelInfo| m.input_price * f64::from(req.input_tokens) + m.output_price * f64::from(out);
    let by_cost_then_id = |a: &&ModelInfo, b: &&ModelInfo| {
        cost(a).partial_cmp(&cost(b)).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.id.cmp(&b.id))
    };
    let mut up: Vec<&ModelInfo> = usable.iter().copied().filter(|m| m.tier >= start).collect();
    up.sort_by(|a, b| a.tier.cmp(&b.tier).then_with(|| by_cost_then_id(a, b)));
    let mut down: Vec<&ModelInfo> = usable.iter().copied().filter(|m| m.tier < start).collect();
    down.sort_by(|a, b| b.tier.cmp(&a.tier).then_with(|| by_cost_then_id(a, b)));

    let steps: Vec<String> = up.into_iter().chain(down).take(config.max_steps as usize).map(|m| m.id.clone()).collect();
    let reason = format!("tiered: start tier {start} ({why}); {} of {} models{note}", steps.len(), fit.len());
    Ok(Plan { steps, reason })
}

#[cfg(test)]
mod tests;
