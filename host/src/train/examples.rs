//! Labelled items as training examples: each item's features (the ones the `learned`
//! plugins compute at run time), its label, and the two models' scores the routing curve is
//! drawn from.

use switchyard_features::vector::{self, Extracted, FeatureSpec, Kind, Phrases};

use crate::eval::data::{Dataset, Item, fnv1a};

/// What label 1 means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Label {
    /// The strong model's score is higher than the weak one's: escalating would help.
    StrongBetter,
    /// The weak model's score is below `good`: its answer is not good enough, whatever the
    /// strong model would do.
    WeakWrong,
}

impl Label {
    /// The sentence stored in the model's `predicts`.
    pub fn describe(self, weak: &str, strong: &str, good: f64) -> String {
        match self {
            Label::StrongBetter => format!("P({strong} scores higher than {weak})"),
            Label::WeakWrong => format!("P({weak} scores below {good})"),
        }
    }
}

/// The examples of one training run.
#[derive(Debug, Clone, Default)]
pub struct Examples {
    pub rows: Vec<Extracted>,
    pub labels: Vec<bool>,
    /// Weak and strong scores, per row.
    pub weak: Vec<f64>,
    pub strong: Vec<f64>,
    /// The split key's hash ([`Item::key_text`], FNV-1a 64), per row.
    pub hashes: Vec<u64>,
}

impl Examples {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn positives(&self) -> usize {
        self.labels.iter().filter(|l| **l).count()
    }
}

/// Why the items could not become examples.
#[derive(Debug, thiserror::Error)]
pub enum ExampleError {
    #[error("item `{id}` has no answer text from `{model}`; a gate model reads the cheap model's answer")]
    NoAnswer { id: String, model: String },
}

/// The prompt a plugin sees: the last user message (`Request::last_user_message`).
pub fn prompt(item: &Item) -> &str {
    item.messages.iter().rev().find(|m| m.role == "user").map_or("", |m| m.content.as_str())
}

/// Builds an example from every item of `items` that has both models' results.
pub fn build(
    dataset: &Dataset,
    items: &[&Item],
    (weak, strong): (usize, usize),
    kind: Kind,
    spec: &FeatureSpec,
    (label, good): (Label, f64),
) -> Result<Examples, ExampleError> {
    let phrases = Phrases::default();
    let mut out = Examples::default();
    for item in items {
        let (Some(Some(w)), Some(Some(s))) = (item.results.get(weak), item.results.get(strong)) else {
            continue;
        };
        let answer =
            match kind {
                Kind::PreRoute => None,
                Kind::Gate => Some(w.answer.as_deref().ok_or_else(|| ExampleError::NoAnswer {
                    id: item.id.clone(),
                    model: dataset.models[weak].clone(),
                })?),
            };
        out.rows.push(vector::extract(kind, spec, &phrases, prompt(item), answer));
        out.labels.push(match label {
            Label::StrongBetter => s.score > w.score,
            Label::WeakWrong => w.score < good,
        });
        out.weak.push(w.score);
        out.strong.push(s.score);
        out.hashes.push(fnv1a(item.key_text().as_bytes()));
    }
    Ok(out)
}
