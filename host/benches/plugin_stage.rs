//! One plugin stage, in process: what a classifier, policy or gate call costs the request
//! path, with warm (pooled, the default) and fresh instances; and what loading a plugin costs
//! with a cold compile, a disk-cache hit and a memory-cache hit.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/main/target cargo bench -p switchyard --bench plugin_stage
//! ```
//!
//! Targets (DESIGN.md, "Plugin lifecycle"): a Rust plugin stage ≤ 5 µs warm, ≤ 50 µs fresh.
//! Results and the machine they came from: BENCHMARKS.md. Medians are in
//! `$CARGO_TARGET_DIR/criterion/<group>/<bench>/new/estimates.json`; `bench/criterion_medians.sh`
//! prints them as a table.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;
use switchyard::plugin::{
    CacheOutcome, Candidate, EngineSettings, InstanceStrategy, ModelInfo, Plugin, PluginEngine, PluginKind, PluginSpec,
    Request, Signal, load_blocking, samples,
};

/// The first-party plugins, one stage each: (bench id, kind, component, configuration).
fn stages() -> Vec<(&'static str, PluginKind, &'static str, serde_json::Value)> {
    use switchyard_test_artifacts as a;
    vec![
        ("complexity.classify", PluginKind::Classifier, a::COMPLEXITY, json!({})),
        // The same classifier on the one-line "hello" sample: how much of its time is text.
        ("complexity.classify_short", PluginKind::Classifier, a::COMPLEXITY, json!({})),
        ("cascade.route", PluginKind::Policy, a::CASCADE, json!({ "start_tier": 1, "start_threshold": 0.9 })),
        (
            "static_routes.route",
            PluginKind::Policy,
            a::STATIC_ROUTES,
            // The sample requests carry tenant=sample: the rule is checked and misses, the
            // default answers (the longer path through the table).
            json!({
                "rules": [{ "when": { "tenant": "acme" }, "plan": ["large", "small"], "reason": "acme" }],
                "default": ["small", "large"],
            }),
        ),
        ("sanity.check", PluginKind::Gate, a::SANITY, json!({})),
        ("json_gate.check", PluginKind::Gate, a::JSON_GATE, json!({})),
    ]
}

fn engine(cache_dir: Option<std::path::PathBuf>) -> Arc<PluginEngine> {
    PluginEngine::new(EngineSettings { cache_dir, ..EngineSettings::default() }).expect("engine")
}

fn spec(
    name: &str,
    kind: PluginKind,
    path: &str,
    config: &serde_json::Value,
    strategy: InstanceStrategy,
) -> PluginSpec {
    let mut spec = PluginSpec::new(name, kind, path);
    spec.config = config.clone();
    spec.strategy = strategy;
    // The default 10 ms deadline is wall time (epochs): on a busy 2-core machine a call that
    // is descheduled for 10 ms traps, one in a million calls or so. A bench must not fail on
    // that; the deadline costs the same whatever its length.
    spec.limits.deadline = Duration::from_secs(1);
    spec
}

/// Calls the plugin's one export once on the inputs the proxy would hand it.
fn call_once(plugin: &Plugin, inputs: &Inputs) {
    match plugin.kind() {
        PluginKind::Classifier => {
            black_box(plugin.classify_blocking(black_box(&inputs.request)).expect("classify"));
        }
        PluginKind::Policy => {
            black_box(
                plugin
                    .route_blocking(black_box(&inputs.request), black_box(&inputs.signals), black_box(&inputs.models))
                    .expect("route"),
            );
        }
        PluginKind::Gate => {
            black_box(plugin.check_blocking(black_box(&inputs.request), black_box(&inputs.candidate)).expect("check"));
        }
    }
}

/// Everything a stage may be handed: a request, the signals a classifier produced, the model
/// table and a candidate answer.
struct Inputs {
    request: Request,
    signals: Vec<Signal>,
    models: Vec<ModelInfo>,
    candidate: Candidate,
}

fn inputs_for(id: &str) -> Inputs {
    // json-gate judges the JSON sample (a gate with nothing to check would measure nothing);
    // `_short` gets the one-line hello; every other stage gets the code sample, the longest
    // prompt of the set (a system message and ~170 characters of question and code).
    let index = if id.starts_with("json_gate") {
        3
    } else if id.ends_with("_short") {
        0
    } else {
        1
    };
    let request = samples::requests().swap_remove(index);
    let candidate = samples::candidate(&request);
    Inputs { request, signals: samples::signals(), models: samples::models(), candidate }
}

fn plugin_stage(c: &mut Criterion) {
    let engine = engine(None);
    for (strategy, label) in [(InstanceStrategy::Warm, "warm"), (InstanceStrategy::Fresh, "fresh")] {
        let mut group = c.benchmark_group(format!("stage_{label}"));
        for (id, kind, path, config) in stages() {
            let plugin = load_blocking(&engine, spec(id, kind, path, &config, strategy)).expect("load");
            let inputs = inputs_for(id);
            group.bench_function(id, |b| b.iter(|| call_once(&plugin, &inputs)));
        }
        group.finish();
    }
}

fn plugin_load(c: &mut Criterion) {
    use switchyard_test_artifacts::COMPLEXITY;
    let config = json!({});
    let spec = || spec("complexity", PluginKind::Classifier, COMPLEXITY, &config, InstanceStrategy::Warm);
    let expect = |plugin: &Plugin, outcome: CacheOutcome| {
        assert_eq!(plugin.load_report().cache, outcome, "unexpected cache outcome");
    };
    let mut group = c.benchmark_group("load_complexity");

    // Cold: a new engine with no cache, so the component is compiled by Cranelift. The engine
    // is built in the untimed setup; the timed part is read + hash + compile + link + self-test.
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("cold_compile", |b| {
        b.iter_batched(
            || engine(None),
            |engine| {
                let plugin = load_blocking(&engine, spec()).expect("load");
                expect(&plugin, CacheOutcome::Compiled);
                plugin
            },
            BatchSize::PerIteration,
        )
    });

    // Disk hit: a new engine (so its memory cache is empty) over a cache_dir that already holds
    // the compiled artifact: deserialize instead of compile.
    let dir = tempfile::tempdir().expect("tempdir");
    let cached = || engine(Some(dir.path().to_path_buf()));
    expect(&load_blocking(&cached(), spec()).expect("prime the disk cache"), CacheOutcome::Compiled);
    group.sample_size(30).measurement_time(Duration::from_secs(5));
    group.bench_function("disk_cache_hit", |b| {
        b.iter_batched(
            cached,
            |engine| {
                let plugin = load_blocking(&engine, spec()).expect("load");
                expect(&plugin, CacheOutcome::Disk);
                plugin
            },
            BatchSize::PerIteration,
        )
    });

    // Memory hit: the same engine loads the same bytes again (a reload of an unchanged file).
    let warm_engine = engine(None);
    drop(load_blocking(&warm_engine, spec()).expect("prime the memory cache"));
    group.sample_size(50).measurement_time(Duration::from_secs(3));
    group.bench_function("memory_cache_hit", |b| {
        b.iter_with_large_drop(|| {
            let plugin = load_blocking(&warm_engine, spec()).expect("load");
            expect(&plugin, CacheOutcome::Memory);
            plugin
        })
    });
    group.finish();

    // Where the time of each kind of load goes, once, for BENCHMARKS.md.
    for (label, engine, outcome) in [
        ("cold_compile", engine(None), CacheOutcome::Compiled),
        ("disk_cache_hit", cached(), CacheOutcome::Disk),
        ("memory_cache_hit", warm_engine.clone(), CacheOutcome::Memory),
    ] {
        let plugin = load_blocking(&engine, spec()).expect("load");
        expect(&plugin, outcome);
        let r = plugin.load_report();
        eprintln!(
            "load breakdown {label}: read+hash {:?}, compile/fetch {:?}, link {:?}, instantiate+init+self-test {:?}",
            r.read, r.compile, r.link, r.self_test
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = plugin_stage, plugin_load
}
criterion_main!(benches);
