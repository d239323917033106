//! `math-check`: a cascade gate for answers to math word problems. It reads the cheap
//! model's worked answer and escalates when the answer looks wrong.
//!
//! A pre-router only sees the question; a gate sees the attempt, and a wrong attempt at a
//! word problem usually shows it: a step whose arithmetic does not hold, no final answer, a
//! fractional count of eggs, second thoughts ("however, since you can't have half a bolt"),
//! numbers from the question never used. None of this needs to know the problem's answer, or
//! any particular problem.
//!
//! # Signals and suspicion
//!
//! Each check gives a value in `0..=1`; the suspicion is their noisy-OR,
//! `1 − Π (1 − weightᵢ · valueᵢ)`, so a weight is the suspicion one check alone gives.
//!
//! | check | value | default weight |
//! |---|---|---|
//! | `arithmetic` | 1 when a shown calculation is wrong (`<<a*b=c>>` annotations, `a + b = c` chains; see [`arith`]) | 0.8 |
//! | `no_final_answer` | 1 when no final-answer marker (`final_markers`) is found | 0.7 |
//! | `non_integer` | 1 when the final answer is not a whole number (set to 0 where fractional answers are normal) | 0.8 |
//! | `hedging` | 1 when a `hedges` phrase occurs (second thoughts, approximations) | 0.4 |
//! | `unused_numbers` | numbers of the question absent from the answer, / 2, capped at 1 | 0.3 |
//! | `question_length` | `(characters − 150) / 400`, clamped to `0..=1`: long problems are harder | 0.3 |
//! | `question_numbers` | `(numbers in the question − 2) / 5`, clamped: more quantities, more steps | 0.3 |
//!
//! The suspicion at or above `threshold` escalates, with the reasons; below it the answer is
//! accepted with confidence `1 − suspicion`. Exchanges without a digit in the question or the
//! answer are not math and are accepted as they are. The gate never rejects.
//!
//! The weights were set by hand from the shape of wrong answers on the `dev` part of
//! RouteLLM's GSM8K data (see EVAL.md), not fitted: there are seven, each means one thing,
//! and `switchyard eval --sweep math-check.threshold=0:1:0.02` shows what any setting costs.
//!
//! # Configuration
//!
//! ```json
//! {
//!   "threshold": 0.5,
//!   "weights": {"arithmetic": 0.8, "no_final_answer": 0.7, "non_integer": 0.8, "hedging": 0.4,
//!               "unused_numbers": 0.3, "question_length": 0.3, "question_numbers": 0.3},
//!   "final_markers": ["####", "the answer is", "final answer"],
//!   "hedges": ["however", "approximately", "..."],
//!   "max_scan_chars": 20000
//! }
//! ```

use serde::Deserialize;
use switchyard_plugin_sdk::config::{self, ConfigCell};
use switchyard_plugin_sdk::{Candidate, Gate, Request, Verdict};

// The checks live in the shared features crate, so that `switchyard train` and the `learned`
// plugin read answers exactly as this gate does.
use switchyard_features::math::normalize;
pub use switchyard_features::math::{DEFAULT_FINAL_MARKERS, DEFAULT_HEDGES, arith, final_answer, numbers};

/// Weight of each check in the suspicion, each in `0..=1`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// A shown calculation is wrong (default 0.8).
    pub arithmetic: f64,
    /// No final-answer marker (default 0.7).
    pub no_final_answer: f64,
    /// The final answer is not a whole number (default 0.8).
    pub non_integer: f64,
    /// Second thoughts or approximation (default 0.4).
    pub hedging: f64,
    /// Question numbers missing from the answer (default 0.3).
    pub unused_numbers: f64,
    /// A long question (default 0.3).
    pub question_length: f64,
    /// Many numbers in the question (default 0.3).
    pub question_numbers: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            arithmetic: 0.8,
            no_final_answer: 0.7,
            non_integer: 0.8,
            hedging: 0.4,
            unused_numbers: 0.3,
            question_length: 0.3,
            question_numbers: 0.3,
        }
    }
}

impl Weights {
    fn all(&self) -> [(&'static str, f64); 7] {
        [
            ("arithmetic", self.arithmetic),
            ("no_final_answer", self.no_final_answer),
            ("non_integer", self.non_integer),
            ("hedging", self.hedging),
            ("unused_numbers", self.unused_numbers),
            ("question_length", self.question_length),
            ("question_numbers", self.question_numbers),
        ]
    }
}

/// The gate's configuration.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Escalate when the suspicion is at least this (default 0.5; above 1 never escalates).
    pub threshold: f64,
    /// Weight of each check in the suspicion.
    pub weights: Weights,
    /// Case-insensitive markers of the final answer; the first number after the last marker is
    /// the answer. Without a marker, the answer's last number is read instead.
    pub final_markers: Vec<String>,
    /// Case-insensitive phrases of second thoughts (default [`DEFAULT_HEDGES`]; `[]` disables).
    pub hedges: Vec<String>,
    /// Only this many leading characters of the answer and of the question are read
    /// (default 20 000, > 0).
    pub max_scan_chars: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threshold: 0.5,
            weights: Weights::default(),
            final_markers: DEFAULT_FINAL_MARKERS.iter().map(|s| s.to_string()).collect(),
            hedges: DEFAULT_HEDGES.iter().map(|s| s.to_string()).collect(),
            max_scan_chars: 20_000,
        }
    }
}

/// Parses and validates the configuration `configure` receives (phrases are lowercased).
pub fn parse_config(json: &str) -> Result<Config, String> {
    let mut config: Config = config::parse(json)?;
    if !config.threshold.is_finite() {
        return Err(format!("config key `threshold`: expected a finite number, got {}", config.threshold));
    }
    for (name, weight) in config.weights.all() {
        if !(0.0..=1.0).contains(&weight) {
            return Err(format!("config key `weights.{name}`: expected a number in 0..=1, got {weight}"));
        }
    }
    if config.max_scan_chars == 0 {
        return Err("config key `max_scan_chars`: expected a number > 0".into());
    }
    for (key, list) in [("final_markers", &mut config.final_markers), ("hedges", &mut config.hedges)] {
        if let Some(i) = list.iter().position(|p| p.trim().is_empty()) {
            return Err(format!("config key `{key}[{i}]`: expected a phrase, got an empty string"));
        }
        *list = list.iter().map(|p| normalize(p)).collect();
    }
    Ok(config)
}

static CONFIG: ConfigCell<Config> = ConfigCell::new();

struct MathCheck;

impl Gate for MathCheck {
    fn configure(config: String) -> Result<(), String> {
        CONFIG.set(parse_config(&config)?);
        Ok(())
    }

    fn check(req: Request, answer: Candidate) -> Result<Verdict, String> {
        let question = req.last_user_message().unwrap_or_default();
        Ok(check(&*CONFIG.get()?, question, &answer.content))
    }
}

switchyard_plugin_sdk::export_gate!(MathCheck);

/// What the checks found in one answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Findings {
    /// Each check's value, in [`Weights`] order.
    pub values: [f64; 7],
    /// Why each non-zero check fired, for the escalation reason.
    pub notes: Vec<String>,
    /// The noisy-OR of the weighted values, `0..=1`.
    pub suspicion: f64,
}

fn head(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Runs every check on `answer` to `question`.
pub fn inspect(config: &Config, question: &str, answer: &str) -> Findings {
    let question = head(question, config.max_scan_chars);
    let answer = head(answer, config.max_scan_chars);
    let found = switchyard_features::math::inspect(question, answer, &config.final_markers, &config.hedges);
    let keep = config.weights.all().iter().zip(found.values).map(|((_, w), v)| 1.0 - w * v).product::<f64>();
    Findings { values: found.values, notes: found.notes, suspicion: (1.0 - keep).clamp(0.0, 1.0) }
}

/// The verdict on one answer.
pub fn check(config: &Config, question: &str, answer: &str) -> Verdict {
    let has_digit = |t: &str| head(t, config.max_scan_chars).chars().any(|c| c.is_ascii_digit());
    if !has_digit(question) && !has_digit(answer) {
        return Verdict::Accept(1.0);
    }
    let findings = inspect(config, question, answer);
    let suspicion = (findings.suspicion * 1000.0).round() / 1000.0;
    if suspicion >= config.threshold {
        Verdict::Escalate(format!("suspicion {suspicion:.3} >= {}: {}", config.threshold, findings.notes.join("; ")))
    } else {
        Verdict::Accept(((1.0 - suspicion) * 1000.0).round() / 1000.0)
    }
}

#[cfg(test)]
mod tests;
