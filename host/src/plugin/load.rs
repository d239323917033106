//! Loading a plugin version: read, hash, compile (or hit the cache), check the world, link,
//! pre-instantiate, and pass a self-test before it may serve.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use wasmtime::Module;
use wasmtime::component::Component;

use super::PluginKind;
use super::cache::{CacheOutcome, ContentHash};
use super::engine::{Baseline, PluginEngine};
use super::error::CallError;
use super::instance::{InstanceStrategy, WorldPre};
use super::limits::Limits;
use super::loaded::{LoadReport, Plugin, SharedModules};
use super::quarantine::{Quarantine, QuarantinePolicy};
use super::samples;
use super::tier::{Code, Tier, TierUpState};
use super::world;

/// Everything needed to load one plugin, as the configuration describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSpec {
    /// The plugin's name in the configuration; tags its logs, metrics and errors.
    pub name: String,
    pub kind: PluginKind,
    pub path: PathBuf,
    /// The plugin's configuration, handed to its `init` as JSON.
    pub config: serde_json::Value,
    pub limits: Limits,
    pub strategy: InstanceStrategy,
    /// Idle warm instances kept per plugin version.
    pub pool_size: usize,
    pub quarantine: QuarantinePolicy,
}

impl PluginSpec {
    /// A spec with default limits, warm instances and an empty configuration.
    pub fn new(name: impl Into<String>, kind: PluginKind, path: impl Into<PathBuf>) -> Self {
        PluginSpec {
            name: name.into(),
            kind,
            path: path.into(),
            config: serde_json::Value::Object(Default::default()),
            limits: Limits::default(),
            strategy: InstanceStrategy::Warm,
            pool_size: 16,
            quarantine: QuarantinePolicy::default(),
        }
    }
}

/// Why a plugin version could not be loaded. The previous version (if any) keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("plugin `{name}`: cannot read {}: {source}", path.display())]
    Read { name: String, path: PathBuf, source: std::io::Error },
    #[error("plugin `{name}`: {} is not a valid WebAssembly component: {detail}", path.display())]
    Compile { name: String, path: PathBuf, detail: String },
    #[error("plugin `{name}`: {}: {detail}", path.display())]
    World { name: String, path: PathBuf, detail: String },
    #[error("plugin `{name}`: {} does not link against the `{kind}` world: {detail}", path.display())]
    Link { name: String, path: PathBuf, kind: PluginKind, detail: String },
    #[error("plugin `{name}`: its configuration is not valid JSON: {detail}")]
    Config { name: String, detail: String },
    #[error("plugin `{name}` failed its self-test: {source}")]
    SelfTest { name: String, source: CallError },
    #[error("plugin `{name}`: the loader task failed: {detail}")]
    Task { name: String, detail: String },
    /// A registry package was refused before anything of it was compiled (`crate::package`):
    /// `reason` is a short label for metrics (`unsigned`, `untrusted_key`, `rollback`, …).
    #[error("plugin `{name}`: package refused ({reason}): {detail}")]
    Package { name: String, reason: &'static str, detail: String },
}

/// Loads a plugin without blocking the async runtime: the file is read asynchronously,
/// compilation runs on a blocking thread, and the self-test is an ordinary async call.
pub async fn load(engine: Arc<PluginEngine>, spec: PluginSpec) -> Result<Arc<Plugin>, LoadError> {
    let started = Instant::now();
    let bytes = tokio::fs::read(&spec.path).await.map_err(|source| LoadError::Read {
        name: spec.name.clone(),
        path: spec.path.clone(),
        source,
    })?;
    load_bytes(&engine, spec, bytes, started).await.map(Arc::new)
}

/// Loads a plugin from code that is not async (see [`super::blocking`]).
pub fn load_blocking(engine: &Arc<PluginEngine>, spec: PluginSpec) -> Result<Plugin, LoadError> {
    let started = Instant::now();
    let bytes = std::fs::read(&spec.path).map_err(|source| LoadError::Read {
        name: spec.name.clone(),
        path: spec.path.clone(),
        source,
    })?;
    super::blocking::run(load_bytes(engine, spec, bytes, started))
}

/// Loads a plugin version from bytes already read from `spec.path`.
pub async fn load_bytes(
    engine: &Arc<PluginEngine>,
    spec: PluginSpec,
    bytes: Vec<u8>,
    started: Instant,
) -> Result<Plugin, LoadError> {
    let hash = ContentHash::of(&bytes);
    load_hashed(engine, spec, bytes, hash, started).await
}

/// [`load_bytes`] for a caller that has hashed the bytes already (hashing an 18 MB Python
/// component takes ~12 ms; a reload should not do it twice).
pub async fn load_hashed(
    engine: &Arc<PluginEngine>,
    spec: PluginSpec,
    bytes: Vec<u8>,
    hash: ContentHash,
    started: Instant,
) -> Result<Plugin, LoadError> {
    let kept_spec = spec.clone();
    let PluginSpec { name, kind, path, config, limits, strategy, pool_size, quarantine } = spec;
    let config_json =
        serde_json::to_string(&config).map_err(|e| LoadError::Config { name: name.clone(), detail: e.to_string() })?;
    let read = started.elapsed();

    let compile_started = Instant::now();
    let compiler = engine.clone();
    let Compiled { component, cache, tier, shared, shared_counts, tier_up_source } =
        tokio::task::spawn_blocking(move || {
            let compiled = compile(&compiler, hash, bytes);
            if compiled.as_ref().is_ok_and(|c| c.cache == CacheOutcome::Compiled) {
                super::scratch::release();
            }
            compiled
        })
        .await
        .map_err(|e| LoadError::Task { name: name.clone(), detail: e.to_string() })?
        .map_err(|e| LoadError::Compile {
            name: name.clone(),
            path: path.clone(),
            detail: format!("{e:#}"),
        })?;
    let compile = compile_started.elapsed();

    let link_started = Instant::now();
    let supplied: Vec<String> = shared.iter().map(|(name, _)| name.clone()).collect();
    let contract = world::check(&engine.backend(tier).engine, &component, kind, &supplied)
        .map_err(|detail| LoadError::World { name: name.clone(), path: path.clone(), detail })?;
    let mut linked = WorldPre::new(engine, tier, &component, kind, contract, &shared);
    if linked.is_err()
        && !shared.is_empty()
        && let Some(bytes) = tier_up_source.as_ref()
    {
        // The split form did not link (a module type the rewrite described wrongly would do
        // that): link the component as written instead, so the error, if any, is about it.
        tracing::debug!(plugin = %name, "linking the component whole: its split form did not link");
        let (compiler, bytes) = (engine.clone(), bytes.clone());
        linked = tokio::task::spawn_blocking(move || compiler.backend(tier).compile::<Component>(&bytes, None))
            .await
            .map_err(|e| LoadError::Task { name: name.clone(), detail: e.to_string() })?
            .and_then(|whole| WorldPre::new(engine, tier, &whole, kind, contract, &[]));
    }
    let pre = linked.map_err(|e| LoadError::Link {
        name: name.clone(),
        path: path.clone(),
        kind,
        detail: format!("{e:#}"),
    })?;
    let link = link_started.elapsed();
    let code = Code::new(tier, pre, pool_size);

    let plugin = Plugin {
        spec: kept_spec,
        name: name.as_str().into(),
        kind,
        path,
        hash,
        limits,
        strategy,
        config_json,
        report: LoadReport {
            cache,
            tier,
            shared_modules: shared_counts,
            read,
            compile,
            link,
            self_test: Default::default(),
        },
        engine: engine.clone(),
        code: ArcSwap::new(code.clone()),
        tier_up: TierUpState::new(tier_up_source),
        quarantine: Quarantine::new(quarantine),
    };
    let mut plugin = plugin;
    let mut code = code;
    let test_started = Instant::now();
    let mut outcome = self_test(&plugin, &code).await;
    if tier == Tier::Baseline && matches!(outcome, Err(CallError::Deadline { .. })) {
        // Baseline code runs a few times slower; a plugin tuned close to its deadline may only
        // meet it on optimized code. Serve this version on that from the start instead.
        tracing::info!(plugin = %name, "baseline code missed the self-test deadline; compiling optimized code first");
        code = super::tier::optimize_now(&plugin).await.map_err(|detail| LoadError::Compile {
            name: name.clone(),
            path: plugin.path.clone(),
            detail,
        })?;
        plugin.report.tier = Tier::Optimized;
        // The baseline's missed deadlines are not this code's failures.
        plugin.quarantine = Quarantine::new(plugin.spec.quarantine.clone());
        outcome = self_test(&plugin, &code).await;
    }
    outcome.map_err(|source| LoadError::SelfTest { name: name.clone(), source })?;
    plugin.report.self_test = test_started.elapsed();
    prewarm(&plugin, &code).await;
    Ok(plugin)
}

/// Compiled core modules a split component imports, by import name ([`super::split`]).
type SuppliedModules = Vec<(String, Module)>;

/// What [`compile`] produced.
struct Compiled {
    component: Component,
    cache: CacheOutcome,
    tier: Tier,
    /// Core modules split out of the component, by import name ([`super::split`]).
    shared: SuppliedModules,
    shared_counts: SharedModules,
    /// The original bytes, kept for the tier-up of baseline code.
    tier_up_source: Option<Vec<u8>>,
}

/// Compiled code for `bytes`: optimized code from a cache, else baseline code when the engine
/// tiers, else optimized code compiled now. Blocking.
fn compile(engine: &PluginEngine, hash: ContentHash, bytes: Vec<u8>) -> wasmtime::Result<Compiled> {
    let optimized = |component, cache| Compiled {
        component,
        cache,
        tier: Tier::Optimized,
        shared: vec![],
        shared_counts: SharedModules::default(),
        tier_up_source: None,
    };
    let Some(baseline) = &engine.baseline else {
        let (component, cache) = engine.cache.get_or_compile(&engine.optimized, hash, &bytes)?;
        return Ok(optimized(component, cache));
    };
    if let Some((component, cache)) = engine.cache.get(&engine.optimized.engine, hash) {
        return Ok(optimized(component, cache));
    }
    let (component, shared, shared_counts) = compile_baseline(baseline, &bytes)?;
    Ok(Compiled {
        component,
        cache: CacheOutcome::Compiled,
        tier: Tier::Baseline,
        shared,
        shared_counts,
        tier_up_source: Some(bytes),
    })
}

/// Baseline code for `bytes`, its heavy core modules shared with earlier versions when the
/// component can be split ([`super::split`]); compiled whole otherwise, or when the split
/// version does not compile (so errors always describe the component as written).
fn compile_baseline(
    baseline: &Baseline,
    bytes: &[u8],
) -> wasmtime::Result<(Component, SuppliedModules, SharedModules)> {
    if let Some(split) = super::split::split(bytes) {
        let mut counts = SharedModules::default();
        let shared = split
            .modules
            .iter()
            .map(|m| {
                let (module, compiled) = baseline.modules.get_or_compile(&baseline.backend, m.hash, &m.bytes)?;
                if compiled {
                    counts.compiled += 1;
                } else {
                    counts.reused += 1;
                }
                Ok((m.import_name.clone(), module))
            })
            .collect::<wasmtime::Result<Vec<_>>>();
        match shared
            .and_then(|shared| baseline.backend.compile::<Component>(&split.component, None).map(|c| (c, shared)))
        {
            Ok((component, shared)) => return Ok((component, shared, counts)),
            Err(error) => tracing::debug!("compiling the component whole: its split form failed: {error:#}"),
        }
    }
    Ok((baseline.backend.compile::<Component>(bytes, None)?, Vec::new(), SharedModules::default()))
}

/// Fills the warm pool at load, off the request path, so that no request pays for an
/// instantiation: ~20-40 µs for a Rust guest, but ~0.5 ms for a JS one and ~1-2 ms for Python
/// (CPython's heap is copied in), which under load can eat a 10 ms deadline. The proxy calls
/// plugins on its runtime's worker threads, one per core, so that many instances cover every
/// call that can run at once (capped by the pool size). Best effort: a failure here is
/// logged and the pool fills on demand as before.
pub(crate) async fn prewarm(plugin: &Plugin, code: &Code) {
    if plugin.strategy != InstanceStrategy::Warm {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let want = code.pool.capacity().min(cores);
    while code.pool.idle() < want {
        match plugin.new_instance(code).await {
            Ok(instance) => code.pool.give_back(instance),
            Err(error) => {
                tracing::debug!(plugin = %plugin.name, "pre-warming stopped: {error}");
                break;
            }
        }
    }
}

/// Instantiates the plugin (running `init` with its configuration) and calls it once on a
/// sample request. A guest `err(...)` result is a legitimate answer and passes; a trap, a
/// limit, a refused configuration or a malformed result fails.
pub(crate) async fn self_test(plugin: &Plugin, code: &Arc<Code>) -> Result<(), CallError> {
    // Deadlines are wall time: a machine busy compiling or serving can starve one call. A
    // plugin that is really too slow misses all three tries.
    let mut outcome = self_test_once(plugin, code).await;
    for _ in 0..2 {
        if !matches!(outcome, Err(CallError::Deadline { .. })) {
            break;
        }
        outcome = self_test_once(plugin, code).await;
    }
    outcome
}

async fn self_test_once(plugin: &Plugin, code: &Arc<Code>) -> Result<(), CallError> {
    let request = &samples::requests()[0];
    let outcome = match plugin.kind {
        PluginKind::Classifier => plugin.classify_on(code, request).await.map(drop),
        PluginKind::Policy => plugin.route_on(code, request, &samples::signals(), &samples::models()).await.map(drop),
        PluginKind::Gate => plugin.check_on(code, request, &samples::candidate(request)).await.map(drop),
    };
    match outcome {
        Ok(()) | Err(CallError::Guest { .. }) => Ok(()),
        Err(error) => Err(error),
    }
}
