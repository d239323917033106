//! Sample inputs for the self-test every plugin version passes before it may serve, and for
//! `switchyard plugin check`.

use super::bindings::types::{Candidate, Message, ModelInfo, Request, Signal};

fn message(role: &str, content: &str) -> Message {
    Message { role: role.to_string(), content: content.to_string() }
}

fn request(id: &str, messages: Vec<Message>, wants_json: bool) -> Request {
    let input_tokens = crate::provider::cost::estimate_messages(messages.iter().map(|m| m.content.as_str()));
    Request {
        id: id.to_string(),
        model: "auto".to_string(),
        messages,
        max_tokens: Some(256),
        temperature: None,
        streaming: false,
        wants_json,
        json_schema: None,
        has_tools: false,
        input_tokens,
        metadata: vec![("tenant".to_string(), "sample".to_string())],
    }
}

/// A few requests that cover the common shapes: small talk, code, math, JSON.
pub fn requests() -> Vec<Request> {
    vec![
        request("sample-hello", vec![message("user", "Hello! What is the capital of France?")], false),
        request(
            "sample-code",
            vec![
                message("system", "You are a senior Rust engineer."),
                message(
                    "user",
                    "Explain step by step why this fails to compile, then fix it:\n```rust\nfn main() { let s = String::new(); let r = &s; drop(s); println!(\"{r}\"); }\n```",
                ),
            ],
            false,
        ),
        request(
            "sample-math",
            vec![message("user", "Prove that the sum of the first n odd numbers is n^2. Then compute 17 * 23 + 4.")],
            false,
        ),
        request(
            "sample-json",
            vec![message("user", "Return a JSON object with the keys name and age for Ada Lovelace.")],
            true,
        ),
    ]
}

/// A model table with two tiers.
pub fn models() -> Vec<ModelInfo> {
    let model = |id: &str, tier: u32, input: f64, output: f64| ModelInfo {
        id: id.to_string(),
        tier,
        input_price: input,
        output_price: output,
        context_window: 128_000,
        tags: vec!["json".to_string()],
        healthy: true,
        p50_ms: 0,
        error_rate: 0.0,
    };
    vec![model("small", 0, 0.15, 0.6), model("large", 1, 2.5, 10.0)]
}

/// Signals such as the `complexity` classifier would produce.
pub fn signals() -> Vec<Signal> {
    vec![Signal { name: "complexity.score".to_string(), value: 0.3, label: None }]
}

/// A plausible answer to `request`, for gates.
pub fn candidate(request: &Request) -> Candidate {
    let content = if request.wants_json {
        r#"{"name": "Ada Lovelace", "age": 36}"#.to_string()
    } else {
        "Paris is the capital of France.".to_string()
    };
    Candidate {
        model: "small".to_string(),
        content,
        finish_reason: "stop".to_string(),
        input_tokens: request.input_tokens,
        output_tokens: 12,
        mean_logprob: None,
        last_step: false,
    }
}
