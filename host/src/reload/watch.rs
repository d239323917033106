//! Watching the config file and every plugin file, and reloading once writes have settled.
//!
//! Editors and deploy tools replace files in one of two ways: write a temporary file and
//! rename it over the old one (which replaces the inode, so the watch is on the *directory*,
//! filtered by file name), or truncate and write in place, in chunks. A rename delivers the
//! whole file at once, so the watcher waits only [`RENAME_SETTLE`] (to take a plugin and a
//! config renamed together as one change); an in-place write is followed by a wait until no
//! write has arrived for the settle delay. Then the watched files' stamps (size, times,
//! inode) are compared with those of the serving snapshot, and only a change reloads; the
//! reload itself compares content hashes and recompiles nothing whose bytes are unchanged. A
//! half-written file that still fails validation is simply retried on the next event.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{ModifyKind, RenameMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::app::App;

/// Quiet time after a file was renamed into place: enough to take a plugin and the config
/// renamed one after the other as one change.
pub const RENAME_SETTLE: Duration = Duration::from_millis(5);

/// Default quiet time after the last in-place write to a watched file before a reload starts;
/// `cp` and editors that write in place finish well within it. A plugin written slower than
/// that fails validation (a cut component is not valid) and is retried on the next change; a
/// config file should be replaced atomically (temporary file + rename), since a cut TOML file
/// can still parse.
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
            let _ = sender.send(event);
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

    /// How long to wait for quiet after `event`: `None` when it touches no watched file.
    fn quiet_after(&self, event: &Event, settle: Duration) -> Option<Duration> {
        if !event.paths.iter().any(|p| self.files.contains(p)) {
            return None;
        }
        let renamed_into_place =
            matches!(event.kind, EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both)));
        Some(if renamed_into_place { RENAME_SETTLE.min(settle) } else { settle })
    }
}

fn watched_files(app: &App) -> BTreeSet<PathBuf> {
    let snapshot = app.snapshot();
    let mut files = BTreeSet::new();
    files.insert(absolute(&snapshot.config.path));
    for plugin in snapshot.config.plugins.values() {
        files.insert(absolute(&plugin.resolved_path));
        files.extend(plugin.file_texts.values().map(|(path, _)| absolute(path)));
    }
    files
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// What identifies one state of a file without reading it: a rename gives it a new inode, a
/// write a new size or modification time. Hashing instead would read and hash an 18 MB
/// Python component (~12 ms) on every event, and the reload hashes it anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64, i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            inode: {
                use std::os::unix::fs::MetadataExt;
                (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
            },
        })
    }
}

/// Stamps of `files` (a missing file has none).
fn fingerprint(files: &BTreeSet<PathBuf>) -> BTreeMap<PathBuf, Option<Stamp>> {
    files.iter().map(|f| (f.clone(), Stamp::of(f))).collect()
}

async fn run(
    app: Arc<App>,
    mut state: WatchState,
    mut events: mpsc::UnboundedReceiver<Event>,
    settle: Duration,
    mut published: BTreeMap<PathBuf, Option<Stamp>>,
) {
    while let Some(event) = events.recv().await {
        let Some(quiet) = state.quiet_after(&event, settle) else {
            continue;
        };
        // Wait until the watched files have been quiet long enough: every event on them
        // pushes the reload back, an in-place write by the full settle delay. Events on
        // other files in the same directories do not.
        let mut until = tokio::time::Instant::now() + quiet;
        loop {
            match tokio::time::timeout_at(until, events.recv()).await {
                Ok(Some(event)) => {
                    if let Some(quiet) = state.quiet_after(&event, settle) {
                        until = until.max(tokio::time::Instant::now() + quiet);
                    }
                }
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
