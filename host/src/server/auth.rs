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
        let mut hashes: Vec<[u8; 32]> =
            config.secrets().client_keys.iter().map(|key| Sha256::digest(key.expose().as_bytes()).into()).collect();
        hashes.extend(
            config
                .server
                .client_keys_sha256
                .iter()
                .filter_map(|h| hex::decode(h).ok())
                .filter_map(|h| <[u8; 32]>::try_from(h.as_slice()).ok()),
        );
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
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()));
        let Some(given) = given else {
            return false;
        };
        let given: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
        self.hashes.iter().fold(false, |found, hash| found | equal(hash, &given))
    }
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
        let keys = ClientKeys { hashes: vec![Sha256::digest(b"sk-good").into()] };
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
