//! `[providers.NAME]`: one upstream API endpoint and how to talk to it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// The wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenAI-compatible `/chat/completions` API (OpenAI, vLLM, Ollama, Together, ...).
    #[default]
    Openai,
    /// Anthropic's Messages API (`/messages`, `x-api-key`, `anthropic-version`).
    Anthropic,
}

/// One upstream provider.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Wire protocol: `"openai"` (the default) or `"anthropic"`.
    #[serde(default)]
    pub kind: ProviderKind,
    /// Base URL up to and excluding `/chat/completions` (or `/messages` for Anthropic), e.g.
    /// `https://api.openai.com/v1` or `https://api.anthropic.com/v1`.
    /// Must be an absolute `http` or `https` URL.
    pub base_url: String,
    /// Name of the environment variable holding the API key. The key itself never goes in
    /// the file: config files end up in repositories and bug reports.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Present only so that a key pasted into the file gets a helpful error instead of
    /// "unknown field"; always rejected by validation.
    #[serde(default, rename = "api_key")]
    pub(crate) api_key_in_file: Option<toml::Value>,
    /// Deadline of one attempt, in ms (also capped by the request's deadline). Default 60 000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// TCP + TLS connect deadline, in ms. Default 2 000.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Retries after the first attempt on 429, 5xx and connect errors. Default 1.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// First retry waits this long, then it doubles each time. Default 100 ms.
    #[serde(default = "default_retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// Extra headers sent with every request (e.g. `OpenAI-Organization`, or an
    /// `anthropic-version` other than the default `2023-06-01`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn default_timeout_ms() -> u64 {
    60_000
}
fn default_connect_timeout_ms() -> u64 {
    2_000
}
fn default_max_retries() -> u32 {
    1
}
fn default_retry_backoff_ms() -> u64 {
    100
}

impl ProviderConfig {
    /// A provider at `base_url` with every other field at its default.
    pub fn new(base_url: impl Into<String>) -> Self {
        ProviderConfig {
            kind: ProviderKind::Openai,
            base_url: base_url.into(),
            api_key_env: None,
            api_key_in_file: None,
            timeout_ms: default_timeout_ms(),
            connect_timeout_ms: default_connect_timeout_ms(),
            max_retries: default_max_retries(),
            retry_backoff_ms: default_retry_backoff_ms(),
            headers: BTreeMap::new(),
        }
    }
    /// `timeout_ms` as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
    /// `connect_timeout_ms` as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
    /// `retry_backoff_ms` as a duration.
    pub fn retry_backoff(&self) -> Duration {
        Duration::from_millis(self.retry_backoff_ms)
    }
}

/// Checks that `url` is an absolute http(s) URL with a host; returns what is wrong if not.
pub(crate) fn check_base_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("expected an http:// or https:// URL, got {url:?} ({e})"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(format!("expected an http:// or https:// URL, got {url:?}")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("expected a URL with a host, got {url:?}"));
    }
    if uri.query().is_some() {
        return Err(format!("expected a URL without a query string, got {url:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert!(check_base_url("https://api.openai.com/v1").is_ok());
        assert!(check_base_url("http://127.0.0.1:9000/v1/").is_ok());
        assert!(check_base_url("ftp://x/v1").is_err());
        assert!(check_base_url("api.openai.com/v1").is_err());
        assert!(check_base_url("").is_err());
        assert!(check_base_url("https://x/v1?a=b").is_err());
    }
}
