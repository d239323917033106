//! The running proxy's state: the live snapshot behind an `ArcSwap`, and what outlives
//! snapshots (the plugin engine, upstream health, metrics, the decision log, admission).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{self, Config};
use crate::plugin::{EngineError, EngineSettings, PluginEngine};
use crate::provider::{HealthBook, HealthOptions};
use crate::reload::status::ReloadStatus;
use crate::route::snapshot::{Snapshot, SnapshotError};
use crate::server::admin::AdminAuth;
use crate::telemetry::decision_log::OpenError;
use crate::telemetry::{DecisionLog, DecisionSink, Metrics};

/// Limits the server applies before a request reaches the pipeline.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    pub body_limit: usize,
    pub header_read_timeout: Duration,
    /// Time allowed to receive the whole body once headers are in.
    pub body_read_timeout: Duration,
    pub max_concurrent: usize,
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    DecisionLog(#[from] OpenError),
}

/// Shared by every connection.
pub struct App {
    live: ArcSwap<Snapshot>,
    engine: Arc<PluginEngine>,
    health: HealthBook,
    metrics: Metrics,
    decisions: DecisionLog,
    limits: ServerLimits,
    admission: Arc<Semaphore>,
    next_version: AtomicU64,
    reload_lock: tokio::sync::Mutex<()>,
    reload_status: std::sync::Mutex<ReloadStatus>,
    admin: AdminAuth,
}

impl App {
    /// Builds the engine, loads every plugin and publishes snapshot version 1.
    pub async fn start(config: Config) -> Result<Arc<App>, StartError> {
        let sink = match &config.telemetry.decision_log {
            config::DecisionLog::Off => DecisionSink::Off,
            config::DecisionLog::Stdout => DecisionSink::Stdout,
            config::DecisionLog::File(path) => DecisionSink::File(config.base_dir.join(path)),
        };
        Self::start_with_sink(config, sink).await
    }

    /// Like [`App::start`], with the decision records sent to `sink`.
    pub async fn start_with_sink(config: Config, sink: DecisionSink) -> Result<Arc<App>, StartError> {
        let runtime = &config.runtime;
        let engine = PluginEngine::new(EngineSettings {
            epoch_tick: Duration::from_millis(runtime.epoch_tick_ms.max(1)),
            fuel: runtime.fuel,
            max_memory_bytes: runtime.max_memory_mb << 20,
            max_instances: runtime.max_instances,
            cache_dir: Some(config.base_dir.join(&runtime.cache_dir)),
        })?;
        let limits = ServerLimits {
            body_limit: config.server.body_limit_bytes as usize,
            header_read_timeout: config.server.header_read_timeout(),
            body_read_timeout: config.server.header_read_timeout().max(Duration::from_secs(30)),
            max_concurrent: config.server.max_concurrent_requests as usize,
        };
        let decisions = DecisionLog::open(sink)?;
        let admin = AdminAuth::from_config(&config);
        let snapshot = Snapshot::build(config, &engine, 1).await?;
        Ok(Arc::new(App {
            live: ArcSwap::from_pointee(snapshot),
            engine,
            health: HealthBook::new(HealthOptions::default()),
            metrics: Metrics::new(),
            decisions,
            admission: Arc::new(Semaphore::new(limits.max_concurrent)),
            limits,
            next_version: AtomicU64::new(2),
            reload_lock: tokio::sync::Mutex::new(()),
            reload_status: std::sync::Mutex::new(ReloadStatus::default()),
            admin,
        }))
    }

    /// The snapshot new requests run on.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.live.load_full()
    }

    /// Makes `snapshot` the one new requests run on. Requests in flight keep theirs.
    pub fn publish(&self, snapshot: Snapshot) {
        self.live.store(Arc::new(snapshot));
    }

    /// The version number for the next snapshot built.
    pub fn next_version(&self) -> u64 {
        self.next_version.fetch_add(1, Ordering::Relaxed)
    }

    /// Serialises reloads (see [`crate::reload::reload`]).
    pub fn reload_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.reload_lock
    }

    /// Reload bookkeeping, for the admin API.
    pub fn reload_status(&self) -> std::sync::MutexGuard<'_, ReloadStatus> {
        self.reload_status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The admin API's credential, when it is enabled.
    pub fn admin_auth(&self) -> &AdminAuth {
        &self.admin
    }

    /// A slot for one request, or `None` when the proxy is at its concurrency limit.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        self.admission.clone().try_acquire_owned().ok()
    }

    pub fn engine(&self) -> &Arc<PluginEngine> {
        &self.engine
    }
    pub fn health(&self) -> &HealthBook {
        &self.health
    }
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
    pub fn decisions(&self) -> &DecisionLog {
        &self.decisions
    }
    pub fn limits(&self) -> &ServerLimits {
        &self.limits
    }
}
