//! Cranelift's incremental compilation cache: machine code per function, keyed by the
//! function's normalized IR, so recompiling a component reuses every function that did not
//! change.
//!
//! Why it pays here: a new version of a Python or JS plugin is a new component whose bulk is
//! the same language runtime (CPython or StarlingMonkey, ~20 000 functions). Measured on
//! 2 cores: `python-tiered` compiled alone 4.5-5.2 s; `python-topics` right after 1.4-1.7 s
//! with 21 600 of 22 300 functions reused. It only ever serves the optimized (background)
//! tier, so it saves CPU time taken from serving rather than time to go live.
//!
//! Where it lives, and why: with a `cache_dir` the entries are files under
//! `<cache_dir>/functions/`, read when a compilation asks for them. Held in memory, two
//! language runtimes' worth of entries was ~200 MB of a long-running proxy's RSS that no
//! request ever used between deploys (`bench/memory.sh`). Without a `cache_dir` they are
//! kept in memory, bounded: past [`FunctionCache::MEMORY_BUDGET_BYTES`] the map is emptied
//! and refills with what the next compilations use.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::CacheStore;

/// Compiled functions by cache key.
#[derive(Debug)]
pub(crate) struct FunctionCache {
    store: Store,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug)]
enum Store {
    Memory(Mutex<Entries>),
    /// One file per entry, named by the SHA-256 of its key.
    Disk(PathBuf),
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
}

/// What the cache holds now, for the admin API and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FunctionCacheStats {
    /// `"disk"` or `"memory"`.
    pub location: &'static str,
    /// Bytes of entries held in this process's memory (0 on disk).
    pub memory_bytes: u64,
    pub memory_budget_bytes: u64,
    pub hits: u64,
    pub misses: u64,
}

impl FunctionCache {
    /// Enough for two language runtimes' worth of functions (~60 MB each) and the plugins
    /// around them, when there is no disk to keep them on.
    pub const MEMORY_BUDGET_BYTES: usize = 160 << 20;

    /// A cache in `dir` when it can be created, else in memory.
    pub fn new(dir: Option<PathBuf>) -> FunctionCache {
        let store = match dir.map(|d| d.join("functions")) {
            Some(dir) => match std::fs::create_dir_all(&dir) {
                Ok(()) => Store::Disk(dir),
                Err(error) => {
                    tracing::warn!("function cache kept in memory: cannot create {}: {error}", dir.display());
                    Store::Memory(Mutex::default())
                }
            },
            None => Store::Memory(Mutex::default()),
        };
        FunctionCache { store, hits: AtomicU64::new(0), misses: AtomicU64::new(0) }
    }

    pub fn stats(&self) -> FunctionCacheStats {
        let (location, memory_bytes) = match &self.store {
            Store::Memory(entries) => ("memory", lock(entries).bytes as u64),
            Store::Disk(_) => ("disk", 0),
        };
        FunctionCacheStats {
            location,
            memory_bytes,
            memory_budget_bytes: Self::MEMORY_BUDGET_BYTES as u64,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    fn count(&self, found: bool) {
        let counter = if found { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn lock(entries: &Mutex<Entries>) -> std::sync::MutexGuard<'_, Entries> {
    // Each operation is one map insert or lookup; a poisoned lock holds a consistent map.
    entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn file_name(key: &[u8]) -> String {
    hex::encode(Sha256::digest(key))
}

impl CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let found = match &self.store {
            Store::Memory(entries) => lock(entries).map.get(key).cloned(),
            Store::Disk(dir) => std::fs::read(dir.join(file_name(key))).ok(),
        };
        self.count(found.is_some());
        found.map(Cow::Owned)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        match &self.store {
            Store::Memory(entries) => {
                let mut entries = lock(entries);
                let size = key.len() + value.len();
                if entries.bytes + size > Self::MEMORY_BUDGET_BYTES {
                    entries.map.clear();
                    entries.bytes = 0;
                }
                entries.bytes += size;
                if let Some(old) = entries.map.insert(key.to_vec(), value) {
                    entries.bytes -= key.len() + old.len();
                }
                true
            }
            // A failed write only costs a recompilation of that function later.
            Store::Disk(dir) => super::cache::write_atomically(&dir.join(file_name(key)), &value).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_returns_entries_and_stays_within_budget() {
        let cache = FunctionCache::new(None);
        assert!(cache.get(b"k").is_none());
        cache.insert(b"k", vec![1, 2, 3]);
        assert_eq!(cache.get(b"k").as_deref(), Some(&[1u8, 2, 3][..]));
        cache.insert(b"k", vec![4]);
        assert_eq!(cache.stats().memory_bytes, 2);
        let big = vec![0u8; FunctionCache::MEMORY_BUDGET_BYTES / 2];
        cache.insert(b"a", big.clone());
        cache.insert(b"b", big);
        assert!(cache.stats().memory_bytes <= FunctionCache::MEMORY_BUDGET_BYTES as u64);
        assert!(cache.get(b"b").is_some(), "the newest entry survives a reset");
        assert_eq!((cache.stats().hits, cache.stats().misses), (2, 1));
    }

    #[test]
    fn a_disk_cache_keeps_entries_in_files_and_none_in_memory() {
        let dir = std::env::temp_dir().join(format!("switchyard-function-cache-{}", std::process::id()));
        let cache = FunctionCache::new(Some(dir.clone()));
        assert!(cache.get(b"key").is_none());
        assert!(cache.insert(b"key", vec![7; 1000]));
        assert_eq!(cache.get(b"key").as_deref(), Some(&[7u8; 1000][..]));
        assert_eq!(cache.stats().location, "disk");
        assert_eq!(cache.stats().memory_bytes, 0);
        // Another process (a restart) finds what this one wrote.
        let again = FunctionCache::new(Some(dir.clone()));
        assert_eq!(again.get(b"key").map(|v| v.len()), Some(1000));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
