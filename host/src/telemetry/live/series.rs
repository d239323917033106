//! Requests over time for the dashboard's charts: one bucket per second, the last
//! [`SECONDS_KEPT`] of them. A bucket exists only for a second in which a request finished,
//! so an idle proxy holds nothing new, and the ring never grows past its capacity.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Serialize;

/// Seconds of history kept (15 minutes).
pub const SECONDS_KEPT: usize = 900;

/// Distinct (route, model) cost entries one bucket keeps; the rest are summed as `other`.
const COST_ENTRIES_PER_BUCKET: usize = 32;

/// Latency buckets: bucket `i` holds latencies below `FIRST_BOUND_MS * 2^(i / 4)`; four per
/// doubling gives percentiles within ~19 %, 0.1 ms to ~100 s in 80 counters.
const LATENCY_BUCKETS: usize = 80;
const FIRST_BOUND_MS: f64 = 0.1;

/// One second's requests.
#[derive(Debug, Clone)]
struct Bucket {
    second: u64,
    requests: u32,
    errors: u32,
    latency: [u32; LATENCY_BUCKETS],
    /// Spend by route and model in this second.
    cost: Vec<(Arc<str>, Arc<str>, f64)>,
}

/// What one finished request adds to the series.
pub struct Sample<'a> {
    pub second: u64,
    pub error: bool,
    pub latency_ms: f64,
    /// Spend per (route, model) of its attempts.
    pub cost: &'a [(Arc<str>, Arc<str>, f64)],
}

/// The per-second ring.
#[derive(Debug, Default)]
pub struct Series {
    buckets: VecDeque<Bucket>,
}

/// One second as the dashboard draws it.
#[derive(Debug, Serialize, PartialEq)]
pub struct Point {
    /// Unix seconds.
    pub t: u64,
    pub requests: u32,
    pub errors: u32,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// `{"route / model": usd}`.
    pub cost: Vec<(String, f64)>,
}

fn latency_bucket(ms: f64) -> usize {
    if ms.is_nan() || ms <= FIRST_BOUND_MS {
        return 0;
    }
    let index = ((ms / FIRST_BOUND_MS).log2() * 4.0).floor() as usize + 1;
    index.min(LATENCY_BUCKETS - 1)
}

fn bucket_upper_ms(index: usize) -> f64 {
    FIRST_BOUND_MS * 2f64.powf(index as f64 / 4.0)
}

impl Series {
    pub fn add(&mut self, sample: Sample<'_>) {
        let bucket = match self.buckets.iter_mut().rev().take(4).find(|b| b.second == sample.second) {
            Some(bucket) => bucket,
            None => {
                // Requests finish nearly in order; one that ends in a second older than the
                // newest bucket's (and not among the last few) counts in the newest.
                if self.buckets.back().is_none_or(|b| b.second < sample.second) {
                    if self.buckets.len() == SECONDS_KEPT {
                        self.buckets.pop_front();
                    }
                    self.buckets.push_back(Bucket {
                        second: sample.second,
                        requests: 0,
                        errors: 0,
                        latency: [0; LATENCY_BUCKETS],
                        cost: Vec::new(),
                    });
                }
                self.buckets.back_mut().expect("just ensured")
            }
        };
        bucket.requests += 1;
        bucket.errors += u32::from(sample.error);
        bucket.latency[latency_bucket(sample.latency_ms)] += 1;
        for (route, model, usd) in sample.cost {
            if let Some(entry) = bucket.cost.iter_mut().find(|(r, m, _)| r == route && m == model) {
                entry.2 += usd;
            } else if bucket.cost.len() < COST_ENTRIES_PER_BUCKET {
                bucket.cost.push((route.clone(), model.clone(), *usd));
            } else if let Some(other) = bucket.cost.iter_mut().find(|(r, _, _)| &**r == "other") {
                other.2 += usd;
            } else if let Some(last) = bucket.cost.last_mut() {
                *last = (Arc::from("other"), Arc::from("other"), last.2 + usd);
            }
        }
    }

    /// The seconds since `since` (Unix seconds), oldest first.
    pub fn points(&self, since: u64) -> Vec<Point> {
        self.buckets
            .iter()
            .filter(|b| b.second >= since)
            .map(|b| Point {
                t: b.second,
                requests: b.requests,
                errors: b.errors,
                p50_ms: percentile(&b.latency, 0.50),
                p99_ms: percentile(&b.latency, 0.99),
                cost: b.cost.iter().map(|(r, m, usd)| (format!("{r} / {m}"), *usd)).collect(),
            })
            .collect()
    }

    /// Latency percentile over every second since `since`.
    pub fn percentile_since(&self, since: u64, q: f64) -> f64 {
        let mut sum = [0u32; LATENCY_BUCKETS];
        for bucket in self.buckets.iter().filter(|b| b.second >= since) {
            for (total, n) in sum.iter_mut().zip(bucket.latency.iter()) {
                *total += n;
            }
        }
        percentile(&sum, q)
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// The upper bound of the bucket holding the `q` quantile (0 with no samples).
fn percentile(counts: &[u32; LATENCY_BUCKETS], q: f64) -> f64 {
    let total: u64 = counts.iter().map(|&n| u64::from(n)).sum();
    if total == 0 {
        return 0.0;
    }
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0u64;
    for (index, &n) in counts.iter().enumerate() {
        seen += u64::from(n);
        if seen >= rank {
            return bucket_upper_ms(index);
        }
    }
    bucket_upper_ms(LATENCY_BUCKETS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(second: u64, latency_ms: f64, error: bool) -> Sample<'static> {
        Sample { second, error, latency_ms, cost: &[] }
    }

    #[test]
    fn percentiles_are_within_a_bucket_of_the_truth() {
        let mut series = Series::default();
        for i in 1..=100 {
            series.add(sample(10, f64::from(i), i > 95));
        }
        let point = &series.points(0)[0];
        assert_eq!((point.requests, point.errors), (100, 5));
        assert!((50.0..=50.0 * 1.19).contains(&point.p50_ms), "{}", point.p50_ms);
        assert!((99.0..=99.0 * 1.19).contains(&point.p99_ms), "{}", point.p99_ms);
    }

    #[test]
    fn the_ring_keeps_only_the_last_seconds() {
        let mut series = Series::default();
        for second in 0..(SECONDS_KEPT as u64 + 100) {
            series.add(sample(second, 1.0, false));
        }
        assert_eq!(series.len(), SECONDS_KEPT);
        assert_eq!(series.points(0)[0].t, 100);
        // A straggler from long ago counts in the newest second instead of growing the ring.
        series.add(sample(3, 1.0, false));
        assert_eq!(series.len(), SECONDS_KEPT);
        assert_eq!(series.points(0).last().unwrap().requests, 2);
    }

    #[test]
    fn cost_entries_are_bounded_per_second() {
        let mut series = Series::default();
        let many: Vec<(Arc<str>, Arc<str>, f64)> =
            (0..40).map(|i| (Arc::from("auto"), Arc::from(format!("m{i}").as_str()), 1.0)).collect();
        series.add(Sample { second: 1, error: false, latency_ms: 1.0, cost: &many });
        let point = &series.points(0)[0];
        assert_eq!(point.cost.len(), COST_ENTRIES_PER_BUCKET);
        let total: f64 = point.cost.iter().map(|(_, usd)| usd).sum();
        assert_eq!(total, 40.0);
    }
}
