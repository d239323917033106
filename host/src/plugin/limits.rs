//! Per-call resource limits and the memory limiter that enforces them.

use std::time::Duration;

/// The limits one plugin runs under. Every call gets a fresh budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Wall-time budget of one call (instantiation and `init` included when the call needs a
    /// new instance). Enforced by epoch interruption, so it is exact to one epoch tick.
    pub deadline: Duration,
    /// Cap on the linear memory of one instance, in bytes.
    pub memory_bytes: u64,
    /// Fuel (roughly, wasm instructions) per call; `None` means unmetered. Only honoured when
    /// the engine was built with fuel enabled, since metering slows every plugin.
    pub fuel: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { deadline: Duration::from_millis(10), memory_bytes: 64 << 20, fuel: None }
    }
}

/// Caps memory and table growth and remembers whether the cap was what stopped the guest.
///
/// A refused `memory.grow` is not a trap: the guest sees -1 and usually aborts right after
/// (Rust's allocator calls `abort`, which is an `unreachable` trap). Recording the refusal
/// lets the host report "memory cap" instead of the less useful "unreachable".
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    pub cap_bytes: u64,
    pub hit_cap: bool,
}

/// Table elements an instance may grow to; generous for Python/JS runtimes, finite for all.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.cap_bytes {
            self.hit_cap = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
