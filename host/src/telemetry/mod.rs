//! What Switchyard tells its operators: Prometheus metrics, the decision log, and tracing.

pub mod decision;
pub mod decision_log;
pub mod metrics;

pub use decision_log::{DecisionLog, DecisionSink};
pub use metrics::Metrics;
