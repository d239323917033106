//! Quarantine for a plugin that keeps failing: after N failures in a row its calls are
//! refused at once (the fail mode applies without paying for a doomed call), and one call is
//! let through every retry interval to see whether it recovered.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When a plugin is quarantined and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantinePolicy {
    /// Consecutive failures that start a quarantine; 0 disables quarantine.
    pub after_failures: u32,
    /// How long calls are refused before one probe call is let through.
    pub retry_after: Duration,
}

impl Default for QuarantinePolicy {
    fn default() -> Self {
        QuarantinePolicy { after_failures: 10, retry_after: Duration::from_secs(5) }
    }
}

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    /// While set, calls are refused until this instant.
    refused_until: Option<Instant>,
    total_failures: u64,
}

/// The quarantine state of one plugin version.
#[derive(Debug)]
pub(crate) struct Quarantine {
    policy: QuarantinePolicy,
    state: Mutex<State>,
}

impl Quarantine {
    pub fn new(policy: QuarantinePolicy) -> Self {
        Quarantine { policy, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a call may go ahead now. Past the retry instant one probe call is admitted
    /// and the window is pushed forward, so a still-broken plugin costs one call per window.
    pub fn admit(&self) -> bool {
        let mut state = self.lock();
        match state.refused_until {
            None => true,
            Some(until) if Instant::now() >= until => {
                state.refused_until = Some(Instant::now() + self.policy.retry_after);
                true
            }
            Some(_) => false,
        }
    }

    pub fn record_success(&self) {
        let mut state = self.lock();
        state.consecutive_failures = 0;
        state.refused_until = None;
    }

    /// Counts a failure; returns true when this failure started a quarantine.
    pub fn record_failure(&self) -> bool {
        let mut state = self.lock();
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        state.total_failures += 1;
        let threshold = self.policy.after_failures;
        if threshold > 0 && state.consecutive_failures >= threshold && state.refused_until.is_none() {
            state.refused_until = Some(Instant::now() + self.policy.retry_after);
            return true;
        }
        false
    }

    pub fn is_active(&self) -> bool {
        self.lock().refused_until.is_some()
    }

    pub fn total_failures(&self) -> u64 {
        self.lock().total_failures
    }
}
