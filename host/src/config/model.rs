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
    /// USD per million input (prompt) tokens; finite and >= 0. Optional (with
    /// `output_price`): a plain gateway need not price its models, and then their cost is
    /// reported as unknown rather than as a made-up zero.
    #[serde(default)]
    pub input_price: Option<f64>,
    /// USD per million output (completion) tokens; finite and >= 0.
    #[serde(default)]
    pub output_price: Option<f64>,
    /// USD per million cached input tokens, where the provider reports them (defaults to
    /// `input_price`).
    #[serde(default)]
    pub cached_input_price: Option<f64>,
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

/// A model's prices, USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Prices {
    pub input: f64,
    pub output: f64,
    /// For input tokens the provider served from its prompt cache.
    pub cached_input: f64,
}

impl ModelConfig {
    /// The upstream model name (the model ID when not configured; set by validation).
    pub fn upstream_name(&self) -> &str {
        self.upstream.as_deref().unwrap_or_default()
    }

    /// The model's prices; `None` when it is unpriced (validation allows both or neither).
    pub fn prices(&self) -> Option<Prices> {
        match (self.input_price, self.output_price) {
            (Some(input), Some(output)) => {
                Some(Prices { input, output, cached_input: self.cached_input_price.unwrap_or(input) })
            }
            _ => None,
        }
    }

    /// Input plus output price, for ordering models cheapest first (unpriced models sort as
    /// free within their tier; tier comes first).
    pub fn price_sum(&self) -> f64 {
        self.prices().map_or(0.0, |p| p.input + p.output)
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
