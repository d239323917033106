//! Signatures in cosign's key-based "simple signing" format, stored the way cosign stores
//! them: an image manifest tagged `sha256-<digest>.sig` in the package's repository, one
//! layer per signature holding the simple-signing JSON payload (which names the signed
//! manifest digest), and the ECDSA P-256 signature over that payload, base64 DER, in the
//! layer's `dev.cosignproject.cosign/signature` annotation. `cosign verify --key` reads these,
//! and `openssl dgst -sha256 -sign` makes them.
//!
//! A signature entry may name its key (`dev.switchyard.key-id`); one that names none is tried
//! against every trusted key and must still verify under one of them. An entry that names no
//! key is never a reason to skip verification: that was the OPA bundle bypass
//! (GHSA-g2pf-6v5v-qcc8).

use std::collections::BTreeMap;

use base64::Engine as _;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use sha2::{Digest, Sha256};

use super::error::PackageError;
use super::layout::{OCI_MANIFEST_MEDIA_TYPE, digest_of};
use super::trust::{Publisher, TrustPolicy};

pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Optional: the signing key's id (see [`key_id`]), so a verifier can pick the key.
pub const KEY_ID_ANNOTATION: &str = "dev.switchyard.key-id";
const SIGNATURE_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// A payload is ~250 bytes; anything much larger is not one.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;

/// The tag cosign keeps a manifest's signatures under: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// The simple-signing payload for `digest` in repository `docker_reference`.
pub fn payload(docker_reference: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
    .expect("a payload serialises")
}

/// The manifest digest a payload vouches for.
fn signed_digest(payload: &[u8]) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("the payload is not simple-signing JSON: {e}"))?;
    let critical = &value["critical"];
    if critical["type"] != "cosign container image signature" {
        return Err("the payload is not a cosign container image signature".to_string());
    }
    critical["image"]["docker-manifest-digest"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "the payload names no docker-manifest-digest".to_string())
}

/// The id of a key: the hex SHA-256 of its DER public key (what `dev.switchyard.key-id` holds).
pub fn key_id(key: &VerifyingKey) -> String {
    let der = key.to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default();
    hex::encode(Sha256::digest(der))
}

/// Reads a PEM public key (SPKI, `-----BEGIN PUBLIC KEY-----`, as cosign and openssl write).
pub fn read_public_key(pem: &str) -> Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| format!("not an ECDSA P-256 public key: {e}"))
}

/// Reads a PEM private key: PKCS#8 (`-----BEGIN PRIVATE KEY-----`) or SEC1
/// (`-----BEGIN EC PRIVATE KEY-----`, as `openssl ecparam -genkey` writes).
pub fn read_private_key(pem: &str) -> Result<SigningKey, String> {
    if pem.contains("BEGIN EC PRIVATE KEY") {
        return p256::SecretKey::from_sec1_pem(pem.trim())
            .map(SigningKey::from)
            .map_err(|e| format!("not an ECDSA P-256 private key: {e}"));
    }
    if pem.contains("ENCRYPTED") {
        return Err("encrypted keys are not supported; export the key unencrypted (PKCS#8 PEM)".to_string());
    }
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| format!("not an ECDSA P-256 private key: {e}"))
}

/// A new key pair as (PKCS#8 private PEM, SPKI public PEM), from the OS's randomness.
pub fn generate_key_pair() -> Result<(String, String), String> {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let mut seed = [0u8; 32];
    loop {
        std::io::Read::read_exact(
            &mut std::fs::File::open("/dev/urandom").map_err(|e| format!("cannot read /dev/urandom: {e}"))?,
            &mut seed,
        )
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
        // A seed outside the curve's order (probability ~2^-32) is simply drawn again.
        if let Ok(key) = SigningKey::from_slice(&seed) {
            let private = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| e.to_string())?.to_string();
            let public = key.verifying_key().to_public_key_pem(LineEnding::LF).map_err(|e| e.to_string())?;
            return Ok((private, public));
        }
    }
}

/// One signature, as stored: the payload blob, its annotations.
#[derive(Debug, Clone)]
pub struct SignatureEntry {
    pub payload: Vec<u8>,
    pub signature: Option<String>,
    pub key_id: Option<String>,
}

/// Signs `payload` with `key`: the base64 DER signature cosign stores.
pub fn sign_payload(key: &SigningKey, payload: &[u8]) -> String {
    let signature: Signature = key.sign(payload);
    base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
}

/// The signature image manifest and its config blob for `entries` (payload, signature, key
/// id), cosign's layout.
pub fn signature_manifest(entries: &[SignatureEntry]) -> (Vec<u8>, Vec<u8>) {
    let layers: Vec<OciDescriptor> = entries
        .iter()
        .map(|e| {
            let mut annotations = BTreeMap::new();
            annotations.insert(SIGNATURE_ANNOTATION.to_string(), e.signature.clone().unwrap_or_default());
            if let Some(id) = &e.key_id {
                annotations.insert(KEY_ID_ANNOTATION.to_string(), id.clone());
            }
            OciDescriptor {
                media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
                digest: digest_of(&e.payload),
                size: e.payload.len() as i64,
                urls: None,
                artifact_type: None,
                annotations: Some(annotations),
            }
        })
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "", "os": "", "config": {},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>()},
    }))
    .expect("a config serialises");
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST_MEDIA_TYPE.to_string()),
        config: OciDescriptor {
            media_type: SIGNATURE_CONFIG_MEDIA_TYPE.to_string(),
            digest: digest_of(&config),
            size: config.len() as i64,
            urls: None,
            artifact_type: None,
            annotations: None,
        },
        layers,
        subject: None,
        artifact_type: None,
        annotations: None,
    };
    (serde_json::to_vec(&manifest).expect("a manifest serialises"), config)
}

/// One signature layer as stored: the payload's descriptor, the signature annotation, the key
/// id annotation.
pub type SignatureLayer = (OciDescriptor, Option<String>, Option<String>);

/// The signature layers of a signature manifest.
pub fn signature_layers(manifest: &[u8]) -> Result<Vec<SignatureLayer>, String> {
    if manifest.len() > super::layout::MAX_OCI_MANIFEST_BYTES {
        return Err("the signature manifest is over the size limit".to_string());
    }
    let manifest: OciImageManifest =
        serde_json::from_slice(manifest).map_err(|e| format!("the signature manifest is not an OCI manifest: {e}"))?;
    Ok(manifest
        .layers
        .into_iter()
        .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
        .map(|l| {
            let annotation = |k: &str| l.annotations.as_ref().and_then(|a| a.get(k)).cloned();
            let (signature, key_id) = (annotation(SIGNATURE_ANNOTATION), annotation(KEY_ID_ANNOTATION));
            (l, signature, key_id)
        })
        .collect())
}

/// The publishers whose keys verify a signature over `digest` among `entries`; refuses when
/// none does, with the most specific reason.
pub fn verify<'t>(
    entries: &[SignatureEntry],
    trust: &'t TrustPolicy,
    digest: &str,
    reference: &str,
) -> Result<Vec<&'t Publisher>, PackageError> {
    let mut wrong_digest = None;
    let mut empty = false;
    let mut named_unknown = Vec::new();
    let mut verified = Vec::new();
    for entry in entries {
        let Some(encoded) = entry.signature.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
            empty = true;
            continue;
        };
        let Some(signature) = decode_signature(encoded) else {
            continue;
        };
        let candidates: Vec<&Publisher> = match entry.key_id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => {
                let named: Vec<&Publisher> = trust.publishers().iter().filter(|p| p.key_id == id).collect();
                if named.is_empty() {
                    named_unknown.push(id.to_string());
                }
                named
            }
            // Naming no key means "try them all", never "nothing to check".
            None => trust.publishers().iter().collect(),
        };
        for publisher in candidates {
            if publisher.key.verify(&entry.payload, &signature).is_err() {
                continue;
            }
            match signed_digest(&entry.payload) {
                Ok(signed) if signed == digest => verified.push(publisher),
                Ok(signed) => wrong_digest = Some(signed),
                Err(_) => {}
            }
        }
    }
    if !verified.is_empty() {
        verified.dedup_by(|a, b| a.name == b.name);
        return Ok(verified);
    }
    let reference = reference.to_string();
    if let Some(signed) = wrong_digest {
        return Err(PackageError::WrongDigest { reference, signed, actual: digest.to_string() });
    }
    if empty && entries.iter().all(|e| e.signature.as_deref().is_none_or(|s| s.trim().is_empty())) {
        return Err(PackageError::EmptySignature { reference });
    }
    let detail = if trust.publishers().is_empty() {
        " (no [trust.publishers] are configured)".to_string()
    } else if !named_unknown.is_empty() {
        format!(" (it names key {}, which no [trust.publishers] entry holds)", named_unknown.join(", "))
    } else {
        format!(" (trusted: {})", trust.publishers().iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "))
    };
    Err(PackageError::UntrustedKey { reference, detail })
}

/// Cosign writes DER; a raw 64-byte `r || s` is accepted too.
fn decode_signature(encoded: &str) -> Option<Signature> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    Signature::from_der(&bytes).ok().or_else(|| Signature::from_slice(&bytes).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PublisherConfig, TrustConfig};

    fn policy(keys: &[(&str, &SigningKey)]) -> TrustPolicy {
        use p256::pkcs8::LineEnding;
        let mut trust = TrustConfig::default();
        for (name, key) in keys {
            trust.publishers.insert(
                name.to_string(),
                PublisherConfig {
                    key: "k.pub".into(),
                    key_pem: key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap(),
                    names: vec![format!("{name}/*")],
                    max_memory_mb: 64,
                    max_deadline_ms: 10,
                    max_fuel: None,
                },
            );
        }
        TrustPolicy::from_config(&trust).unwrap()
    }

    fn key() -> SigningKey {
        read_private_key(&generate_key_pair().unwrap().0).unwrap()
    }

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn entry(key: &SigningKey, digest: &str, key_id: Option<String>) -> SignatureEntry {
        let payload = payload("127.0.0.1:5000/acme/gate", digest);
        SignatureEntry { signature: Some(sign_payload(key, &payload)), payload, key_id }
    }

    #[test]
    fn a_trusted_signature_verifies_with_or_without_a_key_id() {
        let acme = key();
        let trust = policy(&[("acme", &acme)]);
        let id = key_id(acme.verifying_key());
        for e in [entry(&acme, DIGEST, None), entry(&acme, DIGEST, Some(id))] {
            let ok = verify(&[e], &trust, DIGEST, "r").unwrap();
            assert_eq!(ok[0].name, "acme");
        }
    }

    #[test]
    fn refusals_say_why() {
        let (acme, mallory) = (key(), key());
        let trust = policy(&[("acme", &acme)]);
        let reason = |entries: &[SignatureEntry]| verify(entries, &trust, DIGEST, "r").unwrap_err().reason();
        assert_eq!(reason(&[entry(&mallory, DIGEST, None)]), "untrusted_key");
        // Naming a key that is not trusted, or naming the trusted key over another's signature.
        assert_eq!(reason(&[entry(&mallory, DIGEST, Some(key_id(mallory.verifying_key())))]), "untrusted_key");
        assert_eq!(reason(&[entry(&mallory, DIGEST, Some(key_id(acme.verifying_key())))]), "untrusted_key");
        let other = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
        assert_eq!(reason(&[entry(&acme, other, None)]), "wrong_digest");
        let mut empty = entry(&acme, DIGEST, None);
        empty.signature = Some(String::new());
        assert_eq!(reason(&[empty.clone()]), "empty_signature");
        empty.signature = None;
        assert_eq!(reason(&[empty]), "empty_signature");
        let mut garbled = entry(&acme, DIGEST, None);
        garbled.payload[10] ^= 1;
        assert_eq!(reason(&[garbled]), "untrusted_key");
        assert_eq!(reason(&[]), "untrusted_key");
        // No publishers at all: nothing verifies, nothing is skipped.
        assert_eq!(
            verify(&[entry(&acme, DIGEST, None)], &policy(&[]), DIGEST, "r").unwrap_err().reason(),
            "untrusted_key"
        );
    }

    #[test]
    fn signature_manifests_round_trip() {
        let acme = key();
        let e = entry(&acme, DIGEST, Some("abc".into()));
        let (manifest, _config) = signature_manifest(std::slice::from_ref(&e));
        let layers = signature_layers(&manifest).unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0].0.digest, digest_of(&e.payload));
        assert_eq!(layers[0].1, e.signature);
        assert_eq!(layers[0].2.as_deref(), Some("abc"));
        assert_eq!(signature_tag(DIGEST), format!("sha256-{}.sig", &DIGEST[7..]));
    }
}
