//! Every (sweep point, item) decision, point after point, each point's items spread over
//! threads.
//!
//! Points run one after the other so that only one copy of the swept plugin is alive at a
//! time (see [`super::sweep::Sweeper`]). Within a point, work is handed out in small chunks
//! from one counter, so a slow call on one thread does not leave the others idle; decisions
//! are independent (plugins are pure), so the order they run in cannot change a result.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::mapping::ModelMap;
use super::progress::Progress;
use super::replay::{self, Decision, Models, Prepared, ReplayError};
use super::sweep::SweepLoadError;
use crate::route::snapshot::Route;

/// Decisions handed to a thread at a time.
const CHUNK: usize = 64;
/// Most worker threads, whatever `--threads` says (each is a real OS thread).
pub const MAX_THREADS: usize = 256;

/// Every decision, `[point][item]`, and how long it took.
#[derive(Debug)]
pub struct BatchResult {
    pub decisions: Vec<Vec<Decision>>,
    /// Replaying, without loading the points' routes.
    pub elapsed: Duration,
    /// Loading each point's route.
    pub loading: Duration,
    pub threads: usize,
}

/// Why the batch stopped.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Sweep(#[from] SweepLoadError),
}

/// Where each point's route comes from.
pub type RouteAt<'a> = dyn Fn(usize) -> Result<Route, SweepLoadError> + Sync + 'a;

/// Replays every item at each of `points` routes.
pub fn run(
    points: usize,
    route_at: &RouteAt<'_>,
    models: &Models,
    map: &ModelMap,
    items: &[Prepared],
    threads: usize,
    show_progress: bool,
) -> Result<BatchResult, BatchError> {
    let threads = threads.clamp(1, MAX_THREADS).min(items.len().div_ceil(CHUNK).max(1));
    let progress = Progress::new(points * items.len(), show_progress);
    let finished = AtomicBool::new(false);
    let mut loading = Duration::ZERO;
    let mut elapsed = Duration::ZERO;
    let decisions = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !finished.load(Ordering::Relaxed) {
                progress.draw();
                for _ in 0..10 {
                    if finished.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Progress::INTERVAL / 10);
                }
            }
            progress.finish();
        });
        let mut all = Vec::with_capacity(points);
        let outcome = (0..points).try_for_each(|point| -> Result<(), BatchError> {
            let started = Instant::now();
            let route = route_at(point)?;
            loading += started.elapsed();
            let started = Instant::now();
            all.push(run_point(&route, models, map, items, threads, &progress)?);
            elapsed += started.elapsed();
            Ok(())
        });
        finished.store(true, Ordering::Relaxed);
        outcome.map(|()| all)
    })?;
    Ok(BatchResult { decisions, elapsed, loading, threads })
}

/// One point: every item, on `threads` threads.
fn run_point(
    route: &Route,
    models: &Models,
    map: &ModelMap,
    items: &[Prepared],
    threads: usize,
    progress: &Progress,
) -> Result<Vec<Decision>, ReplayError> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let work = || -> Result<Vec<(usize, Decision)>, ReplayError> {
        let mut done = Vec::new();
        loop {
            let start = next.fetch_add(CHUNK, Ordering::Relaxed);
            if start >= items.len() || stop.load(Ordering::Relaxed) {
                return Ok(done);
            }
            let end = (start + CHUNK).min(items.len());
            for (i, item) in items.iter().enumerate().take(end).skip(start) {
                match replay::decide(route, models, map, item) {
                    Ok(decision) => done.push((i, decision)),
                    Err(error) => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(error);
                    }
                }
            }
            progress.add(end - start);
        }
    };
    let results: Vec<Result<Vec<(usize, Decision)>, ReplayError>> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut results = vec![work()];
        for helper in helpers {
            // A panic in a worker is a host bug; re-raise it where it belongs.
            results.push(helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        results
    });
    let mut decisions: Vec<Option<Decision>> = vec![None; items.len()];
    for result in results {
        for (i, decision) in result? {
            decisions[i] = Some(decision);
        }
    }
    Ok(decisions.into_iter().flatten().collect())
}
