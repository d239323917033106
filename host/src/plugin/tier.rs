//! Tiered compilation: a new plugin version goes live on baseline code and is swapped to
//! optimized code in the background.
//!
//! Why: Cranelift needs ~5 s on 2 cores (more on a busy machine) for a Python or JS
//! component, whose bulk is the language runtime. Winch, wasmtime's single-pass baseline
//! compiler, needs ~0.8 s for the same component and ~20 ms for a Rust one. Its code is
//! slower, so it only serves until the optimized build is ready:
//!
//! 1. [`super::load_bytes`] finds no optimized code in the caches, compiles with Winch, links,
//!    self-tests and returns a plugin whose [`Code`] is [`Tier::Baseline`].
//! 2. [`Plugin::start_tier_up`] compiles with Cranelift on a background thread (writing the
//!    artifact caches, so the next load of these bytes is a cache hit), links, self-tests and
//!    pre-warms the optimized code, then swaps it in with one atomic store. Calls in flight
//!    finish on the instance they hold; their instances return to the old code's pool, which
//!    is dropped with the last of them.
//!
//! The version (its bytes, config and snapshot) does not change, only its machine code, so
//! no snapshot is republished. A tier-up that fails leaves the baseline code serving and says
//! why in the admin API.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::PluginKind;
use super::cache::ContentHash;
use super::engine::PluginEngine;
use super::instance::{WarmPool, WorldPre};
use super::loaded::Plugin;

/// Which compiler produced the code a plugin version is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Winch: fast to compile, slower to run; serves while the optimized code is built.
    Baseline,
    /// Cranelift with optimizations.
    Optimized,
}

/// The machine code of one plugin version in one tier, and the warm instances made from it.
pub(crate) struct Code {
    pub tier: Tier,
    pub pre: WorldPre,
    pub pool: WarmPool,
}

impl Code {
    pub fn new(tier: Tier, pre: WorldPre, pool_size: usize) -> Arc<Self> {
        Arc::new(Code { tier, pre, pool: WarmPool::new(pool_size) })
    }
}

/// Where a plugin version is on its way to optimized code; shown by the admin API.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TierUp {
    /// Loaded straight onto optimized code (a cache hit, or tiering is off).
    NotNeeded,
    /// Serving baseline code; the optimized build is waiting to start or running.
    Pending,
    /// Optimized code took over this long after the baseline went live.
    Done { after_ms: f64, compile_ms: f64 },
    /// The optimized build failed; the baseline code keeps serving.
    Failed { error: String },
}

/// What a baseline version keeps for its tier-up.
pub(crate) struct TierUpState {
    /// The component's bytes, until the background build takes them.
    pub source: Option<Vec<u8>>,
    pub status: TierUp,
    /// When the baseline code went live.
    pub since: Instant,
}

impl TierUpState {
    pub fn new(source: Option<Vec<u8>>) -> Mutex<Self> {
        let status = if source.is_some() { TierUp::Pending } else { TierUp::NotNeeded };
        Mutex::new(TierUpState { source, status, since: Instant::now() })
    }
}

impl Plugin {
    /// The tier of the code serving calls now.
    pub fn tier(&self) -> Tier {
        self.code.load().tier
    }

    /// Where this version is on its way to optimized code.
    pub fn tier_up_status(&self) -> TierUp {
        self.tier_up_state().status.clone()
    }

    /// Starts building optimized code for a version serving baseline code, on a background
    /// thread; does nothing for a version already optimized or already tiering up. The
    /// thread holds the plugin weakly: a version replaced before its build ends is not
    /// swapped, though its compiled artifact still lands in the caches.
    pub fn start_tier_up(self: &Arc<Self>) {
        let Some(source) = self.tier_up_state().source.take() else {
            return;
        };
        let plugin = Arc::downgrade(self);
        let spawned =
            std::thread::Builder::new().name("switchyard-tier-up".into()).spawn(move || tier_up(plugin, source));
        if let Err(error) = spawned {
            self.tier_up_state().status = TierUp::Failed { error: format!("cannot start the tier-up thread: {error}") };
        }
    }

    /// Blocks until this version's tier-up has finished (or `timeout` passes) and says where
    /// it ended. For tests and tools.
    pub fn wait_for_tier_up(&self, timeout: Duration) -> TierUp {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.tier_up_status();
            if status != TierUp::Pending || Instant::now() >= deadline {
                return status;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn tier_up_state(&self) -> std::sync::MutexGuard<'_, TierUpState> {
        // Every update is a single field store; a poisoned lock holds consistent state.
        self.tier_up.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Compiles optimized code for a version loaded on baseline code, now, and makes it the
/// version's code (the load path uses this when baseline code misses the self-test deadline).
pub(crate) async fn optimize_now(plugin: &Plugin) -> Result<Arc<Code>, String> {
    let source = plugin.tier_up_state().source.take().ok_or("the component's bytes are gone")?;
    let (engine, hash, kind, pool_size) = (plugin.engine.clone(), plugin.hash, plugin.kind, plugin.spec.pool_size);
    let code = tokio::task::spawn_blocking(move || build_optimized(&engine, hash, kind, pool_size, &source))
        .await
        .map_err(|e| format!("the compiler task failed: {e}"))??;
    plugin.code.store(code.clone());
    plugin.tier_up_state().status = TierUp::NotNeeded;
    Ok(code)
}

/// Optimized code for `source` (from the caches, or compiled now, filling them), linked for
/// `kind`, with an empty warm pool. Blocking.
fn build_optimized(
    engine: &PluginEngine,
    hash: ContentHash,
    kind: PluginKind,
    pool_size: usize,
    source: &[u8],
) -> Result<Arc<Code>, String> {
    let (component, _) = engine
        .cache
        .get_or_compile(&engine.optimized, hash, source)
        .map_err(|e| format!("optimized compilation failed: {e:#}"))?;
    let contract = super::world::check(&engine.optimized.engine, &component, kind, &[])?;
    let pre = WorldPre::new(engine, Tier::Optimized, &component, kind, contract, &[])
        .map_err(|e| format!("optimized code does not link: {e:#}"))?;
    Ok(Code::new(Tier::Optimized, pre, pool_size))
}

/// The background build: compile with Cranelift, link, self-test, pre-warm, swap.
fn tier_up(plugin: Weak<Plugin>, source: Vec<u8>) {
    let Some(engine) = plugin.upgrade().map(|p| p.engine.clone()) else {
        return;
    };
    // One optimized build at a time: each already uses every core, and a Python or JS build
    // peaks at hundreds of MB, so ten plugins loading at once must not build side by side.
    let _one_at_a_time = engine.tier_ups.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // A version replaced while it waited is not worth building any more.
    let Some((hash, kind, pool_size)) = plugin.upgrade().map(|p| (p.hash, p.kind, p.spec.pool_size)) else {
        return;
    };
    let started = Instant::now();
    let built = build_optimized(&engine, hash, kind, pool_size, &source);
    drop(source);
    let compile = started.elapsed();
    let Some(plugin) = plugin.upgrade() else {
        return;
    };
    let outcome = built.and_then(|code| {
        super::blocking::run(async {
            super::load::self_test(&plugin, &code)
                .await
                .map_err(|e| format!("optimized code failed the self-test: {e}"))?;
            super::load::prewarm(&plugin, &code).await;
            Ok(code)
        })
    });
    let mut state = plugin.tier_up_state();
    match outcome {
        Ok(code) => {
            plugin.code.store(code);
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            state.status = TierUp::Done { after_ms: ms(state.since.elapsed()), compile_ms: ms(compile) };
            tracing::info!(plugin = %plugin.name, compile_ms = ms(compile), "optimized code now serving");
        }
        Err(error) => {
            tracing::warn!(plugin = %plugin.name, "tier-up failed, baseline code keeps serving: {error}");
            state.status = TierUp::Failed { error };
        }
    }
    drop(state);
    // The build's scratch, and the baseline code just replaced, go back to the OS now.
    super::scratch::release();
}
