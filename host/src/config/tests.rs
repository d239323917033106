//! Whole-file tests: a complete valid config, and every cross-table problem at once.

use std::path::Path;

use super::*;

fn env(var: &str) -> Option<String> {
    (var == "SIM_KEY").then(|| "sk-test-123".to_string())
}

fn dir_with_plugins() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["len.wasm", "cascade.wasm", "judge.wasm"] {
        std::fs::write(dir.path().join(f), b"\0asm").unwrap();
    }
    dir
}

const VALID: &str = r#"
listen = "0.0.0.0:9090"
[server]
request_timeout_ms = 30000
[runtime]
fuel = true
[telemetry]
decision_log = "logs/decisions.jsonl"
log_format = "json"
[providers.sim]
base_url = "http://127.0.0.1:9999/v1"
api_key_env = "SIM_KEY"
headers = { "x-team" = "router" }
[models.small]
provider = "sim"
upstream = "sim-small"
input_price = 0.15
output_price = 0.6
[models.sim-large]
provider = "sim"
tier = 2
input_price = 2.5
output_price = 10
tags = ["code"]
[plugins.length]
kind = "classifier"
path = "len.wasm"
config = { threshold = 400 }
[plugins.cascade]
kind = "policy"
path = "cascade.wasm"
fuel = 1000000
[plugins.judge]
kind = "gate"
path = "judge.wasm"
fail_mode = "accept"
[routes.auto]
classifiers = ["length"]
policy = "cascade"
gates = ["judge"]
default_plan = ["small", "sim-large"]
deadline_ms = 5000
"#;

#[test]
fn a_complete_config_loads_with_defaults_and_resolved_paths() {
    let dir = dir_with_plugins();
    let path = dir.path().join("switchyard.toml");
    let cfg = Config::from_str_with_env(VALID, &path, &env).unwrap();
    assert_eq!(cfg.listen_addr.port(), 9090);
    assert_eq!(cfg.server.body_limit_bytes, 4 * 1024 * 1024);
    assert_eq!(cfg.server.header_read_timeout_ms, 10_000);
    assert_eq!(cfg.models["sim-large"].upstream_name(), "sim-large");
    assert_eq!(cfg.models["small"].upstream_name(), "sim-small");
    assert_eq!(cfg.models["small"].context_window, 128_000);
    assert_eq!(cfg.providers["sim"].max_retries, 1);
    let len = &cfg.plugins["length"];
    assert!(len.resolved_path.is_absolute());
    assert_eq!(len.resolved_path, dir.path().join("len.wasm"));
    assert_eq!(len.fail_mode(), Ok(FailMode::Classifier(ClassifierFailMode::Skip)));
    assert_eq!(cfg.plugins["judge"].fail_mode(), Ok(FailMode::Gate(GateFailMode::Accept)));
    assert_eq!(cfg.plugin_paths().len(), 3);
    assert_eq!(cfg.runtime.cache_dir, dir.path().join(".switchyard-cache"));
    assert_eq!(cfg.telemetry.decision_log, DecisionLog::File(dir.path().join("logs/decisions.jsonl")));
    assert_eq!(cfg.secrets().provider_key("sim").unwrap().expose(), "sk-test-123");
    assert!(!format!("{cfg:?}").contains("sk-test-123"));
    assert_eq!(cfg.request_deadline("auto"), Duration::from_millis(5000));
    assert_eq!(cfg.request_deadline("other"), Duration::from_millis(30000));
}

#[test]
fn an_empty_file_is_a_valid_do_nothing_config() {
    let cfg = Config::from_str_with_env("", Path::new("s.toml"), &env).unwrap();
    assert_eq!(cfg.listen, "127.0.0.1:8080");
    assert_eq!(cfg.telemetry.decision_log, DecisionLog::Stdout);
}

#[test]
fn unknown_keys_are_errors_that_name_file_and_key() {
    let err = Config::from_str_with_env("[server]\nbody_limit = 5\n", Path::new("switchyard.toml"), &env).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("switchyard.toml: "), "{msg}");
    assert!(msg.contains("body_limit") && msg.contains("line 2"), "{msg}");
}

#[test]
fn load_reports_unreadable_files() {
    let err = Config::load(Path::new("/definitely/not/here.toml")).unwrap_err();
    assert!(err.to_string().starts_with("/definitely/not/here.toml: cannot read"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = dir_with_plugins();
    let text = r#"
listen = "localhost"
[server]
request_timeout_ms = 0
[providers.p]
base_url = "ftp://x"
api_key = "sk-abc"
api_key_env = "UNSET_VAR"
timeout_ms = 0
[models.a]
provider = "nope"
input_price = -1
output_price = nan
tags = ["x", "x"]
[plugins.length]
kind = "classifier"
path = "len.wasm"
fuel = 5
fail_mode = "escalate"
[plugins.ghost]
kind = "gate"
path = "missing.wasm"
[routes.a]
default_plan = []
[routes.auto]
classifiers = ["length", "length", "who"]
policy = "length"
gates = ["ghost"]
default_plan = ["a", "zzz", "a"]
deadline_ms = 0
"#;
    let err = Config::from_str_with_env(text, &dir.path().join("switchyard.toml"), &env).unwrap_err();
    let problems = err.problems();
    let expect = [
        "listen: expected an IP address and port",
        "server.request_timeout_ms: expected a timeout > 0",
        "providers.p.base_url: expected an http:// or https:// URL",
        "providers.p.api_key: API keys do not belong in the config file",
        "providers.p.timeout_ms: expected a timeout > 0",
        "providers.p.api_key_env: environment variable UNSET_VAR is not set (provider \"p\"",
        "models.a.provider: unknown provider \"nope\"; expected one of [p]",
        "models.a.input_price: expected a price >= 0",
        "models.a.output_price: expected a finite number",
        "models.a.tags[1]: tag \"x\" is listed twice",
        "plugins.length.fail_mode: \"escalate\" does not apply to a classifier",
        "plugins.length.fuel: fuel is set but runtime.fuel = false",
        "plugins.ghost.path: no plugin file at ",
        "routes.a: route alias \"a\" is also a model id",
        "routes.a.default_plan: expected at least one model id",
        "routes.auto.default_plan[1]: unknown model \"zzz\"",
        "routes.auto.default_plan[2]: model \"a\" is listed twice",
        "routes.auto.classifiers[1]: plugin \"length\" is listed twice",
        "routes.auto.classifiers[2]: unknown plugin \"who\"",
        "routes.auto.policy: plugin \"length\" is a classifier, but this slot needs a policy",
        "routes.auto.deadline_ms: expected a deadline > 0",
    ];
    for e in expect {
        assert!(problems.iter().any(|p| p.starts_with(e)), "missing {e:?} in\n{err}");
    }
    assert!(problems.iter().any(|p| p.contains(&dir.path().join("missing.wasm").display().to_string())));
    assert_eq!(problems.len(), expect.len(), "{err}");
    let text = err.to_string();
    assert_eq!(text.lines().count(), expect.len());
    assert!(text.lines().all(|l| l.contains("switchyard.toml: ")));
    assert!(!text.contains("sk-abc"));
}

#[test]
fn odd_names_are_quoted_in_key_paths() {
    let text = "[models.\"gpt-4o.mini\"]\nprovider = \"x\"\ninput_price = 1\noutput_price = 1\n";
    let err = Config::from_str_with_env(text, Path::new("c.toml"), &env).unwrap_err();
    assert!(err.to_string().contains("models.\"gpt-4o.mini\".provider"), "{err}");
}

#[test]
fn plugin_files_reach_the_plugin_config_and_bad_ones_are_named() {
    let dir = dir_with_plugins();
    std::fs::create_dir(dir.path().join("models")).unwrap();
    std::fs::write(dir.path().join("models/router.json"), "{\"weights\": [1]}").unwrap();
    let path = dir.path().join("switchyard.toml");
    let with_files = |files: &str| {
        VALID.replace("config = { threshold = 400 }", &format!("config = {{ threshold = 400 }}\nfiles = {files}"))
    };
    let cfg = Config::from_str_with_env(&with_files(r#"{ model = "models/router.json" }"#), &path, &env).unwrap();
    let len = &cfg.plugins["length"];
    assert_eq!(len.file_texts["model"].0, dir.path().join("models/router.json"));
    assert_eq!(len.config_value(), serde_json::json!({"threshold": 400, "model": "{\"weights\": [1]}"}));
    assert_eq!(len.config_json(), r#"{"model":"{\"weights\": [1]}","threshold":400}"#);

    let err = Config::from_str_with_env(
        &with_files(r#"{ model = "missing.json", threshold = "models/router.json" }"#),
        &path,
        &env,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("plugins.length.files.model: cannot read"), "{err}");
    assert!(err.contains("missing.json as UTF-8 text"), "{err}");
    assert!(err.contains("plugins.length.files.threshold: `config.threshold` is set too"), "{err}");
}

#[test]
fn otlp_settings_are_checked_and_named() {
    let text = "[telemetry.otlp]\nendpoint = \"collector:4318\"\nsample_ratio = 1.5\nbatch_spans = 100\nmax_queue_spans = 10\n";
    let msg = Config::from_str_with_env(text, Path::new("switchyard.toml"), &env).unwrap_err().to_string();
    for needle in
        ["telemetry.otlp.endpoint", "collector:4318", "telemetry.otlp.sample_ratio", "telemetry.otlp.max_queue_spans"]
    {
        assert!(msg.contains(needle), "{needle} in {msg}");
    }
    let text = "[telemetry.otlp]\nendpoint = \"http://127.0.0.1:4318/v1/traces\"\n";
    let cfg = Config::from_str_with_env(text, Path::new("switchyard.toml"), &env).unwrap();
    let otlp = cfg.telemetry.otlp.unwrap();
    assert_eq!((otlp.service_name.as_str(), otlp.sample_ratio), ("switchyard", 1.0));
}
