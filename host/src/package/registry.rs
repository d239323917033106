//! The registry side, over `oci-client` (the ORAS project's distribution client): resolve a
//! tag, fetch a manifest or a blob under a size cap and a deadline, push. Every call is
//! bounded in time, and every blob in bytes (reading stops at the cap), so a registry that
//! answers slowly or without end costs a bounded wait and is reported as an outage.
//!
//! Credentials come from the environment (`SWITCHYARD_REGISTRY_USERNAME` and
//! `SWITCHYARD_REGISTRY_PASSWORD`) or a docker-style `config.json` (`$SWITCHYARD_REGISTRY_AUTH_FILE`,
//! else `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), never from the TOML.

use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::layout::{OCI_MANIFEST_MEDIA_TYPE, digest_of};

/// How long one registry call may take, all of it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry answered that the thing is not there (a missing tag or signature).
    #[error("not found: {0}")]
    NotFound(String),
    #[error("the registry refused the credentials: {0}")]
    Auth(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    TooLarge(String),
    /// The bytes sent do not hash to the digest asked for.
    #[error("{0}")]
    Digest(String),
    #[error("{0}")]
    Other(String),
}

impl RegistryError {
    fn from_oci(error: OciDistributionError) -> RegistryError {
        match &error {
            OciDistributionError::RegistryError { envelope, .. }
                if envelope.errors.iter().any(|e| {
                    matches!(
                        e.code,
                        OciErrorCode::ManifestUnknown
                            | OciErrorCode::NotFound
                            | OciErrorCode::NameUnknown
                            | OciErrorCode::BlobUnknown
                    )
                }) =>
            {
                RegistryError::NotFound(error.to_string())
            }
            OciDistributionError::ServerError { code: 404, .. }
            | OciDistributionError::ImageManifestNotFoundError(_) => RegistryError::NotFound(error.to_string()),
            OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => {
                RegistryError::Auth(error.to_string())
            }
            _ => RegistryError::Other(error.to_string()),
        }
    }
}

/// A client for one reference's registry, with its credentials.
#[derive(Clone)]
pub struct Registry {
    client: Client,
    auth: RegistryAuth,
    timeout: Duration,
}

/// Parses `HOST/REPO:TAG` or `HOST/REPO@sha256:…`.
pub fn parse_reference(reference: &str) -> Result<Reference, String> {
    reference.parse::<Reference>().map_err(|e| format!("`{reference}` is not an OCI reference: {e}"))
}

/// Loopback registries speak plain HTTP (as docker treats `localhost`); all others HTTPS.
fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h).trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Registry {
    /// The process's client for `reference`'s registry: building one (TLS roots, the auth
    /// handshake) costs far more than the few requests a reload makes, so reloads and polls
    /// share one per registry and timeout. Credentials are read when it is first built.
    pub fn shared(reference: &Reference, timeout: Duration) -> Registry {
        static CLIENTS: std::sync::Mutex<Vec<(String, Duration, Registry)>> = std::sync::Mutex::new(Vec::new());
        let key = reference.resolve_registry().to_string();
        let mut clients = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, _, registry)) = clients.iter().find(|(k, t, _)| *k == key && *t == timeout) {
            return registry.clone();
        }
        let registry = Registry::for_reference(reference, timeout);
        clients.push((key, timeout, registry.clone()));
        registry
    }

    /// A new client for `reference`'s registry.
    pub fn for_reference(reference: &Reference, timeout: Duration) -> Registry {
        // oci-client's TLS is rustls without a built-in provider: use ring, as the upstream
        // clients do. Installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let registry = reference.resolve_registry().to_string();
        let protocol = if is_loopback(&registry) { ClientProtocol::Http } else { ClientProtocol::Https };
        let client = Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(timeout.min(Duration::from_secs(5))),
            read_timeout: Some(timeout),
            ..Default::default()
        });
        Registry { client, auth: credentials(&registry), timeout }
    }

    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, OciDistributionError>>,
    ) -> Result<T, RegistryError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(RegistryError::from_oci),
            Err(_) => Err(RegistryError::Timeout(self.timeout)),
        }
    }

    /// The digest a tag points at now (a HEAD request: what polling costs).
    pub async fn digest(&self, reference: &Reference) -> Result<String, RegistryError> {
        self.bounded(self.client.fetch_manifest_digest(reference, &self.auth)).await
    }

    /// A manifest, byte for byte, and its digest (checked against the reference's, if pinned).
    pub async fn manifest(&self, reference: &Reference) -> Result<(Vec<u8>, String), RegistryError> {
        let (bytes, _) =
            self.bounded(self.client.pull_manifest_raw(reference, &self.auth, &[OCI_MANIFEST_MEDIA_TYPE])).await?;
        if bytes.len() > super::layout::MAX_OCI_MANIFEST_BYTES {
            return Err(RegistryError::TooLarge(format!("a manifest of {} bytes is over the limit", bytes.len())));
        }
        let digest = digest_of(&bytes);
        if let Some(pinned) = reference.digest()
            && pinned != digest
        {
            return Err(RegistryError::Other(format!(
                "the registry sent a manifest with digest {digest}, not {pinned}"
            )));
        }
        Ok((bytes.to_vec(), digest))
    }

    /// A blob, read up to `cap` bytes: a larger one (declared or sent) is refused, and reading
    /// stops at the cap. The digest is the caller's to check.
    pub async fn blob(&self, reference: &Reference, layer: &OciDescriptor, cap: u64) -> Result<Vec<u8>, RegistryError> {
        if layer.size < 0 || layer.size as u64 > cap {
            return Err(RegistryError::TooLarge(format!(
                "a layer of {} bytes is over the {cap}-byte limit",
                layer.size
            )));
        }
        let read = async {
            let mut stream = self.client.pull_blob_stream(reference, layer).await.map_err(RegistryError::from_oci)?;
            let mut bytes = Vec::with_capacity(layer.size as usize);
            while let Some(chunk) = stream.stream.next().await {
                // oci-client checks the digest as the blob streams and fails the stream on a
                // mismatch: that is a tampered blob, not an outage.
                let chunk = chunk.map_err(|e| {
                    let text = e.to_string();
                    if text.to_lowercase().contains("digest") {
                        RegistryError::Digest(text)
                    } else {
                        RegistryError::Other(text)
                    }
                })?;
                if (bytes.len() + chunk.len()) as u64 > cap.min(layer.size as u64) {
                    return Err(RegistryError::TooLarge(format!(
                        "the registry sent more than the {} bytes the layer declares; stopped reading",
                        layer.size
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(bytes)
        };
        match tokio::time::timeout(self.timeout, read).await {
            Ok(result) => result,
            Err(_) => Err(RegistryError::Timeout(self.timeout)),
        }
    }

    /// Uploads a blob (skipped when the registry has it).
    pub async fn push_blob(&self, reference: &Reference, bytes: &[u8]) -> Result<(), RegistryError> {
        let digest = digest_of(bytes);
        self.client.store_auth_if_needed(reference.resolve_registry(), &self.auth).await;
        if self.bounded(self.client.blob_exists(reference, &digest)).await.unwrap_or(false) {
            return Ok(());
        }
        self.bounded(self.client.push_blob(reference, bytes.to_vec(), &digest)).await.map(drop)
    }

    /// Uploads an image manifest under `reference`'s tag (or digest).
    pub async fn push_manifest(&self, reference: &Reference, bytes: &[u8]) -> Result<(), RegistryError> {
        self.client.store_auth_if_needed(reference.resolve_registry(), &self.auth).await;
        let content_type = http::HeaderValue::from_static(OCI_MANIFEST_MEDIA_TYPE);
        self.bounded(self.client.push_manifest_raw(reference, bytes.to_vec(), content_type)).await.map(drop)
    }
}

/// Credentials for `registry`: the environment first, then a docker-style config file.
fn credentials(registry: &str) -> RegistryAuth {
    if let (Ok(user), Ok(password)) =
        (std::env::var("SWITCHYARD_REGISTRY_USERNAME"), std::env::var("SWITCHYARD_REGISTRY_PASSWORD"))
    {
        return RegistryAuth::Basic(user, password);
    }
    let file = std::env::var_os("SWITCHYARD_REGISTRY_AUTH_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("DOCKER_CONFIG").map(|d| std::path::PathBuf::from(d).join("config.json")))
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".docker/config.json")));
    file.and_then(|f| std::fs::read(f).ok())
        .and_then(|bytes| docker_auth(&bytes, registry))
        .map_or(RegistryAuth::Anonymous, |(user, password)| RegistryAuth::Basic(user, password))
}

/// The (user, password) for `registry` in a docker `config.json` (`auths.HOST.auth`, base64
/// `user:password`, or `username`/`password`).
pub fn docker_auth(config: &[u8], registry: &str) -> Option<(String, String)> {
    let config: serde_json::Value = serde_json::from_slice(config).ok()?;
    let auths = config["auths"].as_object()?;
    let entry = auths.iter().find(|(host, _)| {
        let host = host.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
        host == registry
    })?;
    let entry = entry.1;
    if let Some(encoded) = entry["auth"].as_str() {
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
        let (user, password) = String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.into(), p.into()))?;
        return Some((user, password));
    }
    Some((entry["username"].as_str()?.to_string(), entry["password"].as_str()?.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_credentials() {
        let config = br#"{"auths": {"127.0.0.1:5000": {"auth": "YWxpY2U6czNjcmV0"}, "https://other.test/": {"username": "u", "password": "p"}}}"#;
        assert_eq!(docker_auth(config, "127.0.0.1:5000"), Some(("alice".into(), "s3cret".into())));
        assert_eq!(docker_auth(config, "other.test"), Some(("u".into(), "p".into())));
        assert_eq!(docker_auth(config, "nowhere.test"), None);
        assert_eq!(docker_auth(b"not json", "x"), None);
    }

    #[test]
    fn loopback_registries_use_plain_http() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.test"));
        assert!(!is_loopback("10.0.0.1:5000"));
    }

    #[test]
    fn references_parse() {
        let r = parse_reference("127.0.0.1:5000/acme/gate:1.0").unwrap();
        assert_eq!(r.resolve_registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "acme/gate");
        assert_eq!(r.tag(), Some("1.0"));
        assert!(parse_reference("UPPER CASE").is_err());
    }
}
