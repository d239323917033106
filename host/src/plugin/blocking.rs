//! Running the async plugin API from code that is not async: command-line tools, `eval`,
//! benchmarks and tests. Each thread gets one small current-thread runtime, reused.

use std::future::Future;

thread_local! {
    static RUNTIME: Option<tokio::runtime::Runtime> =
        tokio::runtime::Builder::new_current_thread().enable_all().build().ok();
}

/// Runs `future` to completion on this thread's runtime.
///
/// # Panics
///
/// When called from inside an async runtime (tokio forbids nesting), or if no runtime could
/// be built at all; both are programming errors, never caused by input.
pub fn run<F: Future>(future: F) -> F::Output {
    RUNTIME.with(|runtime| match runtime {
        Some(runtime) => runtime.block_on(future),
        None => panic!("cannot build a tokio runtime to run a plugin call"),
    })
}
