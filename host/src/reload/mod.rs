//! Hot reload: rebuild the snapshot from the config file and the plugin files, validate it,
//! and publish it with one atomic swap, or keep the last good one serving and say why.
//!
//! - [`reload`] does one reload (the admin API and the watcher call it).
//! - [`watch`] notices file changes and calls [`reload`] once writes have settled.

pub mod poll;
pub mod status;
pub mod watch;

use std::time::Instant;

use crate::app::App;
use crate::config::Config;
use crate::plugin::LoadError;
use crate::route::snapshot::{Snapshot, SnapshotError};
use crate::telemetry::decision::now_ms;
use status::{PluginFailure, ReloadAttempt};

/// Why a reload did not publish a new snapshot. The previous snapshot keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// Re-reads the config file the serving snapshot came from, loads what changed, and swaps the
/// new snapshot in. Reloads are serialised; requests never wait for one.
pub async fn reload(app: &App, trigger: &str) -> Result<u64, ReloadError> {
    let _one_at_a_time = app.reload_lock().lock().await;
    let started = Instant::now();
    let current = app.snapshot();
    let path = current.config.path.clone();
    let result = async {
        let config = tokio::task::spawn_blocking(move || Config::load(&path))
            .await
            .map_err(|e| SnapshotError::Inconsistent(format!("config loader task failed: {e}")))??;
        let version = app.next_version();
        let (snapshot, changes) = Snapshot::build_from(config, app.engine(), version, Some(&current)).await?;
        Ok::<_, ReloadError>((snapshot, changes))
    }
    .await;
    app.metrics().observe_reload(result.is_ok());
    let mut status = app.reload_status();
    let mut attempt = ReloadAttempt {
        at_ms: now_ms(),
        trigger: trigger.to_string(),
        ok: result.is_ok(),
        version: None,
        error: None,
        plugins: Vec::new(),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    match result {
        Ok((snapshot, changes)) => {
            let version = snapshot.version;
            // Keep the outgoing version's compiled code too: rolling back to it (the common
            // "undo" of a bad deploy) is then a memory hit, not a disk-cache load.
            let keep: Vec<_> = snapshot.plugins.values().chain(current.plugins.values()).map(|p| p.hash()).collect();
            for name in snapshot.plugins.keys() {
                status.plugin_failures.remove(name);
            }
            let replaced = app.publish(snapshot);
            app.engine().retain_compiled(&keep);
            // Freeing a version unmaps its code and resets its instances' memories (~12 MB
            // each for Python): milliseconds that belong on a blocking thread, not on the
            // runtime's workers serving requests.
            tokio::task::spawn_blocking(move || drop(replaced));
            attempt.version = Some(version);
            attempt.plugins = changes;
            status.reloads_ok += 1;
            status.record(attempt);
            tracing::info!(version, trigger, "reloaded: new snapshot serving");
            Ok(version)
        }
        Err(error) => {
            let message = error.to_string();
            if let ReloadError::Snapshot(SnapshotError::Plugin(LoadError::Package { name, reason, .. })) = &error {
                app.metrics().observe_package_refusal(name, reason);
            }
            if let ReloadError::Snapshot(SnapshotError::Plugin(load)) = &error {
                status
                    .plugin_failures
                    .insert(plugin_of(load).to_string(), PluginFailure { at_ms: now_ms(), error: message.clone() });
            }
            tracing::error!(trigger, "reload failed, the previous snapshot keeps serving: {message}");
            attempt.error = Some(message);
            status.reloads_failed += 1;
            status.record(attempt);
            Err(error)
        }
    }
}

fn plugin_of(error: &LoadError) -> &str {
    match error {
        LoadError::Read { name, .. }
        | LoadError::Compile { name, .. }
        | LoadError::World { name, .. }
        | LoadError::Link { name, .. }
        | LoadError::Config { name, .. }
        | LoadError::SelfTest { name, .. }
        | LoadError::Task { name, .. }
        | LoadError::Package { name, .. } => name,
    }
}
