//! The invariants the fuzzers check, shared by the cargo-fuzz targets in `fuzz/` (which
//! include this file with `#[path]`, so it may use only `switchyard` and `http`) and the
//! stable smoke run in `tests/tests/fuzz_smoke.rs`.
//!
//! Each `check_*` function takes arbitrary bytes, must never panic on its own account, and
//! panics (with a message) when the code under test breaks an invariant.

use http::{HeaderMap, HeaderValue};
use switchyard::provider::sse::{self, MAX_LINE_BYTES, SseEvent, SseParser};
use switchyard::route::request::{ChatBody, parse_body, plugin_request};

/// Request parsing: no panic; errors carry a message (and a non-empty parameter name when
/// they name one); accepted bodies give a plugin request consistent with the body, and
/// re-serialising an accepted body parses to the same routing fields.
pub fn check_request(data: &[u8]) {
    let body = match parse_body(data) {
        Ok(body) => body,
        Err(e) => {
            assert!(!e.message.trim().is_empty(), "a parse error without a message: {e:?}");
            assert!(e.param.as_deref().is_none_or(|p| !p.is_empty()), "an empty param: {e:?}");
            return;
        }
    };
    assert!(!body.model.is_empty(), "an accepted body without a model");
    let messages = body.json.get("messages").and_then(|m| m.as_array()).map_or(0, Vec::len);
    assert!(messages > 0, "an accepted body without messages");

    // A hint header derived from the input, so header handling sees odd values too.
    let mut headers = HeaderMap::new();
    let hint = &data[..data.len().min(24)];
    let hint_value = HeaderValue::from_bytes(hint).ok();
    if let Some(value) = &hint_value {
        headers.insert("x-switchyard-fuzz", value.clone());
    }
    let request = plugin_request("fuzz", &body, &headers);
    assert_eq!(request.model, body.model);
    assert_eq!(request.streaming, body.stream);
    assert_eq!(request.messages.len(), messages, "one plugin message per body message");
    let floor = u32::try_from(messages).unwrap_or(u32::MAX).saturating_mul(4);
    assert!(request.input_tokens >= floor, "{} tokens for {messages} messages", request.input_tokens);
    if let Some(temperature) = request.temperature {
        assert!(temperature.is_finite(), "a non-finite temperature reached the plugins: {temperature}");
    }
    if let Some(value) = hint_value.as_ref().and_then(|v| v.to_str().ok()) {
        assert!(request.metadata.contains(&("fuzz".to_string(), value.to_string())), "the hint header was lost");
    }

    // Agent parts: every tool offered is lowered, and a tool result answers a call made earlier
    // (the parser refuses results for calls that never happened).
    let offered = ["tools", "functions"]
        .iter()
        .filter_map(|k| body.json.get(*k).and_then(|t| t.as_array()))
        .map(Vec::len)
        .sum::<usize>();
    assert_eq!(request.tools.len(), offered, "one plugin tool per offered tool");
    let mut calls: Vec<&str> = Vec::new();
    for message in &request.messages {
        if message.role == "tool" {
            for result in &message.tool_results {
                assert!(calls.contains(&result.call_id.as_str()), "a tool result for a call never made: {result:?}");
            }
        }
        calls.extend(message.tool_calls.iter().map(|c| c.id.as_str()));
    }

    let again = serde_json::to_vec(&body.json).expect("an accepted body serialises");
    let reparsed: ChatBody = parse_body(&again).unwrap_or_else(|e| panic!("re-serialised body rejected: {e}"));
    assert_eq!(
        (reparsed.model, reparsed.stream, reparsed.include_usage),
        (body.model, body.stream, body.include_usage)
    );
}

/// Tool-call deltas: each line of `data` that is JSON is one chunk's `delta`. Assembling must
/// not panic, stays bounded, and the `message.tool_calls` it renders describes the same
/// calls, in the same order.
pub fn check_tool_deltas(data: &[u8]) {
    let mut assembler = switchyard::provider::tool_calls::DeltaAssembler::default();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(delta) = serde_json::from_slice::<serde_json::Value>(line) {
            assembler.add(&delta);
        }
    }
    let calls = assembler.calls();
    assert!(calls.len() <= 128, "{} calls assembled", calls.len());
    match assembler.message_json() {
        None => assert!(calls.is_empty()),
        Some(json) => {
            let rendered = json.as_array().expect("tool_calls is an array");
            assert_eq!(rendered.len(), calls.len());
            for (call, json) in calls.iter().zip(rendered) {
                assert_eq!(json["id"], call.id.as_str());
                assert_eq!(json["function"]["name"], call.name.as_str());
                assert_eq!(json["function"]["arguments"], call.arguments.as_str());
            }
        }
    }
}

/// All events of `chunks` pushed in order, then `finish`.
pub fn parse_chunked<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<SseEvent> {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(parser.push(chunk).expect("no line in a fuzz input reaches MAX_LINE_BYTES"));
    }
    events.extend(parser.finish());
    events
}

/// SSE parsing: the first two bytes of `data` pick a chunking of the rest; the events must
/// be the same whether the stream arrives whole, one byte at a time or in those chunks. No
/// event's data holds a line break other than the `\n` joining `data:` lines. The writer's
/// output for a JSON string built from the input parses back to exactly that JSON.
pub fn check_sse(data: &[u8]) {
    let (seed, stream) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => (0, data),
    };
    if stream.len() >= MAX_LINE_BYTES {
        return;
    }
    let whole = parse_chunked([stream]);
    let bytewise = parse_chunked(stream.chunks(1));
    assert_eq!(whole, bytewise, "one byte at a time");
    let chunked = parse_chunked(chunks(stream, seed));
    assert_eq!(whole, chunked, "chunked by seed {seed}");
    for event in &whole {
        assert!(!event.data.contains('\r'), "a \\r inside an event: {event:?}");
        assert!(event.event.as_deref().is_none_or(|e| !e.contains(['\r', '\n'])), "{event:?}");
    }

    let json = serde_json::Value::String(String::from_utf8_lossy(stream).into_owned());
    let mut written = sse::event(&json).to_vec();
    written.extend_from_slice(&sse::done());
    let events = parse_chunked(chunks(&written, seed));
    let data: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data, [json.to_string().as_str(), "[DONE]"], "the writer's output round-trips");
}

/// Splits `bytes` into chunks whose lengths (1..=16, or a long one) follow `seed`, so a
/// chunk boundary lands everywhere: inside `\r\n`, inside a UTF-8 sequence, on a blank line.
pub fn chunks(bytes: &[u8], seed: u16) -> Vec<&[u8]> {
    let mut state = u64::from(seed) | 1;
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = if state % 8 == 0 { 64 + (state >> 8) as usize % 256 } else { 1 + (state >> 8) as usize % 16 };
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        out.push(chunk);
        rest = tail;
    }
    out
}

/// Messages-API request parsing (`/v1/messages`; the first byte picks `count_tokens`
/// parsing): no panic; errors carry a message and a parameter when they name one; an
/// accepted body's canonical form is a chat body the OpenAI parser accepts with the same
/// model and stream flag, and its translation back to Messages has `max_tokens` and
/// messages alternating between user and assistant.
pub fn check_messages(data: &[u8]) {
    use switchyard::provider::translate::{request_in, request_out};
    let (count_only, body) = match data {
        [first, rest @ ..] => (first & 1 == 1, rest),
        [] => (false, data),
    };
    let parsed = match request_in::parse(body, count_only) {
        Ok(parsed) => parsed,
        Err(e) => {
            assert!(!e.message.trim().is_empty(), "an error without a message: {e:?}");
            assert!(e.param.as_deref().is_none_or(|p| !p.is_empty()), "an empty param: {e:?}");
            return;
        }
    };
    let canonical = serde_json::to_vec(&parsed.canonical).expect("the canonical body serialises");
    match parse_body(&canonical) {
        Ok(chat) => assert_eq!((chat.model, chat.stream), (parsed.model.clone(), parsed.stream)),
        // A Messages body whose only content is blocks with no OpenAI form (thinking,
        // server tools) has no chat messages; nothing else may fail.
        Err(e) => assert!(
            e.param.as_deref() == Some("messages")
                && parsed.canonical["messages"].as_array().is_some_and(Vec::is_empty),
            "the canonical body of an accepted Messages request was refused: {e}"
        ),
    }
    let back = request_out::request(&parsed.canonical);
    assert!(back.get("max_tokens").and_then(|m| m.as_u64()).is_some_and(|m| m >= 1), "{back:?}");
    let roles: Vec<&str> = back["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert!(roles.windows(2).all(|w| w[0] != w[1]), "roles do not alternate: {roles:?}");
}

/// The stream translators on arbitrary events: `data` is read as an event stream whose
/// JSON objects are fed, as Anthropic events, through the Anthropic → OpenAI machine, and
/// (as OpenAI chunks, plus what the first machine produced) through the OpenAI → Anthropic
/// one. No panic, and the Anthropic side always comes out well-formed: `message_start`
/// first, `message_stop` last, content blocks opened and closed in order.
pub fn check_stream_translation(data: &[u8]) {
    use switchyard::provider::translate::{AnthropicToOpenai, OpenaiToAnthropic};
    let events = parse_chunked([data]);
    let values: Vec<serde_json::Value> = events
        .iter()
        .filter_map(|e| serde_json::from_str(&e.data).ok())
        .filter(|v: &serde_json::Value| v.is_object())
        .collect();
    let mut to_openai = AnthropicToOpenai::new(0);
    let mut chunks = Vec::new();
    for value in &values {
        if to_openai.event(value, &mut chunks).is_err() {
            break;
        }
    }
    let mut to_anthropic = OpenaiToAnthropic::new("m");
    let mut out = Vec::new();
    for chunk in values.iter().chain(&chunks) {
        to_anthropic.chunk(chunk, &mut out);
    }
    to_anthropic.finish(&mut out);
    let names: Vec<&str> = out.iter().map(|e| e.name).collect();
    assert_eq!(names.first(), Some(&"message_start"), "{names:?}");
    assert_eq!(names.last(), Some(&"message_stop"), "{names:?}");
    let mut open: Option<u64> = None;
    let mut next = 0;
    for event in &out {
        let index = event.data.get("index").and_then(|i| i.as_u64());
        match event.name {
            "content_block_start" => {
                assert!(open.is_none() && index == Some(next), "{names:?}");
                open = index;
            }
            "content_block_delta" => assert!(open.is_some() && index == open, "{names:?}"),
            "content_block_stop" => {
                assert!(open.is_some() && index == open, "{names:?}");
                open = None;
                next += 1;
            }
            "message_delta" | "message_stop" => assert!(open.is_none(), "{names:?}"),
            _ => {}
        }
        assert_eq!(event.data["type"], event.name);
    }
}
