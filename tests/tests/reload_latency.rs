//! Hot-reload latency: the time from replacing a policy file (temporary file + rename) to the
//! first request answered by the new version, polling the proxy every ~2 ms.
//!
//! Four cases: a Rust and a Python policy, each *cold* (bytes never seen: every write appends
//! a unique WebAssembly custom section, so the compiled-artifact cache misses) and *cache hit*
//! (alternating between two versions each loaded once before). Versions are told apart by
//! `x-switchyard-reason`: Rust alternates `bad-policy` (echo: the reason lists the
//! signals, `hostile.ok`) and `cascade` ("cheapest-first …"); Python writes
//! `plugins/python/tiered` and, untimed, `cascade` in between (there is one Python policy).
//!
//! The in-memory compiled cache keeps only the serving snapshot's components
//! (`PluginEngine::retain_compiled` after each reload), so a "cache hit" here is served from
//! the on-disk artifact cache (`.switchyard-cache` next to the config): deserialize, no
//! compile.
//!
//! Ignored by default (a Python component takes seconds to compile). Run with
//! `bash bench/reload.sh`. Environment: `RELOAD_BENCH_ITERS` (Rust, default 10),
//! `RELOAD_BENCH_PY_COLD` (default 3), `RELOAD_BENCH_PY_HIT` (default 5),
//! `RELOAD_BENCH_SETTLE_MS` (watcher settle delay, default 20).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard::cli::plugin_build::{self, BuildOptions};
use switchyard_tests::guests;
use switchyard_tests::proxy::{Proxy, chat, simulator};
use switchyard_tests::reload::{replace_atomically, watched_config};

const POLL: Duration = Duration::from_millis(2);

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("target"))
}

/// `plugins/python/tiered`, built (or found up to date) in `target/polyglot/build/`.
fn python_tiered() -> Vec<u8> {
    let work = target_dir().join("polyglot");
    let options = BuildOptions {
        out: Some(work.join("build").join("python-tiered.wasm")),
        js_modules: None,
        cargo_target_dir: Some(work.join("cargo")),
        force: false,
    };
    let built = plugin_build::build(&repo().join("plugins/python/tiered"), &options)
        .unwrap_or_else(|e| panic!("building plugins/python/tiered (componentize-py installed?): {e}"));
    std::fs::read(built.path).unwrap()
}

fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// `component` with a custom section (id 0, size, name, payload) appended: same behaviour,
/// different content hash.
fn with_custom_section(component: &[u8], payload: &[u8]) -> Vec<u8> {
    let name = b"switchyard-reload-bench";
    let mut body = Vec::new();
    leb128(name.len(), &mut body);
    body.extend_from_slice(name);
    body.extend_from_slice(payload);
    let mut out = component.to_vec();
    out.push(0);
    leb128(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

fn unique(component: &[u8], n: u64) -> Vec<u8> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    with_custom_section(component, format!("cold {n} {nanos}").as_bytes())
}

/// Replaces the policy and returns the time until a request is answered with a reason
/// containing `expect`.
async fn swap(proxy: &Proxy, policy: &Path, bytes: &[u8], expect: &str) -> Duration {
    let started = Instant::now();
    replace_atomically(policy, bytes);
    let deadline = started + Duration::from_secs(120);
    loop {
        let reply =
            chat(proxy, json!({"model": "auto", "messages": [{"role": "user", "content": "hello there"}]})).await;
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        if reply.header("x-switchyard-reason").contains(expect) {
            return started.elapsed();
        }
        assert!(Instant::now() < deadline, "no answer from the new version ({expect}) within 120 s");
        tokio::time::sleep(POLL).await;
    }
}

const RUST_A: &str = "hostile.ok";
const PYTHON: &str = "tiered:";
const RUST_B: &str = "cheapest-first";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(case: &str, target_ms: f64, samples: &mut [Duration]) -> String {
    samples.sort();
    let at = |q: f64| ms(samples[((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1]);
    let (p50, p99, max) = (at(0.5), at(0.99), ms(*samples.last().unwrap()));
    let verdict = if p99 <= target_ms { "met" } else { "missed" };
    format!("| {case} | {} | {p50:.0} | {p99:.0} | {max:.0} | ≤ {target_ms:.0} ms: {verdict} (p99) |", samples.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: compiles Python components; run bench/reload.sh"]
async fn reload_latency() {
    let iters = env_or("RELOAD_BENCH_ITERS", 10);
    let py_cold = env_or("RELOAD_BENCH_PY_COLD", 3);
    let py_hit = env_or("RELOAD_BENCH_PY_HIT", 5);
    let settle = Duration::from_millis(env_or("RELOAD_BENCH_SETTLE_MS", 20));

    let python = tokio::task::spawn_blocking(python_tiered).await.unwrap();
    let echo = std::fs::read(guests::BAD_POLICY).unwrap();
    let cascade = std::fs::read(guests::CASCADE).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.wasm");
    std::fs::write(&policy, &cascade).unwrap();
    std::fs::copy(guests::HOSTILE, dir.path().join("classifier.wasm")).unwrap();
    std::fs::write(dir.path().join("switchyard.toml"), watched_config(simulator().await, r#"{ mode = "ok" }"#, ""))
        .unwrap();
    let proxy = Proxy::start_watching(&dir.path().join("switchyard.toml"), settle).await;

    let mut rows = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };

    // Rust, cold: echo and cascade in turn, each write with bytes never seen.
    let mut samples = Vec::new();
    for i in 0..iters {
        let (base, expect) = if i % 2 == 0 { (&echo, RUST_A) } else { (&cascade, RUST_B) };
        samples.push(swap(&proxy, &policy, &unique(base, next()), expect).await);
    }
    rows.push(summary("Rust policy, cold", 200.0, &mut samples));

    // Rust, cache hit: two versions, each loaded once, then alternated.
    let (a, b) = (with_custom_section(&echo, b"hit a"), with_custom_section(&cascade, b"hit b"));
    swap(&proxy, &policy, &a, RUST_A).await;
    swap(&proxy, &policy, &b, RUST_B).await;
    let mut samples = Vec::new();
    for i in 0..iters {
        let (bytes, expect) = if i % 2 == 0 { (&a, RUST_A) } else { (&b, RUST_B) };
        samples.push(swap(&proxy, &policy, bytes, expect).await);
    }
    rows.push(summary("Rust policy, cache hit", 50.0, &mut samples));

    // Python, cold: a never-seen Python version timed, then cascade (untimed) to switch back.
    let mut samples = Vec::new();
    for _ in 0..py_cold {
        samples.push(swap(&proxy, &policy, &unique(&python, next()), PYTHON).await);
        swap(&proxy, &policy, &b, RUST_B).await;
    }
    rows.push(summary("Python policy, cold", 1000.0, &mut samples));

    // Python, cache hit: one Python version loaded once, alternated with cascade.
    let p = with_custom_section(&python, b"hit p");
    swap(&proxy, &policy, &p, PYTHON).await;
    swap(&proxy, &policy, &b, RUST_B).await;
    let mut samples = Vec::new();
    for _ in 0..py_hit {
        samples.push(swap(&proxy, &policy, &p, PYTHON).await);
        swap(&proxy, &policy, &b, RUST_B).await;
    }
    rows.push(summary("Python policy, cache hit", 50.0, &mut samples));

    let build = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!("\nhot reload latency ({build} build, settle {} ms, poll {} ms)", settle.as_millis(), POLL.as_millis());
    println!("| case | n | p50 ms | p99 ms | max ms | target |\n|---|---:|---:|---:|---:|---|");
    for row in rows {
        println!("{row}");
    }
}
