//! Who is calling: a client key resolved to its team, class and limits.
//!
//! Every key a replica accepts is in one [`KeyTable`], built from the config file's
//! `[keys.*]` and the run-time keys of the shared state, minus the revoked ids, and swapped
//! whole whenever either changes. Resolving a key is then a hash and a map lookup, with no
//! call to the shared state on the request path.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{ClassConfig, Config, Escalation, KeyConfig, TeamConfig};
use crate::state::KeySet;

/// A resolved key.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The config table name, or the `rk-…` id of a key created at run time.
    pub id: String,
    /// The name shown in listings (for config keys, the id).
    pub name: String,
    pub team: String,
    pub key: KeyConfig,
    pub team_config: TeamConfig,
    /// The class in force (the key's, else its team's), with its name.
    pub class: Option<(String, ClassConfig)>,
    /// `config` or `admin`.
    pub source: &'static str,
}

impl Identity {
    /// The highest tier this request may reach, and why, given whether it carries the
    /// approval header. `None`: no class, no ceiling.
    pub fn ceiling(&self, header_approval: bool) -> Option<(u32, Option<&'static str>)> {
        let (_, class) = self.class.as_ref()?;
        let approved = match self.key.escalation {
            Escalation::Never => None,
            Escalation::Approved => Some("approved by the key's escalation flag"),
            Escalation::Header if header_approval => Some("approved by the x-switchyard-approve-escalation header"),
            Escalation::Header => None,
        };
        match (approved, class.approval_tier) {
            (Some(why), Some(tier)) if tier > class.max_tier => Some((tier, Some(why))),
            _ => Some((class.max_tier, None)),
        }
    }

    /// Whether the key may ask for `name`: a route when the key lists no routes or lists
    /// this one; a model directly when the key lists it, or lists neither routes nor models
    /// (a key bound to some routes cannot step around them by naming a model).
    pub fn may_ask_for(&self, name: &str, is_route: bool) -> bool {
        if is_route {
            self.key.routes.is_empty() || self.key.routes.iter().any(|r| r == name)
        } else if self.key.models.is_empty() {
            self.key.routes.is_empty()
        } else {
            self.key.models.iter().any(|m| m == name)
        }
    }

    /// Whether plans may include `model`.
    pub fn may_use_model(&self, model: &str) -> bool {
        self.key.models.is_empty() || self.key.models.iter().any(|m| m == model)
    }
}

/// One key as the admin API lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyListing {
    pub id: String,
    pub name: String,
    pub team: String,
    pub class: Option<String>,
    pub source: &'static str,
    pub revoked: bool,
    pub sha256_prefix: String,
    pub key: KeyConfig,
}

/// Every accepted key, by the SHA-256 of its secret.
#[derive(Debug, Default)]
pub struct KeyTable {
    pub by_hash: HashMap<[u8; 32], Arc<Identity>>,
    pub listing: Vec<KeyListing>,
    /// The shared key store's version this table was built from.
    pub version: u64,
}

/// A run-time key's stored policy: the key's fields and its display name.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredPolicy {
    pub name: String,
    pub key: KeyConfig,
}

impl KeyTable {
    /// Builds the table from the config's keys and the shared store's.
    pub fn build(config: &Config, set: &KeySet) -> KeyTable {
        let revoked: std::collections::HashSet<&str> = set.revoked.iter().map(String::as_str).collect();
        let mut table = KeyTable { version: set.version, ..Default::default() };
        let mut add = |id: &str, name: &str, key: &KeyConfig, sha256: &str, source: &'static str| {
            let Some(hash) = hex::decode(sha256).ok().and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()) else {
                return;
            };
            let is_revoked = revoked.contains(id);
            let class_name = key.class.clone().or_else(|| config.teams.get(&key.team).and_then(|t| t.class.clone()));
            table.listing.push(KeyListing {
                id: id.to_string(),
                name: name.to_string(),
                team: key.team.clone(),
                class: class_name.clone(),
                source,
                revoked: is_revoked,
                sha256_prefix: sha256.chars().take(12).collect(),
                key: KeyConfig { key_sha256: None, key_env: None, ..key.clone() },
            });
            if is_revoked {
                return;
            }
            // A key whose team or class is gone (a reload removed it) is refused, not widened.
            let Some(team_config) = config.teams.get(&key.team) else { return };
            let class = match class_name {
                Some(name) => match config.classes.get(&name) {
                    Some(class) => Some((name, class.clone())),
                    None => return,
                },
                None => None,
            };
            table.by_hash.insert(
                hash,
                Arc::new(Identity {
                    id: id.to_string(),
                    name: name.to_string(),
                    team: key.team.clone(),
                    key: key.clone(),
                    team_config: team_config.clone(),
                    class,
                    source,
                }),
            );
        };
        for (name, key) in &config.keys {
            if let Some(sha) = &key.key_sha256 {
                add(name, name, key, sha, "config");
            }
        }
        for stored in &set.keys {
            match serde_json::from_str::<StoredPolicy>(&stored.policy_json) {
                Ok(policy) => add(&stored.id, &policy.name, &policy.key, &stored.sha256, "admin"),
                Err(e) => tracing::warn!(key = %stored.id, "skipping a stored key with an unreadable policy: {e}"),
            }
        }
        table
    }

    pub fn is_empty(&self) -> bool {
        self.listing.is_empty()
    }
}
