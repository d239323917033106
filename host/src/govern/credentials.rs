//! Credentials: the client API keys and the admin token, as the config gives them.
//!
//! Client keys are optional, so the proxy can be exposed beyond a private network. Keys and
//! tokens are compared by SHA-256, so the config may hold hashes only and comparisons take the
//! same time however much of a guess is right. They live below `server/` because application
//! state ([`crate::app::App`]) holds them and must not import the HTTP layer.

use http::{HeaderMap, header};
use sha2::{Digest, Sha256};

use crate::config::Config;

/// The accepted client keys, as hashes. Empty means the API is open.
#[derive(Debug, Clone, Default)]
pub struct ClientKeys {
    hashes: Vec<[u8; 32]>,
}

impl ClientKeys {
    pub fn from_config(config: &Config) -> ClientKeys {
        let mut hashes: Vec<[u8; 32]> = config.secrets().client_keys.iter().map(|key| digest(key.expose())).collect();
        hashes.extend(config.server.client_keys_sha256.iter().filter_map(|h| decode_digest(h)));
        ClientKeys { hashes }
    }

    pub fn required(&self) -> bool {
        !self.hashes.is_empty()
    }

    /// Whether the request carries an accepted key (`Authorization: Bearer <key>`,
    /// `x-api-key: <key>` as Anthropic clients send it, or `api-key: <key>` as Azure-style
    /// clients do).
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        if !self.required() {
            return true;
        }
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let given = bearer(headers).or_else(|| header("x-api-key")).or_else(|| header("api-key"));
        let Some(given) = given else {
            return false;
        };
        let given = digest(given.trim());
        self.hashes.iter().fold(false, |found, hash| found | equal(hash, &given))
    }
}

impl ClientKeys {
    /// The presented key's fingerprint for the decision record (the first 12 hex digits of
    /// its SHA-256), when keys are required: who sent a request, without the key.
    pub fn fingerprint(&self, headers: &HeaderMap) -> Option<String> {
        if !self.required() {
            return None;
        }
        let key = bearer(headers).or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()))?;
        Some(hex::encode(&digest(key.trim())[..6]))
    }
}

/// How admin requests prove who they are.
#[derive(Debug, Clone)]
pub enum AdminAuth {
    /// No token configured: the admin API answers 404.
    Disabled,
    /// The SHA-256 of the admin token: from `admin.token_env` (hashed at load) or given as
    /// `admin.token_sha256`.
    Digest([u8; 32]),
}

impl AdminAuth {
    pub fn from_config(config: &Config) -> AdminAuth {
        let digest = match &config.secrets().admin_token {
            Some(token) => Some(digest(token.expose())),
            None => config.admin.token_sha256.as_deref().and_then(decode_digest),
        };
        digest.map_or(AdminAuth::Disabled, AdminAuth::Digest)
    }

    /// Whether `headers` carry the right bearer token. Compares hashes, so the time taken
    /// says nothing about how much of a guess was right.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        match (self, bearer(headers)) {
            (AdminAuth::Digest(expected), Some(given)) => equal(&digest(given.trim()), expected),
            _ => false,
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
}

/// SHA-256 of a credential.
pub fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// A hex SHA-256 from the config (validated there), as bytes.
pub fn decode_digest(hex_digest: &str) -> Option<[u8; 32]> {
    hex::decode(hex_digest).ok().and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
}

/// Constant-time equality of two digests.
pub fn equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_listed_keys() {
        let keys = ClientKeys { hashes: vec![digest("sk-good")] };
        let mut headers = HeaderMap::new();
        assert!(!keys.allows(&headers));
        headers.insert(header::AUTHORIZATION, "Bearer sk-bad".parse().unwrap());
        assert!(!keys.allows(&headers));
        headers.insert(header::AUTHORIZATION, "Bearer sk-good".parse().unwrap());
        assert!(keys.allows(&headers));
        let mut azure = HeaderMap::new();
        azure.insert("api-key", "sk-good".parse().unwrap());
        assert!(keys.allows(&azure));
        let mut anthropic = HeaderMap::new();
        anthropic.insert("x-api-key", "sk-good".parse().unwrap());
        assert!(keys.allows(&anthropic));
        anthropic.insert("x-api-key", "sk-bad".parse().unwrap());
        assert!(!keys.allows(&anthropic));
        assert!(ClientKeys::default().allows(&HeaderMap::new()));
    }
}
