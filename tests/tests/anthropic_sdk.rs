//! The official `anthropic` Python SDK (pinned in tests/python/requirements.txt) as a client
//! of the proxy on a real socket: messages plain and streamed (through the SDK's own stream
//! helpers), a tool-use round trip, count_tokens and error types, against an
//! OpenAI-compatible and an Anthropic-dialect model; and the `openai` SDK reaching the
//! Anthropic-dialect one.
//!
//! `scripts/test.sh` installs the SDKs. Elsewhere, a machine without them skips this test
//! with a note, unless `CI` is set, where a missing SDK is a failure.

use std::process::Command;

use switchyard_tests::proxy::{Proxy, render, simulator};

const CONFIG: &str = r#"
[telemetry]
decision_log = "off"
[providers.sim]
base_url = "{SIM}"
[providers.claude]
kind = "anthropic"
base_url = "{SIM}"
[models.small]
provider = "sim"
upstream = "sim-small"
input_price = 0.15
output_price = 0.6
[models.claude-small]
provider = "claude"
upstream = "sim-small"
input_price = 0.8
output_price = 4.0
[models.claude-large]
provider = "claude"
upstream = "sim-large"
tier = 1
input_price = 3.0
output_price = 15.0
[plugins.sanity]
kind = "gate"
path = "{GUEST:SANITY}"
deadline_ms = 2000
[routes.auto]
gates = ["sanity"]
default_plan = ["small", "claude-large"]
"#;

fn python_has_sdks() -> bool {
    Command::new("python3").args(["-c", "import anthropic, openai"]).output().is_ok_and(|out| out.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_anthropic_python_sdk_works_against_switchyard() {
    if !python_has_sdks() {
        let install = "python3 -m pip install -r tests/python/requirements.txt";
        assert!(std::env::var_os("CI").is_none(), "the anthropic SDK is missing in CI: {install}");
        eprintln!("skipping: the anthropic Python SDK is not installed ({install})");
        return;
    }
    let proxy = Proxy::start(&render(CONFIG, simulator().await)).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/anthropic_client.py");
    let base = proxy.base.clone();
    let output = tokio::task::spawn_blocking(move || Command::new("python3").arg(script).arg(base).output())
        .await
        .unwrap()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "anthropic SDK checks failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
}
