//! What the simulated models say. Everything follows from a hash of the model and the
//! prompt, so a test (or `switchyard eval`) gets the same answer, tokens and latency on
//! every run, yet different prompts get visibly different answers.
//!
//! `sim-small` is good at easy prompts and fails on hard ones in ways quality gates are
//! meant to catch: truncation, refusal, degenerate repetition, wrong format. `sim-large`
//! always answers properly, slower. That is the whole premise of a cascade, in miniature.

use serde_json::{Map, Value, json};

use crate::provider::cost::{estimate_prompt_tokens, estimate_tokens, message_text};

/// The refusal `sim-small` gives on some hard prompts.
pub const REFUSAL: &str = "I'm sorry, but I can't help with that.";

/// Which simulated model quality to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    /// `sim-small`: fails on hard prompts.
    Small,
    /// `sim-large`: always answers properly.
    Large,
}

/// A generated answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The assistant message content.
    pub content: String,
    /// `"stop"` or `"length"`.
    pub finish_reason: &'static str,
    /// Prompt tokens (estimated from the messages like the host's estimator).
    pub prompt_tokens: u32,
    /// Completion tokens.
    pub completion_tokens: u32,
    /// Per-token logprobs: near 0 for good answers, low for failures.
    pub logprobs: Vec<f64>,
    /// Seed for ids and the like.
    pub seed: u64,
    /// Tool calls the answer makes (then `content` is empty and `finish_reason` is
    /// `tool_calls`); see [`super::tools`].
    pub tool_calls: Vec<super::tools::SimToolCall>,
}

/// FNV-1a: tiny, stable across platforms and Rust versions (unlike `DefaultHasher`).
pub fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.as_bytes().iter().chain(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The prompt's text: every message's content, joined.
pub fn prompt_text(body: &Map<String, Value>) -> String {
    body.get("messages")
        .and_then(Value::as_array)
        .map(|ms| ms.iter().map(message_text).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// Whether the request asks for JSON (response_format, or the prompt says so).
pub fn wants_json(body: &Map<String, Value>, text: &str) -> bool {
    let format = body.pointer_get("response_format", "type");
    matches!(format.as_deref(), Some("json_object") | Some("json_schema")) || text.to_ascii_lowercase().contains("json")
}

trait PointerGet {
    fn pointer_get(&self, a: &str, b: &str) -> Option<String>;
}
impl PointerGet for Map<String, Value> {
    fn pointer_get(&self, a: &str, b: &str) -> Option<String> {
        self.get(a)?.get(b)?.as_str().map(str::to_string)
    }
}

const HARD_MARKERS: &[&str] = &[
    "```",
    "code",
    "function",
    "implement",
    "def ",
    "fn ",
    "class ",
    "regex",
    "sql",
    "prove",
    "proof",
    "step by step",
    "derive",
    "integral",
    "theorem",
    "equation",
    "calculate",
    "algorithm",
    "json",
];

/// Whether a prompt is hard for a small model: long, code, multi-step math, or JSON.
pub fn is_hard(text: &str, json: bool) -> bool {
    let lower = text.to_ascii_lowercase();
    json || text.chars().count() > 1200 || HARD_MARKERS.iter().any(|m| lower.contains(m))
}

/// Sentences a simulated answer is made of: generic, but each reads as English, so a
/// newcomer trying the quickstart sees answers rather than word salad.
const SENTENCES: &[&str] = &[
    "The short answer is that it depends on a few details, but the usual approach works in most cases.",
    "Start with the simplest version that could work, then check it against a small example.",
    "The main thing to keep in mind is the trade-off between cost and accuracy.",
    "Most people find that breaking the problem into smaller steps makes it much easier.",
    "If you share a bit more context, I can give you a more specific recommendation.",
    "A good rule of thumb is to measure first and optimise only what the numbers point to.",
    "There are two common ways to do this, and both are well documented.",
    "In practice the difference is small unless the input is very large.",
    "It is worth writing down the assumptions, because they tend to change over time.",
    "The first option is quicker to set up, while the second is easier to maintain.",
    "Here is the gist: keep it simple, test the edge cases, and document the result.",
    "That is a common question, and the answer has not changed much in recent years.",
    "You can verify this yourself with a quick experiment on a small sample.",
    "Historically this has been handled by hand, but tools now make it routine.",
    "One caveat is that results may vary with the version you are using.",
    "Overall, the standard advice holds and should serve you well here.",
];

/// Sentences picked deterministically from `seed`, at least `n` words in all.
fn prose(seed: u64, n: usize) -> String {
    let mut s = seed;
    let mut out = String::new();
    let mut count = 0;
    let mut last = usize::MAX;
    while count < n.max(1) {
        s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let mut pick = (s >> 33) as usize % SENTENCES.len();
        if pick == last {
            pick = (pick + 1) % SENTENCES.len();
        }
        last = pick;
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(SENTENCES[pick]);
        count += SENTENCES[pick].split_whitespace().count();
    }
    out
}

/// Generates `model`'s answer to `body`.
pub fn answer(model: &str, quality: Quality, body: &Map<String, Value>) -> Answer {
    let text = prompt_text(body);
    let seed = hash(&[model, &text]);
    let json = wants_json(body, &text);
    let hard = is_hard(&text, json);
    let words = 12 + (seed % 40) as usize;
    let topic: String = text.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
    if let Some(calls) = super::tools::calls(model, quality, body, &text) {
        let completion_tokens = calls.iter().map(|c| estimate_tokens(&c.arguments) + 4).sum::<u32>().max(1);
        let logprobs = vec![-0.05; completion_tokens as usize];
        return Answer {
            content: String::new(),
            finish_reason: "tool_calls",
            prompt_tokens: estimate_prompt_tokens(body),
            completion_tokens,
            logprobs,
            seed,
            tool_calls: calls,
        };
    }
    let after_tool = super::tools::after_result(body);
    let (mut content, mut finish_reason, good) = match (quality, hard) {
        _ if after_tool.is_some() => (after_tool.unwrap_or_default(), "stop", true),
        (Quality::Large, _) | (Quality::Small, false) if json => {
            // A `json_schema` response format is followed: values from the schema (strings
            // from the prompt), as structured outputs promise.
            let v = match body.get("response_format").and_then(|f| f.pointer("/json_schema/schema")) {
                Some(schema) => super::tools::value_for_schema(schema, &text),
                None => json!({"answer": prose(seed, words), "topic": topic, "confidence": 0.9}),
            };
            (v.to_string(), "stop", true)
        }
        (Quality::Large, _) | (Quality::Small, false) => {
            (format!("On \"{topic}\": {}", prose(seed, words)), "stop", true)
        }
        (Quality::Small, true) => match (seed >> 8) % 4 {
            0 => {
                let full = prose(seed, words + 40);
                let cut: String = full.chars().take(full.chars().count() / 3).collect();
                (cut, "length", false)
            }
            1 => (REFUSAL.to_string(), "stop", false),
            2 if !json => {
                let phrase = format!("{} ", prose(seed, 3));
                (phrase.repeat(6).trim_end().to_string(), "stop", false)
            }
            _ => (format!("Well, {} (no JSON here, sorry)", prose(seed, words)), "stop", false),
        },
    };
    if let Some(max) = body.get("max_tokens").or(body.get("max_completion_tokens")).and_then(Value::as_u64) {
        let max_chars = usize::try_from(max.saturating_mul(4)).unwrap_or(usize::MAX);
        if content.chars().count() > max_chars {
            content = content.chars().take(max_chars).collect();
            finish_reason = "length";
        }
    }
    let completion_tokens = estimate_tokens(&content).max(1);
    let logprobs = (0..completion_tokens)
        .map(|i| {
            let jitter = (hash(&[&seed.to_string(), &i.to_string()]) % 100) as f64 / 1000.0;
            if good { -0.05 - jitter } else { -1.5 - 10.0 * jitter }
        })
        .collect();
    Answer {
        content,
        finish_reason,
        prompt_tokens: estimate_prompt_tokens(body),
        completion_tokens,
        logprobs,
        seed,
        tool_calls: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn ask(text: &str) -> Map<String, Value> {
        body(json!({"messages": [{"role": "user", "content": text}]}))
    }

    #[test]
    fn deterministic_and_prompt_dependent() {
        let a = answer("sim-small", Quality::Small, &ask("What is the capital of France?"));
        assert_eq!(a, answer("sim-small", Quality::Small, &ask("What is the capital of France?")));
        assert_ne!(a.content, answer("sim-small", Quality::Small, &ask("Name a color.")).content);
        assert_eq!(a.finish_reason, "stop");
        assert!(a.logprobs.iter().all(|l| *l > -0.5));
    }

    #[test]
    fn small_fails_every_hard_prompt_large_does_not() {
        let mut kinds = std::collections::BTreeSet::new();
        for i in 0..40 {
            let prompt = format!("Prove step by step that lemma {i} holds.");
            let a = answer("sim-small", Quality::Small, &ask(&prompt));
            let kind = if a.finish_reason == "length" {
                "truncated"
            } else if a.content == REFUSAL {
                "refusal"
            } else if a.content.contains("no JSON") {
                "format"
            } else {
                "repetition"
            };
            kinds.insert(kind);
            assert!(a.logprobs.iter().all(|l| *l < -1.0));
            let b = answer("sim-large", Quality::Large, &ask(&prompt));
            assert_eq!(b.finish_reason, "stop");
            assert_ne!(b.content, REFUSAL);
        }
        assert_eq!(kinds.len(), 4, "{kinds:?}");
    }

    #[test]
    fn json_requests() {
        let req = body(json!({"messages": [{"role": "user", "content": "List three fruits"}],
                              "response_format": {"type": "json_object"}}));
        let large = answer("sim-large", Quality::Large, &req);
        assert!(serde_json::from_str::<Value>(&large.content).is_ok());
        let small = answer("sim-small", Quality::Small, &req);
        assert!(serde_json::from_str::<Value>(&small.content).is_err());
    }

    #[test]
    fn max_tokens_truncates() {
        let mut req = ask("Tell me about rivers");
        req.insert("max_tokens".into(), json!(2));
        let a = answer("sim-large", Quality::Large, &req);
        assert_eq!((a.finish_reason, a.completion_tokens), ("length", 2));
    }

    #[test]
    fn empty_and_odd_bodies_do_not_panic() {
        let a = answer("sim-small", Quality::Small, &Map::new());
        assert!(!a.content.is_empty());
        let a = answer("sim-small", Quality::Small, &body(json!({"messages": "nope", "max_tokens": -1})));
        assert!(a.completion_tokens > 0);
    }
}
