//! The OpenAI wire shapes the simulator writes: completions, stream chunks, errors.

use serde_json::{Value, json};

use super::answer::Answer;

/// `created` of every simulated response: fixed, so responses are byte-for-byte stable.
pub const CREATED: u64 = 1_700_000_000;
/// `system_fingerprint` of every simulated response.
pub const FINGERPRINT: &str = "fp_switchyard_sim";

/// The response id for an answer.
pub fn id(answer: &Answer) -> String {
    format!("chatcmpl-sim{:016x}", answer.seed)
}

fn usage(answer: &Answer) -> Value {
    json!({
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": u64::from(answer.prompt_tokens) + u64::from(answer.completion_tokens),
    })
}

/// A non-streamed `chat.completion`. `logprobs` adds per-token logprobs like OpenAI's
/// `logprobs: true` (the "tokens" are 4-character slices of the answer).
pub fn completion(model: &str, answer: &Answer, logprobs: bool) -> Value {
    let logprobs = logprobs.then(|| {
        let chars: Vec<char> = answer.content.chars().collect();
        let tokens: Vec<Value> = chars
            .chunks(4)
            .zip(&answer.logprobs)
            .map(|(t, lp)| json!({"token": t.iter().collect::<String>(), "logprob": lp, "top_logprobs": []}))
            .collect();
        json!({"content": tokens})
    });
    json!({
        "id": id(answer),
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [{
            "index": 0,
            "message": message(answer),
            "logprobs": logprobs,
            "finish_reason": answer.finish_reason,
        }],
        "usage": usage(answer),
    })
}

/// The `choices[0].message` of an answer: its text, or its tool calls with a null content.
fn message(answer: &Answer) -> Value {
    if answer.tool_calls.is_empty() {
        return json!({"role": "assistant", "content": answer.content, "refusal": null});
    }
    let calls: Vec<Value> = answer
        .tool_calls
        .iter()
        .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
        .collect();
    json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": calls})
}

/// A tool-calling answer's chunks, as OpenAI streams them: the role with each call's id,
/// name and empty arguments, then the arguments in fragments of a few characters, then the
/// finish reason.
fn tool_call_chunks(model: &str, answer: &Answer) -> Vec<Value> {
    let mut out = Vec::new();
    for (index, call) in answer.tool_calls.iter().enumerate() {
        let head = json!({"index": index, "id": call.id, "type": "function",
                          "function": {"name": call.name, "arguments": ""}});
        let delta = if index == 0 {
            json!({"role": "assistant", "content": null, "tool_calls": [head]})
        } else {
            json!({"tool_calls": [head]})
        };
        out.push(chunk(model, answer, delta, None));
        let chars: Vec<char> = call.arguments.chars().collect();
        for piece in chars.chunks(7) {
            let fragment: String = piece.iter().collect();
            let delta = json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]});
            out.push(chunk(model, answer, delta, None));
        }
    }
    out
}

/// One `chat.completion.chunk` with the given delta and finish reason.
pub fn chunk(model: &str, answer: &Answer, delta: Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": id(answer),
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
    })
}

/// Every chunk of a streamed answer, as OpenAI sends them: the role with the first piece
/// of content, one chunk per few words, a final empty delta with the finish reason, and
/// (with `include_usage`) a usage chunk with empty choices. `[DONE]` is not included.
pub fn chunks(model: &str, answer: &Answer, include_usage: bool) -> Vec<Value> {
    if !answer.tool_calls.is_empty() {
        let mut out = tool_call_chunks(model, answer);
        finish(model, answer, include_usage, &mut out);
        return out;
    }
    let mut pieces: Vec<String> = Vec::new();
    let mut current = String::new();
    for (i, word) in answer.content.split_inclusive(' ').enumerate() {
        current.push_str(word);
        if i % 3 == 2 {
            pieces.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() || pieces.is_empty() {
        pieces.push(current);
    }
    let mut out: Vec<Value> = pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let delta = if i == 0 {
                json!({"role": "assistant", "content": piece, "refusal": null})
            } else {
                json!({"content": piece})
            };
            chunk(model, answer, delta, None)
        })
        .collect();
    finish(model, answer, include_usage, &mut out);
    out
}

/// The finish-reason chunk and, with `include_usage`, the usage chunk.
fn finish(model: &str, answer: &Answer, include_usage: bool, out: &mut Vec<Value>) {
    out.push(chunk(model, answer, json!({}), Some(answer.finish_reason)));
    if include_usage {
        out.push(json!({
            "id": id(answer),
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": [],
            "usage": usage(answer),
        }));
    }
}

/// An embeddings list: one unit vector of `dimensions` per input, from a hash of the model
/// and the input, and usage estimated like the host's.
pub fn embeddings(model: &str, input: &Value, dimensions: usize) -> Value {
    let inputs: Vec<String> = match input {
        Value::Array(items) => items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string)).collect(),
        other => vec![other.as_str().map_or_else(|| other.to_string(), str::to_string)],
    };
    let mut tokens = 0u32;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            tokens = tokens.saturating_add(crate::provider::cost::estimate_tokens(text).max(1));
            let raw: Vec<f64> = (0..dimensions)
                .map(|d| (super::answer::hash(&[model, text, &d.to_string()]) % 2001) as f64 / 1000.0 - 1.0)
                .collect();
            let norm = raw.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-9);
            let vector: Vec<f64> = raw.iter().map(|x| (x / norm * 1e6).round() / 1e6).collect();
            json!({"object": "embedding", "index": index, "embedding": vector})
        })
        .collect();
    json!({"object": "list", "data": data, "model": model,
           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
}

/// OpenAI's error body.
pub fn error(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// The `/v1/models` list.
pub fn models(names: &[&str]) -> Value {
    let data: Vec<Value> = names
        .iter()
        .map(|n| json!({"id": n, "object": "model", "created": CREATED, "owned_by": "switchyard-sim"}))
        .collect();
    json!({"object": "list", "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::answer::{Quality, answer};

    #[test]
    fn chunks_reassemble_to_the_answer() {
        let body = json!({"messages": [{"role": "user", "content": "hello there"}]});
        let a = answer("sim-small", Quality::Small, body.as_object().unwrap());
        let chunks = chunks("sim-small", &a, true);
        let text: String =
            chunks.iter().filter_map(|c| c.pointer("/choices/0/delta/content").and_then(Value::as_str)).collect();
        assert_eq!(text, a.content);
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let last = &chunks[chunks.len() - 2];
        assert_eq!(last["choices"][0]["finish_reason"], a.finish_reason);
        assert_eq!(chunks[chunks.len() - 1]["usage"]["completion_tokens"], a.completion_tokens);
        let c = completion("sim-small", &a, true);
        assert_eq!(c["choices"][0]["logprobs"]["content"].as_array().map(Vec::len), Some(a.logprobs.len()));
    }
}
