//! Upstream clients: one pooled HTTP(S) client per configured provider, speaking the
//! OpenAI chat-completions protocol or Anthropic's Messages API (`translate` converts
//! between them), with retries, deadlines, stream parsing, passive
//! health and a circuit breaker per model.
//!
//! The provider layer knows nothing about routing: it makes one call (with retries on the
//! same provider) and reports what happened. Falling back to another model is the route
//! pipeline's job, so that every fallback shows up in the decision record.

mod breaker;
mod call;
pub(crate) mod client;
mod completion;
pub mod cost;
mod dialect;
pub mod embeddings;
mod error;
pub mod health;
pub mod sse;
mod stream;
pub mod tool_calls;
pub mod tool_schema;
pub mod translate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::config::{Config, ProviderConfig, ProviderKind, Secret};

pub use completion::{Completion, CompletionBody};
pub use cost::{Usage, cost_usd};
pub use dialect::Dialect;
pub use error::{ProviderError, SetupError};
pub use health::{HealthBook, HealthOptions, ModelHealth};
pub use stream::{CompletionStream, StreamEvent};
pub use tool_calls::ToolCallPart;

/// One chat call to make upstream.
#[derive(Debug, Clone)]
pub struct UpstreamCall<'a> {
    /// The client's JSON body, passed through untouched (unknown fields included) except
    /// `model` and `stream`, which the provider sets. Borrowed: the body sent is serialised
    /// straight from it with those fields replaced, never copied.
    pub body: &'a Map<String, Value>,
    /// The model name to ask the upstream for.
    pub upstream_model: &'a str,
    /// Whether to ask for a server-sent-event stream.
    pub stream: bool,
    /// With `stream`: also set `stream_options.include_usage` (the usage chunk is needed for
    /// the cost).
    pub stream_usage: bool,
    /// When the whole call, retries included, must be over.
    pub deadline: Instant,
    /// The W3C `traceparent` to send: the request's trace, this attempt's span.
    pub traceparent: Option<http::HeaderValue>,
    /// The request as an Anthropic client sent it, when it came in that dialect: an
    /// Anthropic provider sends it instead of translating `body`, so no field is lost.
    pub original: Option<&'a AnthropicBody>,
}

/// A Messages request as the client sent it, with its `anthropic-beta` header (a feature
/// flag list such as `interleaved-thinking-2025-05-14` that only an Anthropic upstream
/// reads) and its `anthropic-version`: passed upstream with the body, so the upstream
/// answers in the revision the client parses.
#[derive(Debug, Clone, Default)]
pub struct AnthropicBody {
    pub body: Map<String, Value>,
    pub beta: Option<HeaderValue>,
    pub version: Option<HeaderValue>,
}

/// What an upstream call produced.
#[derive(Debug)]
pub enum UpstreamReply {
    /// A non-streamed answer.
    Complete(Completion),
    /// A stream whose headers arrived with a 2xx status; its body is still coming.
    Stream(CompletionStream),
}

/// One configured provider.
pub struct Provider {
    name: String,
    kind: ProviderKind,
    url: String,
    client: client::HttpClient,
    headers: HeaderMap,
    /// Header names the config's `headers` set (a client's own value never replaces them).
    pinned: std::collections::HashSet<String>,
    /// `Bearer <key>` (OpenAI) or the bare key (Anthropic's `x-api-key`), marked sensitive
    /// so hyper never logs it.
    authorization: Option<HeaderValue>,
    timeout: Duration,
    max_retries: u32,
    backoff: Duration,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("has_key", &self.authorization.is_some())
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider named `name` from its config and optional API key.
    pub fn new(name: &str, cfg: &ProviderConfig, key: Option<&Secret>) -> Result<Provider, SetupError> {
        let fail = |message: String| SetupError { provider: name.to_string(), message };
        let client = client::build(cfg.connect_timeout()).map_err(|e| fail(format!("TLS setup: {e}")))?;
        let mut headers = HeaderMap::new();
        if cfg.kind == ProviderKind::Anthropic {
            headers.insert("anthropic-version", HeaderValue::from_static(translate::ANTHROPIC_VERSION));
        }
        for (k, v) in &cfg.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| fail(format!("invalid header name {k:?}")))?;
            let value = HeaderValue::from_str(v).map_err(|_| fail(format!("invalid value for header {k:?}")))?;
            headers.insert(name, value);
        }
        let authorization = match key {
            None => None,
            Some(key) => {
                let text = match cfg.kind {
                    ProviderKind::Openai => format!("Bearer {}", key.expose()),
                    ProviderKind::Anthropic => key.expose().to_string(),
                };
                let mut value = HeaderValue::from_str(&text)
                    .map_err(|_| fail("the API key contains characters not allowed in a header".into()))?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let path = match cfg.kind {
            ProviderKind::Openai => "chat/completions",
            ProviderKind::Anthropic => "messages",
        };
        Ok(Provider {
            name: name.to_string(),
            kind: cfg.kind,
            url: format!("{}/{path}", cfg.base_url.trim_end_matches('/')),
            client,
            pinned: cfg.headers.keys().map(|k| k.to_ascii_lowercase()).collect(),
            headers,
            authorization,
            timeout: cfg.timeout(),
            max_retries: cfg.max_retries,
            backoff: cfg.retry_backoff(),
        })
    }

    /// The provider's name in the config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The chat-completions (or messages) URL it posts to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The dialect it speaks.
    pub fn dialect(&self) -> Dialect {
        match self.kind {
            ProviderKind::Openai => Dialect::Openai,
            ProviderKind::Anthropic => Dialect::Anthropic,
        }
    }
}

/// Every configured provider, by name.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    by_name: BTreeMap<String, Arc<Provider>>,
}

impl Providers {
    /// One pooled client per `[providers.NAME]`, with keys from [`Config::secrets`].
    pub fn from_config(cfg: &Config) -> Result<Providers, SetupError> {
        let mut by_name = BTreeMap::new();
        for (name, p) in &cfg.providers {
            let provider = Provider::new(name, p, cfg.secrets().provider_key(name))?;
            by_name.insert(name.clone(), Arc::new(provider));
        }
        Ok(Providers { by_name })
    }

    /// The provider called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Provider>> {
        self.by_name.get(name)
    }

    /// The provider serving model `model_id` in `cfg`, with the upstream model name.
    pub fn for_model<'c>(&self, cfg: &'c Config, model_id: &str) -> Option<(&Arc<Provider>, &'c str)> {
        let model = cfg.models.get(model_id)?;
        Some((self.get(&model.provider)?, model.upstream_name()))
    }

    /// All providers, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<Provider>)> {
        self.by_name.iter().map(|(k, v)| (k.as_str(), v))
    }
}
