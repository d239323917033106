//! Verify → validate, the order that makes a hostile package cheap to refuse: the small
//! objects first (image manifest, signatures, the Switchyard manifest), the trust decision
//! on them, and only then the component, whose size is capped while it downloads and whose
//! code is measured and held to the manifest before anything compiles it.

use super::error::PackageError;
use super::fetch::Fetcher;
use super::layout;
use super::manifest::{MAX_MANIFEST_BYTES, PackageManifest};
use super::sign;
use super::trust::{Publisher, TrustPolicy};
use super::wasm::{self, CodeLimits, ComponentFacts};

/// A package that passed every check but those that need the operator's config.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The image manifest's digest: what was signed.
    pub digest: String,
    pub manifest: PackageManifest,
    pub publisher: Publisher,
    pub wasm_digest: String,
    pub facts: ComponentFacts,
}

/// Fetches and checks the package `fetcher` names.
pub async fn verify(fetcher: &mut Fetcher, trust: &TrustPolicy, limits: &CodeLimits) -> Result<Verified, PackageError> {
    let reference = fetcher.display.clone();
    let (image_manifest, digest) = fetcher.manifest().await?;
    let parts = layout::parts(&image_manifest)
        .map_err(|detail| PackageError::Manifest { reference: reference.clone(), detail })?;

    let signatures = fetcher.signatures(&digest).await?;
    let publishers = sign::verify(&signatures, trust, &digest, &reference)?;

    let manifest_bytes = fetcher.blob(&parts.manifest, MAX_MANIFEST_BYTES as u64, "the Switchyard manifest").await?;
    let manifest = PackageManifest::parse(&manifest_bytes)
        .map_err(|detail| PackageError::Manifest { reference: reference.clone(), detail })?;
    let publisher = publishers.iter().find(|p| p.may_publish(&manifest.name)).copied().ok_or_else(|| {
        let p = publishers[0];
        PackageError::NameNotAllowed {
            reference: reference.clone(),
            publisher: p.name.clone(),
            name: manifest.name.clone(),
            allowed: p.names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
        }
    })?;

    fetcher.blob(&parts.config, 64 * 1024, "the wasm config").await?;
    let wasm = fetcher.blob(&parts.wasm, limits.max_component_bytes, "the component layer").await?;
    let facts = wasm::inspect(&wasm, limits)
        .map_err(|detail| PackageError::Hostile { reference: reference.clone(), detail })?;
    held_to_component(&manifest, &facts)
        .map_err(|detail| PackageError::Lying { reference: reference.clone(), detail })?;
    Ok(Verified { digest, manifest, publisher: publisher.clone(), wasm_digest: parts.wasm.digest.clone(), facts })
}

/// A manifest must say what the component is: its world (by the same check the loader makes),
/// its imports exactly, and the contract version those imports carry.
pub fn held_to_component(manifest: &PackageManifest, facts: &ComponentFacts) -> Result<(), String> {
    crate::plugin::check_world_names(manifest.kind, &facts.exports, &facts.imports, &[])
        .map_err(|e| format!("it says `{}`, but {e}", manifest.kind))?;
    let mut said = manifest.imports.clone();
    let mut actual = facts.imports.clone();
    said.sort();
    actual.sort();
    if said != actual {
        let missing: Vec<&String> = actual.iter().filter(|i| !said.contains(i)).collect();
        let extra: Vec<&String> = said.iter().filter(|i| !actual.contains(i)).collect();
        return Err(format!(
            "its imports are {actual:?}; the manifest leaves out {missing:?} and claims {extra:?} (run \
             `switchyard plugin pack` to write them)"
        ));
    }
    for import in facts.imports.iter().filter(|i| i.starts_with("switchyard:plugin/")) {
        if let Some((_, version)) = import.rsplit_once('@')
            && version != manifest.contract
        {
            return Err(format!("it says contract {}, but it imports `{import}`", manifest.contract));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(kind: &str, imports: &[&str]) -> PackageManifest {
        serde_json::from_value(serde_json::json!({
            "name": "acme/g", "version": "1.0.0", "kind": kind, "contract": "0.2.0", "imports": imports,
        }))
        .unwrap()
    }

    fn facts(exports: &[&str], imports: &[&str]) -> ComponentFacts {
        ComponentFacts {
            exports: exports.iter().map(|s| s.to_string()).collect(),
            imports: imports.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn lies_about_world_imports_or_contract_are_caught() {
        let host = "switchyard:plugin/host@0.2.0";
        let gate = facts(&["init", "check"], &[host]);
        assert!(held_to_component(&manifest("gate", &[host]), &gate).is_ok());
        let world = held_to_component(&manifest("policy", &[host]), &gate).unwrap_err();
        assert!(world.contains("looks like a gate"), "{world}");
        let imports = held_to_component(&manifest("gate", &[]), &gate).unwrap_err();
        assert!(imports.contains("leaves out"), "{imports}");
        let old = facts(&["init", "check"], &["switchyard:plugin/host@0.1.0"]);
        let contract = held_to_component(&manifest("gate", &["switchyard:plugin/host@0.1.0"]), &old).unwrap_err();
        assert!(contract.contains("contract 0.2.0"), "{contract}");
        let foreign = facts(&["init", "check"], &["evil:net/socket"]);
        assert!(held_to_component(&manifest("gate", &["evil:net/socket"]), &foreign).is_err());
    }
}
