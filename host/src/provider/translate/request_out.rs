//! A canonical OpenAI chat body as an Anthropic Messages request, for an OpenAI client whose
//! plan reaches an Anthropic-dialect model.
//!
//! `model` and `stream` are left out: the provider sets them. Consecutive messages of one
//! role are merged (Messages alternates user and assistant), tool results become
//! `tool_result` blocks in a user turn, images become image blocks.

use serde_json::{Map, Value, json};

use super::DEFAULT_MAX_TOKENS;
use super::json::openai_text;

/// The Anthropic body for `body` (an OpenAI chat request).
pub fn request(body: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    let mut push = |role: &'static str, blocks: Vec<Value>| {
        if blocks.is_empty() {
            return;
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    };
    for message in body.get("messages").and_then(Value::as_array).into_iter().flatten() {
        let content = message.get("content");
        match message.get("role").and_then(Value::as_str).unwrap_or_default() {
            "system" | "developer" => {
                let text = openai_text(content);
                if !text.is_empty() {
                    system.push(json!({"type": "text", "text": text}));
                }
            }
            "assistant" => {
                let mut blocks = Vec::new();
                let text = openai_text(content);
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                if let Some(refusal) = message.get("refusal").and_then(Value::as_str).filter(|r| !r.is_empty()) {
                    blocks.push(json!({"type": "text", "text": refusal}));
                }
                for call in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                    let function = call.get("function");
                    let arguments = function.and_then(|f| f.get("arguments")).and_then(Value::as_str).unwrap_or("{}");
                    // Messages needs an object; arguments that are not one (a malformed call
                    // from an earlier turn) are kept as text under one key.
                    let input = match serde_json::from_str::<Value>(arguments) {
                        Ok(input @ Value::Object(_)) => input,
                        _ => json!({"arguments": arguments}),
                    };
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": call.get("id").and_then(Value::as_str).unwrap_or_default(),
                        "name": function.and_then(|f| f.get("name")).and_then(Value::as_str).unwrap_or_default(),
                        "input": input,
                    }));
                }
                push("assistant", blocks);
            }
            "tool" | "function" => {
                let id = message.get("tool_call_id").and_then(Value::as_str).unwrap_or_default();
                push("user", vec![json!({"type": "tool_result", "tool_use_id": id, "content": openai_text(content)})]);
            }
            _ => push("user", user_blocks(content)),
        }
    }
    let messages: Vec<Value> =
        turns.into_iter().map(|(role, blocks)| json!({"role": role, "content": blocks})).collect();
    out.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let max_tokens = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64))
        .unwrap_or(DEFAULT_MAX_TOKENS);
    out.insert("max_tokens".into(), json!(max_tokens.max(1)));
    if let Some(t) = body.get("temperature").and_then(Value::as_f64) {
        // OpenAI's range is 0..2, Anthropic's 0..1.
        out.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
    }
    if let Some(p) = body.get("top_p").filter(|v| v.is_number()) {
        out.insert("top_p".into(), p.clone());
    }
    match body.get("stop") {
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(items)) => {
            let items: Vec<Value> = items.iter().filter(|s| s.is_string()).cloned().collect();
            out.insert("stop_sequences".into(), Value::Array(items));
        }
        _ => {}
    }
    let tools: Vec<Value> = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tool| {
            let function = tool.get("function")?;
            let mut out = Map::new();
            out.insert("name".into(), function.get("name")?.clone());
            if let Some(d) = function.get("description").filter(|d| d.is_string()) {
                out.insert("description".into(), d.clone());
            }
            let schema = function
                .get("parameters")
                .filter(|p| p.is_object())
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            out.insert("input_schema".into(), schema);
            Some(Value::Object(out))
        })
        .collect();
    let has_tools = !tools.is_empty();
    if has_tools {
        out.insert("tools".into(), Value::Array(tools));
    }
    let mut choice = match body.get("tool_choice") {
        Some(Value::String(s)) if s == "required" => Some(json!({"type": "any"})),
        Some(Value::String(s)) if s == "none" => Some(json!({"type": "none"})),
        Some(Value::String(s)) if s == "auto" => Some(json!({"type": "auto"})),
        Some(Value::Object(c)) => c
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .map(|name| json!({"type": "tool", "name": name})),
        _ => None,
    };
    if has_tools && body.get("parallel_tool_calls") == Some(&Value::Bool(false)) {
        let choice = choice.get_or_insert_with(|| json!({"type": "auto"}));
        choice["disable_parallel_tool_use"] = json!(true);
    }
    if let Some(choice) = choice.filter(|_| has_tools) {
        out.insert("tool_choice".into(), choice);
    }
    if let Some(user) = body.get("user").and_then(Value::as_str) {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    out
}

/// A user message's content as Anthropic blocks.
fn user_blocks(content: Option<&Value>) -> Vec<Value> {
    match content {
        Some(Value::String(s)) if !s.is_empty() => vec![json!({"type": "text", "text": s})],
        Some(Value::Array(parts)) => parts.iter().filter_map(part).collect(),
        _ => Vec::new(),
    }
}

fn part(part: &Value) -> Option<Value> {
    match part.get("type").and_then(Value::as_str)? {
        "text" => {
            let text = part.get("text").and_then(Value::as_str).filter(|t| !t.is_empty())?;
            Some(json!({"type": "text", "text": text}))
        }
        "image_url" => {
            let url = part.pointer("/image_url/url").and_then(Value::as_str)?;
            Some(json!({"type": "image", "source": source(url)}))
        }
        "file" => {
            let data = part.pointer("/file/file_data").and_then(Value::as_str)?;
            Some(json!({"type": "document", "source": source(data)}))
        }
        // Audio has no Messages form.
        _ => None,
    }
}

/// A URL as a Messages source: `data:` URLs become base64 sources.
fn source(url: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((media, data)) = rest.split_once(";base64,")
    {
        return json!({"type": "base64", "media_type": media, "data": data});
    }
    json!({"type": "url", "url": url})
}
