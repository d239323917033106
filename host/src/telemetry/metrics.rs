//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! Built on `prometheus-client`, the Prometheus project's own Rust client: it follows the
//! naming conventions (counters end in `_total`, units are suffixes, base units are seconds)
//! and encodes the text format for us.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock, RwLock};

use crate::telemetry::decision::{AttemptOutcome, DecisionRecord};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    model: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteModel {
    route: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginFailureLabels {
    plugin: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginName {
    plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabel {
    cache: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabel {
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    model: String,
    direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: String,
}

fn latency_histogram() -> Histogram {
    // 50 µs .. ~50 s: covers plugin calls and upstream calls alike.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

/// The series one (route, model) pair touches, resolved on first use. A `Family` lookup
/// needs an owned label set (a `String` per label) and a hash of it; a request touches ~10
/// series, so the handles are kept here, found by `&str` without allocating. Each series is
/// created only when first observed, exactly as with `get_or_create`.
#[derive(Default)]
struct PairHandles {
    requests_ok: OnceLock<Counter>,
    requests_error: OnceLock<Counter>,
    escalations: OnceLock<Counter>,
    fallbacks: OnceLock<Counter>,
    upstream_duration: OnceLock<Histogram>,
    tokens_input: OnceLock<Counter>,
    tokens_output: OnceLock<Counter>,
    cost: OnceLock<Counter<f64, AtomicU64>>,
}

#[derive(Default)]
struct RouteHandles {
    duration: OnceLock<Histogram>,
    models: RwLock<HashMap<String, Arc<PairHandles>>>,
}

/// A plugin's call-duration histograms, by kind.
type PluginHandles = RwLock<Vec<(String, Histogram)>>;

/// Finds `key` under a read lock, inserting a default under the write lock the first time.
fn cached<V: Default>(map: &RwLock<HashMap<String, Arc<V>>>, key: &str) -> Arc<V> {
    if let Some(found) = map.read().unwrap_or_else(|p| p.into_inner()).get(key) {
        return found.clone();
    }
    map.write().unwrap_or_else(|p| p.into_inner()).entry(key.to_string()).or_default().clone()
}

/// Every metric Switchyard exports.
pub struct Metrics {
    routes: RwLock<HashMap<String, Arc<RouteHandles>>>,
    /// Plugin name -> (kind, call-duration histogram).
    plugins: RwLock<HashMap<String, Arc<PluginHandles>>>,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<RouteLabel, Histogram, fn() -> Histogram>,
    escalations: Family<RouteModel, Counter>,
    fallbacks: Family<RouteModel, Counter>,
    plugin_duration: Family<PluginLabels, Histogram, fn() -> Histogram>,
    plugin_failures: Family<PluginFailureLabels, Counter>,
    upstream_duration: Family<ModelLabel, Histogram, fn() -> Histogram>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<RouteModel, Counter<f64, AtomicU64>>,
    reloads: Family<ReloadLabels, Counter>,
    package_refusals: Family<PluginFailureLabels, Counter>,
    registry_errors: Family<PluginFailureLabels, Counter>,
    quarantined: Family<PluginName, Gauge>,
    in_flight: Gauge,
    rejected_overload: Counter,
    cache_bytes: Family<CacheLabel, Gauge>,
    resident_bytes: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("switchyard");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Chat-completion requests by route, answering model and outcome",
            requests.clone(),
        );
        let request_duration =
            Family::<RouteLabel, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "request_duration",
            "Time from request arrival to the last byte of the answer",
            Unit::Seconds,
            request_duration.clone(),
        );
        let escalations = Family::<RouteModel, Counter>::default();
        registry.register("escalations", "Gate verdicts that moved a request past a model", escalations.clone());
        let fallbacks = Family::<RouteModel, Counter>::default();
        registry.register("fallbacks", "Upstream failures that moved a request past a model", fallbacks.clone());
        let plugin_duration =
            Family::<PluginLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "plugin_call_duration",
            "Time spent in one plugin call",
            Unit::Seconds,
            plugin_duration.clone(),
        );
        let plugin_failures = Family::<PluginFailureLabels, Counter>::default();
        registry.register("plugin_failures", "Plugin calls that failed, by plugin and reason", plugin_failures.clone());
        let upstream_duration =
            Family::<ModelLabel, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "upstream_request_duration",
            "Time of one upstream attempt, to the complete answer",
            Unit::Seconds,
            upstream_duration.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register("tokens", "Tokens by model and direction (input, output)", tokens.clone());
        let cost = Family::<RouteModel, Counter<f64, AtomicU64>>::default();
        registry.register("cost_usd", "Estimated spend in US dollars by route and model", cost.clone());
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register("reloads", "Snapshot reloads by result", reloads.clone());
        let package_refusals = Family::<PluginFailureLabels, Counter>::default();
        registry.register(
            "package_refusals",
            "Plugin packages refused at load (the previous version kept serving), by plugin and reason",
            package_refusals.clone(),
        );
        let registry_errors = Family::<PluginFailureLabels, Counter>::default();
        registry.register(
            "registry_errors",
            "Failed registry polls of a plugin's tag (retried with backoff), by plugin and reason",
            registry_errors.clone(),
        );
        let quarantined = Family::<PluginName, Gauge>::default();
        registry.register(
            "plugin_quarantined",
            "1 while a plugin is quarantined (it kept failing; its fail mode answers for it)",
            quarantined.clone(),
        );
        let in_flight = Gauge::default();
        registry.register("requests_in_flight", "Requests being served now", in_flight.clone());
        let rejected_overload = Counter::default();
        registry.register(
            "overload_rejections",
            "Requests refused because too many were in flight",
            rejected_overload.clone(),
        );
        let cache_bytes = Family::<CacheLabel, Gauge>::default();
        registry.register_with_unit(
            "plugin_cache",
            "Memory held by the plugin engine's caches: compiled components, shared core modules, Cranelift's function cache (0 when it is on disk)",
            Unit::Bytes,
            cache_bytes.clone(),
        );
        let resident_bytes = Gauge::default();
        registry.register_with_unit(
            "process_resident",
            "Resident set size of the process (VmRSS)",
            Unit::Bytes,
            resident_bytes.clone(),
        );
        Metrics {
            routes: RwLock::default(),
            plugins: RwLock::default(),
            registry,
            requests,
            request_duration,
            escalations,
            fallbacks,
            plugin_duration,
            plugin_failures,
            upstream_duration,
            tokens,
            cost,
            reloads,
            package_refusals,
            registry_errors,
            quarantined,
            in_flight,
            rejected_overload,
            cache_bytes,
            resident_bytes,
        }
    }

    /// Summarises one finished request.
    pub fn observe_decision(&self, record: &DecisionRecord) {
        let route = record.route.as_deref().unwrap_or("-");
        let route_handles = cached(&self.routes, route);
        let pair = |model: &str| cached(&route_handles.models, model);
        let route_model = |model: &str| RouteModel { route: route.to_string(), model: model.to_string() };
        let answered = record.outcome.model.as_deref().unwrap_or("-");
        let request_labels = |outcome: &str| RequestLabels {
            route: route.to_string(),
            model: answered.to_string(),
            outcome: outcome.to_string(),
        };
        let status = record.outcome.status.as_str();
        match status {
            "ok" | "error" => {
                let handles = pair(answered);
                let slot = if status == "ok" { &handles.requests_ok } else { &handles.requests_error };
                slot.get_or_init(|| self.requests.get_or_create_owned(&request_labels(status))).inc();
            }
            other => {
                self.requests.get_or_create(&request_labels(other)).inc();
            }
        }
        route_handles
            .duration
            .get_or_init(|| self.request_duration.get_or_create_owned(&RouteLabel { route: route.to_string() }))
            .observe(record.latency_ms / 1000.0);
        for attempt in &record.attempts {
            let model = attempt.model.as_str();
            let handles = pair(model);
            match attempt.outcome {
                outcome if outcome.moved_on_by_gate() => {
                    handles.escalations.get_or_init(|| self.escalations.get_or_create_owned(&route_model(model))).inc();
                }
                AttemptOutcome::UpstreamError | AttemptOutcome::DeadlineExceeded => {
                    handles.fallbacks.get_or_init(|| self.fallbacks.get_or_create_owned(&route_model(model))).inc();
                }
                _ => {}
            }
            if attempt.status.is_some() {
                handles
                    .upstream_duration
                    .get_or_init(|| {
                        self.upstream_duration.get_or_create_owned(&ModelLabel { model: model.to_string() })
                    })
                    .observe(attempt.latency_ms / 1000.0);
            }
            for (direction, count, slot) in [
                ("input", attempt.input_tokens, &handles.tokens_input),
                ("output", attempt.output_tokens, &handles.tokens_output),
            ] {
                if count > 0 {
                    slot.get_or_init(|| {
                        self.tokens.get_or_create_owned(&TokenLabels {
                            model: model.to_string(),
                            direction: direction.to_string(),
                        })
                    })
                    .inc_by(u64::from(count));
                }
            }
            if let Some(cost) = attempt.cost_usd.filter(|c| *c > 0.0) {
                handles.cost.get_or_init(|| self.cost.get_or_create_owned(&route_model(model))).inc_by(cost);
            }
            for gate in &attempt.gates {
                self.observe_plugin(&gate.plugin, "gate", gate.micros as f64 / 1e6, gate.failure);
            }
        }
        for run in &record.classifiers {
            self.observe_plugin(&run.plugin, "classifier", run.micros as f64 / 1e6, run.failure);
        }
        if let Some(run) = &record.policy {
            self.observe_plugin(&run.plugin, "policy", run.micros as f64 / 1e6, run.failure);
        }
    }

    /// Records one plugin call's time and, if it failed, why.
    pub fn observe_plugin(&self, plugin: &str, kind: &str, seconds: f64, failure: Option<&str>) {
        let kinds = cached(&self.plugins, plugin);
        let found =
            kinds.read().unwrap_or_else(|p| p.into_inner()).iter().find(|(k, _)| k == kind).map(|(_, h)| h.clone());
        let histogram = found.unwrap_or_else(|| {
            let histogram = self
                .plugin_duration
                .get_or_create_owned(&PluginLabels { plugin: plugin.to_string(), kind: kind.to_string() });
            let mut kinds = kinds.write().unwrap_or_else(|p| p.into_inner());
            if !kinds.iter().any(|(k, _)| k == kind) {
                kinds.push((kind.to_string(), histogram.clone()));
            }
            histogram
        });
        histogram.observe(seconds);
        if let Some(reason) = failure {
            self.plugin_failures
                .get_or_create(&PluginFailureLabels { plugin: plugin.to_string(), reason: reason.to_string() })
                .inc();
        }
    }

    pub fn observe_reload(&self, ok: bool) {
        self.reloads.get_or_create(&ReloadLabels { result: if ok { "ok" } else { "error" }.to_string() }).inc();
    }

    /// A plugin package refused at load, with the refusal's reason label.
    pub fn observe_package_refusal(&self, plugin: &str, reason: &str) {
        self.package_refusals
            .get_or_create(&PluginFailureLabels { plugin: plugin.to_string(), reason: reason.to_string() })
            .inc();
    }

    /// A registry poll that failed (`timeout`, `auth`, `not_found`, `error`).
    pub fn observe_registry_error(&self, plugin: &str, reason: &str) {
        self.registry_errors
            .get_or_create(&PluginFailureLabels { plugin: plugin.to_string(), reason: reason.to_string() })
            .inc();
    }

    /// Sets each serving plugin's quarantine gauge (at scrape time, from the snapshot).
    pub fn observe_quarantine<'a>(&self, plugins: impl IntoIterator<Item = (&'a str, bool)>) {
        for (plugin, quarantined) in plugins {
            self.quarantined.get_or_create(&PluginName { plugin: plugin.to_string() }).set(i64::from(quarantined));
        }
    }

    /// Sets the cache and resident-memory gauges (at scrape time).
    pub fn observe_memory(&self, caches: &crate::plugin::CacheReport, resident: Option<u64>) {
        let set = |cache: &'static str, bytes: u64| {
            self.cache_bytes.get_or_create(&CacheLabel { cache }).set(i64::try_from(bytes).unwrap_or(i64::MAX));
        };
        set("components", caches.compiled_component_bytes);
        set("shared_modules", caches.shared_module_bytes);
        set("functions", caches.function_cache.map_or(0, |f| f.memory_bytes));
        if let Some(resident) = resident {
            self.resident_bytes.set(i64::try_from(resident).unwrap_or(i64::MAX));
        }
    }

    pub fn in_flight(&self) -> &Gauge {
        &self.in_flight
    }

    pub fn observe_overload(&self) {
        self.rejected_overload.inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::decision::{Attempt, Outcome};

    #[test]
    fn a_cascaded_request_shows_up_in_every_family() {
        let metrics = Metrics::new();
        let record = DecisionRecord {
            route: Some("auto".into()),
            outcome: Outcome { status: "ok".into(), http_status: 200, model: Some("large".into()), error: None },
            attempts: vec![
                Attempt {
                    model: "small".into(),
                    outcome: AttemptOutcome::Escalated,
                    status: Some(200),
                    input_tokens: 10,
                    output_tokens: 5,
                    cost_usd: Some(0.001),
                    ..Default::default()
                },
                Attempt {
                    model: "large".into(),
                    outcome: AttemptOutcome::Returned,
                    status: Some(200),
                    input_tokens: 10,
                    output_tokens: 7,
                    cost_usd: Some(0.01),
                    ..Default::default()
                },
            ],
            latency_ms: 12.0,
            ..Default::default()
        };
        metrics.observe_decision(&record);
        metrics.observe_plugin("complexity", "classifier", 0.000_002, Some("deadline"));
        let text = metrics.encode();
        for needle in [
            r#"switchyard_requests_total{route="auto",model="large",outcome="ok"} 1"#,
            r#"switchyard_escalations_total{route="auto",model="small"} 1"#,
            r#"switchyard_tokens_total{model="large",direction="output"} 7"#,
            r#"switchyard_plugin_failures_total{plugin="complexity",reason="deadline"} 1"#,
            "switchyard_request_duration_seconds_bucket",
            "switchyard_plugin_call_duration_seconds_count",
            "switchyard_cost_usd_total",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
