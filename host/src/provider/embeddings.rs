//! One embeddings call (`POST {base_url}/embeddings`): the client's body with `model` set to
//! the upstream's name, retried like a chat call, and the usage the cost is priced from.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::Full;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::Provider;
use super::call::{ReadError, read_limited, retry_after};
use super::client::error_chain;
use super::cost::{Usage, estimate_tokens};
use super::error::{ProviderError, error_message};

/// Largest embeddings answer accepted (many long vectors are large, but not unbounded).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// An embeddings answer: the upstream's JSON and its usage (estimated when not reported).
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub body: Map<String, Value>,
    pub usage: Usage,
}

impl Embeddings {
    /// The body as the client gets it, `model` naming the model that answered.
    pub fn into_bytes(mut self, model: &str) -> Vec<u8> {
        self.body.insert("model".into(), Value::String(model.to_string()));
        serde_json::to_vec(&self.body).unwrap_or_default()
    }
}

/// The text of an embeddings `input`: a string, or an array of strings (token arrays count
/// one token per element).
fn input_tokens(input: Option<&Value>) -> u32 {
    match input {
        Some(Value::String(s)) => estimate_tokens(s),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => estimate_tokens(s),
                Value::Array(tokens) => u32::try_from(tokens.len()).unwrap_or(u32::MAX),
                Value::Number(_) => 1,
                _ => 0,
            })
            .fold(0u32, u32::saturating_add),
        _ => 0,
    }
}

impl Provider {
    /// The embeddings URL, next to the chat-completions one.
    pub fn embeddings_url(&self) -> String {
        let base = self.url.strip_suffix("/chat/completions").unwrap_or(&self.url);
        format!("{base}/embeddings")
    }

    /// Sends an embeddings request upstream, retrying 429, 5xx and connect errors as
    /// [`Provider::chat`] does, never past `deadline`.
    pub async fn embeddings(
        &self,
        body: &Map<String, Value>,
        upstream_model: &str,
        deadline: Instant,
    ) -> Result<Embeddings, ProviderError> {
        let mut outgoing = body.clone();
        outgoing.insert("model".into(), Value::String(upstream_model.to_string()));
        let bytes = Bytes::from(serde_json::to_vec(&outgoing).map_err(|e| ProviderError::Protocol(e.to_string()))?);
        let mut retry = 0u32;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(ProviderError::Timeout(Duration::ZERO));
            }
            let error = match self.embeddings_attempt(bytes.clone(), deadline.min(now + self.timeout)).await {
                Ok(mut answer) => {
                    if answer.usage.estimated {
                        answer.usage.prompt_tokens = input_tokens(body.get("input"));
                    }
                    return Ok(answer);
                }
                Err(e) => e,
            };
            if !error.is_retryable() || retry >= self.max_retries {
                return Err(error);
            }
            let wait = match &error {
                ProviderError::Status { retry_after: Some(after), .. } => *after,
                _ => self.backoff.saturating_mul(1u32 << retry.min(16)),
            };
            if Instant::now() + wait >= deadline {
                return Err(error);
            }
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }

    async fn embeddings_attempt(&self, bytes: Bytes, deadline: Instant) -> Result<Embeddings, ProviderError> {
        let budget = deadline.saturating_duration_since(Instant::now());
        let mut req = Request::post(self.embeddings_url())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(bytes))
            .map_err(|e| ProviderError::Protocol(e.to_string()))?;
        for (name, value) in &self.headers {
            req.headers_mut().insert(name.clone(), value.clone());
        }
        if let Some(auth) = &self.authorization {
            req.headers_mut().insert(header::AUTHORIZATION, auth.clone());
        }
        let response = match tokio::time::timeout_at(deadline, self.client.request(req)).await {
            Err(_) => return Err(ProviderError::Timeout(budget)),
            Ok(Err(e)) => return Err(ProviderError::Connect(error_chain(&e))),
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers().get(header::RETRY_AFTER));
            let body = read_limited(response.into_body(), deadline, 64 * 1024).await.unwrap_or_default();
            return Err(ProviderError::Status { status: status.as_u16(), message: error_message(&body), retry_after });
        }
        let body = match read_limited(response.into_body(), deadline, MAX_BODY_BYTES).await {
            Ok(body) => body,
            Err(ReadError::Timeout) => return Err(ProviderError::Timeout(budget)),
            Err(ReadError::TooLarge) => {
                return Err(ProviderError::Protocol(format!("response larger than {MAX_BODY_BYTES} bytes")));
            }
            Err(ReadError::Body(e)) => return Err(ProviderError::Connect(e)),
        };
        let body: Map<String, Value> = serde_json::from_slice(&body)
            .map_err(|e| ProviderError::Protocol(format!("embeddings response is not a JSON object: {e}")))?;
        if !body.get("data").is_some_and(Value::is_array) {
            return Err(ProviderError::Protocol("embeddings response has no `data` array".into()));
        }
        let prompt = body.get("usage").and_then(|u| u.get("prompt_tokens")).and_then(Value::as_u64);
        let usage = Usage {
            prompt_tokens: prompt.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            estimated: prompt.is_none(),
            ..Default::default()
        };
        Ok(Embeddings { body, usage })
    }
}
