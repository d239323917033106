//! A complete answer, parsed from a non-streamed body or assembled from a stream.

use serde_json::{Map, Value};

use super::cost::{Usage, estimate_prompt_tokens, estimate_tokens};
use super::error::ProviderError;

/// One complete upstream answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The upstream's JSON (for a stream: an equivalent `chat.completion` object).
    pub body: Value,
    /// `choices[0].message.content` (empty for tool-call-only answers).
    pub content: String,
    /// `choices[0].finish_reason` (`"stop"`, `"length"`, ...; empty if the upstream gave none).
    pub finish_reason: String,
    /// Token counts, reported or estimated.
    pub usage: Usage,
    /// Mean of `choices[0].logprobs.content[*].logprob`, when the upstream returned logprobs.
    pub mean_logprob: Option<f64>,
}

impl Completion {
    /// Parses a non-streamed `chat.completion` body. `request` is the body that was sent,
    /// used to estimate prompt tokens when the upstream reports no usage.
    pub fn from_body(bytes: &[u8], request: &Map<String, Value>) -> Result<Completion, ProviderError> {
        let body: Value = serde_json::from_slice(bytes)
            .map_err(|e| ProviderError::Protocol(format!("response is not valid JSON: {e}")))?;
        let choice = body
            .get("choices")
            .and_then(|c| c.get(0))
            .ok_or_else(|| ProviderError::Protocol("response has no choices[0]".to_string()))?;
        let content = choice.pointer("/message/content").and_then(Value::as_str).unwrap_or_default().to_string();
        let finish_reason = choice.get("finish_reason").and_then(Value::as_str).unwrap_or_default().to_string();
        let mean_logprob = mean_logprob(choice.pointer("/logprobs/content"));
        let usage = usage_of(body.get("usage"), request, &content);
        Ok(Completion { body, content, finish_reason, usage, mean_logprob })
    }
}

/// The upstream's `usage` object, or an estimate when it is missing or malformed.
pub(crate) fn usage_of(usage: Option<&Value>, request: &Map<String, Value>, content: &str) -> Usage {
    let count = |key: &str| {
        usage.and_then(|u| u.get(key)).and_then(Value::as_u64).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    match (count("prompt_tokens"), count("completion_tokens")) {
        (Some(prompt_tokens), Some(completion_tokens)) => Usage { prompt_tokens, completion_tokens, estimated: false },
        _ => Usage {
            prompt_tokens: estimate_prompt_tokens(request),
            completion_tokens: estimate_tokens(content),
            estimated: true,
        },
    }
}

/// Mean of the `logprob` fields of a `logprobs.content` array.
pub(crate) fn mean_logprob(tokens: Option<&Value>) -> Option<f64> {
    let values: Vec<f64> =
        tokens?.as_array()?.iter().filter_map(|t| t.get("logprob").and_then(Value::as_f64)).collect();
    if values.is_empty() { None } else { Some(values.iter().sum::<f64>() / values.len() as f64) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req() -> Map<String, Value> {
        json!({"messages": [{"role": "user", "content": "12345678"}]}).as_object().cloned().unwrap()
    }

    #[test]
    fn parses_a_full_body() {
        let body = json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                         "finish_reason": "stop",
                         "logprobs": {"content": [{"logprob": -0.5}, {"logprob": -1.5}]}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}
        });
        let c = Completion::from_body(body.to_string().as_bytes(), &req()).unwrap();
        assert_eq!((c.content.as_str(), c.finish_reason.as_str()), ("hi", "stop"));
        assert_eq!(c.usage, Usage { prompt_tokens: 9, completion_tokens: 1, estimated: false });
        assert_eq!(c.mean_logprob, Some(-1.0));
    }

    #[test]
    fn estimates_missing_usage() {
        let body = json!({"choices": [{"message": {"content": "abcdefgh"}, "finish_reason": "stop"}]});
        let c = Completion::from_body(body.to_string().as_bytes(), &req()).unwrap();
        assert_eq!(c.usage, Usage { prompt_tokens: 6, completion_tokens: 2, estimated: true });
        assert_eq!(c.mean_logprob, None);
    }

    #[test]
    fn rejects_bad_bodies() {
        for bad in [&b"not json"[..], b"{}", br#"{"choices": []}"#, b"[1]"] {
            assert!(matches!(Completion::from_body(bad, &req()), Err(ProviderError::Protocol(_))));
        }
    }
}
