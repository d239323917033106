//! `complexity`: a classifier that estimates how hard a request is, from its text alone.
//!
//! Deterministic and fast: a few linear scans of the text, no regex, no model. It looks for
//! general features (code, math notation, multi-step reasoning markers...) rather than known
//! prompts, so treat its output as a cheap prior for a cascade, not as a verdict.
//!
//! # Signals
//!
//! Every value is in `0..=1`.
//!
//! | name                    | what it measures |
//! |-------------------------|------------------|
//! | `complexity.length`     | prompt size: `input-tokens / length_saturation_tokens`, capped at 1 |
//! | `complexity.code`       | code fences (0.5), inline code (0.1), stack traces and compiler errors (0.4), programming keywords (0.1 each, up to 0.5), symbol density (up to 0.3) |
//! | `complexity.math`       | arithmetic/equations like `3x + 2 = 11` (up to 0.5), LaTeX (`\frac`, `$$`, ... 0.4), math vocabulary (0.2 each) |
//! | `complexity.reasoning`  | multi-step markers: "step by step", "prove", "explain why", "compare", "trade-off", "first … then", ... (0.3 each) |
//! | `complexity.questions`  | several questions: `(number of '?' − 1) / 3`, capped at 1 (one question is 0) |
//! | `complexity.json`       | 1 when the request asks for JSON (`wants-json` or a schema), 0.6 when the text mentions JSON, else 0 |
//! | `complexity.score`      | the combination, a noisy-OR: `1 − Π (1 − weightᵢ · signalᵢ)` |
//!
//! With the noisy-OR a weight is the score that one dimension alone, at full strength, gives;
//! dimensions add up without the mean diluting a strong one (a pure code task scores 0.7, code
//! plus step-by-step reasoning 0.91).
//!
//! # Configuration
//!
//! ```json
//! {
//!   "weights": {"length": 0.5, "code": 0.7, "math": 0.6, "reasoning": 0.7, "questions": 0.4, "json": 0.2},
//!   "length_saturation_tokens": 4000,
//!   "scope": "user",
//!   "max_scan_chars": 100000
//! }
//! ```
//!
//! See [`Config`] for each key. All are optional; `{}` means the defaults above.

use serde::Deserialize;
use switchyard_plugin_sdk::config::{self, ConfigCell};
use switchyard_plugin_sdk::{Classifier, Message, Request, Signal, text};

mod scan;

/// The classifier's configuration.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Weight of each dimension in `complexity.score`, each in `0..=1`. Keys left out keep
    /// their default; 0 removes a dimension from the score (its signal is still emitted).
    pub weights: Weights,
    /// Prompt size, in tokens, at which `complexity.length` reaches 1 (default 4000, > 0).
    pub length_saturation_tokens: u32,
    /// Which messages the text signals read: `user` (default: every user message), `last-user`
    /// (only the latest user message) or `all` (every message, system prompt included).
    /// `complexity.length` always uses the host's `input-tokens`, the whole prompt.
    pub scope: Scope,
    /// Only the first this many characters are scanned, to bound the time on huge prompts
    /// (default 100 000, > 0).
    pub max_scan_chars: usize,
}

/// Weights of the dimensions in `complexity.score` (see the crate docs for the formula).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// Weight of `complexity.length` (default 0.5).
    pub length: f64,
    /// Weight of `complexity.code` (default 0.7).
    pub code: f64,
    /// Weight of `complexity.math` (default 0.6).
    pub math: f64,
    /// Weight of `complexity.reasoning` (default 0.7).
    pub reasoning: f64,
    /// Weight of `complexity.questions` (default 0.4).
    pub questions: f64,
    /// Weight of `complexity.json` (default 0.2).
    pub json: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { length: 0.5, code: 0.7, math: 0.6, reasoning: 0.7, questions: 0.4, json: 0.2 }
    }
}

/// Which messages the text signals read.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Every user message.
    #[default]
    User,
    /// The latest user message only.
    LastUser,
    /// Every message, whatever its role.
    All,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            weights: Weights::default(),
            length_saturation_tokens: 4000,
            scope: Scope::User,
            max_scan_chars: 100_000,
        }
    }
}

/// Parses and validates the configuration `configure` receives.
pub fn parse_config(json: &str) -> Result<Config, String> {
    let config: Config = config::parse(json)?;
    let w = &config.weights;
    for (key, value) in [
        ("length", w.length),
        ("code", w.code),
        ("math", w.math),
        ("reasoning", w.reasoning),
        ("questions", w.questions),
        ("json", w.json),
    ] {
        if !(0.0..=1.0).contains(&value) {
            return Err(format!("config key `weights.{key}`: expected a number in 0..=1, got {value}"));
        }
    }
    if config.length_saturation_tokens == 0 {
        return Err("config key `length_saturation_tokens`: expected a positive integer, got 0".into());
    }
    if config.max_scan_chars == 0 {
        return Err("config key `max_scan_chars`: expected a positive integer, got 0".into());
    }
    Ok(config)
}

static CONFIG: ConfigCell<Config> = ConfigCell::new();

struct Complexity;

impl Classifier for Complexity {
    fn configure(config: String) -> Result<(), String> {
        CONFIG.set(parse_config(&config)?);
        Ok(())
    }

    fn classify(req: Request) -> Result<Vec<Signal>, String> {
        Ok(classify(&req, &*CONFIG.get()?))
    }
}

switchyard_plugin_sdk::export_classifier!(Complexity);

/// The text the signals read, per `scope`, cut to `max_scan_chars` characters.
fn scanned_text(messages: &[Message], config: &Config) -> String {
    let text = match config.scope {
        Scope::User => text::user_text(messages),
        Scope::LastUser => text::last_user_message(messages).unwrap_or_default().to_string(),
        Scope::All => text::all_text(messages),
    };
    match text.char_indices().nth(config.max_scan_chars) {
        Some((cut, _)) => text[..cut].to_string(),
        None => text,
    }
}

/// Every signal for `req`, `complexity.score` last.
pub fn classify(req: &Request, config: &Config) -> Vec<Signal> {
    let text = scanned_text(&req.messages, config);
    let lower = text.to_lowercase();

    let tokens =
        if req.input_tokens > 0 { req.input_tokens } else { text::estimate_tokens(&text::all_text(&req.messages)) };
    let length = (f64::from(tokens) / f64::from(config.length_saturation_tokens)).min(1.0);
    let words = scan::Text::new(&text, &lower);
    let code = scan::code(&text, &words);
    let math = scan::math(&text, &words);
    let reasoning = scan::reasoning(&words);
    let questions = scan::questions(&text);
    let json = if req.wants_json || req.json_schema.is_some() {
        1.0
    } else if words.has("json") {
        0.6
    } else {
        0.0
    };

    let w = &config.weights;
    let parts = [
        ("complexity.length", length, w.length),
        ("complexity.code", code, w.code),
        ("complexity.math", math, w.math),
        ("complexity.reasoning", reasoning, w.reasoning),
        ("complexity.questions", questions, w.questions),
        ("complexity.json", json, w.json),
    ];
    let keep = parts.iter().fold(1.0, |keep, (_, value, weight)| keep * (1.0 - weight * value));
    let mut signals: Vec<Signal> = parts.iter().map(|(name, value, _)| Signal::new(*name, round(*value))).collect();
    signals.push(Signal::new("complexity.score", round(1.0 - keep)));
    signals
}

/// Clamps to 0..=1 and rounds to 4 decimals, so reasons and logs stay readable.
fn round(v: f64) -> f64 {
    (v.clamp(0.0, 1.0) * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests;
