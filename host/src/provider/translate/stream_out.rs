//! OpenAI `chat.completion.chunk`s as Anthropic stream events, for an Anthropic client
//! whose answer comes from an OpenAI-compatible model.
//!
//! Anthropic's sequence is `message_start`, `ping`, then for each content block
//! `content_block_start` / `content_block_delta`* / `content_block_stop`, then
//! `message_delta` (stop reason and usage) and `message_stop`. OpenAI sends the finish
//! reason before the usage chunk, so `message_delta` waits for [`OpenaiToAnthropic::finish`].

use serde_json::{Value, json};

use super::response::message_id;
use super::stop::{Tokens, stop_reason};

/// One Anthropic stream event: its `event:` name and its `data:` object.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: &'static str,
    pub data: Value,
}

impl Event {
    fn new(name: &'static str, data: Value) -> Event {
        Event { name, data }
    }
}

/// The block being streamed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Open {
    None,
    Text,
    /// A tool call, by its OpenAI `index`.
    Tool(u64),
}

/// The state machine: feed chunks in order, then call `finish` once.
#[derive(Debug)]
pub struct OpenaiToAnthropic {
    model: String,
    started: bool,
    finished: bool,
    open: Open,
    /// The id of the open tool call.
    tool_id: String,
    /// Index of the next content block.
    next: u64,
    stop: Option<&'static str>,
    tokens: Option<Tokens>,
}

impl OpenaiToAnthropic {
    /// A translator whose events name `model`.
    pub fn new(model: &str) -> Self {
        OpenaiToAnthropic {
            model: model.to_string(),
            started: false,
            finished: false,
            open: Open::None,
            tool_id: String::new(),
            next: 0,
            stop: None,
            tokens: None,
        }
    }

    /// The events one chunk turns into (often one, sometimes none or several).
    pub fn chunk(&mut self, chunk: &Value, out: &mut Vec<Event>) {
        if self.finished {
            return;
        }
        self.start(chunk.get("id").and_then(Value::as_str).unwrap_or_default(), out);
        if let Some(tokens) = chunk.get("usage").and_then(Tokens::from_openai) {
            self.tokens = Some(tokens);
        }
        let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) else {
            return;
        };
        let delta = choice.get("delta");
        let text = delta.and_then(|d| d.get("content")).and_then(Value::as_str).unwrap_or_default();
        let refusal = delta.and_then(|d| d.get("refusal")).and_then(Value::as_str).unwrap_or_default();
        for text in [text, refusal] {
            if text.is_empty() {
                continue;
            }
            if self.open != Open::Text {
                self.close(out);
                self.open_block(Open::Text, json!({"type": "text", "text": ""}), out);
            }
            out.push(self.delta(json!({"type": "text_delta", "text": text})));
        }
        if !refusal.is_empty() {
            self.stop = Some("refusal");
        }
        for call in delta.and_then(|d| d.get("tool_calls")).and_then(Value::as_array).into_iter().flatten() {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            let function = call.get("function");
            let id = call.get("id").and_then(Value::as_str).filter(|s| !s.is_empty());
            // A new call starts at a new index, or at the same index with a new id (some
            // compatible servers repeat the id on every fragment, which is not a new call).
            if self.open != Open::Tool(index) || id.is_some_and(|id| id != self.tool_id) {
                self.close(out);
                self.tool_id = id.unwrap_or_default().to_string();
                let block = json!({
                    "type": "tool_use",
                    "id": self.tool_id,
                    "name": function.and_then(|f| f.get("name")).and_then(Value::as_str).unwrap_or_default(),
                    "input": {},
                });
                self.open_block(Open::Tool(index), block, out);
            }
            let fragment = function.and_then(|f| f.get("arguments")).and_then(Value::as_str).unwrap_or_default();
            if !fragment.is_empty() {
                out.push(self.delta(json!({"type": "input_json_delta", "partial_json": fragment})));
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.close(out);
            if self.stop.is_none() {
                self.stop = Some(stop_reason(reason));
            }
        }
    }

    /// The closing events: the open block's stop, `message_delta` and `message_stop`.
    /// Called at `[DONE]` or when the upstream's stream ends.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        if self.finished {
            return;
        }
        self.start("", out);
        self.close(out);
        self.finished = true;
        let tokens = self.tokens.unwrap_or_default();
        let mut usage = tokens.anthropic();
        usage["output_tokens"] = json!(tokens.output);
        out.push(Event::new(
            "message_delta",
            json!({
                "type": "message_delta",
                "delta": {"stop_reason": self.stop.unwrap_or("end_turn"), "stop_sequence": null},
                "usage": usage,
            }),
        ));
        out.push(Event::new("message_stop", json!({"type": "message_stop"})));
    }

    /// Whether `finish` has run.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn start(&mut self, id: &str, out: &mut Vec<Event>) {
        if self.started {
            return;
        }
        self.started = true;
        let input = self.tokens.map_or(0, |t| t.input);
        out.push(Event::new(
            "message_start",
            json!({
                "type": "message_start",
                "message": {
                    "id": message_id(id),
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": {"input_tokens": input, "output_tokens": 0},
                },
            }),
        ));
        out.push(Event::new("ping", json!({"type": "ping"})));
    }

    fn open_block(&mut self, open: Open, block: Value, out: &mut Vec<Event>) {
        self.open = open;
        out.push(Event::new(
            "content_block_start",
            json!({"type": "content_block_start", "index": self.next, "content_block": block}),
        ));
    }

    fn delta(&self, delta: Value) -> Event {
        Event::new("content_block_delta", json!({"type": "content_block_delta", "index": self.next, "delta": delta}))
    }

    fn close(&mut self, out: &mut Vec<Event>) {
        if self.open == Open::None {
            return;
        }
        out.push(Event::new("content_block_stop", json!({"type": "content_block_stop", "index": self.next})));
        self.open = Open::None;
        self.next += 1;
    }
}
