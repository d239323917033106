//! An Anthropic Messages request, checked and translated into the canonical OpenAI chat
//! body that routing and plugins read (and that an OpenAI-compatible upstream is sent).
//!
//! Only what Switchyard reads or translates is checked; unknown fields stay in the original
//! body, which goes upstream untouched when the chosen model speaks Anthropic. Errors name
//! the parameter the way Anthropic's do (`messages.1.content.0.type: ...`).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::json::{anthropic_text, kind, object};
use crate::provider::tool_schema::{self, SchemaError};

/// A request Switchyard cannot route, with the parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BadRequest {
    pub message: String,
    pub param: Option<String>,
}

fn bad(param: impl Into<String>, message: impl std::fmt::Display) -> BadRequest {
    let param = param.into();
    BadRequest { message: format!("{param}: {message}"), param: Some(param) }
}

/// The content-block types of the Messages API. A type outside this list is refused (as
/// Anthropic's API refuses it) rather than silently dropped.
pub const BLOCK_TYPES: &[&str] = &[
    "text",
    "image",
    "document",
    "search_result",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "mcp_tool_use",
    "mcp_tool_result",
    "container_upload",
];

/// A parsed Messages request: the client's body and its canonical translation.
#[derive(Debug, Clone)]
pub struct AnthropicRequest {
    /// The body as the client sent it (passed upstream to Anthropic-dialect models).
    pub original: Map<String, Value>,
    /// The same request as an OpenAI chat body.
    pub canonical: Map<String, Value>,
    pub model: String,
    pub stream: bool,
}

/// Parses and checks a `POST /v1/messages` body. `count_only` is for `count_tokens`, whose
/// body has no `max_tokens`.
pub fn parse(bytes: &[u8], count_only: bool) -> Result<AnthropicRequest, BadRequest> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| BadRequest { message: format!("The request body is not valid JSON: {e}"), param: None })?;
    let Value::Object(original) = value else {
        return Err(BadRequest { message: "The request body must be a JSON object.".into(), param: None });
    };
    let canonical = canonical(&original, count_only)?;
    let model = canonical.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    let stream = canonical.get("stream").and_then(Value::as_bool).unwrap_or(false);
    Ok(AnthropicRequest { original, canonical, model, stream })
}

/// The canonical OpenAI chat body of a Messages request.
pub fn canonical(body: &Map<String, Value>, count_only: bool) -> Result<Map<String, Value>, BadRequest> {
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        Some(Value::String(_)) | None => return Err(bad("model", "Field required")),
        Some(other) => return Err(bad("model", format!("Input should be a valid string, got {}", kind(other)))),
    };
    let max_tokens = match body.get("max_tokens") {
        None | Some(Value::Null) if count_only => None,
        None | Some(Value::Null) => return Err(bad("max_tokens", "Field required")),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(n),
            _ => return Err(bad("max_tokens", "Input should be an integer greater than or equal to 1")),
        },
    };
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(bad("stream", format!("Input should be a valid boolean, got {}", kind(other)))),
    };
    for field in ["temperature", "top_p", "top_k"] {
        if let Some(v) = body.get(field).filter(|v| !v.is_null()) {
            match v.as_f64() {
                Some(x) if x.is_finite() && (x as f32).is_finite() && x >= 0.0 => {}
                _ => return Err(bad(field, "Input should be a non-negative number")),
            }
        }
    }
    let stop = match body.get("stop_sequences") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Some(Value::Array(items.clone())),
        Some(_) => return Err(bad("stop_sequences", "Input should be a list of strings")),
    };
    if let Some(thinking) = body.get("thinking").filter(|v| !v.is_null()) {
        check_thinking(thinking)?;
    }
    let user = match body.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(meta)) => meta.get("user_id").and_then(Value::as_str).map(|u| json!(u)),
        Some(other) => return Err(bad("metadata", format!("Input should be a valid dictionary, got {}", kind(other)))),
    };
    let (tools, names) = tools(body.get("tools"))?;
    let (mut tool_choice, mut parallel) = tool_choice(body.get("tool_choice"), &names)?;
    if tools.is_none() {
        // Only server tools (or none): OpenAI refuses a tool_choice without tools.
        (tool_choice, parallel) = (None, None);
    }

    let mut messages = Vec::new();
    if let Some(system) = system_text(body.get("system"))? {
        messages.push(json!({"role": "system", "content": system}));
    }
    translate_messages(body.get("messages"), &mut messages)?;

    Ok(object([
        ("model", Some(json!(model))),
        ("messages", Some(Value::Array(messages))),
        ("max_tokens", max_tokens.map(|n| json!(n))),
        ("stream", stream.then_some(json!(true))),
        ("temperature", body.get("temperature").filter(|v| !v.is_null()).cloned()),
        ("top_p", body.get("top_p").filter(|v| !v.is_null()).cloned()),
        ("stop", stop),
        ("tools", tools),
        ("tool_choice", tool_choice),
        ("parallel_tool_calls", parallel),
        ("user", user),
    ]))
}

fn check_thinking(thinking: &Value) -> Result<(), BadRequest> {
    let Some(kind_) = thinking.get("type").and_then(Value::as_str) else {
        return Err(bad("thinking.type", "Field required"));
    };
    match kind_ {
        "enabled" => match thinking.get("budget_tokens").and_then(Value::as_u64) {
            Some(_) => Ok(()),
            None => Err(bad("thinking.budget_tokens", "Field required: an integer when thinking is enabled")),
        },
        "disabled" | "adaptive" => Ok(()),
        other => Err(bad("thinking.type", format!("Input should be 'enabled' or 'disabled', got {other:?}"))),
    }
}

/// `system`: a string or a list of text blocks (which may carry `cache_control`).
fn system_text(system: Option<&Value>) -> Result<Option<String>, BadRequest> {
    match system {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok((!s.is_empty()).then(|| s.clone())),
        Some(Value::Array(blocks)) => {
            for (j, block) in blocks.iter().enumerate() {
                if block.get("type").and_then(Value::as_str) != Some("text")
                    || !block.get("text").is_some_and(Value::is_string)
                {
                    return Err(bad(format!("system.{j}"), "Input should be a text block with a string `text`"));
                }
            }
            let text = anthropic_text(system);
            Ok((!text.is_empty()).then_some(text))
        }
        Some(other) => {
            Err(bad("system", format!("Input should be a string or a list of text blocks, got {}", kind(other))))
        }
    }
}

/// `tools` as OpenAI function tools, and the names offered. Server tools (a `type` such as
/// `web_search_20250305`, no `input_schema`) run at Anthropic and have no OpenAI form: they
/// stay in the original body only.
fn tools(tools: Option<&Value>) -> Result<(Option<Value>, HashSet<String>), BadRequest> {
    let mut names = HashSet::new();
    let items = match tools {
        None | Some(Value::Null) => return Ok((None, names)),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(bad("tools", format!("Input should be a valid list, got {}", kind(other)))),
    };
    let mut out = Vec::new();
    for (j, tool) in items.iter().enumerate() {
        let Value::Object(tool) = tool else {
            return Err(bad(format!("tools.{j}"), "Input should be a valid dictionary"));
        };
        let name = match tool.get("name") {
            Some(Value::String(n)) if valid_tool_name(n) => n.clone(),
            Some(Value::String(n)) => {
                return Err(bad(
                    format!("tools.{j}.name"),
                    format!("String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$', got {n:?}"),
                ));
            }
            _ => return Err(bad(format!("tools.{j}.name"), "Field required")),
        };
        let server_tool = tool.get("type").and_then(Value::as_str).is_some_and(|t| t != "custom");
        if server_tool && !tool.contains_key("input_schema") {
            names.insert(name);
            continue;
        }
        let schema = match tool.get("input_schema") {
            Some(Value::Object(schema)) => schema,
            Some(other) => {
                return Err(bad(
                    format!("tools.{j}.input_schema"),
                    format!("Input should be a JSON Schema object, got {}", kind(other)),
                ));
            }
            None => return Err(bad(format!("tools.{j}.input_schema"), "Field required")),
        };
        match schema.get("type") {
            Some(Value::String(t)) if t == "object" => {}
            _ => {
                return Err(bad(
                    format!("tools.{j}.input_schema.type"),
                    "Input should be 'object': a tool's input is a JSON object",
                ));
            }
        }
        if let Some(props) = schema.get("properties")
            && !props.is_object()
        {
            return Err(bad(format!("tools.{j}.input_schema.properties"), "Input should be a valid dictionary"));
        }
        if let Some(required) = schema.get("required")
            && !required.as_array().is_some_and(|r| r.iter().all(Value::is_string))
        {
            return Err(bad(format!("tools.{j}.input_schema.required"), "Input should be a list of strings"));
        }
        // The same check the chat lowering runs, so a schema refused there is refused here,
        // in Anthropic's shape, before anything is routed.
        let whole = Value::Object(schema.clone());
        if let Err(SchemaError { at, why }) = tool_schema::check(&whole) {
            let param = if at.is_empty() {
                format!("tools.{j}.input_schema")
            } else {
                format!("tools.{j}.input_schema ({at})")
            };
            return Err(bad(param, format!("Invalid JSON Schema: {why}")));
        }
        let description = match tool.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(d)) => Some(json!(d)),
            Some(_) => return Err(bad(format!("tools.{j}.description"), "Input should be a valid string")),
        };
        if !names.insert(name.clone()) {
            return Err(bad(format!("tools.{j}.name"), format!("Tool names must be unique: {name:?} appears twice")));
        }
        let function = object([("name", Some(json!(name))), ("description", description), ("parameters", Some(whole))]);
        out.push(json!({"type": "function", "function": function}));
    }
    Ok(((!out.is_empty()).then_some(Value::Array(out)), names))
}

fn valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `tool_choice` as OpenAI's, and `parallel_tool_calls` when parallel use was disabled.
fn tool_choice(choice: Option<&Value>, names: &HashSet<String>) -> Result<(Option<Value>, Option<Value>), BadRequest> {
    let choice = match choice {
        None | Some(Value::Null) => return Ok((None, None)),
        Some(Value::Object(c)) => c,
        Some(other) => {
            return Err(bad("tool_choice", format!("Input should be a valid dictionary, got {}", kind(other))));
        }
    };
    let parallel = match choice.get("disable_parallel_tool_use") {
        Some(Value::Bool(true)) => Some(json!(false)),
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(_) => return Err(bad("tool_choice.disable_parallel_tool_use", "Input should be a valid boolean")),
    };
    let openai = match choice.get("type").and_then(Value::as_str) {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => match choice.get("name").and_then(Value::as_str) {
            Some(name) if names.contains(name) => json!({"type": "function", "function": {"name": name}}),
            Some(name) => {
                return Err(bad("tool_choice.name", format!("Tool {name:?} is not one of the tools in `tools`")));
            }
            None => return Err(bad("tool_choice.name", "Field required when type is 'tool'")),
        },
        Some(other) => {
            return Err(bad(
                "tool_choice.type",
                format!("Input should be 'auto', 'any', 'tool' or 'none', got {other:?}"),
            ));
        }
        None => return Err(bad("tool_choice.type", "Field required")),
    };
    if names.is_empty() && openai != json!("none") {
        return Err(bad("tool_choice", "tool_choice was given but no tools were offered"));
    }
    Ok((Some(openai), parallel))
}

fn translate_messages(messages: Option<&Value>, out: &mut Vec<Value>) -> Result<(), BadRequest> {
    let messages = match messages {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => return Err(bad("messages", "List should have at least 1 item")),
        None | Some(Value::Null) => return Err(bad("messages", "Field required")),
        Some(other) => return Err(bad("messages", format!("Input should be a valid list, got {}", kind(other)))),
    };
    // Tool calls made so far, so that a `tool_result` naming a call that never happened is
    // refused instead of confusing the upstream.
    let mut calls: HashSet<String> = HashSet::new();
    for (i, message) in messages.iter().enumerate() {
        let Value::Object(message) = message else {
            return Err(bad(format!("messages.{i}"), "Input should be a valid dictionary"));
        };
        let role = match message.get("role").and_then(Value::as_str) {
            Some(role @ ("user" | "assistant")) => role,
            Some(other) => {
                return Err(bad(
                    format!("messages.{i}.role"),
                    format!("Input should be 'user' or 'assistant', got {other:?}"),
                ));
            }
            None => return Err(bad(format!("messages.{i}.role"), "Field required")),
        };
        let blocks = match message.get("content") {
            Some(Value::String(text)) => {
                out.push(json!({"role": role, "content": text}));
                continue;
            }
            Some(Value::Array(blocks)) => blocks,
            None => return Err(bad(format!("messages.{i}.content"), "Field required")),
            Some(other) => {
                return Err(bad(
                    format!("messages.{i}.content"),
                    format!("Input should be a string or a list of content blocks, got {}", kind(other)),
                ));
            }
        };
        for (j, block) in blocks.iter().enumerate() {
            check_block(block, &format!("messages.{i}.content.{j}"))?;
        }
        if role == "assistant" {
            out.push(assistant(blocks, &mut calls, i)?);
        } else {
            user(blocks, &calls, i, out)?;
        }
    }
    Ok(())
}

fn check_block(block: &Value, at: &str) -> Result<(), BadRequest> {
    let Value::Object(block) = block else {
        return Err(bad(at, "Input should be a valid dictionary"));
    };
    match block.get("type").and_then(Value::as_str) {
        Some(t) if BLOCK_TYPES.contains(&t) => {}
        Some(t) => {
            return Err(bad(
                format!("{at}.type"),
                format!(
                    "Input tag {t:?} found using 'type' does not match any of the expected tags: {}",
                    BLOCK_TYPES.join(", ")
                ),
            ));
        }
        None => return Err(bad(format!("{at}.type"), "Field required")),
    }
    Ok(())
}

fn assistant(blocks: &[Value], calls: &mut HashSet<String>, i: usize) -> Result<Value, BadRequest> {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("messages.{i}.content.{j}");
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block_text(block, &at)?),
            Some("tool_use") => {
                let id =
                    block.get("id").and_then(Value::as_str).ok_or_else(|| bad(format!("{at}.id"), "Field required"))?;
                let name = block
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("{at}.name"), "Field required"))?;
                let input = match block.get("input") {
                    Some(input @ Value::Object(_)) => input,
                    _ => return Err(bad(format!("{at}.input"), "Input should be a valid dictionary")),
                };
                calls.insert(id.to_string());
                tool_calls.push(json!({
                    "id": id, "type": "function",
                    "function": {"name": name, "arguments": input.to_string()},
                }));
            }
            // Thinking and server-side tool blocks have no OpenAI form; they are kept in the
            // original body for Anthropic upstreams.
            _ => {}
        }
    }
    let mut message = json!({"role": "assistant", "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { json!(text) }});
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    Ok(message)
}

fn user(blocks: &[Value], calls: &HashSet<String>, i: usize, out: &mut Vec<Value>) -> Result<(), BadRequest> {
    let mut parts = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("messages.{i}.content.{j}");
        match block.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(json!({"type": "text", "text": block_text(block, &at)?})),
            Some("image") => parts.push(image(block, &at)?),
            Some("document") => parts.push(document(block, &at)?),
            Some("search_result") => {
                let title = block.get("title").and_then(Value::as_str).unwrap_or_default();
                let text = anthropic_text(block.get("content"));
                parts.push(json!({"type": "text", "text": format!("{title}\n{text}")}));
            }
            Some("tool_result") => {
                let id = block
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("{at}.tool_use_id"), "Field required"))?;
                if !calls.contains(id) {
                    return Err(bad(
                        format!("{at}.tool_use_id"),
                        format!(
                            "tool_result block(s) provided for {id:?}, but no earlier assistant message has a tool_use block with this id"
                        ),
                    ));
                }
                let content = match block.get("content") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(items)) => {
                        for (k, item) in items.iter().enumerate() {
                            check_block(item, &format!("{at}.content.{k}"))?;
                        }
                        anthropic_text(block.get("content"))
                    }
                    Some(other) => {
                        return Err(bad(
                            format!("{at}.content"),
                            format!("Input should be a string or a list, got {}", kind(other)),
                        ));
                    }
                };
                let is_error = block.get("is_error").and_then(Value::as_bool).unwrap_or(false);
                let content = if is_error { format!("Error: {content}") } else { content };
                out.push(json!({"role": "tool", "tool_call_id": id, "content": content}));
            }
            Some("tool_use") => return Err(bad(format!("{at}.type"), "tool_use blocks belong in assistant messages")),
            _ => {}
        }
    }
    if !parts.is_empty() {
        let content = match parts.as_slice() {
            [only] if only.get("type").and_then(Value::as_str) == Some("text") => only["text"].clone(),
            _ => Value::Array(parts),
        };
        out.push(json!({"role": "user", "content": content}));
    }
    Ok(())
}

fn block_text<'a>(block: &'a Value, at: &str) -> Result<&'a str, BadRequest> {
    block.get("text").and_then(Value::as_str).ok_or_else(|| bad(format!("{at}.text"), "Field required"))
}

/// An image block as an OpenAI `image_url` part (a data URL for base64 sources).
fn image(block: &Value, at: &str) -> Result<Value, BadRequest> {
    if let Some(placeholder) = file_placeholder(block, "image") {
        return Ok(placeholder);
    }
    let url = source_url(block, at, &["image/jpeg", "image/png", "image/gif", "image/webp"])?;
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// A document block: PDF data as an OpenAI `file` part, plain text as text.
fn document(block: &Value, at: &str) -> Result<Value, BadRequest> {
    let source = block.get("source").ok_or_else(|| bad(format!("{at}.source"), "Field required"))?;
    if source.get("type").and_then(Value::as_str) == Some("text") {
        return Ok(json!({"type": "text", "text": source.get("data").and_then(Value::as_str).unwrap_or_default()}));
    }
    if source.get("type").and_then(Value::as_str) == Some("content") {
        return Ok(json!({"type": "text", "text": anthropic_text(source.get("content"))}));
    }
    if let Some(placeholder) = file_placeholder(block, "document") {
        return Ok(placeholder);
    }
    let url = source_url(block, at, &["application/pdf"])?;
    let filename = block.get("title").and_then(Value::as_str).unwrap_or("document.pdf");
    Ok(json!({"type": "file", "file": {"file_data": url, "filename": filename}}))
}

/// A block whose source is an uploaded file (Anthropic's Files API): only an Anthropic
/// upstream can read it, so the canonical form names it in text.
fn file_placeholder(block: &Value, what: &str) -> Option<Value> {
    let source = block.get("source")?;
    (source.get("type").and_then(Value::as_str) == Some("file")).then(|| {
        let id = source.get("file_id").and_then(Value::as_str).unwrap_or("?");
        json!({"type": "text", "text": format!("[{what}: uploaded file {id}]")})
    })
}

fn source_url(block: &Value, at: &str, media_types: &[&str]) -> Result<String, BadRequest> {
    let source = block.get("source").ok_or_else(|| bad(format!("{at}.source"), "Field required"))?;
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media = source.get("media_type").and_then(Value::as_str).unwrap_or_default();
            if !media_types.contains(&media) {
                return Err(bad(
                    format!("{at}.source.media_type"),
                    format!("Input should be one of {}, got {media:?}", media_types.join(", ")),
                ));
            }
            let data = source
                .get("data")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("{at}.source.data"), "Field required"))?;
            Ok(format!("data:{media};base64,{data}"))
        }
        Some("url") => source
            .get("url")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad(format!("{at}.source.url"), "Field required")),
        _ => Err(bad(format!("{at}.source.type"), "Input should be 'base64' or 'url'")),
    }
}
