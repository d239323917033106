//! Upstream errors, classified the way the router needs them: which ones a retry or the
//! next plan step can fix, and a short label for metrics and the decision record.
//! No variant ever carries the API key: messages are built from the URL host, the status
//! and the upstream's own error text.

use std::time::Duration;

/// Why an upstream call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Could not connect, or the connection dropped before any response arrived (this
    /// includes a stale pooled connection, which is why it is retryable).
    #[error("connection to the upstream failed: {0}")]
    Connect(String),
    /// The attempt's deadline (min of the provider's `timeout_ms` and the request's
    /// remaining deadline) passed.
    #[error("upstream timed out after {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The upstream answered with a non-2xx status.
    #[error("upstream returned {status}: {message}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// The upstream's error message (truncated), or its body when not OpenAI-shaped.
        message: String,
        /// The `retry-after` header, when present (seconds).
        retry_after: Option<Duration>,
    },
    /// The upstream answered 2xx but not in the OpenAI shape (invalid JSON, no choices,
    /// an error event in the stream...).
    #[error("upstream protocol error: {0}")]
    Protocol(String),
    /// A streamed answer stopped before it was complete.
    #[error("upstream stream was cut before it finished: {0}")]
    StreamCut(String),
}

impl ProviderError {
    /// A short stable label for metrics and decision records.
    pub fn kind_label(&self) -> &'static str {
        match self {
            ProviderError::Connect(_) => "connect",
            ProviderError::Timeout(_) => "timeout",
            ProviderError::Status { status: 429, .. } => "rate_limited",
            ProviderError::Status { status, .. } if *status >= 500 => "upstream_5xx",
            ProviderError::Status { .. } => "upstream_4xx",
            ProviderError::Protocol(_) => "protocol",
            ProviderError::StreamCut(_) => "stream_cut",
        }
    }

    /// Whether the same provider may succeed if asked again: rate limits, server errors
    /// and connect failures. Timeouts are not retried on the same provider (the deadline
    /// is usually nearly spent; the next plan step is the better bet), nor are 4xx
    /// (the request itself is wrong) or protocol errors (the upstream is broken).
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Connect(_) => true,
            ProviderError::Status { status, .. } => *status == 429 || *status >= 500,
            ProviderError::Timeout(_) | ProviderError::Protocol(_) | ProviderError::StreamCut(_) => false,
        }
    }
}

/// Why [`super::Providers::from_config`] failed.
#[derive(Debug, thiserror::Error)]
#[error("provider {provider:?}: {message}")]
pub struct SetupError {
    /// The provider's name.
    pub provider: String,
    /// What went wrong.
    pub message: String,
}

/// Longest upstream error message kept, in characters: enough to diagnose, short enough
/// for a log line and a client-facing error.
pub(crate) const MAX_MESSAGE_CHARS: usize = 300;

/// `text` cut to [`MAX_MESSAGE_CHARS`] characters (never inside a UTF-8 sequence).
pub(crate) fn truncate(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// The message of an error body: OpenAI's `{"error": {"message": ..}}`, else the text.
pub(crate) fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        let e = v.get("error")?;
        e.get("message").and_then(|m| m.as_str()).or(e.as_str())
    });
    truncate(message.unwrap_or(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_retryability() {
        let status = |s| ProviderError::Status { status: s, message: String::new(), retry_after: None };
        assert!(status(429).is_retryable() && status(503).is_retryable());
        assert!(!status(400).is_retryable());
        assert_eq!(status(429).kind_label(), "rate_limited");
        assert_eq!(status(502).kind_label(), "upstream_5xx");
        assert_eq!(status(404).kind_label(), "upstream_4xx");
        assert!(ProviderError::Connect("x".into()).is_retryable());
        assert!(!ProviderError::Timeout(Duration::from_millis(5)).is_retryable());
        assert_eq!(ProviderError::StreamCut("x".into()).kind_label(), "stream_cut");
    }

    #[test]
    fn error_messages_are_extracted_and_truncated() {
        assert_eq!(error_message(br#"{"error":{"message":"slow down","type":"x"}}"#), "slow down");
        assert_eq!(error_message(b"  plain text\n"), "plain text");
        let long = "é".repeat(1000);
        let cut = truncate(&long);
        assert_eq!(cut.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert_eq!(error_message(&[0xff, 0xfe]), "\u{fffd}\u{fffd}");
    }
}
