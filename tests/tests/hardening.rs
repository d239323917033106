//! Hostile plugins, failing upstreams and overload against the running proxy: every request
//! completes under the configured fail mode, and every event is counted with its plugin's name.

use std::time::Duration;

use serde_json::json;
use sha2::Digest;
use switchyard::telemetry::decision::{AttemptOutcome, PlanSource};
use switchyard_tests::proxy::{Proxy, chat, render, send, send_with, simulator};

fn ask(model: &str, text: &str) -> serde_json::Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

const MODELS: &str = r#"
[telemetry]
decision_log = "off"
[providers.sim]
base_url = "{SIM}"
max_retries = 0
[models.small]
provider = "sim"
upstream = "sim-small"
input_price = 0.1
output_price = 0.1
[models.large]
provider = "sim"
upstream = "sim-large"
tier = 1
input_price = 1.0
output_price = 1.0
"#;

async fn metrics(proxy: &Proxy) -> String {
    String::from_utf8(send("GET", &format!("{}/metrics", proxy.base), "").await.body.to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_fall_back_to_their_fail_modes() {
    let config = format!(
        r#"{MODELS}
[plugins.spinner]
kind = "classifier"
path = "{{GUEST:HOSTILE}}"
config = {{ mode = "spin", trigger = "attack" }}
[plugins.hog]
kind = "classifier"
path = "{{GUEST:HOSTILE}}"
deadline_ms = 5000
memory_mb = 16
config = {{ mode = "hog", trigger = "attack" }}
[plugins.strict]
kind = "classifier"
path = "{{GUEST:HOSTILE}}"
fail_mode = "error"
config = {{ mode = "panic", trigger = "attack" }}
[plugins.unknown_model]
kind = "policy"
path = "{{GUEST:BAD_POLICY}}"
config = {{ mode = "unknown-model" }}
[plugins.erring]
kind = "policy"
path = "{{GUEST:BAD_POLICY}}"
config = {{ mode = "err" }}
[routes.spin]
classifiers = ["spinner", "hog"]
default_plan = ["small"]
[routes.strict]
classifiers = ["strict"]
default_plan = ["small"]
[routes.unknown]
policy = "unknown_model"
default_plan = ["large"]
[routes.erring]
policy = "erring"
default_plan = ["large"]
"#
    );
    let proxy = Proxy::start(&render(&config, simulator().await)).await;

    // Classifiers that loop forever or eat memory: skipped, the request is served.
    let reply = chat(&proxy, ask("spin", "attack!")).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let record = proxy.record(reply.header("x-switchyard-request-id")).await;
    let errors: Vec<&str> = record.classifiers.iter().filter_map(|c| c.error.as_deref()).collect();
    assert!(errors.iter().any(|e| e.contains("spinner") && e.contains("deadline")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("hog") && e.contains("memory cap")), "{errors:?}");
    assert!(record.classifiers.iter().all(|c| c.fail_mode.as_deref() == Some("skip")));

    // fail_mode = "error": the request fails cleanly, in OpenAI's shape.
    let reply = chat(&proxy, ask("strict", "attack!")).await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["error"]["code"], "plugin_failed");
    assert!(reply.json()["error"]["message"].as_str().unwrap().contains("strict"));

    // Absurd plans: the route's default plan is used, and the record says why.
    for route in ["unknown", "erring"] {
        let reply = chat(&proxy, ask(route, "hello")).await;
        assert_eq!(reply.status, 200, "{route}");
        assert_eq!(reply.header("x-switchyard-model"), "large", "{route}");
        let record = proxy.record(reply.header("x-switchyard-request-id")).await;
        assert_eq!(record.plan.source, PlanSource::Default, "{route}");
        assert!(record.policy.as_ref().unwrap().error.is_some(), "{route}");
        assert!(reply.header("x-switchyard-reason").contains("default plan"), "{route}");
    }

    let text = metrics(&proxy).await;
    for needle in [
        r#"switchyard_plugin_failures_total{plugin="spinner",reason="deadline"} 1"#,
        r#"switchyard_plugin_failures_total{plugin="hog",reason="memory"} 1"#,
        r#"switchyard_plugin_failures_total{plugin="strict",reason="trap"} 1"#,
        r#"switchyard_plugin_failures_total{plugin="unknown_model",reason="bad_output"} 1"#,
        r#"switchyard_plugin_failures_total{plugin="erring",reason="guest_error"} 1"#,
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
    // And the proxy is still perfectly healthy.
    assert_eq!(chat(&proxy, ask("spin", "hello")).await.status, 200);
}

#[tokio::test]
async fn a_failing_model_opens_its_breaker_and_is_probed_back() {
    let config = format!(
        r#"{MODELS}
[health]
failure_threshold = 3
open_ms = 400
[models.flaky]
provider = "sim"
upstream = "fail-500"
input_price = 0.01
output_price = 0.01
[routes.auto]
default_plan = ["flaky", "large"]
"#
    );
    let proxy = Proxy::start(&render(&config, simulator().await)).await;
    for _ in 0..3 {
        assert_eq!(chat(&proxy, ask("auto", "hi")).await.header("x-switchyard-model"), "large");
    }
    // Open: skipped without an upstream call, and reported unhealthy to policies and clients.
    let reply = chat(&proxy, ask("auto", "hi")).await;
    assert_eq!(reply.status, 200);
    let record = proxy.record(reply.header("x-switchyard-request-id")).await;
    assert!(record.attempts[0].error.as_deref().unwrap().contains("circuit open"), "{:?}", record.attempts[0]);
    assert_eq!(record.attempts[0].status, None, "no upstream call was made");
    let models = send("GET", &format!("{}/v1/models", proxy.base), "").await.json();
    let flaky = models["data"].as_array().unwrap().iter().find(|m| m["id"] == "flaky").unwrap().clone();
    assert_eq!(flaky["switchyard"]["healthy"], false, "{flaky}");
    // After the open period one probe goes upstream again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reply = chat(&proxy, ask("auto", "hi")).await;
    let record = proxy.record(reply.header("x-switchyard-request-id")).await;
    assert_eq!(record.attempts[0].status, Some(500), "the probe reached the upstream: {:?}", record.attempts[0]);
    assert_eq!(record.attempts[0].outcome, AttemptOutcome::UpstreamError);
}

#[tokio::test]
async fn client_keys_guard_the_api_when_configured() {
    let hash = hex::encode(sha2::Sha256::digest(b"sk-client-1"));
    let config = format!("[server]\nclient_keys_sha256 = [\"{hash}\"]\n{MODELS}");
    let proxy = Proxy::start(&render(&config, simulator().await)).await;
    let url = format!("{}/v1/chat/completions", proxy.base);
    let body = ask("small", "hi").to_string();
    let denied = send_with("POST", &url, &[], body.clone()).await;
    assert_eq!(denied.status, 401);
    assert_eq!(denied.json()["error"]["type"], "authentication_error");
    assert_eq!(send_with("POST", &url, &[("authorization", "Bearer sk-wrong")], body.clone()).await.status, 401);
    assert_eq!(send_with("POST", &url, &[("authorization", "Bearer sk-client-1")], body).await.status, 200);
    assert_eq!(send("GET", &format!("{}/v1/models", proxy.base), "").await.status, 401);
    assert_eq!(send("GET", &format!("{}/healthz", proxy.base), "").await.status, 200, "health stays open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_refused_with_503_not_queued_without_bound() {
    let config = format!(
        "[server]\nmax_concurrent_requests = 1\nmax_queued_requests = 1\nqueue_timeout_ms = 5000\n{MODELS}\n[models.slow]\nprovider = \"sim\"\nupstream = \"slow-400\"\ninput_price = 0.1\noutput_price = 0.1\n"
    );
    let proxy = std::sync::Arc::new(Proxy::start(&render(&config, simulator().await)).await);
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let proxy = proxy.clone();
        tasks.push(tokio::spawn(async move { chat(&proxy, ask("slow", "hi")).await }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut statuses = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        if reply.status == 503 {
            assert_eq!(reply.json()["error"]["code"], "overloaded");
        }
        statuses.push(reply.status.as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 503, 503, 503], "one served, one queued then served, the rest refused");
    assert!(metrics(&proxy).await.contains("switchyard_overload_rejections_total 3"));
}

#[tokio::test]
async fn a_policy_that_returns_empty_plans_never_serves() {
    let config = format!(
        "{MODELS}\n[plugins.empty]\nkind = \"policy\"\npath = \"{{GUEST:BAD_POLICY}}\"\nconfig = {{ mode = \"empty-plan\" }}\n[routes.auto]\npolicy = \"empty\"\ndefault_plan = [\"small\"]\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.toml");
    std::fs::write(&path, render(&config, simulator().await)).unwrap();
    let config = switchyard::config::Config::load(&path).unwrap();
    let error = switchyard::server::App::start(config).await.err().expect("refused at load");
    let text = error.to_string();
    assert!(text.contains("empty") && text.contains("self-test"), "{text}");
}

/// SIGTERM with a client holding an idle keep-alive connection: the server stops at once
/// instead of waiting out its drain time, and a request in flight still gets its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_at_once_and_finishes_requests_in_flight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let sim = simulator().await;
    let config = render(
        &format!(
            "{MODELS}\n[models.slow]\nprovider = \"sim\"\nupstream = \"slow-600\"\ninput_price = 0.1\noutput_price = 0.1\n"
        ),
        sim,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.toml");
    std::fs::write(&path, config).unwrap();
    let app = switchyard::app::App::start(switchyard::config::Config::load(&path).unwrap()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let drain = Duration::from_secs(10);
    let server =
        tokio::spawn(switchyard::server::serve(listener, app, async move { stopped.await.unwrap_or(()) }, drain));

    // An idle keep-alive connection: one request answered, then nothing.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 256];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // A request in flight to a model that takes 600 ms.
    let base = format!("http://{addr}");
    let in_flight = tokio::spawn(async move { chat_at(&base, ask("slow", "Say hello.")).await });
    tokio::time::sleep(Duration::from_millis(150)).await;

    let started = std::time::Instant::now();
    stop.send(()).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(finished.is_ok(), "the server kept running past 5 s (drain is {drain:?})");
    assert!(started.elapsed() < Duration::from_secs(3), "shutdown took {:?}", started.elapsed());
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    // The idle connection was closed by the server (EOF), not left open.
    let n = tokio::time::timeout(Duration::from_secs(1), idle.read(&mut buf)).await.expect("closed").unwrap_or(0);
    assert_eq!(n, 0);
}

async fn chat_at(base: &str, body: serde_json::Value) -> switchyard_tests::proxy::Reply {
    send_with("POST", &format!("{base}/v1/chat/completions"), &[], body.to_string()).await
}
