//! The client's chat-completion body, checked, and turned into the plugin `Request`.
//!
//! Only the fields Switchyard reads are checked; everything else in the body passes to the
//! upstream untouched. Errors name the offending parameter the way OpenAI's do.

use http::HeaderMap;
use serde_json::{Map, Value};

use crate::plugin::{Message, Request};
use crate::provider::translate::AnthropicRequest;
use crate::provider::{AnthropicBody, Dialect, cost};

/// Header prefix whose headers become routing hints in `Request::metadata`.
pub const HINT_HEADER_PREFIX: &str = "x-switchyard-";

/// A client body that cannot be routed, with the parameter at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidRequest {
    pub message: String,
    pub param: Option<String>,
}

fn invalid(param: &str, message: impl Into<String>) -> InvalidRequest {
    InvalidRequest { message: message.into(), param: Some(param.to_string()) }
}

/// A parsed body: the JSON object itself (forwarded upstream) and what routing needs.
#[derive(Debug, Clone)]
pub struct ChatBody {
    /// The canonical (OpenAI chat) body: the client's own for OpenAI clients, a
    /// translation for the others.
    pub json: Map<String, Value>,
    pub model: String,
    pub stream: bool,
    /// The client asked for a usage chunk at the end of a stream.
    pub include_usage: bool,
    /// The dialect the client speaks, and so the one its answer is rendered in.
    pub dialect: Dialect,
    /// An Anthropic client's original body, sent as is to Anthropic-dialect models.
    pub original: Option<AnthropicBody>,
}

impl ChatBody {
    /// A Messages request in canonical form, keeping the client's body for passthrough.
    pub fn from_anthropic(
        request: AnthropicRequest,
        beta: Option<http::HeaderValue>,
        version: Option<http::HeaderValue>,
    ) -> ChatBody {
        ChatBody {
            json: request.canonical,
            model: request.model,
            stream: request.stream,
            include_usage: true,
            dialect: Dialect::Anthropic,
            original: Some(AnthropicBody { body: request.original, beta, version }),
        }
    }
}

/// Parses the raw body. Malformed JSON and wrong types are client errors (400).
pub fn parse_body(bytes: &[u8]) -> Result<ChatBody, InvalidRequest> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| InvalidRequest {
        message: format!("We could not parse the JSON body of your request: {e}"),
        param: None,
    })?;
    let Value::Object(json) = value else {
        return Err(InvalidRequest { message: "The request body must be a JSON object.".to_string(), param: None });
    };
    let model = match json.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        Some(Value::String(_)) | None => return Err(invalid("model", "You must provide a model parameter.")),
        Some(other) => {
            return Err(invalid("model", format!("Invalid type for 'model': expected a string, got {}.", kind(other))));
        }
    };
    let stream = match json.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(invalid(
                "stream",
                format!("Invalid type for 'stream': expected a boolean, got {}.", kind(other)),
            ));
        }
    };
    let include_usage =
        json.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool).unwrap_or(false);
    check_messages(&json)?;
    super::lower::check(&json)?;
    Ok(ChatBody { json, model, stream, include_usage, dialect: Dialect::Openai, original: None })
}

fn check_messages(json: &Map<String, Value>) -> Result<(), InvalidRequest> {
    let messages = match json.get("messages") {
        Some(Value::Array(messages)) => messages,
        None => return Err(invalid("messages", "Missing required parameter: 'messages'.")),
        Some(other) => {
            return Err(invalid(
                "messages",
                format!("Invalid type for 'messages': expected an array, got {}.", kind(other)),
            ));
        }
    };
    if messages.is_empty() {
        return Err(invalid("messages", "Invalid 'messages': empty array. Expected an array with minimum length 1."));
    }
    for (i, message) in messages.iter().enumerate() {
        let Value::Object(message) = message else {
            return Err(invalid(
                &format!("messages[{i}]"),
                format!("Invalid type for 'messages[{i}]': expected an object."),
            ));
        };
        match message.get("role") {
            Some(Value::String(_)) => {}
            _ => {
                return Err(invalid(
                    &format!("messages[{i}].role"),
                    format!("Missing or invalid 'messages[{i}].role': expected a string."),
                ));
            }
        }
        match message.get("content") {
            None | Some(Value::Null) | Some(Value::String(_)) | Some(Value::Array(_)) => {}
            Some(other) => {
                return Err(invalid(
                    &format!("messages[{i}].content"),
                    format!(
                        "Invalid type for 'messages[{i}].content': expected a string or an array of content parts, got {}.",
                        kind(other)
                    ),
                ));
            }
        }
    }
    for (field, expected) in
        [("max_tokens", "an integer"), ("max_completion_tokens", "an integer"), ("temperature", "a number")]
    {
        if let Some(value) = json.get(field)
            && !value.is_null()
            && !value.is_number()
        {
            return Err(invalid(
                field,
                format!("Invalid type for '{field}': expected {expected}, got {}.", kind(value)),
            ));
        }
    }
    // Plugins get the temperature as an f32: a number past its range would reach them as
    // infinity (found by the request fuzzer).
    if let Some(t) = json.get("temperature").and_then(Value::as_f64)
        && !(t as f32).is_finite()
    {
        return Err(invalid("temperature", format!("Invalid 'temperature': {t} is out of range.")));
    }
    Ok(())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Builds the plugin-facing request from a parsed body and the request headers.
pub fn plugin_request(id: &str, body: &ChatBody, headers: &HeaderMap) -> Request {
    let messages: Vec<Message> = super::lower::messages(&body.json);
    let input_tokens = cost::estimate_messages(messages.iter().map(|m| m.content.as_str()));
    let json = &body.json;
    let max_tokens = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| json.get(*k).and_then(Value::as_u64))
        .map(|n| n.min(u64::from(u32::MAX)) as u32);
    let response_format = json.get("response_format");
    let format_type = response_format.and_then(|f| f.get("type")).and_then(Value::as_str);
    let json_schema =
        response_format.and_then(|f| f.get("json_schema")).and_then(|s| s.get("schema")).map(Value::to_string);
    let has_tools =
        ["tools", "functions"].iter().any(|k| json.get(*k).and_then(Value::as_array).is_some_and(|a| !a.is_empty()));
    Request {
        id: id.to_string(),
        model: body.model.clone(),
        messages,
        max_tokens,
        temperature: json.get("temperature").and_then(Value::as_f64).map(|t| t as f32),
        streaming: body.stream,
        wants_json: matches!(format_type, Some("json_object" | "json_schema")),
        json_schema,
        has_tools,
        tools: super::lower::tools(json),
        tool_choice: super::lower::tool_choice(json),
        response_format: super::lower::response_format(json),
        input_tokens,
        metadata: metadata(json, headers),
    }
}

/// Routing hints: `x-switchyard-*` headers (prefix removed), the body's `metadata` object's
/// string values, and `user`.
fn metadata(json: &Map<String, Value>, headers: &HeaderMap) -> Vec<(String, String)> {
    let mut hints = Vec::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(HINT_HEADER_PREFIX)
            && let Ok(value) = value.to_str()
        {
            hints.push((key.to_string(), value.to_string()));
        }
    }
    if let Some(Value::Object(meta)) = json.get("metadata") {
        for (key, value) in meta {
            if let Value::String(value) = value {
                hints.push((key.clone(), value.clone()));
            }
        }
    }
    if let Some(Value::String(user)) = json.get("user") {
        hints.push(("user".to_string(), user.clone()));
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ChatBody, InvalidRequest> {
        parse_body(text.as_bytes())
    }

    #[test]
    fn malformed_json_and_wrong_types_name_the_parameter() {
        assert!(parse("{not json").unwrap_err().message.contains("could not parse"));
        assert!(parse("[1]").unwrap_err().message.contains("JSON object"));
        assert_eq!(
            parse(r#"{"messages":[{"role":"user","content":"hi"}]}"#).unwrap_err().param.as_deref(),
            Some("model")
        );
        assert_eq!(parse(r#"{"model":"auto","messages":[]}"#).unwrap_err().param.as_deref(), Some("messages"));
        assert_eq!(parse(r#"{"model":"auto","messages":"hi"}"#).unwrap_err().param.as_deref(), Some("messages"));
        assert_eq!(
            parse(r#"{"model":"auto","messages":[{"role":"user","content":5}]}"#).unwrap_err().param.as_deref(),
            Some("messages[0].content")
        );
        assert_eq!(
            parse(r#"{"model":"auto","stream":"yes","messages":[{"role":"user","content":"x"}]}"#)
                .unwrap_err()
                .param
                .as_deref(),
            Some("stream")
        );
        assert_eq!(
            parse(r#"{"model":"auto","temperature":"hot","messages":[{"role":"user","content":"x"}]}"#)
                .unwrap_err()
                .param
                .as_deref(),
            Some("temperature")
        );
        let err =
            parse(r#"{"model":"auto","temperature":1e39,"messages":[{"role":"user","content":"x"}]}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("temperature"), "{err}");
    }

    #[test]
    fn derives_what_plugins_need() {
        let body = parse(
            r#"{"model":"auto","stream":true,"max_tokens":50,"temperature":0.5,
                "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},
                "tools":[{"type":"function","function":{"name":"f"}}],
                "metadata":{"tenant":"acme","n":1},"user":"u1",
                "messages":[{"role":"system","content":"Be brief."},
                            {"role":"user","content":[{"type":"text","text":"Hello"},{"type":"image_url","image_url":{"url":"x"}}]}]}"#,
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-switchyard-tier", "2".parse().unwrap());
        headers.insert("authorization", "Bearer secret".parse().unwrap());
        let request = plugin_request("r1", &body, &headers);
        assert!(request.streaming && request.wants_json && request.has_tools);
        assert_eq!(request.json_schema.as_deref(), Some(r#"{"type":"object"}"#));
        assert_eq!(request.max_tokens, Some(50));
        assert_eq!(request.messages[1].content, "Hello");
        assert_eq!(request.input_tokens, 3 + 4 + 2 + 4);
        assert!(request.metadata.contains(&("tier".to_string(), "2".to_string())));
        assert!(request.metadata.contains(&("tenant".to_string(), "acme".to_string())));
        assert!(request.metadata.contains(&("user".to_string(), "u1".to_string())));
        assert!(!request.metadata.iter().any(|(k, _)| k == "authorization" || k == "n"));
    }
}
