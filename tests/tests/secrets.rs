//! Provider API keys never leave the process: not in logs, decision records, error bodies,
//! headers, metrics or the admin API. Its own test binary, because it sets an environment
//! variable and installs a global log subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use sha2::Digest;
use switchyard_tests::proxy::{Proxy, chat, closed_port, send, send_with, simulator};

const SECRET: &str = "sk-live-DO-NOT-LEAK-3f9a1c";
const VAR: &str = "SWITCHYARD_TEST_PROVIDER_KEY";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_keys_appear_nowhere() {
    // SAFETY: this is the only test in this binary and it sets the variable before starting
    // anything that reads the environment.
    unsafe { std::env::set_var(VAR, SECRET) };
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace,hyper=info,h2=info")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let sim = simulator().await;
    let down = closed_port();
    let admin = hex::encode(sha2::Sha256::digest(b"admin"));
    let config = format!(
        r#"
[admin]
token_sha256 = "{admin}"
[telemetry]
decision_log = "off"
[providers.sim]
base_url = "http://{sim}/v1"
api_key_env = "{VAR}"
max_retries = 0
[providers.down]
base_url = "http://127.0.0.1:{down}/v1"
api_key_env = "{VAR}"
max_retries = 1
retry_backoff_ms = 1
[models.good]
provider = "sim"
upstream = "sim-large"
input_price = 1.0
output_price = 1.0
[models.failing]
provider = "sim"
upstream = "fail-500"
input_price = 1.0
output_price = 1.0
[models.unreachable]
provider = "down"
input_price = 1.0
output_price = 1.0
[routes.auto]
default_plan = ["unreachable", "failing", "good"]
[routes.doomed]
default_plan = ["unreachable", "failing"]
"#
    );
    let proxy = Proxy::start(&config).await;
    let mut seen = String::new();
    for (model, stream) in [("auto", false), ("auto", true), ("doomed", false), ("good", false), ("unreachable", true)]
    {
        let mut body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
        body["stream"] = json!(stream);
        let reply = chat(&proxy, body).await;
        seen.push_str(&format!("{:?}\n{}\n", reply.headers, String::from_utf8_lossy(&reply.body)));
    }
    for path in ["/v1/models", "/metrics", "/healthz"] {
        seen.push_str(&String::from_utf8_lossy(&send("GET", &format!("{}{path}", proxy.base), "").await.body));
    }
    for path in ["/admin/plugins", "/admin/snapshot"] {
        let reply = send_with("GET", &format!("{}{path}", proxy.base), &[("authorization", "Bearer admin")], "").await;
        assert_eq!(reply.status, 200);
        seen.push_str(&String::from_utf8_lossy(&reply.body));
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    for record in proxy.records.lock().unwrap().iter() {
        seen.push_str(&serde_json::to_string(record).unwrap());
    }
    seen.push_str(&format!("{:?}", proxy.app.snapshot().config));
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(logs.contains("upstream attempt failed"), "the failures were logged:\n{logs}");
    assert!(seen.contains("no_route_answered"), "the doomed route failed visibly");
    for (what, text) in [("responses, records, admin and config debug", &seen), ("logs", &logs)] {
        assert!(!text.contains(SECRET), "the API key leaked into {what}");
        assert!(!text.contains("DO-NOT-LEAK"), "part of the API key leaked into {what}");
    }
}
