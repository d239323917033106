//! `[trust]`: which publishers' keys may sign which package names, the largest limits each
//! publisher's packages may be granted, and whether unsigned local files are allowed.
//!
//! ```toml
//! [trust.publishers.acme]
//! key = "keys/acme.pub"          # PEM public key (ECDSA P-256), as `cosign generate-key-pair` writes
//! names = ["acme/*"]             # package names this key may publish
//! max_memory_mb = 128
//! max_deadline_ms = 50
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::Problems;
use super::validate::key;

/// `[trust]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// Plugins loaded from a bare local `path` without a signature. Defaults to `true` when
    /// no publisher is configured (a dev setup) and must stay off once one is: a trust policy
    /// that a plain file could sidestep would protect nothing.
    #[serde(default)]
    pub allow_unsigned_local: Option<bool>,
    /// `[trust.publishers.NAME]`, by name.
    #[serde(default)]
    pub publishers: BTreeMap<String, PublisherConfig>,
    /// The largest component a package may carry, in bytes; downloading stops there.
    /// Default 64 MiB.
    #[serde(default)]
    pub max_component_bytes: Option<u64>,
    /// The most functions a package's component may define. Default 200 000.
    #[serde(default)]
    pub max_functions: Option<u32>,
    /// The largest function body, in bytes. Default 4 MiB.
    #[serde(default)]
    pub max_function_body_bytes: Option<u32>,
}

/// `[trust.publishers.NAME]`: one signing key and what it may publish.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PublisherConfig {
    /// The publisher's public key file (PEM, ECDSA P-256), relative to the config file.
    pub key: PathBuf,
    /// The key, read at load.
    #[serde(skip)]
    pub key_pem: String,
    /// Package names the key may sign: exact names or globs with `*` (`acme/*`).
    pub names: Vec<String>,
    /// The most memory per instance a package of this publisher is granted, in MiB.
    #[serde(default = "default_max_memory_mb")]
    pub max_memory_mb: u64,
    /// The longest per-call deadline granted, in ms.
    #[serde(default = "default_max_deadline_ms")]
    pub max_deadline_ms: u64,
    /// The most fuel per call granted (only with `runtime.fuel = true`).
    #[serde(default)]
    pub max_fuel: Option<u64>,
}

fn default_max_memory_mb() -> u64 {
    64
}
fn default_max_deadline_ms() -> u64 {
    10
}

impl TrustConfig {
    /// Whether any publisher is trusted (and so every plugin must be signed).
    pub fn has_policy(&self) -> bool {
        !self.publishers.is_empty()
    }

    /// Whether a plugin may be loaded from an unsigned local file.
    pub fn unsigned_local_allowed(&self) -> bool {
        self.allow_unsigned_local.unwrap_or(!self.has_policy())
    }

    /// Reads the keys and checks the names; fills `key_pem`.
    pub(crate) fn check(&mut self, base: &Path, problems: &mut Problems) {
        if self.has_policy() && self.allow_unsigned_local == Some(true) {
            problems.push(
                "trust.allow_unsigned_local",
                "unsigned local plugins cannot be allowed while [trust.publishers] is set; remove the \
                 publishers for a dev setup, or sign the plugin",
            );
        }
        for (name, publisher) in self.publishers.iter_mut() {
            let at = format!("trust.publishers.{}", key(name));
            let path = base.join(&publisher.key);
            match std::fs::read_to_string(&path) {
                Ok(pem) if pem.contains("-----BEGIN PUBLIC KEY-----") => publisher.key_pem = pem,
                Ok(_) => problems.push(
                    format!("{at}.key"),
                    format!("{} is not a PEM public key (expected `-----BEGIN PUBLIC KEY-----`)", path.display()),
                ),
                Err(e) => problems.push(format!("{at}.key"), format!("cannot read {}: {e}", path.display())),
            }
            if publisher.names.is_empty() {
                problems.push(format!("{at}.names"), "expected at least one package name or glob like \"acme/*\"");
            }
            for (i, pattern) in publisher.names.iter().enumerate() {
                if pattern.is_empty() || pattern.chars().any(char::is_whitespace) {
                    problems.push(format!("{at}.names[{i}]"), format!("expected a name or glob, got {pattern:?}"));
                }
            }
            if publisher.max_memory_mb == 0 {
                problems.push(format!("{at}.max_memory_mb"), "expected a limit > 0, got 0");
            }
            if publisher.max_deadline_ms == 0 {
                problems.push(format!("{at}.max_deadline_ms"), "expected a limit > 0, got 0");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn problems(text: &str, dir: &std::path::Path) -> Vec<String> {
        let path = dir.join("switchyard.toml");
        match Config::from_str_with_env(text, &path, &|_| None) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems(),
        }
    }

    #[test]
    fn a_trust_policy_closes_the_unsigned_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("g.wasm"), b"x").unwrap();
        std::fs::write(dir.path().join("acme.pub"), "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n")
            .unwrap();
        let trust = "[trust.publishers.acme]\nkey = \"acme.pub\"\nnames = [\"acme/*\"]\n";
        let local = "[plugins.g]\nkind = \"gate\"\npath = \"g.wasm\"\n";
        // No policy: a local file loads as before (dev mode).
        assert!(problems(local, dir.path()).is_empty());
        let p = problems(&format!("{trust}{local}"), dir.path());
        assert!(p.iter().any(|p| p.starts_with("plugins.g.path:") && p.contains("unsigned")), "{p:?}");
        let p = problems(&format!("[trust]\nallow_unsigned_local = true\n{trust}"), dir.path());
        assert!(p.iter().any(|p| p.starts_with("trust.allow_unsigned_local:")), "{p:?}");
        let oci = "[plugins.g]\nkind = \"gate\"\nsource = \"oci://127.0.0.1:5000/acme/g:1\"\npoll_interval_ms = 1000\n";
        assert!(problems(&format!("{trust}{oci}"), dir.path()).is_empty());
        let both = format!("{oci}path = \"g.wasm\"\n");
        assert!(problems(&both, dir.path()).iter().any(|p| p.starts_with("plugins.g.source:")));
        let pinned = "[plugins.g]\nkind = \"gate\"\nsource = \"oci://h/acme/g@sha256:00\"\npoll_interval_ms = 5\n";
        assert!(problems(pinned, dir.path()).iter().any(|p| p.contains("pinned digest never moves")));
        let p = problems("[trust.publishers.x]\nkey = \"missing.pub\"\nnames = []\n", dir.path());
        assert!(p.iter().any(|p| p.starts_with("trust.publishers.x.key:")), "{p:?}");
        assert!(p.iter().any(|p| p.starts_with("trust.publishers.x.names:")), "{p:?}");
    }
}
