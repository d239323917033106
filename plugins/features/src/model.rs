//! The learned-router model file that `switchyard train` writes and the `learned` plugin
//! runs: a logistic regression over [`crate::vector`]'s features, with what it was trained
//! on and how well it did.
//!
//! JSON, so that an operator can read what a model holds: the feature spec, the weight of
//! every named feature, the buckets of the hashed n-grams it kept (numbers only: no text of
//! the data set is stored), hyperparameters, FNV-1a hashes of the training prompts, and the
//! cross-validated scores. `format` and `version` let a newer plugin refuse, with a clear
//! error, a file it does not understand.

use serde::{Deserialize, Serialize};

use crate::ngrams::Namespace;
use crate::vector::{self, FeatureSpec, Kind, Phrases};

/// The value of [`Model::format`].
pub const FORMAT: &str = "switchyard-learned-router";
/// The version this crate reads and writes.
pub const VERSION: u32 = 1;

/// A trained router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// Pre-route or gate.
    pub kind: Kind,
    /// What the predicted probability is the probability of, in words.
    pub predicts: String,
    /// How text becomes features.
    pub features: FeatureSpec,
    /// The logit's constant term.
    pub intercept: f64,
    /// Named features, in [`vector::named_features`] order: `weight · (x − mean) / scale`.
    pub named: Vec<NamedWeight>,
    /// Hashed n-gram buckets kept, ascending.
    pub buckets: Vec<u32>,
    /// The weight of each of `buckets`.
    pub weights: Vec<f32>,
    /// How the model was made.
    pub training: Training,
}

/// One named feature's standardisation and weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedWeight {
    /// The feature's name (see [`vector::PROMPT_FEATURES`], [`vector::ANSWER_FEATURES`]).
    pub name: String,
    /// Its mean over the training items.
    pub mean: f64,
    /// Its standard deviation over the training items (1 when constant).
    pub scale: f64,
    /// Its weight in the logit, per standard deviation.
    pub weight: f64,
}

/// Provenance and honest scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Training {
    /// The data files read.
    pub data: Vec<String>,
    /// The data's cheap and strong model names.
    pub weak: String,
    /// See `weak`.
    pub strong: String,
    /// Items trained on.
    pub items: usize,
    /// Of those, items labelled 1.
    pub positives: usize,
    /// Percent of the data held out of training by prompt hash (eval's `--holdout`).
    pub holdout_percent: u32,
    /// Hyperparameters, by name.
    pub hyperparameters: std::collections::BTreeMap<String, f64>,
    /// FNV-1a 64 of each training item's user text (eval's split key), 16 hex digits,
    /// ascending: lets `eval` notice, and drop, items the model was trained on.
    pub item_hashes: Vec<String>,
    /// Cross-validated scores.
    pub cv: CrossValidation,
}

/// Scores of out-of-fold predictions, with bootstrap 95 % intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CrossValidation {
    /// Folds (split by prompt hash).
    pub folds: u32,
    /// Bootstrap resamples behind the intervals.
    pub resamples: u32,
    /// Average performance gap recovered.
    pub apgr: Estimate,
    /// Share of strong calls to recover 50 % of the gap.
    pub cpt50: Estimate,
    /// Share of strong calls to recover 80 % of the gap.
    pub cpt80: Estimate,
    /// Area under the ROC curve of the label.
    pub auc: Estimate,
}

/// A point estimate and its 95 % interval (`None` where undefined, e.g. no gap).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Estimate {
    /// On all out-of-fold predictions.
    pub value: Option<f64>,
    /// 2.5th percentile over resamples.
    pub low: Option<f64>,
    /// 97.5th percentile over resamples.
    pub high: Option<f64>,
}

impl Model {
    /// Checks what a scorer relies on; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("model: `format` is {:?}, expected {FORMAT:?}", self.format));
        }
        if self.version != VERSION {
            return Err(format!(
                "model: version {} is not supported (this build reads version {VERSION})",
                self.version
            ));
        }
        self.features.validate().map_err(|e| format!("model: {e}"))?;
        let expected = vector::named_features(self.kind);
        let got: Vec<&str> = self.named.iter().map(|n| n.name.as_str()).collect();
        if got != expected {
            return Err(format!("model: named features {got:?} do not match this build's {expected:?}"));
        }
        if let Some(n) = self
            .named
            .iter()
            .find(|n| !(n.scale.is_finite() && n.scale > 0.0 && n.mean.is_finite() && n.weight.is_finite()))
        {
            return Err(format!("model: named feature `{}` needs a finite mean and weight and a scale > 0", n.name));
        }
        if self.buckets.len() != self.weights.len() {
            return Err(format!("model: {} buckets but {} weights", self.buckets.len(), self.weights.len()));
        }
        let size = 1u64 << self.features.bits;
        if self.buckets.iter().any(|b| u64::from(*b) >= size) || self.buckets.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("model: buckets must be ascending and below 2^{}", self.features.bits));
        }
        if !self.intercept.is_finite() || self.weights.iter().any(|w| !w.is_finite()) {
            return Err("model: weights must be finite".into());
        }
        Ok(())
    }

    /// Whether the model was trained on an item whose split key hashes to `hash`.
    pub fn trained_on(&self, hash: u64) -> bool {
        let key = format!("{hash:016x}");
        self.training.item_hashes.binary_search(&key).is_ok()
    }
}

/// A model ready to score: weights in a dense table indexed by bucket, one lookup per n-gram.
#[derive(Debug, Clone)]
pub struct Scorer {
    model: Model,
    table: Vec<f32>,
    phrases: Phrases,
}

/// One request's score and what drove it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// P(label = 1).
    pub probability: f64,
    /// Each named feature's and each n-gram namespace's share of the logit, largest
    /// magnitude first (the intercept is not listed).
    pub contributions: Vec<(String, f64)>,
}

impl Scorer {
    /// Validates `model` and builds its table.
    pub fn new(model: Model) -> Result<Self, String> {
        model.validate()?;
        let mut table = vec![0f32; 1usize << model.features.bits];
        for (b, w) in model.buckets.iter().zip(&model.weights) {
            table[*b as usize] = *w;
        }
        Ok(Scorer { model, table, phrases: Phrases::default() })
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Scores one request (`answer` is read by gates only).
    pub fn score(&self, prompt: &str, answer: Option<&str>) -> Scored {
        let m = &self.model;
        let mut sums = [0f64; 4];
        let counts = vector::for_each_hashed(m.kind, &m.features, prompt, answer, |ns, b| {
            sums[ns as usize - 1] += f64::from(self.table[b as usize]);
        });
        let named = vector::named(m.kind, &m.features, &self.phrases, prompt, answer);
        let mut contributions: Vec<(String, f64)> =
            m.named.iter().zip(named).map(|(n, x)| (n.name.clone(), n.weight * (x - n.mean) / n.scale)).collect();
        for ns in m.features.namespaces(m.kind) {
            let i = ns as usize - 1;
            contributions.push((ns.name().to_string(), sums[i] * vector::scale(counts[i])));
        }
        let logit = m.intercept + contributions.iter().map(|(_, c)| c).sum::<f64>();
        contributions.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        Scored { probability: sigmoid(logit), contributions }
    }
}

/// `1 / (1 + e^−x)`.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Names the namespaces' contributions in reasons, for callers that want to tell them from
/// named features.
pub fn is_ngram_contribution(name: &str) -> bool {
    Namespace::ALL.iter().any(|ns| ns.name() == name)
}

/// A reason naming the `top` strongest contributions toward the label, e.g.
/// `p 0.82 >= 0.5: answer words +1.10, math-check.arithmetic +0.74`.
pub fn reason(scored: &Scored, threshold: f64, top: usize) -> String {
    let named: Vec<String> = scored
        .contributions
        .iter()
        .filter(|(_, c)| *c > 0.0)
        .take(top)
        .map(|(name, c)| format!("{name} {c:+.2}"))
        .collect();
    let named = if named.is_empty() { "no feature above its mean".to_string() } else { named.join(", ") };
    format!("learned p {:.3} >= {threshold}: {named}", scored.probability)
}
