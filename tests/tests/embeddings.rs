//! `POST /v1/embeddings` over real sockets: a concrete model answers (the simulator's
//! vectors), with the cost, the transparency headers and a decision record; a route alias or
//! a bad body is an OpenAI-shaped 400, an unknown model a 404.

use serde_json::{Value, json};
use switchyard::telemetry::decision::AttemptOutcome;
use switchyard_tests::proxy::{Proxy, SIM_MODELS, render, send, simulator};

const ROUTE: &str = r#"
[routes.auto]
default_plan = ["small", "large"]
"#;

#[tokio::test]
async fn embeddings_go_to_a_concrete_model_with_cost_headers_and_a_record() {
    let proxy = Proxy::start(&render(&format!("{SIM_MODELS}{ROUTE}"), simulator().await)).await;
    let url = format!("{}/v1/embeddings", proxy.base);
    let reply = send(
        "POST",
        &url,
        json!({"model": "large", "input": ["a red apple", "a green pear"], "dimensions": 16}).to_string(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let body = reply.json();
    assert_eq!(body["model"], "large");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2));
    let vector: Vec<f64> = body["data"][0]["embedding"].as_array().unwrap().iter().filter_map(Value::as_f64).collect();
    assert_eq!(vector.len(), 16);
    assert!((vector.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-3, "unit vectors");
    assert_ne!(body["data"][0]["embedding"], body["data"][1]["embedding"]);
    let tokens = body["usage"]["prompt_tokens"].as_u64().unwrap();
    assert_eq!(reply.header("x-switchyard-model"), "large");
    assert_eq!(reply.header("x-switchyard-attempts"), "1");
    let cost: f64 = reply.header("x-switchyard-cost-usd").parse().unwrap();
    assert!((cost - tokens as f64 * 1.0 / 1e6).abs() < 1e-12, "priced at large's input price: {cost}");
    let record = proxy.record(reply.header("x-switchyard-request-id")).await;
    assert_eq!(record.requested_model, "large");
    assert_eq!(record.outcome.http_status, 200);
    assert_eq!(record.attempts.len(), 1);
    assert_eq!(
        (record.attempts[0].outcome, record.attempts[0].input_tokens as u64),
        (AttemptOutcome::Returned, tokens)
    );
    assert_eq!(record.attempts[0].upstream_model, "sim-large");

    for (body, status, param) in [
        (json!({"model": "auto", "input": "x"}), 400, Some("model")),
        (json!({"model": "small", "input": []}), 400, Some("input")),
        (json!({"model": "small"}), 400, Some("input")),
        (json!({"model": "nope", "input": "x"}), 404, Some("model")),
    ] {
        let reply = send("POST", &url, body.to_string()).await;
        assert_eq!(reply.status, status, "{body}");
        let error = &reply.json()["error"];
        assert_eq!(error["param"].as_str(), param, "{error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}
