//! Every (sweep point, item) decision, spread over threads.
//!
//! Work is handed out in small chunks from one counter, so a slow plugin call on one thread
//! does not leave the others idle; each decision is independent (plugins are pure), so the
//! order they run in cannot change a result.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::mapping::ModelMap;
use super::progress::Progress;
use super::replay::{self, Decision, Models, Prepared, ReplayError, RouteUnderTest};

/// Decisions handed to a thread at a time.
const CHUNK: usize = 64;

/// Every decision, `[point][item]`, and how long it took.
#[derive(Debug)]
pub struct BatchResult {
    pub decisions: Vec<Vec<Decision>>,
    pub elapsed: Duration,
    pub threads: usize,
}

/// Replays every item at every point.
pub fn run(
    routes: &[RouteUnderTest],
    models: &Models,
    map: &ModelMap,
    items: &[Prepared],
    threads: usize,
    show_progress: bool,
) -> Result<BatchResult, ReplayError> {
    let n = items.len();
    let total = routes.len() * n;
    let threads = threads.clamp(1, total.div_ceil(CHUNK).max(1));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let progress = Progress::new(total, show_progress);
    let started = Instant::now();
    let outcome = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<Vec<(usize, Decision)>, ReplayError> {
                    let mut done = Vec::new();
                    loop {
                        let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                        if start >= total || stop.load(Ordering::Relaxed) {
                            return Ok(done);
                        }
                        let end = (start + CHUNK).min(total);
                        for k in start..end {
                            let decision = replay::decide(&routes[k / n], models, map, &items[k % n]);
                            match decision {
                                Ok(decision) => done.push((k, decision)),
                                Err(error) => {
                                    stop.store(true, Ordering::Relaxed);
                                    return Err(error);
                                }
                            }
                        }
                        progress.add(end - start);
                    }
                })
            })
            .collect();
        let mut drawn = Instant::now();
        while !workers.iter().all(|w| w.is_finished()) {
            if drawn.elapsed() >= Progress::INTERVAL {
                progress.draw();
                drawn = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        progress.finish();
        let mut all = Vec::with_capacity(total);
        let mut first_error = None;
        for worker in workers {
            match worker.join() {
                Ok(Ok(done)) => all.extend(done),
                Ok(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                // A panic in a worker is a host bug; re-raise it where it belongs.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(all),
        }
    })?;
    let elapsed = started.elapsed();
    let mut decisions: Vec<Vec<Decision>> = (0..routes.len()).map(|_| Vec::with_capacity(n)).collect();
    let mut flat = outcome;
    flat.sort_unstable_by_key(|(k, _)| *k);
    for (k, decision) in flat {
        decisions[k / n].push(decision);
    }
    Ok(BatchResult { decisions, elapsed, threads })
}
