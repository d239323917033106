//! The snapshot: one immutable view of config + compiled plugins + upstream clients that a
//! request runs against from start to end. A reload builds a new one off the request path
//! and publishes it with one atomic swap; requests in flight keep the one they started on.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::slots::{ClassifierSlot, GateSlot, PolicySlot};
use crate::config::{self, Config, FailMode, ModelConfig, OnReject};
use crate::plugin::{
    self, ContentHash, InstanceStrategy, Limits, LoadError, ModelInfo, Plugin, PluginEngine, PluginSpec,
    QuarantinePolicy,
};
use crate::provider::{HealthBook, Provider, Providers, SetupError};
use crate::telemetry::live::cascade::{Catalog, ModelFacts};

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

/// A route alias with its plugins resolved.
#[derive(Debug, Clone)]
pub struct Route {
    pub alias: String,
    pub classifiers: Vec<ClassifierSlot>,
    pub policy: Option<PolicySlot>,
    pub gates: Vec<GateSlot>,
    pub default_plan: Vec<String>,
    pub on_reject: OnReject,
    pub deadline: Duration,
    /// The models this route may plan, in model-table order (tier, then price, then id).
    pub models: Vec<String>,
}

impl Route {
    /// Whether a plan of this route may name `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.models.iter().any(|m| m == model)
    }

    /// Every plugin name on the route, in slot order.
    pub fn plugin_names(&self) -> Vec<&str> {
        let classifiers = self.classifiers.iter().map(|s| s.plugin.name());
        let policy = self.policy.iter().map(|s| s.plugin.name());
        classifiers.chain(policy).chain(self.gates.iter().map(|s| s.plugin.name())).collect()
    }

    /// This route with every slot holding plugin `name` given `plugin` instead (a sweep's
    /// re-configured copy).
    pub fn with_plugin(&self, name: &str, plugin: &Arc<Plugin>) -> Route {
        let mut route = self.clone();
        for slot in route.classifiers.iter_mut().filter(|s| s.plugin.name() == name) {
            slot.plugin = plugin.clone();
        }
        for slot in route.policy.iter_mut().filter(|s| s.plugin.name() == name) {
            slot.plugin = plugin.clone();
        }
        for slot in route.gates.iter_mut().filter(|s| s.plugin.name() == name) {
            slot.plugin = plugin.clone();
        }
        route
    }
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

/// The load spec of `[plugins.NAME]`.
pub fn plugin_spec(name: &str, cfg: &config::PluginConfig) -> PluginSpec {
    PluginSpec {
        name: name.to_string(),
        kind: cfg.kind,
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
        Self::build_with(config, engine, version, previous, None).await
    }

    /// The one snapshot loader, used by `serve` (through [`Snapshot::build_from`]) and
    /// `eval`. `min_deadline` stretches every plugin's call deadline to at least that long:
    /// eval's replay must not depend on how busy the machine is (see
    /// `eval::plugin_spec_for_eval`).
    pub async fn build_with(
        config: Config,
        engine: &Arc<PluginEngine>,
        version: u64,
        previous: Option<&Snapshot>,
        min_deadline: Option<Duration>,
    ) -> Result<(Snapshot, Vec<NamedChange>), SnapshotError> {
        // Registry packages are fetched, verified and pointed at their cached component.
        let config = crate::package::resolve(config, previous.map(|p| p.config.as_ref())).await?;
        let mut plugins = BTreeMap::new();
        let mut changes = Vec::new();
        for (name, cfg) in &config.plugins {
            let mut spec = plugin_spec(name, cfg);
            if let Some(min) = min_deadline {
                spec.limits.deadline = spec.limits.deadline.max(min);
            }
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
            (ma.tier, ma.price_sum(), a).partial_cmp(&(mb.tier, mb.price_sum(), b)).unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut routes = HashMap::new();
        for (alias, cfg) in &config.routes {
            let route = assemble_route(alias, cfg, &config, &plugins, &model_order)?;
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

    /// The model table a route's policy sees: the route's models (every model for `None`),
    /// with live health.
    pub fn model_table(&self, health: &HealthBook, route: Option<&Route>) -> Vec<ModelInfo> {
        let ids: &[String] = route.map_or(&self.model_order, |r| &r.models);
        ids.iter().filter_map(|id| self.models.get(id)).map(|entry| model_info(entry, health)).collect()
    }
}

/// One model as a policy sees it. An unpriced model shows prices of 0 and the tag
/// `unpriced`, so a policy can tell it from a free one.
pub fn model_info(entry: &ModelEntry, health: &HealthBook) -> ModelInfo {
    let live = health.snapshot(&entry.id);
    let prices = entry.config.prices();
    let mut tags = entry.config.tags.clone();
    if prices.is_none() {
        tags.push("unpriced".to_string());
    }
    ModelInfo {
        id: entry.id.clone(),
        tier: entry.config.tier,
        input_price: prices.map_or(0.0, |p| p.input),
        output_price: prices.map_or(0.0, |p| p.output),
        context_window: entry.config.context_window,
        tags,
        healthy: live.healthy,
        p50_ms: live.p50_ms,
        error_rate: live.error_rate,
    }
}

/// Resolves one route's plugin names into typed slots.
fn assemble_route(
    alias: &str,
    cfg: &config::RouteConfig,
    config: &Config,
    plugins: &BTreeMap<String, Arc<Plugin>>,
    model_order: &[String],
) -> Result<Route, SnapshotError> {
    let lookup = |name: &str| -> Result<(Arc<Plugin>, FailMode), SnapshotError> {
        let plugin = plugins
            .get(name)
            .ok_or_else(|| SnapshotError::Inconsistent(format!("route `{alias}`: unknown plugin `{name}`")))?
            .clone();
        let mode = config.plugins[name]
            .fail_mode()
            .map_err(|why| SnapshotError::Inconsistent(format!("plugin `{name}`: fail_mode: {why}")))?;
        Ok((plugin, mode))
    };
    let wrong = |name: &str, slot: &str| {
        SnapshotError::Inconsistent(format!("route `{alias}`: plugin `{name}` is not a {slot}"))
    };
    let mut classifiers = Vec::new();
    for name in &cfg.classifiers {
        match lookup(name)? {
            (plugin, FailMode::Classifier(on_failure)) => classifiers.push(ClassifierSlot { plugin, on_failure }),
            (_, FailMode::Policy(_) | FailMode::Gate(_)) => return Err(wrong(name, "classifier")),
        }
    }
    let policy = match cfg.policy.as_deref() {
        None => None,
        Some(name) => match lookup(name)? {
            (plugin, FailMode::Policy(on_failure)) => Some(PolicySlot { plugin, on_failure }),
            (_, FailMode::Classifier(_) | FailMode::Gate(_)) => return Err(wrong(name, "policy")),
        },
    };
    let mut gates = Vec::new();
    for name in &cfg.gates {
        match lookup(name)? {
            (plugin, FailMode::Gate(on_failure)) => gates.push(GateSlot { plugin, on_failure }),
            (_, FailMode::Classifier(_) | FailMode::Policy(_)) => return Err(wrong(name, "gate")),
        }
    }
    let models = match &cfg.models {
        None => model_order.to_vec(),
        Some(allowed) => model_order.iter().filter(|id| allowed.contains(id)).cloned().collect(),
    };
    Ok(Route {
        alias: alias.to_string(),
        classifiers,
        policy,
        gates,
        default_plan: cfg.default_plan.clone(),
        on_reject: cfg.on_reject,
        deadline: config.request_deadline(alias),
        models,
    })
}

/// The live dashboard's cascade tally reads tiers, prices and default plans from the snapshot.
impl Catalog for Snapshot {
    fn model(&self, id: &str) -> Option<ModelFacts> {
        self.models
            .get(id)
            .map(|m| ModelFacts { tier: m.config.tier, prices: m.config.prices().map(|p| (p.input, p.output)) })
    }

    fn route_models(&self, route: &str) -> &[String] {
        self.routes.get(route).map(|r| r.default_plan.as_slice()).unwrap_or_default()
    }
}
