//! Cost–quality curves and RouteLLM's summaries of them.
//!
//! A curve is accuracy against the share of requests that called the strong model. RouteLLM
//! (`routellm/evals/evaluate.py`) summarises it with:
//!
//! - **APGR**, average performance gap recovered: `(area under the curve − weak) / (strong −
//!   weak)`, the area taken over 0–100 % strong calls. Random routing scores 0.5; routing
//!   that recovers the whole gap at once scores 1; the oracle can score more, because it also
//!   keeps the items only the weak model answered right.
//! - **CPT(x %)**, call-performance threshold: the share of strong calls needed to reach
//!   `weak + x · (strong − weak)`.
//!
//! Two choices differ from RouteLLM's script, both so that the numbers do not depend on how
//! the sweep happened to be gridded:
//!
//! - The curve is anchored at the single-model points (0 %, weak) and (100 %, strong) when
//!   no sweep point sits there. Any route reaches both, and any point on the segment between
//!   two reachable points is reachable in expectation by choosing between them at random, so
//!   the straight line is an honest completion (RouteLLM's thresholds span 0–100 % already).
//! - CPT is the first crossing of the target walking up the curve, interpolated within the
//!   segment; `np.interp` assumes accuracy rises monotonically and misreads curves that dip.
//!
//! Points at the same share of strong calls are averaged.

/// One operating point.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Point {
    /// Share of requests that called the strong model, 0..=1.
    pub strong: f64,
    /// Mean score, 0..=1 for correctness data.
    pub accuracy: f64,
    /// Mean cost per request, USD.
    pub cost: f64,
}

/// The summaries of one curve.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Summary {
    /// `None` when weak and strong are equally good (there is no gap to recover).
    pub apgr: Option<f64>,
    /// Share of strong calls to recover 50 % of the gap.
    pub cpt50: Option<f64>,
    /// Share of strong calls to recover 80 % of the gap.
    pub cpt80: Option<f64>,
    /// Share of the gap recovered at 50 % strong calls (RouteLLM's headline GSM8K figure).
    pub pgr_at_50: Option<f64>,
    /// Mean cost per request where the curve reaches CPT(50 %), USD.
    pub cost_at_cpt50: Option<f64>,
    /// Mean cost per request where the curve reaches CPT(80 %), USD.
    pub cost_at_cpt80: Option<f64>,
}

/// Sorts by strong share, averages points at the same share, and anchors the ends.
pub fn curve(points: &[Point], weak: Point, strong: Point) -> Vec<Point> {
    let mut sorted: Vec<Point> =
        points.iter().copied().filter(|p| p.strong.is_finite() && p.accuracy.is_finite()).collect();
    sorted.sort_by(|a, b| a.strong.total_cmp(&b.strong));
    let mut merged: Vec<(Point, usize)> = Vec::with_capacity(sorted.len() + 2);
    for p in sorted {
        match merged.last_mut() {
            Some((sum, n)) if (sum.strong / *n as f64 - p.strong).abs() < 1e-12 => {
                sum.strong += p.strong;
                sum.accuracy += p.accuracy;
                sum.cost += p.cost;
                *n += 1;
            }
            _ => merged.push((p, 1)),
        }
    }
    let mut out: Vec<Point> = merged
        .into_iter()
        .map(|(s, n)| {
            let n = n as f64;
            Point { strong: s.strong / n, accuracy: s.accuracy / n, cost: s.cost / n }
        })
        .collect();
    if out.first().is_none_or(|p| p.strong > 1e-12) {
        out.insert(0, Point { strong: 0.0, ..weak });
    }
    if out.last().is_none_or(|p| p.strong < 1.0 - 1e-12) {
        out.push(Point { strong: 1.0, ..strong });
    }
    out
}

/// Area under a curve (trapezoids), over its strong-share span.
pub fn area(curve: &[Point]) -> f64 {
    curve.windows(2).map(|w| (w[1].strong - w[0].strong) * (w[0].accuracy + w[1].accuracy) / 2.0).sum()
}

/// Summarises an anchored curve against the weak and strong accuracies.
pub fn summarise(curve: &[Point], weak: f64, strong: f64) -> Summary {
    let gap = strong - weak;
    if gap.abs() < 1e-12 || curve.len() < 2 {
        return Summary {
            apgr: None,
            cpt50: None,
            cpt80: None,
            pgr_at_50: None,
            cost_at_cpt50: None,
            cost_at_cpt80: None,
        };
    }
    let span = curve[curve.len() - 1].strong - curve[0].strong;
    let apgr = (area(curve) - weak * span) / (gap * span);
    let cpt50 = crossing(curve, weak + 0.5 * gap, gap > 0.0);
    let cpt80 = crossing(curve, weak + 0.8 * gap, gap > 0.0);
    Summary {
        apgr: Some(apgr),
        cpt50: cpt50.map(|p| p.strong),
        cpt80: cpt80.map(|p| p.strong),
        pgr_at_50: at(curve, 0.5).map(|p| (p.accuracy - weak) / gap),
        cost_at_cpt50: cpt50.map(|p| p.cost),
        cost_at_cpt80: cpt80.map(|p| p.cost),
    }
}

/// The first point (interpolated) where accuracy reaches `target` (or falls to it, when the
/// "strong" model is the worse one).
fn crossing(curve: &[Point], target: f64, rising: bool) -> Option<Point> {
    let reached = |y: f64| if rising { y >= target - 1e-12 } else { y <= target + 1e-12 };
    if reached(curve[0].accuracy) {
        return Some(curve[0]);
    }
    curve.windows(2).find(|w| reached(w[1].accuracy)).map(|w| {
        let t = (target - w[0].accuracy) / (w[1].accuracy - w[0].accuracy);
        lerp(w[0], w[1], t.clamp(0.0, 1.0))
    })
}

/// The curve at strong share `x` (interpolated).
pub fn at(curve: &[Point], x: f64) -> Option<Point> {
    curve.windows(2).find(|w| w[1].strong >= x).map(|w| {
        let dx = w[1].strong - w[0].strong;
        if dx <= 0.0 { w[1] } else { lerp(w[0], w[1], ((x - w[0].strong) / dx).clamp(0.0, 1.0)) }
    })
}

fn lerp(a: Point, b: Point, t: f64) -> Point {
    Point {
        strong: a.strong + (b.strong - a.strong) * t,
        accuracy: a.accuracy + (b.accuracy - a.accuracy) * t,
        cost: a.cost + (b.cost - a.cost) * t,
    }
}

/// Random routing: each request goes to the strong model with probability x. In expectation
/// that is the straight line between the single-model points (APGR 0.5).
pub fn random(weak: Point, strong: Point) -> Vec<Point> {
    vec![Point { strong: 0.0, ..weak }, Point { strong: 1.0, ..strong }]
}

/// The oracle: knows each item's scores and sends to the strong model exactly the items where
/// it does better, best gain first; past those it stays put (like RouteLLM's
/// `get_optimal_accuracy`, it never spends a strong call that would not help). Costs assume
/// pre-routing: one call per request.
///
/// `items` holds each item's (weak score, strong score, weak cost, strong cost).
pub fn oracle(items: &[(f64, f64, f64, f64)]) -> Vec<Point> {
    let n = items.len();
    if n == 0 {
        return Vec::new();
    }
    let nf = n as f64;
    let mut gains: Vec<(f64, f64)> =
        items.iter().map(|(w, s, cw, cs)| (s - w, cs - cw)).filter(|(gain, _)| *gain > 0.0).collect();
    gains.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut accuracy = items.iter().map(|i| i.0).sum::<f64>() / nf;
    let mut cost = items.iter().map(|i| i.2).sum::<f64>() / nf;
    let mut points = vec![Point { strong: 0.0, accuracy, cost }];
    for (k, (gain, extra)) in gains.iter().enumerate() {
        accuracy += gain / nf;
        cost += extra / nf;
        points.push(Point { strong: (k + 1) as f64 / nf, accuracy, cost });
    }
    if points.last().is_some_and(|p| p.strong < 1.0) {
        points.push(Point { strong: 1.0, accuracy, cost });
    }
    simplify(points)
}

/// Drops points that lie on the line through their neighbours (the oracle of 0/1 data is
/// three points, not one per item).
pub fn simplify(points: Vec<Point>) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::with_capacity(points.len());
    for p in points {
        while out.len() >= 2 {
            let (a, b) = (out[out.len() - 2], out[out.len() - 1]);
            let collinear = |f: fn(&Point) -> f64| {
                ((f(&b) - f(&a)) * (p.strong - a.strong) - (f(&p) - f(&a)) * (b.strong - a.strong)).abs() < 1e-12
            };
            if collinear(|q| q.accuracy) && collinear(|q| q.cost) {
                out.pop();
            } else {
                break;
            }
        }
        out.push(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(strong: f64, accuracy: f64) -> Point {
        Point { strong, accuracy, cost: strong }
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn random_is_half_and_cpt_is_the_target() {
        let c = curve(&[], p(0.0, 0.6), p(1.0, 0.8));
        let s = summarise(&c, 0.6, 0.8);
        assert!(close(s.apgr, 0.5));
        assert!(close(s.cpt50, 0.5));
        assert!(close(s.cpt80, 0.8));
        assert!(close(s.pgr_at_50, 0.5));
        assert!(close(s.cost_at_cpt50, 0.5));
    }

    #[test]
    fn a_step_curve() {
        // Recovers the whole gap with 20 % strong calls.
        let c = curve(&[p(0.2, 0.8), p(0.6, 0.8)], p(0.0, 0.6), p(1.0, 0.8));
        assert_eq!(c.len(), 4);
        let s = summarise(&c, 0.6, 0.8);
        // Area: 0.2·0.7 + 0.8·0.8 = 0.78 → (0.78 − 0.6) / 0.2 = 0.9.
        assert!(close(s.apgr, 0.9));
        assert!(close(s.cpt50, 0.1));
        assert!(close(s.cpt80, 0.16));
        assert!(close(s.pgr_at_50, 1.0));
    }

    #[test]
    fn ties_average_and_dips_use_the_first_crossing() {
        let c = curve(&[p(0.5, 0.7), p(0.5, 0.9), p(0.3, 0.75), p(0.7, 0.6)], p(0.0, 0.6), p(1.0, 0.8));
        assert_eq!(c.iter().map(|q| q.strong).collect::<Vec<_>>(), [0.0, 0.3, 0.5, 0.7, 1.0]);
        assert!((c[2].accuracy - 0.8).abs() < 1e-12);
        let s = summarise(&c, 0.6, 0.8);
        // 50 % of the gap (0.7) is first reached on the way to (0.3, 0.75).
        assert!(close(s.cpt50, 0.2));
    }

    #[test]
    fn measured_end_points_are_kept() {
        let c = curve(&[p(0.0, 0.5), p(1.0, 0.8)], p(0.0, 0.6), p(1.0, 0.8));
        assert_eq!(c, vec![p(0.0, 0.5), p(1.0, 0.8)]);
        assert!(summarise(&c, 0.7, 0.7).apgr.is_none());
    }

    #[test]
    fn oracle_matches_routellm() {
        // weak right on 2, strong right on 3, 1 item only strong gets: N = 4.
        let items = [(1.0, 1.0, 1.0, 10.0), (1.0, 0.0, 1.0, 10.0), (0.0, 1.0, 1.0, 10.0), (0.0, 1.0, 1.0, 10.0)];
        let o = oracle(&items);
        assert_eq!(o.iter().map(|q| (q.strong, q.accuracy)).collect::<Vec<_>>(), [(0.0, 0.5), (0.5, 1.0), (1.0, 1.0)]);
        assert_eq!(o[1].cost, 1.0 + 2.0 * 9.0 / 4.0);
        let s = summarise(&o, 0.5, 0.75);
        // Area: 0.25·0.625 + 0.25·0.875 + 0.5·1 = 0.875 → (0.875 − 0.5) / 0.25 = 1.5.
        assert!(close(s.apgr, 1.5));
        assert!(oracle(&[]).is_empty());
    }
}
