//! `learned`: a classifier that runs a pre-route model trained by `switchyard train` and
//! emits `learned.score`, the predicted probability that the cheap model's answer will not
//! be good enough. A policy reads it as its start signal (e.g. `cascade` with
//! `start_signal = "learned.score"`).
//!
//! # Configuration
//!
//! ```toml
//! [plugins.learned]
//! kind = "classifier"
//! path = "learned.wasm"
//! files = { model = "models/mmlu-pre-route.json" }   # passed as config.model
//! ```
//!
//! The model file's features, weights and provenance are described in
//! `docs/learned-routing.md`; a gate model is refused (a classifier sees no answer).

use switchyard_features::plugin::{self, Config};
use switchyard_plugin_sdk::config::ConfigCell;
use switchyard_plugin_sdk::{Classifier, Request, Signal};

static CONFIG: ConfigCell<Config> = ConfigCell::new();

struct Learned;

impl Classifier for Learned {
    fn configure(config: String) -> Result<(), String> {
        CONFIG.set(plugin::parse_config(&config, false)?);
        Ok(())
    }

    fn classify(req: Request) -> Result<Vec<Signal>, String> {
        Ok(classify(&*CONFIG.get()?, req.last_user_message().unwrap_or_default()))
    }
}

switchyard_plugin_sdk::export_classifier!(Learned);

/// `learned.score` for one prompt, rounded to 4 decimals.
pub fn classify(config: &Config, prompt: &str) -> Vec<Signal> {
    let p = config.scorer.score(prompt, None).probability;
    vec![Signal::new("learned.score", (p * 10_000.0).round() / 10_000.0)]
}
