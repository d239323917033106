//! A proxy on a real loopback socket in front of the simulated upstream, with the decision
//! records kept in memory for assertions, and a minimal HTTP client.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use switchyard::config::Config;
use switchyard::server::App;
use switchyard::sim::SimOptions;
use switchyard::telemetry::DecisionSink;
use switchyard::telemetry::decision::DecisionRecord;

use crate::guests;

/// A running simulator (`sim-small`, `sim-large` and the fault models) on loopback.
pub async fn simulator() -> SocketAddr {
    let (addr, _task) = switchyard::sim::spawn(SimOptions { latency_scale: 0.0 }).await.expect("simulator");
    addr
}

/// A loopback port with nothing listening (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The simulator as provider `sim`, with models `small` (tier 0, 0.1 per million tokens) and
/// `large` (tier 1, 1.0), and no decision log: the start of most suites' configs, for
/// [`render`] (`{SIM}`).
pub const SIM_MODELS: &str = r#"
[telemetry]
decision_log = "off"
[providers.sim]
base_url = "{SIM}"
[models.small]
provider = "sim"
upstream = "sim-small"
input_price = 0.1
output_price = 0.1
[models.large]
provider = "sim"
upstream = "sim-large"
tier = 1
input_price = 1.0
output_price = 1.0
"#;

/// Replaces `{SIM}` with the simulator's base URL and `{GUEST:NAME}` with built guest paths.
pub fn render(template: &str, sim: SocketAddr) -> String {
    let mut text = template.replace("{SIM}", &format!("http://{sim}/v1"));
    for (name, path) in guests::ALL {
        text = text.replace(&format!("{{GUEST:{name}}}"), path);
    }
    text
}

/// A proxy serving `config_text` on an ephemeral loopback port.
pub struct Proxy {
    pub base: String,
    pub app: Arc<App>,
    pub records: Arc<Mutex<Vec<DecisionRecord>>>,
    _dir: Option<tempfile::TempDir>,
    _watch: Option<switchyard::reload::watch::WatchHandle>,
}

impl Proxy {
    pub async fn start(config_text: &str) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchyard.toml");
        std::fs::write(&path, config_text).unwrap();
        let mut proxy = Self::start_at(&path).await;
        proxy._dir = Some(dir);
        proxy
    }

    /// A proxy on the config file at `path` that reloads when it or a plugin file changes.
    pub async fn start_watching(path: &std::path::Path, settle: Duration) -> Proxy {
        let mut proxy = Self::start_at(path).await;
        proxy._watch = Some(switchyard::reload::watch::spawn(proxy.app.clone(), settle).expect("watcher"));
        proxy
    }

    /// A proxy on the config file at `path`.
    pub async fn start_at(path: &std::path::Path) -> Proxy {
        let config = Config::load(path).unwrap_or_else(|e| panic!("config: {e}"));
        let records = Arc::new(Mutex::new(Vec::new()));
        let app = App::start_with_sink(config, DecisionSink::Memory(records.clone()))
            .await
            .unwrap_or_else(|e| panic!("start: {e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(switchyard::server::serve(listener, app.clone(), std::future::pending(), Duration::from_secs(1)));
        Proxy { base, app, records, _dir: None, _watch: None }
    }

    /// The decision record with this request id (waits briefly: streams finish their record
    /// when the body ends).
    pub async fn record(&self, id: &str) -> DecisionRecord {
        for _ in 0..200 {
            if let Some(record) = self.records.lock().unwrap().iter().find(|r| r.id == id) {
                return record.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no decision record for {id}");
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    /// The `data:` payloads of an SSE body, `[DONE]` included.
    pub fn sse_data(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.body)
            .split("\n\n")
            .filter_map(|event| event.strip_prefix("data: ").map(str::to_string))
            .collect()
    }
    /// The concatenated delta content of an SSE body.
    pub fn sse_content(&self) -> String {
        self.sse_data()
            .iter()
            .filter(|d| *d != "[DONE]")
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_string))
            .collect()
    }
}

/// Sends one request and reads the whole response.
pub async fn send(method: &str, url: &str, body: impl Into<Bytes>) -> Reply {
    send_with(method, url, &[], body).await
}

/// Sends one request with extra headers and reads the whole response.
pub async fn send_with(method: &str, url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Reply {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = Request::builder().method(method).uri(url).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(body.into())).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .expect("response within 30 s")
        .expect("response");
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(Duration::from_secs(30), body.collect())
        .await
        .expect("body within 30 s")
        .expect("body")
        .to_bytes();
    Reply { status: parts.status, headers: parts.headers, body }
}

/// POSTs a chat completion.
pub async fn chat(proxy: &Proxy, body: Value) -> Reply {
    send("POST", &format!("{}/v1/chat/completions", proxy.base), body.to_string()).await
}
