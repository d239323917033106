//! Governance: who is calling ([`identity`]), what tier their class reaches ([`class`]), and
//! what they may still spend ([`budget`]), over the shared state of [`crate::state`].
//!
//! [`Governance`] lives as long as the process: it holds the shared state, and the table of
//! accepted keys, rebuilt whenever the config reloads or the shared key store's version
//! moves. Every replica polls that version every `state.keys_refresh_ms`, so a key revoked
//! through any replica's admin API is refused by all of them within one poll period plus
//! one round trip.

pub mod budget;
pub mod class;
pub mod credentials;
pub mod identity;

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use crate::config::{Config, KeyConfig, StateBackend, check_key};
use crate::state::guard::GuardStatus;
use crate::state::{Guarded, KeySet, RedisState, StateError, StoredKey};
pub use identity::{Identity, KeyListing, KeyTable};

/// Why governance could not start.
#[derive(Debug, thiserror::Error)]
#[error("state backend: {0}")]
pub struct StartError(#[from] StateError);

/// Why a key may not run a request. Only `server/` turns it into HTTP (403, 402, 429, 503).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refused {
    /// The key may not use this route or model, or its class leaves no step of the plan.
    #[error("{message}")]
    Forbidden { message: String, code: &'static str },
    /// The estimate is above the key's cost threshold and the client did not accept it.
    #[error("{0}")]
    CostGate(String),
    /// A budget or rate limit refused the reservation, or its state is unreachable and it
    /// fails closed.
    #[error("{}", .0.message())]
    Limit(budget::Refusal),
}

/// A failed admin operation on keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyAdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("no key with id {0:?}")]
    NotFound(String),
    #[error("the key store is unreachable: {0}")]
    Unavailable(#[from] StateError),
}

/// Keys, classes and limits for the whole process.
pub struct Governance {
    state: Arc<Guarded>,
    table: ArcSwap<KeyTable>,
    config: ArcSwap<Config>,
    /// The shared key store as last read.
    last_set: Mutex<KeySet>,
}

impl Governance {
    /// Opens the configured state backend and loads the key table. A Redis that is down
    /// does not stop the start: keys from the file work at once, run-time keys once it answers.
    pub async fn start(config: &Config) -> Result<Arc<Governance>, StartError> {
        let s = &config.state;
        let state = match (s.backend, &config.secrets().redis_url) {
            (StateBackend::Redis, Some(url)) => {
                let timeout = Duration::from_millis(s.timeout_ms);
                let redis = RedisState::connect_lazily(url, &s.prefix, timeout)?;
                Guarded::remote(Arc::new(redis), timeout, Duration::from_millis(s.probe_ms))
            }
            _ => Guarded::local(),
        };
        let set = state.key_set().await.unwrap_or_default();
        let governance = Arc::new(Governance {
            table: ArcSwap::from_pointee(KeyTable::build(config, &set)),
            config: ArcSwap::from_pointee(config.clone()),
            last_set: Mutex::new(set),
            state,
        });
        tokio::spawn(refresh_loop(Arc::downgrade(&governance), Duration::from_millis(s.keys_refresh_ms)));
        Ok(governance)
    }

    pub fn state(&self) -> &Arc<Guarded> {
        &self.state
    }

    /// The state backend's health, for the admin API.
    pub fn status(&self) -> GuardStatus {
        self.state.status()
    }

    /// A reload published `config`: keys, teams and classes are rebuilt from it.
    pub fn reconfigure(&self, config: &Config) {
        self.config.store(Arc::new(config.clone()));
        let set = self.last_set.lock().unwrap_or_else(|p| p.into_inner()).clone();
        self.table.store(Arc::new(KeyTable::build(config, &set)));
    }

    /// Whether any key is defined (then requests without a valid one are refused).
    pub fn keys_defined(&self) -> bool {
        !self.table.load().is_empty()
    }

    /// The identity of the key with this SHA-256, if it is accepted.
    pub fn lookup(&self, sha256: &[u8; 32]) -> Option<Arc<Identity>> {
        self.table.load().by_hash.get(sha256).cloned()
    }

    /// Every key, config and run-time, revoked ones included.
    pub fn list(&self) -> Vec<KeyListing> {
        self.table.load().listing.clone()
    }

    /// Creates a key at run time. Returns its id and its secret (shown once: only the hash
    /// is stored).
    pub async fn create(&self, name: &str, key: KeyConfig) -> Result<(String, String), KeyAdminError> {
        if key.key_sha256.is_some() || key.key_env.is_some() {
            return Err(KeyAdminError::Invalid(
                "key_sha256 and key_env are for the config file; the admin API makes the secret".into(),
            ));
        }
        if name.is_empty() || name.len() > 100 {
            return Err(KeyAdminError::Invalid("`name` must be 1 to 100 characters".into()));
        }
        let problems = check_key(&key, &self.config.load());
        if !problems.is_empty() {
            let lines: Vec<String> = problems.into_iter().map(|(k, m)| format!("{k}: {m}")).collect();
            return Err(KeyAdminError::Invalid(lines.join("; ")));
        }
        let random = random_hex(28).map_err(|e| KeyAdminError::Invalid(format!("no randomness: {e}")))?;
        let (id_part, secret_part) = random.split_at(12);
        let id = format!("rk-{id_part}");
        let secret = format!("sk-sy-{secret_part}");
        let policy = identity::StoredPolicy { name: name.to_string(), key };
        let stored = StoredKey {
            id: id.clone(),
            sha256: hex::encode(Sha256::digest(secret.as_bytes())),
            policy_json: serde_json::to_string(&policy).map_err(|e| KeyAdminError::Invalid(e.to_string()))?,
        };
        self.state.put_key(&stored).await?;
        self.refresh().await;
        Ok((id, secret))
    }

    /// Revokes a key (config or run-time) on every replica.
    pub async fn revoke(&self, id: &str) -> Result<(), KeyAdminError> {
        if !self.table.load().listing.iter().any(|k| k.id == id) {
            return Err(KeyAdminError::NotFound(id.to_string()));
        }
        self.state.revoke_key(id).await?;
        self.refresh().await;
        Ok(())
    }

    /// Re-reads the shared key store if its version moved.
    async fn refresh(&self) {
        let Ok(version) = self.state.keys_version().await else { return };
        if version == self.table.load().version {
            return;
        }
        let Ok(set) = self.state.key_set().await else { return };
        let table = KeyTable::build(&self.config.load(), &set);
        *self.last_set.lock().unwrap_or_else(|p| p.into_inner()) = set;
        self.table.store(Arc::new(table));
    }
}

async fn refresh_loop(governance: Weak<Governance>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(governance) = governance.upgrade() else { return };
        governance.refresh().await;
    }
}

/// `bytes` random bytes from the operating system, as hex.
fn random_hex(bytes: usize) -> std::io::Result<String> {
    use std::io::Read;
    let mut buffer = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buffer)?;
    Ok(hex::encode(buffer))
}
