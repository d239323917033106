//! The process-wide sections: `[server]`, `[runtime]`, `[telemetry]` and `[admin]`.
//! Every field has a default, so a config file only needs providers, models and routes.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[server]`: the HTTP surface clients talk to.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Largest request body accepted; larger ones get 413. Default 4 MiB.
    pub body_limit_bytes: u64,
    /// Total deadline for one request, all plan steps included. Default 120 000 ms.
    /// A route's `deadline_ms` overrides it.
    pub request_timeout_ms: u64,
    /// How long a client may take to send its request headers (slowloris guard).
    /// Default 10 000 ms.
    pub header_read_timeout_ms: u64,
    /// Requests served at once; more wait in a queue. Default 1024.
    pub max_concurrent_requests: u32,
    /// Requests that may wait for a slot; past it new requests get 503 at once, so memory
    /// stays bounded under overload. Default 1024.
    pub max_queued_requests: u32,
    /// Longest a request waits for a slot before a 503. Default 10 000 ms.
    pub queue_timeout_ms: u64,
    /// Environment variable holding the client API keys, comma-separated. When this or
    /// `client_keys_sha256` is set, `/v1/*` requests need `Authorization: Bearer <key>`.
    pub client_keys_env: Option<String>,
    /// Hex SHA-256 hashes of accepted client API keys (the keys themselves stay out of the
    /// file).
    pub client_keys_sha256: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            body_limit_bytes: 4 * 1024 * 1024,
            request_timeout_ms: 120_000,
            header_read_timeout_ms: 10_000,
            max_concurrent_requests: 1024,
            max_queued_requests: 1024,
            queue_timeout_ms: 10_000,
            client_keys_env: None,
            client_keys_sha256: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// `request_timeout_ms` as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
    /// `header_read_timeout_ms` as a duration.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }
}

/// `[health]`: passive upstream health and the circuit breaker of each model.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Attempts remembered per model for its error rate and p50 latency. Default 100.
    pub window: u32,
    /// Consecutive failures that open a model's breaker (it is then reported unhealthy to
    /// policies and skipped); 0 disables the breaker. Default 5.
    pub failure_threshold: u32,
    /// How long an open breaker refuses calls before one probe is let through. Default
    /// 10 000 ms.
    pub open_ms: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig { window: 100, failure_threshold: 5, open_ms: 10_000 }
    }
}

/// `[runtime]`: the WebAssembly engine shared by all plugins.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Where compiled plugin artifacts are cached, relative to the config file's directory.
    /// Default `.switchyard-cache`. After loading, this holds the absolute path.
    pub cache_dir: PathBuf,
    /// Enable fuel metering (deterministic instruction budgets). Off by default: epochs
    /// already bound wall time and fuel costs ~10-20% of guest speed.
    pub fuel: bool,
    /// Epoch ticker period: plugin deadlines are enforced to within one tick. Default 5 ms
    /// (a 1 ms tick costs ~5% of throughput on a 2-core machine in wake-ups alone).
    pub epoch_tick_ms: u64,
    /// Memory reserved for all plugin instances together, in MiB. Default 1024.
    pub max_memory_mb: u64,
    /// Most plugin instances alive at once (pooling allocator slots). Default 1000.
    pub max_instances: u32,
    /// A plugin version with no compiled code in the cache goes live on baseline (Winch)
    /// code in under a second and moves to optimized (Cranelift) code built in the
    /// background. Default true; false waits for the optimized build before serving.
    pub tiered_compilation: bool,
    /// Compile large (Python, JS) components in a short-lived worker process, so the
    /// compiler's working memory (hundreds of MB) leaves with it instead of staying in the
    /// proxy's RSS, and a hostile component's compile is bounded by the two limits below.
    /// Default true.
    pub compile_worker: bool,
    /// Wall time one worker compile may take before it is stopped and the load refused.
    /// Default 300 000 ms.
    pub compile_timeout_ms: u64,
    /// Address space one compile worker may use, in MiB. Default 4096.
    pub compile_memory_mb: u64,
}

impl RuntimeConfig {
    /// The plugin engine's settings: the one conversion `serve` and `eval` both use, so a
    /// replay runs plugins under the proxy's limits. `base_dir` is the config file's directory.
    pub fn engine_settings(&self, base_dir: &std::path::Path) -> crate::plugin::EngineSettings {
        crate::plugin::EngineSettings {
            epoch_tick: std::time::Duration::from_millis(self.epoch_tick_ms.max(1)),
            fuel: self.fuel,
            max_memory_bytes: self.max_memory_mb << 20,
            max_instances: self.max_instances,
            cache_dir: Some(base_dir.join(&self.cache_dir)),
            tiered: self.tiered_compilation,
            compile_worker: self.compile_worker.then(|| crate::plugin::WorkerLimits {
                timeout: std::time::Duration::from_millis(self.compile_timeout_ms.max(1)),
                memory_bytes: self.compile_memory_mb.max(1) << 20,
            }),
        }
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: PathBuf::from(".switchyard-cache"),
            fuel: false,
            epoch_tick_ms: 5,
            max_memory_mb: 1024,
            max_instances: 1000,
            tiered_compilation: true,
            compile_worker: true,
            compile_timeout_ms: 300_000,
            compile_memory_mb: 4096,
        }
    }
}

/// Where decision records go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DecisionLog {
    /// One JSON line per request on stdout (the default: containers collect it).
    #[default]
    Stdout,
    /// Not written at all (metrics still count).
    Off,
    /// Appended to this file; relative paths are resolved against the config's directory.
    File(PathBuf),
}

impl<'de> Deserialize<'de> for DecisionLog {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "stdout" => DecisionLog::Stdout,
            "off" => DecisionLog::Off,
            _ => DecisionLog::File(PathBuf::from(s)),
        })
    }
}

/// Format of the human-facing log (not the decision log, which is always JSON lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[telemetry]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// `"stdout"` (default), `"off"`, or a file path.
    pub decision_log: DecisionLog,
    /// `"text"` (default) or `"json"`.
    pub log_format: LogFormat,
    /// `[telemetry.otlp]`: export traces over OTLP; off when absent.
    pub otlp: Option<OtlpConfig>,
}

/// `[telemetry.otlp]`: OpenTelemetry traces over OTLP/HTTP (protobuf), one span per request
/// with a child per plugin call and per upstream attempt.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpConfig {
    /// The collector's traces URL, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub endpoint: String,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// Share of new traces exported, 0 to 1 (a client's `traceparent` decides for its own).
    pub sample_ratio: f64,
    /// Longest one export (with its retries) may take.
    pub timeout_ms: u64,
    /// Spans waiting for export before new ones are dropped: the collector being down never
    /// slows a request or grows memory without bound.
    pub max_queue_spans: usize,
    /// Spans per export request.
    pub batch_spans: usize,
    /// Longest a span waits before its batch is sent.
    pub delay_ms: u64,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            endpoint: String::new(),
            service_name: "switchyard".to_string(),
            sample_ratio: 1.0,
            timeout_ms: 5000,
            max_queue_spans: 8192,
            batch_spans: 512,
            delay_ms: 1000,
        }
    }
}

/// `[admin]`: the admin API.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Name of the environment variable holding the admin bearer token. Without it (or
    /// `token_sha256`) the admin API is disabled: an unauthenticated reload endpoint is a
    /// remote-code switch.
    pub token_env: Option<String>,
    /// Hex SHA-256 of the admin bearer token, for deployments that keep the config in a
    /// repository: the file holds only the hash. Either this or `token_env` enables the API.
    pub token_sha256: Option<String>,
}
