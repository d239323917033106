//! Percentiles of a set of timings, for command output.

use std::time::Duration;

/// Median, 99th percentile and maximum of `samples`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub count: usize,
}

impl Summary {
    /// All zero when there are no samples.
    pub fn of(samples: &mut [Duration]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Summary { p50: at(0.5), p99: at(0.99), max: samples[samples.len() - 1], count: samples.len() }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "p50 {} · p99 {} · max {} (n={})", micros(self.p50), micros(self.p99), micros(self.max), self.count)
    }
}

/// A duration as microseconds with one decimal, or milliseconds past 10 ms.
pub fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 { format!("{:.1} ms", us / 1000.0) } else { format!("{us:.1} µs") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_set() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let s = Summary::of(&mut samples);
        assert_eq!(s.p50, Duration::from_micros(51));
        assert_eq!(s.p99, Duration::from_micros(99));
        assert_eq!(s.max, Duration::from_micros(100));
        assert_eq!(Summary::of(&mut []).count, 0);
    }

    #[test]
    fn formats_small_and_large_durations() {
        assert_eq!(micros(Duration::from_nanos(2500)), "2.5 µs");
        assert_eq!(micros(Duration::from_millis(12)), "12.0 ms");
    }
}
