//! One request as a learned router sees it: named shape features (the first-party plugins'
//! signals) and hashed n-grams (see [`crate::ngrams`]).
//!
//! Training ([`extract`]) and scoring ([`crate::model::Scorer`]) both walk the text through
//! [`for_each_hashed`] and [`named`], so a model scores at run time exactly the features it
//! was fitted on.

use serde::{Deserialize, Serialize};

use crate::ngrams::{self, Namespace};
use crate::{answer, math, question};

/// What a model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The prompt only: for a policy's start tier.
    PreRoute,
    /// The prompt and the cheap model's answer: for a cascade's escalation decision.
    Gate,
}

/// How text becomes features. Stored in the model: a model is scored with the spec it was
/// trained with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Hash space of the n-grams: `2^bits` buckets (3..=24), a quarter per namespace.
    pub bits: u32,
    /// Word n-gram lengths, `[min, max]`; `[0, 0]` for none.
    pub word_ngrams: [u8; 2],
    /// Character n-gram lengths in bytes, `[min, max]`; `[0, 0]` for none.
    pub char_ngrams: [u8; 2],
    /// Gates: n-grams of the answer too (the named answer checks are always read).
    pub answer_ngrams: bool,
    /// Only the first this many characters of the prompt and of the answer are read.
    pub max_chars: usize,
}

impl Default for FeatureSpec {
    fn default() -> Self {
        FeatureSpec { bits: 18, word_ngrams: [1, 2], char_ngrams: [3, 5], answer_ngrams: true, max_chars: 4000 }
    }
}

impl FeatureSpec {
    /// Checks the ranges a scorer relies on.
    pub fn validate(&self) -> Result<(), String> {
        if !(3..=24).contains(&self.bits) {
            return Err(format!("features.bits: expected 3..=24, got {}", self.bits));
        }
        for (key, [lo, hi]) in [("word_ngrams", self.word_ngrams), ("char_ngrams", self.char_ngrams)] {
            if lo > hi || hi > 8 || (lo == 0 && hi != 0) {
                return Err(format!("features.{key}: expected [min, max] with 1 <= min <= max <= 8, or [0, 0]"));
            }
        }
        if self.max_chars == 0 {
            return Err("features.max_chars: expected a number > 0".into());
        }
        Ok(())
    }

    /// The namespaces a model of `kind` reads.
    pub fn namespaces(&self, kind: Kind) -> Vec<Namespace> {
        let answer = kind == Kind::Gate && self.answer_ngrams;
        Namespace::ALL
            .into_iter()
            .filter(|ns| answer || matches!(ns, Namespace::PromptWords | Namespace::PromptChars))
            .collect()
    }
}

/// The named features of a prompt-only model, in order.
pub const PROMPT_FEATURES: [&str; 8] = [
    "prompt.log_chars",
    "prompt.numbers",
    "difficulty.length",
    "difficulty.compound",
    "difficulty.options",
    "difficulty.negation",
    "difficulty.quantitative",
    "difficulty.symbolic",
];

/// The named features a gate adds, in order.
pub const ANSWER_FEATURES: [&str; 15] = [
    "answer.log_chars",
    "answer.length_ratio",
    "answer.repetition",
    "answer.refusal",
    "answer.steps",
    "answer.numbers",
    "answer.final_magnitude",
    "answer.final_in_question",
    "math-check.arithmetic",
    "math-check.no_final_answer",
    "math-check.non_integer",
    "math-check.hedging",
    "math-check.unused_numbers",
    "math-check.question_length",
    "math-check.question_numbers",
];

/// The names of the named features of `kind`, in order.
pub fn named_features(kind: Kind) -> Vec<&'static str> {
    let mut names = PROMPT_FEATURES.to_vec();
    if kind == Kind::Gate {
        names.extend(ANSWER_FEATURES);
    }
    names
}

/// Phrase lists the answer checks use, normalised once.
#[derive(Debug, Clone)]
pub struct Phrases {
    final_markers: Vec<String>,
    hedges: Vec<String>,
    refusals: Vec<String>,
}

impl Default for Phrases {
    fn default() -> Self {
        let own = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        Phrases {
            final_markers: own(math::DEFAULT_FINAL_MARKERS),
            hedges: own(math::DEFAULT_HEDGES),
            refusals: own(answer::DEFAULT_REFUSALS),
        }
    }
}

/// `text` cut to its first `max_chars` characters.
pub fn head(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// The named features of one request, in [`named_features`] order (`answer` is read for
/// gates only).
pub fn named(kind: Kind, spec: &FeatureSpec, phrases: &Phrases, prompt: &str, answer: Option<&str>) -> Vec<f64> {
    let prompt = head(prompt, spec.max_chars);
    let prompt_chars = prompt.chars().count() as f64;
    let mut out = Vec::with_capacity(PROMPT_FEATURES.len() + ANSWER_FEATURES.len());
    out.push(prompt_chars.ln_1p());
    out.push((math::numbers(prompt).len() as f64).ln_1p());
    out.extend(question::values(prompt));
    if kind == Kind::Gate {
        let answer = head(answer.unwrap_or_default(), spec.max_chars);
        let answer_chars = answer.chars().count() as f64;
        out.push(answer_chars.ln_1p());
        out.push(answer_chars.ln_1p() - prompt_chars.ln_1p());
        out.push(answer::ngram_repeat_share(answer, 30).max(answer::line_repeat_share(answer)));
        out.push(if answer::refusal(answer, &phrases.refusals, 300).is_some() { 1.0 } else { 0.0 });
        let found = math::inspect(prompt, answer, &phrases.final_markers, &phrases.hedges);
        out.push((found.equations as f64).ln_1p());
        out.push((found.answer_numbers as f64).ln_1p());
        out.push(found.final_value.map_or(0.0, |v| v.abs().ln_1p()));
        out.push(if found.final_in_question { 1.0 } else { 0.0 });
        out.extend(found.values);
    }
    out
}

/// Walks every hashed n-gram of one request: `emit(namespace, bucket)` per n-gram, and
/// returns the number of n-grams per namespace (in [`Namespace::ALL`] order), by which each
/// namespace's counts are divided (their square root) so that long texts do not dominate.
pub fn for_each_hashed(
    kind: Kind,
    spec: &FeatureSpec,
    prompt: &str,
    answer: Option<&str>,
    mut emit: impl FnMut(Namespace, u32),
) -> [usize; 4] {
    let mut counts = [0usize; 4];
    let [wl, wh] = spec.word_ngrams;
    let [cl, ch] = spec.char_ngrams;
    for ns in spec.namespaces(kind) {
        let text = match ns {
            Namespace::PromptWords | Namespace::PromptChars => head(prompt, spec.max_chars),
            Namespace::AnswerWords | Namespace::AnswerChars => head(answer.unwrap_or_default(), spec.max_chars),
        };
        let n = match ns {
            Namespace::PromptWords | Namespace::AnswerWords => {
                ngrams::words(text, ns, (wl, wh), spec.bits, |b| emit(ns, b))
            }
            Namespace::PromptChars | Namespace::AnswerChars => {
                ngrams::chars(text, ns, (cl, ch), spec.bits, |b| emit(ns, b))
            }
        };
        counts[ns as usize - 1] = n;
    }
    counts
}

/// The scale of a namespace's counts: `1 / sqrt(n-grams)`.
pub fn scale(count: usize) -> f64 {
    if count == 0 { 0.0 } else { 1.0 / (count as f64).sqrt() }
}

/// One request's features for training: named values and `(bucket, value)` of the hashed
/// n-grams, summed per bucket across namespaces (sorted by bucket).
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    /// In [`named_features`] order.
    pub named: Vec<f64>,
    /// Sorted by bucket, each bucket once.
    pub hashed: Vec<(u32, f64)>,
}

/// The features of one request, as [`crate::model::Scorer`] reads them.
pub fn extract(kind: Kind, spec: &FeatureSpec, phrases: &Phrases, prompt: &str, answer: Option<&str>) -> Extracted {
    let mut raw: Vec<(u32, u8)> = Vec::new();
    let counts = for_each_hashed(kind, spec, prompt, answer, |ns, b| raw.push((b, ns as u8)));
    raw.sort_unstable();
    let mut hashed: Vec<(u32, f64)> = Vec::new();
    for (bucket, ns) in raw {
        let v = scale(counts[usize::from(ns) - 1]);
        match hashed.last_mut() {
            Some((b, sum)) if *b == bucket => *sum += v,
            _ => hashed.push((bucket, v)),
        }
    }
    Extracted { named: named(kind, spec, phrases, prompt, answer), hashed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_values_line_up_with_their_names() {
        let spec = FeatureSpec::default();
        let phrases = Phrases::default();
        let q = "Tom has 3 apples and buys 4 more. How many?";
        let pre = named(Kind::PreRoute, &spec, &phrases, q, Some("ignored"));
        assert_eq!(pre.len(), named_features(Kind::PreRoute).len());
        let gate = named(Kind::Gate, &spec, &phrases, q, Some("3 + 4 = 8\n#### 8"));
        let names = named_features(Kind::Gate);
        assert_eq!(gate.len(), names.len());
        let value = |name: &str| gate[names.iter().position(|n| *n == name).unwrap()];
        assert_eq!(value("math-check.arithmetic"), 1.0);
        assert_eq!(value("math-check.no_final_answer"), 0.0);
        assert_eq!(value("answer.final_in_question"), 0.0);
        assert_eq!(value("answer.steps"), 1f64.ln_1p());
        assert_eq!(gate[..pre.len()], pre[..]);
    }

    #[test]
    fn extraction_sums_buckets_and_pre_route_ignores_the_answer() {
        let spec = FeatureSpec { bits: 4, ..FeatureSpec::default() };
        let phrases = Phrases::default();
        let e = extract(Kind::PreRoute, &spec, &phrases, "a b a b a b", Some("zzz"));
        assert!(e.hashed.windows(2).all(|w| w[0].0 < w[1].0), "sorted, each bucket once");
        assert!(e.hashed.iter().all(|(b, v)| *b < 16 && *v > 0.0));
        assert_eq!(e, extract(Kind::PreRoute, &spec, &phrases, "a b a b a b", None));
        let g = extract(Kind::Gate, &spec, &phrases, "a b a b a b", Some("zzz"));
        assert_ne!(g.hashed, e.hashed);
        assert!(FeatureSpec { bits: 0, ..spec.clone() }.validate().is_err());
        assert!(FeatureSpec { word_ngrams: [2, 1], ..spec }.validate().is_err());
    }
}
