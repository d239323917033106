//! A circuit breaker for one model. After `threshold` consecutive failures it opens for
//! `open_for`; then it lets a single probe through (half-open) and closes when the probe
//! succeeds, or opens again when it fails. This keeps a dead upstream from eating every
//! request's deadline while still noticing, within seconds, when it comes back.

use std::time::{Duration, Instant};

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls are refused until the instant passes.
    Open {
        /// When a probe may go through.
        until: Instant,
    },
    /// One probe is in flight since the instant; other calls are refused.
    HalfOpen {
        /// When the probe was let through.
        since: Instant,
    },
}

/// One model's breaker. Not thread-safe by itself; [`super::HealthBook`] wraps it.
#[derive(Debug, Clone)]
pub(crate) struct Breaker {
    state: BreakerState,
    consecutive_failures: u32,
    threshold: u32,
    open_for: Duration,
}

impl Breaker {
    /// A closed breaker. `threshold` 0 means it never opens.
    pub(crate) fn new(threshold: u32, open_for: Duration) -> Self {
        Breaker { state: BreakerState::Closed, consecutive_failures: 0, threshold, open_for }
    }

    pub(crate) fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether a call may go out now; a `true` in the half-open state is the probe.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen { since: now };
                true
            }
            BreakerState::Open { .. } => false,
            // A probe whose result never came back (its request was cancelled) must not
            // wedge the breaker: after another `open_for`, let a new probe through.
            BreakerState::HalfOpen { since } if now >= since + self.open_for => {
                self.state = BreakerState::HalfOpen { since: now };
                true
            }
            BreakerState::HalfOpen { .. } => false,
        }
    }

    /// Whether a call would be let through now, without claiming the probe.
    pub(crate) fn would_allow(&self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open { until } => now >= until,
            BreakerState::HalfOpen { since } => now >= since + self.open_for,
        }
    }

    /// Records the outcome of a call.
    pub(crate) fn record(&mut self, ok: bool, now: Instant) {
        if ok {
            self.consecutive_failures = 0;
            self.state = BreakerState::Closed;
            return;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let trip = matches!(self.state, BreakerState::HalfOpen { .. })
            || (self.threshold > 0 && self.consecutive_failures >= self.threshold);
        if trip {
            self.state = BreakerState::Open { until: now + self.open_for };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_probes_and_closes() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut b = Breaker::new(3, 10 * s);
        for _ in 0..2 {
            b.record(false, t0);
        }
        assert!(b.allow(t0));
        b.record(false, t0);
        assert_eq!(b.state(), BreakerState::Open { until: t0 + 10 * s });
        assert!(!b.allow(t0 + 9 * s));
        assert!(b.would_allow(t0 + 10 * s));
        assert!(b.allow(t0 + 10 * s), "the probe goes through");
        assert!(!b.allow(t0 + 10 * s), "only one probe");
        b.record(true, t0 + 11 * s);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow(t0 + 11 * s));
    }

    #[test]
    fn a_failed_probe_reopens_and_a_lost_probe_expires() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut b = Breaker::new(1, s);
        b.record(false, t0);
        assert!(b.allow(t0 + s));
        b.record(false, t0 + s);
        assert!(!b.allow(t0 + s));
        assert!(b.allow(t0 + 2 * s));
        assert!(!b.allow(t0 + 2 * s));
        assert!(b.allow(t0 + 3 * s), "a probe that never reported is replaced");
    }

    #[test]
    fn threshold_zero_never_opens() {
        let t0 = Instant::now();
        let mut b = Breaker::new(0, Duration::from_secs(1));
        for _ in 0..100 {
            b.record(false, t0);
        }
        assert!(b.allow(t0));
    }
}
