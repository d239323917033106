//! `difficulty`: a pre-route classifier for questions, multiple-choice ones in particular:
//! how hard a question looks to a small model, from its shape alone.
//!
//! Where [`complexity`](../complexity) looks for code, math and reasoning requests in chat
//! traffic, this one looks at the shape of a *question*: how long the stem is, how long the
//! options are, whether the answer is a combination of several judgements. It knows no
//! subject and no particular question; it reads the stem and the `A. … / B. …` option lines
//! (any text without options is all stem).
//!
//! # Signals
//!
//! All in `0..=1`.
//!
//! | name | what it measures | default weight |
//! |---|---|---|
//! | `difficulty.length` | stem length: `(characters − 80) / 920`, clamped | 0.6 |
//! | `difficulty.compound` | 1 for a multi-part judgement: options like "True, False" / "Wrong, Not wrong", Roman-numeral combinations ("I and III only"), or "Statement 1 … Statement 2" / "Scenario 1 … Scenario 2" stems | 0.8 |
//! | `difficulty.options` | mean option length: `(characters − 10) / 90`, clamped; 0 without options | 0.3 |
//! | `difficulty.negation` | 1 for capitalised NOT / EXCEPT / LEAST / FALSE / INCORRECT, 0.6 for lower-case "is not", "except", "least", ... | 0 |
//! | `difficulty.quantitative` | numbers to work with: numbers in the stem (up to 0.6) plus 0.4 for numeric options | 0 |
//! | `difficulty.symbolic` | formal notation: logic and math symbols, LaTeX, comparisons | 0 |
//! | `difficulty.score` | noisy-OR `1 − Π (1 − weightᵢ · signalᵢ)` | |
//!
//! The default weights come from the `dev` part of RouteLLM's MMLU data (see EVAL.md): length,
//! multi-part judgements and long options separated the questions a small model misses and a
//! large one gets; negation, numbers and notation did not (a large model misses many
//! quantitative questions too), so they are emitted for policies that want them but weigh 0
//! in the score. Give them weight in `weights` for other traffic.
//!
//! # Configuration
//!
//! ```json
//! {"weights": {"length": 0.6, "compound": 0.8, "options": 0.3,
//!              "negation": 0, "quantitative": 0, "symbolic": 0},
//!  "max_scan_chars": 20000}
//! ```

use serde::Deserialize;
use switchyard_plugin_sdk::config::{self, ConfigCell};
use switchyard_plugin_sdk::{Classifier, Request, Signal};

// The cues live in the shared features crate, so that `switchyard train` and the `learned`
// plugin read questions exactly as this classifier does.
pub use switchyard_features::question::{self, cues};

/// Weight of each cue in `difficulty.score`, each in `0..=1`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// `difficulty.length` (default 0.6).
    pub length: f64,
    /// `difficulty.compound` (default 0.8).
    pub compound: f64,
    /// `difficulty.options` (default 0.3).
    pub options: f64,
    /// `difficulty.negation` (default 0).
    pub negation: f64,
    /// `difficulty.quantitative` (default 0).
    pub quantitative: f64,
    /// `difficulty.symbolic` (default 0).
    pub symbolic: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { length: 0.6, compound: 0.8, options: 0.3, negation: 0.0, quantitative: 0.0, symbolic: 0.0 }
    }
}

impl Weights {
    fn all(&self) -> [(&'static str, f64); 6] {
        [
            ("length", self.length),
            ("compound", self.compound),
            ("options", self.options),
            ("negation", self.negation),
            ("quantitative", self.quantitative),
            ("symbolic", self.symbolic),
        ]
    }
}

/// The classifier's configuration.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Weight of each cue in `difficulty.score`.
    pub weights: Weights,
    /// Only the first this many characters of the question are read (default 20 000, > 0).
    pub max_scan_chars: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { weights: Weights::default(), max_scan_chars: 20_000 }
    }
}

/// Parses and validates the configuration `configure` receives.
pub fn parse_config(json: &str) -> Result<Config, String> {
    let config: Config = config::parse(json)?;
    for (name, weight) in config.weights.all() {
        if !(0.0..=1.0).contains(&weight) {
            return Err(format!("config key `weights.{name}`: expected a number in 0..=1, got {weight}"));
        }
    }
    if config.max_scan_chars == 0 {
        return Err("config key `max_scan_chars`: expected a number > 0".into());
    }
    Ok(config)
}

static CONFIG: ConfigCell<Config> = ConfigCell::new();

struct Difficulty;

impl Classifier for Difficulty {
    fn configure(config: String) -> Result<(), String> {
        CONFIG.set(parse_config(&config)?);
        Ok(())
    }

    fn classify(req: Request) -> Result<Vec<Signal>, String> {
        Ok(classify(&*CONFIG.get()?, req.last_user_message().unwrap_or_default()))
    }
}

switchyard_plugin_sdk::export_classifier!(Difficulty);

/// The signals for one question.
pub fn classify(config: &Config, text: &str) -> Vec<Signal> {
    let text = match text.char_indices().nth(config.max_scan_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    };
    let values = question::values(text);
    let weights = config.weights.all();
    let keep: f64 = weights.iter().zip(values).map(|((_, w), v)| 1.0 - w * v).product();
    let round = |v: f64| (v.clamp(0.0, 1.0) * 10_000.0).round() / 10_000.0;
    let mut signals: Vec<Signal> =
        weights.iter().zip(values).map(|((name, _), v)| Signal::new(format!("difficulty.{name}"), round(v))).collect();
    signals.push(Signal::new("difficulty.score", round(1.0 - keep)));
    signals
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_plugin_sdk::signal_value;

    #[test]
    fn scores_multi_part_and_long_questions_higher() {
        let config = Config::default();
        let easy = classify(&config, "Capital of France?\nA. Paris\nB. Rome\nC. Madrid\nD. Berlin\nAnswer:");
        let moral = classify(
            &config,
            "For which of these two scenarios does the main character do something clearly morally wrong? \
             Scenario 1 | I took the last cookie. Scenario 2 | I returned the wallet.\n\
             A. Wrong, Wrong\nB. Wrong, Not wrong\nC. Not wrong, Wrong\nD. Not wrong, Not wrong\nAnswer:",
        );
        let score = |s: &[Signal]| signal_value(s, "difficulty.score").unwrap();
        assert_eq!(score(&easy), 0.0);
        assert!(score(&moral) > 0.8, "{moral:?}");
        assert_eq!(signal_value(&moral, "difficulty.compound"), Some(1.0));
        assert_eq!(easy.len(), 7);
    }

    #[test]
    fn weights_shape_the_score() {
        let q = "Which of these is NOT prime?\nA. 2\nB. 3\nC. 4\nD. 5";
        let zero = classify(&Config::default(), q);
        assert_eq!(signal_value(&zero, "difficulty.negation"), Some(1.0));
        assert_eq!(signal_value(&zero, "difficulty.score"), Some(0.0));
        let config = parse_config(r#"{"weights": {"negation": 0.5}}"#).unwrap();
        assert_eq!(signal_value(&classify(&config, q), "difficulty.score"), Some(0.5));
    }

    #[test]
    fn config_is_validated() {
        assert_eq!(parse_config("").unwrap(), Config::default());
        assert!(parse_config(r#"{"weights": {"length": 1.5}}"#).unwrap_err().contains("weights.length"));
        assert!(parse_config(r#"{"weights": {"lenght": 1}}"#).unwrap_err().contains("unknown field `lenght`"));
        assert!(parse_config(r#"{"max_scan_chars": 0}"#).unwrap_err().contains("max_scan_chars"));
    }
}
