//! The package as OCI objects, in the CNCF "Wasm OCI artifact" layout: an image manifest
//! whose config has media type `application/vnd.wasm.config.v0+json` and whose first layer is
//! the component (`application/wasm`), plus the Switchyard manifest as a second layer. Tools
//! that know Wasm artifacts (wasm-pkg-tools, runwasi) see a component; Switchyard also reads
//! the manifest layer.

use std::collections::BTreeMap;

use oci_client::manifest::{OciDescriptor, OciImageManifest};
use sha2::{Digest, Sha256};

use super::manifest::PackageManifest;
use super::wasm::ComponentFacts;

pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
pub const MANIFEST_LAYER_MEDIA_TYPE: &str = "application/vnd.switchyard.plugin.manifest.v1+json";
/// The image manifest's own limit: a real one is under 1 KiB.
pub const MAX_OCI_MANIFEST_BYTES: usize = 64 * 1024;

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The blobs and manifest of one package, in memory.
#[derive(Debug, Clone)]
pub struct PackageBlobs {
    /// The image manifest, byte for byte: its digest is what a signature covers.
    pub manifest: Vec<u8>,
    pub config: Vec<u8>,
    pub wasm: Vec<u8>,
    pub switchyard_manifest: Vec<u8>,
}

impl PackageBlobs {
    /// Packs a component and its manifest.
    pub fn pack(wasm: Vec<u8>, manifest: &PackageManifest, facts: &ComponentFacts) -> PackageBlobs {
        let switchyard_manifest = serde_json::to_vec_pretty(manifest).expect("a manifest serialises");
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [digest_of(&wasm)],
            "component": {
                "exports": facts.exports,
                "imports": facts.imports,
                "target": format!("switchyard:plugin/{}@{}", manifest.kind, manifest.contract),
            },
        }))
        .expect("a config serialises");
        let descriptor = |media_type: &str, bytes: &[u8], title: Option<&str>| OciDescriptor {
            media_type: media_type.to_string(),
            digest: digest_of(bytes),
            size: bytes.len() as i64,
            urls: None,
            artifact_type: None,
            annotations: title.map(|t| BTreeMap::from([("org.opencontainers.image.title".to_string(), t.to_string())])),
        };
        let image = OciImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST_MEDIA_TYPE.to_string()),
            config: descriptor(WASM_CONFIG_MEDIA_TYPE, &config, None),
            layers: vec![
                descriptor(WASM_LAYER_MEDIA_TYPE, &wasm, Some("plugin.wasm")),
                descriptor(MANIFEST_LAYER_MEDIA_TYPE, &switchyard_manifest, Some("switchyard-plugin.json")),
            ],
            subject: None,
            artifact_type: None,
            annotations: Some(BTreeMap::from([
                ("org.opencontainers.image.title".to_string(), manifest.name.clone()),
                ("org.opencontainers.image.version".to_string(), manifest.version.clone()),
            ])),
        };
        let manifest = serde_json::to_vec(&image).expect("a manifest serialises");
        PackageBlobs { manifest, config, wasm, switchyard_manifest }
    }

    /// The image manifest's digest.
    pub fn digest(&self) -> String {
        digest_of(&self.manifest)
    }
}

/// Where a package's parts are, read from its image manifest.
#[derive(Debug, Clone)]
pub struct PackageParts {
    pub config: OciDescriptor,
    pub wasm: OciDescriptor,
    pub manifest: OciDescriptor,
}

/// Reads the parts of a package from its image manifest bytes.
pub fn parts(image_manifest: &[u8]) -> Result<PackageParts, String> {
    if image_manifest.len() > MAX_OCI_MANIFEST_BYTES {
        return Err(format!(
            "the image manifest is {} bytes, over the {MAX_OCI_MANIFEST_BYTES}-byte limit",
            image_manifest.len()
        ));
    }
    let image: OciImageManifest =
        serde_json::from_slice(image_manifest).map_err(|e| format!("not an OCI image manifest: {e}"))?;
    if image.config.media_type != WASM_CONFIG_MEDIA_TYPE {
        return Err(format!(
            "its config has media type `{}`; a plugin package has `{WASM_CONFIG_MEDIA_TYPE}` (pack it with \
             `switchyard plugin pack`)",
            image.config.media_type
        ));
    }
    let one = |media_type: &str| -> Result<OciDescriptor, String> {
        let mut found = image.layers.iter().filter(|l| l.media_type == media_type);
        match (found.next(), found.next()) {
            (Some(layer), None) => Ok(layer.clone()),
            (None, _) => Err(format!("it has no `{media_type}` layer")),
            (Some(_), Some(_)) => Err(format!("it has more than one `{media_type}` layer")),
        }
    };
    Ok(PackageParts {
        config: image.config.clone(),
        wasm: one(WASM_LAYER_MEDIA_TYPE)?,
        manifest: one(MANIFEST_LAYER_MEDIA_TYPE)?,
    })
}
