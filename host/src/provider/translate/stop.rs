//! The small vocabularies that differ between the dialects: stop reasons, usage objects and
//! error shapes.

use serde_json::{Value, json};

use super::json::u32_of;

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn and anything newer: the model stopped.
        _ => "stop",
    }
}

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// Token counts in dialect-neutral terms: `input` includes cached tokens, as OpenAI counts
/// them; `cached` is the part read from a prompt cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u32,
    pub output: u32,
    pub cached: u32,
    /// Tokens written to Anthropic's prompt cache (included in `input`).
    pub cache_written: u32,
}

impl Tokens {
    /// From an Anthropic `usage` object, where `input_tokens` excludes cache reads and writes.
    pub fn from_anthropic(usage: &Value) -> Option<Tokens> {
        let input = u32_of(usage.get("input_tokens"));
        let output = u32_of(usage.get("output_tokens"));
        if input.is_none() && output.is_none() {
            return None;
        }
        let cached = u32_of(usage.get("cache_read_input_tokens")).unwrap_or(0);
        let cache_written = u32_of(usage.get("cache_creation_input_tokens")).unwrap_or(0);
        Some(Tokens {
            input: input.unwrap_or(0).saturating_add(cached).saturating_add(cache_written),
            output: output.unwrap_or(0),
            cached,
            cache_written,
        })
    }

    /// From an OpenAI `usage` object (`prompt_tokens_details.cached_tokens` when reported).
    pub fn from_openai(usage: &Value) -> Option<Tokens> {
        let input = u32_of(usage.get("prompt_tokens"));
        let output = u32_of(usage.get("completion_tokens"));
        if input.is_none() && output.is_none() {
            return None;
        }
        let cached = u32_of(usage.pointer("/prompt_tokens_details/cached_tokens")).unwrap_or(0);
        let cache_written = u32_of(usage.get("cache_creation_input_tokens")).unwrap_or(0);
        Some(Tokens { input: input.unwrap_or(0), output: output.unwrap_or(0), cached, cache_written })
    }

    /// As an OpenAI `usage` object.
    pub fn openai(&self) -> Value {
        let mut usage = json!({
            "prompt_tokens": self.input,
            "completion_tokens": self.output,
            "total_tokens": u64::from(self.input) + u64::from(self.output),
        });
        if self.cached > 0 {
            usage["prompt_tokens_details"] = json!({"cached_tokens": self.cached});
        }
        if self.cache_written > 0 {
            // Not an OpenAI field: Anthropic's cache writes, so a round trip keeps them.
            usage["cache_creation_input_tokens"] = json!(self.cache_written);
        }
        usage
    }

    /// As an Anthropic `usage` object.
    pub fn anthropic(&self) -> Value {
        let uncached = self.input.saturating_sub(self.cached).saturating_sub(self.cache_written);
        json!({
            "input_tokens": uncached,
            "output_tokens": self.output,
            "cache_creation_input_tokens": self.cache_written,
            "cache_read_input_tokens": self.cached,
        })
    }
}

/// Anthropic's error `type` for an HTTP status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// An error body in Anthropic's shape.
pub fn anthropic_error(status: u16, message: &str) -> Value {
    json!({"type": "error", "error": {"type": error_type(status), "message": message}})
}

/// An OpenAI-shaped error body (`{"error": {"message", "type", ..}}`) reshaped for an
/// Anthropic client; `None` when `body` is not one.
pub fn error_to_anthropic(status: u16, body: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let message = error.get("message").and_then(Value::as_str).or(error.as_str())?;
    Some(anthropic_error(status, message))
}
