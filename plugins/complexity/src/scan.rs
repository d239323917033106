//! The feature scans behind each signal. Each returns a value in 0..=1.

use std::collections::HashMap;
use std::sync::LazyLock;

/// Whether `needle` occurs in `hay` as a whole word: not preceded or followed by a letter,
/// digit or `_` where the needle itself starts or ends with one.
pub fn has_word(hay: &str, needle: &str) -> bool {
    count_word(hay, needle, 1) > 0
}

/// How many whole-word occurrences of `needle` are in `hay`, stopping at `limit`.
fn count_word(hay: &str, needle: &str, limit: usize) -> usize {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let starts_word = needle.chars().next().is_some_and(is_word);
    let ends_word = needle.chars().last().is_some_and(is_word);
    let mut count = 0;
    for (i, _) in hay.match_indices(needle) {
        let before_ok = !starts_word || hay[..i].chars().next_back().is_none_or(|c| !is_word(c));
        let after_ok = !ends_word || hay[i + needle.len()..].chars().next().is_none_or(|c| !is_word(c));
        if before_ok && after_ok {
            count += 1;
            if count >= limit {
                break;
            }
        }
    }
    count
}

/// Every keyword of every list, indexed once per instance: plain words (most of them) in a
/// hash map that the text's words are looked up in, one lookup per word of the text; the
/// few phrases and symbols are searched for directly. A `contains` per keyword cost ~10 µs a
/// request. (An Aho-Corasick automaton searched faster still but took ~0.3 ms to build in
/// every fresh instance.)
struct Keywords {
    /// Plain-word keyword to its index.
    plain: HashMap<&'static str, usize, Fnv>,
    /// Phrases and symbols, with their keyword index.
    phrases: Vec<(&'static str, usize)>,
    /// Keyword text to its index (for [`Text::has`]).
    index: HashMap<&'static str, usize, Fnv>,
    /// Per list (code, math, reasoning), the indices of its keywords.
    lists: [Vec<usize>; 3],
}

/// The keyword lists, in the order of `Keywords::lists`.
#[derive(Clone, Copy)]
enum List {
    Code = 0,
    Math = 1,
    Reasoning = 2,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_plain_word(keyword: &str) -> bool {
    keyword.chars().all(is_word_char)
}

/// FNV-1a: keys are short words, so a simple hash beats SipHash several times over.
#[derive(Default, Clone, Copy)]
struct Fnv;

impl std::hash::BuildHasher for Fnv {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

struct FnvHasher(u64);

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

static KEYWORDS: LazyLock<Option<Keywords>> = LazyLock::new(|| {
    let mut index: HashMap<&'static str, usize, Fnv> = HashMap::default();
    let mut plain: HashMap<&'static str, usize, Fnv> = HashMap::default();
    let mut phrases = Vec::new();
    let mut lists: [Vec<usize>; 3] = Default::default();
    for (list, words) in [CODE_WORDS, MATH_WORDS, REASONING].iter().enumerate() {
        for &keyword in *words {
            let next = index.len();
            let id = *index.entry(keyword).or_insert(next);
            if id == next {
                if is_plain_word(keyword) {
                    plain.insert(keyword, id);
                } else {
                    phrases.push((keyword, id));
                }
            }
            lists[list].push(id);
        }
    }
    Some(Keywords { plain, phrases, index, lists })
});

/// The lowercased text and which keywords and markers it contains, found in one pass.
pub struct Text<'a> {
    pub lower: &'a str,
    /// Per keyword index: found, as a whole word.
    found: Vec<bool>,
    pub has_trace: bool,
    pub has_latex: bool,
}

impl<'a> Text<'a> {
    /// `text` is the original (for LaTeX, which is case-sensitive), `lower` its lowercase.
    pub fn new(text: &str, lower: &'a str) -> Self {
        let Some(keywords) = KEYWORDS.as_ref() else {
            return Text { lower, found: Vec::new(), has_trace: false, has_latex: false };
        };
        let mut found = vec![false; keywords.index.len()];
        for word in lower.split(|c: char| !is_word_char(c)) {
            if let Some(&id) = keywords.plain.get(word) {
                found[id] = true;
            }
        }
        for &(phrase, id) in &keywords.phrases {
            if has_word(lower, phrase) {
                found[id] = true;
            }
        }
        Text {
            lower,
            found,
            has_trace: TRACE_MARKERS.iter().any(|m| lower.contains(m)) || lower.contains("\n    at "),
            has_latex: LATEX.iter().any(|m| text.contains(m)),
        }
    }

    /// Whether `keyword` occurs as a whole word (see [`has_word`]).
    pub fn has(&self, keyword: &str) -> bool {
        match KEYWORDS.as_ref().and_then(|k| k.index.get(keyword)) {
            Some(&id) => self.found.get(id).copied().unwrap_or(false),
            None => has_word(self.lower, keyword),
        }
    }

    /// How many keywords of `list` occur (each counted once).
    fn hits(&self, list: List) -> usize {
        KEYWORDS.as_ref().map_or(0, |k| {
            k.lists[list as usize].iter().filter(|&&id| self.found.get(id).copied().unwrap_or(false)).count()
        })
    }
}

/// Keywords, idioms and names of programming languages and tools (lowercase). Words that
/// are common in prose too (`class`, `return`, `let`, `from`, `where`) are left out.
const CODE_WORDS: &[&str] = &[
    "fn",
    "def",
    "#include",
    "const",
    "struct",
    "impl",
    "public static",
    "void",
    "async",
    "await",
    "lambda",
    "=>",
    "->",
    "::",
    "println!",
    "console.log",
    "printf",
    "nullptr",
    "self.",
    "this.",
    "compiler",
    "regex",
    "segfault",
    "dockerfile",
    "kubectl",
    "git",
    "npm",
    "pip install",
    "sql",
    "api",
    "refactor",
    "debug",
    "python",
    "javascript",
    "typescript",
    "rust",
    "java",
    "c++",
    "golang",
    "html",
    "css",
    "bash",
    "function(",
];

/// Markers of stack traces and compiler/runtime errors (lowercase).
const TRACE_MARKERS: &[&str] = &[
    "traceback (most recent call last)",
    "panicked at",
    "error[e",
    "exception in thread",
    "stack trace",
    "segmentation fault",
    "nullpointerexception",
    "undefined is not a function",
    "syntaxerror",
    "typeerror",
    "at line",
];

/// `complexity.code`.
pub fn code(text: &str, words: &Text<'_>) -> f64 {
    let mut score = 0.0;
    if text.contains("```") || text.lines().filter(|l| l.starts_with("    ") && !l.trim().is_empty()).count() >= 3 {
        score += 0.5;
    } else if text.matches('`').count() >= 2 {
        score += 0.1;
    }
    if words.has_trace {
        score += 0.4;
    }
    score += (0.1 * words.hits(List::Code) as f64).min(0.5);

    // Code is dense in brackets and operators; prose is not (about 1% in English).
    let mut visible = 0usize;
    let mut symbols = 0usize;
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        visible += 1;
        if matches!(c, '{' | '}' | '[' | ']' | '(' | ')' | ';' | '=' | '<' | '>' | '&' | '|') {
            symbols += 1;
        }
    }
    if visible >= 20 {
        let density = symbols as f64 / visible as f64;
        score += ((density - 0.03) / 0.07).clamp(0.0, 1.0) * 0.3;
    }
    score.min(1.0)
}

/// Words of mathematics (lowercase, whole words).
const MATH_WORDS: &[&str] = &[
    "equation",
    "integral",
    "derivative",
    "differentiate",
    "integrate",
    "matrix",
    "matrices",
    "eigenvalue",
    "polynomial",
    "theorem",
    "lemma",
    "proof",
    "probability",
    "variance",
    "logarithm",
    "sqrt",
    "limit",
    "modulo",
    "prime",
    "factorial",
    "vector",
    "calculus",
    "algebra",
    "geometry",
    "triangle",
    "hypotenuse",
    "solve for",
    "sum of",
    "product of",
    "expected value",
    "combinatorics",
    "permutations",
    "percent",
];

/// LaTeX and math notation.
const LATEX: &[&str] = &[
    "\\frac", "\\sum", "\\int", "\\sqrt", "\\lim", "\\alpha", "\\cdot", "$$", "\\(", "\\[", "∑", "∫", "√", "≤", "≥",
    "≠", "π",
];

/// `complexity.math`.
pub fn math(text: &str, words: &Text<'_>) -> f64 {
    let ops = arithmetic(text);
    let mut score = 0.5 * (ops as f64 / 3.0).min(1.0);
    if words.has_latex {
        score += 0.4;
    }
    score += 0.2 * words.hits(List::Math) as f64;
    score.min(1.0)
}

/// Counts operators with a number on one side and a number, a one-letter variable or a
/// bracket on the other (`2+2`, `3x - 1`, `x = 5`, `(a+b)^2`), skipping prose hyphens such as
/// `step-by-step` and dates' dashes... mostly: `2024-01-05` counts, harmlessly.
fn arithmetic(text: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    let mut count = 0;
    for (i, &c) in chars.iter().enumerate() {
        if !matches!(c, '+' | '-' | '*' | '/' | '^' | '=' | '×' | '÷' | '<' | '>') {
            continue;
        }
        let prev = chars[..i].iter().rev().find(|c| **c != ' ').copied();
        let next = chars[i + 1..].iter().find(|c| **c != ' ').copied();
        let (Some(prev), Some(next)) = (prev, next) else { continue };
        let numeric = |c: char| c.is_ascii_digit();
        let operand = |c: char, at: usize, dir: isize| {
            numeric(c) || c == '(' || c == ')' || (c.is_ascii_alphabetic() && single_letter(&chars, at, dir))
        };
        let prev_at = i - 1 - chars[..i].iter().rev().take_while(|c| **c == ' ').count();
        let next_at = i + 1 + chars[i + 1..].iter().take_while(|c| **c == ' ').count();
        if (numeric(prev) || numeric(next)) && operand(prev, prev_at, -1) && operand(next, next_at, 1) {
            count += 1;
        }
    }
    count
}

/// Whether the letter at `at` is a lone variable (`x`, or `3x`): the letter beyond it, away
/// from the operator, is not another letter.
fn single_letter(chars: &[char], at: usize, dir: isize) -> bool {
    let beyond = at as isize + dir;
    if beyond < 0 || beyond as usize >= chars.len() {
        return true;
    }
    !chars[beyond as usize].is_alphabetic()
}

/// Multi-step reasoning markers (lowercase). "first … then" is checked separately.
const REASONING: &[&str] = &[
    "step by step",
    "step-by-step",
    "prove",
    "proof",
    "explain why",
    "why does",
    "why is",
    "why do",
    "compare",
    "comparison",
    "contrast",
    "trade-off",
    "tradeoff",
    "trade-offs",
    "pros and cons",
    "analyze",
    "analyse",
    "derive",
    "justify",
    "evaluate",
    "reason about",
    "implications",
    "what if",
    "design a",
    "plan for",
    "in detail",
    "think through",
    "walk me through",
];

/// `complexity.reasoning`.
pub fn reasoning(words: &Text<'_>) -> f64 {
    let lower = words.lower;
    let mut hits = words.hits(List::Reasoning);
    if let Some(first) = lower.find("first")
        && lower[first..].contains("then")
    {
        hits += 1;
    }
    (0.3 * hits as f64).min(1.0)
}

/// `complexity.questions`: `(number of questions − 1) / 3`; a run of `??` counts once.
pub fn questions(text: &str) -> f64 {
    let mut count = 0usize;
    let mut prev = ' ';
    for c in text.chars() {
        if c == '?' && prev != '?' {
            count += 1;
        }
        prev = c;
    }
    (count.saturating_sub(1) as f64 / 3.0).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_respect_boundaries() {
        assert!(has_word("let x = 1", "let"));
        assert!(!has_word("outlet", "let"));
        assert!(!has_word("letter", "let"));
        assert!(has_word("a::b", "::"));
        assert_eq!(count_word("fn fn fn", "fn", 2), 2);
    }

    #[test]
    fn arithmetic_counts_operators_not_hyphens() {
        assert_eq!(arithmetic("step-by-step, well-known"), 0);
        assert_eq!(arithmetic("2+2"), 1);
        assert_eq!(arithmetic("3x - 1 = 11"), 2);
        assert_eq!(arithmetic("x = 5"), 1);
        assert_eq!(arithmetic("a = b"), 0);
        assert_eq!(arithmetic("is = a"), 0);
    }

    #[test]
    fn questions_count() {
        assert_eq!(questions("Why?"), 0.0);
        assert_eq!(questions("What?? How? Where? When?"), 1.0);
        assert!((questions("A? B?") - 1.0 / 3.0).abs() < 1e-9);
    }
}
