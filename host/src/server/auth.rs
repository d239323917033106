//! Client API keys: optional, so the proxy can be exposed beyond a private network. Keys are
//! compared by SHA-256, so the config may hold hashes only and comparisons take the same
//! time however much of a guess is right.

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

    /// Whether the request carries an accepted key (`Authorization: Bearer <key>`, or
    /// `api-key: <key>` as Azure-style clients send it).
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        if !self.required() {
            return true;
        }
        let given = bearer(headers).or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()));
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
        assert!(ClientKeys::default().allows(&HeaderMap::new()));
    }
}
