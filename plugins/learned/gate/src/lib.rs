//! `learned-gate`: a cascade gate that runs a gate model trained by `switchyard train` on the
//! prompt and the cheap model's answer, and escalates when the predicted probability that
//! the answer is not good enough reaches `threshold`. The reason names the features that
//! pushed the probability up most (named ones such as `math-check.arithmetic`, or a text's
//! hashed n-grams as a whole: the model stores no words). Below the threshold the answer is
//! accepted with confidence `1 − p`; the gate never rejects.
//!
//! # Configuration
//!
//! ```toml
//! [plugins.learned-gate]
//! kind = "gate"
//! path = "learned_gate.wasm"
//! files = { model = "models/gsm8k-gate.json" }   # passed as config.model
//! config = { threshold = 0.5, reasons = 3 }
//! ```

use switchyard_features::model::reason;
use switchyard_features::plugin::{self, Config};
use switchyard_plugin_sdk::config::ConfigCell;
use switchyard_plugin_sdk::{Candidate, Gate, Request, Verdict};

static CONFIG: ConfigCell<Config> = ConfigCell::new();

struct LearnedGate;

impl Gate for LearnedGate {
    fn configure(config: String) -> Result<(), String> {
        CONFIG.set(plugin::parse_config(&config, true)?);
        Ok(())
    }

    fn check(req: Request, answer: Candidate) -> Result<Verdict, String> {
        Ok(check(&*CONFIG.get()?, req.last_user_message().unwrap_or_default(), &answer.content))
    }
}

switchyard_plugin_sdk::export_gate!(LearnedGate);

/// The verdict on one answer.
pub fn check(config: &Config, prompt: &str, answer: &str) -> Verdict {
    let scored = config.scorer.score(prompt, Some(answer));
    let p = (scored.probability * 1000.0).round() / 1000.0;
    if p >= config.threshold {
        Verdict::Escalate(reason(&scored, config.threshold, config.reasons))
    } else {
        Verdict::Accept(((1.0 - p) * 1000.0).round() / 1000.0)
    }
}
