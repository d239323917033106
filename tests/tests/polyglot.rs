//! Plugins in Python and JavaScript, built from source by the test setup and run through the
//! real runtime: the examples pass their fixtures, the `tiered` policy gives identical plans
//! in Rust, Python and JS (and hot-swap into each other under a running proxy), warm instances
//! keep heavy guests cheap and answer like fresh ones, a Python guest sees fixed clocks and no
//! files, network or environment, and `switchyard plugin new` scaffolds projects that build
//! and pass their own fixtures.
//!
//! Needs componentize-py and componentize-js (`bash scripts/install-polyglot-toolchains.sh`).
//! Building a Python or JS component takes ~10 s and compiling it another ~10 s, so builds
//! land in `target/polyglot/` with a stamp (skipped when sources and toolchain are
//! unchanged) and compiled artifacts in the engine's disk cache there: a second run costs
//! seconds. `SWITCHYARD_SLOW_TESTS=1` scaffolds every language × kind instead of one kind
//! per language.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use switchyard::cli::fixtures::{self, Output};
use switchyard::cli::plugin_build::{self, BuildError, BuildOptions};
use switchyard::cli::plugin_new::{self, NewOptions};
use switchyard::cli::plugin_test::{self, TestOptions, TestReport};
use switchyard::cli::project::Lang;
use switchyard::plugin::{self, EngineSettings, InstanceStrategy, PluginEngine, PluginKind, PluginSpec, samples};

/// Debug builds of the host instantiate a Python guest in ~10 ms; the proxy's 10 ms default
/// is for release builds. Tests are about answers, not speed.
const TEST_DEADLINE: Duration = Duration::from_secs(2);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is below the repository root").to_path_buf()
}

fn work_dir() -> PathBuf {
    repo().join("target").join("polyglot")
}

fn js_modules() -> PathBuf {
    repo().join("plugins").join("js").join("node_modules")
}

/// Fails with the install command when componentize-py or componentize-js is missing.
fn require_toolchains() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        let mut missing = Vec::new();
        let python = Command::new("componentize-py").arg("--version").output();
        if !python.is_ok_and(|o| o.status.success()) {
            missing.push(format!("componentize-py ({})", plugin_build::python_install_command()));
        }
        if !js_modules().join("@bytecodealliance/componentize-js/package.json").is_file() {
            missing.push("componentize-js (npm install --prefix plugins/js)".to_string());
        }
        if Command::new("node").arg("--version").output().is_err() {
            missing.push("Node.js (apt-get install -y nodejs npm)".to_string());
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "\n\nThe polyglot tests build Python and JavaScript plugins, and these toolchains are \
                 missing: {}.\nInstall them all, at the pinned versions, with:\n\n    \
                 bash scripts/install-polyglot-toolchains.sh\n\n",
                missing.join(", ")
            ))
        }
    });
    if let Err(message) = result {
        panic!("{message}");
    }
}

/// One engine for the whole file, caching compiled artifacts on disk across runs.
fn engine() -> Arc<PluginEngine> {
    static ENGINE: OnceLock<Arc<PluginEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            PluginEngine::new(EngineSettings { cache_dir: Some(work_dir().join("compiled")), ..Default::default() })
                .expect("engine")
        })
        .clone()
}

/// Builds the project at `dir` once per process into `target/polyglot/build/`.
fn build(dir: &Path, key: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, Arc<OnceLock<PathBuf>>>>> = OnceLock::new();
    let cell = BUILT.get_or_init(Default::default).lock().unwrap().entry(key.to_string()).or_default().clone();
    cell.get_or_init(|| {
        let options = build_options(&work_dir().join("build").join(format!("{key}.wasm")));
        let built = plugin_build::build(dir, &options).unwrap_or_else(|e| panic!("building {}: {e}", dir.display()));
        eprintln!("{key}: {} ({})", if built.up_to_date { "up to date" } else { "built" }, built.toolchain);
        built.path
    })
    .clone()
}

fn build_options(out: &Path) -> BuildOptions {
    BuildOptions {
        out: Some(out.to_path_buf()),
        js_modules: Some(js_modules()),
        cargo_target_dir: Some(work_dir().join("cargo")),
        force: false,
    }
}

fn example(lang: &str, name: &str) -> PathBuf {
    repo().join("plugins").join(lang).join(name)
}

/// Runs an example project over its fixtures (built through [`build`]).
fn test_example(lang: &str, name: &str) -> TestReport {
    require_toolchains();
    let dir = example(lang, name);
    let component = build(&dir, &format!("{lang}-{name}"));
    let report = plugin_test::run_with_engine(
        &engine(),
        &TestOptions {
            target: dir.clone(),
            deadline: Some(TEST_DEADLINE),
            iterations: 200,
            build: BuildOptions { out: Some(component), ..build_options(Path::new("")) },
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("plugin test {}: {e}", dir.display()));
    eprintln!("{report}");
    assert!(report.success(), "{lang}/{name}:\n{}", plugin_test::failure_summary(&report));
    report
}

#[test]
fn python_examples_pass_their_fixtures() {
    for name in ["topics", "tiered", "brevity"] {
        let report = test_example("python", name);
        assert!(report.outcomes.len() >= 4, "{name}: too few fixtures");
    }
}

#[test]
fn js_examples_pass_their_fixtures() {
    for name in ["shape", "tiered", "hedge"] {
        let report = test_example("js", name);
        assert!(report.outcomes.len() >= 4, "{name}: too few fixtures");
    }
}

fn load(
    path: &Path,
    kind: PluginKind,
    strategy: InstanceStrategy,
    config: serde_json::Value,
) -> std::sync::Arc<plugin::Plugin> {
    let mut spec = PluginSpec::new("polyglot", kind, path);
    spec.config = config;
    spec.limits.deadline = TEST_DEADLINE;
    spec.strategy = strategy;
    std::sync::Arc::new(plugin::load_blocking(&engine(), spec).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

#[test]
fn tiered_plans_are_identical_in_rust_python_and_js() {
    require_toolchains();
    let (rust, python, js) = tiered_builds();
    let config = || serde_json::json!({"thresholds": [0.35, 0.7]});
    let plugins = [
        ("rust", load(&rust, PluginKind::Policy, InstanceStrategy::Warm, config())),
        ("python", load(&python, PluginKind::Policy, InstanceStrategy::Warm, config())),
        ("js", load(&js, PluginKind::Policy, InstanceStrategy::Warm, config())),
    ];
    let mut cases = fixtures::load(&repo().join("plugins/tiered/fixtures.jsonl")).expect("shared fixtures");
    // The proxy's sample requests too, at scores on and around every threshold.
    for request in samples::requests() {
        for score in [0.0, 0.3499, 0.35, 0.5, 0.7, 0.71, 1.0] {
            let mut case = cases[0].clone();
            case.name = format!("{}@{score}", request.id);
            case.request = request.clone();
            case.signals = vec![plugin::Signal { name: "complexity.score".into(), value: score, label: None }];
            cases.push(case);
        }
    }
    assert!(cases.len() > 50);
    let mut plans = 0;
    for case in &cases {
        let answers: Vec<(&str, Result<Output, String>)> = plugins
            .iter()
            .map(|(lang, plugin)| (*lang, plugin_test::call(plugin, case).map_err(|e| guest_message(&e.to_string()))))
            .collect();
        for (lang, answer) in &answers[1..] {
            assert_eq!(answer, &answers[0].1, "{}: {lang} differs from rust", case.name);
        }
        plans += usize::from(answers[0].1.is_ok());
    }
    assert!(plans > 40, "most cases have a plan ({plans})");
}

/// The three `tiered` components. The Rust one is built by `plugin build` too (it is also in
/// `switchyard_test_artifacts`), which tests the Rust path of the developer kit.
fn tiered_builds() -> (PathBuf, PathBuf, PathBuf) {
    (
        build(&repo().join("plugins").join("tiered"), "rust-tiered"),
        build(&example("python", "tiered"), "python-tiered"),
        build(&example("js", "tiered"), "js-tiered"),
    )
}

/// A guest error's message without the plugin name the host prefixes.
fn guest_message(error: &str) -> String {
    error.split_once("returned an error: ").map_or(error, |(_, m)| m).to_string()
}

/// CPython's code lives in core modules that are identical in every componentize-py plugin:
/// once one Python plugin has gone live on baseline code, the next compiles only its own
/// modules (host/src/plugin/split.rs).
#[test]
fn python_plugins_share_the_compiled_runtime_on_the_baseline_tier() {
    require_toolchains();
    let engine = PluginEngine::new(EngineSettings { tiered: true, ..Default::default() }).unwrap();
    let topics = build(&example("python", "topics"), "python-topics");
    let python_tiered = build(&example("python", "tiered"), "python-tiered");
    let load = |path: &Path, kind| {
        let mut spec = PluginSpec::new("p", kind, path);
        // Room for baseline code in a debug build (a tighter deadline makes the load wait for
        // optimized code instead, which is not what this test is about).
        spec.limits.deadline = std::time::Duration::from_secs(1);
        plugin::load_blocking(&engine, spec).unwrap()
    };
    let first = load(&topics, PluginKind::Classifier);
    assert_eq!(first.tier(), plugin::Tier::Baseline);
    let runtime = first.load_report().shared_modules.compiled;
    assert!(runtime >= 1, "{:?}", first.load_report());
    let second = load(&python_tiered, PluginKind::Policy);
    let shared = second.load_report().shared_modules;
    assert_eq!((shared.reused, shared.compiled), (runtime, 0), "{:?}", second.load_report());
    let request = samples::requests()[0].clone();
    let plan = second.route_blocking(&request, &samples::signals(), &samples::models()).unwrap();
    assert!(plan.reason.starts_with("tiered:"), "{plan:?}");
}

#[test]
fn warm_and_fresh_instances_of_heavy_guests_answer_alike() {
    require_toolchains();
    for (lang, name, kind) in [("python", "topics", PluginKind::Classifier), ("js", "hedge", PluginKind::Gate)] {
        let path = build(&example(lang, name), &format!("{lang}-{name}"));
        let warm = load(&path, kind, InstanceStrategy::Warm, serde_json::json!({}));
        let fresh = load(&path, kind, InstanceStrategy::Fresh, serde_json::json!({}));
        for request in samples::requests() {
            let candidate = samples::candidate(&request);
            let call = |p: &plugin::Plugin| match kind {
                PluginKind::Classifier => format!("{:?}", p.classify_blocking(&request)),
                _ => format!("{:?}", p.check_blocking(&request, &candidate)),
            };
            let first = call(&warm);
            assert_eq!(call(&warm), first, "{lang}/{name}: a warm instance answers the same twice");
            assert_eq!(call(&fresh), first, "{lang}/{name}: fresh and warm instances agree");
        }
        // Warm reuse is what makes heavy guests affordable: the pool is filled at load (one
        // instance per core) and sequential calls never instantiate CPython or SpiderMonkey
        // again.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(warm.idle_instances(), cores.min(16), "{lang}/{name}: pre-warmed at load, reused since");
    }
}

#[test]
fn a_missing_js_toolchain_names_the_install_command() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("p");
    plugin_new::create(&NewOptions {
        name: "p".into(),
        lang: Lang::Js,
        kind: PluginKind::Gate,
        dir: Some(dir.clone()),
    })
    .unwrap();
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let options = BuildOptions { js_modules: Some(empty), ..Default::default() };
    match plugin_build::build(&dir, &options) {
        Err(error @ BuildError::MissingToolchain { .. }) => {
            let text = error.to_string();
            assert!(text.contains(&format!("npm install --prefix {}", dir.display())), "{text}");
        }
        // Someone may have componentize-js installed globally above the temp dir.
        Ok(_) => {}
        Err(other) => panic!("expected a missing-toolchain error, got: {other}"),
    }
}

/// Scaffolds `lang` × `kind` into a temporary directory, builds it and runs its fixtures.
fn scaffold_build_and_test(lang: Lang, kind: PluginKind) {
    let root = tempfile::tempdir().unwrap();
    let name = format!("my-{lang}-{kind}");
    let (dir, _) =
        plugin_new::create(&NewOptions { name: name.clone(), lang, kind, dir: Some(root.path().join(&name)) })
            .expect("scaffold");
    // The output lives under target/ with its stamp, so an unchanged template is not rebuilt
    // on the next run (the stamp hashes file contents, not the temporary path).
    let out = work_dir().join("scaffold").join(format!("{name}.wasm"));
    let report = plugin_test::run_with_engine(
        &engine(),
        &TestOptions {
            target: dir,
            deadline: Some(TEST_DEADLINE),
            iterations: 100,
            build: build_options(&out),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{lang} {kind}: {e}"));
    eprintln!("{report}");
    assert!(report.success(), "{lang} {kind}:\n{}", plugin_test::failure_summary(&report));
    assert!(report.outcomes.len() >= 3);
}

#[test]
fn scaffolded_projects_build_and_pass_their_fixtures() {
    require_toolchains();
    let all = std::env::var_os("SWITCHYARD_SLOW_TESTS").is_some_and(|v| v == "1");
    let combos: Vec<(Lang, PluginKind)> = if all {
        Lang::ALL.into_iter().flat_map(|l| PluginKind::ALL.map(|k| (l, k))).collect()
    } else {
        vec![(Lang::Rust, PluginKind::Classifier), (Lang::Python, PluginKind::Policy), (Lang::Js, PluginKind::Gate)]
    };
    for (lang, kind) in combos {
        scaffold_build_and_test(lang, kind);
    }
}

/// The cost of a warm call in each language, per window of calls so that a guest whose calls
/// slow down as its heap fills shows it. Numbers only mean something in a release build:
///
/// ```sh
/// cargo test --release -p switchyard-tests --test polyglot -- --ignored --nocapture warm_call_cost
/// ```
#[test]
#[ignore = "a measurement, not a check: run it in release mode"]
fn warm_call_cost() {
    require_toolchains();
    let cases = fixtures::load(&repo().join("plugins/tiered/fixtures.jsonl")).expect("shared fixtures");
    let (rust, python, js) = tiered_builds();
    let windows: usize = std::env::var("WINDOWS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    for (lang, path) in [("rust", rust), ("python", python), ("js", js)] {
        let plugin = load(&path, PluginKind::Policy, InstanceStrategy::Warm, serde_json::json!({}));
        let mut line = format!("{lang:>6} p50 per 1000 calls (µs):");
        for _ in 0..windows {
            let mut timings: Vec<Duration> = (0..1000)
                .map(|i| {
                    let started = std::time::Instant::now();
                    let _ = plugin_test::call(&plugin, &cases[i % cases.len()]);
                    started.elapsed()
                })
                .collect();
            timings.sort_unstable();
            line.push_str(&format!(" {:.1}", timings[500].as_secs_f64() * 1e6));
        }
        eprintln!("{line}");
    }
}

#[test]
fn a_python_plugin_sees_fixed_clocks_and_no_files_network_or_environment() {
    require_toolchains();
    let dir = repo().join("plugins/python/test-guests/probe");
    let path = build(&dir, "python-probe");
    let warm = load(&path, PluginKind::Classifier, InstanceStrategy::Warm, serde_json::json!({}));
    let fresh = load(&path, PluginKind::Classifier, InstanceStrategy::Fresh, serde_json::json!({}));
    let request = &samples::requests()[0];
    let first = warm.classify_blocking(request).expect("probe answers");
    let value = |name: &str| first.iter().find(|s| s.name == name).map(|s| s.value);
    assert_eq!(value("probe.time"), Some(plugin::FIXED_WALL_CLOCK.as_secs_f64()));
    assert_eq!(value("probe.monotonic"), Some(0.0));
    for denied in ["probe.env", "probe.file", "probe.dir", "probe.socket"] {
        assert_eq!(value(denied), Some(0.0), "{denied}: {first:?}");
    }
    // The "random" bytes are a fixed sequence, rewound before every call of every instance.
    assert_eq!(warm.classify_blocking(request).unwrap(), first, "a warm instance answers the same twice");
    assert_eq!(fresh.classify_blocking(request).unwrap(), first, "a fresh instance answers the same");
}

/// A policy is hot-swapped across languages under a running proxy: the Rust `tiered` is
/// replaced by the Python one, then the JS one, by renaming files into place, and every
/// version answers the same request with the same plan and reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_hot_swaps_between_rust_python_and_js() {
    use switchyard_tests::proxy::{Proxy, SIM_MODELS, chat, render, simulator};

    require_toolchains();
    let (rust, python, js) = tokio::task::spawn_blocking(tiered_builds).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.wasm");
    std::fs::copy(&rust, &policy).unwrap();
    let sim = simulator().await;
    let config = format!(
        r#"
[runtime]
cache_dir = {cache:?}
{models}
[plugins.tiered]
kind = "policy"
path = "policy.wasm"
deadline_ms = 2000
config = {{ thresholds = [0.5] }}
[routes.auto]
policy = "tiered"
default_plan = ["small"]
"#,
        cache = work_dir().join("compiled").to_str().unwrap(),
        models = render(SIM_MODELS, sim),
    );
    let config_path = dir.path().join("switchyard.toml");
    std::fs::write(&config_path, config).unwrap();
    let proxy = Proxy::start_watching(&config_path, Duration::from_millis(100)).await;
    let request = serde_json::json!({"model": "auto", "messages": [{"role": "user", "content": "hi"}], "metadata": {"tier": "1"}});

    let first = chat(&proxy, request.clone()).await;
    assert_eq!(first.status, 200);
    let reason = first.header("x-switchyard-reason").to_string();
    assert_eq!(reason, "tiered: start tier 1 (hint tier=1); 2 of 2 models");
    assert_eq!(first.header("x-switchyard-model"), "large");

    for (lang, path) in [("python", python), ("js", js)] {
        let before = proxy.app.reload_status().reloads_ok;
        let tmp = dir.path().join("policy.wasm.tmp~");
        std::fs::copy(&path, &tmp).unwrap();
        std::fs::rename(&tmp, &policy).unwrap();
        // A new Python or JS version compiles for ~10 s unless the disk cache has it.
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while proxy.app.reload_status().reloads_ok <= before {
            assert!(std::time::Instant::now() < deadline, "the {lang} version was not swapped in");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let reply = chat(&proxy, request.clone()).await;
        assert_eq!(reply.status, 200, "{lang}");
        assert_eq!(reply.header("x-switchyard-reason"), reason, "{lang} plans like rust");
        assert_eq!(reply.header("x-switchyard-model"), "large", "{lang}");
    }
}
