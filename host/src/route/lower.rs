//! Lowering the agent parts of an OpenAI chat body (the canonical form every dialect is
//! translated into) into the plugin contract's types: messages with their non-text parts,
//! tool calls and tool results; the tools offered; the tool choice; the response format.
//!
//! [`check`] runs first, at parse time, so that everything lowered here is known to be well
//! formed: a malformed tool schema, a tool result for a call that never happened or an
//! unknown content-part type is the client's error (400, naming the parameter), not
//! something a plugin has to guess about. Lowering itself never fails.

use serde_json::{Map, Value};

use super::request::InvalidRequest;
use crate::plugin::{
    ContentPart, JsonSchemaFormat, Message, PartKind, ResponseFormat, Tool, ToolCall, ToolChoice, ToolResult,
};
use crate::provider::tool_schema::{self, SchemaError};

fn invalid(param: impl Into<String>, message: impl Into<String>) -> InvalidRequest {
    InvalidRequest { message: message.into(), param: Some(param.into()) }
}

/// The content-part types a message may carry, and what a non-text one is.
fn part_kind(kind: &str) -> Option<Option<PartKind>> {
    match kind {
        "text" | "refusal" | "input_text" => Some(None),
        "image_url" | "image" | "input_image" => Some(Some(PartKind::Image)),
        "input_audio" | "audio" => Some(Some(PartKind::Audio)),
        "file" | "input_file" => Some(Some(PartKind::File)),
        _ => None,
    }
}

/// Checks the agent parts of a body whose `messages` are already known to be an array of
/// objects with a string `role`.
pub fn check(json: &Map<String, Value>) -> Result<(), InvalidRequest> {
    let tools = check_tools(json)?;
    check_tool_choice(json, &tools)?;
    check_response_format(json)?;
    let messages = json.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut calls: Vec<&str> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        if let Some(Value::Array(parts)) = message.get("content") {
            for (j, part) in parts.iter().enumerate() {
                let param = format!("messages[{i}].content[{j}]");
                let Some(kind) = part.get("type").and_then(Value::as_str) else {
                    return Err(invalid(
                        format!("{param}.type"),
                        format!("Missing required parameter: '{param}.type'."),
                    ));
                };
                if part_kind(kind).is_none() {
                    return Err(invalid(
                        format!("{param}.type"),
                        format!(
                            "Invalid value: '{kind}'. Supported values are: 'text', 'image_url', 'input_audio', \
                             'file' and 'refusal'."
                        ),
                    ));
                }
                if kind == "text" && !part.get("text").is_some_and(Value::is_string) {
                    return Err(invalid(
                        format!("{param}.text"),
                        format!("Invalid type for '{param}.text': expected a string."),
                    ));
                }
            }
        }
        if let Some(tool_calls) = message.get("tool_calls").filter(|v| !v.is_null()) {
            let Value::Array(tool_calls) = tool_calls else {
                return Err(invalid(
                    format!("messages[{i}].tool_calls"),
                    format!("Invalid type for 'messages[{i}].tool_calls': expected an array."),
                ));
            };
            for (j, call) in tool_calls.iter().enumerate() {
                let param = format!("messages[{i}].tool_calls[{j}]");
                let id = call.get("id").and_then(Value::as_str);
                let name = call.pointer("/function/name").and_then(Value::as_str);
                let arguments = call.pointer("/function/arguments");
                match (id, name, arguments) {
                    (Some(id), Some(_), Some(Value::String(_))) => calls.push(id),
                    (None, _, _) => {
                        return Err(invalid(
                            format!("{param}.id"),
                            format!("Missing required parameter: '{param}.id'."),
                        ));
                    }
                    (_, None, _) => {
                        return Err(invalid(
                            format!("{param}.function.name"),
                            format!("Missing required parameter: '{param}.function.name'."),
                        ));
                    }
                    (_, _, _) => {
                        return Err(invalid(
                            format!("{param}.function.arguments"),
                            format!("Invalid type for '{param}.function.arguments': expected a string (JSON text)."),
                        ));
                    }
                }
            }
        }
        if message.get("role").and_then(Value::as_str) == Some("tool") {
            let param = format!("messages[{i}].tool_call_id");
            let Some(id) = message.get("tool_call_id").and_then(Value::as_str) else {
                return Err(invalid(&param, format!("Missing required parameter: '{param}'.")));
            };
            if !calls.contains(&id) {
                return Err(invalid(
                    format!("messages[{i}]"),
                    format!(
                        "Invalid parameter: messages with role 'tool' must be a response to a preceding message \
                         with 'tool_calls': no earlier assistant message made a tool call with id '{id}'."
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Checks `tools` (and legacy `functions`); returns the names offered.
fn check_tools(json: &Map<String, Value>) -> Result<Vec<&str>, InvalidRequest> {
    let mut names = Vec::new();
    for key in ["tools", "functions"] {
        let Some(list) = json.get(key).filter(|v| !v.is_null()) else {
            continue;
        };
        let Value::Array(list) = list else {
            return Err(invalid(key, format!("Invalid type for '{key}': expected an array.")));
        };
        for (i, tool) in list.iter().enumerate() {
            let (param, function) = if key == "tools" {
                let param = format!("tools[{i}]");
                match tool.get("type").and_then(Value::as_str) {
                    Some("function") => {}
                    Some(other) => {
                        return Err(invalid(
                            format!("{param}.type"),
                            format!("Invalid value: '{other}'. Supported values are: 'function'."),
                        ));
                    }
                    None => {
                        return Err(invalid(
                            format!("{param}.type"),
                            format!("Missing required parameter: '{param}.type'."),
                        ));
                    }
                }
                (format!("{param}.function"), tool.get("function"))
            } else {
                (format!("functions[{i}]"), Some(tool))
            };
            let Some(Value::Object(function)) = function else {
                return Err(invalid(&param, format!("Missing required parameter: '{param}'.")));
            };
            let name = match function.get("name") {
                Some(Value::String(name)) if valid_tool_name(name) => name.as_str(),
                Some(Value::String(name)) => {
                    return Err(invalid(
                        format!("{param}.name"),
                        format!(
                            "Invalid '{param}.name': string does not match pattern. Expected a string of 1 to 64 \
                             letters, digits, underscores or dashes, got '{}'.",
                            name.chars().take(80).collect::<String>()
                        ),
                    ));
                }
                _ => {
                    return Err(invalid(
                        format!("{param}.name"),
                        format!("Missing required parameter: '{param}.name'."),
                    ));
                }
            };
            if let Some(parameters) = function.get("parameters").filter(|v| !v.is_null()) {
                if !parameters.is_object() {
                    return Err(invalid(
                        format!("{param}.parameters"),
                        format!("Invalid schema for function '{name}': schema must be a JSON Schema object."),
                    ));
                }
                tool_schema::check(parameters).map_err(|SchemaError { at, why }| {
                    let context = if at.is_empty() { String::new() } else { format!(" In context=({at}),") };
                    invalid(
                        format!("{param}.parameters"),
                        format!("Invalid schema for function '{name}':{context} {why}"),
                    )
                })?;
            }
            names.push(name);
        }
    }
    Ok(names)
}

fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn check_tool_choice(json: &Map<String, Value>, tools: &[&str]) -> Result<(), InvalidRequest> {
    for key in ["tool_choice", "function_call"] {
        let named = match json.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) if matches!(s.as_str(), "auto" | "none") => continue,
            Some(Value::String(s)) if s == "required" && key == "tool_choice" => None,
            Some(Value::Object(choice)) => {
                let name = if key == "tool_choice" {
                    match choice.get("type").and_then(Value::as_str) {
                        Some("function") => choice.get("function").and_then(|f| f.get("name")),
                        // `allowed_tools` and other newer shapes pass through to the upstream.
                        Some(_) => continue,
                        None => None,
                    }
                } else {
                    choice.get("name")
                };
                match name.and_then(Value::as_str) {
                    Some(name) => Some(name),
                    None => {
                        return Err(invalid(key, format!("Invalid '{key}': expected a function name.")));
                    }
                }
            }
            Some(other) => {
                return Err(invalid(
                    key,
                    format!(
                        "Invalid value for '{key}': expected 'none', 'auto', 'required' or an object, got {other}."
                    ),
                ));
            }
        };
        if tools.is_empty() {
            return Err(invalid(
                key,
                format!("Invalid value for '{key}': '{key}' is only allowed when tools are specified."),
            ));
        }
        if let Some(name) = named
            && !tools.contains(&name)
        {
            return Err(invalid(key, format!("Invalid '{key}': no tool named '{name}' was offered.")));
        }
    }
    Ok(())
}

fn check_response_format(json: &Map<String, Value>) -> Result<(), InvalidRequest> {
    let Some(format) = json.get("response_format").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text" | "json_object") => Ok(()),
        Some("json_schema") => match format.get("json_schema") {
            Some(Value::Object(spec)) => match spec.get("schema") {
                None | Some(Value::Object(_)) | Some(Value::Bool(_)) => Ok(()),
                Some(_) => Err(invalid(
                    "response_format.json_schema.schema",
                    "Invalid type for 'response_format.json_schema.schema': expected a JSON Schema object.",
                )),
            },
            _ => Err(invalid(
                "response_format.json_schema",
                "Missing required parameter: 'response_format.json_schema'.",
            )),
        },
        Some(other) => Err(invalid(
            "response_format.type",
            format!("Invalid value: '{other}'. Supported values are: 'json_object', 'json_schema', and 'text'."),
        )),
        None => Err(invalid("response_format.type", "Missing required parameter: 'response_format.type'.")),
    }
}

/// The plugin messages of a checked body.
pub fn messages(json: &Map<String, Value>) -> Vec<Message> {
    let messages = json.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut names: Vec<(String, String)> = Vec::new();
    messages
        .iter()
        .map(|m| {
            let message = message(m, &names);
            names.extend(message.tool_calls.iter().map(|c| (c.id.clone(), c.name.clone())));
            message
        })
        .collect()
}

/// One message. `names` maps earlier tool-call ids to their tool names.
fn message(m: &Value, names: &[(String, String)]) -> Message {
    let role = match m.get("role").and_then(Value::as_str).unwrap_or_default() {
        "developer" => "system",
        role => role,
    };
    let mut out = Message::text(role, crate::provider::cost::message_text(m));
    if let Some(Value::Array(parts)) = m.get("content") {
        out.parts = parts.iter().filter_map(content_part).collect();
    }
    if let Some(Value::Array(calls)) = m.get("tool_calls") {
        out.tool_calls = calls
            .iter()
            .map(|c| ToolCall {
                id: str_at(c, "/id"),
                name: str_at(c, "/function/name"),
                arguments: str_at(c, "/function/arguments"),
            })
            .collect();
    }
    if let Some(call) = m.get("function_call").filter(|c| c.is_object()) {
        out.tool_calls.push(ToolCall {
            id: String::new(),
            name: str_at(call, "/name"),
            arguments: str_at(call, "/arguments"),
        });
    }
    match role {
        "tool" => {
            let call_id = str_at(m, "/tool_call_id");
            let name = names.iter().rev().find(|(id, _)| *id == call_id).map(|(_, n)| n.clone()).unwrap_or_default();
            out.tool_results.push(ToolResult { call_id, name, content: out.content.clone() });
        }
        "function" => {
            out.tool_results.push(ToolResult {
                call_id: String::new(),
                name: str_at(m, "/name"),
                content: out.content.clone(),
            });
        }
        _ => {}
    }
    out
}

fn str_at(value: &Value, pointer: &str) -> String {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// A non-text content part, described by its kind and size.
fn content_part(part: &Value) -> Option<ContentPart> {
    let kind = part_kind(part.get("type")?.as_str()?)??;
    let data = match kind {
        PartKind::Image => part.pointer("/image_url/url").or_else(|| part.pointer("/source/data")),
        PartKind::Audio => part.pointer("/input_audio/data"),
        PartKind::File => part.pointer("/file/file_data").or_else(|| part.pointer("/source/data")),
    };
    let size_bytes = data.and_then(Value::as_str).map_or(0, inline_size);
    Some(ContentPart { kind, size_bytes })
}

/// Bytes held by inline base64 data (a bare string or a `data:` URL); 0 for a URL.
fn inline_size(data: &str) -> u64 {
    let encoded = match data.strip_prefix("data:") {
        Some(rest) => match rest.split_once(',') {
            Some((_, b64)) => b64,
            None => return 0,
        },
        None if data.starts_with("http://") || data.starts_with("https://") => return 0,
        None => data,
    };
    let encoded = encoded.trim_end_matches('=');
    (encoded.len() as u64 * 3) / 4
}

/// An answer's tool calls, as gates see them.
pub fn tool_calls(completion: &crate::provider::Completion) -> Vec<ToolCall> {
    completion
        .tool_calls
        .iter()
        .map(|c| ToolCall { id: c.id.clone(), name: c.name.clone(), arguments: c.arguments.clone() })
        .collect()
}

/// The tools a checked body offers.
pub fn tools(json: &Map<String, Value>) -> Vec<Tool> {
    let from = |f: &Value| Tool {
        name: str_at(f, "/name"),
        description: str_at(f, "/description"),
        parameters: f.get("parameters").filter(|p| !p.is_null()).map_or_else(|| "{}".to_string(), Value::to_string),
        strict: f.get("strict").and_then(Value::as_bool).unwrap_or(false),
    };
    let mut out: Vec<Tool> = Vec::new();
    if let Some(Value::Array(tools)) = json.get("tools") {
        out.extend(tools.iter().filter_map(|t| t.get("function")).map(from));
    }
    if let Some(Value::Array(functions)) = json.get("functions") {
        out.extend(functions.iter().map(from));
    }
    out
}

/// The tool choice of a checked body.
pub fn tool_choice(json: &Map<String, Value>) -> ToolChoice {
    let choice = json.get("tool_choice").filter(|v| !v.is_null()).or_else(|| json.get("function_call"));
    match choice {
        Some(Value::String(s)) if s == "none" => ToolChoice::None,
        Some(Value::String(s)) if s == "required" => ToolChoice::Required,
        Some(Value::Object(c)) => {
            match c.get("function").and_then(|f| f.get("name")).or_else(|| c.get("name")).and_then(Value::as_str) {
                Some(name) => ToolChoice::Named(name.to_string()),
                None => ToolChoice::Auto,
            }
        }
        _ => ToolChoice::Auto,
    }
}

/// The response format of a checked body.
pub fn response_format(json: &Map<String, Value>) -> ResponseFormat {
    let format = json.get("response_format");
    match format.and_then(|f| f.get("type")).and_then(Value::as_str) {
        Some("json_object") => ResponseFormat::JsonObject,
        Some("json_schema") => {
            let spec = format.and_then(|f| f.get("json_schema"));
            ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: spec.map(|s| str_at(s, "/name")).unwrap_or_default(),
                schema: spec.and_then(|s| s.get("schema")).map_or_else(|| "{}".to_string(), Value::to_string),
                strict: spec.and_then(|s| s.get("strict")).and_then(Value::as_bool).unwrap_or(false),
            })
        }
        _ => ResponseFormat::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn weather_tools() -> Value {
        json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather now",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
    }

    #[test]
    fn lowers_a_tool_loop() {
        let b = body(json!({
            "tools": weather_tools(),
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Weather?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAABBBB"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"}
            ]
        }));
        check(&b).unwrap();
        let m = messages(&b);
        assert_eq!(m[0].role, "system");
        assert_eq!(m[1].content, "Weather?");
        assert_eq!(m[1].parts, vec![ContentPart { kind: PartKind::Image, size_bytes: 6 }]);
        assert_eq!(m[2].tool_calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!(
            m[3].tool_results,
            vec![ToolResult { call_id: "call_1".into(), name: "get_weather".into(), content: "18C, sunny".into() }]
        );
        let t = tools(&b);
        assert_eq!((t[0].name.as_str(), t[0].description.as_str()), ("get_weather", "Weather now"));
        assert!(t[0].parameters.contains("\"required\":[\"city\"]"));
        assert_eq!(tool_choice(&b), ToolChoice::Named("get_weather".into()));
        assert_eq!(response_format(&b), ResponseFormat::Text);
    }

    #[test]
    fn bad_agent_input_names_the_parameter() {
        let user = json!([{"role": "user", "content": "hi"}]);
        let cases = [
            (
                json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": "nope"}}], "messages": user}),
                "tools[0].function.parameters",
            ),
            (
                json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "obj"}}}], "messages": user}),
                "tools[0].function.parameters",
            ),
            (
                json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": 3}}}}}], "messages": user}),
                "tools[0].function.parameters",
            ),
            (
                json!({"tools": [{"type": "function", "function": {"name": "bad name!"}}], "messages": user}),
                "tools[0].function.name",
            ),
            (json!({"tools": [{"type": "retrieval"}], "messages": user}), "tools[0].type"),
            (
                json!({"tools": weather_tools(), "tool_choice": {"type": "function", "function": {"name": "other"}}, "messages": user}),
                "tool_choice",
            ),
            (json!({"tool_choice": "required", "messages": user}), "tool_choice"),
            (
                json!({"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "ghost", "content": "x"}]}),
                "messages[1]",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "video", "video": {}}]}]}),
                "messages[0].content[0].type",
            ),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {}}}]}]}),
                "messages[0].tool_calls[0].function.arguments",
            ),
            (json!({"response_format": {"type": "xml"}, "messages": user}), "response_format.type"),
            (json!({"response_format": {"type": "json_schema"}, "messages": user}), "response_format.json_schema"),
        ];
        for (b, param) in cases {
            let err = check(&body(b.clone())).unwrap_err();
            assert_eq!(err.param.as_deref(), Some(param), "{b}: {err}");
        }
        let err = check(&body(cases_schema_context())).unwrap_err();
        assert!(err.message.contains("'properties', 'a'"), "{err}");
    }

    fn cases_schema_context() -> Value {
        json!({"tools": [{"type": "function", "function": {"name": "f",
            "parameters": {"type": "object", "properties": {"a": {"type": "strin"}}}}}],
            "messages": [{"role": "user", "content": "hi"}]})
    }

    #[test]
    fn response_formats_and_legacy_functions() {
        let b = body(json!({"functions": [{"name": "f"}], "function_call": {"name": "f"},
            "response_format": {"type": "json_schema", "json_schema": {"name": "p", "strict": true, "schema": {"type": "object"}}},
            "messages": [{"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
                         {"role": "function", "name": "f", "content": "ok"}]}));
        check(&b).unwrap();
        assert_eq!(tools(&b)[0].parameters, "{}");
        assert_eq!(tool_choice(&b), ToolChoice::Named("f".into()));
        assert_eq!(
            response_format(&b),
            ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: "p".into(),
                schema: r#"{"type":"object"}"#.into(),
                strict: true
            })
        );
        let m = messages(&b);
        assert_eq!(m[0].tool_calls[0].name, "f");
        assert_eq!(m[1].tool_results[0].name, "f");
    }
}
