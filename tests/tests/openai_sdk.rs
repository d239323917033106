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

/// The agents route: `sanity`, `tool-args` and `json` judge every answer of `small`.
const AGENT_CONFIG: &str = r#"
[plugins.tool-args]
kind = "gate"
path = "{GUEST:TOOL_ARGS}"
deadline_ms = 2000
[plugins.json]
kind = "gate"
path = "{GUEST:JSON_GATE}"
deadline_ms = 2000
"#;

fn python_has(module: &str) -> bool {
    Command::new("python3").args(["-c", &format!("import {module}")]).output().is_ok_and(|out| out.status.success())
}

/// A weather question whose `sim-small` tool call is well formed (`None`) or broken.
fn weather_prompt(broken: bool) -> String {
    (0..200)
        .map(|i| format!("What is the weather in Paris right now? (question {i})"))
        .find(|p| switchyard::sim::tools::small_breakage(p).is_some() == broken)
        .expect("the simulator breaks about one call in three")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_parse_and_an_agent_framework_through_a_gated_route() {
    if !python_has("openai") || !python_has("agents") {
        let install = "python3 -m pip install -r tests/python/requirements.txt";
        assert!(std::env::var_os("CI").is_none(), "openai / openai-agents are missing in CI: {install}");
        eprintln!("skipping: the openai or openai-agents Python package is not installed ({install})");
        return;
    }
    let config = CONFIG.replace("gates = [\"sanity\"]", "gates = [\"sanity\", \"tool-args\", \"json\"]");
    let proxy = Proxy::start(&render(&format!("{config}{AGENT_CONFIG}"), simulator().await)).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/openai_tools.py");
    let args = [format!("{}/v1", proxy.base), weather_prompt(false), weather_prompt(true)];
    let output = tokio::task::spawn_blocking(move || Command::new("python3").arg(script).args(args).output())
        .await
        .unwrap()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "openai tools / agents checks failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
