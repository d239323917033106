//! The shared state as the request path sees it: every remote call under a short timeout,
//! each limit's fail mode applied when the remote does not answer, and what was counted
//! locally meanwhile handed to the remote once it is back.
//!
//! Fail open means: serve, and count against this replica's fallback counters with the
//! limit lowered by the counter's last value seen from the remote, so a replica in an outage
//! spends at most what was left when it lost sight of the others. Fail closed means 503.
//! Amounts counted locally and settlements that could not be delivered wait in `pending`
//! (merged per bucket, so the backlog is bounded by the number of buckets, not requests).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::link::Link;
use super::{Charge, Delta, KeySet, LocalState, Reserve, SharedState, StateError, StoredKey, now_ms};
use crate::config::LimitFailMode;

/// What a reservation got.
#[derive(Debug, Clone, PartialEq)]
pub enum Reserved {
    /// Charged. `degraded` when counted locally because the remote did not answer.
    Granted { used: Vec<i64>, degraded: bool },
    /// Charge `index` is over its limit.
    Refused { index: usize, used: i64 },
    /// The remote did not answer and charge `index` fails closed.
    Unavailable { index: usize },
}

/// A snapshot for the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GuardStatus {
    pub backend: &'static str,
    pub up: bool,
    pub outages: u64,
    pub recoveries: u64,
    pub pending_buckets: usize,
}

/// The remote state behind timeouts and fail modes.
pub struct Guarded {
    remote: Arc<dyn SharedState>,
    /// Whether `remote` can fail at all (the local backend cannot).
    fallible: bool,
    fallback: LocalState,
    link: Link,
    timeout: Duration,
    /// (bucket, create) → (amount, expire at ms).
    pending: Mutex<HashMap<(String, bool), (i64, u64)>>,
    /// Counter → its value as last seen from the remote.
    last_seen: Mutex<HashMap<String, i64>>,
}

impl Guarded {
    /// The in-process backend: nothing to time out, nothing to reconcile.
    pub fn local() -> Arc<Guarded> {
        Arc::new(Self::with(Arc::new(LocalState::new()), false, Duration::from_secs(1)))
    }

    /// A remote backend, with the probe that brings it back after an outage running every
    /// `probe` until the returned value is dropped.
    pub fn remote(remote: Arc<dyn SharedState>, timeout: Duration, probe: Duration) -> Arc<Guarded> {
        let guarded = Arc::new(Self::with(remote, true, timeout));
        tokio::spawn(probe_loop(Arc::downgrade(&guarded), probe));
        guarded
    }

    fn with(remote: Arc<dyn SharedState>, fallible: bool, timeout: Duration) -> Guarded {
        Guarded {
            remote,
            fallible,
            fallback: LocalState::new(),
            link: Link::default(),
            timeout,
            pending: Mutex::new(HashMap::new()),
            last_seen: Mutex::new(HashMap::new()),
        }
    }

    pub fn backend(&self) -> &'static str {
        self.remote.backend()
    }

    pub fn status(&self) -> GuardStatus {
        let (outages, recoveries) = self.link.counts();
        GuardStatus {
            backend: self.backend(),
            up: self.link.is_up(),
            outages,
            recoveries,
            pending_buckets: lock(&self.pending).len(),
        }
    }

    /// Runs one remote call under the timeout; a failure marks the link down.
    async fn call<T>(&self, future: super::StateFuture<'_, T>) -> Result<T, StateError> {
        if self.fallible && !self.link.is_up() {
            return Err(StateError::Unavailable("marked down; waiting for the probe".into()));
        }
        let result = match tokio::time::timeout(self.timeout, future).await {
            Ok(result) => result,
            Err(_) => Err(StateError::Timeout(self.timeout.as_millis() as u64)),
        };
        if result.is_err() && self.fallible {
            self.link.failed();
        }
        result
    }

    /// Charges a request (see [`Reserved`]).
    pub async fn reserve(&self, charges: &[Charge]) -> Reserved {
        let now = now_ms();
        match self.call(self.remote.reserve(charges, now)).await {
            Ok(Reserve::Granted { used }) => {
                let mut seen = lock(&self.last_seen);
                for (charge, used) in charges.iter().zip(&used) {
                    seen.insert(charge.counter.clone(), *used);
                }
                Reserved::Granted { used, degraded: false }
            }
            Ok(Reserve::Refused { index, used }) => {
                lock(&self.last_seen).insert(charges[index].counter.clone(), used);
                Reserved::Refused { index, used }
            }
            Err(error) => {
                tracing::debug!("reservation degraded: {error}");
                self.reserve_locally(charges, now)
            }
        }
    }

    fn reserve_locally(&self, charges: &[Charge], now: u64) -> Reserved {
        if let Some(index) = charges.iter().position(|c| c.fail == LimitFailMode::Closed) {
            return Reserved::Unavailable { index };
        }
        let seeds: Vec<i64> = {
            let seen = lock(&self.last_seen);
            charges.iter().map(|c| seen.get(&c.counter).copied().unwrap_or(0)).collect()
        };
        let lowered: Vec<Charge> = charges
            .iter()
            .zip(&seeds)
            .map(|(c, seed)| Charge { limit: c.limit.saturating_sub(*seed), ..c.clone() })
            .collect();
        match self.fallback.reserve_now(&lowered, now) {
            Reserve::Granted { used } => {
                let deltas: Vec<Delta> = charges
                    .iter()
                    .filter_map(|c| {
                        let bucket = c.buckets.first()?;
                        Some(Delta {
                            bucket: bucket.clone(),
                            amount: c.amount,
                            expire_at_ms: c.expire_at_ms,
                            create: true,
                        })
                    })
                    .collect();
                self.queue(&deltas);
                Reserved::Granted { used: used.iter().zip(&seeds).map(|(u, s)| u + s).collect(), degraded: true }
            }
            Reserve::Refused { index, used } => Reserved::Refused { index, used: used + seeds[index] },
        }
    }

    /// Corrects a reservation to what was actually spent. `degraded` is the reservation's:
    /// one counted locally is corrected locally and in the backlog.
    pub async fn settle(&self, deltas: &[Delta], degraded: bool) {
        if deltas.is_empty() {
            return;
        }
        if degraded {
            self.fallback.apply_now(deltas, now_ms());
            let created: Vec<Delta> = deltas.iter().map(|d| Delta { create: true, ..d.clone() }).collect();
            self.queue(&created);
            return;
        }
        if let Err(error) = self.call(self.remote.apply(deltas, now_ms())).await {
            tracing::debug!("settlement queued until the shared state answers: {error}");
            self.queue(deltas);
        }
    }

    fn queue(&self, deltas: &[Delta]) {
        if !self.fallible {
            return;
        }
        let mut pending = lock(&self.pending);
        for d in deltas {
            let entry = pending.entry((d.bucket.clone(), d.create)).or_insert((0, d.expire_at_ms));
            entry.0 = entry.0.saturating_add(d.amount);
            entry.1 = entry.1.max(d.expire_at_ms);
        }
    }

    /// Hands the backlog to the remote; on failure it stays queued.
    async fn flush(&self) -> Result<(), StateError> {
        let taken: Vec<Delta> = lock(&self.pending)
            .drain()
            .filter(|(_, (amount, _))| *amount != 0)
            .map(|((bucket, create), (amount, expire_at_ms))| Delta { bucket, amount, expire_at_ms, create })
            .collect();
        if taken.is_empty() {
            return Ok(());
        }
        // A bucket past its expiry no longer counts anywhere: its backlog is dropped.
        let now = now_ms();
        let live: Vec<Delta> = taken.into_iter().filter(|d| d.expire_at_ms > now).collect();
        let result = match tokio::time::timeout(self.timeout * 4, self.remote.apply(&live, now)).await {
            Ok(result) => result,
            Err(_) => Err(StateError::Timeout(self.timeout.as_millis() as u64 * 4)),
        };
        if result.is_err() {
            self.queue(&live);
        }
        result
    }

    /// The value of `counter` as last seen from the remote by this replica.
    pub fn seen(&self, counter: &str) -> Option<i64> {
        lock(&self.last_seen).get(counter).copied()
    }

    /// Reads the current value of each charge's counter and remembers it.
    pub async fn look(&self, charges: &[Charge]) -> Option<Vec<i64>> {
        let buckets: Vec<Vec<String>> = charges.iter().map(|c| c.buckets.clone()).collect();
        let values = self.peek(&buckets).await?;
        let mut seen = lock(&self.last_seen);
        for (charge, value) in charges.iter().zip(&values) {
            seen.insert(charge.counter.clone(), *value);
        }
        Some(values)
    }

    /// The current value of each counter, `None` when the remote does not answer in time.
    pub async fn peek(&self, counters: &[Vec<String>]) -> Option<Vec<i64>> {
        self.call(self.remote.peek(counters, now_ms())).await.ok()
    }

    pub async fn put_key(&self, key: &StoredKey) -> Result<u64, StateError> {
        self.call(self.remote.put_key(key)).await
    }
    pub async fn revoke_key(&self, id: &str) -> Result<u64, StateError> {
        self.call(self.remote.revoke_key(id)).await
    }
    pub async fn keys_version(&self) -> Result<u64, StateError> {
        self.call(self.remote.keys_version()).await
    }
    pub async fn key_set(&self) -> Result<KeySet, StateError> {
        self.call(self.remote.key_set()).await
    }
}

/// While down: ping; once it answers, hand over the backlog, then declare it up. While up:
/// hand over whatever settlements failed in passing.
async fn probe_loop(guarded: Weak<Guarded>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(guarded) = guarded.upgrade() else { return };
        if guarded.link.is_up() {
            if !lock(&guarded.pending).is_empty() && guarded.flush().await.is_err() {
                guarded.link.failed();
            }
            continue;
        }
        let answered = matches!(tokio::time::timeout(guarded.timeout, guarded.remote.ping()).await, Ok(Ok(())));
        if answered && guarded.flush().await.is_ok() {
            guarded.fallback.clear_counters();
            guarded.link.recovered();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
