//! The snapshot: one immutable view of config + compiled plugins + upstream clients that a
//! request runs against from start to end. A reload builds a new one off the request path
//! and publishes it with one atomic swap; requests in flight keep the one they started on.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{self, Config, FailMode, ModelConfig, OnReject};
use crate::plugin::{
    self, ContentHash, InstanceStrategy, Limits, LoadError, ModelInfo, Plugin, PluginEngine, PluginKind, PluginSpec,
    QuarantinePolicy,
};
use crate::provider::{HealthBook, Provider, Providers, SetupError};

/// A model a request may be sent to, with the client that reaches it.
#[derive(Debug)]
pub struct ModelEntry {
    pub id: String,
    pub config: ModelConfig,
    pub provider: Arc<Provider>,
}

impl ModelEntry {
    pub fn upstream_name(&self) -> &str {
        self.config.upstream_name()
    }
}

/// A plugin in a route slot, with what to do when it fails.
#[derive(Debug, Clone)]
pub struct Slot {
    pub plugin: Arc<Plugin>,
    pub fail_mode: FailMode,
}

/// A route alias with its plugins resolved.
#[derive(Debug)]
pub struct Route {
    pub alias: String,
    pub classifiers: Vec<Slot>,
    pub policy: Option<Slot>,
    pub gates: Vec<Slot>,
    pub default_plan: Vec<String>,
    pub on_reject: OnReject,
    pub deadline: Duration,
}

/// Everything one request needs, immutable.
#[derive(Debug)]
pub struct Snapshot {
    /// Increases by one with every successful reload; named in every decision record.
    pub version: u64,
    pub loaded_at: SystemTime,
    pub config: Arc<Config>,
    pub plugins: BTreeMap<String, Arc<Plugin>>,
    pub routes: HashMap<String, Arc<Route>>,
    pub models: HashMap<String, Arc<ModelEntry>>,
    /// Model ids in a stable order (tier, then price, then id), for the model table.
    pub model_order: Vec<String>,
}

/// What a reload did with one plugin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NamedChange {
    pub plugin: String,
    pub change: PluginChange,
}

/// Whether a plugin was carried over, replaced by a new version, or new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginChange {
    Kept,
    Replaced,
    Added,
}

impl PluginChange {
    fn named(self, plugin: &str) -> NamedChange {
        NamedChange { plugin: plugin.to_string(), change: self }
    }
}

/// Why a snapshot could not be built. The previous snapshot keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Plugin(#[from] LoadError),
    #[error(transparent)]
    Provider(#[from] SetupError),
    #[error("{0}")]
    Inconsistent(String),
}

fn plugin_kind(kind: config::PluginKind) -> PluginKind {
    match kind {
        config::PluginKind::Classifier => PluginKind::Classifier,
        config::PluginKind::Policy => PluginKind::Policy,
        config::PluginKind::Gate => PluginKind::Gate,
    }
}

/// The load spec of `[plugins.NAME]`.
pub fn plugin_spec(name: &str, cfg: &config::PluginConfig) -> PluginSpec {
    PluginSpec {
        name: name.to_string(),
        kind: plugin_kind(cfg.kind),
        path: cfg.resolved_path.clone(),
        config: cfg.config_value(),
        limits: Limits { deadline: cfg.deadline(), memory_bytes: cfg.memory_mb << 20, fuel: cfg.fuel },
        strategy: match cfg.instance {
            config::InstanceMode::Warm => InstanceStrategy::Warm,
            config::InstanceMode::Fresh => InstanceStrategy::Fresh,
        },
        pool_size: cfg.pool_size as usize,
        quarantine: QuarantinePolicy { after_failures: cfg.quarantine_after, retry_after: cfg.quarantine_retry() },
    }
}

impl Snapshot {
    /// Loads every plugin (compiling off the async runtime, reusing compiled code for bytes
    /// seen before) and resolves routes and models.
    pub async fn build(config: Config, engine: &Arc<PluginEngine>, version: u64) -> Result<Snapshot, SnapshotError> {
        Self::build_from(config, engine, version, None).await.map(|(snapshot, _)| snapshot)
    }

    /// Like [`Snapshot::build`], carrying over from `previous` every plugin whose bytes and
    /// settings are unchanged: the same loaded version, warm instances included. Only the
    /// plugins that changed are loaded (and compiled, unless their bytes were seen before).
    pub async fn build_from(
        config: Config,
        engine: &Arc<PluginEngine>,
        version: u64,
        previous: Option<&Snapshot>,
    ) -> Result<(Snapshot, Vec<NamedChange>), SnapshotError> {
        let mut plugins = BTreeMap::new();
        let mut changes = Vec::new();
        for (name, cfg) in &config.plugins {
            let spec = plugin_spec(name, cfg);
            let started = Instant::now();
            let bytes = tokio::fs::read(&spec.path).await.map_err(|source| LoadError::Read {
                name: name.clone(),
                path: spec.path.clone(),
                source,
            })?;
            let hash = ContentHash::of(&bytes);
            let kept =
                previous.and_then(|p| p.plugins.get(name)).filter(|old| old.hash() == hash && *old.spec() == spec);
            let (loaded, change) = match kept {
                Some(old) => (old.clone(), PluginChange::Kept),
                None => {
                    let loaded = Arc::new(plugin::load_hashed(engine, spec, bytes, hash, started).await?);
                    // A version that went live on baseline code gets its optimized code in
                    // the background, whether or not this snapshot ends up published: its
                    // artifact then lands in the cache for the next attempt.
                    loaded.start_tier_up();
                    let change = if previous.is_some_and(|p| p.plugins.contains_key(name)) {
                        PluginChange::Replaced
                    } else {
                        PluginChange::Added
                    };
                    (loaded, change)
                }
            };
            changes.push(change.named(name));
            plugins.insert(name.clone(), loaded);
        }
        let snapshot = Self::assemble(config, plugins, version)?;
        Ok((snapshot, changes))
    }

    /// Resolves routes and models around already-loaded plugins.
    pub fn assemble(
        config: Config,
        plugins: BTreeMap<String, Arc<Plugin>>,
        version: u64,
    ) -> Result<Snapshot, SnapshotError> {
        let providers = Providers::from_config(&config)?;
        let mut models = HashMap::new();
        for (id, cfg) in &config.models {
            let provider = providers
                .get(&cfg.provider)
                .ok_or_else(|| {
                    SnapshotError::Inconsistent(format!("model `{id}`: unknown provider `{}`", cfg.provider))
                })?
                .clone();
            models.insert(id.clone(), Arc::new(ModelEntry { id: id.clone(), config: cfg.clone(), provider }));
        }
        let mut model_order: Vec<String> = models.keys().cloned().collect();
        model_order.sort_by(|a, b| {
            let (ma, mb) = (&models[a].config, &models[b].config);
            (ma.tier, ma.input_price + ma.output_price, a)
                .partial_cmp(&(mb.tier, mb.input_price + mb.output_price, b))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let slot = |name: &str| -> Result<Slot, SnapshotError> {
            let plugin = plugins
                .get(name)
                .ok_or_else(|| SnapshotError::Inconsistent(format!("unknown plugin `{name}`")))?
                .clone();
            let fail_mode = config.plugins[name].effective_fail_mode();
            Ok(Slot { plugin, fail_mode })
        };
        let mut routes = HashMap::new();
        for (alias, cfg) in &config.routes {
            let route = Route {
                alias: alias.clone(),
                classifiers: cfg.classifiers.iter().map(|n| slot(n)).collect::<Result<_, _>>()?,
                policy: cfg.policy.as_deref().map(slot).transpose()?,
                gates: cfg.gates.iter().map(|n| slot(n)).collect::<Result<_, _>>()?,
                default_plan: cfg.default_plan.clone(),
                on_reject: cfg.on_reject,
                deadline: config.request_deadline(alias),
            };
            routes.insert(alias.clone(), Arc::new(route));
        }
        Ok(Snapshot {
            version,
            loaded_at: SystemTime::now(),
            config: Arc::new(config),
            plugins,
            routes,
            models,
            model_order,
        })
    }

    /// The model table a policy sees, with live health.
    pub fn model_table(&self, health: &HealthBook) -> Vec<ModelInfo> {
        self.model_order
            .iter()
            .map(|id| {
                let entry = &self.models[id];
                let live = health.snapshot(id);
                ModelInfo {
                    id: id.clone(),
                    tier: entry.config.tier,
                    input_price: entry.config.input_price,
                    output_price: entry.config.output_price,
                    context_window: entry.config.context_window,
                    tags: entry.config.tags.clone(),
                    healthy: live.healthy,
                    p50_ms: live.p50_ms,
                    error_rate: live.error_rate,
                }
            })
            .collect()
    }
}
