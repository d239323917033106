//! Anthropic stream events as OpenAI `chat.completion.chunk`s, for an OpenAI client whose
//! answer comes from an Anthropic-dialect model (and for assembling any Anthropic stream
//! into the canonical answer the gates judge).
//!
//! Text deltas become `content` deltas, each `tool_use` block one tool call (its index
//! counted from 0 across the message), `input_json_delta` fragments its `arguments`,
//! `message_delta`'s stop reason the `finish_reason`, and `message_stop` a final usage chunk.
//! Thinking blocks have no OpenAI form and are skipped.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::stop::{Tokens, finish_reason};

/// An error event from the upstream's stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StreamError {
    pub kind: String,
    pub message: String,
}

/// The state machine: feed each event's data object in order.
#[derive(Debug, Default)]
pub struct AnthropicToOpenai {
    id: String,
    model: String,
    created: u64,
    /// Anthropic block index → OpenAI tool-call index.
    tools: HashMap<u64, u64>,
    tokens: Tokens,
    stopped: bool,
}

impl AnthropicToOpenai {
    /// A translator whose chunks carry `created` (Unix seconds).
    pub fn new(created: u64) -> Self {
        AnthropicToOpenai { created, ..Default::default() }
    }

    /// Whether `message_stop` was seen.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The usage reported so far.
    pub fn tokens(&self) -> Tokens {
        self.tokens
    }

    /// The chunks one event turns into. `event` is the data object (its `type` names it).
    pub fn event(&mut self, event: &Value, out: &mut Vec<Value>) -> Result<(), StreamError> {
        let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
        match event.get("type").and_then(Value::as_str).unwrap_or_default() {
            "message_start" => {
                let message = event.get("message");
                let field = |k: &str| message.and_then(|m| m.get(k)).and_then(Value::as_str).unwrap_or_default();
                self.id = field("id").to_string();
                self.model = field("model").to_string();
                if let Some(tokens) = message.and_then(|m| m.get("usage")).and_then(Tokens::from_anthropic) {
                    self.tokens = tokens;
                }
                out.push(self.chunk(json!({"role": "assistant", "content": ""}), None));
            }
            "content_block_start" => {
                let block = event.get("content_block");
                match block.and_then(|b| b.get("type")).and_then(Value::as_str) {
                    Some("tool_use") => {
                        let n = self.tools.len() as u64;
                        self.tools.insert(index, n);
                        let field = |k: &str| block.and_then(|b| b.get(k)).cloned().unwrap_or(json!(""));
                        let call = json!({"index": n, "id": field("id"), "type": "function",
                                          "function": {"name": field("name"), "arguments": ""}});
                        out.push(self.chunk(json!({"tool_calls": [call]}), None));
                    }
                    Some("text") => {
                        let text = block.and_then(|b| b.get("text")).and_then(Value::as_str).unwrap_or_default();
                        if !text.is_empty() {
                            out.push(self.chunk(json!({"content": text}), None));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = event.get("delta");
                match delta.and_then(|d| d.get("type")).and_then(Value::as_str) {
                    Some("text_delta") => {
                        let text = delta.and_then(|d| d.get("text")).and_then(Value::as_str).unwrap_or_default();
                        out.push(self.chunk(json!({"content": text}), None));
                    }
                    Some("input_json_delta") => {
                        let Some(&n) = self.tools.get(&index) else {
                            return Ok(());
                        };
                        let fragment = delta.and_then(|d| d.get("partial_json")).and_then(Value::as_str);
                        let call = json!({"index": n, "function": {"arguments": fragment.unwrap_or_default()}});
                        out.push(self.chunk(json!({"tool_calls": [call]}), None));
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(usage) = event.get("usage") {
                    // `message_delta` usage is cumulative; input counts appear here too on
                    // newer API versions.
                    if let Some(output) = usage.get("output_tokens").and_then(Value::as_u64) {
                        self.tokens.output = u32::try_from(output).unwrap_or(u32::MAX);
                    }
                    if usage.get("input_tokens").is_some_and(Value::is_u64)
                        && let Some(tokens) = Tokens::from_anthropic(usage)
                    {
                        self.tokens.input = tokens.input;
                        self.tokens.cached = tokens.cached;
                        self.tokens.cache_written = tokens.cache_written;
                    }
                }
                if let Some(reason) = event.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    out.push(self.chunk(json!({}), Some(finish_reason(reason))));
                }
            }
            "message_stop" => {
                self.stopped = true;
                let mut chunk = self.chunk(json!({}), None);
                chunk["choices"] = json!([]);
                chunk["usage"] = self.tokens.openai();
                out.push(chunk);
            }
            "error" => {
                let error = event.get("error");
                let field = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str).unwrap_or("unknown");
                return Err(StreamError { kind: field("type").to_string(), message: field("message").to_string() });
            }
            // `ping`, `content_block_stop` and event types added later carry nothing to translate.
            _ => {}
        }
        Ok(())
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        })
    }
}
