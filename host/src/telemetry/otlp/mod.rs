//! OpenTelemetry traces over OTLP/HTTP (protobuf), from finished decision records.
//!
//! The record's spans (see [`spans`]) go to the SDK's `BatchSpanProcessor`, which queues them
//! in a bounded channel (a full queue drops spans and counts them) and exports batches from
//! its own thread through the `opentelemetry-otlp` exporter. A request only ever pays for
//! building its spans and a `try_send`: a slow or dead collector never blocks or fails it.

pub mod client;
pub mod spans;

use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SpanProcessor};

use crate::config::OtlpConfig;
use crate::telemetry::decision::DecisionRecord;

/// The trace exporter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("telemetry.otlp needs a tokio runtime to send exports on")]
    NoRuntime,
    #[error("telemetry.otlp: cannot build the HTTP client: {0}")]
    Client(#[from] rustls::Error),
    #[error("telemetry.otlp: cannot build the exporter: {0}")]
    Exporter(String),
}

/// Exports each finished request as a trace.
pub struct Tracing {
    processor: BatchSpanProcessor,
    scope: InstrumentationScope,
    /// Traces whose id (low 64 bits) is below this are exported: `sample_ratio` of them.
    sample_below: u64,
}

impl Tracing {
    pub fn start(config: &OtlpConfig) -> Result<Tracing, OtlpError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| OtlpError::NoRuntime)?;
        let timeout = Duration::from_millis(config.timeout_ms);
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client::RuntimeClient::new(runtime, timeout)?)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(config.endpoint.clone())
            .with_timeout(timeout)
            .build()
            .map_err(|e| OtlpError::Exporter(e.to_string()))?;
        let batch = BatchConfigBuilder::default()
            .with_max_queue_size(config.max_queue_spans)
            .with_max_export_batch_size(config.batch_spans)
            .with_scheduled_delay(Duration::from_millis(config.delay_ms))
            .build();
        let mut processor = BatchSpanProcessor::builder(exporter).with_batch_config(batch).build();
        processor.set_resource(&Resource::builder().with_service_name(config.service_name.clone()).build());
        let scope = InstrumentationScope::builder("switchyard").with_version(env!("CARGO_PKG_VERSION")).build();
        let sample_below =
            if config.sample_ratio >= 1.0 { u64::MAX } else { (config.sample_ratio * u64::MAX as f64) as u64 };
        Ok(Tracing { processor, scope, sample_below })
    }

    /// Queues the request's spans for export, when its trace is sampled.
    pub fn export(&self, record: &DecisionRecord) {
        let trace = &record.trace;
        // A client that sent `traceparent` decided for its own trace (parent-based sampling).
        let sampled = match trace.parent_span_id {
            Some(_) => trace.sampled,
            None => (trace.trace_id as u64) < self.sample_below || self.sample_below == u64::MAX,
        };
        if !sampled {
            return;
        }
        for span in spans::spans(record, &self.scope) {
            self.processor.on_end(span);
        }
    }

    /// Exports what is queued (at shutdown). Blocks: call it off the runtime's workers.
    pub fn flush(&self) {
        if let Err(error) = self.processor.force_flush() {
            tracing::warn!("could not export the last traces: {error}");
        }
    }
}

impl Drop for Tracing {
    fn drop(&mut self) {
        let _ = self.processor.shutdown_with_timeout(Duration::from_secs(2));
    }
}
