//! `switchyard plugin keygen | pack | sign | verify | push | pull | inspect`: making, signing
//! and moving packages. A package on disk is an OCI image layout directory (what `pack`
//! writes and `pull` fetches into); `push` copies one to a registry, signatures included.

use std::path::{Path, PathBuf};

use oci_client::Reference;

use crate::config::{Config, PackageLimits, PublisherConfig, TrustConfig};
use crate::package::fetch::Fetcher;
use crate::package::layout::{self, PackageBlobs};
use crate::package::registry::{self, Registry};
use crate::package::resolve::{cache_dir, code_limits, registry_timeout};
use crate::package::sign::{self, SignatureEntry};
use crate::package::store::Layout;
use crate::package::trust::{self, TrustPolicy};
use crate::package::verify::{self, Verified};
use crate::package::wasm::{self, CodeLimits};
use crate::package::{PackageError, PackageManifest};
use crate::plugin::PluginKind;

/// The tag a pack output holds its package under.
pub const PACK_TAG: &str = "package";

/// Errors of the package commands, each saying what to fix.
#[derive(Debug, thiserror::Error)]
pub enum PackageCliError {
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Usage(String),
    #[error("registry: {0}")]
    Registry(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

fn read(path: &Path) -> Result<Vec<u8>, PackageCliError> {
    std::fs::read(path).map_err(|source| PackageCliError::Read { path: path.to_path_buf(), source })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), PackageCliError> {
    std::fs::write(path, bytes).map_err(|source| PackageCliError::Write { path: path.to_path_buf(), source })
}

/// What `pack` puts in the Switchyard manifest besides what it reads from the component.
#[derive(Debug, Clone, Default)]
pub struct PackOptions {
    pub name: String,
    pub version: String,
    /// Detected from the component's exports when `None`.
    pub kind: Option<PluginKind>,
    pub description: String,
    pub license: String,
    pub source_url: String,
    pub config_schema: Option<PathBuf>,
    pub limits: PackageLimits,
}

/// Packs `component` into an image layout at `out`; returns the package digest.
pub fn pack(component: &Path, options: &PackOptions, out: &Path) -> Result<String, PackageCliError> {
    let wasm = read(component)?;
    let facts = wasm::inspect(&wasm, &CodeLimits::default())
        .map_err(|e| PackageCliError::Usage(format!("{}: {e}", component.display())))?;
    let detected = PluginKind::ALL.into_iter().find(|k| facts.exports.iter().any(|have| have == k.call_export()));
    let kind = options.kind.or(detected).ok_or_else(|| {
        PackageCliError::Usage(format!(
            "{}: cannot tell its world from its exports ({:?}); pass --kind",
            component.display(),
            facts.exports
        ))
    })?;
    // The contract is the version of the `switchyard:plugin` interfaces it imports.
    let contract = facts
        .imports
        .iter()
        .filter(|i| i.starts_with("switchyard:plugin/"))
        .find_map(|i| i.rsplit_once('@').map(|(_, v)| v.to_string()))
        .or_else(|| {
            crate::plugin::Contract::detect(facts.exports.iter().map(String::as_str)).map(|c| c.as_str().to_string())
        })
        .unwrap_or_else(|| "0.2.0".to_string());
    let config_schema = match &options.config_schema {
        Some(path) => Some(
            serde_json::from_slice(&read(path)?)
                .map_err(|e| PackageCliError::Usage(format!("--config-schema {}: not JSON: {e}", path.display())))?,
        ),
        None => None,
    };
    let manifest = PackageManifest {
        name: options.name.clone(),
        version: options.version.clone(),
        kind,
        contract,
        description: options.description.clone(),
        license: options.license.clone(),
        source: options.source_url.clone(),
        imports: facts.imports.clone(),
        limits: options.limits,
        config_schema,
    };
    manifest.check().map_err(|e| PackageCliError::Usage(format!("the package manifest: {e}")))?;
    verify::held_to_component(&manifest, &facts)
        .map_err(|e| PackageCliError::Usage(format!("{}: {e}", component.display())))?;
    let blobs = PackageBlobs::pack(wasm, &manifest, &facts);
    let layout = Layout::open(out)?;
    for blob in [&blobs.config, &blobs.wasm, &blobs.switchyard_manifest, &blobs.manifest] {
        layout.put(blob)?;
    }
    let digest = blobs.digest();
    layout.tag(PACK_TAG, &digest, blobs.manifest.len())?;
    Ok(digest)
}

/// Signs the package in the layout at `dir` with the private key at `key`; `identity` is the
/// repository the simple-signing payload names (cosign's `docker-reference`).
pub fn sign(dir: &Path, key: &Path, identity: &str, with_key_id: bool) -> Result<String, PackageCliError> {
    let layout = Layout::existing(dir)?;
    let digest = layout
        .resolve(PACK_TAG)
        .ok_or_else(|| PackageCliError::Usage(format!("{} holds no package (run `plugin pack`)", dir.display())))?;
    let pem =
        String::from_utf8(read(key)?).map_err(|_| PackageCliError::Usage(format!("{}: not PEM", key.display())))?;
    let signing =
        sign::read_private_key(&pem).map_err(|e| PackageCliError::Usage(format!("{}: {e}", key.display())))?;
    let payload = sign::payload(identity, &digest);
    let entry = SignatureEntry {
        signature: Some(sign::sign_payload(&signing, &payload)),
        key_id: with_key_id.then(|| sign::key_id(signing.verifying_key())),
        payload,
    };
    add_signature(&layout, &digest, entry)?;
    Ok(sign::key_id(signing.verifying_key()))
}

/// Adds one signature entry to the layout's signature manifest for `digest` (made here or
/// by another tool, e.g. openssl).
pub fn add_signature(layout: &Layout, digest: &str, entry: SignatureEntry) -> Result<(), PackageCliError> {
    let tag = sign::signature_tag(digest);
    let mut entries = Vec::new();
    if let Some(existing) = layout.resolve(&tag).and_then(|d| layout.get(&d, 64 * 1024)) {
        for (layer, signature, key_id) in sign::signature_layers(&existing).map_err(PackageCliError::Usage)? {
            if let Some(payload) = layout.get(&layer.digest, sign::MAX_PAYLOAD_BYTES as u64) {
                entries.push(SignatureEntry { payload, signature, key_id });
            }
        }
    }
    layout.put(&entry.payload)?;
    entries.push(entry);
    let (manifest, config) = sign::signature_manifest(&entries);
    layout.put(&config)?;
    let sig_digest = layout.put(&manifest)?;
    layout.tag(&tag, &sig_digest, manifest.len())?;
    Ok(())
}

/// Where a package is: a registry reference or a local layout.
pub enum Location {
    Registry(Reference),
    Layout(PathBuf),
}

impl Location {
    /// `oci://HOST/REPO:TAG` (or `@sha256:…`), or a layout directory.
    pub fn parse(text: &str) -> Result<Location, PackageCliError> {
        match text.strip_prefix(crate::config::OCI_SCHEME) {
            Some(reference) => {
                Ok(Location::Registry(registry::parse_reference(reference).map_err(PackageCliError::Usage)?))
            }
            None => Ok(Location::Layout(PathBuf::from(text))),
        }
    }

    fn fetcher(&self, cache: &Path) -> Result<Fetcher, PackageCliError> {
        Ok(match self {
            Location::Registry(reference) => {
                Fetcher::registry(reference.clone(), Layout::open(cache)?, registry_timeout())
            }
            Location::Layout(dir) => Fetcher::layout(Layout::existing(dir)?, PACK_TAG),
        })
    }
}

/// Pushes the layout at `dir` (package and signatures) to `reference`.
pub async fn push(dir: &Path, reference: &Reference) -> Result<String, PackageCliError> {
    let layout = Layout::existing(dir)?;
    let digest = layout
        .resolve(PACK_TAG)
        .ok_or_else(|| PackageCliError::Usage(format!("{} holds no package (run `plugin pack`)", dir.display())))?;
    let registry = Registry::for_reference(reference, registry_timeout());
    let fail = |e: registry::RegistryError| PackageCliError::Registry(format!("{}: {e}", reference.whole()));
    let manifest = layout.get(&digest, layout::MAX_OCI_MANIFEST_BYTES as u64).ok_or_else(|| missing(&digest))?;
    let parts = layout::parts(&manifest).map_err(PackageCliError::Usage)?;
    for part in [&parts.config, &parts.wasm, &parts.manifest] {
        let blob = layout.get(&part.digest, u64::MAX).ok_or_else(|| missing(&part.digest))?;
        registry.push_blob(reference, &blob).await.map_err(fail)?;
    }
    // The package by digest, then its signatures, and only then the tag: a proxy polling the
    // tag never sees it point at a package whose signature is not there yet.
    let by_digest = Reference::with_digest(reference.registry().into(), reference.repository().into(), digest.clone());
    registry.push_manifest(&by_digest, &manifest).await.map_err(fail)?;
    let tag = sign::signature_tag(&digest);
    if let Some(sig_digest) = layout.resolve(&tag) {
        let sig_manifest = layout.get(&sig_digest, 64 * 1024).ok_or_else(|| missing(&sig_digest))?;
        let sig_ref = Reference::with_tag(reference.registry().into(), reference.repository().into(), tag);
        let (layers, config) = signature_blobs(&sig_manifest)?;
        for digest in layers.iter().chain(std::iter::once(&config)) {
            let blob = layout.get(digest, u64::MAX).ok_or_else(|| missing(digest))?;
            registry.push_blob(&sig_ref, &blob).await.map_err(fail)?;
        }
        registry.push_manifest(&sig_ref, &sig_manifest).await.map_err(fail)?;
    }
    if reference.digest().is_none() {
        registry.push_manifest(reference, &manifest).await.map_err(fail)?;
    }
    Ok(digest)
}

fn signature_blobs(manifest: &[u8]) -> Result<(Vec<String>, String), PackageCliError> {
    let parsed: oci_client::manifest::OciImageManifest =
        serde_json::from_slice(manifest).map_err(|e| PackageCliError::Usage(e.to_string()))?;
    Ok((parsed.layers.iter().map(|l| l.digest.clone()).collect(), parsed.config.digest))
}

fn missing(digest: &str) -> PackageCliError {
    PackageCliError::Usage(format!("the layout is missing blob {digest}"))
}

/// Pulls `reference` (package and signatures, each digest checked) into a layout at `out`.
pub async fn pull(reference: &Reference, out: &Path) -> Result<String, PackageCliError> {
    let layout = Layout::open(out)?;
    let mut fetcher = Fetcher::registry(reference.clone(), layout.clone(), registry_timeout());
    let (manifest, digest) = fetcher.manifest().await?;
    if let Some(reason) = fetcher.offline_reason() {
        return Err(PackageCliError::Registry(reason.to_string()));
    }
    let parts = layout::parts(&manifest).map_err(PackageCliError::Usage)?;
    for (part, what) in
        [(&parts.config, "the wasm config"), (&parts.wasm, "the component"), (&parts.manifest, "the manifest")]
    {
        fetcher.blob(part, CodeLimits::default().max_component_bytes, what).await?;
    }
    match fetcher.signatures(&digest).await {
        Ok(_) => {
            let name =
                format!("{}/{}:{}", reference.resolve_registry(), reference.repository(), sign::signature_tag(&digest));
            if let Some(sig) = layout.resolve(&name) {
                layout.tag(&sign::signature_tag(&digest), &sig, 0)?;
            }
        }
        Err(PackageError::Unsigned { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    layout.tag(PACK_TAG, &digest, manifest.len())?;
    Ok(digest)
}

/// The trust policy for `verify`/`inspect`: the config's `[trust]`, or keys given on the
/// command line (each trusted for every name).
pub fn trust_from(config: Option<&Config>, keys: &[PathBuf]) -> Result<(TrustPolicy, CodeLimits), PackageCliError> {
    if let Some(config) = config {
        let trust = TrustPolicy::from_config(&config.trust).map_err(PackageCliError::Usage)?;
        return Ok((trust, code_limits(config)));
    }
    let mut trust = TrustConfig::default();
    for (i, key) in keys.iter().enumerate() {
        let key_pem = String::from_utf8(read(key)?).unwrap_or_default();
        trust.publishers.insert(
            format!("key{}", i + 1),
            PublisherConfig {
                key: key.clone(),
                key_pem,
                names: vec!["**".to_string()],
                max_memory_mb: u64::MAX >> 20,
                max_deadline_ms: u64::MAX,
                max_fuel: None,
            },
        );
    }
    let policy = TrustPolicy::from_config(&trust).map_err(PackageCliError::Usage)?;
    Ok((policy, CodeLimits::default()))
}

/// Verifies the package at `location` against `trust`.
pub async fn verify(
    location: &Location,
    trust: &TrustPolicy,
    limits: &CodeLimits,
    cache: &Path,
) -> Result<Verified, PackageCliError> {
    let mut fetcher = location.fetcher(cache)?;
    let verified = verify::verify(&mut fetcher, trust, limits).await?;
    if let Some(reason) = fetcher.offline_reason() {
        return Err(PackageCliError::Registry(reason.to_string()));
    }
    Ok(verified)
}

/// What `inspect` prints: the manifest, and (with a config) what would be granted.
pub async fn inspect(
    location: &Location,
    config: Option<&Config>,
    plugin: Option<&str>,
    cache: &Path,
) -> Result<serde_json::Value, PackageCliError> {
    let mut fetcher = location.fetcher(cache)?;
    let (manifest_bytes, digest) = fetcher.manifest().await?;
    let parts = layout::parts(&manifest_bytes).map_err(PackageCliError::Usage)?;
    let bytes =
        fetcher.blob(&parts.manifest, crate::package::manifest::MAX_MANIFEST_BYTES as u64, "the manifest").await?;
    let manifest = PackageManifest::parse(&bytes).map_err(PackageCliError::Usage)?;
    let signatures = match fetcher.signatures(&digest).await {
        Ok(entries) => entries
            .iter()
            .map(
                |e| serde_json::json!({"key_id": e.key_id, "signed": !e.signature.as_deref().unwrap_or("").is_empty()}),
            )
            .collect(),
        Err(PackageError::Unsigned { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut out = serde_json::json!({
        "digest": digest,
        "component": {"digest": parts.wasm.digest, "size": parts.wasm.size},
        "manifest": manifest,
        "signatures": signatures,
        "requested": manifest.limits,
    });
    if let Some(config) = config {
        let trust = TrustPolicy::from_config(&config.trust).map_err(PackageCliError::Usage)?;
        let publisher = trust.publishers().iter().find(|p| p.may_publish(&manifest.name));
        let configured = plugin.and_then(|name| config.plugins.get(name)).map(|p| PackageLimits {
            memory_mb: Some(p.memory_mb),
            deadline_ms: Some(p.deadline_ms),
            fuel: p.fuel,
        });
        out["granted"] = match publisher {
            Some(p) => serde_json::json!({
                "publisher": p.name,
                "limits": trust::grant(&manifest.limits, &configured.unwrap_or_default(), &p.max),
                "maxima": p.max,
            }),
            None => serde_json::json!(null),
        };
        out["trusted_publisher"] = serde_json::json!(publisher.map(|p| &p.name));
    }
    Ok(out)
}

/// The package cache a CLI command uses: the config's, else `./.switchyard-cache/packages`.
pub fn cli_cache(config: Option<&Config>) -> PathBuf {
    config.map(cache_dir).unwrap_or_else(|| PathBuf::from(".switchyard-cache/packages"))
}

/// Writes a new key pair: `PREFIX.key` (PKCS#8 PEM, mode 0600) and `PREFIX.pub`.
pub fn keygen(prefix: &Path) -> Result<(PathBuf, PathBuf, String), PackageCliError> {
    let (private, public) = sign::generate_key_pair().map_err(PackageCliError::Usage)?;
    let key = prefix.with_extension("key");
    let pub_path = prefix.with_extension("pub");
    if key.exists() {
        return Err(PackageCliError::Usage(format!("{} exists; not overwriting a key", key.display())));
    }
    write(&key, private.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600));
    }
    write(&pub_path, public.as_bytes())?;
    let id = sign::key_id(&sign::read_public_key(&public).map_err(PackageCliError::Usage)?);
    Ok((key, pub_path, id))
}
