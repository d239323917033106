//! Constructors for the contract's types, so host code that builds them (samples, fixtures,
//! eval) does not spell out every field 0.2.0 added.

use super::bindings::types::{Candidate, Message};

impl Message {
    /// A text message with no parts, tool calls or tool results.
    pub fn text(role: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            role: role.into(),
            content: content.into(),
            parts: Vec::new(),
            tool_calls: Vec::new(),
            tool_results: Vec::new(),
        }
    }
}

impl Candidate {
    /// A text answer that stopped normally, with no tool calls.
    pub fn text(model: impl Into<String>, content: impl Into<String>) -> Self {
        let content = content.into();
        Candidate {
            model: model.into(),
            // About four characters a token, as the host estimates elsewhere.
            output_tokens: content.len().div_ceil(4).min(u32::MAX as usize) as u32,
            content,
            finish_reason: "stop".into(),
            input_tokens: 0,
            mean_logprob: None,
            last_step: false,
            tool_calls: Vec::new(),
            refusal: None,
        }
    }
}
