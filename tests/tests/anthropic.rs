//! Anthropic's Messages API through the proxy, on real sockets: Anthropic clients reaching
//! OpenAI-compatible and Anthropic-dialect models, OpenAI clients reaching Anthropic-dialect
//! models, cascades and fallbacks that cross dialects within one request, same-dialect
//! passthrough that keeps every field, tool use, and errors in Anthropic's shape. The
//! simulator serves both dialects (`/v1/chat/completions` and `/v1/messages`).

use serde_json::{Value, json};
use switchyard_tests::proxy::{Proxy, Reply, render, send_with, simulator};

const CONFIG: &str = r#"
[telemetry]
decision_log = "off"
[providers.sim]
base_url = "{SIM}"
[providers.claude]
kind = "anthropic"
base_url = "{SIM}"
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
[models.echo]
provider = "sim"
upstream = "echo"
input_price = 0.0
output_price = 0.0
[models.broken]
provider = "sim"
upstream = "fail-503"
input_price = 0.0
output_price = 0.0
[models.claude-small]
provider = "claude"
upstream = "sim-small"
input_price = 0.1
output_price = 0.1
[models.claude-large]
provider = "claude"
upstream = "sim-large"
tier = 1
input_price = 1.0
output_price = 1.0
[models.claude-echo]
provider = "claude"
upstream = "echo"
input_price = 0.0
output_price = 0.0
[models.claude-broken]
provider = "claude"
upstream = "fail-503"
input_price = 0.0
output_price = 0.0
[plugins.sanity]
kind = "gate"
path = "{GUEST:SANITY}"
deadline_ms = 2000
[routes.auto]
gates = ["sanity"]
default_plan = ["small", "large"]
[routes.mixed]
gates = ["sanity"]
default_plan = ["claude-small", "large"]
[routes.fallback]
default_plan = ["broken", "claude-large"]
[routes.back]
default_plan = ["claude-broken", "small"]
"#;

const HARD: &str = "Prove step by step that the square root of 2 is irrational, then explain why the proof generalises to every prime.";
const VERSION: (&str, &str) = ("anthropic-version", "2023-06-01");

async fn proxy() -> Proxy {
    Proxy::start(&render(CONFIG, simulator().await)).await
}

async fn messages(proxy: &Proxy, body: Value) -> Reply {
    send_with("POST", &format!("{}/v1/messages", proxy.base), &[VERSION], body.to_string()).await
}

fn ask(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 256, "stream": stream, "messages": [{"role": "user", "content": text}]})
}

/// The `(event, data)` pairs of an Anthropic SSE body, checking each `event:` matches its
/// data's `type`.
fn events(reply: &Reply) -> Vec<(String, Value)> {
    let text = String::from_utf8_lossy(&reply.body);
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|event| {
            let name = event.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or_else(|| panic!("{text}"));
            let data = event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or_else(|| panic!("{text}"));
            let data: Value = serde_json::from_str(data).unwrap();
            assert_eq!(data["type"], name, "{event}");
            (name.to_string(), data)
        })
        .collect()
}

fn streamed_text(events: &[(String, Value)]) -> String {
    events.iter().filter_map(|(_, d)| d.pointer("/delta/text").and_then(Value::as_str)).collect()
}

/// Checks the order Anthropic's API guarantees.
fn check_sequence(events: &[(String, Value)]) {
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"), "{names:?}");
    assert_eq!(names.last(), Some(&"message_stop"), "{names:?}");
    assert_eq!(names[names.len() - 2], "message_delta", "{names:?}");
    assert!(names.contains(&"ping"), "{names:?}");
    let mut open: Option<u64> = None;
    let mut next = 0;
    for (name, data) in events {
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "{names:?}");
                assert_eq!(data["index"], next);
                open = Some(next);
            }
            "content_block_delta" => assert_eq!(Some(data["index"].as_u64().unwrap()), open),
            "content_block_stop" => {
                assert_eq!(Some(data["index"].as_u64().unwrap()), open);
                open = None;
                next += 1;
            }
            "message_delta" => {
                assert_eq!(open, None);
                assert!(data.pointer("/delta/stop_reason").is_some_and(Value::is_string), "{data}");
                assert!(data.pointer("/usage/output_tokens").is_some_and(Value::is_u64), "{data}");
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_clients_reach_models_of_both_dialects() {
    let proxy = proxy().await;
    for model in ["small", "claude-small"] {
        let reply = messages(&proxy, ask(model, "What is the capital of France?", false)).await;
        assert_eq!(reply.status, 200, "{model}: {}", String::from_utf8_lossy(&reply.body));
        let m = reply.json();
        assert_eq!((m["type"].as_str(), m["role"].as_str()), (Some("message"), Some("assistant")), "{m}");
        assert_eq!(m["model"], model);
        assert!(m["id"].as_str().unwrap().starts_with("msg_"), "{m}");
        assert!(!m["content"][0]["text"].as_str().unwrap().is_empty(), "{m}");
        assert_eq!(m["stop_reason"], "end_turn");
        assert!(m["usage"]["input_tokens"].as_u64().unwrap() > 0 && m["usage"]["output_tokens"].as_u64().unwrap() > 0);
        assert_eq!(reply.header("x-switchyard-model"), model);
        let record = proxy.record(reply.header("x-switchyard-request-id")).await;
        assert_eq!(record.attempts.len(), 1);

        let reply = messages(&proxy, ask(model, "What is the capital of France?", true)).await;
        assert_eq!(reply.status, 200);
        assert!(reply.header("content-type").starts_with("text/event-stream"));
        let events = events(&reply);
        check_sequence(&events);
        assert_eq!(events[0].1["message"]["model"], model);
        assert!(!streamed_text(&events).is_empty());
        assert_eq!(reply.header("x-switchyard-stream"), "passthrough");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_clients_reach_anthropic_models() {
    let proxy = proxy().await;
    let chat = |stream: bool| {
        json!({"model": "claude-small", "stream": stream, "stream_options": {"include_usage": true},
               "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi."}]})
    };
    let url = format!("{}/v1/chat/completions", proxy.base);
    let reply = send_with("POST", &url, &[], chat(false).to_string()).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let c = reply.json();
    assert_eq!(c["object"], "chat.completion");
    assert_eq!(c["model"], "claude-small");
    assert_eq!(c["choices"][0]["finish_reason"], "stop");
    assert!(!c["choices"][0]["message"]["content"].as_str().unwrap().is_empty());
    assert!(c["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let reply = send_with("POST", &url, &[], chat(true).to_string()).await;
    assert_eq!(reply.status, 200);
    let data = reply.sse_data();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert!(!reply.sse_content().is_empty());
    let chunks: Vec<Value> = data.iter().filter(|d| *d != "[DONE]").map(|d| serde_json::from_str(d).unwrap()).collect();
    assert!(chunks.iter().all(|c| c["model"] == "claude-small" && c["object"] == "chat.completion.chunk"));
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"));
    assert!(chunks.iter().any(|c| c["usage"]["completion_tokens"].as_u64().is_some_and(|n| n > 0)));

    // What the Anthropic upstream received: a Messages body, translated.
    let body = json!({"model": "claude-echo", "max_tokens": 99, "temperature": 1.5,
                      "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi."}]});
    let reply = send_with("POST", &url, &[], body.to_string()).await;
    let sent: Value = serde_json::from_str(reply.json()["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(sent["model"], "echo");
    assert_eq!(sent["max_tokens"], 99);
    assert_eq!(sent["temperature"], 1.0);
    assert_eq!(sent["system"], json!([{"type": "text", "text": "Be brief."}]));
    assert_eq!(sent["messages"], json!([{"role": "user", "content": [{"type": "text", "text": "Say hi."}]}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_dialect_passthrough_keeps_every_field() {
    let proxy = proxy().await;
    let body = json!({
        "model": "claude-echo", "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 512},
        "metadata": {"user_id": "session-42"},
        "stop_sequences": ["</done>"],
        "tool_choice": {"type": "any"},
        "tools": [{"name": "bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
                   "cache_control": {"type": "ephemeral"}},
                  {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "ls", "cache_control": {"type": "ephemeral"}}]}],
        "a_field_from_next_year": {"nested": [1, 2, 3]}
    });
    let reply = send_with(
        "POST",
        &format!("{}/v1/messages", proxy.base),
        &[VERSION, ("anthropic-beta", "interleaved-thinking-2025-05-14")],
        body.to_string(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let m = reply.json();
    assert_eq!(m["model"], "claude-echo");
    let sent: Value = serde_json::from_str(m["content"][0]["text"].as_str().unwrap()).unwrap();
    let mut expected = body.clone();
    expected["model"] = json!("echo");
    expected["stream"] = json!(false);
    assert_eq!(sent, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_plan_steps_across_dialects() {
    let proxy = proxy().await;
    // A gated cascade: the Anthropic-dialect small model escalates to the OpenAI-dialect
    // large one, for both clients, plain and streamed.
    for stream in [false, true] {
        let reply = messages(&proxy, ask("mixed", HARD, stream)).await;
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        assert_eq!((reply.header("x-switchyard-model"), reply.header("x-switchyard-attempts")), ("large", "2"));
        if stream {
            let events = events(&reply);
            check_sequence(&events);
            assert_eq!(events[0].1["message"]["model"], "large");
            assert!(!streamed_text(&events).is_empty());
        } else {
            assert_eq!(reply.json()["model"], "large");
        }
        let url = format!("{}/v1/chat/completions", proxy.base);
        let body = json!({"model": "mixed", "stream": stream, "messages": [{"role": "user", "content": HARD}]});
        let reply = send_with("POST", &url, &[], body.to_string()).await;
        assert_eq!((reply.header("x-switchyard-model"), reply.header("x-switchyard-attempts")), ("large", "2"));
    }
    // Fallbacks on upstream failure, OpenAI → Anthropic and Anthropic → OpenAI.
    for (route, answered) in [("fallback", "claude-large"), ("back", "small")] {
        for stream in [false, true] {
            let reply = messages(&proxy, ask(route, "Say hi.", stream)).await;
            assert_eq!(reply.status, 200, "{route}: {}", String::from_utf8_lossy(&reply.body));
            assert_eq!(reply.header("x-switchyard-model"), answered);
            if stream {
                check_sequence(&events(&reply));
            }
            let record = proxy.record(reply.header("x-switchyard-request-id")).await;
            assert_eq!(record.attempts.len(), 2, "{route}");
            assert_eq!(record.attempts[0].status, Some(503));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_use_round_trips_through_an_anthropic_model() {
    let proxy = proxy().await;
    let tools = json!([{"name": "get_weather", "description": "Current weather",
                        "input_schema": {"type": "object", "properties": {"city": {"type": "string"},
                                         "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                                         "required": ["city", "unit"]}}]);
    let first = json!({"model": "claude-small", "max_tokens": 200, "tools": tools,
                       "messages": [{"role": "user", "content": "What is the weather in Lisbon right now?"}]});
    let reply = messages(&proxy, first.clone()).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let m = reply.json();
    assert_eq!(m["stop_reason"], "tool_use", "{m}");
    let call = m["content"].as_array().unwrap().iter().find(|b| b["type"] == "tool_use").unwrap().clone();
    assert_eq!(call["name"], "get_weather");
    // The simulator fills a call's required arguments from the prompt (`unit` is optional).
    assert!(call["input"]["city"].is_string(), "{call}");
    assert!(call["input"]["city"].is_string());

    // Streamed: the call's arguments arrive as input_json_delta fragments.
    let mut streamed = first.clone();
    streamed["stream"] = json!(true);
    let events = events(&messages(&proxy, streamed).await);
    check_sequence(&events);
    let args: String =
        events.iter().filter_map(|(_, d)| d.pointer("/delta/partial_json").and_then(Value::as_str)).collect();
    assert_eq!(serde_json::from_str::<Value>(&args).unwrap(), call["input"]);
    assert_eq!(events[events.len() - 2].1["delta"]["stop_reason"], "tool_use");

    // The result goes back; the model answers in text.
    let mut second = first;
    second["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": m["content"]}),
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "18C and sunny"}]}),
    ]);
    for model in ["claude-small", "small"] {
        second["model"] = json!(model);
        let reply = messages(&proxy, second.clone()).await;
        assert_eq!(reply.status, 200, "{model}: {}", String::from_utf8_lossy(&reply.body));
        let m = reply.json();
        assert_eq!(m["stop_reason"], "end_turn", "{model}: {m}");
        assert_eq!(m["content"][0]["type"], "text");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_anthropic_errors() {
    let proxy = proxy().await;
    let url = format!("{}/v1/messages", proxy.base);
    let hi = ask("small", "hi", false);
    let check = |reply: &Reply, status: u16, kind: &str, needle: &str| {
        assert_eq!(reply.status, status, "{}", String::from_utf8_lossy(&reply.body));
        let e = reply.json();
        assert_eq!(e["type"], "error", "{e}");
        assert_eq!(e["error"]["type"], kind, "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(needle), "{e}");
    };
    let reply = send_with("POST", &url, &[("anthropic-version", "2099-01-01")], hi.to_string()).await;
    check(&reply, 400, "invalid_request_error", "2099-01-01");
    check(&messages(&proxy, ask("no-such-model", "hi", false)).await, 404, "not_found_error", "no-such-model");
    check(&send_with("POST", &url, &[VERSION], "{not json").await, 400, "invalid_request_error", "JSON");
    let orphan = json!({"model": "small", "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_ghost", "content": "42"}]}]});
    check(&messages(&proxy, orphan).await, 400, "invalid_request_error", "toolu_ghost");
    let unknown =
        json!({"model": "small", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "hologram"}]}]});
    check(&messages(&proxy, unknown).await, 400, "invalid_request_error", "hologram");
    let schema = json!({"model": "small", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
                        "tools": [{"name": "f", "input_schema": {"type": "array"}}]});
    check(&messages(&proxy, schema).await, 400, "invalid_request_error", "tools.0.input_schema.type");
    check(
        &messages(&proxy, json!({"model": "small", "messages": []})).await,
        400,
        "invalid_request_error",
        "max_tokens",
    );
    check(&send_with("GET", &url, &[VERSION], "").await, 405, "invalid_request_error", "GET");
    // An upstream failure with no step left: Anthropic's shape, transparency headers kept.
    let reply = messages(&proxy, ask("claude-broken", "hi", false)).await;
    check(&reply, 502, "api_error", "claude-broken");
    assert!(!reply.header("x-switchyard-request-id").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_tokens_estimates_the_prompt() {
    let proxy = proxy().await;
    let url = format!("{}/v1/messages/count_tokens", proxy.base);
    let short = json!({"model": "auto", "messages": [{"role": "user", "content": "Hello there"}]});
    let reply = send_with("POST", &url, &[VERSION], short.to_string()).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let n = reply.json()["input_tokens"].as_u64().unwrap();
    assert_eq!(n, 4 + 3); // one message of 11 characters, as the host estimates
    let long = json!({"model": "auto", "system": "x".repeat(400), "messages": [{"role": "user", "content": "Hello there"}],
                      "tools": [{"name": "f", "input_schema": {"type": "object"}}]});
    let more = send_with("POST", &url, &[VERSION], long.to_string()).await.json()["input_tokens"].as_u64().unwrap();
    assert!(more > n + 100, "{more}");
    let reply = send_with(
        "POST",
        &url,
        &[VERSION],
        json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}).to_string(),
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["type"], "not_found_error");
}
