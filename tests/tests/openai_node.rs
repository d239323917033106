//! The official `openai` Node SDK (pinned in tests/node/package.json, installed by
//! scripts/test.sh) as a client of the proxy on a gated route: tools plain and streamed, the
//! SDK's `runTools` loop, structured outputs with `parse`, errors.
//!
//! A machine without node or the installed SDK skips with a note, unless `CI` is set.

use std::path::Path;
use std::process::Command;

use switchyard_tests::proxy::{Proxy, SIM_MODELS, render, simulator};

const GATES: &str = r#"
[plugins.sanity]
kind = "gate"
path = "{GUEST:SANITY}"
deadline_ms = 2000
[plugins.tool-args]
kind = "gate"
path = "{GUEST:TOOL_ARGS}"
deadline_ms = 2000
[plugins.json]
kind = "gate"
path = "{GUEST:JSON_GATE}"
deadline_ms = 2000
[routes.auto]
gates = ["sanity", "tool-args", "json"]
default_plan = ["small", "large"]
"#;

/// A weather question whose `sim-small` tool call is well formed, or broken.
fn weather_prompt(broken: bool) -> String {
    (0..200)
        .map(|i| format!("What is the weather in Paris right now? (question {i})"))
        .find(|p| switchyard::sim::tools::small_breakage(p).is_some() == broken)
        .expect("the simulator breaks about one call in three")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_node_sdk_does_tools_and_parse_through_a_gated_route() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    let installed = dir.join("node_modules/openai/package.json").is_file()
        && Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !installed {
        let install = "npm ci --prefix tests/node";
        assert!(std::env::var_os("CI").is_none(), "the openai Node SDK is missing in CI: {install}");
        eprintln!("skipping: node or the openai Node SDK is not installed ({install})");
        return;
    }
    let proxy = Proxy::start(&render(&format!("{SIM_MODELS}{GATES}"), simulator().await)).await;
    let args = [format!("{}/v1", proxy.base), weather_prompt(false), weather_prompt(true)];
    let script = dir.join("openai_client.mjs");
    let output = tokio::task::spawn_blocking(move || Command::new("node").arg(script).args(args).output())
        .await
        .unwrap()
        .expect("node runs");
    assert!(
        output.status.success(),
        "openai Node SDK checks failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
