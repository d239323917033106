//! The guard's state machine against a fake remote that can answer, fail or hang, under
//! tokio's paused clock.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use super::*;
use crate::state::StateFuture;

const OK: u8 = 0;
const FAIL: u8 = 1;
const HANG: u8 = 2;

/// A [`LocalState`] that can be told to fail or hang.
#[derive(Default)]
struct Flaky {
    inner: LocalState,
    mode: AtomicU8,
}

impl Flaky {
    fn gate<'a, T: Send + 'a>(&'a self, f: StateFuture<'a, T>) -> StateFuture<'a, T> {
        match self.mode.load(Ordering::SeqCst) {
            OK => f,
            FAIL => Box::pin(async { Err(StateError::Unavailable("refused".into())) }),
            _ => Box::pin(std::future::pending()),
        }
    }
}

impl SharedState for Flaky {
    fn backend(&self) -> &'static str {
        "fake"
    }
    fn reserve<'a>(&'a self, charges: &'a [Charge], now_ms: u64) -> StateFuture<'a, Reserve> {
        self.gate(self.inner.reserve(charges, now_ms))
    }
    fn peek<'a>(&'a self, counters: &'a [Vec<String>], now_ms: u64) -> StateFuture<'a, Vec<i64>> {
        self.gate(self.inner.peek(counters, now_ms))
    }
    fn apply<'a>(&'a self, deltas: &'a [Delta], now_ms: u64) -> StateFuture<'a, ()> {
        self.gate(self.inner.apply(deltas, now_ms))
    }
    fn put_key<'a>(&'a self, key: &'a StoredKey) -> StateFuture<'a, u64> {
        self.gate(self.inner.put_key(key))
    }
    fn revoke_key<'a>(&'a self, id: &'a str) -> StateFuture<'a, u64> {
        self.gate(self.inner.revoke_key(id))
    }
    fn keys_version(&self) -> StateFuture<'_, u64> {
        self.gate(self.inner.keys_version())
    }
    fn key_set(&self) -> StateFuture<'_, KeySet> {
        self.gate(self.inner.key_set())
    }
    fn ping(&self) -> StateFuture<'_, ()> {
        self.gate(self.inner.ping())
    }
}

fn charge(limit: i64, amount: i64, fail: LimitFailMode) -> Charge {
    Charge {
        counter: "team:t:budget:b".into(),
        buckets: vec!["team:t:budget:b:d1".into()],
        limit,
        amount,
        expire_at_ms: u64::MAX / 2,
        reset_at_ms: u64::MAX / 2,
        fail,
    }
}

fn remote_value(fake: &Flaky) -> i64 {
    fake.inner.peek_now(&[vec!["team:t:budget:b:d1".into()]], now_ms())[0]
}

const TIMEOUT: Duration = Duration::from_millis(50);
const PROBE: Duration = Duration::from_millis(100);

#[tokio::test(start_paused = true)]
async fn a_hung_remote_costs_one_timeout_then_fail_closed_refuses_at_once() {
    let fake = Arc::new(Flaky::default());
    let guarded = Guarded::remote(fake.clone(), TIMEOUT, PROBE);
    fake.mode.store(HANG, Ordering::SeqCst);
    let started = tokio::time::Instant::now();
    assert_eq!(guarded.reserve(&[charge(100, 10, LimitFailMode::Closed)]).await, Reserved::Unavailable { index: 0 });
    assert_eq!(started.elapsed(), TIMEOUT);
    // Marked down: the next request does not wait for another timeout.
    let started = tokio::time::Instant::now();
    assert_eq!(guarded.reserve(&[charge(100, 10, LimitFailMode::Closed)]).await, Reserved::Unavailable { index: 0 });
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert!(!guarded.status().up);
}

#[tokio::test(start_paused = true)]
async fn fail_open_counts_locally_from_the_last_value_seen_and_reconciles() {
    let fake = Arc::new(Flaky::default());
    let guarded = Guarded::remote(fake.clone(), TIMEOUT, PROBE);
    let open = |amount| charge(100, amount, LimitFailMode::Open);
    assert_eq!(guarded.reserve(&[open(80)]).await, Reserved::Granted { used: vec![80], degraded: false });

    fake.mode.store(FAIL, Ordering::SeqCst);
    // 80 was spent fleet-wide when the replica lost sight of Redis: only 20 is left locally.
    assert_eq!(guarded.reserve(&[open(30)]).await, Reserved::Refused { index: 0, used: 80 });
    assert_eq!(guarded.reserve(&[open(15)]).await, Reserved::Granted { used: vec![95], degraded: true });
    // The request spent 5 less than estimated; settled locally and queued.
    let refund = Delta { bucket: "team:t:budget:b:d1".into(), amount: -5, expire_at_ms: u64::MAX / 2, create: false };
    guarded.settle(std::slice::from_ref(&refund), true).await;
    assert_eq!(guarded.status().pending_buckets, 1);

    // Redis returns: the probe hands over the 10 spent meanwhile, then declares it up.
    fake.mode.store(OK, Ordering::SeqCst);
    tokio::time::sleep(PROBE * 2).await;
    assert!(guarded.status().up);
    assert_eq!(guarded.status().pending_buckets, 0);
    assert_eq!(remote_value(&fake), 90);
    assert_eq!(guarded.status().recoveries, 1);
}

#[tokio::test(start_paused = true)]
async fn a_settlement_that_fails_is_delivered_later_exactly_once() {
    let fake = Arc::new(Flaky::default());
    let guarded = Guarded::remote(fake.clone(), TIMEOUT, PROBE);
    guarded.reserve(&[charge(100, 40, LimitFailMode::Closed)]).await;
    fake.mode.store(FAIL, Ordering::SeqCst);
    let refund = Delta { bucket: "team:t:budget:b:d1".into(), amount: -25, expire_at_ms: u64::MAX / 2, create: false };
    guarded.settle(std::slice::from_ref(&refund), false).await;
    assert_eq!(remote_value(&fake), 40);
    tokio::time::sleep(PROBE * 3).await; // still failing: stays queued
    assert_eq!(guarded.status().pending_buckets, 1);
    fake.mode.store(OK, Ordering::SeqCst);
    tokio::time::sleep(PROBE * 3).await;
    assert_eq!(remote_value(&fake), 15);
    tokio::time::sleep(PROBE * 3).await;
    assert_eq!(remote_value(&fake), 15, "delivered once");
}

#[tokio::test(start_paused = true)]
async fn the_local_backend_never_degrades() {
    let guarded = Guarded::local();
    assert_eq!(
        guarded.reserve(&[charge(10, 10, LimitFailMode::Closed)]).await,
        Reserved::Granted { used: vec![10], degraded: false }
    );
    assert_eq!(
        guarded.reserve(&[charge(10, 1, LimitFailMode::Closed)]).await,
        Reserved::Refused { index: 0, used: 10 }
    );
}
