//! `cascade`: a cheapest-first plan over the models that can take the request.
//!
//! 1. **Fit.** A model is a candidate when its context window holds the prompt plus the
//!    answer: `input-tokens + (max-tokens, or default_output_reserve when the request sets
//!    none)`, its tier is at most `max_tier`, it has every tag in `required_tags`, and, when the
//!    request carries tools, it has `tools_tag`.
//! 2. **Start tier.** With `start_tier` set, when the signal `start_signal` (default
//!    `complexity.score`) is at least `start_threshold`, candidates below `start_tier` are
//!    dropped: a hard request skips the models that would likely fail it. If no candidate is
//!    left at or above `start_tier`, this step is ignored (and the reason says so).
//! 3. **Health.** Unhealthy candidates (circuit open) are skipped. If *every* candidate is
//!    unhealthy they are all kept, because a plan that might work beats no plan; the reason
//!    says so.
//! 4. **Order.** By tier, then by the request's estimated price
//!    (`input-price · input-tokens + output-price · expected output tokens`), then by id so
//!    that equal models order deterministically. At most `max_steps` steps are kept.
//!
//! When nothing fits, `route` returns an error naming what excluded each model, and the host
//! falls back to the route's default plan.
//!
//! The reason reads like `cheapest-first by tier; complexity.score 0.81 >= 0.6 so start at
//! tier 1; skipped tiny (unhealthy)`.
//!
//! # Configuration
//!
//! All keys are optional (see [`Config`]):
//!
//! ```json
//! {
//!   "max_tier": 2,
//!   "start_tier": 1, "start_signal": "complexity.score", "start_threshold": 0.6,
//!   "required_tags": ["json"],
//!   "tools_tag": "tools",
//!   "default_output_reserve": 1024,
//!   "max_steps": 3
//! }
//! ```
//!
//! # `tools_tag`
//!
//! Defaults to `"tools"`, applied only if **some** model in the table has that tag: an
//! operator who never tags models still gets plans for tool calls (every model is assumed
//! able), while one who tags some models gets tool requests routed only to those. Set it to
//! `null` or `""` to never filter on tools.

use serde::Deserialize;
use switchyard_plugin_sdk::config::{self, ConfigCell};
use switchyard_plugin_sdk::{ModelInfo, Plan, Policy, Request, Signal, signal_value};

/// The policy's configuration.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Models of a higher tier are never planned (default: no limit).
    pub max_tier: Option<u32>,
    /// The tier hard requests start at (default: none, every request starts at the cheapest).
    pub start_tier: Option<u32>,
    /// The signal compared with `start_threshold` (default `complexity.score`). A missing
    /// signal counts as below the threshold.
    pub start_signal: String,
    /// A request is hard when `start_signal` ≥ this (default 0.6).
    pub start_threshold: f64,
    /// Tags a model must all have to be planned (default none).
    pub required_tags: Vec<String>,
    /// Tag required of models for requests with tools (default `tools`, applied only if some
    /// model has it; `null` or `""` disables it).
    pub tools_tag: Option<String>,
    /// Tokens reserved for the answer when the request has no `max_tokens` (default 1024).
    pub default_output_reserve: u32,
    /// The most steps a plan has (default: no limit; at least 1).
    pub max_steps: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_tier: None,
            start_tier: None,
            start_signal: "complexity.score".into(),
            start_threshold: 0.6,
            required_tags: Vec::new(),
            tools_tag: Some("tools".into()),
            default_output_reserve: 1024,
            max_steps: None,
        }
    }
}

/// Parses and validates the configuration `configure` receives.
pub fn parse_config(json: &str) -> Result<Config, String> {
    let mut config: Config = config::parse(json)?;
    if !config.start_threshold.is_finite() {
        return Err("config key `start_threshold`: expected a finite number".into());
    }
    if config.max_steps == Some(0) {
        return Err("config key `max_steps`: expected at least 1, got 0".into());
    }
    if config.start_signal.trim().is_empty() {
        return Err("config key `start_signal`: expected a signal name, got an empty string".into());
    }
    if let (Some(start), Some(max)) = (config.start_tier, config.max_tier)
        && start > max
    {
        return Err(format!("config key `start_tier`: {start} is above `max_tier` {max}"));
    }
    if config.tools_tag.as_deref().is_some_and(|t| t.trim().is_empty()) {
        config.tools_tag = None;
    }
    Ok(config)
}

static CONFIG: ConfigCell<Config> = ConfigCell::new();

struct Cascade;

impl Policy for Cascade {
    fn configure(config: String) -> Result<(), String> {
        CONFIG.set(parse_config(&config)?);
        Ok(())
    }

    fn route(req: Request, signals: Vec<Signal>, models: Vec<ModelInfo>) -> Result<Plan, String> {
        plan(&*CONFIG.get()?, &req, &signals, &models)
    }
}

switchyard_plugin_sdk::export_policy!(Cascade);

/// Lists names, the first few only: reasons end up in a response header.
fn names(list: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut out = list.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if list.len() > SHOWN {
        out.push_str(&format!(" and {} more", list.len() - SHOWN));
    }
    out
}

/// The cascade for one request (see the crate docs for the rules).
pub fn plan(config: &Config, req: &Request, signals: &[Signal], models: &[ModelInfo]) -> Result<Plan, String> {
    let output = req.max_tokens.unwrap_or(config.default_output_reserve);
    let need = u64::from(req.input_tokens) + u64::from(output);
    let tools_tag = config.tools_tag.as_deref().filter(|tag| req.has_tools && models.iter().any(|m| m.has_tag(tag)));

    let mut notes: Vec<String> = vec!["cheapest-first by tier".into()];
    let mut excluded: Vec<String> = Vec::new();
    let mut candidates: Vec<&ModelInfo> = Vec::new();
    for m in models {
        let why = if config.max_tier.is_some_and(|max| m.tier > max) {
            Some(format!("tier {} > max_tier {}", m.tier, config.max_tier.unwrap_or_default()))
        } else if let Some(tag) = config.required_tags.iter().find(|t| !m.has_tag(t)) {
            Some(format!("no tag {tag}"))
        } else if let Some(tag) = tools_tag.filter(|t| !m.has_tag(t)) {
            Some(format!("no tag {tag} for tools"))
        } else if u64::from(m.context_window) < need {
            Some(format!("context {} < {need}", m.context_window))
        } else {
            None
        };
        match why {
            Some(why) => excluded.push(format!("{} ({why})", m.id)),
            None => candidates.push(m),
        }
    }
    if candidates.is_empty() {
        let detail = if excluded.is_empty() { "the model table is empty".to_string() } else { excluded.join(", ") };
        return Err(format!("no model fits this request (needs {need} tokens of context): {detail}"));
    }
    if !excluded.is_empty() {
        notes.push(format!("excluded {}", names(&excluded)));
    }

    if let Some(start) = config.start_tier {
        let value = signal_value(signals, &config.start_signal);
        match value {
            Some(v) if v >= config.start_threshold => {
                if candidates.iter().any(|m| m.tier >= start) {
                    candidates.retain(|m| m.tier >= start);
                    notes.push(format!(
                        "{} {v:.2} >= {} so start at tier {start}",
                        config.start_signal, config.start_threshold
                    ));
                } else {
                    notes.push(format!(
                        "{} {v:.2} >= {} but no model fits at tier {start} or above",
                        config.start_signal, config.start_threshold
                    ));
                }
            }
            Some(v) => notes.push(format!("{} {v:.2} < {}", config.start_signal, config.start_threshold)),
            None => notes.push(format!("no {} signal", config.start_signal)),
        }
    }

    let unhealthy: Vec<String> = candidates.iter().filter(|m| !m.healthy).map(|m| m.id.clone()).collect();
    if unhealthy.len() == candidates.len() {
        notes.push(format!("every candidate is unhealthy, trying them anyway: {}", names(&unhealthy)));
    } else if !unhealthy.is_empty() {
        candidates.retain(|m| m.healthy);
        notes.push(format!("skipped {} (unhealthy)", names(&unhealthy)));
    }

    let cost = |m: &ModelInfo| m.input_price * f64::from(req.input_tokens) + m.output_price * f64::from(output);
    candidates.sort_by(|a, b| a.tier.cmp(&b.tier).then(cost(a).total_cmp(&cost(b))).then(a.id.cmp(&b.id)));
    if let Some(max) = config.max_steps
        && candidates.len() > max
    {
        candidates.truncate(max);
        notes.push(format!("first {max} steps kept"));
    }

    Ok(Plan { steps: candidates.iter().map(|m| m.id.clone()).collect(), reason: notes.join("; ") })
}

#[cfg(test)]
mod tests;
