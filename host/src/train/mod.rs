//! `switchyard train`: fit a learned router from labelled data (the formats `eval` reads)
//! and write it as a model file the `learned` plugins run.
//!
//! The pieces, in the order a run uses them:
//!
//! - [`crate::eval::load`] reads the data; the `--holdout` part (by prompt hash, as eval
//!   splits it) is left out of training entirely.
//! - [`examples`] turns items into features (the shared `switchyard-features` crate, the
//!   same code the plugins score with) and labels.
//! - [`fit`] fits an L2 logistic regression with linfa; [`cv`] cross-validates it by prompt
//!   hash and bootstraps intervals for APGR, CPT and AUC; with several `--alpha` values the
//!   one with the best cross-validated APGR is kept.
//! - [`model`] assembles the model file; [`report`] shows what was done.

pub mod cv;
pub mod examples;
pub mod fit;
pub mod model;
pub mod report;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use switchyard_features::model::Model;
use switchyard_features::vector::{FeatureSpec, Kind};

use crate::eval::data::DataError;
use crate::eval::load::{self, LoadOptions};
pub use examples::Label;
pub use switchyard_features::vector::Kind as ModelKind;

/// What to train and how.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub data: Vec<PathBuf>,
    pub kind: Kind,
    /// The data's cheap model (default: the lowest mean score).
    pub weak: Option<String>,
    /// The data's strong model (default: the highest mean score).
    pub strong: Option<String>,
    pub label: Label,
    /// [`Label::WeakWrong`]: a weak score below this is not good enough.
    pub good: f64,
    /// Percent of items (by prompt hash) left out of training, as `eval --holdout` splits.
    pub holdout_percent: u32,
    pub keep_contaminated: bool,
    pub features: FeatureSpec,
    /// L2 penalties to try; with more than one, cross-validated APGR picks.
    pub alphas: Vec<f64>,
    pub max_hashed: usize,
    pub min_df: usize,
    pub max_iterations: u64,
    pub folds: u32,
    pub resamples: u32,
    pub seed: u64,
}

impl TrainOptions {
    /// Defaults for everything but the data and the kind.
    pub fn new(data: Vec<PathBuf>, kind: Kind) -> Self {
        TrainOptions {
            data,
            kind,
            weak: None,
            strong: None,
            label: Label::StrongBetter,
            good: 1.0,
            holdout_percent: 0,
            keep_contaminated: false,
            features: FeatureSpec::default(),
            alphas: vec![1.0, 4.0, 16.0],
            max_hashed: 4000,
            min_df: 3,
            max_iterations: 200,
            folds: 5,
            resamples: 1000,
            seed: 16,
        }
    }
}

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("--{flag}: no model `{given}` in the data (models: {known})")]
    UnknownModel { flag: &'static str, given: String, known: String },
    #[error("the data needs at least two models (a cheap and a strong one), it has {0}")]
    OneModel(usize),
    #[error(transparent)]
    Examples(#[from] examples::ExampleError),
    #[error("only {0} items have results for both models; at least 20 are needed to train and cross-validate")]
    TooFew(usize),
    #[error("fold {fold}: {source}")]
    Fold { fold: u32, source: fit::FitError },
    #[error(transparent)]
    Fit(#[from] fit::FitError),
    #[error("invalid options: {0}")]
    Options(String),
}

/// One hyperparameter setting's cross-validated scores.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub alpha: f64,
    pub cv: cv::Report,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Trained {
    pub model: Model,
    pub candidates: Vec<Candidate>,
    pub chosen_alpha: f64,
    pub held_out: usize,
    pub elapsed: Duration,
}

/// Loads, cross-validates, fits and assembles the model.
pub fn run(options: &TrainOptions) -> Result<Trained, TrainError> {
    let started = Instant::now();
    options.features.validate().map_err(TrainError::Options)?;
    if options.alphas.is_empty() || options.alphas.iter().any(|a| !(a.is_finite() && *a >= 0.0)) {
        return Err(TrainError::Options("--alpha: expected numbers >= 0".into()));
    }
    if options.folds < 2 {
        return Err(TrainError::Options("--folds: expected at least 2".into()));
    }
    let dataset = load::load(&options.data, &LoadOptions { keep_contaminated: options.keep_contaminated })?;
    if dataset.models.len() < 2 {
        return Err(TrainError::OneModel(dataset.models.len()));
    }
    let pick = |flag: &'static str, given: &Option<String>, default: usize| match given {
        None => Ok(default),
        Some(name) => dataset.model_index(name).ok_or_else(|| TrainError::UnknownModel {
            flag,
            given: name.clone(),
            known: dataset.models.join(", "),
        }),
    };
    let weak = pick("weak", &options.weak, 0)?;
    let strong = pick("strong", &options.strong, dataset.models.len() - 1)?;
    let train_items: Vec<_> = dataset.items.iter().filter(|i| !i.is_holdout(options.holdout_percent)).collect();
    let held_out = dataset.items.len() - train_items.len();
    let ex = examples::build(
        &dataset,
        &train_items,
        (weak, strong),
        options.kind,
        &options.features,
        (options.label, options.good),
    )?;
    if ex.len() < 20 {
        return Err(TrainError::TooFew(ex.len()));
    }

    let mut candidates = Vec::new();
    for &alpha in &options.alphas {
        let hyper = hyper(options, alpha);
        let scored = out_of_fold(&ex, &hyper, options.features.bits, options.folds)?;
        candidates.push(Candidate { alpha, cv: cv::evaluate(&scored, &ex.labels, options.resamples, options.seed) });
    }
    let best = candidates
        .iter()
        .max_by(|a, b| a.cv.apgr.value.unwrap_or(f64::MIN).total_cmp(&b.cv.apgr.value.unwrap_or(f64::MIN)))
        .cloned()
        .expect("at least one alpha");
    let rows: Vec<_> = ex.rows.iter().collect();
    let fitted = fit::fit(&rows, &ex.labels, &hyper(options, best.alpha), options.features.bits)?;
    let model = model::assemble(model::Parts {
        options,
        dataset: &dataset,
        weak,
        strong,
        examples: &ex,
        fitted: &fitted,
        alpha: best.alpha,
        cv: &best.cv,
    });
    Ok(Trained { model, candidates, chosen_alpha: best.alpha, held_out, elapsed: started.elapsed() })
}

fn hyper(options: &TrainOptions, alpha: f64) -> fit::Hyper {
    fit::Hyper { alpha, max_hashed: options.max_hashed, min_df: options.min_df, max_iterations: options.max_iterations }
}

/// Each item scored by a model fitted without its fold (folds fitted on all cores).
fn out_of_fold(
    ex: &examples::Examples,
    hyper: &fit::Hyper,
    bits: u32,
    folds: u32,
) -> Result<Vec<cv::Scored>, TrainError> {
    let fold: Vec<u32> = ex.hashes.iter().map(|h| cv::fold_of(*h, folds)).collect();
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(folds as usize);
    let mut scores = vec![f64::NAN; ex.len()];
    let all: Vec<u32> = (0..folds).collect();
    let fitted: Vec<(u32, Result<fit::Fitted, fit::FitError>)> = std::thread::scope(|scope| {
        let mut out = Vec::new();
        for chunk in all.chunks(folds.div_ceil(threads as u32) as usize) {
            let fold = &fold;
            out.push(scope.spawn(move || {
                chunk
                    .iter()
                    .map(|&f| {
                        let (rows, labels): (Vec<_>, Vec<bool>) = ex
                            .rows
                            .iter()
                            .zip(&ex.labels)
                            .zip(fold)
                            .filter(|(_, g)| **g != f)
                            .map(|((r, l), _)| (r, *l))
                            .unzip();
                        (f, fit::fit(&rows, &labels, hyper, bits))
                    })
                    .collect::<Vec<_>>()
            }));
        }
        out.into_iter().flat_map(|h| h.join().expect("a fold's thread panicked")).collect()
    });
    for (f, result) in fitted {
        let model = result.map_err(|source| TrainError::Fold { fold: f, source })?;
        for (i, row) in ex.rows.iter().enumerate() {
            if fold[i] == f {
                scores[i] = model.logit(row);
            }
        }
    }
    Ok(scores
        .into_iter()
        .enumerate()
        .map(|(i, score)| cv::Scored { score, weak: ex.weak[i], strong: ex.strong[i] })
        .collect())
}

#[cfg(test)]
mod tests;
