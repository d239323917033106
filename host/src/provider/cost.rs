//! Token estimates and cost. Upstreams usually report usage; when one does not (some
//! OpenAI-compatible servers, streams without `include_usage`), the router still needs a
//! number for cost accounting and policies, so it estimates ~4 characters per token, the
//! usual rule of thumb for English text with BPE tokenizers.

use serde_json::Value;

use crate::config::Prices;

/// Token counts of one completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Usage {
    /// Input tokens.
    pub prompt_tokens: u32,
    /// Output tokens.
    pub completion_tokens: u32,
    /// Of `prompt_tokens`, those the provider served from its prompt cache (priced at the
    /// model's `cached_input_price`); 0 when not reported.
    pub cached_prompt_tokens: u32,
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

/// Estimated prompt tokens of a conversation given each message's text: the one estimate
/// the proxy, eval, fixtures and samples all use, so a policy sees the same `input-tokens`
/// offline as live.
pub fn estimate_messages<'a>(texts: impl IntoIterator<Item = &'a str>) -> u32 {
    texts.into_iter().map(|t| TOKENS_PER_MESSAGE.saturating_add(estimate_tokens(t))).fold(0u32, u32::saturating_add)
}

/// Estimated prompt tokens of a chat request body (its `messages`). Handles string
/// content and the array-of-parts form (`[{"type": "text", "text": ..}]`).
pub fn estimate_prompt_tokens(body: &serde_json::Map<String, Value>) -> u32 {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return 0;
    };
    let texts: Vec<String> = messages.iter().map(message_text).collect();
    estimate_messages(texts.iter().map(String::as_str))
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

/// Cost in USD of `usage` at a model's prices; `None` for an unpriced model. The one cost
/// function: the proxy, eval and the decision record all price through it.
pub fn cost_usd(usage: &Usage, prices: Option<Prices>) -> Option<f64> {
    let p = prices?;
    let cached = usage.cached_prompt_tokens.min(usage.prompt_tokens);
    let fresh = usage.prompt_tokens - cached;
    Some(
        (f64::from(fresh) * p.input
            + f64::from(cached) * p.cached_input
            + f64::from(usage.completion_tokens) * p.output)
            / 1_000_000.0,
    )
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
        let prices = |input, output| Some(Prices { input, output, cached_input: input / 10.0 });
        let u = Usage { prompt_tokens: 1_000_000, completion_tokens: 500_000, ..Default::default() };
        assert!((cost_usd(&u, prices(0.15, 0.6)).unwrap() - 0.45).abs() < 1e-12);
        assert_eq!(cost_usd(&Usage::default(), prices(10.0, 10.0)), Some(0.0));
        assert_eq!(cost_usd(&u, None), None);
        let cached = Usage { prompt_tokens: 1_000_000, cached_prompt_tokens: 400_000, ..Default::default() };
        assert!((cost_usd(&cached, prices(1.0, 0.0)).unwrap() - (0.6 + 0.04)).abs() < 1e-12);
    }
}
