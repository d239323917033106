//! `[models.ID]`: one model a route can send requests to. The ID is what plans name; the
//! upstream name is what the provider is asked for, so one upstream model can appear under
//! several IDs (e.g. with different tags) and IDs stay stable when a provider renames.

use serde::Deserialize;

/// One routable model.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Name of the `[providers.NAME]` table that serves this model.
    pub provider: String,
    /// Model name sent upstream. Defaults to the model's ID; after loading it is always set.
    #[serde(default)]
    pub upstream: Option<String>,
    /// Capability tier, 0 = cheapest. Policies use it to build cascades. Default 0.
    #[serde(default)]
    pub tier: u32,
    /// USD per million input (prompt) tokens; finite and >= 0.
    pub input_price: f64,
    /// USD per million output (completion) tokens; finite and >= 0.
    pub output_price: f64,
    /// Context window in tokens. Default 128 000.
    #[serde(default = "default_context_window")]
    pub context_window: u32,
    /// Free-form labels policies can match on (`"code"`, `"vision"`, ...).
    #[serde(default)]
    pub tags: Vec<String>,
}

fn default_context_window() -> u32 {
    128_000
}

impl ModelConfig {
    /// The upstream model name (the model ID when not configured; set by validation).
    pub fn upstream_name(&self) -> &str {
        self.upstream.as_deref().unwrap_or_default()
    }
}

/// Checks one price; returns what is wrong with it.
pub(crate) fn check_price(price: f64) -> Result<(), String> {
    if !price.is_finite() {
        Err(format!("expected a finite number of USD per million tokens, got {price}"))
    } else if price < 0.0 {
        Err(format!("expected a price >= 0, got {price}"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices() {
        assert!(check_price(0.0).is_ok());
        assert!(check_price(2.5).is_ok());
        assert!(check_price(-1.0).is_err());
        assert!(check_price(f64::NAN).is_err());
        assert!(check_price(f64::INFINITY).is_err());
    }
}
