//! `/metrics` as a real Prometheus sees it: Debian's `prometheus` on loopback scrapes the
//! proxy while traffic runs, and PromQL over its HTTP API must count the requests,
//! escalations, fallbacks, cost and plugin latency the decision records say happened. The
//! shipped rules pass `promtool check rules` and their own `promtool test rules`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use switchyard_tests::observe;
use switchyard_tests::proxy::{closed_port, send};

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/prometheus/switchyard-rules.yml");
const RULE_TESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/prometheus/alerts-test.yml");

/// Whether `tool` runs; outside CI a missing one skips the test with a note (scripts/test.sh
/// installs it; in CI its absence fails).
fn have(tool: &str) -> bool {
    let found = std::process::Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{tool} is not installed (scripts/test.sh installs it)");
        eprintln!("skipped: {tool} is not installed (apt-get install prometheus)");
    }
    found
}

#[test]
fn the_shipped_rules_are_valid_and_their_alerts_fire_when_they_should() {
    if !have("promtool") {
        return;
    }
    for args in [vec!["check", "rules", RULES], vec!["test", "rules", RULE_TESTS]] {
        let out = std::process::Command::new("promtool").args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A Prometheus server on loopback, stopped (killed) when dropped.
struct Prometheus {
    base: String,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    async fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {RULES}\n\
                 scrape_configs:\n  - job_name: switchyard\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = closed_port();
        let child = tokio::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("prometheus");
        let base = format!("http://127.0.0.1:{port}");
        let prometheus = Prometheus { base, _child: child, _dir: dir };
        for _ in 0..300 {
            if tokio::time::timeout(Duration::from_secs(2), probe(&format!("{}/-/ready", prometheus.base))).await
                == Ok(true)
            {
                return prometheus;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("prometheus did not become ready");
    }

    /// An instant query's result vector.
    async fn query(&self, promql: &str) -> Vec<Value> {
        let url = format!("{}/api/v1/query?query={}", self.base, encode(promql));
        let reply = send("GET", &url, "").await;
        let body = reply.json();
        assert_eq!(body["status"], "success", "{promql}: {body}");
        body["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The single value of `promql`, once it equals `want` (scrapes lag; at most 30 s).
    async fn wait_for(&self, promql: &str, want: f64) {
        let mut last = Vec::new();
        for _ in 0..300 {
            last = self.query(promql).await;
            if let Some(v) = last.first().and_then(value)
                && (v - want).abs() < 1e-9
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{promql}: wanted {want}, last result {last:?}");
    }

    async fn scalar(&self, promql: &str) -> f64 {
        let result = self.query(promql).await;
        assert_eq!(result.len(), 1, "{promql}: {result:?}");
        value(&result[0]).unwrap()
    }
}

async fn probe(url: &str) -> bool {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    matches!(client.get(url.parse().unwrap()).await, Ok(r) if r.status() == 200)
}

fn value(sample: &Value) -> Option<f64> {
    sample["value"][1].as_str().and_then(|v| v.parse().ok())
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_what_the_decision_records_say() {
    if !have("prometheus") {
        return;
    }
    let proxy = observe::proxy("").await;
    let target = proxy.base.trim_start_matches("http://").to_string();
    let prometheus = Prometheus::start(&target).await;
    let sent = observe::traffic(&proxy, 6).await;
    let records = proxy.records.lock().unwrap().clone();
    assert_eq!(records.len() as u64, sent.requests);
    let cost: f64 = records.iter().flat_map(|r| r.attempts.iter().filter_map(|a| a.cost_usd)).sum();

    prometheus.wait_for("sum(switchyard_requests_total)", sent.requests as f64).await;
    let errors = prometheus.scalar(r#"sum(switchyard_requests_total{outcome="error"})"#).await;
    assert_eq!(errors, sent.errors as f64);
    let escalations = prometheus.scalar(r#"sum(switchyard_escalations_total{route="auto",model="small"})"#).await;
    assert_eq!(escalations, sent.escalated as f64);
    let fallbacks = prometheus.scalar(r#"sum(switchyard_fallbacks_total{route="flaky",model="broken"})"#).await;
    assert_eq!(fallbacks, sent.fell_back as f64);
    let answered_large = prometheus.scalar(r#"sum(switchyard_requests_total{route="auto",model="large"})"#).await;
    assert_eq!(answered_large, sent.escalated as f64);
    let spent = prometheus.scalar("sum(switchyard_cost_usd_total)").await;
    assert!((spent - cost).abs() < 1e-9, "Prometheus says {spent} USD, the records {cost}");

    // Plugin latency: every routed request ran the classifier once, and its p99 is a real
    // duration (above the first bucket, well under its 2 s deadline).
    let calls = prometheus.scalar(r#"sum(switchyard_plugin_call_duration_seconds_count{plugin="complexity"})"#).await;
    assert_eq!(calls, (sent.requests / 5 * 3) as f64);
    let p99 = prometheus
        .scalar(
            r#"histogram_quantile(0.99, sum by (le) (switchyard_plugin_call_duration_seconds_bucket{plugin="complexity"}))"#,
        )
        .await;
    assert!(p99 > 0.0 && p99 < 2.0, "p99 {p99}");
    let quarantined = prometheus.query("switchyard_plugin_quarantined").await;
    assert_eq!(quarantined.len(), 3, "one gauge per plugin: {quarantined:?}");
    assert!(quarantined.iter().all(|s| value(s) == Some(0.0)));

    // The recording rules evaluate over the scraped series.
    // By route and outcome: auto ok, flaky ok, and the unknown model's errors (route "-").
    prometheus.wait_for("count(switchyard:requests:rate1m)", 3.0).await;
    let ratio = prometheus.query(r#"switchyard:escalation_ratio:rate5m{route="auto"}"#).await;
    assert_eq!(ratio.len(), 1, "{ratio:?}");
}
