//! What a plugin instance's `Store` holds, and the host side of the `host` interface.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{HostImports, Level};
use super::engine::PluginEngine;
use super::limits::{Limits, MemoryLimiter};
use super::wasi;

/// Log lines one call may write before the rest are dropped.
pub const LOG_LINES_PER_CALL: u32 = 32;
/// Longest log line kept, in bytes; longer ones are cut.
pub const LOG_LINE_MAX_BYTES: usize = 1024;

/// Per-instance state: the WASI context that grants nothing, the memory limiter, and the
/// log budget of the current call.
pub struct HostState {
    pub(crate) plugin: Arc<str>,
    wasi: WasiCtx,
    /// Position of the instance's deterministic random sequence; rewound before each call.
    random_position: Arc<AtomicU64>,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) log_lines_left: u32,
    pub(crate) log_lines_dropped: u64,
}

impl HostState {
    fn new(plugin: Arc<str>, limits: &Limits) -> Self {
        let (wasi, random_position) = wasi::deny_all();
        HostState {
            plugin,
            wasi,
            random_position,
            table: ResourceTable::new(),
            limiter: MemoryLimiter { cap_bytes: limits.memory_bytes, hit_cap: false },
            log_lines_left: LOG_LINES_PER_CALL,
            log_lines_dropped: 0,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl HostImports for HostState {
    fn log(&mut self, level: Level, message: String) {
        if self.log_lines_left == 0 {
            self.log_lines_dropped += 1;
            return;
        }
        self.log_lines_left -= 1;
        let message = truncate(&message, LOG_LINE_MAX_BYTES);
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

/// Components built against contract 0.1.0 import its `host` interface: the same `log`.
impl super::bindings::v010::HostImports for HostState {
    fn log(&mut self, level: super::bindings::v010::Level, message: String) {
        use super::bindings::v010::Level as Old;
        let level = match level {
            Old::Trace => Level::Trace,
            Old::Debug => Level::Debug,
            Old::Info => Level::Info,
            Old::Warn => Level::Warn,
            Old::Error => Level::Error,
        };
        HostImports::log(self, level, message);
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A new store for one instance of `plugin`, with its limits installed.
pub(crate) fn new_store(engine: &wasmtime::Engine, plugin: Arc<str>, limits: &Limits) -> Store<HostState> {
    let mut store = Store::new(engine, HostState::new(plugin, limits));
    store.limiter(|state| &mut state.limiter);
    store
}

/// Resets the per-call budgets (deadline, fuel, log lines) before a call.
pub(crate) fn arm(engine: &PluginEngine, store: &mut Store<HostState>, limits: &Limits) {
    store.set_epoch_deadline(engine.ticks_for(limits.deadline));
    if engine.settings.fuel {
        // Setting fuel fails only when fuel is disabled, which the branch rules out.
        let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
    }
    let state = store.data_mut();
    state.log_lines_left = LOG_LINES_PER_CALL;
    state.limiter.hit_cap = false;
    state.random_position.store(0, Ordering::Relaxed);
}

/// Rewinds the instance's deterministic random sequence right before an export call, so the
/// call draws the same bytes whether its instance is warm or was just created: instantiation
/// and `init` may draw some first (CPython does), which would otherwise make a fresh
/// instance answer differently from a warm one.
pub(crate) fn rewind_random(store: &mut Store<HostState>) {
    store.data().random_position.store(0, Ordering::Relaxed);
}
