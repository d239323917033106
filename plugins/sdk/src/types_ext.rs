//! Inherent helpers and constructors on the generated types.

use crate::types::{Candidate, Message, ModelInfo, Request, ResponseFormat, Signal, Tool, ToolCall, ToolChoice};

impl Message {
    /// A text message with `role` and `content` (no parts, tool calls or tool results).
    pub fn new(role: &str, content: &str) -> Self {
        Message {
            role: role.to_string(),
            content: content.to_string(),
            parts: Vec::new(),
            tool_calls: Vec::new(),
            tool_results: Vec::new(),
        }
    }
}

impl Tool {
    /// A tool named `name` whose arguments follow the JSON Schema `parameters` (as text).
    pub fn new(name: &str, parameters: &str) -> Self {
        Tool { name: name.to_string(), description: String::new(), parameters: parameters.to_string(), strict: false }
    }
}

impl ToolCall {
    /// A call of `name` with `arguments` (as text).
    pub fn new(id: &str, name: &str, arguments: &str) -> Self {
        ToolCall { id: id.to_string(), name: name.to_string(), arguments: arguments.to_string() }
    }
}

impl Request {
    /// A request with one user message and defaults elsewhere (`input-tokens` estimated at
    /// four characters a token): handy in tests.
    pub fn from_user(text: &str) -> Self {
        Request {
            id: "test".to_string(),
            model: "auto".to_string(),
            messages: vec![Message::new("user", text)],
            max_tokens: None,
            temperature: None,
            streaming: false,
            wants_json: false,
            json_schema: None,
            has_tools: false,
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            response_format: ResponseFormat::Text,
            input_tokens: crate::text::estimate_tokens(text),
            metadata: Vec::new(),
        }
    }

    /// See [`crate::text::last_user_message`].
    pub fn last_user_message(&self) -> Option<&str> {
        crate::text::last_user_message(&self.messages)
    }

    /// See [`crate::text::user_text`].
    pub fn user_text(&self) -> String {
        crate::text::user_text(&self.messages)
    }

    /// The offered tool named `name`.
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// See [`crate::text::meta`].
    pub fn meta(&self, key: &str) -> Option<&str> {
        crate::text::meta(self, key)
    }
}

impl Signal {
    /// A signal without a label.
    pub fn new(name: impl Into<String>, value: f64) -> Self {
        Signal { name: name.into(), value, label: None }
    }

    /// A signal with a categorical label.
    pub fn labelled(name: impl Into<String>, value: f64, label: impl Into<String>) -> Self {
        Signal { name: name.into(), value, label: Some(label.into()) }
    }
}

impl ModelInfo {
    /// A healthy model with a 128k context window, zero prices and no tags: handy in tests.
    pub fn new(id: &str, tier: u32) -> Self {
        ModelInfo {
            id: id.to_string(),
            tier,
            input_price: 0.0,
            output_price: 0.0,
            context_window: 128_000,
            tags: Vec::new(),
            healthy: true,
            p50_ms: 0,
            error_rate: 0.0,
        }
    }

    /// Whether the operator gave this model tag `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

impl Candidate {
    /// A candidate answer that stopped normally: handy in tests.
    pub fn new(model: &str, content: &str) -> Self {
        Candidate {
            model: model.to_string(),
            content: content.to_string(),
            finish_reason: "stop".to_string(),
            input_tokens: 0,
            output_tokens: crate::text::estimate_tokens(content),
            mean_logprob: None,
            last_step: false,
            tool_calls: Vec::new(),
            refusal: None,
        }
    }

    /// An answer that makes these tool calls and has no text.
    pub fn with_tool_calls(model: &str, calls: Vec<ToolCall>) -> Self {
        let output_tokens = calls.iter().map(|c| crate::text::estimate_tokens(&c.arguments) + 4).sum();
        Candidate {
            finish_reason: "tool_calls".to_string(),
            output_tokens,
            tool_calls: calls,
            ..Candidate::new(model, "")
        }
    }
}
