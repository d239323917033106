//! Generic checks of an answer's text, the ones the `sanity` gate applies: refusals and
//! degenerate repetition.

use std::collections::HashSet;

/// Phrases that open a refusal (lowercase, straight apostrophes).
pub const DEFAULT_REFUSALS: &[&str] = &[
    "i can't help with",
    "i cannot help with",
    "i can't assist",
    "i cannot assist",
    "i'm unable to help",
    "i am unable to help",
    "i'm not able to help",
    "i can't provide",
    "i cannot provide",
    "i won't be able to",
    "i'm sorry, but i can't",
    "i'm sorry, but i cannot",
    "sorry, i can't",
    "as an ai",
    "as a language model",
    "i'm just an ai",
];

/// Lowercase with curly apostrophes and quotes made straight.
pub fn normalize(s: &str) -> String {
    s.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'").replace(['\u{201c}', '\u{201d}'], "\"")
}

/// The first of `phrases` (already [`normalize`]d) found in the first `window` characters.
pub fn refusal<'a>(text: &str, phrases: &'a [String], window: usize) -> Option<&'a str> {
    let head: String = text.chars().take(window).collect();
    let head = normalize(&head);
    phrases.iter().find(|p| head.contains(p.as_str())).map(String::as_str)
}

/// Share of word 4-grams that repeat an earlier one; 0 for answers under `min_words` words.
pub fn ngram_repeat_share(text: &str, min_words: usize) -> f64 {
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    if words.len() < min_words.max(4) {
        return 0.0;
    }
    let grams = words.windows(4);
    let total = grams.len();
    let distinct: HashSet<&[String]> = words.windows(4).collect();
    (total - distinct.len()) as f64 / total as f64
}

/// Share of non-empty lines that repeat an earlier line; 0 under 3 lines. Lines of code
/// closing brackets and the like (under 4 characters) do not count.
pub fn line_repeat_share(text: &str) -> f64 {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| l.chars().count() >= 4).collect();
    if lines.len() < 3 {
        return 0.0;
    }
    let distinct: HashSet<&str> = lines.iter().copied().collect();
    (lines.len() - distinct.len()) as f64 / lines.len() as f64
}
