//! The official `openai` Python SDK (pinned in tests/python/requirements.txt) as a client of
//! the proxy on a real socket: completions, streaming, headers, listing and error types.
//!
//! CI installs the SDK (`.ci/run`). Elsewhere, a machine without it skips this test with a
//! note, unless `CI` is set, where a missing SDK is a failure.

use std::process::Command;

use switchyard_tests::proxy::{Proxy, render, simulator};

const CONFIG: &str = r#"
[telemetry]
decision_log = "off"
[providers.sim]
base_url = "{SIM}"
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
[plugins.sanity]
kind = "gate"
path = "{GUEST:SANITY}"
deadline_ms = 2000
[routes.auto]
gates = ["sanity"]
default_plan = ["small", "large"]
"#;

fn python_has_openai() -> bool {
    Command::new("python3").args(["-c", "import openai"]).output().is_ok_and(|out| out.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_python_sdk_works_against_switchyard() {
    if !python_has_openai() {
        let install = "python3 -m pip install -r tests/python/requirements.txt";
        assert!(std::env::var_os("CI").is_none(), "the openai SDK is missing in CI: {install}");
        eprintln!("skipping: the openai Python SDK is not installed ({install})");
        return;
    }
    let proxy = Proxy::start(&render(CONFIG, simulator().await)).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/openai_client.py");
    let base = format!("{}/v1", proxy.base);
    let output = tokio::task::spawn_blocking(move || Command::new("python3").arg(script).arg(base).output())
        .await
        .unwrap()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "openai SDK checks failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
