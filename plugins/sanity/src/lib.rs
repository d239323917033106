//! `sanity`: a gate that escalates answers that are obviously not good enough.
//!
//! An answer that makes tool calls (contract 0.2.0) is judged by its calls instead of its
//! text: it is accepted when every call names a tool and its arguments are a JSON object
//! (an empty text is normal then), and escalated when a call is malformed. Whether the calls
//! fit the tools offered is `tool-args`'s job. A refusal the upstream reported as such
//! (`refusal`) escalates like a refusal phrase.
//!
//! Checks on a text answer, in order; the first that fails escalates with a reason:
//!
//! 1. **Empty**: the answer, trimmed, has fewer than `min_chars` characters (default 1, so
//!    an empty or all-whitespace answer escalates).
//! 2. **Cut off**: the finish reason is in `escalate_finish_reasons` (default `length` and
//!    `content_filter`).
//! 3. **Refusal**: one of `refusal_phrases` occurs (case-insensitive, curly quotes read as
//!    straight) in the answer's first `refusal_window_chars` characters (default 300). A
//!    phrase far into a long answer is more likely a quote than a refusal.
//! 4. **Degenerate repetition**: with at least `repetition_min_words` words (default 30),
//!    the share of repeated word 4-grams, or with at least 3 non-empty lines the share of
//!    lines that repeat an earlier line, is above `max_repeat_share` (default 0.5).
//! 5. **Unsure**: `min_mean_logprob` is set, the upstream reported a mean log-probability and
//!    it is below the minimum.
//!
//! Otherwise the answer is accepted with a confidence of `1 − repeat share / 2`, capped by
//! `exp(mean logprob)` when the upstream reported one. The gate never rejects: a bad answer
//! is a reason to try a stronger model, not to fail the request.
//!
//! # Configuration
//!
//! ```json
//! {
//!   "min_chars": 1,
//!   "escalate_finish_reasons": ["length", "content_filter"],
//!   "refusal_phrases": ["i can't help with", "..."],
//!   "refusal_window_chars": 300,
//!   "max_repeat_share": 0.5,
//!   "repetition_min_words": 30,
//!   "min_mean_logprob": null
//! }
//! ```
//!
//! The default refusal phrases are [`DEFAULT_REFUSALS`]; `refusal_phrases` replaces the list
//! (`[]` turns the check off).

use serde::Deserialize;
use switchyard_plugin_sdk::config::{self, ConfigCell};
use switchyard_plugin_sdk::{Candidate, Gate, Request, ToolCall, Verdict};

pub use switchyard_features::answer::{DEFAULT_REFUSALS, line_repeat_share, ngram_repeat_share};

/// The gate's configuration.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Fewest characters (after trimming) an answer needs (default 1).
    pub min_chars: usize,
    /// Finish reasons that escalate (default `["length", "content_filter"]`).
    pub escalate_finish_reasons: Vec<String>,
    /// Phrases that mark a refusal, matched case-insensitively (default
    /// [`DEFAULT_REFUSALS`]; `[]` disables the check).
    pub refusal_phrases: Vec<String>,
    /// Only this many leading characters are searched for refusals (default 300).
    pub refusal_window_chars: usize,
    /// Repeated 4-grams or lines above this share escalate (default 0.5, in 0..=1).
    pub max_repeat_share: f64,
    /// Answers with fewer words skip the 4-gram repetition check (default 30).
    pub repetition_min_words: usize,
    /// Mean log-probabilities below this escalate, when the upstream reports them (default
    /// none: not checked). E.g. -1.5.
    pub min_mean_logprob: Option<f64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            min_chars: 1,
            escalate_finish_reasons: vec!["length".into(), "content_filter".into()],
            refusal_phrases: DEFAULT_REFUSALS.iter().map(|s| s.to_string()).collect(),
            refusal_window_chars: 300,
            max_repeat_share: 0.5,
            repetition_min_words: 30,
            min_mean_logprob: None,
        }
    }
}

/// Parses and validates the configuration `configure` receives (phrases are lowercased).
pub fn parse_config(json: &str) -> Result<Config, String> {
    let mut config: Config = config::parse(json)?;
    if !(0.0..=1.0).contains(&config.max_repeat_share) {
        return Err(format!(
            "config key `max_repeat_share`: expected a number in 0..=1, got {}",
            config.max_repeat_share
        ));
    }
    if let Some(min) = config.min_mean_logprob
        && !(min.is_finite() && min <= 0.0)
    {
        return Err(format!("config key `min_mean_logprob`: expected a number <= 0 (a log-probability), got {min}"));
    }
    if let Some(i) = config.refusal_phrases.iter().position(|p| p.trim().is_empty()) {
        return Err(format!("config key `refusal_phrases[{i}]`: expected a phrase, got an empty string"));
    }
    config.refusal_phrases = config.refusal_phrases.iter().map(|p| normalize(p)).collect();
    Ok(config)
}

static CONFIG: ConfigCell<Config> = ConfigCell::new();

struct Sanity;

impl Gate for Sanity {
    fn configure(config: String) -> Result<(), String> {
        CONFIG.set(parse_config(&config)?);
        Ok(())
    }

    fn check(_req: Request, answer: Candidate) -> Result<Verdict, String> {
        Ok(check(&*CONFIG.get()?, &answer))
    }
}

switchyard_plugin_sdk::export_gate!(Sanity);

use switchyard_features::answer::normalize;

/// Why a tool call is malformed: no name, or arguments that are not a JSON object.
fn malformed_call(call: &ToolCall) -> Option<String> {
    if call.name.trim().is_empty() {
        return Some(format!("tool call `{}` names no tool", call.id));
    }
    let arguments = call.arguments.trim();
    if arguments.is_empty() {
        return None;
    }
    match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(serde_json::Value::Object(_)) => None,
        Ok(_) => Some(format!("tool call `{}`: arguments are JSON but not an object", call.name)),
        Err(e) => Some(format!("tool call `{}`: arguments are not valid JSON ({e})", call.name)),
    }
}

/// The verdict on one answer (see the crate docs for the checks).
pub fn check(config: &Config, answer: &Candidate) -> Verdict {
    if let Some(refusal) = answer.refusal.as_deref().filter(|r| !r.trim().is_empty()) {
        let head: String = refusal.chars().take(80).collect();
        return Verdict::Escalate(format!("the model refused (\"{head}\")"));
    }
    if !answer.tool_calls.is_empty() {
        if let Some(why) = answer.tool_calls.iter().find_map(malformed_call) {
            return Verdict::Escalate(format!("malformed tool call: {why}"));
        }
        if config.escalate_finish_reasons.contains(&answer.finish_reason) {
            return Verdict::Escalate(format!("finish reason `{}`", answer.finish_reason));
        }
        return Verdict::Accept(1.0);
    }
    let content = answer.content.trim();
    let chars = content.chars().count();
    if chars < config.min_chars {
        return Verdict::Escalate(if chars == 0 {
            "empty answer".into()
        } else {
            format!("answer too short ({chars} < {} characters)", config.min_chars)
        });
    }
    if config.escalate_finish_reasons.contains(&answer.finish_reason) {
        return Verdict::Escalate(format!("finish reason `{}`", answer.finish_reason));
    }
    if let Some(phrase) =
        switchyard_features::answer::refusal(content, &config.refusal_phrases, config.refusal_window_chars)
    {
        return Verdict::Escalate(format!("looks like a refusal (\"{phrase}\")"));
    }
    let repeat = ngram_repeat_share(content, config.repetition_min_words).max(line_repeat_share(content));
    if repeat > config.max_repeat_share {
        return Verdict::Escalate(format!(
            "degenerate repetition ({:.0}% repeated > {:.0}%)",
            repeat * 100.0,
            config.max_repeat_share * 100.0
        ));
    }
    let mut confidence = 1.0 - repeat / 2.0;
    if let Some(mean) = answer.mean_logprob.filter(|m| m.is_finite()) {
        if let Some(min) = config.min_mean_logprob
            && mean < min
        {
            return Verdict::Escalate(format!("unsure answer (mean logprob {mean:.2} < {min})"));
        }
        confidence = confidence.min(mean.exp());
    }
    Verdict::Accept((confidence.clamp(0.0, 1.0) * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(content: &str) -> Verdict {
        check(&Config::default(), &Candidate::new("m", content))
    }

    fn escalates(v: &Verdict, why: &str) -> bool {
        matches!(v, Verdict::Escalate(reason) if reason.contains(why))
    }

    #[test]
    fn accepts_a_normal_answer() {
        let v = verdict("Paris is the capital of France. It has been since the 10th century, give or take.");
        assert_eq!(v, Verdict::Accept(1.0));
    }

    #[test]
    fn empty_short_and_truncated() {
        assert!(escalates(&verdict("   \n "), "empty answer"));
        let short = parse_config(r#"{"min_chars": 10}"#).unwrap();
        assert!(escalates(&check(&short, &Candidate::new("m", "ok")), "too short (2 < 10"));
        let mut cut = Candidate::new("m", "The answer is");
        cut.finish_reason = "length".into();
        assert!(escalates(&check(&Config::default(), &cut), "finish reason `length`"));
        cut.finish_reason = "tool_calls".into();
        assert!(matches!(check(&Config::default(), &cut), Verdict::Accept(_)));
    }

    #[test]
    fn tool_calls_are_judged_by_their_shape() {
        let ok = Candidate::with_tool_calls("m", vec![ToolCall::new("c1", "get_weather", r#"{"city":"Paris"}"#)]);
        assert_eq!(check(&Config::default(), &ok), Verdict::Accept(1.0));
        let no_args = Candidate::with_tool_calls("m", vec![ToolCall::new("c1", "now", "")]);
        assert_eq!(check(&Config::default(), &no_args), Verdict::Accept(1.0));
        let broken = Candidate::with_tool_calls("m", vec![ToolCall::new("c1", "get_weather", r#"{"city": "Par"#)]);
        assert!(escalates(
            &check(&Config::default(), &broken),
            "malformed tool call: tool call `get_weather`: arguments are not valid JSON"
        ));
        let array = Candidate::with_tool_calls("m", vec![ToolCall::new("c1", "f", "[1]")]);
        assert!(escalates(&check(&Config::default(), &array), "not an object"));
        let nameless = Candidate::with_tool_calls("m", vec![ToolCall::new("c9", " ", "{}")]);
        assert!(escalates(&check(&Config::default(), &nameless), "`c9` names no tool"));
        let mut cut = ok.clone();
        cut.finish_reason = "length".into();
        assert!(escalates(&check(&Config::default(), &cut), "finish reason"));
        let mut refused = Candidate::new("m", "");
        refused.refusal = Some("I can't do that.".into());
        assert!(escalates(&check(&Config::default(), &refused), "the model refused"));
    }

    #[test]
    fn refusals() {
        assert!(escalates(&verdict("I’m sorry, but I can’t help with that request."), "refusal"));
        assert!(escalates(&verdict("As an AI, I have no opinions."), "as an ai"));
        let filler: String = (0..60).map(|i| format!("point {i} holds. ")).collect();
        let late = format!("{filler} As an AI researcher once said, ...");
        assert!(matches!(verdict(&late), Verdict::Accept(_)));
        let custom = parse_config(r#"{"refusal_phrases": ["NOPE"]}"#).unwrap();
        assert!(escalates(&check(&custom, &Candidate::new("m", "nope.")), "nope"));
        assert!(matches!(check(&custom, &Candidate::new("m", "I cannot assist")), Verdict::Accept(_)));
    }

    #[test]
    fn repetition() {
        assert!(escalates(&verdict(&"the cat sat on the mat and ".repeat(20)), "degenerate repetition"));
        assert!(escalates(&verdict("Sure thing.\nSure thing.\nSure thing.\nSure thing."), "degenerate repetition"));
        let code = "fn a() {\n    x();\n}\nfn b() {\n    y();\n}\n";
        assert!(matches!(verdict(code), Verdict::Accept(_)));
    }

    #[test]
    fn logprobs() {
        let mut c = Candidate::new("m", "A fine answer with enough words in it.");
        c.mean_logprob = Some(-0.1);
        let Verdict::Accept(conf) = check(&Config::default(), &c) else { panic!() };
        assert!((conf - (-0.1f64).exp()).abs() < 1e-3);
        let strict = parse_config(r#"{"min_mean_logprob": -1.0}"#).unwrap();
        c.mean_logprob = Some(-2.5);
        assert!(escalates(&check(&strict, &c), "mean logprob -2.50 < -1"));
        c.mean_logprob = None;
        assert!(matches!(check(&strict, &c), Verdict::Accept(_)));
    }

    #[test]
    fn config_is_validated() {
        assert_eq!(parse_config("").unwrap(), Config::default());
        assert!(parse_config(r#"{"max_repeat_share": 2}"#).unwrap_err().contains("max_repeat_share"));
        assert!(parse_config(r#"{"min_mean_logprob": 1}"#).unwrap_err().contains("<= 0"));
        assert!(parse_config(r#"{"refusal_phrases": ["ok", " "]}"#).unwrap_err().contains("refusal_phrases[1]"));
        assert!(parse_config(r#"{"min_char": 1}"#).unwrap_err().contains("unknown field `min_char`"));
    }
}
