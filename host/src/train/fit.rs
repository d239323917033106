//! Fitting one logistic regression with linfa: choose which hashed buckets to keep,
//! standardise the named features, fit, and turn the coefficients into a model's weights.
//!
//! Hashed n-grams number in the hundreds of thousands, and linfa fits dense matrices, so
//! only the buckets present in at least `min_df` training rows are kept, the `max_hashed`
//! most frequent of them. Both choices look at the training rows only, never at labels or
//! held-out rows, so cross-validation sees the selection it would see in production.

use std::collections::HashMap;

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use switchyard_features::ngrams::namespace_of;
use switchyard_features::vector::Extracted;

/// Hyperparameters of one fit.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Hyper {
    /// L2 penalty (linfa's `alpha`): larger is simpler.
    pub alpha: f64,
    /// Hashed buckets kept at most.
    pub max_hashed: usize,
    /// A bucket must occur in at least this many training rows.
    pub min_df: usize,
    /// L-BFGS iterations at most.
    pub max_iterations: u64,
}

/// A fitted model in the form [`switchyard_features::model::Model`] stores.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub intercept: f64,
    /// Per named feature: (mean, scale, weight per scale).
    pub named: Vec<(f64, f64, f64)>,
    /// (bucket, weight), ascending by bucket.
    pub hashed: Vec<(u32, f32)>,
}

impl Fitted {
    /// The logit of one example (what the plugin's scorer computes from the text).
    pub fn logit(&self, row: &Extracted) -> f64 {
        let named: f64 = self.named.iter().zip(&row.named).map(|((m, s, w), x)| w * (x - m) / s).sum();
        let mut hashed = 0.0;
        let mut j = 0;
        for (bucket, value) in &row.hashed {
            while j < self.hashed.len() && self.hashed[j].0 < *bucket {
                j += 1;
            }
            if j < self.hashed.len() && self.hashed[j].0 == *bucket {
                hashed += f64::from(self.hashed[j].1) * value;
            }
        }
        self.intercept + named + hashed
    }
}

/// Why a fit failed.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("every training item has the same label ({0}); there is nothing to learn")]
    OneClass(bool),
    #[error("the logistic regression did not fit: {0}")]
    Linfa(String),
}

/// The buckets to keep: in at least `min_df` rows, the most frequent first, `max_hashed` in
/// all, shared evenly by the namespaces that have any (`bits`: the hash space); ascending.
pub fn select(rows: &[&Extracted], hyper: &Hyper, bits: u32) -> Vec<u32> {
    let mut df: HashMap<u32, usize> = HashMap::new();
    for row in rows {
        for (bucket, _) in &row.hashed {
            *df.entry(*bucket).or_default() += 1;
        }
    }
    let mut by_namespace: [Vec<(u32, usize)>; 4] = Default::default();
    for (bucket, n) in df {
        if n >= hyper.min_df.max(1) {
            by_namespace[namespace_of(bucket, bits) as usize - 1].push((bucket, n));
        }
    }
    let present = by_namespace.iter().filter(|v| !v.is_empty()).count().max(1);
    let mut buckets = Vec::new();
    for mut kept in by_namespace {
        kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        kept.truncate(hyper.max_hashed / present);
        buckets.extend(kept.into_iter().map(|(b, _)| b));
    }
    buckets.sort_unstable();
    buckets
}

/// Fits on `rows` with `labels`.
pub fn fit(rows: &[&Extracted], labels: &[bool], hyper: &Hyper, bits: u32) -> Result<Fitted, FitError> {
    if let Some(first) = labels.first()
        && labels.iter().all(|l| l == first)
    {
        return Err(FitError::OneClass(*first));
    }
    let buckets = select(rows, hyper, bits);
    let index: HashMap<u32, usize> = buckets.iter().enumerate().map(|(i, b)| (*b, i)).collect();
    let n_named = rows.first().map_or(0, |r| r.named.len());
    let n = rows.len() as f64;
    let stats: Vec<(f64, f64)> = (0..n_named)
        .map(|j| {
            let mean = rows.iter().map(|r| r.named[j]).sum::<f64>() / n;
            let var = rows.iter().map(|r| (r.named[j] - mean).powi(2)).sum::<f64>() / n;
            (mean, if var > 1e-12 { var.sqrt() } else { 1.0 })
        })
        .collect();
    let mut x = Array2::<f64>::zeros((rows.len(), n_named + buckets.len()));
    for (i, row) in rows.iter().enumerate() {
        for (j, (mean, scale)) in stats.iter().enumerate() {
            x[[i, j]] = (row.named[j] - mean) / scale;
        }
        for (bucket, value) in &row.hashed {
            if let Some(k) = index.get(bucket) {
                x[[i, n_named + k]] = *value;
            }
        }
    }
    let y: Array1<bool> = labels.iter().copied().collect();
    let model = LogisticRegression::default()
        .alpha(hyper.alpha)
        .max_iterations(hyper.max_iterations)
        .with_intercept(true)
        .fit(&Dataset::new(x, y))
        .map_err(|e| FitError::Linfa(e.to_string()))?;
    // linfa's positive class is the larger label: `true`.
    let params = model.params();
    let sign = if model.labels().pos.class { 1.0 } else { -1.0 };
    Ok(Fitted {
        intercept: sign * model.intercept(),
        named: stats.iter().enumerate().map(|(j, (m, s))| (*m, *s, sign * params[j])).collect(),
        hashed: buckets.iter().enumerate().map(|(k, b)| (*b, (sign * params[n_named + k]) as f32)).collect(),
    })
}
