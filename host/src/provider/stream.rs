//! A streamed answer: SSE chunks yielded as they arrive, while an accumulator keeps the
//! answer so far, so the router can both stream through and record (or gate) the result.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::Dialect;
use super::completion::{Completion, CompletionBody, mean_logprob, usage_of};
use super::error::{ProviderError, truncate};
use super::sse::{SseEvent, SseParser};
use super::translate::AnthropicToOpenai;

/// Unix time in seconds, for the `created` of translated chunks.
fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
use super::tool_calls::DeltaAssembler;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One item of a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A `chat.completion.chunk` object.
    Chunk(Value),
    /// The `data: [DONE]` terminator.
    Done,
    /// An Anthropic stream event (`data`, whose `type` names it) and its OpenAI
    /// translation (`chunks`, possibly none), translated once for the gates and for OpenAI
    /// clients alike.
    Anthropic { data: Value, chunks: Vec<Value> },
}

/// A streamed upstream answer. Read it with [`CompletionStream::next_event`] (pass-through)
/// or [`CompletionStream::collect`] (buffering, e.g. before gates judge it).
pub struct CompletionStream {
    body: BoxBody<Bytes, BoxError>,
    /// Boxed: it is the bulk of the struct, and `UpstreamReply::Stream` should stay close in
    /// size to `UpstreamReply::Complete` (clippy's `large_enum_variant`).
    parser: Box<SseParser>,
    pending: VecDeque<SseEvent>,
    deadline: Instant,
    timeout: Duration,
    request: Map<String, Value>,
    acc: Accumulator,
    body_ended: bool,
    finished: bool,
    /// For an Anthropic upstream: its events in canonical terms.
    anthropic: Option<Box<AnthropicToOpenai>>,
}

impl std::fmt::Debug for CompletionStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletionStream").field("finished", &self.finished).finish_non_exhaustive()
    }
}

impl CompletionStream {
    /// Wraps a response body. Reading stops with [`ProviderError::Timeout`] at `deadline`
    /// (`timeout` is the attempt's budget, for the message). `request` is the body sent
    /// upstream, for token estimates when the stream carries no usage.
    pub fn new<B>(body: B, deadline: Instant, timeout: Duration, request: Map<String, Value>) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        CompletionStream {
            body: body.map_err(Into::into).boxed(),
            parser: Box::default(),
            pending: VecDeque::new(),
            deadline,
            timeout,
            request,
            acc: Accumulator::default(),
            body_ended: false,
            finished: false,
            anthropic: None,
        }
    }

    /// The same stream, read as `dialect`'s events (OpenAI unless told otherwise).
    pub fn speaking(mut self, dialect: Dialect) -> Self {
        self.anthropic = match dialect {
            Dialect::Openai => None,
            Dialect::Anthropic => Some(Box::new(AnthropicToOpenai::new(unix_now()))),
        };
        self
    }

    /// The next event, `Ok(None)` once the stream is over. After an error the stream is
    /// over too. A body that ends without `[DONE]` is [`ProviderError::StreamCut`] unless
    /// a `finish_reason` was already seen (some compatible servers omit `[DONE]`).
    pub async fn next_event(&mut self) -> Result<Option<StreamEvent>, ProviderError> {
        let result = self.advance().await;
        if result.is_err() {
            self.finished = true;
        }
        result
    }

    async fn advance(&mut self) -> Result<Option<StreamEvent>, ProviderError> {
        loop {
            if self.finished {
                return Ok(None);
            }
            if let Some(event) = self.pending.pop_front() {
                return self.handle(event).map(Some);
            }
            if self.body_ended {
                self.finished = true;
                return match self.acc.finish_reason {
                    Some(_) => Ok(None),
                    None => Err(ProviderError::StreamCut("the stream ended before [DONE]".into())),
                };
            }
            match tokio::time::timeout_at(self.deadline, self.body.frame()).await {
                Err(_) => return Err(ProviderError::Timeout(self.timeout)),
                Ok(None) => {
                    self.body_ended = true;
                    self.pending.extend(self.parser.finish());
                }
                Ok(Some(Err(e))) => return Err(ProviderError::StreamCut(truncate(&e.to_string()))),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        let events = self.parser.push(&data).map_err(|e| ProviderError::Protocol(e.to_string()))?;
                        self.pending.extend(events);
                    }
                }
            }
        }
    }

    fn handle(&mut self, event: SseEvent) -> Result<StreamEvent, ProviderError> {
        if let Some(translator) = &mut self.anthropic {
            let data: Value = serde_json::from_str(&event.data)
                .map_err(|e| ProviderError::Protocol(format!("stream event is not valid JSON: {e}")))?;
            if !data.is_object() {
                return Err(ProviderError::Protocol("stream event is not a JSON object".into()));
            }
            let mut chunks = Vec::new();
            translator.event(&data, &mut chunks).map_err(|e| {
                ProviderError::Protocol(format!("upstream error in stream: {}", truncate(&e.to_string())))
            })?;
            for chunk in &chunks {
                self.acc.add(chunk);
            }
            if translator.is_stopped() {
                self.finished = true;
            }
            return Ok(StreamEvent::Anthropic { data, chunks });
        }
        if event.data.trim() == "[DONE]" {
            self.finished = true;
            return Ok(StreamEvent::Done);
        }
        let chunk: Value = serde_json::from_str(&event.data)
            .map_err(|e| ProviderError::Protocol(format!("stream event is not valid JSON: {e}")))?;
        if let Some(error) = chunk.get("error") {
            let message = error.get("message").and_then(Value::as_str).unwrap_or("unknown error");
            return Err(ProviderError::Protocol(format!("upstream error in stream: {}", truncate(message))));
        }
        if !chunk.is_object() {
            return Err(ProviderError::Protocol("stream event is not a JSON object".into()));
        }
        self.acc.add(&chunk);
        Ok(StreamEvent::Chunk(chunk))
    }

    /// The answer received so far as a [`Completion`] (complete once the stream is over).
    pub fn summary(&self) -> Completion {
        self.acc.completion(&self.request)
    }

    /// Reads the whole stream; returns the assembled answer and every event but `[DONE]`,
    /// in order.
    pub async fn collect(mut self) -> Result<(Completion, Vec<StreamEvent>), ProviderError> {
        let mut events = Vec::new();
        while let Some(event) = self.next_event().await? {
            if event != StreamEvent::Done {
                events.push(event);
            }
        }
        Ok((self.summary(), events))
    }
}

/// What the chunks so far add up to.
#[derive(Debug, Default)]
struct Accumulator {
    header: Map<String, Value>,
    content: String,
    finish_reason: Option<String>,
    usage: Option<Value>,
    logprobs: Vec<Value>,
    /// Tool-call and refusal deltas.
    tools: DeltaAssembler,
}

impl Accumulator {
    fn add(&mut self, chunk: &Value) {
        for key in ["id", "created", "model", "system_fingerprint"] {
            if let Some(v) = chunk.get(key).filter(|v| !v.is_null()) {
                self.header.entry(key).or_insert_with(|| v.clone());
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) else {
            return;
        };
        if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
            self.content.push_str(text);
        }
        if let Some(delta) = choice.get("delta") {
            self.tools.add(delta);
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_string());
        }
        if let Some(tokens) = choice.pointer("/logprobs/content").and_then(Value::as_array) {
            self.logprobs.extend(tokens.iter().cloned());
        }
    }

    fn completion(&self, request: &Map<String, Value>) -> Completion {
        let usage = usage_of(self.usage.as_ref(), request, &self.content);
        let finish_reason = self.finish_reason.clone().unwrap_or_default();
        let mut body = self.header.clone();
        body.insert("object".into(), json!("chat.completion"));
        let mut message = json!({"role": "assistant", "content": self.content});
        if let Some(calls) = self.tools.message_json() {
            message["tool_calls"] = calls;
            if self.content.is_empty() {
                message["content"] = Value::Null;
            }
        }
        if let Some(refusal) = self.tools.refusal() {
            message["refusal"] = Value::String(refusal);
        }
        body.insert(
            "choices".into(),
            json!([{
                "index": 0,
                "message": message,
                "finish_reason": self.finish_reason,
            }]),
        );
        body.insert(
            "usage".into(),
            json!({
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": u64::from(usage.prompt_tokens) + u64::from(usage.completion_tokens),
            }),
        );
        Completion {
            body: CompletionBody::Json(Value::Object(body)),
            content: self.content.clone(),
            finish_reason,
            usage,
            mean_logprob: mean_logprob(Some(&Value::Array(self.logprobs.clone()))),
            dialect: Dialect::Openai,
            tool_calls: self.tools.calls(),
            refusal: self.tools.refusal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    fn stream_of(parts: Vec<Result<&'static str, &'static str>>) -> CompletionStream {
        let frames = parts.into_iter().map(|p| match p {
            Ok(s) => Ok(Frame::data(Bytes::from_static(s.as_bytes()))),
            Err(e) => Err(BoxError::from(e)),
        });
        let body = StreamBody::new(futures_util::stream::iter(frames));
        let deadline = Instant::now() + Duration::from_secs(5);
        let req = json!({"messages": [{"role": "user", "content": "abcdefgh"}]});
        CompletionStream::new(body, deadline, Duration::from_secs(5), req.as_object().cloned().unwrap_or_default())
    }

    const CHUNK1: &str = "data: {\"id\":\"c1\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";
    const CHUNK2: &str = "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n";
    const USAGE: &str =
        "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2}}\n\n";

    #[tokio::test]
    async fn collects_content_finish_reason_and_usage() {
        let s = stream_of(vec![Ok(CHUNK1), Ok(&CHUNK2[..20]), Ok(&CHUNK2[20..]), Ok(USAGE), Ok("data: [DONE]\n\n")]);
        let (c, chunks) = s.collect().await.unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!(c.content, "Hello");
        assert_eq!(c.finish_reason, "stop");
        assert_eq!((c.usage.prompt_tokens, c.usage.completion_tokens, c.usage.estimated), (7, 2, false));
        assert_eq!(c.body.to_value()["id"], "c1");
        assert_eq!(c.body.to_value()["choices"][0]["message"]["content"], "Hello");
    }

    #[tokio::test]
    async fn assembles_tool_call_deltas_into_the_answer() {
        let s = stream_of(vec![
            Ok(
                "data: {\"id\":\"c2\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n",
            ),
            Ok(
                "data: {\"id\":\"c2\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n",
            ),
            Ok(
                "data: {\"id\":\"c2\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
            ),
            Ok("data: [DONE]\n\n"),
        ]);
        let (c, chunks) = s.collect().await.unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!(c.finish_reason, "tool_calls");
        assert_eq!(c.tool_calls.len(), 1);
        assert_eq!((c.tool_calls[0].id.as_str(), c.tool_calls[0].name.as_str()), ("call_1", "get_weather"));
        assert_eq!(c.tool_calls[0].arguments, r#"{"city":"Paris"}"#);
        let body = c.body.to_value();
        assert_eq!(body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], r#"{"city":"Paris"}"#);
        assert!(body["choices"][0]["message"]["content"].is_null());
    }

    #[tokio::test]
    async fn estimates_usage_and_tolerates_missing_done_after_finish() {
        let (c, _) = stream_of(vec![Ok(CHUNK1), Ok(CHUNK2)]).collect().await.unwrap();
        assert!(c.usage.estimated);
        assert_eq!(c.usage.completion_tokens, 2);
    }

    #[tokio::test]
    async fn cut_streams_are_errors() {
        let err = stream_of(vec![Ok(CHUNK1)]).collect().await.unwrap_err();
        assert!(matches!(err, ProviderError::StreamCut(_)));
        let err = stream_of(vec![Ok(CHUNK1), Err("reset")]).collect().await.unwrap_err();
        assert!(matches!(err, ProviderError::StreamCut(_)));
        let err = stream_of(vec![Ok("data: {nope\n\n")]).collect().await.unwrap_err();
        assert!(matches!(err, ProviderError::Protocol(_)));
        let err =
            stream_of(vec![Ok("data: {\"error\":{\"message\":\"overloaded\"}}\n\n")]).collect().await.unwrap_err();
        assert!(err.to_string().contains("overloaded"));
    }

    #[tokio::test]
    async fn stops_at_the_deadline() {
        let body = http_body_util::StreamBody::new(futures_util::stream::pending::<Result<Frame<Bytes>, BoxError>>());
        let mut s = CompletionStream::new(
            body,
            Instant::now() + Duration::from_millis(20),
            Duration::from_millis(20),
            Map::new(),
        );
        assert!(matches!(s.next_event().await, Err(ProviderError::Timeout(_))));
        assert!(matches!(s.next_event().await, Ok(None)));
    }
}
