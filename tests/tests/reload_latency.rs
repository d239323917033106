//! Hot-reload latency: the time from replacing a policy file (temporary file + rename) to the
//! first request answered by the new version, polling the proxy every ~2 ms.
//!
//! Six cases: a Rust, a Python and a JavaScript policy, each *cold* (bytes never seen: every
//! write appends a unique WebAssembly custom section, so no compiled-code cache can hit and
//! the version goes live on baseline code, see `host/src/plugin/tier.rs`) and *cache hit*
//! (alternating between versions whose optimized code was built before). Versions are told
//! apart by `x-switchyard-reason`: Rust alternates `bad-policy` (echo: the reason lists the
//! signals, `hostile.ok`) and `cascade` ("cheapest-first …"); Python and JS write the
//! `tiered` policy of `plugins/python` / `plugins/js` and, untimed, `cascade` in between.
//!
//! After every timed swap the benchmark waits (untimed) for the version's optimized code to
//! take over, as it would between real deploys, so one swap's background compile does not
//! eat the next one's CPU; the time to optimized code is reported as its own row.
//!
//! Ignored by default (Python and JS components take seconds to compile). Run with
//! `bash bench/reload.sh`. Environment: `RELOAD_BENCH_ITERS` (Rust, default 10),
//! `RELOAD_BENCH_POLYGLOT_COLD` (Python and JS each, default 5), `RELOAD_BENCH_POLYGLOT_HIT`
//! (default 5), `RELOAD_BENCH_SETTLE_MS` (watcher settle delay, default: the proxy's
//! default), `RELOAD_BENCH_SKIP_JS` (set to skip the JS cases).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard::cli::plugin_build::{self, BuildOptions};
use switchyard::plugin::TierUp;
use switchyard::reload::watch::DEFAULT_SETTLE;
use switchyard_tests::guests;
use switchyard_tests::proxy::{Proxy, chat, simulator};
use switchyard_tests::reload::{replace_atomically, watched_config, with_custom_section};

/// The allocator the `switchyard` binary ships with, so the proxy in this process compiles and
/// serves as it does in production (compile times depend on how memory is reused).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// `plugins/{lang}/tiered`, built (or found up to date) in `target/polyglot/build/`.
fn tiered(lang: &str) -> Vec<u8> {
    let work = target_dir().join("polyglot");
    let options = BuildOptions {
        out: Some(work.join("build").join(format!("{lang}-tiered.wasm"))),
        js_modules: Some(repo().join("plugins/js/node_modules")),
        cargo_target_dir: Some(work.join("cargo")),
        force: false,
    };
    let built = plugin_build::build(&repo().join(format!("plugins/{lang}/tiered")), &options)
        .unwrap_or_else(|e| panic!("building plugins/{lang}/tiered (run scripts/install-polyglot-toolchains.sh): {e}"));
    std::fs::read(built.path).unwrap()
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

/// Where the last reload's time went: the whole reload (config, reads, hashes, load, publish)
/// and the policy's load phases.
fn breakdown(proxy: &Proxy) -> String {
    let reload_ms = proxy.app.reload_status().last.as_ref().map_or(f64::NAN, |last| last.duration_ms);
    let policy = proxy.app.snapshot().plugins["policy"].clone();
    let r = policy.load_report();
    format!(
        "reload {reload_ms:.1} ms: read+hash {:.1} · compile {:.1} ({:?}, {:?}) · link {:.1} · self-test {:.1}",
        ms(r.read),
        ms(r.compile),
        r.cache,
        r.tier,
        ms(r.link),
        ms(r.self_test)
    )
}

/// Waits until the serving policy runs optimized code and returns how long that took after
/// it went live (zero when it went live on optimized code).
async fn optimized(proxy: &Proxy) -> Duration {
    let policy = proxy.app.snapshot().plugins["policy"].clone();
    let status = tokio::task::spawn_blocking(move || policy.wait_for_tier_up(Duration::from_secs(300))).await.unwrap();
    match status {
        TierUp::NotNeeded => Duration::ZERO,
        TierUp::Done { after_ms, .. } => Duration::from_secs_f64(after_ms / 1000.0),
        other => panic!("the policy did not reach optimized code: {other:?}"),
    }
}

/// Times `cold` fresh versions of `bytes` (and their tier-up) and then `hit` swaps to one
/// version compiled before, switching back to `back` (untimed) between swaps.
async fn polyglot_rows(
    proxy: &Proxy,
    policy: &Path,
    lang: &str,
    bytes: &[u8],
    (cold, hit): (u64, u64),
    back: &[u8],
    next: &mut impl FnMut() -> u64,
) -> Vec<String> {
    let mut live = Vec::new();
    let mut tier_up = Vec::new();
    for i in 0..cold {
        live.push(swap(proxy, policy, &unique(bytes, next()), POLYGLOT).await);
        if i == 0 {
            println!("{lang} cold: {}", breakdown(proxy));
        }
        tier_up.push(optimized(proxy).await);
        swap(proxy, policy, back, RUST_B).await;
    }
    let p = with_custom_section(bytes, format!("hit {lang}").as_bytes());
    swap(proxy, policy, &p, POLYGLOT).await;
    optimized(proxy).await;
    swap(proxy, policy, back, RUST_B).await;
    let mut hits = Vec::new();
    for i in 0..hit {
        hits.push(swap(proxy, policy, &p, POLYGLOT).await);
        if i == 0 {
            println!("{lang} cache hit: {}", breakdown(proxy));
        }
        swap(proxy, policy, back, RUST_B).await;
    }
    vec![
        summary(&format!("{lang} policy, cold (live on baseline code)"), 1000.0, &mut live),
        summary(&format!("{lang} policy, cold: then optimized code after"), f64::INFINITY, &mut tier_up),
        summary(&format!("{lang} policy, cache hit"), 50.0, &mut hits),
    ]
}

const RUST_A: &str = "hostile.ok";
const POLYGLOT: &str = "tiered:";
const RUST_B: &str = "cheapest-first";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(case: &str, target_ms: f64, samples: &mut [Duration]) -> String {
    samples.sort();
    let at = |q: f64| ms(samples[((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1]);
    let (p50, p99, max) = (at(0.5), at(0.99), ms(*samples.last().unwrap()));
    let target = if target_ms.is_finite() {
        let verdict = if p99 <= target_ms { "met" } else { "missed" };
        format!("≤ {target_ms:.0} ms: {verdict} (p99)")
    } else {
        "(background)".to_string()
    };
    format!("| {case} | {} | {p50:.0} | {p99:.0} | {max:.0} | {target} |", samples.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: compiles Python components; run bench/reload.sh"]
async fn reload_latency() {
    let iters = env_or("RELOAD_BENCH_ITERS", 10);
    let polyglot = (env_or("RELOAD_BENCH_POLYGLOT_COLD", 5), env_or("RELOAD_BENCH_POLYGLOT_HIT", 5));
    let settle = Duration::from_millis(env_or("RELOAD_BENCH_SETTLE_MS", DEFAULT_SETTLE.as_millis() as u64));
    let skip_js = std::env::var_os("RELOAD_BENCH_SKIP_JS").is_some();

    let python = tokio::task::spawn_blocking(|| tiered("python")).await.unwrap();
    let js = if skip_js { None } else { Some(tokio::task::spawn_blocking(|| tiered("js")).await.unwrap()) };
    let echo = std::fs::read(guests::BAD_POLICY).unwrap();
    let cascade = std::fs::read(guests::CASCADE).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.wasm");
    std::fs::write(&policy, &cascade).unwrap();
    std::fs::copy(guests::HOSTILE, dir.path().join("classifier.wasm")).unwrap();
    std::fs::write(dir.path().join("switchyard.toml"), watched_config(simulator().await, r#"{ mode = "ok" }"#, ""))
        .unwrap();
    let proxy = Proxy::start_watching(&dir.path().join("switchyard.toml"), settle).await;
    optimized(&proxy).await;

    let mut rows = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };

    // Rust, cold: echo and cascade in turn, each write with bytes never seen.
    let mut live = Vec::new();
    let mut tier_up = Vec::new();
    for i in 0..iters {
        let (base, expect) = if i % 2 == 0 { (&echo, RUST_A) } else { (&cascade, RUST_B) };
        live.push(swap(&proxy, &policy, &unique(base, next()), expect).await);
        tier_up.push(optimized(&proxy).await);
    }
    rows.push(summary("Rust policy, cold (live on baseline code)", 200.0, &mut live));
    rows.push(summary("Rust policy, cold: then optimized code after", f64::INFINITY, &mut tier_up));

    // Rust, cache hit: two versions, each loaded (and optimized) once, then alternated.
    let (a, b) = (with_custom_section(&echo, b"hit a"), with_custom_section(&cascade, b"hit b"));
    swap(&proxy, &policy, &a, RUST_A).await;
    optimized(&proxy).await;
    swap(&proxy, &policy, &b, RUST_B).await;
    optimized(&proxy).await;
    let mut samples = Vec::new();
    for i in 0..iters {
        let (bytes, expect) = if i % 2 == 0 { (&a, RUST_A) } else { (&b, RUST_B) };
        samples.push(swap(&proxy, &policy, bytes, expect).await);
    }
    rows.push(summary("Rust policy, cache hit", 50.0, &mut samples));

    rows.extend(polyglot_rows(&proxy, &policy, "Python", &python, polyglot, &b, &mut next).await);
    if let Some(js) = &js {
        rows.extend(polyglot_rows(&proxy, &policy, "JS", js, polyglot, &b, &mut next).await);
    }

    let build = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!("\nhot reload latency ({build} build, settle {} ms, poll {} ms)", settle.as_millis(), POLL.as_millis());
    println!("| case | n | p50 ms | p99 ms | max ms | target |\n|---|---:|---:|---:|---:|---|");
    for row in rows {
        println!("{row}");
    }
}
