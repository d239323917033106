//! Getting a package's objects: from the registry when it answers (each object stored in
//! the on-disk cache as it arrives, after its digest is checked), else from the cache. The
//! same code reads a local image layout (a `plugin pack` output) with no registry at all.

use oci_client::Reference;
use oci_client::manifest::OciDescriptor;

use super::error::PackageError;
use super::layout::digest_of;
use super::registry::{Registry, RegistryError};
use super::sign::{self, SignatureEntry};
use super::store::Layout;

/// Where a package's objects come from.
pub struct Fetcher {
    registry: Option<(Registry, Reference)>,
    cache: Layout,
    /// The package's name in the layout's index: the full reference in the cache, the tag in
    /// a pack output.
    name: String,
    /// What signature tags are prefixed with in the index (`HOST/REPO:` in the cache).
    prefix: String,
    /// Set once the registry failed: the rest comes from the cache.
    offline: Option<String>,
    /// What to call the package in messages.
    pub display: String,
}

impl Fetcher {
    /// Fetches `reference` from its registry, through the cache at `cache`.
    pub fn registry(reference: Reference, cache: Layout, timeout: std::time::Duration) -> Fetcher {
        let registry = Registry::shared(&reference, timeout);
        let repo = format!("{}/{}", reference.resolve_registry(), reference.repository());
        Fetcher {
            name: reference.whole(),
            prefix: format!("{repo}:"),
            display: reference.whole(),
            registry: Some((registry, reference)),
            cache,
            offline: None,
        }
    }

    /// Reads the package tagged `tag` in a local image layout.
    pub fn layout(layout: Layout, tag: &str) -> Fetcher {
        Fetcher {
            display: format!("{}:{tag}", layout.dir().display()),
            name: tag.to_string(),
            prefix: String::new(),
            registry: None,
            cache: layout,
            offline: Some("a local layout".to_string()),
        }
    }

    /// The registry's error that made this fetch use the cache, if any.
    pub fn offline_reason(&self) -> Option<&str> {
        self.offline.as_deref().filter(|_| self.registry.is_some())
    }

    pub fn cache(&self) -> &Layout {
        &self.cache
    }

    fn registry_error(&self, detail: impl std::fmt::Display) -> PackageError {
        PackageError::Registry { reference: self.display.clone(), detail: detail.to_string() }
    }

    /// The package's image manifest and its digest.
    pub async fn manifest(&mut self) -> Result<(Vec<u8>, String), PackageError> {
        if self.offline.is_none()
            && let Some((registry, reference)) = &self.registry
        {
            match registry.manifest(reference).await {
                Ok((bytes, digest)) => {
                    self.cache.put(&bytes)?;
                    self.cache.tag(&self.name, &digest, bytes.len())?;
                    return Ok((bytes, digest));
                }
                Err(error) => {
                    tracing::warn!(package = %self.display, "registry failed, trying the package cache: {error}");
                    self.offline = Some(error.to_string());
                }
            }
        }
        let pinned = self.registry.as_ref().and_then(|(_, r)| r.digest().map(str::to_string));
        let digest = pinned
            .or_else(|| self.cache.resolve(&self.name))
            .ok_or_else(|| self.registry_error(self.offline.clone().unwrap_or_default()))?;
        let bytes = self
            .cache
            .get(&digest, super::layout::MAX_OCI_MANIFEST_BYTES as u64)
            .ok_or_else(|| self.registry_error(self.offline.clone().unwrap_or_default()))?;
        if digest_of(&bytes) != digest {
            return Err(PackageError::Tampered { reference: self.display.clone(), what: "the cached manifest".into() });
        }
        Ok((bytes, digest))
    }

    /// The signatures stored for `digest` (cosign's `sha256-<hex>.sig` tag).
    pub async fn signatures(&mut self, digest: &str) -> Result<Vec<SignatureEntry>, PackageError> {
        let tag = sign::signature_tag(digest);
        let name = format!("{}{tag}", self.prefix);
        let unsigned = || PackageError::Unsigned { reference: self.display.clone(), tag: tag.clone() };
        let mut manifest = None;
        if self.offline.is_none()
            && let Some((registry, reference)) = &self.registry
        {
            let sig_ref =
                Reference::with_tag(reference.registry().to_string(), reference.repository().to_string(), tag.clone());
            match registry.manifest(&sig_ref).await {
                Ok((bytes, sig_digest)) => {
                    self.cache.put(&bytes)?;
                    self.cache.tag(&name, &sig_digest, bytes.len())?;
                    manifest = Some(bytes);
                }
                Err(RegistryError::NotFound(_)) => return Err(unsigned()),
                Err(error) => self.offline = Some(error.to_string()),
            }
        }
        let manifest = match manifest {
            Some(bytes) => bytes,
            None => match self.cache.resolve(&name).and_then(|d| self.cache.get(&d, 64 * 1024)) {
                Some(bytes) => bytes,
                None if self.registry.is_none() => return Err(unsigned()),
                None => return Err(self.registry_error(self.offline.clone().unwrap_or_default())),
            },
        };
        let layers = sign::signature_layers(&manifest)
            .map_err(|detail| PackageError::Manifest { reference: self.display.clone(), detail })?;
        let mut entries = Vec::new();
        for (layer, signature, key_id) in layers {
            let payload = self.blob(&layer, sign::MAX_PAYLOAD_BYTES as u64, "a signature payload").await?;
            entries.push(SignatureEntry { payload, signature, key_id });
        }
        Ok(entries)
    }

    /// A blob, from the cache or the registry, at most `cap` bytes, its digest checked.
    pub async fn blob(&mut self, layer: &OciDescriptor, cap: u64, what: &str) -> Result<Vec<u8>, PackageError> {
        let tampered = || PackageError::Tampered { reference: self.display.clone(), what: what.to_string() };
        let too_large = |detail: String| PackageError::Hostile { reference: self.display.clone(), detail };
        if layer.size < 0 || layer.size as u64 > cap {
            return Err(too_large(format!("{what} of {} bytes is over the {cap}-byte limit", layer.size)));
        }
        if let Some(bytes) = self.cache.get(&layer.digest, cap) {
            if digest_of(&bytes) != layer.digest {
                return Err(tampered());
            }
            return Ok(bytes);
        }
        let Some((registry, reference)) = self.registry.as_ref().filter(|_| self.offline.is_none()) else {
            return match &self.registry {
                None => Err(PackageError::Cache {
                    path: self.cache.dir().display().to_string(),
                    detail: format!("{what} ({}) is missing", layer.digest),
                }),
                Some(_) => Err(self.registry_error(self.offline.clone().unwrap_or_default())),
            };
        };
        let bytes = match registry.blob(reference, layer, cap).await {
            Ok(bytes) => bytes,
            Err(RegistryError::TooLarge(detail)) => return Err(too_large(format!("{what}: {detail}"))),
            Err(RegistryError::Digest(_)) => return Err(tampered()),
            Err(error) => {
                self.offline = Some(error.to_string());
                return Err(self.registry_error(error));
            }
        };
        if digest_of(&bytes) != layer.digest {
            return Err(tampered());
        }
        self.cache.put(&bytes)?;
        Ok(bytes)
    }
}
