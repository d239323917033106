//! A complete answer, parsed from a non-streamed body or assembled from a stream.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::cost::{Usage, estimate_prompt_tokens, estimate_tokens};
use super::error::ProviderError;
use super::tool_calls::{self, ToolCallPart};
use super::{Dialect, translate};

/// One complete upstream answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The upstream's JSON (for a stream: an equivalent `chat.completion` object).
    pub body: CompletionBody,
    /// `choices[0].message.content` (empty for tool-call-only answers).
    pub content: String,
    /// `choices[0].finish_reason` (`"stop"`, `"length"`, ...; empty if the upstream gave none).
    pub finish_reason: String,
    /// Token counts, reported or estimated.
    pub usage: Usage,
    /// Mean of `choices[0].logprobs.content[*].logprob`, when the upstream returned logprobs.
    pub mean_logprob: Option<f64>,
    /// The dialect of `body` (the fields above are always in canonical, OpenAI, terms).
    pub dialect: Dialect,
    /// `choices[0].message.tool_calls` (and a legacy `function_call`), in order.
    pub tool_calls: Vec<ToolCallPart>,
    /// `choices[0].message.refusal`.
    pub refusal: Option<String>,
}

impl Completion {
    /// Parses a non-streamed `chat.completion` body. `request` is the body that was sent,
    /// used to estimate prompt tokens when the upstream reports no usage.
    ///
    /// Only `choices` and `usage` are parsed into values; the rest of the body is checked
    /// and kept as the upstream's bytes, so answering the client needs no re-serialisation
    /// (see [`CompletionBody::with_model`]).
    pub fn from_body(bytes: &[u8], request: &Map<String, Value>) -> Result<Completion, ProviderError> {
        let TopLevel(fields) = serde_json::from_slice(bytes)
            .map_err(|e| ProviderError::Protocol(format!("response is not valid JSON: {e}")))?;
        let no_choice = || ProviderError::Protocol("response has no choices[0]".to_string());
        let fields = fields.ok_or_else(no_choice)?;
        // As in a parsed object, the last of duplicate keys counts.
        let last = |name: &str| fields.iter().rev().find(|(key, _)| key.as_ref() == name).map(|(_, raw)| *raw);
        let parse = |raw: &RawValue| serde_json::from_str::<Value>(raw.get()).ok();
        let choices = last("choices").and_then(parse);
        let choice = choices.as_ref().and_then(|c| c.get(0)).ok_or_else(no_choice)?;
        let content = choice.pointer("/message/content").and_then(Value::as_str).unwrap_or_default().to_string();
        let finish_reason = choice.get("finish_reason").and_then(Value::as_str).unwrap_or_default().to_string();
        let mean_logprob = mean_logprob(choice.pointer("/logprobs/content"));
        let tool_calls = tool_calls::from_message(choice.get("message"));
        let refusal = tool_calls::refusal_of(choice.get("message"));
        let usage = usage_of(last("usage").and_then(parse).as_ref(), request, &content);
        let body = raw_body(bytes, &fields);
        Ok(Completion {
            body,
            content,
            finish_reason,
            usage,
            mean_logprob,
            dialect: Dialect::Openai,
            tool_calls,
            refusal,
        })
    }

    /// Parses a non-streamed Anthropic `message` body. The canonical fields come from its
    /// OpenAI translation (so tool calls, stop reasons and usage read the same whatever
    /// the upstream spoke); the body is kept as the upstream's bytes for Anthropic clients.
    pub fn from_anthropic(bytes: &[u8], request: &Map<String, Value>) -> Result<Completion, ProviderError> {
        let message: Value = serde_json::from_slice(bytes)
            .map_err(|e| ProviderError::Protocol(format!("response is not valid JSON: {e}")))?;
        if message.get("type").and_then(Value::as_str) != Some("message") {
            return Err(ProviderError::Protocol("response is not a Messages `message` object".to_string()));
        }
        let openai = translate::response::to_openai(&message, 0);
        let openai = serde_json::to_vec(&openai).map_err(|e| ProviderError::Protocol(e.to_string()))?;
        let mut completion = Completion::from_body(&openai, request)?;
        // `message` parsed, so this cannot fail; the spans of `model` are all it adds.
        let anthropic = Completion::from_body_spans(bytes)?;
        completion.body = anthropic;
        completion.dialect = Dialect::Anthropic;
        Ok(completion)
    }

    /// The raw body of a JSON object, with where its top-level `model` values are.
    fn from_body_spans(bytes: &[u8]) -> Result<CompletionBody, ProviderError> {
        let TopLevel(fields) = serde_json::from_slice(bytes)
            .map_err(|e| ProviderError::Protocol(format!("response is not valid JSON: {e}")))?;
        let fields = fields.ok_or_else(|| ProviderError::Protocol("response is not a JSON object".into()))?;
        Ok(raw_body(bytes, &fields))
    }

    /// The body as a client speaking `client` gets it, with `model` set: the upstream's
    /// bytes when the dialects match, a translation otherwise.
    pub fn into_client_body(self, client: Dialect, model: &str) -> Vec<u8> {
        if client == self.dialect {
            return self.body.with_model(model);
        }
        let mut value = self.body.to_value();
        value = match client {
            Dialect::Anthropic => translate::response::to_anthropic(&value),
            Dialect::Openai => translate::response::to_openai(&value, now_secs()),
        };
        if let Value::Object(object) = &mut value {
            object.insert("model".into(), Value::String(model.to_string()));
        }
        serde_json::to_vec(&value).unwrap_or_default()
    }
}

/// Unix time in seconds (the `created` of a translated answer).
fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// An answer's JSON body, as the upstream sent it or as assembled from a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum CompletionBody {
    /// A JSON object as received: its bytes, where its top-level `model` values are, and
    /// whether it has no key at all.
    Raw { bytes: Vec<u8>, models: Vec<Range<usize>>, empty: bool },
    /// A JSON object built here (a stream's summary).
    Json(Value),
}

impl CompletionBody {
    /// The body as the client gets it: top-level `model` set to `model` (added when the
    /// upstream sent none), everything else as it came.
    pub fn with_model(self, model: &str) -> Vec<u8> {
        match self {
            CompletionBody::Json(mut json) => {
                if let Value::Object(object) = &mut json {
                    object.insert("model".into(), Value::String(model.to_string()));
                }
                serde_json::to_vec(&json).unwrap_or_default()
            }
            CompletionBody::Raw { bytes, models, empty } => {
                let name = serde_json::to_string(model).unwrap_or_else(|_| "\"\"".to_string());
                let mut out = Vec::with_capacity(bytes.len() + name.len() + 10);
                if models.is_empty() {
                    // The object opens with `{` after optional whitespace.
                    let open = bytes.iter().position(|b| *b == b'{').map_or(0, |at| at + 1);
                    out.extend_from_slice(&bytes[..open]);
                    out.extend_from_slice(b"\"model\":");
                    out.extend_from_slice(name.as_bytes());
                    if !empty {
                        out.push(b',');
                    }
                    out.extend_from_slice(&bytes[open..]);
                    return out;
                }
                let mut at = 0;
                for span in models {
                    out.extend_from_slice(&bytes[at..span.start]);
                    out.extend_from_slice(name.as_bytes());
                    at = span.end;
                }
                out.extend_from_slice(&bytes[at..]);
                out
            }
        }
    }

    /// The body as a JSON value (tests and debugging).
    pub fn to_value(&self) -> Value {
        match self {
            CompletionBody::Json(json) => json.clone(),
            CompletionBody::Raw { bytes, .. } => serde_json::from_slice(bytes).unwrap_or(Value::Null),
        }
    }
}

/// A top-level JSON value: for an object its keys and raw values in order, for anything
/// else `None`.
struct TopLevel<'a>(Option<Vec<(Cow<'a, str>, &'a RawValue)>>);

/// `bytes` kept as they are, with where their top-level `model` values are (`fields` were
/// scanned from `bytes`, so their raw values point into it), for [`CompletionBody::with_model`].
fn raw_body(bytes: &[u8], fields: &[(Cow<'_, str>, &RawValue)]) -> CompletionBody {
    let start = bytes.as_ptr() as usize;
    let models = fields
        .iter()
        .filter(|(key, _)| key.as_ref() == "model")
        .map(|(_, raw)| {
            let at = raw.get().as_ptr() as usize - start;
            at..at + raw.get().len()
        })
        .collect();
    CompletionBody::Raw { bytes: bytes.to_vec(), models, empty: fields.is_empty() }
}

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let value: &'de RawValue = map.next_value()?;
            fields.push((key, value));
        }
        Ok(TopLevel(Some(fields)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TopLevel(None))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(TopLevel(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(TopLevel(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(TopLevel(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(TopLevel(None))
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(TopLevel(None))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(TopLevel(None))
    }
}

/// The upstream's `usage` object, or an estimate when it is missing or malformed.
pub(crate) fn usage_of(usage: Option<&Value>, request: &Map<String, Value>, content: &str) -> Usage {
    let count = |key: &str| {
        usage.and_then(|u| u.get(key)).and_then(Value::as_u64).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    let cached = usage
        .and_then(|u| u.get("prompt_tokens_details"))
        .and_then(|d| d.get("cached_tokens"))
        .and_then(Value::as_u64)
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
    match (count("prompt_tokens"), count("completion_tokens")) {
        (Some(prompt_tokens), Some(completion_tokens)) => {
            Usage { prompt_tokens, completion_tokens, cached_prompt_tokens: cached, estimated: false }
        }
        _ => Usage {
            prompt_tokens: estimate_prompt_tokens(request),
            completion_tokens: estimate_tokens(content),
            cached_prompt_tokens: 0,
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
        assert_eq!(
            c.usage,
            Usage { prompt_tokens: 9, completion_tokens: 1, cached_prompt_tokens: 0, estimated: false }
        );
        assert_eq!(c.mean_logprob, Some(-1.0));
    }

    #[test]
    fn estimates_missing_usage() {
        let body = json!({"choices": [{"message": {"content": "abcdefgh"}, "finish_reason": "stop"}]});
        let c = Completion::from_body(body.to_string().as_bytes(), &req()).unwrap();
        assert_eq!(c.usage, Usage { prompt_tokens: 6, completion_tokens: 2, cached_prompt_tokens: 0, estimated: true });
        assert_eq!(c.mean_logprob, None);
    }

    /// The old way: parse, set `model`, serialise.
    fn reserialised(text: &str, model: &str) -> Value {
        let mut json: Value = serde_json::from_str(text).unwrap();
        json.as_object_mut().unwrap().insert("model".into(), Value::String(model.into()));
        json
    }

    #[test]
    fn model_is_rewritten_without_reserialising() {
        for text in [
            r#"{"id":"x","model":"fixed","choices":[{"message":{"content":"hi"},"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#,
            r#" { "choices" : [ {"message": {"content": "a\"b", "model": "inner"}} ] ,
                 "model" : "up\u0020x" , "mod\u0065l": 3 } "#,
            r#"{"model":null,"choices":[{}],"model":"twice"}"#,
        ] {
            let c = Completion::from_body(text.as_bytes(), &req()).unwrap();
            let out = c.body.with_model("small \"q\"");
            let got: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(got, reserialised(text, "small \"q\""), "{text} -> {}", String::from_utf8_lossy(&out));
        }
        let c = Completion::from_body(br#"{"choices":[{"message":{"content":"hi"}}]}"#, &req()).unwrap();
        assert_eq!(c.content, "hi");
        assert_eq!(
            String::from_utf8(c.body.with_model("m")).unwrap(),
            r#"{"model":"m","choices":[{"message":{"content":"hi"}}]}"#
        );
    }

    #[test]
    fn duplicate_keys_count_last() {
        let text = r#"{"choices":[{"message":{"content":"a"}}],"choices":[{"message":{"content":"b"}}]}"#;
        assert_eq!(Completion::from_body(text.as_bytes(), &req()).unwrap().content, "b");
    }

    #[test]
    fn anthropic_messages_are_read_in_canonical_terms() {
        let body = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "text", "text": "On it."},
                        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 10, "output_tokens": 4, "cache_read_input_tokens": 80, "cache_creation_input_tokens": 2}
        });
        let c = Completion::from_anthropic(body.to_string().as_bytes(), &req()).unwrap();
        assert_eq!((c.content.as_str(), c.finish_reason.as_str()), ("On it.", "tool_calls"));
        assert_eq!((c.usage.prompt_tokens, c.usage.cached_prompt_tokens, c.usage.completion_tokens), (92, 80, 4));
        assert!(!c.usage.estimated);
        // The Anthropic client gets the upstream's own bytes, renamed.
        let out: Value = serde_json::from_slice(&c.into_client_body(Dialect::Anthropic, "small")).unwrap();
        let mut expected = body;
        expected["model"] = json!("small");
        assert_eq!(out, expected);
        for bad in [&br#"{"type":"error"}"#[..], b"[]", b"nope"] {
            assert!(matches!(Completion::from_anthropic(bad, &req()), Err(ProviderError::Protocol(_))));
        }
    }

    #[test]
    fn rejects_bad_bodies() {
        for bad in [&b"not json"[..], b"{}", br#"{"choices": []}"#, b"[1]", b"\"s\"", b"3", b"null", b"{} x"] {
            assert!(matches!(Completion::from_body(bad, &req()), Err(ProviderError::Protocol(_))));
        }
    }
}
