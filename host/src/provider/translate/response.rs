//! A complete answer in the other dialect: an Anthropic `message` as an OpenAI
//! `chat.completion`, and back.

use serde_json::{Map, Value, json};

use super::json::openai_text;
use super::stop::{Tokens, finish_reason, stop_reason};

/// An Anthropic `message` object as an OpenAI `chat.completion` (`created` in Unix seconds).
/// Thinking blocks have no OpenAI form and are left out; text blocks are joined.
pub fn to_openai(message: &Value, created: u64) -> Value {
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in message.get("content").and_then(Value::as_array).into_iter().flatten() {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => calls.push(json!({
                "id": block.get("id").cloned().unwrap_or(json!("")),
                "type": "function",
                "function": {
                    "name": block.get("name").cloned().unwrap_or(json!("")),
                    "arguments": block.get("input").map_or_else(|| "{}".to_string(), Value::to_string),
                },
            })),
            _ => {}
        }
    }
    let reason = message.get("stop_reason").and_then(Value::as_str).map(finish_reason);
    let mut msg = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
        "refusal": null,
    });
    if !calls.is_empty() {
        msg["tool_calls"] = Value::Array(calls);
    }
    let mut out = json!({
        "id": message.get("id").cloned().unwrap_or(json!("")),
        "object": "chat.completion",
        "created": created,
        "model": message.get("model").cloned().unwrap_or(json!("")),
        "choices": [{"index": 0, "message": msg, "logprobs": null, "finish_reason": reason}],
    });
    if let Some(tokens) = message.get("usage").and_then(Tokens::from_anthropic) {
        out["usage"] = tokens.openai();
    }
    out
}

/// An OpenAI `chat.completion` as an Anthropic `message`.
pub fn to_anthropic(completion: &Value) -> Value {
    let choice = completion.pointer("/choices/0");
    let message = choice.and_then(|c| c.get("message"));
    let mut content = Vec::new();
    let text = openai_text(message.and_then(|m| m.get("content")));
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    let refusal = message.and_then(|m| m.get("refusal")).and_then(Value::as_str).filter(|r| !r.is_empty());
    if let Some(refusal) = refusal {
        content.push(json!({"type": "text", "text": refusal}));
    }
    for call in message.and_then(|m| m.get("tool_calls")).and_then(Value::as_array).into_iter().flatten() {
        content.push(tool_use(call));
    }
    let finish = choice.and_then(|c| c.get("finish_reason")).and_then(Value::as_str);
    let stop = match (refusal, finish) {
        (Some(_), _) => Some("refusal"),
        (None, Some(f)) => Some(stop_reason(f)),
        (None, None) => None,
    };
    let tokens = completion.get("usage").and_then(Tokens::from_openai).unwrap_or_default();
    json!({
        "id": message_id(completion.get("id").and_then(Value::as_str).unwrap_or_default()),
        "type": "message",
        "role": "assistant",
        "model": completion.get("model").cloned().unwrap_or(json!("")),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": tokens.anthropic(),
    })
}

/// An OpenAI tool call as a `tool_use` block (arguments that are not a JSON object are
/// kept as text under one key: Messages requires an object).
pub(crate) fn tool_use(call: &Value) -> Value {
    let function = call.get("function");
    let arguments = function.and_then(|f| f.get("arguments")).and_then(Value::as_str).unwrap_or("{}");
    let input = match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ if arguments.trim().is_empty() => Value::Object(Map::new()),
        _ => json!({"arguments": arguments}),
    };
    json!({
        "type": "tool_use",
        "id": call.get("id").and_then(Value::as_str).unwrap_or_default(),
        "name": function.and_then(|f| f.get("name")).and_then(Value::as_str).unwrap_or_default(),
        "input": input,
    })
}

/// An Anthropic-style message id for an OpenAI completion id.
pub(crate) fn message_id(id: &str) -> String {
    if id.starts_with("msg_") { id.to_string() } else { format!("msg_{id}") }
}
