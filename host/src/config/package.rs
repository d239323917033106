//! What a plugin's OCI package resolved to at load: filled in by `crate::package`, kept in
//! the snapshot's config so the next reload can refuse a rollback and the admin API can show
//! what was asked for and what was granted.

use serde::Serialize;

/// A verified package serving as a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedPackage {
    /// The reference it was loaded from (`HOST/REPO:TAG` or `HOST/REPO@sha256:…`).
    pub reference: String,
    /// The package manifest's digest (`sha256:…`): what the signature covers.
    pub digest: String,
    /// The package's name and semver version, from its Switchyard manifest.
    pub name: String,
    pub version: String,
    pub description: String,
    pub license: String,
    pub source_url: String,
    /// The trusted publisher whose key signed it.
    pub publisher: String,
    /// The signing key's id (SHA-256 of its DER public key, hex).
    pub key_id: String,
    /// What the manifest asked for.
    pub requested: PackageLimits,
    /// What the operator's maxima for the publisher let it have.
    pub granted: PackageLimits,
}

/// Per-call limits, as a manifest asks for them and as they are granted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
}
