//! The running proxy's state: the live snapshot behind an `ArcSwap`, and what outlives
//! snapshots (the plugin engine, upstream health, metrics, the decision log, admission).
//!
//! It sits above the request path: `server/` and `reload/` use it; `route/` never does
//! (the routing core gets what it needs through its `Upstream` and `Observer`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{self, Config};
use crate::govern::Governance;
use crate::govern::credentials::{AdminAuth, ClientKeys};
use crate::plugin::{EngineError, PluginEngine};
use crate::provider::{HealthBook, HealthOptions};
use crate::reload::status::ReloadStatus;
use crate::route::snapshot::{Snapshot, SnapshotError};
use crate::telemetry::decision_log::OpenError;
use crate::telemetry::otlp::OtlpError;
use crate::telemetry::{DecisionLog, DecisionSink, Metrics, Telemetry};

/// Limits the server applies before a request reaches the pipeline.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    pub body_limit: usize,
    pub header_read_timeout: Duration,
    /// Time allowed to receive the whole body once headers are in.
    pub body_read_timeout: Duration,
    pub max_concurrent: usize,
    /// Requests that may wait for a slot before new ones are refused.
    pub max_queued: usize,
    /// Longest wait for a slot.
    pub queue_timeout: Duration,
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
    #[error(transparent)]
    Telemetry(#[from] OtlpError),
    #[error(transparent)]
    Governance(#[from] crate::govern::StartError),
}

/// Shared by every connection.
pub struct App {
    live: ArcSwap<Snapshot>,
    engine: Arc<PluginEngine>,
    health: HealthBook,
    metrics: Metrics,
    decisions: DecisionLog,
    telemetry: Telemetry,
    limits: ServerLimits,
    admission: Arc<Semaphore>,
    queued: AtomicUsize,
    /// Replaced on reload, so keys can be rotated without a restart.
    client_keys: ArcSwap<ClientKeys>,
    next_version: AtomicU64,
    reload_lock: tokio::sync::Mutex<()>,
    reload_status: std::sync::Mutex<ReloadStatus>,
    admin: AdminAuth,
    /// Keys, classes, budgets and limits over the shared state.
    governance: Arc<Governance>,
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
        let engine = PluginEngine::new(config.runtime.engine_settings(&config.base_dir))?;
        let limits = ServerLimits {
            body_limit: config.server.body_limit_bytes as usize,
            header_read_timeout: config.server.header_read_timeout(),
            body_read_timeout: config.server.header_read_timeout().max(Duration::from_secs(30)),
            max_concurrent: config.server.max_concurrent_requests as usize,
            max_queued: config.server.max_queued_requests as usize,
            queue_timeout: Duration::from_millis(config.server.queue_timeout_ms),
        };
        let health = HealthOptions {
            window: config.health.window as usize,
            failure_threshold: config.health.failure_threshold,
            open_for: Duration::from_millis(config.health.open_ms),
        };
        let client_keys = ClientKeys::from_config(&config);
        let decisions = DecisionLog::open(sink)?;
        let telemetry = Telemetry::start(&config.telemetry)?;
        let admin = AdminAuth::from_config(&config);
        let governance = Governance::start(&config).await?;
        let snapshot = Snapshot::build(config, &engine, 1).await?;
        Ok(Arc::new(App {
            live: ArcSwap::from_pointee(snapshot),
            engine,
            health: HealthBook::new(health),
            client_keys: ArcSwap::from_pointee(client_keys),
            queued: AtomicUsize::new(0),
            metrics: Metrics::new(),
            decisions,
            telemetry,
            admission: Arc::new(Semaphore::new(limits.max_concurrent)),
            limits,
            next_version: AtomicU64::new(2),
            reload_lock: tokio::sync::Mutex::new(()),
            reload_status: std::sync::Mutex::new(ReloadStatus::default()),
            admin,
            governance,
        }))
    }

    /// The snapshot new requests run on.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.live.load_full()
    }

    /// Makes `snapshot` the one new requests run on. Requests in flight keep theirs.
    /// Swaps `snapshot` in and returns the one it replaced (requests in flight may still hold
    /// it; it is freed when the last of them ends).
    pub fn publish(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        self.client_keys.store(Arc::new(ClientKeys::from_config(&snapshot.config)));
        self.governance.reconfigure(&snapshot.config);
        self.live.swap(Arc::new(snapshot))
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

    /// A slot for one request. When all are taken the request waits in a bounded queue for
    /// up to the queue timeout; `None` when the queue is full or the wait ran out.
    pub async fn admit(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = self.admission.clone().try_acquire_owned() {
            return Some(permit);
        }
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.limits.max_queued {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let waited = tokio::time::timeout(self.limits.queue_timeout, self.admission.clone().acquire_owned()).await;
        self.queued.fetch_sub(1, Ordering::AcqRel);
        waited.ok().and_then(Result::ok)
    }

    /// The client keys in force.
    pub fn governance(&self) -> &Arc<Governance> {
        &self.governance
    }

    pub fn client_keys(&self) -> Arc<ClientKeys> {
        self.client_keys.load_full()
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
    /// The live view (dashboard) and the trace exporter.
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }
    pub fn limits(&self) -> &ServerLimits {
        &self.limits
    }
}
