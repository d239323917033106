//! Handing a compilation's scratch memory back to the OS when it ends.
//!
//! A Cranelift build of a Python or JS component peaks at hundreds of megabytes, allocated on
//! the threads of wasmtime's parallel compilation (rayon's global pool). The allocator
//! (mimalloc) returns a thread's freed pages only when that thread next allocates or
//! collects, and compile threads sit idle between deploys, so without this a proxy kept a
//! deploy's peak resident until the next one (`bench/memory.sh`). The caller, then each pool
//! thread, is asked to collect.
//!
//! A binary on another global allocator loses nothing: mimalloc's own heaps are then empty
//! and collecting them is a no-op.

unsafe extern "C" {
    /// mimalloc's `mi_collect`: frees the calling thread's empty pages and purges them.
    fn mi_collect(force: bool);
}

/// Collects freed memory on this thread now, and on every compile thread from a short-lived
/// thread of its own: a pool thread busy with another compilation takes the job when it is
/// done, and nothing (a load going live, a tier-up) waits for that.
pub(crate) fn release() {
    // SAFETY: `mi_collect` only walks the calling thread's own heap; it is always safe to
    // call, from any thread, at any time.
    unsafe { mi_collect(true) };
    let spawned = std::thread::Builder::new().name("switchyard-collect".into()).spawn(|| {
        rayon::broadcast(|_| unsafe { mi_collect(true) });
    });
    if let Err(error) = spawned {
        tracing::debug!("compile threads not collected: cannot start a thread: {error}");
    }
}
