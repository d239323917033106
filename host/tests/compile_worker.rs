//! Large components compile in a worker process of the real binary (host/src/plugin/compile.rs):
//! the artifact it writes loads and answers like one compiled in-process, the workers' record
//! says so, and a worker stopped at its time or memory limit fails the load with an error that
//! names the limit, leaving this process unharmed.
//!
//! The component is the first-party `sanity` gate padded past the worker threshold with a
//! custom section (compiling it stays cheap; only its size decides where it compiles).

use std::time::Duration;

use switchyard::plugin::{self, EngineSettings, PluginEngine, PluginKind, PluginSpec, WorkerLimits, samples};

/// `sanity.wasm` with a 2 MiB custom section appended: same code, past the 1 MiB threshold.
fn padded_gate() -> Vec<u8> {
    use wasm_encoder::ComponentSection;
    let mut bytes = std::fs::read(switchyard_test_artifacts::SANITY).expect("the sanity guest is built");
    let padding = wasm_encoder::CustomSection { name: "padding".into(), data: vec![0u8; 2 << 20].into() };
    padding.append_to_component(&mut bytes);
    bytes
}

fn engine(limits: WorkerLimits, cache_dir: Option<std::path::PathBuf>) -> std::sync::Arc<PluginEngine> {
    plugin::enable_compile_worker(env!("CARGO_BIN_EXE_switchyard").into());
    PluginEngine::new(EngineSettings { compile_worker: Some(limits), cache_dir, ..Default::default() }).unwrap()
}

fn load(engine: &std::sync::Arc<PluginEngine>, bytes: Vec<u8>) -> Result<plugin::Plugin, plugin::LoadError> {
    let mut spec = PluginSpec::new("padded-sanity", PluginKind::Gate, "padded-sanity.wasm");
    spec.limits.deadline = Duration::from_secs(2);
    tokio::runtime::Runtime::new().unwrap().block_on(plugin::load_bytes(engine, spec, bytes, std::time::Instant::now()))
}

#[test]
fn a_large_component_compiles_in_a_worker_and_answers_like_any_other() {
    let cache = tempfile::tempdir().unwrap();
    let engine = engine(WorkerLimits::default(), Some(cache.path().to_path_buf()));
    let gate = load(&engine, padded_gate()).unwrap_or_else(|e| panic!("{e}"));
    let verdict = gate.check_blocking(&samples::requests()[0], &samples::candidate(&samples::requests()[0])).unwrap();
    assert!(matches!(verdict, plugin::Verdict::Accept(_)), "sanity accepts the sample answer: {verdict:?}");
    let report = engine.caches().compile_worker;
    assert!(report.enabled, "{report:?}");
    assert_eq!((report.compiles, report.failures, report.fallbacks), (1, 0, 0), "{report:?}");
    assert!(report.peak_worker_resident_bytes > 1 << 20, "the kernel saw the worker's memory: {report:?}");
    // The worker's artifact went into the disk cache, whole: no temporary file is left.
    let files: Vec<_> = walk(cache.path());
    assert!(files.iter().any(|f| f.ends_with(".cwasm")), "{files:?}");
    assert!(!files.iter().any(|f| f.contains(".worker.tmp")), "{files:?}");
    // A second engine finds it there and compiles nothing.
    let again = PluginEngine::new(EngineSettings { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() })
        .unwrap();
    let reloaded = load(&again, padded_gate()).unwrap();
    assert_eq!(reloaded.load_report().cache, plugin::CacheOutcome::Disk);
    assert_eq!(again.caches().compile_worker.compiles, 0);
}

#[test]
fn a_worker_past_its_time_limit_is_stopped_and_the_load_names_the_limit() {
    let engine = engine(WorkerLimits { timeout: Duration::from_millis(1), memory_bytes: 4 << 30 }, None);
    let Err(error) = load(&engine, padded_gate()) else { panic!("a 1 ms compile limit cannot be met") };
    let error = error.to_string();
    assert!(error.contains("longer than the compile worker's limit of 1ms"), "{error}");
    assert_eq!(engine.caches().compile_worker.failures, 1);
    // Small components still compile here, in-process, and the engine keeps working.
    let small = std::fs::read(switchyard_test_artifacts::SANITY).unwrap();
    load(&engine, small).unwrap();
}

#[test]
fn a_worker_out_of_memory_fails_the_load_with_its_limit() {
    let engine = engine(WorkerLimits { timeout: Duration::from_secs(120), memory_bytes: 1 << 20 }, None);
    let Err(error) = load(&engine, padded_gate()) else { panic!("1 MiB cannot even hold the component") };
    let error = error.to_string();
    assert!(error.contains("compile worker"), "{error}");
    assert!(error.contains("1 MiB") || error.contains("memory"), "{error}");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}
