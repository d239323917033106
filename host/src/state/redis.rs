//! Shared state in Redis (or Valkey): counters under `PREFIX:c:`, run-time keys in the hash
//! `PREFIX:keys`, revocations in the set `PREFIX:revoked`, and the key-store version in
//! `PREFIX:keys:version`.
//!
//! One multiplexed connection (`redis::aio::ConnectionManager`) carries every call, so
//! concurrent requests pipeline onto one socket instead of each paying for a connection; it
//! reconnects by itself after Redis restarts. It is created lazily: a proxy whose Redis is
//! down at start-up still starts, and its limits follow their fail modes until Redis answers.

use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::{Charge, Delta, KeySet, Reserve, SharedState, StateError, StateFuture, StoredKey, scripts};
use crate::config::Secret;

static RESERVE: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::RESERVE));
static APPLY: LazyLock<Script> = LazyLock::new(|| Script::new(scripts::APPLY));

/// Counters and keys in Redis.
pub struct RedisState {
    connection: ConnectionManager,
    prefix: String,
}

impl RedisState {
    /// A state on `url` that connects on first use. `timeout` bounds each connection attempt
    /// and each response; callers bound whole calls again ([`super::Guarded`]).
    pub fn connect_lazily(url: &Secret, prefix: &str, timeout: Duration) -> Result<RedisState, StateError> {
        let client = redis::Client::open(url.expose())
            .map_err(|e| StateError::Unavailable(format!("invalid Redis URL: {}", e.kind_label())))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(200));
        let connection = ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?;
        Ok(RedisState { connection, prefix: prefix.to_string() })
    }

    fn counter(&self, bucket: &str) -> String {
        format!("{}:c:{bucket}", self.prefix)
    }
    fn keys_hash(&self) -> String {
        format!("{}:keys", self.prefix)
    }
    fn revoked_set(&self) -> String {
        format!("{}:revoked", self.prefix)
    }
    fn version_key(&self) -> String {
        format!("{}:keys:version", self.prefix)
    }
}

fn unavailable(error: redis::RedisError) -> StateError {
    if error.is_timeout() {
        StateError::Timeout(0)
    } else if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() {
        StateError::Unavailable(error.to_string())
    } else {
        StateError::Protocol(error.to_string())
    }
}

trait KindLabel {
    fn kind_label(&self) -> String;
}
impl KindLabel for redis::RedisError {
    fn kind_label(&self) -> String {
        // The URL may hold a password: name the kind of error, never echo the input.
        format!("{:?}", self.kind())
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredJson {
    sha256: String,
    policy: String,
}

impl SharedState for RedisState {
    fn backend(&self) -> &'static str {
        "redis"
    }

    fn reserve<'a>(&'a self, charges: &'a [Charge], _now_ms: u64) -> StateFuture<'a, Reserve> {
        Box::pin(async move {
            let mut call = RESERVE.prepare_invoke();
            call.arg(charges.len());
            for charge in charges {
                for bucket in &charge.buckets {
                    call.key(self.counter(bucket));
                }
                call.arg(charge.buckets.len()).arg(charge.limit).arg(charge.amount).arg(charge.expire_at_ms);
            }
            let mut connection = self.connection.clone();
            let reply: Vec<i64> = call.invoke_async(&mut connection).await.map_err(unavailable)?;
            match reply.split_first() {
                Some((0, used)) if used.len() == charges.len() => Ok(Reserve::Granted { used: used.to_vec() }),
                Some((&index, [used])) if index >= 1 && (index as usize) <= charges.len() => {
                    Ok(Reserve::Refused { index: index as usize - 1, used: *used })
                }
                _ => Err(StateError::Protocol(format!("unexpected reserve reply {reply:?}"))),
            }
        })
    }

    fn peek<'a>(&'a self, counters: &'a [Vec<String>], _now_ms: u64) -> StateFuture<'a, Vec<i64>> {
        Box::pin(async move {
            let keys: Vec<String> = counters.iter().flatten().map(|b| self.counter(b)).collect();
            if keys.is_empty() {
                return Ok(vec![0; counters.len()]);
            }
            let mut connection = self.connection.clone();
            let values: Vec<Option<i64>> =
                redis::cmd("MGET").arg(&keys).query_async(&mut connection).await.map_err(unavailable)?;
            let mut values = values.into_iter();
            Ok(counters
                .iter()
                .map(|buckets| buckets.iter().map(|_| values.next().flatten().unwrap_or(0)).sum())
                .collect())
        })
    }

    fn apply<'a>(&'a self, deltas: &'a [Delta], _now_ms: u64) -> StateFuture<'a, ()> {
        Box::pin(async move {
            if deltas.is_empty() {
                return Ok(());
            }
            let mut call = APPLY.prepare_invoke();
            for d in deltas {
                call.key(self.counter(&d.bucket)).arg(d.amount).arg(d.expire_at_ms).arg(u8::from(d.create));
            }
            let mut connection = self.connection.clone();
            let _: i64 = call.invoke_async(&mut connection).await.map_err(unavailable)?;
            Ok(())
        })
    }

    fn put_key<'a>(&'a self, key: &'a StoredKey) -> StateFuture<'a, u64> {
        Box::pin(async move {
            let json =
                serde_json::to_string(&StoredJson { sha256: key.sha256.clone(), policy: key.policy_json.clone() })
                    .map_err(|e| StateError::Protocol(e.to_string()))?;
            let mut connection = self.connection.clone();
            let (version,): (u64,) = redis::pipe()
                .atomic()
                .hset(self.keys_hash(), &key.id, json)
                .ignore()
                .incr(self.version_key(), 1)
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(version)
        })
    }

    fn revoke_key<'a>(&'a self, id: &'a str) -> StateFuture<'a, u64> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let (version,): (u64,) = redis::pipe()
                .atomic()
                .hdel(self.keys_hash(), id)
                .ignore()
                .sadd(self.revoked_set(), id)
                .ignore()
                .incr(self.version_key(), 1)
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(version)
        })
    }

    fn keys_version(&self) -> StateFuture<'_, u64> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let version: Option<u64> = connection.get(self.version_key()).await.map_err(unavailable)?;
            Ok(version.unwrap_or(0))
        })
    }

    fn key_set(&self) -> StateFuture<'_, KeySet> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let (version, stored, revoked): (Option<u64>, Vec<(String, String)>, Vec<String>) = redis::pipe()
                .atomic()
                .get(self.version_key())
                .hgetall(self.keys_hash())
                .smembers(self.revoked_set())
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            let mut keys = Vec::with_capacity(stored.len());
            for (id, json) in stored {
                match serde_json::from_str::<StoredJson>(&json) {
                    Ok(s) => keys.push(StoredKey { id, sha256: s.sha256, policy_json: s.policy }),
                    Err(e) => tracing::warn!(key = %id, "skipping an unreadable stored key: {e}"),
                }
            }
            Ok(KeySet { version: version.unwrap_or(0), keys, revoked })
        })
    }

    fn ping(&self) -> StateFuture<'_, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let _: String = redis::cmd("PING").query_async(&mut connection).await.map_err(unavailable)?;
            Ok(())
        })
    }
}
