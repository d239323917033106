//! The simulator over a real loopback socket, spoken to with a plain hyper client.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::{SimOptions, spawn};
use crate::provider::sse::SseParser;

async fn send(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (StatusCode, http::HeaderMap, Bytes) {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.into_body().collect().await.unwrap().to_bytes())
}

fn chat(model: &str, stream: bool) -> String {
    json!({"model": model, "stream": stream, "stream_options": {"include_usage": true},
           "messages": [{"role": "user", "content": "Say hello to the world"}]})
    .to_string()
}

#[tokio::test]
async fn completions_are_openai_shaped_and_deterministic() {
    let (addr, task) = spawn(SimOptions { latency_scale: 0.0 }).await.unwrap();
    let (status, headers, body) = send(addr, "POST", "/v1/chat/completions", &chat("sim-small", false)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "sim-small");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(v["system_fingerprint"].is_string() && v["created"].is_u64());
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let (_, _, again) = send(addr, "POST", "/v1/chat/completions", &chat("sim-small", false)).await;
    assert_eq!(body, again);
    task.abort();
}

#[tokio::test]
async fn streams_are_sse_like_openai() {
    let (addr, task) = spawn(SimOptions { latency_scale: 0.0 }).await.unwrap();
    let (status, headers, body) = send(addr, "POST", "/v1/chat/completions", &chat("sim-large", true)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/event-stream");
    assert!(body.starts_with(b"data: {"));
    assert!(body.ends_with(b"data: [DONE]\n\n"));
    let events = SseParser::new().push(&body).unwrap();
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|e| serde_json::from_str(&e.data).unwrap()).collect();
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "sim-large"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert_eq!(chunks[chunks.len() - 2]["choices"][0]["finish_reason"], "stop");
    task.abort();
}

#[tokio::test]
async fn errors_models_and_faults() {
    let (addr, task) = spawn(SimOptions { latency_scale: 0.0 }).await.unwrap();
    let (status, _, body) = send(addr, "GET", "/v1/models", "").await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(v["data"].as_array().unwrap().iter().any(|m| m["id"] == "sim-large"));
    let (status, _, body) = send(addr, "POST", "/v1/chat/completions", "{nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(serde_json::from_slice::<Value>(&body).unwrap()["error"]["message"].is_string());
    let (status, _, _) = send(addr, "POST", "/v1/chat/completions", &chat("gpt-9", false)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, headers, _) = send(addr, "POST", "/v1/chat/completions", &chat("fail-429", false)).await;
    assert_eq!(
        (status, &headers["retry-after"]),
        (StatusCode::TOO_MANY_REQUESTS, &http::HeaderValue::from_static("1"))
    );
    let (status, _, _) = send(addr, "POST", "/v1/chat/completions", &chat("fail-502", true)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let (status, _, _) = send(addr, "GET", "/elsewhere", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    task.abort();
}

#[tokio::test]
async fn latency_follows_the_scale() {
    let (addr, task) = spawn(SimOptions { latency_scale: 1.0 }).await.unwrap();
    let start = std::time::Instant::now();
    send(addr, "POST", "/v1/chat/completions", &chat("sim-large", false)).await;
    assert!(start.elapsed() >= std::time::Duration::from_millis(60));
    task.abort();
}
