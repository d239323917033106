//! Carries a request's decision record from arrival to the last byte and finishes it exactly
//! once: outcome, total cost and latency filled in, metrics updated, the line queued for the
//! log. The routing core fills the record through its `Observer` (implemented by the record
//! itself); this is the proxy's side of the bookkeeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use crate::telemetry::decision::now_ms;

use tokio::sync::OwnedSemaphorePermit;

use crate::app::App;
use crate::govern::budget::Reservation;
use crate::telemetry::decision::{DecisionRecord, Outcome};

/// A request id unique within this process and unlikely to repeat across restarts: the
/// process start time and a counter.
pub fn new_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static EPOCH: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
            ^ u64::from(std::process::id())
    });
    format!("{epoch:x}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The record of one request in progress, and the admission slot it holds until it ends.
pub struct Recorder {
    pub app: Arc<App>,
    pub started: Instant,
    pub record: DecisionRecord,
    /// The budget reservation made before the first upstream call, settled by `finish`.
    pub reservation: Option<Reservation>,
    _permit: OwnedSemaphorePermit,
}

impl Recorder {
    pub fn new(app: Arc<App>, started: Instant, record: DecisionRecord, permit: OwnedSemaphorePermit) -> Self {
        Recorder { app, started, record, reservation: None, _permit: permit }
    }

    /// Cost of every attempt so far; `None` when one is unpriced.
    pub fn cost_so_far(&self) -> Option<f64> {
        self.record.cost_so_far()
    }

    /// Completes the record and hands it to metrics and the decision log.
    pub fn finish(mut self, http_status: u16, model: Option<String>, error: Option<String>) {
        let record = &mut self.record;
        record.outcome = Outcome {
            status: if error.is_none() && http_status < 400 { "ok" } else { "error" }.to_string(),
            http_status,
            model,
            error,
        };
        record.cost_usd = record.cost_so_far();
        if let Some(reservation) = self.reservation.take() {
            // An unpriced attempt leaves the cost unknown: the estimate stays charged.
            let cost = record.cost_usd.unwrap_or(reservation.estimate_usd);
            let tokens = record.attempts.iter().map(|a| u64::from(a.input_tokens) + u64::from(a.output_tokens)).sum();
            let correction = reservation.settle(cost, tokens);
            if let Some(governance) = record.governance.as_mut() {
                governance.settled_delta_usd = Some(correction);
            }
        }
        record.latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let record = Arc::new(std::mem::take(&mut self.record));
        self.app.metrics().observe_decision(&record);
        self.app.telemetry().observe(&record, &*self.app.snapshot());
        self.app.decisions().write(record);
    }
}
