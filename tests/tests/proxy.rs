//! The proxy over real sockets: a cascade with real plugins in front of the simulated
//! upstream, fallbacks on every kind of upstream failure, streaming both ways, pass-through
//! of unknown fields, transparency headers, decision records and error shapes.

use serde_json::json;
use switchyard::telemetry::decision::{AttemptOutcome, PlanSource};
use switchyard_tests::proxy::{Proxy, chat, closed_port, render, send, simulator};

/// Two simulated models behind a cascade with the first-party plugins.
const CASCADE: &str = r#"
[telemetry]
decision_log = "off"
[providers.sim]
base_url = "{SIM}"
max_retries = 0
[models.small]
provider = "sim"
upstream = "sim-small"
tier = 0
input_price = 0.15
output_price = 0.6
tags = ["json"]
[models.large]
provider = "sim"
upstream = "sim-large"
tier = 1
input_price = 2.5
output_price = 10.0
tags = ["json"]
[models.echo]
provider = "sim"
upstream = "echo"
tier = 9
input_price = 0.0
output_price = 0.0
[plugins.complexity]
deadline_ms = 2000
kind = "classifier"
path = "{GUEST:COMPLEXITY}"
[plugins.cascade]
deadline_ms = 2000
kind = "policy"
path = "{GUEST:CASCADE}"
config = { start_tier = 1, start_threshold = 0.95, max_tier = 1 }
[plugins.sanity]
deadline_ms = 2000
kind = "gate"
path = "{GUEST:SANITY}"
[plugins.json]
deadline_ms = 2000
kind = "gate"
path = "{GUEST:JSON_GATE}"
[routes.auto]
classifiers = ["complexity"]
policy = "cascade"
gates = ["sanity", "json"]
default_plan = ["small", "large"]
[routes.plain]
default_plan = ["small", "large"]
"#;

const EASY: &str = "What is the capital of France?";
const HARD: &str = "Prove step by step that the square root of 2 is irrational, then explain why the proof generalises to every prime.";

fn ask(model: &str, text: &str) -> serde_json::Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

async fn cascade_proxy() -> Proxy {
    Proxy::start(&render(CASCADE, simulator().await)).await
}

#[tokio::test]
async fn a_cascade_escalates_when_a_gate_fails_and_not_when_it_passes() {
    let proxy = cascade_proxy().await;

    let easy = chat(&proxy, ask("auto", EASY)).await;
    assert_eq!(easy.status, 200, "{:?}", easy.body);
    assert_eq!(easy.header("x-switchyard-model"), "small");
    assert_eq!(easy.header("x-switchyard-attempts"), "1");
    assert_eq!(easy.json()["model"], "small", "the body names the model that answered");

    let hard = chat(&proxy, ask("auto", HARD)).await;
    assert_eq!(hard.status, 200);
    assert_eq!(hard.header("x-switchyard-model"), "large");
    assert_eq!(hard.header("x-switchyard-attempts"), "2");
    assert_eq!(hard.header("x-switchyard-route"), "auto");
    assert!(hard.header("x-switchyard-reason").contains("cheapest-first"), "{}", hard.header("x-switchyard-reason"));
    let cost: f64 = hard.header("x-switchyard-cost-usd").parse().unwrap();
    assert!(cost > 0.0);

    let record = proxy.record(hard.header("x-switchyard-request-id")).await;
    assert_eq!(record.route.as_deref(), Some("auto"));
    assert_eq!(record.plan.source, PlanSource::Policy);
    assert_eq!(record.plan.steps, ["small", "large"]);
    assert_eq!(record.classifiers[0].plugin, "complexity");
    assert!(record.classifiers[0].signals.iter().any(|s| s.name == "complexity.score"));
    assert_eq!(record.policy.as_ref().unwrap().plugin, "cascade");
    assert_eq!(record.attempts.len(), 2);
    let first = &record.attempts[0];
    assert_eq!((first.model.as_str(), first.outcome), ("small", AttemptOutcome::Escalated));
    assert!(first.gates.iter().any(|g| g.verdict == "escalate" && g.reason.is_some()), "{:?}", first.gates);
    assert!(first.input_tokens > 0 && first.output_tokens > 0 && first.cost_usd > Some(0.0));
    assert_eq!(record.attempts[1].outcome, AttemptOutcome::Returned);
    assert_eq!(record.outcome.model.as_deref(), Some("large"));
    assert_eq!(record.outcome.http_status, 200);
    assert!((record.cost_usd.unwrap() - cost).abs() < 1e-6, "header and record agree on the cost");
    assert!(record.latency_ms > 0.0 && record.snapshot == 1);
    let trail = hard.header("x-switchyard-trail");
    assert!(trail.starts_with("small=escalated(sanity: ") && trail.ends_with(", large=returned"), "{trail}");
    assert_eq!(easy.header("x-switchyard-trail"), "small=returned");
}

/// A plain gateway with unpriced models, and a route whose policy may plan only some models.
#[tokio::test]
async fn unpriced_models_report_unknown_cost_and_routes_bound_their_models() {
    let sim = simulator().await;
    let config = render(
        r#"
[telemetry]
decision_log = "off"
[providers.sim]
base_url = "{SIM}"
[models.free-form]
provider = "sim"
upstream = "sim-small"
[models.small]
provider = "sim"
upstream = "sim-small"
input_price = 0.15
output_price = 0.6
[models.large]
provider = "sim"
upstream = "sim-large"
tier = 1
input_price = 2.5
output_price = 10.0
[plugins.echo]
kind = "policy"
path = "{GUEST:BAD_POLICY}"
config = { mode = "echo" }
[routes.bounded]
policy = "echo"
models = ["large"]
default_plan = ["large"]
"#,
        sim,
    );
    let proxy = Proxy::start(&config).await;

    let unpriced = chat(&proxy, ask("free-form", EASY)).await;
    assert_eq!(unpriced.status, 200, "{}", String::from_utf8_lossy(&unpriced.body));
    assert_eq!(unpriced.header("x-switchyard-cost-usd"), "unknown");
    let record = proxy.record(unpriced.header("x-switchyard-request-id")).await;
    assert_eq!(record.cost_usd, None, "an unpriced model's cost is unknown, not zero");
    assert_eq!(record.attempts[0].cost_usd, None);
    assert!(record.attempts[0].input_tokens > 0, "tokens are still counted");

    // The echo policy plans every model it is shown, in table order: the route shows it only
    // `large`, so that is the whole plan.
    let bounded = chat(&proxy, ask("bounded", EASY)).await;
    assert_eq!(bounded.status, 200);
    let record = proxy.record(bounded.header("x-switchyard-request-id")).await;
    assert_eq!(record.plan.source, PlanSource::Policy);
    assert_eq!(record.plan.steps, ["large"]);
    assert_eq!(bounded.header("x-switchyard-model"), "large");
    let cost: f64 = bounded.header("x-switchyard-cost-usd").parse().unwrap();
    assert!(cost > 0.0);
}

#[tokio::test]
async fn json_requests_are_checked_by_the_json_gate() {
    let proxy = cascade_proxy().await;
    let mut body = ask(
        "auto",
        "Describe a cat as a JSON object with name, age and hobbies, and explain each field in detail step by step.",
    );
    body["response_format"] = json!({"type": "json_object"});
    let reply = chat(&proxy, body).await;
    assert_eq!(reply.status, 200);
    let content = reply.json()["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    assert!(
        serde_json::from_str::<serde_json::Value>(&content).is_ok(),
        "the answer returned is valid JSON: {content}"
    );
}

#[tokio::test]
async fn a_concrete_model_goes_straight_through_without_plugins() {
    let proxy = cascade_proxy().await;
    let reply = chat(&proxy, ask("large", HARD)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-switchyard-model"), "large");
    assert_eq!(reply.header("x-switchyard-route"), "");
    let record = proxy.record(reply.header("x-switchyard-request-id")).await;
    assert_eq!(record.plan.source, PlanSource::Direct);
    assert!(record.classifiers.is_empty() && record.policy.is_none());
    assert!(record.attempts[0].gates.is_empty());
}

#[tokio::test]
async fn unknown_fields_pass_through_and_model_is_rewritten() {
    let proxy = cascade_proxy().await;
    let body = json!({
        "model": "echo",
        "messages": [{"role": "user", "content": "hi"}],
        "seed": 7, "user": "u-1", "tool_choice": "auto", "logit_bias": {"50256": -100},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "response_format": {"type": "text"}, "x_vendor_extension": {"nested": [1, 2, 3]}
    });
    let reply = chat(&proxy, body.clone()).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let content = reply.json()["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    let received: serde_json::Value = serde_json::from_str(&content).unwrap();
    for field in
        ["seed", "user", "tool_choice", "logit_bias", "tools", "response_format", "x_vendor_extension", "messages"]
    {
        assert_eq!(received[field], body[field], "field {field} reached the upstream untouched");
    }
    assert_eq!(received["model"], "echo", "model is rewritten to the upstream name");
}

/// A route whose first step fails in a given way and whose second step answers.
async fn fallback_proxy(first_upstream: &str, provider_extra: &str) -> (Proxy, String) {
    let sim = simulator().await;
    let config = format!(
        r#"
[telemetry]
decision_log = "off"
[providers.sim]
base_url = "http://{sim}/v1"
max_retries = 0
[providers.bad]
base_url = "http://{sim}/v1"
max_retries = 0
{provider_extra}
[models.first]
provider = "bad"
upstream = "{first_upstream}"
input_price = 1.0
output_price = 1.0
[models.good]
provider = "sim"
upstream = "sim-large"
input_price = 1.0
output_price = 1.0
[routes.auto]
default_plan = ["first", "good"]
"#
    );
    (Proxy::start(&config).await, first_upstream.to_string())
}

async fn assert_falls_back(proxy: &Proxy, stream: bool, expect_error: &str) {
    let mut body = ask("auto", EASY);
    body["stream"] = json!(stream);
    let reply = chat(proxy, body).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header("x-switchyard-model"), "good");
    let record = proxy.record(reply.header("x-switchyard-request-id")).await;
    let first = &record.attempts[0];
    assert!(matches!(first.outcome, AttemptOutcome::UpstreamError | AttemptOutcome::DeadlineExceeded), "{first:?}");
    let error = first.error.as_deref().unwrap_or_default();
    assert!(error.contains(expect_error), "attempt error {error:?} should mention {expect_error:?}");
    assert_eq!(record.attempts[1].outcome, AttemptOutcome::Returned);
    assert_eq!(record.outcome.model.as_deref(), Some("good"));
}

#[tokio::test]
async fn falls_back_on_500_502_503() {
    for upstream in ["fail-500", "fail-502", "fail-503"] {
        let (proxy, _) = fallback_proxy(upstream, "").await;
        assert_falls_back(&proxy, false, &upstream[5..]).await;
        assert_falls_back(&proxy, true, &upstream[5..]).await;
    }
}

#[tokio::test]
async fn falls_back_on_429() {
    let (proxy, _) = fallback_proxy("fail-429", "").await;
    assert_falls_back(&proxy, false, "429").await;
}

#[tokio::test]
async fn falls_back_on_connection_refused() {
    let port = closed_port();
    let sim = simulator().await;
    let config = format!(
        r#"
[telemetry]
decision_log = "off"
[providers.down]
base_url = "http://127.0.0.1:{port}/v1"
max_retries = 0
[providers.sim]
base_url = "http://{sim}/v1"
[models.first]
provider = "down"
input_price = 1.0
output_price = 1.0
[models.good]
provider = "sim"
upstream = "sim-large"
input_price = 1.0
output_price = 1.0
[routes.auto]
default_plan = ["first", "good"]
"#
    );
    let proxy = Proxy::start(&config).await;
    assert_falls_back(&proxy, false, "connect").await;
    assert_falls_back(&proxy, true, "connect").await;
}

#[tokio::test]
async fn falls_back_on_timeout_reset_and_broken_bodies() {
    let (proxy, _) = fallback_proxy("hang", "timeout_ms = 300").await;
    let started = std::time::Instant::now();
    assert_falls_back(&proxy, false, "timed out").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    for (upstream, error) in [("reset", "connect"), ("bad-json", "protocol"), ("no-choices", "protocol")] {
        let (proxy, _) = fallback_proxy(upstream, "").await;
        assert_falls_back(&proxy, false, error).await;
    }
}

#[tokio::test]
async fn every_step_failing_is_a_502_naming_what_was_tried() {
    let sim = simulator().await;
    let config = format!(
        r#"
[telemetry]
decision_log = "off"
[providers.sim]
base_url = "http://{sim}/v1"
max_retries = 0
[models.a]
provider = "sim"
upstream = "fail-500"
input_price = 1.0
output_price = 1.0
[models.b]
provider = "sim"
upstream = "fail-503"
input_price = 1.0
output_price = 1.0
[routes.auto]
default_plan = ["a", "b"]
"#
    );
    let proxy = Proxy::start(&config).await;
    let reply = chat(&proxy, ask("auto", EASY)).await;
    assert_eq!(reply.status, 502);
    let error = &reply.json()["error"];
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("a:") && message.contains("b:") && message.contains("500") && message.contains("503"),
        "{message}"
    );
    assert_eq!(error["code"], "no_route_answered");
    let record = proxy.record(reply.header("x-switchyard-request-id")).await;
    assert_eq!(record.outcome.status, "error");
    assert_eq!(record.outcome.http_status, 502);
}

#[tokio::test]
async fn streaming_passes_straight_through_without_gates() {
    let proxy = cascade_proxy().await;
    let mut body = ask("plain", EASY);
    body["stream"] = json!(true);
    let reply = chat(&proxy, body).await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("content-type").starts_with("text/event-stream"));
    assert_eq!(reply.header("x-switchyard-stream"), "passthrough");
    let data = reply.sse_data();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert!(data.len() > 2);
    for chunk in &data[..data.len() - 1] {
        let chunk: serde_json::Value = serde_json::from_str(chunk).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "small");
        assert!(chunk.get("usage").is_none(), "usage is not sent unless the client asked");
    }
    assert!(!reply.sse_content().is_empty());
    let record = proxy.record(reply.header("x-switchyard-request-id")).await;
    assert!(!record.attempts[0].buffered);
    assert!(record.attempts[0].output_tokens > 0, "usage was collected for the cost");
}

#[tokio::test]
async fn streaming_with_gates_buffers_judged_steps() {
    let proxy = cascade_proxy().await;
    // Accepted at the first step: the buffered answer is replayed.
    let mut body = ask("auto", EASY);
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let easy = chat(&proxy, body).await;
    assert_eq!(easy.header("x-switchyard-stream"), "buffered");
    assert_eq!(easy.header("x-switchyard-model"), "small");
    let data = easy.sse_data();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert!(data.iter().any(|d| d.contains("\"usage\"")), "the client asked for usage");
    let record = proxy.record(easy.header("x-switchyard-request-id")).await;
    assert!(record.attempts[0].buffered);

    // Escalated: nothing of the small model's answer reaches the client; large streams through.
    let mut body = ask("auto", HARD);
    body["stream"] = json!(true);
    let hard = chat(&proxy, body).await;
    assert_eq!(hard.header("x-switchyard-model"), "large");
    assert_eq!(hard.header("x-switchyard-stream"), "passthrough");
    assert_eq!(hard.header("x-switchyard-attempts"), "2");
    for chunk in hard.sse_data().iter().filter(|d| *d != "[DONE]") {
        assert!(chunk.contains("\"model\":\"large\""), "{chunk}");
    }
    let record = proxy.record(hard.header("x-switchyard-request-id")).await;
    assert_eq!(record.attempts[0].outcome, AttemptOutcome::Escalated);
    assert!(record.attempts[0].buffered && !record.attempts[1].buffered);
}

#[tokio::test]
async fn a_stream_cut_midway_ends_with_an_error_event() {
    let (proxy, _) = fallback_proxy("cut-stream", "").await;
    // A single-step plan: nothing to fall back to once bytes have been sent.
    let mut body = ask("first", EASY);
    body["stream"] = json!(true);
    let reply = chat(&proxy, body).await;
    assert_eq!(reply.status, 200);
    let data = reply.sse_data();
    assert!(data.last().is_some_and(|d| d.contains("\"error\"")), "{data:?}");
    let record = proxy.record(reply.header("x-switchyard-request-id")).await;
    assert_eq!(record.attempts[0].outcome, AttemptOutcome::StreamBroken);
}

#[tokio::test]
async fn client_errors_come_back_in_openai_shape() {
    let proxy = cascade_proxy().await;
    let url = format!("{}/v1/chat/completions", proxy.base);
    let cases: Vec<(String, u16, Option<&str>)> = vec![
        ("{not json".into(), 400, None),
        (r#"{"model":"auto"}"#.into(), 400, Some("messages")),
        (r#"{"model":"auto","messages":[]}"#.into(), 400, Some("messages")),
        (r#"{"model":"auto","messages":[{"role":"user","content":7}]}"#.into(), 400, Some("messages[0].content")),
        (r#"{"messages":[{"role":"user","content":"x"}]}"#.into(), 400, Some("model")),
        (r#"{"model":"gpt-17","messages":[{"role":"user","content":"x"}]}"#.into(), 404, Some("model")),
        (
            format!(r#"{{"model":"auto","messages":[{{"role":"user","content":"{}"}}]}}"#, "x".repeat(5 << 20)),
            413,
            None,
        ),
    ];
    for (body, status, param) in cases {
        let reply = send("POST", &url, body).await;
        assert_eq!(reply.status.as_u16(), status, "{}", String::from_utf8_lossy(&reply.body));
        let error = &reply.json()["error"];
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(error["type"].is_string());
        if let Some(param) = param {
            assert_eq!(error["param"], param);
        }
    }
    let reply = send("GET", &url, "").await;
    assert_eq!(reply.status, 405);
    assert!(reply.json()["error"]["message"].is_string());
    let reply = send("GET", &format!("{}/v2/nothing", proxy.base), "").await;
    assert_eq!(reply.status, 404);
    assert!(reply.json()["error"]["message"].is_string());
}

#[tokio::test]
async fn models_health_and_metrics_endpoints() {
    let proxy = cascade_proxy().await;
    let models = send("GET", &format!("{}/v1/models", proxy.base), "").await.json();
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    for id in ["auto", "plain", "small", "large", "echo"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    assert_eq!(send("GET", &format!("{}/healthz", proxy.base), "").await.status, 200);
    chat(&proxy, ask("auto", HARD)).await;
    let metrics = String::from_utf8(send("GET", &format!("{}/metrics", proxy.base), "").await.body.to_vec()).unwrap();
    for needle in [
        r#"switchyard_requests_total{route="auto",model="large",outcome="ok"} 1"#,
        r#"switchyard_escalations_total{route="auto",model="small"} 1"#,
        "switchyard_plugin_call_duration_seconds_count{plugin=\"complexity\",kind=\"classifier\"} 1",
        "switchyard_upstream_request_duration_seconds_count{model=\"small\"} 1",
        "switchyard_tokens_total{model=\"large\",direction=\"output\"}",
        "switchyard_cost_usd_total{route=\"auto\",model=\"large\"}",
    ] {
        assert!(metrics.contains(needle), "missing {needle}\n{metrics}");
    }
}
