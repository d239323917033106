//! Watching the config file and every plugin file, and reloading once writes have settled.
//!
//! Editors and deploy tools replace files in several steps: truncate and write in chunks, or
//! write a temporary file and rename it over the old one (which replaces the inode, so the
//! watch is on the *directory*, filtered by file name). After an event the watcher waits
//! until no event has arrived for the settle delay, then compares the content hashes of the
//! watched files with those of the serving snapshot and reloads only if something changed.
//! A half-written file that still fails validation is simply retried on the next event.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::server::App;

/// Default quiet time after the last file event before a reload starts. Editors' rename
/// dance and `cp` finish well within it. A plugin written slower than that fails validation
/// (a cut component is not valid) and is retried on the next change; a config file should be
/// replaced atomically (temporary file + rename), since a cut TOML file can still parse.
pub const DEFAULT_SETTLE: Duration = Duration::from_millis(50);

/// The watcher could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch the configuration and plugin files: {0}")]
pub struct WatchError(#[from] notify::Error);

/// Keeps the watch running; dropping it stops watching.
pub struct WatchHandle {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching the files of `app`'s serving snapshot.
pub fn spawn(app: Arc<App>, settle: Duration) -> Result<WatchHandle, WatchError> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !matches!(event.kind, EventKind::Access(_))
        {
            let _ = sender.send(event.paths);
        }
    })?;
    let mut state = WatchState { watcher, dirs: BTreeSet::new(), files: BTreeSet::new() };
    state.follow(&app)?;
    // The baseline is taken now, before this returns, so a write right after cannot become
    // the baseline and be mistaken for "no change".
    let published = fingerprint(&state.files);
    let task = tokio::spawn(run(app, state, receiver, settle, published));
    Ok(WatchHandle { task })
}

struct WatchState {
    watcher: RecommendedWatcher,
    dirs: BTreeSet<PathBuf>,
    files: BTreeSet<PathBuf>,
}

impl WatchState {
    /// Watches the directories of the serving snapshot's config and plugin files.
    fn follow(&mut self, app: &App) -> Result<(), notify::Error> {
        let files = watched_files(app);
        let dirs: BTreeSet<PathBuf> = files.iter().filter_map(|f| f.parent().map(Path::to_path_buf)).collect();
        for gone in self.dirs.difference(&dirs) {
            let _ = self.watcher.unwatch(gone);
        }
        for new in dirs.difference(&self.dirs) {
            self.watcher.watch(new, RecursiveMode::NonRecursive)?;
        }
        self.dirs = dirs;
        self.files = files;
        Ok(())
    }

    fn concerns(&self, paths: &[PathBuf]) -> bool {
        paths.iter().any(|p| self.files.contains(p))
    }
}

fn watched_files(app: &App) -> BTreeSet<PathBuf> {
    let snapshot = app.snapshot();
    let mut files = BTreeSet::new();
    files.insert(absolute(&snapshot.config.path));
    for plugin in snapshot.config.plugins.values() {
        files.insert(absolute(&plugin.resolved_path));
    }
    files
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Content hashes of `files` (a missing file hashes as absent).
fn fingerprint(files: &BTreeSet<PathBuf>) -> BTreeMap<PathBuf, Option<[u8; 32]>> {
    files.iter().map(|f| (f.clone(), std::fs::read(f).ok().map(|bytes| Sha256::digest(&bytes).into()))).collect()
}

async fn run(
    app: Arc<App>,
    mut state: WatchState,
    mut events: mpsc::UnboundedReceiver<Vec<PathBuf>>,
    settle: Duration,
    mut published: BTreeMap<PathBuf, Option<[u8; 32]>>,
) {
    while let Some(paths) = events.recv().await {
        if !state.concerns(&paths) {
            continue;
        }
        // Wait until the writer has been quiet for `settle`.
        loop {
            match tokio::time::timeout(settle, events.recv()).await {
                Ok(Some(_)) => continue,
                Ok(None) => return,
                Err(_) => break,
            }
        }
        let files = state.files.clone();
        let now = tokio::task::spawn_blocking(move || fingerprint(&files)).await.unwrap_or_default();
        if now == published {
            continue;
        }
        // The reload reads the files after `now` was taken; a write in between sends another
        // event, so publishing `now` as the baseline cannot hide a change.
        let result = crate::reload::reload(&app, "watch").await;
        if result.is_ok() {
            if let Err(error) = state.follow(&app) {
                tracing::warn!("cannot watch the new snapshot's files: {error}");
            }
            published = now;
            if published.len() != state.files.len() {
                let files = state.files.clone();
                published = tokio::task::spawn_blocking(move || fingerprint(&files)).await.unwrap_or_default();
            }
        }
    }
}
