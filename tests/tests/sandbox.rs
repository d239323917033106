//! Hostile guests, built from source, against the real runtime: every limit is enforced,
//! named in a typed error, and the next call is served normally.

use std::time::{Duration, Instant};

use serde_json::json;
use switchyard::plugin::{
    self, CallError, EngineSettings, InstanceStrategy, LimitKind, LoadError, PluginEngine, PluginKind, Tier,
};
use switchyard_tests::{engine, guests, spec, user_request};

/// Loads the hostile classifier misbehaving in `mode` only on requests that say "attack",
/// so it passes its self-test like a real trojan would.
fn hostile(mode: &str, strategy: InstanceStrategy) -> plugin::Plugin {
    // A generous deadline: these tests are about other limits, and a busy CI machine can
    // starve a healthy call past 10 ms of wall time.
    hostile_with_deadline(mode, strategy, Duration::from_secs(1))
}

/// As [`hostile`], with another deadline: growing 64 MiB or building 100 000 signals takes
/// longer than the default 10 ms, and these tests are about the other limits.
fn hostile_with_deadline(mode: &str, strategy: InstanceStrategy, deadline: Duration) -> plugin::Plugin {
    let mut spec = spec("hostile", PluginKind::Classifier, guests::HOSTILE, json!({"mode": mode, "trigger": "attack"}));
    spec.strategy = strategy;
    spec.limits.deadline = deadline;
    plugin::load_blocking(&engine(), spec).expect("hostile guest loads")
}

fn assert_recovers(plugin: &plugin::Plugin) {
    for _ in 0..3 {
        // Deadlines are wall time: on a machine busy with other suites a healthy call can be
        // starved past a 10 ms deadline once; the instance being unusable would fail every try.
        let mut outcome = plugin.classify_blocking(&user_request("hello"));
        for _ in 0..2 {
            if !matches!(outcome, Err(CallError::Deadline { .. })) {
                break;
            }
            outcome = plugin.classify_blocking(&user_request("hello"));
        }
        let signals = outcome.expect("next call is served normally");
        assert_eq!(signals[0].name, "hostile.ok");
    }
}

#[test]
fn an_infinite_loop_is_stopped_at_about_the_deadline() {
    for strategy in [InstanceStrategy::Warm, InstanceStrategy::Fresh] {
        let plugin = hostile_with_deadline("spin", strategy, Duration::from_millis(10));
        let started = Instant::now();
        let error = plugin.classify_blocking(&user_request("attack")).unwrap_err();
        let took = started.elapsed();
        assert!(matches!(error, CallError::Deadline { .. }), "{error}");
        assert_eq!(error.limit(), Some(LimitKind::Deadline));
        assert!(error.to_string().contains("hostile"), "the error names the plugin: {error}");
        assert!(took >= Duration::from_millis(9), "stopped too early: {took:?}");
        assert!(took < Duration::from_millis(200), "stopped too late: {took:?}");
        assert_recovers(&plugin);
    }
}

#[test]
fn memory_growth_hits_the_cap() {
    let plugin = hostile_with_deadline("hog", InstanceStrategy::Warm, Duration::from_secs(5));
    let error = plugin.classify_blocking(&user_request("attack")).unwrap_err();
    assert!(matches!(error, CallError::Memory { cap_bytes, .. } if cap_bytes == 64 << 20), "{error}");
    assert_recovers(&plugin);
}

#[test]
fn deep_recursion_exhausts_the_stack() {
    let plugin = hostile("recurse", InstanceStrategy::Warm);
    let error = plugin.classify_blocking(&user_request("attack")).unwrap_err();
    assert!(matches!(error, CallError::Stack { .. }), "{error}");
    assert_recovers(&plugin);
}

/// A new version serves baseline (Winch) code until its optimized code is ready; a hostile
/// guest must be held to every limit on that code too.
#[test]
fn baseline_code_is_held_to_the_same_limits() {
    let engine = PluginEngine::new(EngineSettings { tiered: true, ..EngineSettings::default() }).unwrap();
    type Expect = fn(&CallError) -> bool;
    let cases: [(&str, u64, Expect); 5] = [
        ("spin", 10, |e| matches!(e, CallError::Deadline { .. })),
        ("hog", 5000, |e| matches!(e, CallError::Memory { .. })),
        ("recurse", 1000, |e| matches!(e, CallError::Stack { .. })),
        ("panic", 1000, |e| matches!(e, CallError::Trap { .. })),
        ("huge-output", 5000, |e| matches!(e, CallError::BadOutput { .. })),
    ];
    for (mode, deadline_ms, expected) in cases {
        let mut spec =
            spec("hostile", PluginKind::Classifier, guests::HOSTILE, json!({"mode": mode, "trigger": "attack"}));
        spec.limits.deadline = Duration::from_millis(deadline_ms);
        let plugin = plugin::load_blocking(&engine, spec).expect("hostile guest loads");
        assert_eq!(plugin.tier(), Tier::Baseline, "{mode}: loaded without optimized code in any cache");
        let started = Instant::now();
        let error = plugin.classify_blocking(&user_request("attack")).unwrap_err();
        assert!(expected(&error), "{mode}: {error}");
        if mode == "spin" {
            assert!(started.elapsed() < Duration::from_millis(200), "{mode}: stopped late: {:?}", started.elapsed());
        }
        assert_recovers(&plugin);
    }
}

#[test]
fn a_panic_traps_and_the_instance_is_replaced() {
    let plugin = hostile("panic", InstanceStrategy::Warm);
    let error = plugin.classify_blocking(&user_request("attack")).unwrap_err();
    assert!(matches!(error, CallError::Trap { .. }), "{error}");
    assert!(error.to_string().contains("hostile"));
    assert_recovers(&plugin);
}

#[test]
fn huge_outputs_are_refused() {
    let plugin = hostile_with_deadline("huge-output", InstanceStrategy::Warm, Duration::from_secs(5));
    let error = plugin.classify_blocking(&user_request("attack")).unwrap_err();
    assert!(matches!(error, CallError::BadOutput { .. }), "{error}");
    assert_recovers(&plugin);
}

#[test]
fn a_log_flood_is_rate_limited_not_fatal() {
    let plugin = hostile_with_deadline("log-flood", InstanceStrategy::Warm, Duration::from_millis(100));
    let started = Instant::now();
    // 100 000 log calls, all but a handful dropped host-side: well within the deadline
    // would be ideal, but the guest-side formatting alone may not be; either way the host
    // survives and the call is bounded.
    let result = plugin.classify_blocking(&user_request("attack"));
    assert!(started.elapsed() < Duration::from_millis(500));
    if let Err(error) = &result {
        assert!(matches!(error, CallError::Deadline { .. }), "{error}");
    }
    assert_recovers(&plugin);
}

#[test]
fn wasi_grants_nothing_and_time_and_randomness_are_fixed() {
    let plugin = hostile("wasi-probe", InstanceStrategy::Fresh);
    let read = |signals: &[switchyard::plugin::Signal], name: &str| {
        signals.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no {name}")).value
    };
    let first = plugin.classify_blocking(&user_request("attack")).unwrap();
    let second = plugin.classify_blocking(&user_request("attack")).unwrap();
    assert_eq!(read(&first, "probe.wall_clock_secs"), plugin::FIXED_WALL_CLOCK.as_secs_f64());
    assert_eq!(read(&first, "probe.monotonic_nanos"), 0.0);
    assert_eq!(read(&first, "probe.env_count"), 0.0);
    assert_eq!(read(&first, "probe.file_read"), 0.0);
    assert_eq!(read(&first, "probe.dir_list"), 0.0);
    assert_eq!(read(&first, "probe.tcp"), 0.0);
    assert_eq!(read(&first, "probe.random"), read(&second, "probe.random"), "randomness is deterministic");
}

#[test]
fn a_warm_instance_that_trapped_is_discarded() {
    let mut spec = spec("flaky", PluginKind::Classifier, guests::HOSTILE, json!({"mode": "trap-every-other"}));
    spec.pool_size = 1;
    spec.limits.deadline = Duration::from_secs(1);
    let plugin = plugin::load_blocking(&engine(), spec).unwrap();
    // The self-test used call 0 of the pooled instance; call 1 panics, which discards it; the
    // replacement starts again at call 0, so it answers.
    assert!(matches!(plugin.classify_blocking(&user_request("x")), Err(CallError::Trap { .. })));
    assert!(plugin.classify_blocking(&user_request("x")).is_ok());
}

#[test]
fn a_plugin_that_keeps_failing_is_quarantined() {
    let mut spec =
        spec("panicky", PluginKind::Classifier, guests::HOSTILE, json!({"mode": "panic", "trigger": "attack"}));
    spec.quarantine.after_failures = 3;
    spec.limits.deadline = Duration::from_secs(1);
    spec.quarantine.retry_after = Duration::from_millis(200);
    let plugin = plugin::load_blocking(&engine(), spec).unwrap();
    for _ in 0..3 {
        assert!(matches!(plugin.classify_blocking(&user_request("attack")), Err(CallError::Trap { .. })));
    }
    assert!(plugin.is_quarantined());
    assert!(matches!(plugin.classify_blocking(&user_request("hello")), Err(CallError::Quarantined { .. })));
    std::thread::sleep(Duration::from_millis(250));
    // After the retry interval one probe is let through; it succeeds and lifts the quarantine.
    assert!(plugin.classify_blocking(&user_request("hello")).is_ok());
    assert!(!plugin.is_quarantined());
}

#[test]
fn load_time_failures_are_reported_precisely() {
    let engine = engine();
    // Self-test: a plugin that misbehaves on every request never serves.
    let err = plugin::load_blocking(
        &engine,
        spec("spinner", PluginKind::Classifier, guests::HOSTILE, json!({"mode": "spin"})),
    )
    .unwrap_err();
    assert!(matches!(&err, LoadError::SelfTest { source: CallError::Deadline { .. }, .. }), "{err}");

    // Config refused by init.
    let err =
        plugin::load_blocking(&engine, spec("bad", PluginKind::Classifier, guests::HOSTILE, json!({"mode": "nope"})))
            .unwrap_err();
    assert!(err.to_string().contains("unknown mode"), "{err}");

    // Wrong world: a classifier configured as a policy.
    let err =
        plugin::load_blocking(&engine, spec("wrong", PluginKind::Policy, guests::HOSTILE, json!({}))).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("missing export `route`") && text.contains("looks like a classifier"), "{text}");

    // An import the host does not offer: refused at load, naming it.
    let err = plugin::load_blocking(&engine, spec("foreign", PluginKind::Classifier, guests::FOREIGN, json!({})))
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("exfiltrate") && text.contains("does not offer"), "{text}");

    // Not wasm at all.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"definitely not wasm").unwrap();
    let err =
        plugin::load_blocking(&engine, spec("junk", PluginKind::Gate, junk.to_str().unwrap(), json!({}))).unwrap_err();
    assert!(matches!(err, LoadError::Compile { .. }), "{err}");
    assert!(err.to_string().contains("junk.wasm"));

    // Truncated component.
    let bytes = std::fs::read(guests::HOSTILE).unwrap();
    let cut = dir.path().join("cut.wasm");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = plugin::load_blocking(&engine, spec("cut", PluginKind::Classifier, cut.to_str().unwrap(), json!({})))
        .unwrap_err();
    assert!(matches!(err, LoadError::Compile { .. }), "{err}");

    // Missing file.
    let err =
        plugin::load_blocking(&engine, spec("gone", PluginKind::Gate, "/nonexistent/x.wasm", json!({}))).unwrap_err();
    assert!(matches!(err, LoadError::Read { .. }) && err.to_string().contains("/nonexistent/x.wasm"), "{err}");
}

#[test]
fn the_disk_cache_skips_compilation() {
    let dir = tempfile::tempdir().unwrap();
    let settings = || plugin::EngineSettings { cache_dir: Some(dir.path().to_path_buf()), ..Default::default() };
    let load =
        |engine| plugin::load_blocking(&engine, spec("c", PluginKind::Classifier, guests::HOSTILE, json!({}))).unwrap();
    let cold = load(plugin::PluginEngine::new(settings()).unwrap());
    assert_eq!(cold.load_report().cache, plugin::CacheOutcome::Compiled);
    // A new engine (a restarted process) finds the artifact on disk.
    let warm = load(plugin::PluginEngine::new(settings()).unwrap());
    assert_eq!(warm.load_report().cache, plugin::CacheOutcome::Disk);
    assert!(warm.load_report().compile < cold.load_report().compile);
    assert!(warm.classify_blocking(&user_request("hi")).is_ok());
    // The same engine again: memory.
    let engine = plugin::PluginEngine::new(settings()).unwrap();
    let _ = load(engine.clone());
    assert_eq!(load(engine).load_report().cache, plugin::CacheOutcome::Memory);
}

#[test]
fn a_tier_up_swaps_in_optimized_code_and_caches_it_for_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let settings = || EngineSettings { cache_dir: Some(dir.path().to_path_buf()), tiered: true, ..Default::default() };
    let load = |engine| plugin::load_blocking(&engine, spec("c", PluginKind::Classifier, guests::HOSTILE, json!({})));
    let first = std::sync::Arc::new(load(PluginEngine::new(settings()).unwrap()).unwrap());
    assert_eq!(first.tier(), Tier::Baseline);
    assert_eq!(first.tier_up_status(), plugin::TierUp::Pending);
    let before = first.classify_blocking(&user_request("hi")).unwrap();
    first.start_tier_up();
    let status = first.wait_for_tier_up(Duration::from_secs(120));
    assert!(matches!(status, plugin::TierUp::Done { .. }), "{status:?}");
    assert_eq!(first.tier(), Tier::Optimized);
    assert_eq!(first.classify_blocking(&user_request("hi")).unwrap(), before, "both tiers answer alike");
    // A restarted process finds the optimized artifact on disk and skips the baseline.
    let restarted = load(PluginEngine::new(settings()).unwrap()).unwrap();
    assert_eq!(restarted.tier(), Tier::Optimized);
    assert_eq!(restarted.load_report().cache, plugin::CacheOutcome::Disk);
    assert_eq!(restarted.tier_up_status(), plugin::TierUp::NotNeeded);
}

/// A new version whose heavy core module is unchanged (here: the same guest with a custom
/// section appended, a new content hash) reuses that module's baseline code instead of
/// compiling it again, and answers exactly as before.
#[test]
fn a_new_version_reuses_the_compiled_core_modules_it_shares_with_an_earlier_one() {
    let engine = PluginEngine::new(EngineSettings { tiered: true, ..EngineSettings::default() }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let load = |bytes: &[u8], name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let spec = spec("hostile", PluginKind::Classifier, path.to_str().unwrap(), json!({}));
        plugin::load_blocking(&engine, spec).expect("loads")
    };
    let original = std::fs::read(guests::HOSTILE).unwrap();
    let first = load(&original, "v1.wasm");
    let report = first.load_report();
    assert_eq!((report.tier, report.shared_modules.compiled, report.shared_modules.reused), (Tier::Baseline, 1, 0));
    let second = load(&switchyard_tests::reload::with_custom_section(&original, b"v2"), "v2.wasm");
    assert_ne!(second.hash(), first.hash());
    let report = second.load_report();
    assert_eq!((report.tier, report.shared_modules.compiled, report.shared_modules.reused), (Tier::Baseline, 0, 1));
    let request = user_request("hello");
    assert_eq!(second.classify_blocking(&request).unwrap(), first.classify_blocking(&request).unwrap());
}

/// A version whose baseline code misses its self-test deadline is compiled to optimized code
/// and tested again before it may serve; if that misses too, the load fails as before.
#[test]
fn a_baseline_that_misses_the_self_test_deadline_is_retried_on_optimized_code() {
    let engine = PluginEngine::new(EngineSettings { tiered: true, ..EngineSettings::default() }).unwrap();
    let load = |mode: &str| {
        let mut spec = spec("hostile", PluginKind::Classifier, guests::HOSTILE, json!({"mode": mode}));
        spec.limits.deadline = Duration::from_millis(10);
        plugin::load_blocking(&engine, spec)
    };
    // Spinning on every call: baseline and optimized code both miss the deadline.
    let error = load("spin").unwrap_err();
    assert!(matches!(error, LoadError::SelfTest { source: CallError::Deadline { .. }, .. }), "{error}");
    // The retry compiled optimized code for these bytes: the next load starts on it.
    let next = load("ok").unwrap();
    assert_eq!((next.tier(), next.load_report().cache), (Tier::Optimized, plugin::CacheOutcome::Memory));
}
