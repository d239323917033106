//! `{{name}}`: a Switchyard policy.
//!
//! Plans the healthy models cheapest tier first; when the signal `complexity.score` reaches
//! `threshold`, strongest first instead.

use std::sync::Mutex;

use serde::Deserialize;

wit_bindgen::generate!({ world: "policy", path: "wit" });


/// The configuration, from the proxy's `config` table (JSON).
#[derive(Deserialize, Clone, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `complexity.score` at or above which the strongest model goes first.
    pub threshold: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config { threshold: 0.7 }
    }
}

/// Set by `configure`; depends on the configuration only, never on a request.
static CONFIG: Mutex<Option<Config>> = Mutex::new(None);

pub fn parse_config(json: &str) -> Result<Config, String> {
    let config: Config = serde_json::from_str(json).map_err(|e| format!("config: {e}"))?;
    if !(0.0..=1.0).contains(&config.threshold) {
        return Err("config key `threshold`: expected a number in 0..=1".into());
    }
    Ok(config)
}

pub fn route(config: &Config, _req: &Request, signals: &[Signal], models: &[ModelInfo]) -> Result<Plan, String> {
    let score = signals.iter().find(|s| s.name == "complexity.score").map(|s| s.value).unwrap_or(0.0);
    let mut healthy: Vec<&ModelInfo> = models.iter().filter(|m| m.healthy).collect();
    if healthy.is_empty() {
        return Err("no healthy model".into());
    }
    healthy.sort_by(|a, b| a.tier.cmp(&b.tier).then_with(|| a.id.cmp(&b.id)));
    let reason = if score >= config.threshold {
        healthy.reverse();
        format!("complexity {score:.2} >= {}: strongest first", config.threshold)
    } else {
        format!("complexity {score:.2} < {}: cheapest first", config.threshold)
    };
    Ok(Plan { steps: healthy.iter().map(|m| m.id.clone()).collect(), reason })
}

struct Component;

impl Guest for Component {
    fn configure(config: String) -> Result<(), String> {
        *CONFIG.lock().map_err(|_| "config lock poisoned")? = Some(parse_config(&config)?);
        Ok(())
    }

    fn route(req: Request, signals: Vec<Signal>, models: Vec<ModelInfo>) -> Result<Plan, String> {
        let config = CONFIG.lock().map_err(|_| "config lock poisoned")?.clone().unwrap_or_default();
        route(&config, &req, &signals, &models)
    }
}

export!(Component);
