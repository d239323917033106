//! State that must hold across replicas: budget and rate-limit counters, and keys created or
//! revoked at run time. One trait, [`SharedState`], two implementations: [`LocalState`] (one
//! process, nothing external) and [`RedisState`] (a fleet; atomic through Lua scripts).
//!
//! Counters are integers in Redis' sense: budgets count nano-dollars, rate limits count
//! requests or tokens. A counter is a set of time buckets ([`window`]); a *charge* adds an
//! amount to the current bucket only if the sum of its buckets plus the amount stays within
//! the limit, and a request's charges succeed or fail together, in one atomic step. That
//! check-and-add in one step is what keeps N replicas from each seeing room for the same
//! dollar. [`guard::Guarded`] wraps a remote implementation with timeouts, fail modes and
//! reconciliation; the request path only ever talks to it.

pub mod guard;
pub mod link;
pub mod local;
pub mod redis;
mod scripts;
pub mod window;

use std::future::Future;
use std::pin::Pin;

pub use guard::Guarded;
pub use local::LocalState;
pub use redis::RedisState;

use crate::config::LimitFailMode;

/// A boxed future, so the trait stays object-safe (`Arc<dyn SharedState>`).
pub type StateFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StateError>> + Send + 'a>>;

/// The shared state failed to answer. Callers apply the limit's fail mode.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StateError {
    #[error("the shared state did not answer within {0} ms")]
    Timeout(u64),
    #[error("the shared state is unreachable: {0}")]
    Unavailable(String),
    #[error("the shared state answered something unexpected: {0}")]
    Protocol(String),
}

/// One counter a request is charged against.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// Stable name of the counter without its time bucket, e.g. `team:research:budget:daily`;
    /// also what a refusal names.
    pub counter: String,
    /// The bucket keys whose sum is the counter's value; the amount is added to the first.
    pub buckets: Vec<String>,
    /// The most the buckets may sum to.
    pub limit: i64,
    pub amount: i64,
    /// Unix ms when the first bucket may be dropped.
    pub expire_at_ms: u64,
    /// Unix ms when the counter next frees room (a period's end, a window's next bucket).
    pub reset_at_ms: u64,
    pub fail: LimitFailMode,
}

/// The result of charging a request: all charges made, or none and the one that refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Reserve {
    /// Every charge was added; the counters' values after it, in the charges' order.
    Granted { used: Vec<i64> },
    /// Nothing was added: charge `index` would have gone over its limit, whose value is `used`.
    Refused { index: usize, used: i64 },
}

/// A correction of one bucket after the fact: a settlement (actual minus estimate), or an
/// amount counted locally during an outage.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    pub bucket: String,
    pub amount: i64,
    pub expire_at_ms: u64,
    /// False for a settlement: applied only while the bucket still exists, so a late refund
    /// never resurrects a bucket (without its expiry) that already aged out. True for amounts
    /// counted locally: the bucket is created if needed.
    pub create: bool,
}

/// A key created through the admin API, as stored: the policy is JSON owned by the layer
/// above (`govern`), so this layer stays ignorant of what a key may do.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredKey {
    /// `rk-` and 12 hex characters; what the admin API lists and revokes.
    pub id: String,
    /// Hex SHA-256 of the secret.
    pub sha256: String,
    pub policy_json: String,
}

/// The key store's contents at one version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeySet {
    pub version: u64,
    pub keys: Vec<StoredKey>,
    /// Ids revoked, including keys defined in the config file (revocable fleet-wide too).
    pub revoked: Vec<String>,
}

/// Shared state: counters and the run-time key store.
pub trait SharedState: Send + Sync + 'static {
    /// `"local"` or `"redis"`.
    fn backend(&self) -> &'static str;
    /// Adds every charge or none (see [`Reserve`]).
    fn reserve<'a>(&'a self, charges: &'a [Charge], now_ms: u64) -> StateFuture<'a, Reserve>;
    /// The current value of each counter (sum of its buckets), for headers and policies.
    fn peek<'a>(&'a self, counters: &'a [Vec<String>], now_ms: u64) -> StateFuture<'a, Vec<i64>>;
    /// Applies corrections.
    fn apply<'a>(&'a self, deltas: &'a [Delta], now_ms: u64) -> StateFuture<'a, ()>;
    /// Stores a key and bumps the key-store version.
    fn put_key<'a>(&'a self, key: &'a StoredKey) -> StateFuture<'a, u64>;
    /// Marks a key id revoked (a stored key is also deleted) and bumps the version.
    fn revoke_key<'a>(&'a self, id: &'a str) -> StateFuture<'a, u64>;
    /// The key-store version: cheap, polled by every replica.
    fn keys_version(&self) -> StateFuture<'_, u64>;
    /// The whole key store, read when its version changed.
    fn key_set(&self) -> StateFuture<'_, KeySet>;
    /// A round trip that proves the state answers.
    fn ping(&self) -> StateFuture<'_, ()>;
}

/// Unix time in ms.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// USD as the integer nano-dollars counters hold. Rounded up: an estimate never rounds to free.
pub fn nano_usd(usd: f64) -> i64 {
    if usd.is_finite() && usd > 0.0 { (usd * 1e9).ceil().min(i64::MAX as f64) as i64 } else { 0 }
}

/// Nano-dollars as USD.
pub fn usd(nano: i64) -> f64 {
    nano as f64 / 1e9
}
