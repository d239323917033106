//! Token estimates and cost. Upstreams usually report usage; when one does not (some
//! OpenAI-compatible servers, streams without `include_usage`), the router still needs a
//! number for cost accounting and policies, so it estimates ~4 characters per token, the
//! usual rule of thumb for English text with BPE tokenizers.

use serde_json::Value;

/// Token counts of one completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Usage {
    /// Input tokens.
    pub prompt_tokens: u32,
    /// Output tokens.
    pub completion_tokens: u32,
    /// True when the counts are the host's estimate, not the upstream's report.
    pub estimated: bool,
}

/// Characters per token assumed by the estimator.
const CHARS_PER_TOKEN: usize = 4;
/// Per-message overhead of the chat format (role markers), as OpenAI documents it.
pub const TOKENS_PER_MESSAGE: u32 = 4;

/// Estimated tokens in `text`: one per 4 characters, rounded up.
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count();
    u32::try_from(chars.div_ceil(CHARS_PER_TOKEN)).unwrap_or(u32::MAX)
}

/// Estimated prompt tokens of a chat request body (its `messages`). Handles string
/// content and the array-of-parts form (`[{"type": "text", "text": ..}]`).
pub fn estimate_prompt_tokens(body: &serde_json::Map<String, Value>) -> u32 {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return 0;
    };
    messages
        .iter()
        .map(|m| TOKENS_PER_MESSAGE.saturating_add(estimate_tokens(&message_text(m))))
        .fold(0u32, u32::saturating_add)
}

/// The text of one message: its string content, or its text parts joined.
pub fn message_text(message: &Value) -> String {
    match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    }
}

/// Cost in USD of `usage` at the given prices (USD per million tokens).
pub fn cost_usd(usage: &Usage, input_price: f64, output_price: f64) -> f64 {
    (f64::from(usage.prompt_tokens) * input_price + f64::from(usage.completion_tokens) * output_price) / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn estimates() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("éééé"), 1);
        let body = json!({"messages": [
            {"role": "user", "content": "abcdefgh"},
            {"role": "user", "content": [{"type": "text", "text": "abcd"}, {"type": "image_url"}]},
            {"role": "assistant", "content": null}
        ]});
        assert_eq!(estimate_prompt_tokens(body.as_object().unwrap()), 4 + 2 + 4 + 1 + 4);
        assert_eq!(estimate_prompt_tokens(&serde_json::Map::new()), 0);
    }

    #[test]
    fn cost() {
        let u = Usage { prompt_tokens: 1_000_000, completion_tokens: 500_000, estimated: false };
        assert!((cost_usd(&u, 0.15, 0.6) - 0.45).abs() < 1e-12);
        assert_eq!(cost_usd(&Usage::default(), 10.0, 10.0), 0.0);
    }
}
