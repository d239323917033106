//! Honest scores: k-fold cross-validation split by prompt hash, the routing curve of the
//! out-of-fold predictions summarised as `eval` does (APGR, CPT), and bootstrap 95 %
//! intervals over items.
//!
//! Folds key on the same prompt hash as eval's `--holdout` split, divided by 100 first so
//! that fold membership is independent of the holdout split: training on the `dev` part and
//! cross-validating inside it never puts a held-out prompt anywhere.

use crate::eval::metrics::{self, Point};
use switchyard_features::model::Estimate;

/// Which fold an item with split-key hash `hash` is in.
pub fn fold_of(hash: u64, folds: u32) -> u32 {
    ((hash / 100) % u64::from(folds.max(1))) as u32
}

/// One scored item: the router's score, and what each model would have scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub score: f64,
    pub weak: f64,
    pub strong: f64,
}

/// The summaries of one routing curve.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Scores {
    pub apgr: Option<f64>,
    pub cpt50: Option<f64>,
    pub cpt80: Option<f64>,
}

/// Routes the items with the highest scores to the strong model, for every cut, and
/// summarises the curve. `weights` are bootstrap multiplicities (all 1 for the sample
/// itself); `order` sorts the items by descending score.
fn scores_weighted(items: &[Scored], order: &[usize], weights: &[f64]) -> Scores {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return Scores::default();
    }
    let weak: f64 = items.iter().zip(weights).map(|(i, w)| i.weak * w).sum::<f64>() / total;
    let strong: f64 = items.iter().zip(weights).map(|(i, w)| i.strong * w).sum::<f64>() / total;
    let mut points = vec![Point { strong: 0.0, accuracy: weak, cost: 0.0 }];
    let (mut routed, mut accuracy) = (0.0, weak);
    for (k, &i) in order.iter().enumerate() {
        let w = weights[i];
        routed += w;
        accuracy += w * (items[i].strong - items[i].weak) / total;
        // One point per distinct score: tied items go together, as a threshold sends them.
        let last_of_tie = order.get(k + 1).is_none_or(|&j| items[j].score != items[i].score);
        if last_of_tie {
            points.push(Point { strong: routed / total, accuracy, cost: routed / total });
        }
    }
    let curve = metrics::curve(
        &points,
        Point { strong: 0.0, accuracy: weak, cost: 0.0 },
        Point { strong: 1.0, accuracy: strong, cost: 1.0 },
    );
    let s = metrics::summarise(&curve, weak, strong);
    Scores { apgr: s.apgr, cpt50: s.cpt50, cpt80: s.cpt80 }
}

/// Area under the ROC curve of `labels` by `scores` (ties count half); `None` with one class.
fn auc_weighted(scores: &[f64], labels: &[bool], order: &[usize], weights: &[f64]) -> Option<f64> {
    // Walk ascending: each positive beats the negatives below it.
    let (mut neg_below, mut pairs, mut pos_total, mut neg_total) = (0.0, 0.0, 0.0, 0.0);
    let mut k = order.len();
    while k > 0 {
        // A tie group, ascending.
        let mut start = k - 1;
        while start > 0 && scores[order[start - 1]] == scores[order[k - 1]] {
            start -= 1;
        }
        let (mut pos, mut neg) = (0.0, 0.0);
        for &i in &order[start..k] {
            if labels[i] { pos += weights[i] } else { neg += weights[i] }
        }
        pairs += pos * (neg_below + neg / 2.0);
        neg_below += neg;
        pos_total += pos;
        neg_total += neg;
        k = start;
    }
    (pos_total > 0.0 && neg_total > 0.0).then(|| pairs / (pos_total * neg_total))
}

/// SplitMix64: a tiny, seedable generator, so that intervals are reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Every summary with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Report {
    pub apgr: Estimate,
    pub cpt50: Estimate,
    pub cpt80: Estimate,
    pub auc: Estimate,
}

/// Scores `items` (with `labels`) and resamples them `resamples` times with replacement.
pub fn evaluate(items: &[Scored], labels: &[bool], resamples: u32, seed: u64) -> Report {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|a, b| items[*b].score.total_cmp(&items[*a].score).then(a.cmp(b)));
    let ones = vec![1.0; items.len()];
    let scores: Vec<f64> = items.iter().map(|i| i.score).collect();
    let point = scores_weighted(items, &order, &ones);
    let auc = auc_weighted(&scores, labels, &order, &ones);
    let mut rng = SplitMix(seed);
    let mut samples: [Vec<f64>; 4] = Default::default();
    let mut weights = vec![0.0; items.len()];
    for _ in 0..resamples {
        weights.iter_mut().for_each(|w| *w = 0.0);
        for _ in 0..items.len() {
            weights[(rng.next() % items.len() as u64) as usize] += 1.0;
        }
        let s = scores_weighted(items, &order, &weights);
        for (k, v) in
            [s.apgr, s.cpt50, s.cpt80, auc_weighted(&scores, labels, &order, &weights)].into_iter().enumerate()
        {
            if let Some(v) = v {
                samples[k].push(v);
            }
        }
    }
    let estimate = |value: Option<f64>, mut sample: Vec<f64>| {
        sample.sort_by(f64::total_cmp);
        let q = |p: f64| (!sample.is_empty()).then(|| sample[((sample.len() - 1) as f64 * p).round() as usize]);
        Estimate { value, low: q(0.025), high: q(0.975) }
    };
    let [a, b, c, d] = samples;
    Report {
        apgr: estimate(point.apgr, a),
        cpt50: estimate(point.cpt50, b),
        cpt80: estimate(point.cpt80, c),
        auc: estimate(auc, d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(score: f64, weak: f64, strong: f64) -> Scored {
        Scored { score, weak, strong }
    }

    #[test]
    fn a_perfect_router_recovers_the_gap_at_once_and_random_ties_are_half() {
        // Two items only the strong model gets, two both get: a perfect score ranks the first
        // two first.
        let items = [item(0.9, 0.0, 1.0), item(0.8, 0.0, 1.0), item(0.1, 1.0, 1.0), item(0.2, 1.0, 1.0)];
        let labels = [true, true, false, false];
        let r = evaluate(&items, &labels, 200, 1);
        // Gap recovered by 50 % strong calls: area = 0.5·0.75 + 0.5·1 = 0.875 → APGR 0.75.
        assert!((r.apgr.value.unwrap() - 0.75).abs() < 1e-9, "{r:?}");
        assert!((r.cpt50.value.unwrap() - 0.25).abs() < 1e-9);
        assert_eq!(r.auc.value, Some(1.0));
        assert!(r.apgr.low.unwrap() <= r.apgr.value.unwrap() && r.apgr.value.unwrap() <= r.apgr.high.unwrap());
        // One score for all: a single step from weak to strong, the random line.
        let flat: Vec<Scored> = items.iter().map(|i| item(0.5, i.weak, i.strong)).collect();
        let r = evaluate(&flat, &labels, 0, 1);
        assert!((r.apgr.value.unwrap() - 0.5).abs() < 1e-9);
        assert_eq!(r.auc.value, Some(0.5));
        assert!(r.apgr.low.is_none());
    }

    #[test]
    fn folds_do_not_follow_the_holdout_split() {
        // Items of one holdout bucket (hash % 100) still spread over every fold.
        let folds: std::collections::BTreeSet<u32> = (0..50u64).map(|k| fold_of(k * 100 + 7, 5)).collect();
        assert_eq!(folds.len(), 5);
    }
}
