//! The provider against the simulator over loopback: success, streams, retries, every
//! fault, deadlines.

use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::*;
use crate::config::ProviderConfig;
use crate::sim::{SimOptions, spawn};

async fn provider(tweak: impl FnOnce(&mut ProviderConfig)) -> (Provider, tokio::task::JoinHandle<std::io::Result<()>>) {
    let (addr, task) = spawn(SimOptions { latency_scale: 0.0 }).await.unwrap();
    let mut cfg = ProviderConfig::new(format!("http://{addr}/v1/"));
    cfg.retry_backoff_ms = 1;
    tweak(&mut cfg);
    let key = Secret::new("sk-test");
    (Provider::new("sim", &cfg, Some(&key)).unwrap(), task)
}

fn body(text: &str) -> Map<String, Value> {
    json!({"messages": [{"role": "user", "content": text}], "x-unknown": {"kept": true}})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

async fn call(p: &Provider, model: &str, stream: bool, within: Duration) -> Result<UpstreamReply, ProviderError> {
    let body = body("Say hi");
    p.chat(UpstreamCall {
        body: &body,
        upstream_model: model,
        stream,
        stream_usage: false,
        deadline: Instant::now() + within,
        traceparent: None,
    })
    .await
}

async fn complete(p: &Provider, model: &str) -> Result<Completion, ProviderError> {
    match call(p, model, false, Duration::from_secs(5)).await? {
        UpstreamReply::Complete(c) => Ok(c),
        UpstreamReply::Stream(_) => panic!("asked for no stream"),
    }
}

async fn streamed(p: &Provider, model: &str) -> Result<(Completion, Vec<Value>), ProviderError> {
    match call(p, model, true, Duration::from_secs(5)).await? {
        UpstreamReply::Stream(s) => s.collect().await,
        UpstreamReply::Complete(_) => panic!("asked for a stream"),
    }
}

#[tokio::test]
async fn complete_and_streamed_answers_agree() {
    let (p, task) = provider(|_| {}).await;
    assert!(p.url().ends_with("/v1/chat/completions") && !p.url().contains("//chat"));
    let c = complete(&p, "sim-small").await.unwrap();
    assert_eq!(c.finish_reason, "stop");
    assert!(!c.usage.estimated && c.usage.completion_tokens > 0);
    assert_eq!(c.body.to_value()["model"], "sim-small");
    let (s, chunks) = streamed(&p, "sim-small").await.unwrap();
    assert_eq!(s.content, c.content);
    assert_eq!(s.finish_reason, "stop");
    assert!(s.usage.estimated, "no include_usage was asked, so usage is estimated");
    assert_eq!(s.usage.completion_tokens, c.usage.completion_tokens);
    assert!(chunks.len() >= 2);
    task.abort();
}

#[tokio::test]
async fn unknown_fields_pass_through_and_model_is_rewritten() {
    let (p, task) = provider(|_| {}).await;
    let c = complete(&p, "echo").await.unwrap();
    let sent: Value = serde_json::from_str(&c.content).unwrap();
    assert_eq!(sent["x-unknown"]["kept"], true);
    assert_eq!(sent["model"], "echo");
    assert_eq!(sent["stream"], false);
    task.abort();
}

#[tokio::test]
async fn retries_fix_flaky_upstreams() {
    let (p, task) = provider(|c| c.max_retries = 1).await;
    for _ in 0..4 {
        complete(&p, "flaky-2").await.unwrap();
    }
    task.abort();
}

#[tokio::test]
async fn status_errors_are_reported_after_retries() {
    let (p, task) = provider(|c| c.max_retries = 2).await;
    let start = Instant::now();
    let err = complete(&p, "fail-503").await.unwrap_err();
    assert!(matches!(err, ProviderError::Status { status: 503, .. }), "{err}");
    assert!(start.elapsed() >= Duration::from_millis(3), "backoff 1 ms then 2 ms");
    assert!(err.to_string().contains("simulated upstream failure"));
    let err = complete(&p, "no-such-model").await.unwrap_err();
    assert_eq!(err.kind_label(), "upstream_4xx");
    task.abort();
}

#[tokio::test]
async fn retry_after_that_does_not_fit_the_deadline_gives_up() {
    let (p, task) = provider(|c| c.max_retries = 3).await;
    let start = Instant::now();
    let err = call(&p, "fail-429", false, Duration::from_millis(500)).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Status {
            status: 429,
            message: "Rate limit reached (simulated)".into(),
            retry_after: Some(Duration::from_secs(1))
        }
    );
    assert!(start.elapsed() < Duration::from_millis(400));
    task.abort();
}

#[tokio::test]
async fn faults_map_to_the_right_errors() {
    let (p, task) = provider(|c| {
        c.max_retries = 0;
        c.timeout_ms = 150;
    })
    .await;
    assert!(matches!(complete(&p, "hang").await, Err(ProviderError::Timeout(_))));
    assert!(matches!(complete(&p, "reset").await, Err(ProviderError::Connect(_))));
    assert!(matches!(complete(&p, "bad-json").await, Err(ProviderError::Protocol(_))));
    assert!(matches!(complete(&p, "no-choices").await, Err(ProviderError::Protocol(_))));
    let cut = streamed(&p, "cut-stream").await;
    assert!(matches!(cut, Err(ProviderError::StreamCut(_))), "{cut:?}");
    assert!(matches!(streamed(&p, "bad-json").await, Err(ProviderError::Protocol(_))));
    assert!(matches!(call(&p, "sim-small", false, Duration::ZERO).await, Err(ProviderError::Timeout(_))));
    let start = Instant::now();
    let slow = call(&p, "slow-2000", false, Duration::from_millis(80)).await;
    assert!(matches!(slow, Err(ProviderError::Timeout(_))));
    assert!(start.elapsed() < Duration::from_millis(500), "the request deadline caps the attempt");
    task.abort();
}

#[tokio::test]
async fn connect_errors_never_show_the_key() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let cfg = ProviderConfig::new(format!("http://{addr}/v1"));
    let key = Secret::new("sk-super-secret");
    let p = Provider::new("down", &cfg, Some(&key)).unwrap();
    let err = call(&p, "m", false, Duration::from_secs(2)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Connect(_)), "{err}");
    assert!(!format!("{err} {err:?} {p:?}").contains("sk-super-secret"));
}

#[tokio::test]
async fn providers_from_config() {
    let text = r#"
[providers.sim]
base_url = "http://127.0.0.1:1/v1"
[providers.openai]
base_url = "https://api.openai.com/v1"
api_key_env = "K"
[models.small]
provider = "sim"
upstream = "sim-small"
input_price = 0
output_price = 0
"#;
    let cfg =
        crate::config::Config::from_str_with_env(text, std::path::Path::new("t.toml"), &|_| Some("k".into())).unwrap();
    let providers = Providers::from_config(&cfg).unwrap();
    assert_eq!(providers.iter().count(), 2);
    let (p, upstream) = providers.for_model(&cfg, "small").unwrap();
    assert_eq!((p.name(), upstream), ("sim", "sim-small"));
    assert!(providers.get("openai").unwrap().url().starts_with("https://"));
}
