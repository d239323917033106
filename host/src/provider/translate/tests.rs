//! The translators, direction by direction, and round trips between them.

use bytes::BytesMut;
use serde_json::{Map, Value, json};

use super::stream_out::Event;
use super::*;
use crate::provider::{Dialect, StreamEvent};

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn agent_request() -> Value {
    json!({
        "model": "auto", "max_tokens": 512, "stream": true, "temperature": 0.2,
        "stop_sequences": ["END"], "metadata": {"user_id": "u-7"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        "tools": [{"name": "get_weather", "description": "Weather for a city",
                   "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Weather in Paris?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18C, sunny"}]},
                {"type": "text", "text": "Thanks, and tomorrow?"}]}
        ],
        "some_future_field": {"kept": true}
    })
}

#[test]
fn a_messages_request_becomes_a_chat_body() {
    let parsed = request_in::parse(agent_request().to_string().as_bytes(), false).unwrap();
    assert_eq!((parsed.model.as_str(), parsed.stream), ("auto", true));
    assert_eq!(parsed.original["some_future_field"], json!({"kept": true}));
    let c = Value::Object(parsed.canonical);
    assert_eq!(c["max_tokens"], 512);
    assert_eq!(c["stop"], json!(["END"]));
    assert_eq!(c["user"], "u-7");
    assert_eq!(c["tool_choice"], "auto");
    assert_eq!(c["parallel_tool_calls"], false);
    assert_eq!(c["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(c["tools"][0]["function"]["parameters"]["required"], json!(["city"]));
    let m = c["messages"].as_array().unwrap();
    assert_eq!(m.len(), 5, "{m:#?}");
    assert_eq!(m[0], json!({"role": "system", "content": "You are terse."}));
    assert_eq!(m[1]["content"][1]["image_url"]["url"], "data:image/png;base64,iVBOR");
    assert_eq!(m[2]["content"], "Checking.");
    assert_eq!(m[2]["tool_calls"][0]["id"], "toolu_1");
    assert_eq!(m[2]["tool_calls"][0]["function"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(m[3], json!({"role": "tool", "tool_call_id": "toolu_1", "content": "18C, sunny"}));
    assert_eq!(m[4], json!({"role": "user", "content": "Thanks, and tomorrow?"}));
    assert!(c.get("thinking").is_none() && c.get("metadata").is_none(), "no OpenAI form: {c}");
}

#[test]
fn bad_messages_requests_name_the_parameter() {
    let cases: &[(Value, &str)] = &[
        (json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}), "max_tokens"),
        (json!({"max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}), "model"),
        (json!({"model": "m", "max_tokens": 5, "messages": []}), "messages"),
        (json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}), "messages.0.role"),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "hologram"}]}]}),
            "messages.0.content.0.type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_never", "content": "x"}]}]}),
            "messages.0.content.0.tool_use_id",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
                "tools": [{"name": "f", "input_schema": {"type": "string"}}]}),
            "tools.0.input_schema.type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
                "tools": [{"name": "f", "input_schema": "{}"}]}),
            "tools.0.input_schema",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
                "tools": [{"name": "bad name!", "input_schema": {"type": "object"}}]}),
            "tools.0.name",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
                "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": {"type": "tool", "name": "g"}}),
            "tool_choice.name",
        ),
        (json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "system": 3}), "system"),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "thinking": {"type": "enabled"}}),
            "thinking.budget_tokens",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/tiff", "data": "x"}}]}]}),
            "messages.0.content.0.source.media_type",
        ),
    ];
    for (body, param) in cases {
        let err = request_in::parse(body.to_string().as_bytes(), false).unwrap_err();
        assert_eq!(err.param.as_deref(), Some(*param), "{body}: {err}");
        assert!(err.message.starts_with(param), "{err}");
    }
    assert!(request_in::parse(b"{nope", false).unwrap_err().message.contains("not valid JSON"));
    assert!(request_in::parse(b"[]", false).is_err());
    // count_tokens bodies have no max_tokens.
    let count = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    assert!(request_in::parse(count.to_string().as_bytes(), true).is_ok());
}

#[test]
fn a_chat_body_becomes_a_messages_request() {
    let body = obj(json!({
        "model": "auto", "max_completion_tokens": 64, "temperature": 1.7, "stop": "END", "user": "u1",
        "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}],
        "tool_choice": "required", "parallel_tool_calls": false,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Really."}]},
            {"role": "user", "content": [{"type": "text", "text": "Look"},
                                        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAA"}},
                                        {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}]},
            {"role": "assistant", "content": null,
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}},
                            {"id": "c2", "type": "function", "function": {"name": "f", "arguments": "not json"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "tool", "tool_call_id": "c2", "content": "two"},
            {"role": "user", "content": "and?"}
        ]
    }));
    let a = Value::Object(request_out::request(&body));
    assert_eq!(a["system"], json!([{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Really."}]));
    assert_eq!(a["max_tokens"], 64);
    assert_eq!(a["temperature"], 1.0);
    assert_eq!(a["stop_sequences"], json!(["END"]));
    assert_eq!(a["metadata"], json!({"user_id": "u1"}));
    assert_eq!(a["tools"][0], json!({"name": "f", "description": "d", "input_schema": {"type": "object"}}));
    assert_eq!(a["tool_choice"], json!({"type": "any", "disable_parallel_tool_use": true}));
    let m = a["messages"].as_array().unwrap();
    assert_eq!(m.len(), 3, "{m:#?}");
    assert_eq!(m[0]["content"][1]["source"], json!({"type": "base64", "media_type": "image/jpeg", "data": "AAA"}));
    assert_eq!(m[0]["content"][2]["source"], json!({"type": "url", "url": "https://x/cat.png"}));
    assert_eq!(m[1]["content"][0]["input"], json!({"a": 1}));
    assert_eq!(m[1]["content"][1]["input"], json!({"arguments": "not json"}));
    // Both tool results and the next user text share one user turn.
    assert_eq!(m[2]["role"], "user");
    assert_eq!(m[2]["content"][0], json!({"type": "tool_result", "tool_use_id": "c1", "content": "one"}));
    assert_eq!(m[2]["content"][2], json!({"type": "text", "text": "and?"}));
    assert!(a.get("model").is_none() && a.get("stream").is_none());
    // No max tokens given: the default, since Messages requires one.
    let bare = request_out::request(&obj(json!({"messages": [{"role": "user", "content": "x"}]})));
    assert_eq!(bare["max_tokens"], DEFAULT_MAX_TOKENS);
}

#[test]
fn a_request_survives_a_round_trip() {
    let original = obj(agent_request());
    let canonical = request_in::canonical(&original, false).unwrap();
    let back = Value::Object(request_out::request(&canonical));
    let m = back["messages"].as_array().unwrap();
    assert_eq!(m.len(), 3);
    assert_eq!(
        m[1]["content"][1],
        json!({"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}})
    );
    assert_eq!(m[2]["content"][0]["tool_use_id"], "toolu_1");
    assert_eq!(back["tool_choice"], json!({"type": "auto", "disable_parallel_tool_use": true}));
    assert_eq!(back["tools"][0]["input_schema"], original["tools"][0]["input_schema"]);
}

#[test]
fn answers_translate_both_ways() {
    let message = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [{"type": "thinking", "thinking": "..", "signature": "s"},
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Oslo"}}],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 7, "cache_read_input_tokens": 90, "cache_creation_input_tokens": 5}
    });
    let openai = response::to_openai(&message, 42);
    assert_eq!(openai["created"], 42);
    assert_eq!(openai["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(openai["choices"][0]["message"]["content"], "Let me check.");
    assert_eq!(openai["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], r#"{"city":"Oslo"}"#);
    assert_eq!(openai["usage"]["prompt_tokens"], 105);
    assert_eq!(openai["usage"]["prompt_tokens_details"]["cached_tokens"], 90);
    let back = response::to_anthropic(&openai);
    assert_eq!(back["stop_reason"], "tool_use");
    assert_eq!(back["content"][0], json!({"type": "text", "text": "Let me check."}));
    assert_eq!(
        back["content"][1],
        json!({"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Oslo"}})
    );
    assert_eq!(back["usage"]["input_tokens"], 10);
    assert_eq!(back["usage"]["cache_creation_input_tokens"], 5);
    assert_eq!(back["usage"]["cache_read_input_tokens"], 90);
    assert_eq!(back["id"], "msg_1");
    for (finish, stop) in
        [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal")]
    {
        assert_eq!(stop::stop_reason(finish), stop);
        assert_eq!(stop::finish_reason(stop), finish);
    }
    assert_eq!(stop::finish_reason("stop_sequence"), "stop");
    assert_eq!(stop::finish_reason("pause_turn"), "stop");
}

#[test]
fn errors_take_anthropics_shape() {
    for (status, kind) in [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
    ] {
        assert_eq!(stop::anthropic_error(status, "m")["error"]["type"], kind);
    }
    let openai = br#"{"error":{"message":"no such model","type":"invalid_request_error","code":"model_not_found"}}"#;
    let e = stop::error_to_anthropic(404, openai).unwrap();
    assert_eq!(e, json!({"type": "error", "error": {"type": "not_found_error", "message": "no such model"}}));
    assert_eq!(stop::error_to_anthropic(500, b"plain"), None);
}

fn openai_chunks() -> Vec<Value> {
    let c = |delta: Value, finish: Value| json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    vec![
        c(json!({"role": "assistant", "content": ""}), Value::Null),
        c(json!({"content": "Hel"}), Value::Null),
        c(json!({"content": "lo"}), Value::Null),
        c(
            json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}]}),
            Value::Null,
        ),
        c(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"x\":"}}]}), Value::Null),
        c(json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}), Value::Null),
        c(
            json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]}),
            Value::Null,
        ),
        c(json!({}), json!("tool_calls")),
        json!({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 5,
               "prompt_tokens_details": {"cached_tokens": 3}}}),
    ]
}

fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.name).collect()
}

#[test]
fn openai_chunks_become_anthropics_event_sequence() {
    let mut t = OpenaiToAnthropic::new("small");
    let mut events = Vec::new();
    for chunk in openai_chunks() {
        t.chunk(&chunk, &mut events);
    }
    assert!(!t.is_finished());
    t.finish(&mut events);
    t.finish(&mut events); // idempotent
    assert_eq!(
        names(&events),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_eq!(events[0].data["message"]["id"], "msg_chatcmpl-1");
    assert_eq!(events[0].data["message"]["model"], "small");
    assert_eq!(events[3].data["delta"], json!({"type": "text_delta", "text": "Hel"}));
    assert_eq!(events[6].data["content_block"], json!({"type": "tool_use", "id": "call_a", "name": "f", "input": {}}));
    assert_eq!(events[6].data["index"], 1);
    assert_eq!(events[7].data["delta"], json!({"type": "input_json_delta", "partial_json": "{\"x\":"}));
    assert_eq!(events[10].data["content_block"]["id"], "call_b");
    assert_eq!(events[10].data["index"], 2);
    assert_eq!(events[13].data["delta"]["stop_reason"], "tool_use");
    assert_eq!(events[13].data["usage"]["output_tokens"], 5);
    assert_eq!(events[13].data["usage"]["input_tokens"], 8);
    assert_eq!(events[13].data["usage"]["cache_read_input_tokens"], 3);
}

#[test]
fn an_empty_openai_stream_still_closes_the_message() {
    let mut t = OpenaiToAnthropic::new("m");
    let mut events = Vec::new();
    t.finish(&mut events);
    assert_eq!(names(&events), ["message_start", "ping", "message_delta", "message_stop"]);
    assert_eq!(events[2].data["delta"]["stop_reason"], "end_turn");
}

#[test]
fn repeated_tool_ids_on_fragments_are_one_call() {
    let mut t = OpenaiToAnthropic::new("m");
    let mut events = Vec::new();
    for args in ["{\"a\"", ":1}"] {
        let chunk = json!({"id": "x", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": args}}]}, "finish_reason": null}]});
        t.chunk(&chunk, &mut events);
    }
    assert_eq!(events.iter().filter(|e| e.name == "content_block_start").count(), 1);
}

fn anthropic_events() -> Vec<Value> {
    vec![
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
               "content": [], "stop_reason": null, "usage": {"input_tokens": 20, "output_tokens": 1, "cache_read_input_tokens": 4}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "ping"}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "On it."}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"q\": "}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "\"x\"}"}}),
        json!({"type": "content_block_stop", "index": 2}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 9}}),
        json!({"type": "message_stop"}),
    ]
}

#[test]
fn anthropic_events_become_openai_chunks() {
    let mut t = AnthropicToOpenai::new(7);
    let mut chunks = Vec::new();
    for event in anthropic_events() {
        t.event(&event, &mut chunks).unwrap();
    }
    assert!(t.is_stopped());
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": ""}));
    assert_eq!(chunks[0]["id"], "msg_1");
    assert_eq!(chunks[0]["created"], 7);
    let content: String = chunks.iter().filter_map(|c| c.pointer("/choices/0/delta/content")?.as_str()).collect();
    assert_eq!(content, "On it.");
    let args: String =
        chunks.iter().filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0/function/arguments")?.as_str()).collect();
    assert_eq!(args, "{\"q\": \"x\"}");
    let start = chunks.iter().find_map(|c| c.pointer("/choices/0/delta/tool_calls/0/id")).unwrap();
    assert_eq!(start, "toolu_1");
    let finish: Vec<&str> = chunks.iter().filter_map(|c| c.pointer("/choices/0/finish_reason")?.as_str()).collect();
    assert_eq!(finish, ["tool_calls"]);
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!((usage["prompt_tokens"].as_u64(), usage["completion_tokens"].as_u64()), (Some(24), Some(9)));
    let err = t.event(&json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}), &mut chunks);
    assert_eq!(err.unwrap_err().to_string(), "overloaded_error: busy");
}

#[test]
fn streams_survive_a_round_trip() {
    let mut out = OpenaiToAnthropic::new("m");
    let mut events = Vec::new();
    for chunk in openai_chunks() {
        out.chunk(&chunk, &mut events);
    }
    out.finish(&mut events);
    let mut back = AnthropicToOpenai::new(0);
    let mut chunks = Vec::new();
    for event in &events {
        back.event(&event.data, &mut chunks).unwrap();
    }
    let content: String = chunks.iter().filter_map(|c| c.pointer("/choices/0/delta/content")?.as_str()).collect();
    assert_eq!(content, "Hello");
    let mut args = ["".to_string(), "".to_string()];
    for c in &chunks {
        if let Some(call) = c.pointer("/choices/0/delta/tool_calls/0") {
            let i = call["index"].as_u64().unwrap() as usize;
            args[i].push_str(call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default());
        }
    }
    assert_eq!(args, ["{\"x\":1}", "{}"]);
    assert_eq!(back.tokens(), stop::Tokens { input: 11, output: 5, cached: 3, cache_written: 0 });
}

fn text(out: &BytesMut) -> String {
    String::from_utf8(out.to_vec()).unwrap()
}

#[test]
fn client_streams_speak_the_clients_dialect() {
    // OpenAI client, OpenAI upstream: the usage chunk asked for on its behalf is dropped.
    let mut w = ClientStream::new(Dialect::Openai, "small", false);
    let mut out = BytesMut::new();
    for chunk in openai_chunks() {
        w.write(StreamEvent::Chunk(chunk), &mut out);
    }
    w.write(StreamEvent::Done, &mut out);
    let body = text(&out);
    assert!(body.ends_with("data: [DONE]\n\n") && !body.contains("usage"), "{body}");
    assert!(body.contains("\"model\":\"small\""));
    // Anthropic client, Anthropic upstream: events pass through with the model renamed.
    let mut w = ClientStream::new(Dialect::Anthropic, "large", true);
    let mut out = BytesMut::new();
    for data in anthropic_events() {
        w.write(StreamEvent::Anthropic { data, chunks: Vec::new() }, &mut out);
    }
    w.done(&mut out);
    let body = text(&out);
    assert!(body.starts_with("event: message_start\ndata: {"), "{body}");
    assert!(body.contains("\"model\":\"large\"") && !body.contains("claude-x"));
    assert!(body.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"), "{body}");
    assert_eq!(body.matches("message_stop").count(), 2, "no second close: {body}");
    // An Anthropic upstream that ends without message_stop: one is added, nothing else.
    let mut w = ClientStream::new(Dialect::Anthropic, "large", true);
    let mut out = BytesMut::new();
    let mut events = anthropic_events();
    events.pop();
    for data in events {
        w.write(StreamEvent::Anthropic { data, chunks: Vec::new() }, &mut out);
    }
    w.done(&mut out);
    let body = text(&out);
    assert_eq!((body.matches("event: message_start").count(), body.matches("event: message_stop").count()), (1, 1));
    // Anthropic client, OpenAI upstream, cut mid-way: an error event ends it.
    let mut w = ClientStream::new(Dialect::Anthropic, "small", true);
    let mut out = BytesMut::new();
    w.write(StreamEvent::Chunk(openai_chunks().remove(1)), &mut out);
    w.error(502, "cut", &json!({"error": {"message": "cut"}}), &mut out);
    w.done(&mut out);
    let body = text(&out);
    assert!(
        body.ends_with(
            "event: error\ndata: {\"error\":{\"message\":\"cut\",\"type\":\"api_error\"},\"type\":\"error\"}\n\n"
        ),
        "{body}"
    );
}
