//! Assembling and writing the model file.

use std::collections::BTreeMap;
use std::path::Path;

use switchyard_features::model::{CrossValidation, FORMAT, Model, NamedWeight, Training, VERSION};
use switchyard_features::vector;

use super::examples::Examples;
use super::fit::Fitted;
use super::{TrainOptions, cv};
use crate::eval::data::Dataset;

/// The largest model file written (the `learned` plugins hold the whole model in memory).
pub const MAX_BYTES: usize = 4 << 20;

/// Everything a model file records.
pub struct Parts<'a> {
    pub options: &'a TrainOptions,
    pub dataset: &'a Dataset,
    pub weak: usize,
    pub strong: usize,
    pub examples: &'a Examples,
    pub fitted: &'a Fitted,
    pub alpha: f64,
    pub cv: &'a cv::Report,
}

/// The model file's contents.
pub fn assemble(p: Parts<'_>) -> Model {
    let o = p.options;
    let (weak, strong) = (p.dataset.models[p.weak].clone(), p.dataset.models[p.strong].clone());
    let mut item_hashes: Vec<String> = p.examples.hashes.iter().map(|h| format!("{h:016x}")).collect();
    item_hashes.sort();
    item_hashes.dedup();
    let hyperparameters = BTreeMap::from([
        ("alpha".to_string(), p.alpha),
        ("max_hashed".to_string(), o.max_hashed as f64),
        ("min_df".to_string(), o.min_df as f64),
        ("max_iterations".to_string(), o.max_iterations as f64),
        ("good".to_string(), o.good),
    ]);
    // Buckets whose weight rounds to zero in f32 carry nothing: leave them out.
    let (buckets, weights): (Vec<u32>, Vec<f32>) = p.fitted.hashed.iter().filter(|(_, w)| *w != 0.0).copied().unzip();
    Model {
        format: FORMAT.to_string(),
        version: VERSION,
        kind: o.kind,
        predicts: o.label.describe(&weak, &strong, o.good),
        features: o.features.clone(),
        intercept: p.fitted.intercept,
        named: vector::named_features(o.kind)
            .into_iter()
            .zip(&p.fitted.named)
            .map(|(name, (mean, scale, weight))| NamedWeight {
                name: name.to_string(),
                mean: *mean,
                scale: *scale,
                weight: *weight,
            })
            .collect(),
        buckets,
        weights,
        training: Training {
            data: p.dataset.sources.iter().map(|s| s.display().to_string()).collect(),
            weak,
            strong,
            items: p.examples.len(),
            positives: p.examples.positives(),
            holdout_percent: o.holdout_percent,
            hyperparameters,
            item_hashes,
            cv: CrossValidation {
                folds: o.folds,
                resamples: o.resamples,
                apgr: p.cv.apgr,
                cpt50: p.cv.cpt50,
                cpt80: p.cv.cpt80,
                auc: p.cv.auc,
            },
        },
    }
}

/// Why a model file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the model is {bytes} bytes, more than the {MAX_BYTES} a plugin loads; lower --max-hashed")]
    TooLarge { bytes: usize },
    #[error("cannot write {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// The model as the file's bytes (JSON, one key per line; long arrays stay on one line).
pub fn to_bytes(model: &Model) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(model).expect("a model serialises");
    bytes.push(b'\n');
    bytes
}

/// Writes `model` to `path` atomically (a temporary file renamed over it), so that a proxy
/// watching the file never reads half a model. Returns the size.
pub fn write(model: &Model, path: &Path) -> Result<usize, WriteError> {
    let bytes = to_bytes(model);
    if bytes.len() > MAX_BYTES {
        return Err(WriteError::TooLarge { bytes: bytes.len() });
    }
    let io = |source| WriteError::Io { path: path.display().to_string(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut tmp, &bytes).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(bytes.len())
}
