//! The WASI a plugin gets: every interface a wasm32-wasip2 toolchain imports is linked, and
//! none of them grants anything.
//!
//! Rust's std, componentize-py and jco import WASI even when a plugin never touches it, so
//! refusing to link WASI would refuse most plugins. Instead each instance gets a context with
//! no files, no environment, no arguments, closed stdin, stdout and stderr that go nowhere,
//! sockets that deny every address, a wall clock and a monotonic clock stuck at fixed
//! instants, and "random" bytes from a fixed-seed generator. The plugin stays a pure function
//! of its inputs (the same idea as Shopify Functions), which is what lets `switchyard eval`
//! replay it and what makes a stranger's plugin safe to run.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

/// The instant every plugin's wall clock reads: 2024-01-01T00:00:00Z.
pub const FIXED_WALL_CLOCK: Duration = Duration::from_secs(1_704_067_200);

/// A wall clock that never moves.
struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        FIXED_WALL_CLOCK
    }
}

/// A monotonic clock that never moves: elapsed time always reads zero, so a plugin cannot
/// time anything (and so cannot behave differently under load).
struct FixedMonotonicClock;

impl HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// A deterministic generator (splitmix64 from a fixed seed) for `wasi:random`. Its state is
/// shared with the host, which rewinds it before every call: every call of every instance
/// (warm or fresh) sees the same sequence, so a plugin that "randomises" still answers the
/// same request the same way.
struct FixedSequence {
    state: Arc<AtomicU64>,
    seed: u64,
}

impl FixedSequence {
    fn next(&mut self) -> u64 {
        let base = self.state.fetch_add(1, Ordering::Relaxed);
        let mut z = self.seed.wrapping_add(base.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl rand_core::TryRng for FixedSequence {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.try_next_u64().map(|v| (v >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.next())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

/// The seed of every instance's generator. Fixed on purpose; see [`FixedSequence`].
const RANDOM_SEED: u64 = 0x5157_17C4_A11D_0001;

/// Builds the grant-nothing WASI context for one instance. The returned counter is the
/// position of its random sequences: store 0 in it to rewind them.
pub(crate) fn deny_all() -> (WasiCtx, Arc<AtomicU64>) {
    let position = Arc::new(AtomicU64::new(0));
    let ctx = WasiCtxBuilder::new()
        .wall_clock(FixedWallClock)
        .monotonic_clock(FixedMonotonicClock)
        .secure_random(FixedSequence { state: position.clone(), seed: RANDOM_SEED })
        .insecure_random(FixedSequence { state: position.clone(), seed: RANDOM_SEED ^ 1 })
        .insecure_random_seed(u128::from(RANDOM_SEED))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }))
        .build();
    (ctx, position)
}
