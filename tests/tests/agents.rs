//! Agent traffic through the proxy over real sockets: tool calls judged by gates that
//! understand them (`sanity`, `tool-args`) next to a gate built against contract 0.1.0
//! (`v010-gate`, compiled from source against `wit/0.1.0`), plain and streamed; a buffered
//! stream replayed exactly; bad agent input answered with OpenAI-shaped 400s.

use serde_json::{Value, json};
use switchyard::sim::tools::{Breakage, small_breakage};
use switchyard::telemetry::decision::AttemptOutcome;
use switchyard_tests::proxy::{Proxy, Reply, SIM_MODELS, chat, render, send, simulator};

/// `small` then `large` behind three gates: two of contract 0.2.0 and one of 0.1.0.
const AGENTS: &str = r#"
[plugins.sanity]
deadline_ms = 2000
kind = "gate"
path = "{GUEST:SANITY}"
[plugins.tool-args]
deadline_ms = 2000
kind = "gate"
path = "{GUEST:TOOL_ARGS}"
[plugins.old]
deadline_ms = 2000
kind = "gate"
path = "{GUEST:V010_GATE}"
config = { trigger = "escalate-me" }
[routes.auto]
gates = ["old", "sanity", "tool-args"]
default_plan = ["small", "large"]
"#;

async fn proxy() -> (Proxy, std::net::SocketAddr) {
    let sim = simulator().await;
    (Proxy::start(&render(&format!("{SIM_MODELS}{AGENTS}"), sim)).await, sim)
}

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_time", "description": "Current time in a timezone",
            "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
            "parameters": {"type": "object", "required": ["city"], "properties": {
                "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}}
    ])
}

/// A weather question whose `sim-small` tool call is fine (`None`) or broken as asked.
fn prompt(breakage: Option<Breakage>) -> String {
    (0..200)
        .map(|i| format!("What is the weather in Paris right now? (question {i})"))
        .find(|p| small_breakage(p) == breakage)
        .expect("the simulator breaks about one call in three")
}

fn ask(prompt: &str, stream: bool) -> Value {
    json!({"model": "auto", "stream": stream, "stream_options": {"include_usage": true},
           "tools": tools(), "messages": [{"role": "user", "content": prompt}]})
}

/// The tool calls of a reply, plain or streamed (assembled from the deltas).
fn calls(reply: &Reply, stream: bool) -> Vec<(String, String, String)> {
    if !stream {
        let body = reply.json();
        return body["choices"][0]["message"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let s = |p: &str| c.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
                (s("/id"), s("/function/name"), s("/function/arguments"))
            })
            .collect();
    }
    let mut out: Vec<(String, String, String)> = Vec::new();
    for data in reply.sse_data().iter().filter(|d| *d != "[DONE]") {
        let chunk: Value = serde_json::from_str(data).unwrap();
        for delta in chunk["choices"][0]["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let index = delta["index"].as_u64().unwrap() as usize;
            if out.len() <= index {
                out.resize(index + 1, Default::default());
            }
            let slot = &mut out[index];
            if let Some(id) = delta["id"].as_str() {
                slot.0 = id.to_string();
            }
            if let Some(name) = delta["function"]["name"].as_str() {
                slot.1.push_str(name);
            }
            if let Some(args) = delta["function"]["arguments"].as_str() {
                slot.2.push_str(args);
            }
        }
    }
    out
}

#[tokio::test]
async fn a_valid_tool_call_from_the_cheap_model_is_answered_by_it_plain_and_streamed() {
    let (proxy, _) = proxy().await;
    let prompt = prompt(None);
    for stream in [false, true] {
        let reply = chat(&proxy, ask(&prompt, stream)).await;
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        assert_eq!(reply.header("x-switchyard-model"), "small", "stream={stream}");
        assert_eq!(reply.header("x-switchyard-attempts"), "1");
        let calls = calls(&reply, stream);
        assert_eq!(calls.len(), 1, "stream={stream}");
        assert_eq!(calls[0].1, "get_weather");
        let args: Value = serde_json::from_str(&calls[0].2).unwrap();
        assert_eq!(args, json!({"city": "Paris", "unit": "celsius"}));
        let id = reply.header("x-switchyard-request-id").to_string();
        let record = proxy.record(&id).await;
        let attempt = &record.attempts[0];
        assert_eq!(attempt.outcome, AttemptOutcome::Returned);
        let verdicts: Vec<(&str, &str)> =
            attempt.gates.iter().map(|g| (g.plugin.as_str(), g.verdict.as_str())).collect();
        assert_eq!(verdicts, [("old", "accept"), ("sanity", "accept"), ("tool-args", "accept")], "stream={stream}");
    }
}

#[tokio::test]
async fn a_malformed_tool_call_is_escalated_with_the_tool_and_path_named() {
    let (proxy, _) = proxy().await;
    for (breakage, why) in [
        (Breakage::MissingRequired, "tool `get_weather`: $"),
        (Breakage::WrongType, "tool `get_weather`: $.city"),
        (Breakage::Truncated, "arguments are not valid JSON"),
    ] {
        for stream in [false, true] {
            let reply = chat(&proxy, ask(&prompt(Some(breakage)), stream)).await;
            assert_eq!(reply.status, 200);
            assert_eq!(reply.header("x-switchyard-model"), "large", "{breakage:?} stream={stream}");
            let calls = calls(&reply, stream);
            assert_eq!(calls[0].1, "get_weather");
            assert!(serde_json::from_str::<Value>(&calls[0].2).unwrap()["city"].is_string());
            let record = proxy.record(reply.header("x-switchyard-request-id")).await;
            let first = &record.attempts[0];
            assert_eq!(first.outcome, AttemptOutcome::Escalated);
            let gate = first.gates.iter().find(|g| g.verdict == "escalate").expect("a gate escalated");
            let reason = gate.reason.as_deref().unwrap_or_default();
            // A truncated call is malformed: `sanity` catches it before `tool-args` runs.
            assert!(reason.contains(why), "{breakage:?}: {} said {reason}", gate.plugin);
        }
    }
}

#[tokio::test]
async fn a_buffered_stream_replays_the_upstreams_events_exactly() {
    let (proxy, sim) = proxy().await;
    let prompt = prompt(None);
    let direct = send(
        "POST",
        &format!("http://{sim}/v1/chat/completions"),
        json!({"model": "sim-small", "stream": true, "stream_options": {"include_usage": true},
               "tools": tools(), "messages": [{"role": "user", "content": prompt}]})
        .to_string(),
    )
    .await;
    let proxied = chat(&proxy, ask(&prompt, true)).await;
    assert_eq!(proxied.header("x-switchyard-stream"), "buffered");
    let events = |r: &Reply| -> Vec<Value> {
        r.sse_data()
            .iter()
            .map(|d| match serde_json::from_str::<Value>(d) {
                Ok(mut v) => {
                    v.as_object_mut().unwrap().remove("model");
                    v
                }
                Err(_) => Value::String(d.clone()),
            })
            .collect()
    };
    let (want, got) = (events(&direct), events(&proxied));
    assert!(want.len() > 4, "{want:?}");
    assert_eq!(got, want, "ids, indexes, argument fragments, finish reason and usage replay as sent");
    assert!(proxied.sse_data().iter().filter(|d| *d != "[DONE]").all(|d| d.contains("\"model\":\"small\"")));
}

#[tokio::test]
async fn the_0_1_0_gate_sees_its_old_view_and_still_escalates() {
    let (proxy, _) = proxy().await;
    let reply = chat(
        &proxy,
        json!({"model": "auto", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Name a river, escalate-me please."}]}),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-switchyard-model"), "large");
    let record = proxy.record(reply.header("x-switchyard-request-id")).await;
    let old = &record.attempts[0].gates[0];
    assert_eq!((old.plugin.as_str(), old.verdict.as_str()), ("old", "escalate"));
    let reason = old.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("v0.1.0 saw 2 messages, has-tools false, finish stop"), "{reason}");
    let loaded = proxy.app.snapshot().plugins.get("old").map(|p| p.contract());
    assert_eq!(loaded, Some(switchyard::plugin::Contract::V010));
    assert_eq!(
        proxy.app.snapshot().plugins.get("tool-args").map(|p| p.contract()),
        Some(switchyard::plugin::Contract::V020)
    );
}

#[tokio::test]
async fn a_tool_loop_ends_in_a_text_answer_from_the_cheap_model() {
    let (proxy, _) = proxy().await;
    let prompt = prompt(None);
    let first = chat(&proxy, ask(&prompt, false)).await.json();
    let message = first["choices"][0]["message"].clone();
    let id = message["tool_calls"][0]["id"].as_str().unwrap().to_string();
    let reply = chat(
        &proxy,
        json!({"model": "auto", "tools": tools(), "messages": [
            {"role": "user", "content": prompt}, message,
            {"role": "tool", "tool_call_id": id, "content": "18 degrees and sunny"}]}),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-switchyard-model"), "small");
    let text = reply.json()["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("get_weather") && text.contains("18 degrees and sunny"), "{text}");
}

#[tokio::test]
async fn bad_agent_input_is_a_400_in_openais_shape() {
    let (proxy, _) = proxy().await;
    let user = json!([{"role": "user", "content": "hi"}]);
    for (body, param) in [
        (
            json!({"model": "auto", "messages": user,
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "obj"}}}]}),
            "tools[0].function.parameters",
        ),
        (
            json!({"model": "auto", "messages": [{"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "call_never", "content": "42"}]}),
            "messages[1]",
        ),
        (
            json!({"model": "auto", "messages": [{"role": "user", "content": [{"type": "hologram", "data": "x"}]}]}),
            "messages[0].content[0].type",
        ),
        (
            json!({"model": "auto", "messages": user, "tools": tools(),
                "tool_choice": {"type": "function", "function": {"name": "launch_rockets"}}}),
            "tool_choice",
        ),
    ] {
        let reply = chat(&proxy, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}");
        let error = &reply.json()["error"];
        assert_eq!(error["type"], "invalid_request_error", "{error}");
        assert_eq!(error["param"], param, "{error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}
