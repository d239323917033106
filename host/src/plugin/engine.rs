//! The one wasmtime engine every plugin runs on: component model, pooling allocator, epoch
//! interruption driven by a ticker thread, optional fuel.
//!
//! Why epochs and not fuel for deadlines: epoch checks cost a load and a compare at loop
//! heads and function entries, fuel costs a counter update per basic block (wasmtime's own
//! measurements put fuel at 2-3x the overhead). A deadline is a wall-time promise to the
//! request, so wall-time interruption is the right tool; fuel stays available for operators
//! who want deterministic step limits, at the price of metering every plugin.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Strategy};

use super::bindings;
use super::cache::{ArtifactCache, ModuleCache};
use super::compile::{Artifact, Compiler, WorkerCounters, WorkerLimits, WorkerReport};
use super::function_cache::{FunctionCache, FunctionCacheStats};
use super::store::HostState;
use super::tier::Tier;

/// Engine-wide settings; per-plugin limits live in [`super::Limits`]. Serializable because a
/// compile worker ([`super::compile`]) builds its engine from the same settings.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EngineSettings {
    /// How often the epoch advances; deadlines are enforced to within one tick. Default
    /// 5 ms: a 1 ms tick costs ~5% of proxy throughput on 2 cores in wake-ups alone.
    pub epoch_tick: Duration,
    /// Enable fuel metering (needed for any plugin's `fuel` limit).
    pub fuel: bool,
    /// Largest memory any plugin may be given; the size of a pooling-allocator memory slot.
    pub max_memory_bytes: u64,
    /// Component instances that may be alive at once across all plugins (warm pools
    /// included). Past it, a call fails fast instead of allocating without bound.
    pub max_instances: u32,
    /// Where compiled artifacts are kept between runs; `None` keeps them in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Tiered compilation: a version whose optimized code is in no cache goes live on code
    /// from wasmtime's baseline compiler (Winch, ~5x faster to compile than Cranelift), and
    /// the optimized build replaces it in the background once
    /// [`super::Plugin::start_tier_up`] is called. The proxy turns this on; one-shot tools
    /// (`plugin check`, `eval`) leave it off and wait for optimized code.
    pub tiered: bool,
    /// Compile large components in a short-lived worker process under these limits, when the
    /// running binary can be one ([`super::enable_compile_worker`]); `None` compiles every
    /// component in this process.
    pub compile_worker: Option<WorkerLimits>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            epoch_tick: Duration::from_millis(5),
            fuel: false,
            max_memory_bytes: 1 << 30,
            max_instances: 1000,
            cache_dir: None,
            tiered: false,
            compile_worker: Some(WorkerLimits::default()),
        }
    }
}

/// The engine's in-memory caches; code held by live plugin versions is counted here too
/// (a live version's component is the cached one).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CacheReport {
    /// Compiled components kept for reuse (every live version's, and those a reload may
    /// swap back to), and the bytes of their machine code.
    pub compiled_components: usize,
    pub compiled_component_bytes: u64,
    /// Core modules the baseline tier shares between components (language runtimes).
    pub shared_modules: usize,
    pub shared_module_bytes: u64,
    pub shared_modules_max: usize,
    /// Cranelift's incremental cache; `None` when tiering is off.
    pub function_cache: Option<FunctionCacheStats>,
    /// Compiles done in worker processes, and their limits.
    pub compile_worker: WorkerReport,
}

/// Errors building the engine.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the WebAssembly engine: {0}")]
pub struct EngineError(String);

/// One compiler's wasmtime engine and the linker of host imports built on it. Code from one
/// engine only runs in stores of the same engine, so each tier has its own.
pub(crate) struct Backend {
    pub engine: Engine,
    pub linker: Linker<HostState>,
    compiler: Compiler,
}

impl Backend {
    fn new(config: &Config, compiler: Compiler) -> Result<Self, EngineError> {
        let engine = Engine::new(config).map_err(|e| EngineError(format!("{e:?}")))?;
        let linker = host_linker(&engine).map_err(|e| EngineError(format!("{e:?}")))?;
        Ok(Backend { engine, linker, compiler })
    }

    /// Compiles `bytes` on this tier, in a worker process when it is large
    /// ([`super::compile`]); with `keep_at`, the artifact is kept in that cache file and
    /// mapped from it. Blocking.
    pub(crate) fn compile<T: Artifact>(&self, bytes: &[u8], keep_at: Option<&std::path::Path>) -> wasmtime::Result<T> {
        self.compiler.compile(&self.engine, bytes, keep_at)
    }
}

/// The baseline tier: its backend and the compiled core modules its components share
/// ([`super::split`]).
pub(crate) struct Baseline {
    pub backend: Backend,
    pub modules: ModuleCache,
}

/// The shared engines (optimized, and baseline when tiering), their linkers and the
/// compiled-artifact cache. Cheap to share behind an `Arc`; the epoch ticker stops when the
/// last handle is dropped.
pub struct PluginEngine {
    pub(crate) optimized: Backend,
    /// Winch, present when [`EngineSettings::tiered`] is on and this platform supports it.
    pub(crate) baseline: Option<Baseline>,
    pub(crate) cache: ArtifactCache,
    /// Cranelift's incremental cache, when tiering (see [`FunctionCache`]).
    functions: Option<Arc<FunctionCache>>,
    pub(crate) settings: EngineSettings,
    /// Held by the background build of optimized code ([`super::tier`]), one at a time.
    pub(crate) tier_ups: std::sync::Mutex<()>,
    ticker_stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl PluginEngine {
    /// Builds the engine and starts its epoch ticker.
    pub fn new(settings: EngineSettings) -> Result<Arc<Self>, EngineError> {
        let workers = Arc::new(WorkerCounters::default());
        let (config, functions) = tier_config(&settings, Tier::Optimized)?;
        let optimized = Backend::new(&config, Compiler::new(Tier::Optimized, &settings, workers.clone()))?;
        let baseline = if settings.tiered {
            let (config, _) = tier_config(&settings, Tier::Baseline)?;
            match Backend::new(&config, Compiler::new(Tier::Baseline, &settings, workers.clone())) {
                Ok(backend) => {
                    let modules = ModuleCache::new(&backend.engine, settings.cache_dir.clone());
                    Some(Baseline { backend, modules })
                }
                Err(error) => {
                    tracing::warn!("tiered compilation is off: the baseline compiler is unavailable here: {error}");
                    None
                }
            }
        } else {
            None
        };
        let cache = ArtifactCache::new(&optimized.engine, settings.cache_dir.clone());
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let engines = std::iter::once(&optimized)
            .chain(baseline.as_ref().map(|b| &b.backend))
            .map(|b| b.engine.clone())
            .collect();
        spawn_epoch_ticker(engines, settings.epoch_tick, ticker_stop.clone())
            .map_err(|e| EngineError(format!("cannot start the epoch ticker thread: {e}")))?;
        Ok(Arc::new(PluginEngine {
            optimized,
            baseline,
            cache,
            functions,
            settings,
            tier_ups: Default::default(),
            ticker_stop,
        }))
    }

    /// The engine and linker that run code of `tier`.
    pub(crate) fn backend(&self, tier: Tier) -> &Backend {
        match (tier, &self.baseline) {
            (Tier::Baseline, Some(baseline)) => &baseline.backend,
            _ => &self.optimized,
        }
    }

    /// The epoch ticks a call may run for `deadline`: one more than covers it, since the
    /// call may start just before a tick. A call is stopped between `deadline` and
    /// `deadline + epoch_tick` after it starts, never before.
    pub(crate) fn ticks_for(&self, deadline: Duration) -> u64 {
        let tick = self.settings.epoch_tick.as_nanos().max(1);
        (deadline.as_nanos().div_ceil(tick) as u64) + 1
    }

    /// Drops compiled components from the in-memory cache except those in `keep` (the ones a
    /// live snapshot uses), so memory does not grow with every reload.
    pub fn retain_compiled(&self, keep: &[super::ContentHash]) {
        self.cache.retain(keep);
    }

    /// What the engine's caches hold in memory now: the admin API's `/admin/memory` and the
    /// `switchyard_plugin_cache_bytes` metric.
    pub fn caches(&self) -> CacheReport {
        let (components, component_bytes) = self.cache.held();
        let (modules, module_bytes) = self.baseline.as_ref().map_or((0, 0), |b| b.modules.held());
        CacheReport {
            compiled_components: components,
            compiled_component_bytes: component_bytes,
            shared_modules: modules,
            shared_module_bytes: module_bytes,
            shared_modules_max: ModuleCache::MAX_IN_MEMORY,
            function_cache: self.functions.as_ref().map(|f| f.stats()),
            compile_worker: self.optimized.compiler.report(),
        }
    }

    /// The wasmtime engine that runs optimized code.
    pub fn wasmtime(&self) -> &Engine {
        &self.optimized.engine
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// The wasmtime config of one tier, and Cranelift's function cache when that tier keeps one.
/// The engine and its compile workers both build from this, so their artifacts carry the
/// same compatibility hash.
fn tier_config(settings: &EngineSettings, tier: Tier) -> Result<(Config, Option<Arc<FunctionCache>>), EngineError> {
    match tier {
        Tier::Baseline => Ok((baseline_config(settings), None)),
        Tier::Optimized => {
            let mut config = optimized_config(settings);
            if !settings.tiered {
                return Ok((config, None));
            }
            // Tier-ups recompile whole components whose functions are mostly unchanged (a new
            // version of a Python plugin carries the same CPython); reusing their machine code
            // cuts the background compile from ~5 s to ~1.5 s.
            let cache = Arc::new(FunctionCache::new(settings.cache_dir.clone()));
            config.enable_incremental_compilation(cache.clone()).map_err(|e| EngineError(format!("{e:?}")))?;
            Ok((config, Some(cache)))
        }
    }
}

/// A compile worker's engine for `tier`: the tier's config, allocating instances on demand.
/// A worker instantiates nothing, the pool's reservations would only count against its memory
/// limit, and the allocation strategy is not part of wasmtime's compatibility hash (tunables,
/// features and compiler flags are; `host/tests/compile_worker.rs` loads a worker's artifact
/// with no fallback).
pub(crate) fn worker_engine(settings: &EngineSettings, tier: Tier) -> Result<Engine, EngineError> {
    let (mut config, _functions) = tier_config(settings, tier)?;
    config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
    Engine::new(&config).map_err(|e| EngineError(format!("{e:?}")))
}

fn common_config(settings: &EngineSettings) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true).epoch_interruption(true).consume_fuel(settings.fuel).parallel_compilation(true);
    config
}

/// The baseline tier: Winch compiles in one pass without an optimizer (a componentize-py
/// component in ~0.8 s on 2 cores instead of ~5 s) and its code runs a few times slower. Its
/// instances live only until the optimized code takes over, so they are allocated on demand
/// rather than from a second pre-reserved pool; the memory cap is enforced by the store's
/// limiter either way.
fn baseline_config(settings: &EngineSettings) -> Config {
    let mut config = common_config(settings);
    // Winch still hands the entry trampolines of every function a table can reach (~5 700
    // in CPython) to Cranelift; optimizing those a few-instruction stubs is wasted work
    // (~8% of a baseline compile's CPU time).
    config.strategy(Strategy::Winch).cranelift_opt_level(OptLevel::None);
    config
}

fn optimized_config(settings: &EngineSettings) -> Config {
    let mut config = common_config(settings);
    config.strategy(Strategy::Cranelift).cranelift_opt_level(OptLevel::Speed);

    // The pooling allocator pre-reserves slots, so a fresh instance costs a few microseconds
    // of bookkeeping instead of mmap/munmap calls. The per-component limits are generous
    // because Python and JS runtimes bring many core instances, tables and functions.
    // Measured (see docs/plugins.md): a componentize-py 0.25 component has 14 core modules,
    // one memory starting at 12.4 MiB and tables of up to 5.7k elements; a componentize-js
    // 0.23 (StarlingMonkey) one has one 9 MiB memory and a 7.7k-element table. Both run in
    // under 16 MiB, so the default 64 MiB cap and these slots leave them room to grow.
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(settings.max_instances)
        .total_core_instances(settings.max_instances * 4)
        .total_memories(settings.max_instances)
        .total_tables(settings.max_instances * 4)
        .max_memory_size(settings.max_memory_bytes as usize)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .max_core_instances_per_component(64)
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(4 << 20)
        .table_elements(100_000);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

/// The imports every plugin may use: the host's `log` and a WASI that grants nothing.
fn host_linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    bindings::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)?;
    bindings::v010::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)?;
    Ok(linker)
}

/// Advances the engines' epochs every `tick` until `stop` is set. A plain thread, not a tokio
/// task: the ticker must keep running when every runtime worker is busy inside a plugin.
fn spawn_epoch_ticker(engines: Vec<Engine>, tick: Duration, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("switchyard-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                for engine in &engines {
                    engine.increment_epoch();
                }
            }
        })
        .map(drop)
}

impl PluginEngine {
    /// Compiles (or fetches from the cache) `bytes` and says which plugin world its exports
    /// fit, without linking or running it. Blocking.
    pub fn detect_kind(&self, bytes: &[u8]) -> Result<Option<super::PluginKind>, String> {
        let hash = super::ContentHash::of(bytes);
        let component = match &self.baseline {
            // A tiering engine looks with the fast compiler and caches nothing, so the load
            // that follows still goes through the baseline tier.
            Some(baseline) => baseline.backend.compile::<Component>(bytes, None).map(|c| (&baseline.backend, c)),
            None => self.cache.get_or_compile(&self.optimized, hash, bytes).map(|(c, _)| (&self.optimized, c)),
        };
        let (backend, component) = component.map_err(|e| format!("{e:#}"))?;
        Ok(super::world::detect_kind(&backend.engine, &component))
    }
}
