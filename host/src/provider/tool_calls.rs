//! The tool calls and refusal of an answer: read from a complete `message`, or assembled
//! from a stream's deltas (a call arrives as an `index`, then its `id` and `name`, then its
//! arguments in fragments, possibly interleaved with other calls').

use serde_json::{Value, json};

/// One tool call of an answer, as the model wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCallPart {
    pub id: String,
    pub name: String,
    /// The arguments as text, exactly as written (not necessarily valid JSON).
    pub arguments: String,
}

/// The tool calls of a complete `choices[0].message` (and a legacy `function_call`).
pub fn from_message(message: Option<&Value>) -> Vec<ToolCallPart> {
    let Some(message) = message else {
        return Vec::new();
    };
    let text = |v: &Value, p: &str| v.pointer(p).map(as_text).unwrap_or_default();
    let mut calls: Vec<ToolCallPart> = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .map(|c| ToolCallPart {
                    id: text(c, "/id"),
                    name: text(c, "/function/name"),
                    arguments: text(c, "/function/arguments"),
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(call) = message.get("function_call").filter(|c| c.is_object()) {
        calls.push(ToolCallPart { id: String::new(), name: text(call, "/name"), arguments: text(call, "/arguments") });
    }
    calls
}

/// A string as itself; anything else (a server that sent arguments as an object) as JSON.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `choices[0].message.refusal`, when present and not empty.
pub fn refusal_of(message: Option<&Value>) -> Option<String> {
    message?.get("refusal")?.as_str().filter(|r| !r.is_empty()).map(str::to_string)
}

/// Tool calls and refusal assembled from stream deltas.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DeltaAssembler {
    /// By the delta's `index`, in the order indexes first appeared.
    calls: Vec<(u64, ToolCallPart)>,
    refusal: Option<String>,
}

/// Calls at most assembled from one stream (a bound against a hostile upstream).
const MAX_CALLS: usize = 128;

impl DeltaAssembler {
    /// Adds one chunk's `choices[0].delta`.
    pub fn add(&mut self, delta: &Value) {
        if let Some(text) = delta.get("refusal").and_then(Value::as_str) {
            self.refusal.get_or_insert_with(String::new).push_str(text);
        }
        if let Some(call) = delta.get("function_call").filter(|c| c.is_object()) {
            self.fragment(u64::MAX, call.get("name"), None, call.get("arguments"));
        }
        let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) else {
            return;
        };
        for (position, call) in calls.iter().enumerate() {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
            let function = call.get("function");
            self.fragment(
                index,
                function.and_then(|f| f.get("name")),
                call.get("id"),
                function.and_then(|f| f.get("arguments")),
            );
        }
    }

    fn fragment(&mut self, index: u64, name: Option<&Value>, id: Option<&Value>, arguments: Option<&Value>) {
        let slot = match self.calls.iter().position(|(i, _)| *i == index) {
            Some(at) => at,
            None if self.calls.len() < MAX_CALLS => {
                self.calls.push((index, ToolCallPart::default()));
                self.calls.len() - 1
            }
            None => return,
        };
        let call = &mut self.calls[slot].1;
        if let Some(id) = id.and_then(Value::as_str).filter(|s| !s.is_empty()) {
            call.id = id.to_string();
        }
        // Names arrive whole in practice; a server that splits them gets them concatenated.
        if let Some(name) = name.and_then(Value::as_str) {
            call.name.push_str(name);
        }
        if let Some(arguments) = arguments {
            call.arguments.push_str(&as_text(arguments));
        }
    }

    pub fn calls(&self) -> Vec<ToolCallPart> {
        self.calls.iter().map(|(_, c)| c.clone()).collect()
    }

    pub fn refusal(&self) -> Option<String> {
        self.refusal.clone().filter(|r| !r.is_empty())
    }

    /// The calls as a `message.tool_calls` array, for the assembled `chat.completion`.
    pub fn message_json(&self) -> Option<Value> {
        (!self.calls.is_empty()).then(|| {
            Value::Array(
                self.calls
                    .iter()
                    .map(|(_, c)| {
                        json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}})
                    })
                    .collect(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_interleaved_fragments() {
        let mut a = DeltaAssembler::default();
        for delta in [
            json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]}),
            json!({"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "get_time", "arguments": "{}"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "ty\":\"Paris\"}"}}]}),
        ] {
            a.add(&delta);
        }
        assert_eq!(
            a.calls(),
            vec![
                ToolCallPart {
                    id: "call_a".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into()
                },
                ToolCallPart { id: "call_b".into(), name: "get_time".into(), arguments: "{}".into() },
            ]
        );
        assert_eq!(a.message_json().unwrap()[1]["function"]["name"], "get_time");
    }

    #[test]
    fn reads_complete_messages_and_refusals() {
        let m = json!({"content": null, "refusal": "No.", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {"x": 1}}}]});
        assert_eq!(from_message(Some(&m))[0].arguments, r#"{"x":1}"#);
        assert_eq!(refusal_of(Some(&m)).as_deref(), Some("No."));
        assert!(from_message(None).is_empty());
        let mut a = DeltaAssembler::default();
        a.add(&json!({"refusal": "I can"}));
        a.add(&json!({"refusal": "not."}));
        assert_eq!(a.refusal().as_deref(), Some("I cannot."));
    }
}
