//! The configuration of the `learned` plugins (classifier and gate), parsed in one place.
//!
//! The model reaches a plugin through its config: inline (`config.model = {...}`), or, as
//! operators write it, a file named in the plugin's TOML (`files = { model = "router.json" }`)
//! whose text the host passes as the string `config.model`.

use serde::Deserialize;

use crate::model::{Model, Scorer};
use crate::vector::Kind;

/// `{"model": ..., "threshold": 0.5, "reasons": 3}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    model: Option<serde_json::Value>,
    #[serde(default = "default_threshold")]
    threshold: f64,
    #[serde(default = "default_reasons")]
    reasons: usize,
}

fn default_threshold() -> f64 {
    0.5
}
fn default_reasons() -> usize {
    3
}

/// A parsed, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The model, ready to score.
    pub scorer: Scorer,
    /// Gates: escalate when P(label) is at least this (above 1 never escalates).
    pub threshold: f64,
    /// Gates: how many features an escalation's reason names.
    pub reasons: usize,
}

/// Parses the JSON `init` receives. `reads_answer` is false for the classifier, which has no
/// answer to give a gate model.
pub fn parse_config(json: &str, reads_answer: bool) -> Result<Config, String> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    let raw: Raw = serde_json::from_str(json).map_err(|e| format!("config: {e}"))?;
    let model: Model = match raw.model {
        None => {
            return Err("config key `model`: missing; name the model file in the plugin's TOML \
                        (files = { model = \"router.json\" }) or give it inline"
                .into());
        }
        Some(serde_json::Value::String(text)) => {
            serde_json::from_str(&text).map_err(|e| format!("config key `model`: not a model file: {e}"))?
        }
        Some(value) => serde_json::from_value(value).map_err(|e| format!("config key `model`: {e}"))?,
    };
    if !reads_answer && model.kind == Kind::Gate {
        return Err("config key `model`: a gate model reads the cheap answer, which a classifier never sees; \
                    train a pre-route model (switchyard train --kind pre-route) or run it in the learned gate"
            .into());
    }
    if !raw.threshold.is_finite() {
        return Err(format!("config key `threshold`: expected a finite number, got {}", raw.threshold));
    }
    let scorer = Scorer::new(model).map_err(|e| format!("config key `model`: {e}"))?;
    Ok(Config { scorer, threshold: raw.threshold, reasons: raw.reasons })
}
