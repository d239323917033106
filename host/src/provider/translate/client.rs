//! Writing a stream to the client in the client's dialect, whatever the upstream spoke:
//! OpenAI chunks pass through (with `model` set), Anthropic events pass through (with the
//! model in `message_start` set), and across dialects the state machines translate.

use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

use super::stop::error_type;
use super::stream_out::{Event, OpenaiToAnthropic};
use crate::provider::{Dialect, StreamEvent};

/// One client stream's writer.
#[derive(Debug)]
pub struct ClientStream {
    dialect: Dialect,
    model: String,
    include_usage: bool,
    /// For an Anthropic client of an OpenAI-dialect upstream.
    to_anthropic: Option<OpenaiToAnthropic>,
    events: Vec<Event>,
    /// An Anthropic upstream's events went through as they are.
    passed_through: bool,
    done: bool,
}

impl ClientStream {
    /// A writer for a client speaking `dialect`, naming `model` as the model that answered.
    /// `include_usage` is the OpenAI client's `stream_options.include_usage` (the usage
    /// chunk Switchyard asks for on its own behalf is dropped otherwise).
    pub fn new(dialect: Dialect, model: &str, include_usage: bool) -> Self {
        ClientStream {
            dialect,
            model: model.to_string(),
            include_usage,
            to_anthropic: None,
            events: Vec::new(),
            passed_through: false,
            done: false,
        }
    }

    /// Appends what the client should see of `event` to `out` (possibly nothing).
    pub fn write(&mut self, event: StreamEvent, out: &mut BytesMut) {
        match (self.dialect, event) {
            (Dialect::Openai, StreamEvent::Chunk(chunk)) => self.openai_chunk(chunk, out),
            (Dialect::Openai, StreamEvent::Anthropic { chunks, .. }) => {
                for chunk in chunks {
                    self.openai_chunk(chunk, out);
                }
            }
            (_, StreamEvent::Done) => self.done(out),
            (Dialect::Anthropic, StreamEvent::Chunk(chunk)) => {
                let translator = self.to_anthropic.get_or_insert_with(|| OpenaiToAnthropic::new(&self.model));
                translator.chunk(&chunk, &mut self.events);
                for event in self.events.drain(..) {
                    named(event.name, &event.data, out);
                }
            }
            (Dialect::Anthropic, StreamEvent::Anthropic { mut data, .. }) => {
                let kind = data.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
                if kind == "message_start"
                    && let Some(message) = data.get_mut("message").and_then(Value::as_object_mut)
                {
                    message.insert("model".into(), json!(self.model));
                }
                self.passed_through = true;
                if kind == "message_stop" {
                    self.done = true;
                }
                named(&kind, &data, out);
            }
        }
    }

    /// Ends the stream: `[DONE]` for OpenAI clients; for Anthropic clients of an OpenAI
    /// upstream, the closing `message_delta` / `message_stop`. Idempotent.
    pub fn done(&mut self, out: &mut BytesMut) {
        if self.done {
            return;
        }
        self.done = true;
        match self.dialect {
            Dialect::Openai => out.put_slice(b"data: [DONE]\n\n"),
            // An Anthropic upstream that ended after its stop reason without `message_stop`.
            Dialect::Anthropic if self.passed_through => {
                named("message_stop", &json!({"type": "message_stop"}), out);
            }
            Dialect::Anthropic => {
                let translator = self.to_anthropic.get_or_insert_with(|| OpenaiToAnthropic::new(&self.model));
                translator.finish(&mut self.events);
                for event in self.events.drain(..) {
                    named(event.name, &event.data, out);
                }
            }
        }
    }

    /// An error event ending a stream that broke midway. `openai_error` is the error body
    /// OpenAI clients get (`{"error": {...}}`).
    pub fn error(&mut self, status: u16, message: &str, openai_error: &Value, out: &mut BytesMut) {
        self.done = true;
        match self.dialect {
            Dialect::Openai => data(openai_error, out),
            Dialect::Anthropic => {
                let body = json!({"type": "error", "error": {"type": error_type(status), "message": message}});
                named("error", &body, out);
            }
        }
    }

    fn openai_chunk(&mut self, mut chunk: Value, out: &mut BytesMut) {
        let Value::Object(object) = &mut chunk else {
            return data(&chunk, out);
        };
        if !self.include_usage && object.contains_key("usage") {
            let no_choices = object.get("choices").and_then(Value::as_array).is_none_or(Vec::is_empty);
            if no_choices {
                return;
            }
            object.remove("usage");
        }
        object.insert("model".into(), Value::String(self.model.clone()));
        data(&chunk, out);
    }
}

fn data(value: &Value, out: &mut BytesMut) {
    out.put_slice(b"data: ");
    let _ = serde_json::to_writer((&mut *out).writer(), value);
    out.put_slice(b"\n\n");
}

fn named(name: &str, value: &Value, out: &mut BytesMut) {
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
    let _ = serde_json::to_writer((&mut *out).writer(), value);
    out.put_slice(b"\n\n");
}
