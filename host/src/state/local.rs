//! Shared state for one process: the same semantics as the Redis scripts, under one mutex.
//! It is the default backend, and the fallback counters of a replica whose Redis is away.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{Charge, Delta, KeySet, Reserve, SharedState, StateFuture, StoredKey};

/// Buckets dropped once this many reservations have run since the last sweep.
const SWEEP_EVERY: u64 = 4096;

#[derive(Default)]
struct Inner {
    /// Bucket → (value, expire at ms).
    buckets: HashMap<String, (i64, u64)>,
    keys: BTreeMap<String, StoredKey>,
    revoked: Vec<String>,
    version: u64,
    since_sweep: u64,
}

impl Inner {
    fn value(&self, bucket: &str, now_ms: u64) -> i64 {
        match self.buckets.get(bucket) {
            Some((value, expire)) if *expire > now_ms => *value,
            _ => 0,
        }
    }

    fn sweep(&mut self, now_ms: u64) {
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            self.buckets.retain(|_, (_, expire)| *expire > now_ms);
        }
    }
}

/// In-process counters and key store.
#[derive(Default)]
pub struct LocalState {
    inner: Mutex<Inner>,
}

impl LocalState {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`SharedState::reserve`] without the future: it never waits.
    pub fn reserve_now(&self, charges: &[Charge], now_ms: u64) -> Reserve {
        let mut inner = self.lock();
        inner.sweep(now_ms);
        let mut used = Vec::with_capacity(charges.len());
        for (index, charge) in charges.iter().enumerate() {
            let sum: i64 = charge.buckets.iter().map(|b| inner.value(b, now_ms)).sum();
            if sum >= charge.limit || sum.saturating_add(charge.amount) > charge.limit {
                return Reserve::Refused { index, used: sum };
            }
            used.push(sum + charge.amount);
        }
        for charge in charges {
            if let Some(first) = charge.buckets.first() {
                add(&mut inner, first, charge.amount, charge.expire_at_ms, true, now_ms);
            }
        }
        Reserve::Granted { used }
    }

    /// [`SharedState::apply`] without the future.
    pub fn apply_now(&self, deltas: &[Delta], now_ms: u64) {
        let mut inner = self.lock();
        for d in deltas {
            add(&mut inner, &d.bucket, d.amount, d.expire_at_ms, d.create, now_ms);
        }
    }

    /// [`SharedState::peek`] without the future.
    pub fn peek_now(&self, counters: &[Vec<String>], now_ms: u64) -> Vec<i64> {
        let inner = self.lock();
        counters.iter().map(|buckets| buckets.iter().map(|b| inner.value(b, now_ms)).sum()).collect()
    }

    /// Forgets every counter (the fallback counters, once Redis has their amounts).
    pub fn clear_counters(&self) {
        self.lock().buckets.clear();
    }
}

fn add(inner: &mut Inner, bucket: &str, amount: i64, expire_at_ms: u64, create: bool, now_ms: u64) {
    let live = inner.buckets.get(bucket).is_some_and(|(_, expire)| *expire > now_ms);
    if !live && !create {
        return;
    }
    let entry = inner.buckets.entry(bucket.to_string()).or_insert((0, expire_at_ms));
    if !live {
        *entry = (0, expire_at_ms);
    }
    entry.0 = entry.0.saturating_add(amount);
    entry.1 = entry.1.max(expire_at_ms);
}

impl SharedState for LocalState {
    fn backend(&self) -> &'static str {
        "local"
    }
    fn reserve<'a>(&'a self, charges: &'a [Charge], now_ms: u64) -> StateFuture<'a, Reserve> {
        Box::pin(async move { Ok(self.reserve_now(charges, now_ms)) })
    }
    fn peek<'a>(&'a self, counters: &'a [Vec<String>], now_ms: u64) -> StateFuture<'a, Vec<i64>> {
        Box::pin(async move { Ok(self.peek_now(counters, now_ms)) })
    }
    fn apply<'a>(&'a self, deltas: &'a [Delta], now_ms: u64) -> StateFuture<'a, ()> {
        Box::pin(async move {
            self.apply_now(deltas, now_ms);
            Ok(())
        })
    }
    fn put_key<'a>(&'a self, key: &'a StoredKey) -> StateFuture<'a, u64> {
        Box::pin(async move {
            let mut inner = self.lock();
            inner.keys.insert(key.id.clone(), key.clone());
            inner.version += 1;
            Ok(inner.version)
        })
    }
    fn revoke_key<'a>(&'a self, id: &'a str) -> StateFuture<'a, u64> {
        Box::pin(async move {
            let mut inner = self.lock();
            inner.keys.remove(id);
            if !inner.revoked.iter().any(|r| r == id) {
                inner.revoked.push(id.to_string());
            }
            inner.version += 1;
            Ok(inner.version)
        })
    }
    fn keys_version(&self) -> StateFuture<'_, u64> {
        Box::pin(async move { Ok(self.lock().version) })
    }
    fn key_set(&self) -> StateFuture<'_, KeySet> {
        Box::pin(async move {
            let inner = self.lock();
            Ok(KeySet {
                version: inner.version,
                keys: inner.keys.values().cloned().collect(),
                revoked: inner.revoked.clone(),
            })
        })
    }
    fn ping(&self) -> StateFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LimitFailMode;

    fn charge(bucket: &str, limit: i64, amount: i64) -> Charge {
        Charge {
            counter: bucket.to_string(),
            buckets: vec![bucket.to_string()],
            limit,
            amount,
            expire_at_ms: 1_000,
            reset_at_ms: 1_000,
            fail: LimitFailMode::Closed,
        }
    }

    #[test]
    fn charges_are_all_or_nothing() {
        let state = LocalState::new();
        assert_eq!(
            state.reserve_now(&[charge("a", 10, 6), charge("b", 5, 5)], 0),
            Reserve::Granted { used: vec![6, 5] }
        );
        // `b` is full: `a` must not be charged either.
        assert_eq!(
            state.reserve_now(&[charge("a", 10, 1), charge("b", 5, 1)], 0),
            Reserve::Refused { index: 1, used: 5 }
        );
        assert_eq!(state.peek_now(&[vec!["a".into()], vec!["b".into()]], 0), vec![6, 5]);
        assert_eq!(state.reserve_now(&[charge("a", 10, 5)], 0), Reserve::Refused { index: 0, used: 6 });
        assert_eq!(state.reserve_now(&[charge("a", 10, 4)], 0), Reserve::Granted { used: vec![10] });
        // Full: even a free request is refused, so an exhausted budget names itself.
        assert_eq!(state.reserve_now(&[charge("a", 10, 0)], 0), Reserve::Refused { index: 0, used: 10 });
    }

    #[test]
    fn settlements_refund_and_never_resurrect_expired_buckets() {
        let state = LocalState::new();
        state.reserve_now(&[charge("a", 100, 50)], 0);
        state.apply_now(&[Delta { bucket: "a".into(), amount: -30, expire_at_ms: 1_000, create: false }], 10);
        assert_eq!(state.peek_now(&[vec!["a".into()]], 10), vec![20]);
        // Past its expiry the bucket counts 0 and a late refund does not bring it back.
        state.apply_now(&[Delta { bucket: "a".into(), amount: -5, expire_at_ms: 1_000, create: false }], 2_000);
        assert_eq!(state.peek_now(&[vec!["a".into()]], 2_000), vec![0]);
        state.apply_now(&[Delta { bucket: "n".into(), amount: 7, expire_at_ms: 5_000, create: true }], 2_000);
        assert_eq!(state.peek_now(&[vec!["n".into()]], 2_000), vec![7]);
    }

    #[tokio::test]
    async fn revocation_bumps_the_version() {
        let state = LocalState::new();
        let key = StoredKey { id: "rk-1".into(), sha256: "00".into(), policy_json: "{}".into() };
        assert_eq!(state.put_key(&key).await.unwrap(), 1);
        assert_eq!(state.revoke_key("rk-1").await.unwrap(), 2);
        let set = state.key_set().await.unwrap();
        assert!(set.keys.is_empty());
        assert_eq!(set.revoked, vec!["rk-1".to_string()]);
    }
}
