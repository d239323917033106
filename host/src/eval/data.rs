//! The labelled data set eval replays: prompts, and for each model how good its answer was
//! (and, when known, the answer itself and its token counts).
//!
//! Loaders ([`super::jsonl`], [`super::routellm`]) feed a [`Builder`]; [`Builder::finish`]
//! merges files, drops contaminated prompts and orders the models weakest first, so that
//! "weak" and "strong" mean the same thing whatever the files' column order.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::plugin::Message;

/// One model's answer to one item.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelResult {
    /// How good the answer was: 1 correct, 0 wrong, or a graded score. Accuracy is the mean.
    pub score: f64,
    /// The answer's text, which gates judge. Without it a route with gates cannot be replayed.
    pub answer: Option<String>,
    /// `stop` unless the data says otherwise.
    pub finish_reason: Option<String>,
    /// Mean log-probability of the answer's tokens, when the data has it (gates may use it).
    pub mean_logprob: Option<f64>,
    pub input_tokens: Option<u32>,
    pub output_tokens: Option<u32>,
    /// The call's cost in USD, when the data knows it better than prices × tokens.
    pub cost_usd: Option<f64>,
}

/// One prompt with every model's result.
#[derive(Debug, Clone)]
pub struct Item {
    /// Unique in the data set: `<file stem>:<line or row>` unless the data names it.
    pub id: String,
    /// Where it came from (the file stem, e.g. an MMLU subject): for per-group breakdowns
    /// only; plugins never see it, as the proxy would not.
    pub group: String,
    pub messages: Vec<Message>,
    /// Request metadata the proxy would pass (tenant, `x-switchyard-*` hints).
    pub metadata: Vec<(String, String)>,
    /// Indexed like [`Dataset::models`]; `None` when the data has no result for that model.
    pub results: Vec<Option<ModelResult>>,
}

impl Item {
    /// The text the holdout split and the contamination filter key on: every user message.
    pub fn key_text(&self) -> String {
        let user: Vec<&str> = self.messages.iter().filter(|m| m.role == "user").map(|m| m.content.as_str()).collect();
        user.join("\n\n")
    }

    /// Whether the item belongs to the held-out part when `percent` % are held out.
    ///
    /// A hash of the prompt, not of the position, decides: the same prompt lands in the same
    /// part whatever the file order or format, so a number reported on the held-out part can
    /// be reproduced, and tuning on the rest never peeks at it.
    pub fn is_holdout(&self, percent: u32) -> bool {
        fnv1a(self.key_text().as_bytes()) % 100 < u64::from(percent)
    }
}

/// FNV-1a, 64 bits: tiny, stable across platforms and releases (unlike `DefaultHasher`).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A loaded data set.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Model names as the data spells them, weakest (lowest mean score) first.
    pub models: Vec<String>,
    pub items: Vec<Item>,
    /// The files read.
    pub sources: Vec<PathBuf>,
    /// Items dropped because their prompt is listed as contaminated.
    pub contaminated: usize,
}

impl Dataset {
    pub fn model_index(&self, name: &str) -> Option<usize> {
        self.models.iter().position(|m| m == name)
    }

    /// Mean score of model `index` over the items that have a result for it.
    pub fn mean_score(&self, index: usize) -> f64 {
        mean_score(&self.items, index)
    }
}

fn mean_score(items: &[Item], index: usize) -> f64 {
    let (sum, n) = items
        .iter()
        .filter_map(|item| item.results.get(index).and_then(Option::as_ref))
        .fold((0.0, 0usize), |(sum, n), r| (sum + r.score, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// Why a data set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}: {message}", path.display())]
    Parse { path: PathBuf, line: usize, message: String },
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    #[error("{}: no data files (expected *.jsonl or *.csv)", path.display())]
    NoFiles { path: PathBuf },
    #[error("the data set is empty{}", if *.contaminated > 0 { format!(" ({contaminated} contaminated items dropped)") } else { String::new() })]
    Empty { contaminated: usize },
    #[error("item id `{id}` appears twice ({first} and {second})")]
    DuplicateId { id: String, first: String, second: String },
}

/// What loaders produce, before models are ordered.
#[derive(Debug, Default)]
pub struct Builder {
    models: Vec<String>,
    index: HashMap<String, usize>,
    items: Vec<Item>,
    sources: Vec<PathBuf>,
    ids: HashMap<String, String>,
    contaminated_prompts: HashSet<String>,
    /// Items a loader dropped as contaminated itself (MT-Bench's second turns).
    dropped_contaminated: usize,
}

impl Builder {
    /// The index of model `name`, adding it if new.
    pub fn model(&mut self, name: &str) -> usize {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        self.models.push(name.to_string());
        self.index.insert(name.to_string(), self.models.len() - 1);
        self.models.len() - 1
    }

    pub fn source(&mut self, path: &Path) {
        self.sources.push(path.to_path_buf());
    }

    /// Adds an item whose results are `(model index, result)` pairs.
    pub fn push(
        &mut self,
        mut item: Item,
        results: Vec<(usize, ModelResult)>,
        origin: impl Into<String>,
    ) -> Result<(), DataError> {
        let origin = origin.into();
        if let Some(first) = self.ids.insert(item.id.clone(), origin.clone()) {
            return Err(DataError::DuplicateId { id: item.id, first, second: origin });
        }
        item.results = vec![None; self.models.len()];
        for (model, result) in results {
            item.results[model] = Some(result);
        }
        self.items.push(item);
        Ok(())
    }

    /// Prompts to drop (RouteLLM's `contaminated_prompts.jsonl`).
    pub fn exclude_prompts(&mut self, prompts: impl IntoIterator<Item = String>) {
        self.contaminated_prompts.extend(prompts);
    }

    /// Counts items a loader dropped as contaminated before pushing them.
    pub fn dropped_contaminated(&mut self, n: usize) {
        self.dropped_contaminated += n;
    }

    /// Drops contaminated items and orders models weakest first.
    pub fn finish(self) -> Result<Dataset, DataError> {
        let before = self.items.len();
        let excluded = &self.contaminated_prompts;
        let mut items: Vec<Item> = self
            .items
            .into_iter()
            .filter(|item| !item.messages.iter().any(|m| m.role == "user" && excluded.contains(&m.content)))
            .collect();
        let contaminated = before - items.len() + self.dropped_contaminated;
        if items.is_empty() {
            return Err(DataError::Empty { contaminated });
        }
        let n = self.models.len();
        for item in &mut items {
            item.results.resize(n, None);
        }
        // Weakest first; ties keep first-seen order so the result does not depend on luck.
        let means: Vec<f64> = (0..n).map(|i| mean_score(&items, i)).collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| means[*a].total_cmp(&means[*b]).then(a.cmp(b)));
        let models = order.iter().map(|i| self.models[*i].clone()).collect();
        for item in &mut items {
            let mut old = std::mem::take(&mut item.results);
            item.results = order.iter().map(|i| old[*i].take()).collect();
        }
        Ok(Dataset { models, items, sources: self.sources, contaminated })
    }
}

/// The stem of a file name, for item ids and groups.
pub fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Parses a correctness cell: `True`/`False` (any case), `1`/`0`, or a number.
pub fn parse_score(text: &str) -> Option<f64> {
    let text = text.trim();
    match text.to_ascii_lowercase().as_str() {
        "true" => Some(1.0),
        "false" => Some(0.0),
        _ => text.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, prompt: &str) -> Item {
        Item {
            id: id.into(),
            group: "g".into(),
            messages: vec![Message::text("user", prompt)],
            metadata: vec![],
            results: vec![],
        }
    }

    fn result(score: f64) -> ModelResult {
        ModelResult { score, ..Default::default() }
    }

    #[test]
    fn orders_models_weakest_first_and_drops_contaminated() {
        let mut b = Builder::default();
        let strong = b.model("strong");
        let weak = b.model("weak");
        b.push(item("a", "p1"), vec![(strong, result(1.0)), (weak, result(0.0))], "f:1").unwrap();
        b.push(item("b", "p2"), vec![(strong, result(1.0)), (weak, result(1.0))], "f:2").unwrap();
        b.push(item("c", "dirty"), vec![(strong, result(0.0))], "f:3").unwrap();
        b.exclude_prompts(["dirty".to_string()]);
        let d = b.finish().unwrap();
        assert_eq!(d.models, ["weak", "strong"]);
        assert_eq!(d.contaminated, 1);
        assert_eq!(d.items.len(), 2);
        assert_eq!(d.items[0].results[0].as_ref().unwrap().score, 0.0);
        assert_eq!(d.items[0].results[1].as_ref().unwrap().score, 1.0);
        assert_eq!(d.mean_score(0), 0.5);
    }

    #[test]
    fn duplicate_ids_and_empty_sets_are_errors() {
        let mut b = Builder::default();
        b.push(item("a", "p"), vec![], "f:1").unwrap();
        let err = b.push(item("a", "q"), vec![], "f:2").unwrap_err();
        assert_eq!(err.to_string(), "item id `a` appears twice (f:1 and f:2)");
        assert!(matches!(Builder::default().finish(), Err(DataError::Empty { .. })));
    }

    #[test]
    fn split_is_by_prompt_and_stable() {
        // Known FNV-1a 64 values keep the split reproducible across releases.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let held = (0..1000).filter(|i| item("x", &format!("prompt {i}")).is_holdout(30)).count();
        assert!((250..350).contains(&held), "{held}");
        assert_eq!(item("x", "same").is_holdout(30), item("y", "same").is_holdout(30));
        assert!(!item("x", "any").is_holdout(0));
        assert!(item("x", "any").is_holdout(100));
    }

    #[test]
    fn scores() {
        assert_eq!(parse_score("True"), Some(1.0));
        assert_eq!(parse_score(" false "), Some(0.0));
        assert_eq!(parse_score("0.25"), Some(0.25));
        assert_eq!(parse_score("NaN"), None);
        assert_eq!(parse_score("maybe"), None);
    }
}
