//! Compiled components, cached by content hash: in memory for reloads within a process, and
//! on disk across restarts.
//!
//! Compiling a Python or JS component takes ~10 s on a 2-core machine; deserializing the
//! compiled artifact takes milliseconds. The disk key is the content hash of the wasm bytes
//! plus wasmtime's engine-compatibility hash (version and every setting that affects code
//! generation), so an upgrade or a config change can never load stale machine code.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

use super::compile::Artifact;
use super::engine::Backend;

/// SHA-256 of a plugin's wasm bytes, the identity of a plugin version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    pub fn of(bytes: &[u8]) -> Self {
        ContentHash(Sha256::digest(bytes).into())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Where a component came from on load; reported in load timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheOutcome {
    /// Already compiled in this process.
    Memory,
    /// Deserialized from the on-disk cache.
    Disk,
    /// Compiled now (and written to the disk cache when one is configured).
    Compiled,
}

/// The two-level cache of compiled components.
pub struct ArtifactCache {
    disk: DiskStore,
    memory: Mutex<HashMap<ContentHash, Component>>,
}

impl ArtifactCache {
    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        ArtifactCache { disk: DiskStore::new(engine, dir, None), memory: Mutex::new(HashMap::new()) }
    }

    /// The compiled component for `bytes`, from memory, disk or a fresh compilation. Blocking
    /// (compilation takes up to seconds): call it from a blocking thread.
    pub(crate) fn get_or_compile(
        &self,
        backend: &Backend,
        hash: ContentHash,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        if let Some(hit) = self.get(&backend.engine, hash) {
            return Ok(hit);
        }
        let component: Component = backend.compile(bytes, self.disk.path(hash).as_deref())?;
        self.lock().insert(hash, component.clone());
        Ok((component, CacheOutcome::Compiled))
    }

    /// The compiled component for `hash` if memory or disk holds it; never compiles.
    pub(crate) fn get(&self, engine: &Engine, hash: ContentHash) -> Option<(Component, CacheOutcome)> {
        if let Some(component) = self.lock().get(&hash) {
            return Some((component.clone(), CacheOutcome::Memory));
        }
        let component: Component = self.disk.read(engine, hash)?;
        self.lock().insert(hash, component.clone());
        Some((component, CacheOutcome::Disk))
    }

    /// How many compiled components memory holds, and the bytes of their code.
    pub(crate) fn held(&self) -> (usize, u64) {
        let memory = self.lock();
        (memory.len(), memory.values().map(|c| image_bytes(c.image_range())).sum())
    }

    /// Forgets compiled versions not in `keep`, so memory does not grow with every reload.
    pub fn retain(&self, keep: &[ContentHash]) {
        self.lock().retain(|hash, _| keep.contains(hash));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ContentHash, Component>> {
        // A panic while holding this lock cannot leave the map inconsistent (each operation is
        // a single insert/get), so a poisoned lock is safe to keep using.
        self.memory.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Compiled artifacts on disk, one file per content hash, under a directory named by the
/// engine's compatibility key (`None`: no disk cache).
struct DiskStore {
    dir: Option<PathBuf>,
}

impl DiskStore {
    /// `cache_dir/<engine key>[/sub]`.
    fn new(engine: &Engine, cache_dir: Option<PathBuf>, sub: Option<&str>) -> Self {
        let dir = cache_dir.map(|d| {
            let engine_dir = d.join(engine_compatibility_key(engine));
            match sub {
                Some(sub) => engine_dir.join(sub),
                None => engine_dir,
            }
        });
        DiskStore { dir }
    }

    fn path(&self, hash: ContentHash) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.join(format!("{hash}.cwasm")))
    }

    fn read<T: Artifact>(&self, engine: &Engine, hash: ContentHash) -> Option<T> {
        let path = self.path(hash)?;
        if !path.exists() {
            return None;
        }
        // SAFETY: `deserialize_file` trusts the file to be machine code wasmtime produced.
        // It is sound here because only this binary creates files under this directory
        // (`compile::keep`, or a compile worker of this binary and these settings), it
        // writes them whole (temp file + rename, so a reader never sees a partial artifact),
        // and the path embeds both the content hash of the source wasm and the engine's
        // compatibility key, so the artifact matches the bytes and engine asking for it.
        // wasmtime still checks its header and version and rejects a mismatch with an error.
        // An operator must not point `cache_dir` at a directory others can write.
        match unsafe { T::deserialize_file(engine, &path) } {
            Ok(artifact) => Some(artifact),
            Err(error) => {
                tracing::warn!(path = %path.display(), "ignoring unusable cached artifact: {error}");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }
}

/// Writes `bytes` to `path` through a temporary file unique to this process and write, then a
/// rename, so a reader (another thread, another replica sharing the directory) never sees a
/// partial file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().ok_or("artifact path has no parent")?;
    std::fs::create_dir_all(dir)?;
    // Unique per process and write: a tier-up and a load may write the same artifact at once.
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("artifact"),
        std::process::id(),
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Compiled core modules shared between components ([`super::split`]), by content hash: in
/// memory, and on disk next to the component artifacts.
pub(crate) struct ModuleCache {
    disk: DiskStore,
    memory: Mutex<HashMap<ContentHash, Module>>,
}

impl ModuleCache {
    /// Language runtimes, a handful per deployment; past this many the cache starts over.
    pub(crate) const MAX_IN_MEMORY: usize = 16;

    /// How many modules memory holds, and the bytes of their code.
    pub(crate) fn held(&self) -> (usize, u64) {
        let memory = self.lock();
        (memory.len(), memory.values().map(|m| image_bytes(m.image_range())).sum())
    }

    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        ModuleCache { disk: DiskStore::new(engine, dir, Some("modules")), memory: Mutex::new(HashMap::new()) }
    }

    /// The compiled module for `bytes`, from memory, disk or a fresh compilation, and whether
    /// it was compiled now. Blocking.
    pub(crate) fn get_or_compile(
        &self,
        backend: &Backend,
        hash: ContentHash,
        bytes: &[u8],
    ) -> wasmtime::Result<(Module, bool)> {
        if let Some(module) = self.lock().get(&hash) {
            return Ok((module.clone(), false));
        }
        let cached: Option<Module> = self.disk.read(&backend.engine, hash);
        let compiled_now = cached.is_none();
        let module = match cached {
            Some(module) => module,
            None => backend.compile(bytes, self.disk.path(hash).as_deref())?,
        };
        // With a disk cache, a module is mapped from its file whenever a baseline load needs
        // it, and lives exactly as long as the baseline code linked to it: once every version
        // has tiered up, a language runtime's baseline code (tens of MB each) leaves memory
        // instead of staying resident until the next deploy. Without one, memory is the only
        // place to keep it.
        if self.disk.dir.is_none() {
            let mut memory = self.lock();
            if memory.len() >= Self::MAX_IN_MEMORY {
                memory.clear();
            }
            memory.insert(hash, module.clone());
        }
        Ok((module, compiled_now))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ContentHash, Module>> {
        // Single inserts and lookups: a poisoned lock holds a consistent map.
        self.memory.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn image_bytes(range: std::ops::Range<*const u8>) -> u64 {
    (range.end as usize).saturating_sub(range.start as usize) as u64
}

/// A stable hex key for "artifacts this engine can load".
fn engine_compatibility_key(engine: &Engine) -> String {
    struct ShaHasher(Sha256);
    impl Hasher for ShaHasher {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = ShaHasher(Sha256::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    hex::encode(&hasher.0.finalize()[..12])
}
