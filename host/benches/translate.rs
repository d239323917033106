//! The dialect translators, in process: what an Anthropic client reaching an OpenAI model
//! (or the other way round) adds to a request over same-dialect passthrough. Each bench is
//! one whole request's worth of translation on a realistic agent turn: the request in, the
//! request out, the answer back, and a 40-event stream through each state machine.
//!
//! ```sh
//! cargo bench -p switchyard --bench translate
//! ```
//!
//! Target (issue 11): translation adds ≤ 20 µs p50 per request at c=1 over passthrough.
//! Results and the machine they came from: BENCHMARKS.md.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use switchyard::provider::translate::{
    AnthropicToOpenai, ClientStream, OpenaiToAnthropic, request_in, request_out, response,
};
use switchyard::provider::{Dialect, StreamEvent};

/// A coding agent's third turn: system prompt with cache control, two tools, a tool call
/// and its result.
fn agent_request() -> Vec<u8> {
    json!({
        "model": "auto", "max_tokens": 4096, "stream": true,
        "system": [{"type": "text", "text": "You are a careful coding agent. Prefer small diffs. ".repeat(20),
                    "cache_control": {"type": "ephemeral"}}],
        "metadata": {"user_id": "session-1"},
        "tools": [
            {"name": "bash", "description": "Run a shell command",
             "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
            {"name": "edit", "description": "Replace text in a file",
             "input_schema": {"type": "object", "properties": {"path": {"type": "string"}, "old": {"type": "string"},
                              "new": {"type": "string"}}, "required": ["path", "old", "new"]}}
        ],
        "messages": [
            {"role": "user", "content": "The tests in host/ fail after the merge; find out why and fix it."},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me run the tests first."},
                {"type": "tool_use", "id": "toolu_01", "name": "bash", "input": {"command": "cargo test -p switchyard"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "error[E0063]: missing field `original`\n".repeat(10)}]}
        ]
    })
    .to_string()
    .into_bytes()
}

fn openai_completion() -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "up",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "The field was added on main; I'll add it to the test helper.",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "edit",
                "arguments": "{\"path\":\"host/src/provider/tests.rs\",\"old\":\"deadline\",\"new\":\"deadline, original: None\"}"}}]}}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 60, "prompt_tokens_details": {"cached_tokens": 800}}
    })
}

/// An OpenAI stream of about 40 chunks: text, then a tool call in fragments, then usage.
fn openai_chunks() -> Vec<Value> {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "up",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    };
    let mut out = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    for word in "The field was added on main so the test helper needs it too ".repeat(2).split_inclusive(' ') {
        out.push(chunk(json!({"content": word}), Value::Null));
    }
    out.push(chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "edit", "arguments": ""}}]}), Value::Null));
    for part in ["{\"path\":", "\"host/src/x.rs\",", "\"old\":\"a\",", "\"new\":\"b\"}"] {
        out.push(chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}), Value::Null));
    }
    out.push(chunk(json!({}), json!("tool_calls")));
    let mut usage = chunk(json!({}), Value::Null);
    usage["choices"] = json!([]);
    usage["usage"] = json!({"prompt_tokens": 900, "completion_tokens": 60});
    out.push(usage);
    out
}

fn bench(c: &mut Criterion) {
    let request = agent_request();
    let parsed = request_in::parse(&request, false).unwrap();
    let canonical: Map<String, Value> = parsed.canonical.clone();
    let completion = openai_completion();
    let message = response::to_anthropic(&completion);
    let chunks = openai_chunks();
    let mut events = Vec::new();
    let mut t = OpenaiToAnthropic::new("m");
    for chunk in &chunks {
        t.chunk(chunk, &mut events);
    }
    t.finish(&mut events);
    let events: Vec<Value> = events.into_iter().map(|e| e.data).collect();

    let mut group = c.benchmark_group("translate");
    // The passthrough baseline: what every request pays anyway (parse the body as JSON).
    group.bench_function("baseline_parse_json", |b| {
        b.iter(|| black_box(serde_json::from_slice::<Map<String, Value>>(black_box(&request)).unwrap()))
    });
    group.bench_function("request_in_anthropic_to_openai", |b| {
        b.iter(|| black_box(request_in::parse(black_box(&request), false).unwrap()))
    });
    group.bench_function("request_out_openai_to_anthropic", |b| {
        b.iter(|| black_box(request_out::request(black_box(&canonical))))
    });
    group.bench_function("response_openai_to_anthropic", |b| {
        b.iter(|| black_box(response::to_anthropic(black_box(&completion))))
    });
    group.bench_function("response_anthropic_to_openai", |b| {
        b.iter(|| black_box(response::to_openai(black_box(&message), 1)))
    });
    group.bench_function("stream_openai_to_anthropic_client", |b| {
        b.iter(|| {
            let mut writer = ClientStream::new(Dialect::Anthropic, "small", true);
            let mut out = BytesMut::new();
            for chunk in &chunks {
                writer.write(StreamEvent::Chunk(chunk.clone()), &mut out);
            }
            writer.done(&mut out);
            black_box(out)
        })
    });
    group.bench_function("stream_openai_passthrough_client", |b| {
        b.iter(|| {
            let mut writer = ClientStream::new(Dialect::Openai, "small", true);
            let mut out = BytesMut::new();
            for chunk in &chunks {
                writer.write(StreamEvent::Chunk(chunk.clone()), &mut out);
            }
            writer.done(&mut out);
            black_box(out)
        })
    });
    group.bench_function("stream_anthropic_to_openai_chunks", |b| {
        b.iter(|| {
            let mut t = AnthropicToOpenai::new(1);
            let mut out = Vec::new();
            for event in &events {
                t.event(event, &mut out).unwrap();
            }
            black_box(out)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3))
        .warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
