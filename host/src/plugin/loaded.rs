//! A loaded plugin version and the three ways to call it.
//!
//! Every call takes an instance (warm from the pool, or new), arms its per-call budget, calls
//! the export and checks what came back. A trap or a limit discards the instance and becomes
//! a typed [`CallError`]; the proxy never sees a panic or a poisoned instance.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use wasmtime::{Store, Trap};

use super::PluginKind;
use super::adapt;
use super::bindings::types::{Candidate, ModelInfo, Plan, Request, Signal, Verdict};
use super::cache::{CacheOutcome, ContentHash};
use super::engine::PluginEngine;
use super::error::CallError;
use super::instance::{Exports, Instance, InstanceStrategy, PluginName};
use super::limits::Limits;
use super::output;
use super::quarantine::Quarantine;
use super::store::{self, HostState};
use super::tier::{Code, TierUpState};

/// How long each phase of a load took, and whether compilation was skipped.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    pub cache: CacheOutcome,
    /// The tier the version went live on.
    pub tier: super::Tier,
    /// Core modules the baseline tier took from the shared-module cache or compiled for it
    /// ([`super::split`]); zero for optimized loads.
    pub shared_modules: SharedModules,
    /// Reading the file and hashing it.
    pub read: Duration,
    /// Compiling, or fetching from the cache.
    pub compile: Duration,
    /// Linking and pre-instantiating.
    pub link: Duration,
    /// Instantiating, `init` and the self-test call.
    pub self_test: Duration,
}

/// How a baseline load got the core modules it shares with other versions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SharedModules {
    /// Already compiled (for an earlier version, or another plugin with the same runtime).
    pub reused: usize,
    /// Compiled by this load and kept for the next.
    pub compiled: usize,
}

/// One loaded, validated plugin version, ready to serve.
pub struct Plugin {
    /// What this version was loaded from; a reload whose spec and bytes are unchanged keeps
    /// this version (and its warm instances).
    pub(crate) spec: super::PluginSpec,
    pub(crate) name: PluginName,
    pub(crate) kind: PluginKind,
    pub(crate) path: PathBuf,
    pub(crate) hash: ContentHash,
    pub(crate) limits: Limits,
    pub(crate) strategy: InstanceStrategy,
    pub(crate) config_json: String,
    pub(crate) report: LoadReport,
    pub(crate) engine: Arc<PluginEngine>,
    /// The machine code serving calls, with its warm instances; swapped once when a version
    /// that went live on baseline code gets its optimized code (see [`super::tier`]).
    pub(crate) code: ArcSwap<Code>,
    pub(crate) tier_up: std::sync::Mutex<TierUpState>,
    pub(crate) quarantine: Quarantine,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("path", &self.path)
            .field("hash", &self.hash.to_string())
            .field("strategy", &self.strategy)
            .field("tier", &self.tier())
            .finish_non_exhaustive()
    }
}

impl Plugin {
    pub fn spec(&self) -> &super::PluginSpec {
        &self.spec
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn kind(&self) -> PluginKind {
        self.kind
    }
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
    pub fn hash(&self) -> ContentHash {
        self.hash
    }
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    pub fn strategy(&self) -> InstanceStrategy {
        self.strategy
    }
    pub fn load_report(&self) -> &LoadReport {
        &self.report
    }
    /// Idle warm instances right now.
    pub fn idle_instances(&self) -> usize {
        self.code.load().pool.idle()
    }
    /// Failed calls since this version was loaded.
    pub fn failures(&self) -> u64 {
        self.quarantine.total_failures()
    }
    /// The contract version this component was built against.
    pub fn contract(&self) -> super::Contract {
        self.code.load().pre.contract()
    }
    /// Whether calls are currently being refused after repeated failures.
    pub fn is_quarantined(&self) -> bool {
        self.quarantine.is_active()
    }

    /// Runs a classifier on one request.
    pub async fn classify(&self, request: &Request) -> Result<Vec<Signal>, CallError> {
        self.classify_on(&self.code.load_full(), request).await
    }

    pub(crate) async fn classify_on(&self, code: &Arc<Code>, request: &Request) -> Result<Vec<Signal>, CallError> {
        self.expect_kind(PluginKind::Classifier)?;
        let mut instance = self.acquire(code).await?;
        let call = async {
            match &instance.exports {
                Exports::Classifier(c) => c.call_classify(&mut instance.store, request).await,
                Exports::Classifier010(c) => c
                    .call_classify(&mut instance.store, &adapt::request(request))
                    .await
                    .map(|r| r.map(adapt::signals_back)),
                other => Err(other.called_as(PluginKind::Classifier)),
            }
        };
        let outcome = guard(call).await;
        let signals = self.settle(code, instance, outcome)?;
        output::check_signals(&self.name, signals)
    }

    /// Runs a policy on one request.
    pub async fn route(&self, request: &Request, signals: &[Signal], models: &[ModelInfo]) -> Result<Plan, CallError> {
        self.route_on(&self.code.load_full(), request, signals, models).await
    }

    pub(crate) async fn route_on(
        &self,
        code: &Arc<Code>,
        request: &Request,
        signals: &[Signal],
        models: &[ModelInfo],
    ) -> Result<Plan, CallError> {
        self.expect_kind(PluginKind::Policy)?;
        let mut instance = self.acquire(code).await?;
        let call = async {
            match &instance.exports {
                Exports::Policy(p) => p.call_route(&mut instance.store, request, signals, models).await,
                Exports::Policy010(p) => p
                    .call_route(
                        &mut instance.store,
                        &adapt::request(request),
                        &adapt::signals(signals),
                        &adapt::models(models),
                    )
                    .await
                    .map(|r| r.map(adapt::plan_back)),
                other => Err(other.called_as(PluginKind::Policy)),
            }
        };
        let outcome = guard(call).await;
        let plan = self.settle(code, instance, outcome)?;
        output::check_plan(&self.name, plan)
    }

    /// Runs a gate on one candidate answer.
    pub async fn check(&self, request: &Request, candidate: &Candidate) -> Result<Verdict, CallError> {
        self.check_on(&self.code.load_full(), request, candidate).await
    }

    pub(crate) async fn check_on(
        &self,
        code: &Arc<Code>,
        request: &Request,
        candidate: &Candidate,
    ) -> Result<Verdict, CallError> {
        self.expect_kind(PluginKind::Gate)?;
        let mut instance = self.acquire(code).await?;
        let call = async {
            match &instance.exports {
                Exports::Gate(g) => g.call_check(&mut instance.store, request, candidate).await,
                Exports::Gate010(g) => g
                    .call_check(&mut instance.store, &adapt::request(request), &adapt::candidate(candidate))
                    .await
                    .map(|r| r.map(adapt::verdict_back)),
                other => Err(other.called_as(PluginKind::Gate)),
            }
        };
        let outcome = guard(call).await;
        let verdict = self.settle(code, instance, outcome)?;
        output::check_verdict(&self.name, verdict)
    }

    /// [`Plugin::classify`] for code that is not async (CLIs, `eval`, tests). Must not be
    /// called from inside an async runtime.
    pub fn classify_blocking(&self, request: &Request) -> Result<Vec<Signal>, CallError> {
        super::blocking::run(self.classify(request))
    }

    /// [`Plugin::route`] for code that is not async.
    pub fn route_blocking(
        &self,
        request: &Request,
        signals: &[Signal],
        models: &[ModelInfo],
    ) -> Result<Plan, CallError> {
        super::blocking::run(self.route(request, signals, models))
    }

    /// [`Plugin::check`] for code that is not async.
    pub fn check_blocking(&self, request: &Request, candidate: &Candidate) -> Result<Verdict, CallError> {
        super::blocking::run(self.check(request, candidate))
    }

    /// Refuses a call of another world's export before an instance is taken.
    fn expect_kind(&self, asked: PluginKind) -> Result<(), CallError> {
        if self.kind == asked {
            return Ok(());
        }
        Err(CallError::WrongKind { plugin: self.name.to_string(), kind: self.kind, asked })
    }

    /// An instance of `code` armed for one call: warm from its pool or new. Refused at once
    /// while the plugin is quarantined.
    async fn acquire(&self, code: &Code) -> Result<Instance, CallError> {
        if !self.quarantine.admit() {
            return Err(CallError::Quarantined { plugin: self.name.to_string() });
        }
        let mut instance = match self.strategy {
            InstanceStrategy::Warm => match code.pool.take() {
                Some(mut warm) => {
                    store::arm(&self.engine, &mut warm.store, &self.limits);
                    Ok(warm)
                }
                None => self.new_instance(code).await,
            },
            InstanceStrategy::Fresh => self.new_instance(code).await,
        };
        match &mut instance {
            Ok(ready) => store::rewind_random(&mut ready.store),
            Err(error) => self.record(Err(error)),
        }
        instance
    }

    /// Turns a call's outcome into its result: a sound instance goes back to the pool, a
    /// trapped one is dropped, and the quarantine learns how it went.
    fn settle<R>(
        &self,
        code: &Code,
        mut instance: Instance,
        outcome: wasmtime::Result<Result<R, String>>,
    ) -> Result<R, CallError> {
        instance.uses += 1;
        self.report_dropped_logs(&mut instance.store);
        let result = match outcome {
            Ok(Ok(value)) => {
                self.recycle(code, instance);
                Ok(value)
            }
            Ok(Err(message)) => {
                self.recycle(code, instance);
                Err(CallError::Guest {
                    plugin: self.name.to_string(),
                    message: store::truncate(&message, output::MAX_TEXT_BYTES).to_string(),
                })
            }
            Err(trap) => Err(self.trap_error(trap, instance.store.data())),
        };
        self.record(result.as_ref().map(drop));
        result
    }

    fn record(&self, result: Result<(), &CallError>) {
        match result {
            // A guest returning `err(...)` is the plugin working as written (a policy may
            // have no plan for some requests); only faults count towards quarantine.
            Ok(()) | Err(CallError::Guest { .. }) => self.quarantine.record_success(),
            Err(error) => {
                if self.quarantine.record_failure() {
                    tracing::error!(plugin = %self.name, "plugin quarantined after repeated failures; last: {error}");
                }
            }
        }
    }

    /// A new instance of `code`, armed for the call about to be made, with `init` already run.
    pub(crate) async fn new_instance(&self, code: &Code) -> Result<Instance, CallError> {
        let backend = self.engine.backend(code.tier);
        let mut store = store::new_store(&backend.engine, self.name.clone(), &self.limits);
        store::arm(&self.engine, &mut store, &self.limits);
        match guard(code.pre.instantiate(&mut store, &self.config_json)).await {
            Ok(Ok(exports)) => Ok(Instance { store, exports, uses: 0 }),
            Ok(Err(message)) => Err(CallError::Init {
                plugin: self.name.to_string(),
                message: store::truncate(&message, output::MAX_TEXT_BYTES).to_string(),
            }),
            Err(error) => {
                if error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
                    return Err(CallError::Instantiate {
                        plugin: self.name.to_string(),
                        detail: format!("too many live plugin instances: {error}"),
                    });
                }
                Err(self.trap_error(error, store.data()))
            }
        }
    }

    fn recycle(&self, code: &Code, instance: Instance) {
        if self.strategy == InstanceStrategy::Warm {
            code.pool.give_back(instance);
        }
    }

    fn report_dropped_logs(&self, store: &mut Store<HostState>) {
        let state = store.data_mut();
        if state.log_lines_dropped > 0 {
            tracing::warn!(plugin = %self.name, dropped = state.log_lines_dropped, "plugin log lines dropped (rate limit)");
            state.log_lines_dropped = 0;
        }
    }

    /// Names the limit that stopped a call, or describes the trap.
    fn trap_error(&self, error: wasmtime::Error, state: &HostState) -> CallError {
        let plugin = self.name.to_string();
        if state.limiter.hit_cap {
            return CallError::Memory { plugin, cap_bytes: self.limits.memory_bytes };
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallError::Deadline { plugin, deadline: self.limits.deadline },
            Some(Trap::StackOverflow) => CallError::Stack { plugin },
            // Guests compiled from C, C++ or Rust keep their own "shadow" stack in linear
            // memory; runaway recursion overflows it into an out-of-bounds access before the
            // engine's stack limit is reached. The backtrace tells the two apart.
            Some(Trap::MemoryOutOfBounds) if looks_like_runaway_recursion(&error) => CallError::Stack { plugin },
            Some(Trap::OutOfFuel) => CallError::Fuel { plugin },
            _ => CallError::Trap { plugin, detail: store::truncate(&format!("{error:?}"), 2048).to_string() },
        }
    }
}

/// Whether a trap's backtrace looks like runaway recursion: wasmtime keeps the innermost
/// 20 frames, and when every one of them is the same function the guest was recursing.
fn looks_like_runaway_recursion(error: &wasmtime::Error) -> bool {
    let Some(trace) = error.downcast_ref::<wasmtime::WasmBacktrace>() else {
        return false;
    };
    let frames = trace.frames();
    frames.len() >= 20 && frames.iter().all(|f| f.func_index() == frames[0].func_index())
}

/// Runs one call, turning a panic in host code (a host bug, or a WASI implementation
/// misbehaving) into an error for this call instead of a crash of the request's task.
async fn guard<R>(call: impl std::future::Future<Output = wasmtime::Result<R>>) -> wasmtime::Result<R> {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(call).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(wasmtime::Error::msg(format!("the host panicked while serving the plugin: {what}")))
        }
    }
}
