//! Passive health per model: what recent real calls say about it, plus its circuit
//! breaker. Policies see the result in the model table (`healthy`, `p50-ms`) and route
//! around trouble; the pipeline asks [`HealthBook::allow`] before each attempt.
//!
//! Only real traffic is measured (no synthetic probes), so an idle model keeps its last
//! known state; the breaker's half-open probe is what brings a broken model back.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::breaker::Breaker;
pub use super::breaker::BreakerState;

/// Tuning of the health book.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthOptions {
    /// Attempts remembered per model for the error rate and p50. Default 100.
    pub window: usize,
    /// Consecutive failures that open the breaker (0 = never). Default 5.
    pub failure_threshold: u32,
    /// How long an open breaker refuses calls. Default 10 s.
    pub open_for: Duration,
}

impl Default for HealthOptions {
    fn default() -> Self {
        HealthOptions { window: 100, failure_threshold: 5, open_for: Duration::from_secs(10) }
    }
}

/// A model's health, as shown to policies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelHealth {
    /// False while the breaker refuses calls.
    pub healthy: bool,
    /// Median latency of the recent successful attempts, in ms (0 when none).
    pub p50_ms: u32,
    /// Share of failed attempts in the window, 0.0 to 1.0.
    pub error_rate: f64,
}

#[derive(Debug)]
struct ModelState {
    /// (ok, latency ms), newest last.
    window: VecDeque<(bool, u32)>,
    /// Failed attempts in `window`, kept as it slides.
    failures: usize,
    /// The p50 last computed, and the attempts recorded since: every request's model table
    /// reads it, so it is recomputed (a selection over the window) at most once per
    /// [`P50_REFRESH`] records instead of on every read.
    p50: Option<u32>,
    since_p50: u32,
    breaker: Breaker,
}

/// Records after which a model's p50 is recomputed on the next read (with the default
/// 100-attempt window the median moves by at most a few places in that many records).
const P50_REFRESH: u32 = 8;

/// Health of every model, keyed by model id. Cheap to share: clone the `Arc` around it.
#[derive(Debug, Default)]
pub struct HealthBook {
    options: HealthOptions,
    models: RwLock<HashMap<String, Arc<Mutex<ModelState>>>>,
}

impl HealthBook {
    /// An empty book.
    pub fn new(options: HealthOptions) -> Self {
        HealthBook { options, models: RwLock::default() }
    }

    fn state(&self, model: &str) -> Arc<Mutex<ModelState>> {
        if let Ok(models) = self.models.read()
            && let Some(s) = models.get(model)
        {
            return s.clone();
        }
        let mut models = self.models.write().unwrap_or_else(|p| p.into_inner());
        models
            .entry(model.to_string())
            .or_insert_with(|| {
                Arc::new(Mutex::new(ModelState {
                    window: VecDeque::new(),
                    failures: 0,
                    p50: None,
                    since_p50: 0,
                    breaker: Breaker::new(self.options.failure_threshold, self.options.open_for),
                }))
            })
            .clone()
    }

    fn with<R>(&self, model: &str, f: impl FnOnce(&mut ModelState) -> R) -> R {
        let state = self.state(model);
        let mut guard = state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Records one attempt's outcome and latency.
    pub fn record(&self, model: &str, ok: bool, latency: Duration) {
        self.record_at(model, ok, latency, Instant::now());
    }

    /// [`HealthBook::record`] at a given instant (tests).
    pub fn record_at(&self, model: &str, ok: bool, latency: Duration, now: Instant) {
        let window = self.options.window.max(1);
        let ms = u32::try_from(latency.as_millis()).unwrap_or(u32::MAX);
        self.with(model, |s| {
            if s.window.len() >= window
                && let Some((false, _)) = s.window.pop_front()
            {
                s.failures -= 1;
            }
            s.window.push_back((ok, ms));
            if !ok {
                s.failures += 1;
            }
            s.since_p50 = s.since_p50.saturating_add(1);
            s.breaker.record(ok, now);
        });
    }

    /// Whether a call to `model` may go out now. When the breaker is half-open, the first
    /// caller gets `true` (the probe) and must [`HealthBook::record`] its outcome.
    pub fn allow(&self, model: &str) -> bool {
        self.allow_at(model, Instant::now())
    }

    /// [`HealthBook::allow`] at a given instant (tests).
    pub fn allow_at(&self, model: &str, now: Instant) -> bool {
        self.with(model, |s| s.breaker.allow(now))
    }

    /// The breaker's state for `model`.
    pub fn breaker_state(&self, model: &str) -> BreakerState {
        self.with(model, |s| s.breaker.state())
    }

    /// `model`'s health now. A model never called is healthy with no latency data.
    pub fn snapshot(&self, model: &str) -> ModelHealth {
        self.snapshot_at(model, Instant::now())
    }

    /// [`HealthBook::snapshot`] at a given instant (tests).
    pub fn snapshot_at(&self, model: &str, now: Instant) -> ModelHealth {
        self.with(model, |s| {
            let total = s.window.len();
            let failures = s.failures;
            // Stale after P50_REFRESH records, or after an eighth of the window (so a model's
            // first few calls show up at once).
            let stale = s.since_p50 > 0 && (s.since_p50 >= P50_REFRESH || s.since_p50 as usize * 8 >= total);
            let p50_ms = match s.p50 {
                Some(p50) if !stale => p50,
                _ => {
                    let mut ok_latencies: Vec<u32> = s.window.iter().filter(|(ok, _)| *ok).map(|(_, ms)| *ms).collect();
                    let middle = ok_latencies.len() / 2;
                    let p50 = if ok_latencies.is_empty() { 0 } else { *ok_latencies.select_nth_unstable(middle).1 };
                    s.p50 = Some(p50);
                    s.since_p50 = 0;
                    p50
                }
            };
            ModelHealth {
                // An elapsed open breaker counts as healthy, or no policy would ever send
                // the probe that can close it.
                healthy: s.breaker.would_allow(now),
                p50_ms,
                error_rate: if total == 0 { 0.0 } else { failures as f64 / total as f64 },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_error_rate_and_p50() {
        let book = HealthBook::new(HealthOptions { window: 4, ..HealthOptions::default() });
        let ms = Duration::from_millis;
        assert_eq!(book.snapshot("m"), ModelHealth { healthy: true, p50_ms: 0, error_rate: 0.0 });
        for (ok, l) in [(false, 1), (true, 30), (true, 10), (true, 20), (false, 5)] {
            book.record("m", ok, ms(l));
        }
        let h = book.snapshot("m");
        assert_eq!(h.p50_ms, 20);
        assert!((h.error_rate - 0.25).abs() < 1e-9);
        assert!(h.healthy);
    }

    #[test]
    fn breaker_marks_unhealthy_then_probes() {
        let book = HealthBook::new(HealthOptions::default());
        let t0 = Instant::now();
        for _ in 0..5 {
            book.record_at("m", false, Duration::ZERO, t0);
        }
        assert!(!book.snapshot_at("m", t0).healthy);
        assert!(!book.allow_at("m", t0));
        let later = t0 + Duration::from_secs(10);
        assert!(book.snapshot_at("m", later).healthy);
        assert!(book.allow_at("m", later));
        assert!(!book.allow_at("m", later));
        book.record_at("m", true, Duration::from_millis(3), later);
        assert_eq!(book.breaker_state("m"), BreakerState::Closed);
        assert!(book.allow_at("other", t0), "models are independent");
    }

    #[test]
    fn shared_across_threads() {
        let book = Arc::new(HealthBook::new(HealthOptions::default()));
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let book = book.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        book.record(&format!("m{}", i % 2), true, Duration::from_millis(1));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(book.snapshot("m0").p50_ms, 1);
    }
}
