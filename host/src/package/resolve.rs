//! Turning the config's registry `source`s into verified local components: for each plugin
//! with `source = "oci://…"`, fetch (registry, else cache), verify against `[trust]`, hold the
//! manifest to the component, refuse a rollback, check the plugin's config against the
//! package's schema, grant limits within the publisher's maxima, and point the plugin at the
//! verified component in the cache. The snapshot build then loads it like any file, so a
//! moved tag goes through the same validate → swap as a changed file.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, PackageLimits, PluginConfig, ResolvedPackage};
use crate::plugin::LoadError;

use super::error::PackageError;
use super::fetch::Fetcher;
use super::registry::{self, DEFAULT_TIMEOUT};
use super::store::Layout;
use super::trust::{self, TrustPolicy};
use super::verify::{self, Verified};
use super::wasm::CodeLimits;

/// The package cache of `config`: an image layout under the runtime's cache directory.
pub fn cache_dir(config: &Config) -> std::path::PathBuf {
    config.base_dir.join(&config.runtime.cache_dir).join("packages")
}

/// Resolves every registry `source` of `config`; `previous` is the config serving now (for
/// the rollback check). A refusal names the plugin and carries its reason.
pub async fn resolve(mut config: Config, previous: Option<&Config>) -> Result<Config, LoadError> {
    if !config.plugins.values().any(|p| p.oci_reference().is_some()) {
        return Ok(config);
    }
    let refuse = |name: &str, error: PackageError| LoadError::Package {
        name: name.to_string(),
        reason: error.reason(),
        detail: error.to_string(),
    };
    let first = config.plugins.iter().find(|(_, p)| p.oci_reference().is_some()).map(|(n, _)| n.clone());
    let trust = TrustPolicy::from_config(&config.trust).map_err(|detail| {
        refuse(first.as_deref().unwrap_or_default(), PackageError::Policy { reference: "[trust]".into(), detail })
    })?;
    let cache = Layout::open(&cache_dir(&config)).map_err(|e| refuse(first.as_deref().unwrap_or_default(), e))?;
    let limits = code_limits(&config);
    let fuel_enabled = config.runtime.fuel;
    for (name, plugin) in config.plugins.iter_mut() {
        let Some(reference) = plugin.oci_reference().map(str::to_string) else {
            continue;
        };
        let serving = previous.and_then(|p| p.plugins.get(name)).and_then(|p| p.package.clone());
        let resolved = resolve_one(&reference, plugin, serving.as_deref(), &trust, &cache, &limits)
            .await
            .map_err(|e| refuse(name, e))?;
        apply(plugin, &cache, resolved, fuel_enabled);
    }
    Ok(config)
}

/// The code limits in force: `[trust]`'s, else the defaults.
pub fn code_limits(config: &Config) -> CodeLimits {
    let defaults = CodeLimits::default();
    CodeLimits {
        max_component_bytes: config.trust.max_component_bytes.unwrap_or(defaults.max_component_bytes),
        max_functions: config.trust.max_functions.unwrap_or(defaults.max_functions),
        max_function_body_bytes: config.trust.max_function_body_bytes.unwrap_or(defaults.max_function_body_bytes),
    }
}

struct Resolved {
    verified: Verified,
    package: ResolvedPackage,
}

async fn resolve_one(
    reference: &str,
    plugin: &PluginConfig,
    serving: Option<&ResolvedPackage>,
    trust: &TrustPolicy,
    cache: &Layout,
    limits: &CodeLimits,
) -> Result<Resolved, PackageError> {
    let parsed = registry::parse_reference(reference)
        .map_err(|detail| PackageError::Policy { reference: reference.to_string(), detail })?;
    let pinned = parsed.digest().map(str::to_string);
    let mut fetcher = Fetcher::registry(parsed, cache.clone(), registry_timeout());
    let verified = verify::verify(&mut fetcher, trust, limits).await?;
    if let Some(reason) = fetcher.offline_reason() {
        tracing::warn!(package = reference, "serving the cached copy: the registry failed ({reason})");
    }
    let manifest = &verified.manifest;
    if manifest.kind.as_str() != plugin.kind.as_str() {
        return Err(PackageError::Policy {
            reference: reference.to_string(),
            detail: format!("it is a {}, but the config says kind = \"{}\"", manifest.kind, plugin.kind.as_str()),
        });
    }
    if let Some(serving) = serving
        && serving.name == manifest.name
        && pinned.is_none()
        && serving.digest != verified.digest
        && let (Ok(offered), Ok(current)) = (manifest.semver(), semver::Version::parse(&serving.version))
        && offered < current
    {
        return Err(PackageError::Rollback {
            reference: reference.to_string(),
            offered: manifest.version.clone(),
            serving: serving.version.clone(),
            digest: verified.digest.clone(),
        });
    }
    let config = serde_json::to_value(&plugin.config).unwrap_or_default();
    manifest
        .check_config(&config)
        .map_err(|detail| PackageError::Config { reference: reference.to_string(), detail })?;
    let configured =
        PackageLimits { memory_mb: Some(plugin.memory_mb), deadline_ms: Some(plugin.deadline_ms), fuel: plugin.fuel };
    let granted = trust::grant(&manifest.limits, &configured, &verified.publisher.max);
    let package = ResolvedPackage {
        reference: reference.to_string(),
        digest: verified.digest.clone(),
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        description: manifest.description.clone(),
        license: manifest.license.clone(),
        source_url: manifest.source.clone(),
        publisher: verified.publisher.name.clone(),
        key_id: verified.publisher.key_id.clone(),
        requested: manifest.limits,
        granted,
    };
    Ok(Resolved { verified, package })
}

fn apply(plugin: &mut PluginConfig, cache: &Layout, resolved: Resolved, fuel_enabled: bool) {
    let granted = resolved.package.granted;
    plugin.resolved_path = cache.blob_path(&resolved.verified.wasm_digest);
    if let Some(memory) = granted.memory_mb {
        plugin.memory_mb = memory;
    }
    if let Some(deadline) = granted.deadline_ms {
        plugin.deadline_ms = deadline;
    }
    plugin.fuel = if fuel_enabled { granted.fuel } else { None };
    plugin.package = Some(Arc::new(resolved.package));
}

/// How long one registry call may take: `SWITCHYARD_REGISTRY_TIMEOUT_MS`, else 10 s.
pub fn registry_timeout() -> Duration {
    std::env::var("SWITCHYARD_REGISTRY_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_TIMEOUT)
}
