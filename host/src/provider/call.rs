//! One chat call: attempts, retries with exponential backoff, and the per-attempt deadline.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, header};
use http_body_util::{BodyExt, Full};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::client::error_chain;
use super::completion::Completion;
use super::error::{ProviderError, error_message};
use super::stream::CompletionStream;
use super::{Provider, UpstreamCall, UpstreamReply};

/// Largest non-streamed answer accepted (a runaway upstream must not exhaust memory).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Largest error body read for its message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

impl Provider {
    /// Sends `call` upstream, retrying 429, 5xx and connect errors up to `max_retries`
    /// times (waiting `retry_backoff_ms * 2^n`, or the upstream's `retry-after` when it
    /// fits), never past `call.deadline`. A stream is returned as soon as its headers
    /// arrive; nothing is retried after that.
    pub async fn chat(&self, call: UpstreamCall<'_>) -> Result<UpstreamReply, ProviderError> {
        let body = call.body;
        let outgoing = Outgoing { body, model: call.upstream_model, stream: call.stream, usage: call.stream_usage };
        let bytes = Bytes::from(serde_json::to_vec(&outgoing).map_err(|e| ProviderError::Protocol(e.to_string()))?);
        let mut retry = 0u32;
        loop {
            let now = Instant::now();
            if now >= call.deadline {
                return Err(ProviderError::Timeout(Duration::ZERO));
            }
            let attempt_deadline = call.deadline.min(now + self.timeout);
            let traceparent = call.traceparent.as_ref();
            let error = match self.attempt(bytes.clone(), call.stream, attempt_deadline, body, traceparent).await {
                Ok(reply) => return Ok(reply),
                Err(e) => e,
            };
            if !error.is_retryable() || retry >= self.max_retries {
                return Err(error);
            }
            let wait = match &error {
                ProviderError::Status { retry_after: Some(after), .. } => *after,
                _ => self.backoff.saturating_mul(1u32 << retry.min(16)),
            };
            if Instant::now() + wait >= call.deadline {
                return Err(error);
            }
            tracing::debug!(provider = %self.name, retry = retry + 1, wait_ms = wait.as_millis() as u64,
                error = %error, "retrying upstream call");
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }

    async fn attempt(
        &self,
        bytes: Bytes,
        stream: bool,
        deadline: Instant,
        request: &Map<String, Value>,
        traceparent: Option<&HeaderValue>,
    ) -> Result<UpstreamReply, ProviderError> {
        let budget = deadline.saturating_duration_since(Instant::now());
        let accept = if stream { "text/event-stream" } else { "application/json" };
        let mut req = Request::post(&self.url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, accept)
            .body(Full::new(bytes))
            .map_err(|e| ProviderError::Protocol(e.to_string()))?;
        for (name, value) in &self.headers {
            req.headers_mut().insert(name.clone(), value.clone());
        }
        if let Some(auth) = &self.authorization {
            req.headers_mut().insert(header::AUTHORIZATION, auth.clone());
        }
        if let Some(traceparent) = traceparent {
            req.headers_mut().insert("traceparent", traceparent.clone());
        }
        let response = match tokio::time::timeout_at(deadline, self.client.request(req)).await {
            Err(_) => return Err(ProviderError::Timeout(budget)),
            Ok(Err(e)) => return Err(ProviderError::Connect(error_chain(&e))),
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers().get(header::RETRY_AFTER));
            let body = read_limited(response.into_body(), deadline, MAX_ERROR_BODY_BYTES).await.unwrap_or_default();
            return Err(ProviderError::Status { status: status.as_u16(), message: error_message(&body), retry_after });
        }
        if stream {
            let content_type = response.headers().get(header::CONTENT_TYPE);
            if content_type.is_some_and(|v| v.as_bytes().starts_with(b"application/json")) {
                return Err(ProviderError::Protocol(
                    "asked for a stream but the upstream answered with plain JSON".into(),
                ));
            }
            let body = response.into_body();
            return Ok(UpstreamReply::Stream(CompletionStream::new(body, deadline, budget, request.clone())));
        }
        let body = match read_limited(response.into_body(), deadline, MAX_BODY_BYTES).await {
            Ok(body) => body,
            Err(ReadError::Timeout) => return Err(ProviderError::Timeout(budget)),
            Err(ReadError::TooLarge) => {
                return Err(ProviderError::Protocol(format!("response larger than {MAX_BODY_BYTES} bytes")));
            }
            Err(ReadError::Body(e)) => return Err(ProviderError::Connect(e)),
        };
        Completion::from_body(&body, request).map(UpstreamReply::Complete)
    }
}

/// The body sent upstream: the client's map serialised as is, except `model` (the upstream's
/// name), `stream`, and with `usage`, `stream_options.include_usage = true` (when
/// `stream_options` is an object or absent). Written in the map's key order with the
/// replaced keys in their sorted place, so the bytes are those of the edited map, without
/// copying it.
struct Outgoing<'a> {
    body: &'a Map<String, Value>,
    model: &'a str,
    stream: bool,
    usage: bool,
}

/// The keys `Outgoing` sets, in sorted order.
#[derive(Clone, Copy)]
enum Set {
    Model,
    Stream,
    StreamOptions,
}

impl Set {
    fn key(self) -> &'static str {
        match self {
            Set::Model => "model",
            Set::Stream => "stream",
            Set::StreamOptions => "stream_options",
        }
    }
}

impl Serialize for Outgoing<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let all = [Set::Model, Set::Stream, Set::StreamOptions];
        let set = if self.stream && self.usage { &all[..] } else { &all[..2] };
        let mut set = set.iter().copied().peekable();
        let mut map = serializer.serialize_map(None)?;
        let put = |map: &mut S::SerializeMap, which: Set, old: Option<&Value>| match which {
            Set::Model => map.serialize_entry("model", self.model),
            Set::Stream => map.serialize_entry("stream", &self.stream),
            Set::StreamOptions => match old {
                Some(Value::Object(options)) => map.serialize_entry("stream_options", &WithUsage(options)),
                Some(other) => map.serialize_entry("stream_options", other),
                None => map.serialize_entry("stream_options", &WithUsage(&Map::new())),
            },
        };
        for (key, value) in self.body {
            while let Some(which) = set.next_if(|w| w.key() < key.as_str()) {
                put(&mut map, which, None)?;
            }
            if let Some(which) = set.next_if(|w| w.key() == key.as_str()) {
                put(&mut map, which, Some(value))?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        for which in set {
            put(&mut map, which, None)?;
        }
        map.end()
    }
}

/// A `stream_options` object with `include_usage` set to true, in sorted key order.
struct WithUsage<'a>(&'a Map<String, Value>);

impl Serialize for WithUsage<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const KEY: &str = "include_usage";
        let mut map = serializer.serialize_map(None)?;
        let mut done = false;
        for (key, value) in self.0 {
            if !done && KEY <= key.as_str() {
                map.serialize_entry(KEY, &true)?;
                done = true;
                if key == KEY {
                    continue;
                }
            }
            map.serialize_entry(key, value)?;
        }
        if !done {
            map.serialize_entry(KEY, &true)?;
        }
        map.end()
    }
}

enum ReadError {
    Timeout,
    TooLarge,
    Body(String),
}

/// Reads a whole body, up to `limit` bytes, before `deadline`.
async fn read_limited(mut body: hyper::body::Incoming, deadline: Instant, limit: usize) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(ReadError::Timeout),
            Ok(None) => return Ok(out),
            Ok(Some(Err(e))) => return Err(ReadError::Body(error_chain(&e))),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    if out.len() + data.len() > limit {
                        return Err(ReadError::TooLarge);
                    }
                    out.extend_from_slice(&data);
                }
            }
        }
    }
}

/// `retry-after` in seconds (integer or decimal). The HTTP-date form is ignored: LLM APIs
/// send seconds, and a wrong clock would turn a date into a huge wait.
pub(crate) fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let seconds: f64 = value?.to_str().ok()?.trim().parse().ok()?;
    (0.0..86_400.0).contains(&seconds).then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The old way: copy the map, edit it, serialise it.
    fn edited(body: &Map<String, Value>, model: &str, stream: bool, usage: bool) -> Vec<u8> {
        let mut json = body.clone();
        if stream && usage {
            let options = json.entry("stream_options").or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(options) = options {
                options.insert("include_usage".into(), Value::Bool(true));
            }
        }
        json.insert("model".into(), Value::String(model.to_string()));
        json.insert("stream".into(), Value::Bool(stream));
        serde_json::to_vec(&json).unwrap()
    }

    #[test]
    fn outgoing_body_is_the_edited_map() {
        let bodies = [
            r#"{"messages":[{"role":"user","content":"hi"}]}"#,
            r#"{"model":"auto","messages":[],"stream":true,"a":1,"zz":[1,2],"max_tokens":5}"#,
            r#"{"model":"auto","stream":null,"stream_options":{"include_usage":false,"x":1},"n":2}"#,
            r#"{"model":"auto","stream_options":{"a":1,"z":2},"tools":[]}"#,
            r#"{"model":"auto","stream_options":"weird","temperature":0.5}"#,
            r#"{"model":"auto","stream_options":{},"stream_optionsx":1,"streamy":2,"modem":3,"mode":4}"#,
            r#"{"a":{"model":"nested"},"stream_options":null}"#,
            r#"{}"#,
        ];
        for text in bodies {
            let body: Map<String, Value> = serde_json::from_str(text).unwrap();
            for (stream, usage) in [(false, false), (false, true), (true, false), (true, true)] {
                let outgoing = Outgoing { body: &body, model: "up-1", stream, usage };
                let got = serde_json::to_vec(&outgoing).unwrap();
                assert_eq!(
                    String::from_utf8(got).unwrap(),
                    String::from_utf8(edited(&body, "up-1", stream, usage)).unwrap(),
                    "{text} stream={stream} usage={usage}"
                );
            }
        }
    }

    #[test]
    fn retry_after_parses_seconds_only() {
        let h = |s: &str| HeaderValue::from_str(s).ok();
        assert_eq!(retry_after(h("1").as_ref()), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(h("0.5").as_ref()), Some(Duration::from_millis(500)));
        assert_eq!(retry_after(h("Wed, 21 Oct 2015 07:28:00 GMT").as_ref()), None);
        assert_eq!(retry_after(h("-1").as_ref()), None);
        assert_eq!(retry_after(h("nan").as_ref()), None);
        assert_eq!(retry_after(None), None);
    }
}
