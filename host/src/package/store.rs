//! An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/…`): the format
//! of both `switchyard plugin pack`'s output and the proxy's package cache, so a package
//! pulled once is served from disk when the registry is down, and tools that read OCI layouts
//! (oras, skopeo, crane) read either.
//!
//! Blobs are content-addressed and written atomically (temporary file + rename), and only
//! after their digest has been checked, so a blob present under a digest is that digest's.

use std::path::{Path, PathBuf};

use super::error::PackageError;
use super::layout::digest_of;

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An image layout on disk.
#[derive(Debug, Clone)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// Opens the layout at `dir`, creating it if need be.
    pub fn open(dir: &Path) -> Result<Layout, PackageError> {
        let layout = Layout { dir: dir.to_path_buf() };
        std::fs::create_dir_all(dir.join("blobs/sha256")).map_err(|e| layout.error(e))?;
        let marker = dir.join("oci-layout");
        if !marker.exists() {
            write_atomic(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(|e| layout.error(e))?;
        }
        Ok(layout)
    }

    /// Opens an existing layout (a `pack` output), refusing a directory that is not one.
    pub fn existing(dir: &Path) -> Result<Layout, PackageError> {
        if !dir.join("oci-layout").is_file() {
            return Err(PackageError::Cache {
                path: dir.display().to_string(),
                detail: "not an OCI image layout (no `oci-layout` file); make one with `switchyard plugin pack`"
                    .to_string(),
            });
        }
        Ok(Layout { dir: dir.to_path_buf() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn error(&self, e: impl std::fmt::Display) -> PackageError {
        PackageError::Cache { path: self.dir.display().to_string(), detail: e.to_string() }
    }

    /// The file of the blob `digest` (`sha256:<hex>`), whether or not it is there.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        // A digest is hex: anything else cannot name a file outside the blob directory.
        let hex: String = hex.chars().filter(char::is_ascii_hexdigit).collect();
        self.dir.join("blobs/sha256").join(hex)
    }

    /// Stores `bytes`; returns their digest.
    pub fn put(&self, bytes: &[u8]) -> Result<String, PackageError> {
        let digest = digest_of(bytes);
        let path = self.blob_path(&digest);
        if !path.is_file() {
            write_atomic(&path, bytes).map_err(|e| self.error(e))?;
        }
        Ok(digest)
    }

    /// The blob `digest`, if stored and no larger than `cap`.
    pub fn get(&self, digest: &str, cap: u64) -> Option<Vec<u8>> {
        let path = self.blob_path(digest);
        let len = std::fs::metadata(&path).ok()?.len();
        if len > cap {
            return None;
        }
        std::fs::read(path).ok()
    }

    /// Points `name` (a tag, or a full reference in the cache) at manifest `digest`.
    pub fn tag(&self, name: &str, digest: &str, size: usize) -> Result<(), PackageError> {
        let mut index = self.index();
        let manifests = index["manifests"].as_array_mut().expect("index.json has a manifests array");
        manifests.retain(|m| m["annotations"][REF_NAME] != name);
        manifests.push(serde_json::json!({
            "mediaType": super::layout::OCI_MANIFEST_MEDIA_TYPE,
            "digest": digest,
            "size": size,
            "annotations": {REF_NAME: name},
        }));
        let bytes = serde_json::to_vec_pretty(&index).expect("an index serialises");
        write_atomic(&self.dir.join("index.json"), &bytes).map_err(|e| self.error(e))
    }

    /// The manifest digest `name` points at.
    pub fn resolve(&self, name: &str) -> Option<String> {
        let index = self.index();
        index["manifests"]
            .as_array()?
            .iter()
            .rev()
            .find(|m| m["annotations"][REF_NAME] == name)
            .and_then(|m| m["digest"].as_str().map(str::to_string))
    }

    /// Every (name, digest) in the index.
    pub fn refs(&self) -> Vec<(String, String)> {
        let index = self.index();
        index["manifests"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|m| {
                        Some((m["annotations"][REF_NAME].as_str()?.to_string(), m["digest"].as_str()?.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn index(&self) -> serde_json::Value {
        std::fs::read(self.dir.join("index.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .filter(|v| v["manifests"].is_array())
            .unwrap_or_else(|| serde_json::json!({"schemaVersion": 2, "manifests": []}))
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_and_tags_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::open(dir.path()).unwrap();
        let digest = layout.put(b"hello").unwrap();
        assert_eq!(layout.get(&digest, 100).unwrap(), b"hello");
        assert!(layout.get(&digest, 2).is_none());
        layout.tag("v1", &digest, 5).unwrap();
        layout.tag("v1", &digest, 5).unwrap();
        assert_eq!(layout.resolve("v1"), Some(digest.clone()));
        assert_eq!(layout.refs().len(), 1);
        assert!(Layout::existing(dir.path()).is_ok());
        assert!(Layout::existing(&dir.path().join("blobs")).is_err());
        // A "digest" with path characters stays inside the blob directory.
        assert!(layout.blob_path("sha256:../../etc/passwd").starts_with(dir.path().join("blobs/sha256")));
    }
}
