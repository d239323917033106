//! Fixtures for the observability suites (dashboard, Prometheus, OTLP): a proxy with the
//! admin API on, a cascading route and a route that falls back, and a traffic mix that
//! exercises answers at both tiers, escalations, fallbacks and errors.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::proxy::{Proxy, Reply, chat, render, send_with, simulator};

/// The admin token the observed proxy accepts.
pub const ADMIN_TOKEN: &str = "observe-admin-token";

/// Routes `auto` (classifier, cascade policy, gate over `small` → `large`) and `flaky`
/// (`broken`, a model answering 503, then `small`), behind the admin API. `{EXTRA}` takes
/// more config (e.g. `[telemetry.otlp]`).
const OBSERVED: &str = r#"
[admin]
token_sha256 = "{ADMIN_SHA}"
[telemetry]
decision_log = "off"
{EXTRA}
[providers.sim]
base_url = "{SIM}"
max_retries = 0
[models.small]
provider = "sim"
upstream = "sim-small"
tier = 0
input_price = 0.15
output_price = 0.6
[models.large]
provider = "sim"
upstream = "sim-large"
tier = 1
input_price = 2.5
output_price = 10.0
# Tier 2: past the cascade policy's max_tier, so only `flaky` (which names it) tries it.
[models.broken]
provider = "sim"
upstream = "fail-503"
tier = 2
input_price = 5.0
output_price = 15.0
[plugins.complexity]
deadline_ms = 2000
kind = "classifier"
path = "{GUEST:COMPLEXITY}"
[plugins.cascade]
deadline_ms = 2000
kind = "policy"
path = "{GUEST:CASCADE}"
config = { start_tier = 1, start_threshold = 0.95, max_tier = 1 }
[plugins.sanity]
deadline_ms = 2000
kind = "gate"
path = "{GUEST:SANITY}"
[routes.auto]
classifiers = ["complexity"]
policy = "cascade"
gates = ["sanity"]
default_plan = ["small", "large"]
[routes.flaky]
default_plan = ["broken", "small"]
"#;

pub const EASY: &str = "What is the capital of France?";
pub const HARD: &str = "Prove step by step that the square root of 2 is irrational, then explain why the proof generalises to every prime.";

/// The observed config, rendered against a running simulator, with `extra` spliced in
/// under `[telemetry]` (it may open `[telemetry.otlp]`).
pub async fn config(extra: &str) -> String {
    let digest = hex::encode(Sha256::digest(ADMIN_TOKEN.as_bytes()));
    render(&OBSERVED.replace("{ADMIN_SHA}", &digest).replace("{EXTRA}", extra), simulator().await)
}

pub async fn proxy(extra: &str) -> Proxy {
    Proxy::start(&config(extra).await).await
}

pub fn ask(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// What [`traffic`] sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub requests: u64,
    /// Answered by `large` after `small` was escalated.
    pub escalated: u64,
    /// Answered by `small` after `broken` failed.
    pub fell_back: u64,
    /// Refused (unknown model: 404).
    pub errors: u64,
}

/// `rounds` rounds of: two easy and one hard question on `auto`, one on `flaky`, and one
/// for a model that does not exist. Asserts each answer is what the config makes it.
pub async fn traffic(proxy: &Proxy, rounds: u64) -> Sent {
    let mut sent = Sent::default();
    for _ in 0..rounds {
        for text in [EASY, EASY, HARD] {
            let reply = chat(proxy, ask("auto", text)).await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
            if text == HARD {
                assert_eq!(reply.header("x-switchyard-model"), "large", "the hard question escalates");
                sent.escalated += 1;
            }
        }
        let reply = chat(proxy, ask("flaky", EASY)).await;
        assert_eq!((reply.status.as_u16(), reply.header("x-switchyard-model")), (200, "small"));
        sent.fell_back += 1;
        let reply = chat(proxy, ask("no-such-model", EASY)).await;
        assert_eq!(reply.status, 404);
        sent.errors += 1;
        sent.requests += 5;
    }
    sent
}

/// A GET of a dashboard endpoint with `token`.
pub async fn ui_get(proxy: &Proxy, path: &str, token: &str) -> Reply {
    let auth = format!("Bearer {token}");
    send_with("GET", &format!("{}{path}", proxy.base), &[("authorization", &auth)], "").await
}
