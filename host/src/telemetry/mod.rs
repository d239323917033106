//! What Switchyard tells its operators: Prometheus metrics, the decision log, the live view
//! behind the dashboard, and OpenTelemetry traces.

pub mod decision;
pub mod decision_log;
pub mod governance;
pub mod live;
pub mod metrics;
pub mod otlp;
pub mod timing;
pub mod trace_context;

use std::sync::Arc;

pub use decision_log::{DecisionLog, DecisionSink};
pub use metrics::Metrics;

use crate::config::TelemetryConfig;
use crate::telemetry::decision::DecisionRecord;
use live::Live;
use live::cascade::Catalog;
use otlp::{OtlpError, Tracing};

/// The observers every finished record goes to besides metrics and the decision log.
pub struct Telemetry {
    live: Live,
    tracing: Option<Tracing>,
}

impl Telemetry {
    /// Starts the trace exporter when `[telemetry.otlp]` is configured (inside a tokio
    /// runtime: exports are sent on it).
    pub fn start(config: &TelemetryConfig) -> Result<Telemetry, OtlpError> {
        let tracing = config.otlp.as_ref().map(Tracing::start).transpose()?;
        Ok(Telemetry { live: Live::new(), tracing })
    }

    /// Takes in one finished record: the live view, and its trace when traces are exported.
    pub fn observe(&self, record: &Arc<DecisionRecord>, catalog: &dyn Catalog) {
        self.live.observe(record, catalog);
        if let Some(tracing) = &self.tracing {
            tracing.export(record);
        }
    }

    pub fn live(&self) -> &Live {
        &self.live
    }

    /// Exports the traces still queued. Blocks: for shutdown, off the runtime's workers.
    pub fn flush(&self) {
        if let Some(tracing) = &self.tracing {
            tracing.flush();
        }
    }
}

/// This process's resident set size (`VmRSS`), where `/proc` has it.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}
