//! Hot-reload latency: the time from replacing a policy file (temporary file + rename) to the
//! first request answered by the new version, polling the proxy every ~2 ms.
//!
//! For each language (Rust, Python, JavaScript) the `tiered` policy is rebuilt from its source
//! into distinct versions, each with its reason text changed (`… (variant N)`): new code (Rust)
//! or new application state (Python, JS), as a developer's next deploy would be. Rows:
//!
//! - *first version*: the first version of the language this process sees. For Python and JS
//!   it also compiles the language runtime's shared core modules (`host/src/plugin/split.rs`).
//! - *new version*: later versions, never seen before: no compiled-code cache holds them, so
//!   they go live on baseline code (`host/src/plugin/tier.rs`); the time until their
//!   optimized code takes over (in the background) is its own row.
//! - *cache hit*: switching back to a version whose optimized code was built before.
//!
//! Between timed swaps the policy is switched back (untimed) to `cascade` ("cheapest-first"),
//! and after every new version the benchmark waits (untimed) for its optimized code, as
//! would happen between real deploys, so one swap's background compile does not take the
//! next one's CPU.
//!
//! Ignored by default (it builds and compiles Python and JS components). Run with
//! `bash bench/reload.sh --release`. Environment: `RELOAD_BENCH_NEW` (new versions per
//! language, default 5), `RELOAD_BENCH_HIT` (cache hits per language, default 10),
//! `RELOAD_BENCH_SETTLE_MS` (watcher settle delay, default: the proxy's default),
//! `RELOAD_BENCH_LANGS` (default `rust,python,js`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard::cli::plugin_build::{self, BuildOptions};
use switchyard::plugin::TierUp;
use switchyard::reload::watch::DEFAULT_SETTLE;
use switchyard_tests::guests;
use switchyard_tests::proxy::{Proxy, Reply, chat, simulator};
use switchyard_tests::reload::{replace_atomically, watched_config};

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

/// The source directory of the `tiered` policy in `lang`.
fn tiered_source(lang: &str) -> PathBuf {
    match lang {
        "rust" => repo().join("plugins/tiered"),
        other => repo().join(format!("plugins/{other}/tiered")),
    }
}

/// Version `variant` of the `tiered` policy in `lang`: its source copied to a work directory
/// with the reason text changed, built with `switchyard plugin build` (outputs are kept, with
/// build stamps, in `target/reload-bench/`).
fn tiered_variant(lang: &str, variant: u64) -> Vec<u8> {
    let work = target_dir().join("reload-bench");
    let project = work.join(format!("{lang}-src"));
    std::fs::create_dir_all(&project).unwrap();
    let source = tiered_source(lang);
    let marker = |text: String, from: &str, to: &str| {
        assert!(text.contains(from), "{lang}: `{from}` not found in the tiered source");
        text.replace(from, to)
    };
    let manifest = std::fs::read_to_string(source.join("switchyard-plugin.toml")).unwrap();
    let manifest: String = manifest
        .lines()
        .filter(|line| !line.starts_with("fixtures"))
        .map(|line| {
            if line.starts_with("wit") {
                format!("wit = \"{}\"", repo().join("wit").display())
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(project.join("switchyard-plugin.toml"), manifest).unwrap();
    let suffix = format!(" (variant {variant})");
    match lang {
        "rust" => {
            std::fs::create_dir_all(project.join("src")).unwrap();
            let lib = std::fs::read_to_string(source.join("src/lib.rs")).unwrap();
            std::fs::write(
                project.join("src/lib.rs"),
                marker(lib, "models{note}\"", &format!("models{{note}}{suffix}\"")),
            )
            .unwrap();
            std::fs::copy(source.join("src/tests.rs"), project.join("src/tests.rs")).unwrap();
            std::fs::copy(repo().join("plugins/Cargo.lock"), project.join("Cargo.lock")).unwrap();
            let sdk = repo().join("plugins/sdk");
            std::fs::write(
                project.join("Cargo.toml"),
                format!(
                    "[package]\nname = \"tiered\"\nedition = \"2024\"\nversion = \"0.1.0\"\npublish = false\n\
                     [lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n\
                     [dependencies]\nswitchyard-plugin-sdk = {{ path = \"{}\" }}\nserde = {{ version = \"1\", features = [\"derive\"] }}\n\
                     [profile.release]\nopt-level = \"s\"\nstrip = true\ncodegen-units = 16\ndebug = false\n[workspace]\n",
                    sdk.display()
                ),
            )
            .unwrap();
        }
        "python" => {
            let app = std::fs::read_to_string(source.join("app.py")).unwrap();
            std::fs::write(project.join("app.py"), marker(app, "models{note}\"", &format!("models{{note}}{suffix}\"")))
                .unwrap();
        }
        "js" => {
            let js = std::fs::read_to_string(source.join("plugin.js")).unwrap();
            std::fs::write(
                project.join("plugin.js"),
                marker(js, "models${note}`", &format!("models${{note}}{suffix}`")),
            )
            .unwrap();
        }
        other => panic!("unknown language {other}"),
    }
    let options = BuildOptions {
        out: Some(work.join(format!("{lang}-tiered-{variant}.wasm"))),
        js_modules: Some(repo().join("plugins/js/node_modules")),
        // Its own target directory: the variants are a package named `tiered` too, and a
        // shared one would overwrite the first-party plugin's uplifted `tiered.wasm`.
        cargo_target_dir: Some(work.join("cargo")),
        force: false,
    };
    let built = plugin_build::build(&project, &options).unwrap_or_else(|e| {
        panic!("building a {lang} variant of tiered (run scripts/install-polyglot-toolchains.sh): {e}")
    });
    std::fs::read(built.path).unwrap()
}

/// Latencies of the requests the benchmark sent while waiting for new versions: serving must
/// not stall while a version compiles.
static SERVED_WHILE_RELOADING: std::sync::Mutex<Vec<Duration>> = std::sync::Mutex::new(Vec::new());

/// p50 / p99 / max of the requests served since the last call.
fn served_while_reloading() -> String {
    let mut served = std::mem::take(&mut *SERVED_WHILE_RELOADING.lock().unwrap());
    served.sort();
    let at = |q: f64| ms(served[((q * served.len() as f64).ceil() as usize).clamp(1, served.len()) - 1]);
    format!(
        "{} requests served meanwhile: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        served.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// One request, timed into [`SERVED_WHILE_RELOADING`]; it must succeed.
async fn ask(proxy: &Proxy) -> Reply {
    let sent = Instant::now();
    let reply = chat(proxy, json!({"model": "auto", "messages": [{"role": "user", "content": "hello there"}]})).await;
    SERVED_WHILE_RELOADING.lock().unwrap().push(sent.elapsed());
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    reply
}

/// Replaces the policy and returns the time until a request is answered with a reason
/// containing `expect`.
async fn swap(proxy: &Proxy, policy: &Path, bytes: &[u8], expect: &str) -> Duration {
    let started = Instant::now();
    // On a blocking thread: the proxy shares this runtime's two workers, and writing an 18 MB
    // file on one of them would stall half the proxy for the length of the write.
    let (path, bytes) = (policy.to_path_buf(), bytes.to_vec());
    tokio::task::spawn_blocking(move || replace_atomically(&path, &bytes)).await.unwrap();
    let deadline = started + Duration::from_secs(120);
    loop {
        let reply = ask(proxy).await;
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
    let deadline = Instant::now() + Duration::from_secs(300);
    // Keep serving requests (and timing them) while the optimized code is compiled.
    while policy.tier_up_status() == TierUp::Pending {
        assert!(Instant::now() < deadline, "no optimized code within 300 s");
        ask(proxy).await;
        tokio::time::sleep(POLL).await;
    }
    match policy.tier_up_status() {
        TierUp::NotNeeded => Duration::ZERO,
        TierUp::Done { after_ms, .. } => Duration::from_secs_f64(after_ms / 1000.0),
        other => panic!("the policy did not reach optimized code: {other:?}"),
    }
}

/// The rows of one language: its first version, `versions.len() - 2` new versions, and
/// `hits` swaps to a version compiled before (the last one), switching back to `back`
/// (untimed) between swaps.
async fn language_rows(
    proxy: &Proxy,
    policy: &Path,
    lang: &str,
    versions: &[Vec<u8>],
    hits: u64,
    back: &[u8],
) -> Vec<String> {
    let (first, rest) = versions.split_first().unwrap();
    let (hit, new) = rest.split_last().unwrap();
    served_while_reloading();
    let mut first_live = vec![swap(proxy, policy, first, TIERED).await];
    println!("{lang} first version: {}; {}", breakdown(proxy), served_while_reloading());
    let mut first_optimized = vec![optimized(proxy).await];
    println!("{lang} first version, tier-up: {}", served_while_reloading());
    swap(proxy, policy, back, CASCADE).await;

    served_while_reloading();
    let mut live = Vec::new();
    let mut tier_up = Vec::new();
    for (i, version) in new.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        live.push(swap(proxy, policy, version, TIERED).await);
        if i == 0 {
            println!("{lang} new version: {}", breakdown(proxy));
        }
        tier_up.push(optimized(proxy).await);
        swap(proxy, policy, back, CASCADE).await;
    }

    println!("{lang} new versions: {}", served_while_reloading());
    swap(proxy, policy, hit, TIERED).await;
    optimized(proxy).await;
    swap(proxy, policy, back, CASCADE).await;
    let mut hit_times = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    for _ in 0..hits {
        // Deploys are not milliseconds apart: let the previous swap's version be freed first.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let took = swap(proxy, policy, hit, TIERED).await;
        if took >= slowest.0 {
            slowest = (took, breakdown(proxy));
        }
        hit_times.push(took);
        swap(proxy, policy, back, CASCADE).await;
    }
    println!("{lang} cache hit, slowest ({:.0} ms): {}", ms(slowest.0), slowest.1);
    let target = if lang == "rust" { 200.0 } else { 1000.0 };
    vec![
        summary(&format!("{lang}: first version (live)"), f64::INFINITY, &mut first_live),
        summary(&format!("{lang}: first version, optimized code after"), f64::INFINITY, &mut first_optimized),
        summary(&format!("{lang}: new version (live on baseline code)"), target, &mut live),
        summary(&format!("{lang}: new version, optimized code after"), f64::INFINITY, &mut tier_up),
        summary(&format!("{lang}: cache hit"), 50.0, &mut hit_times),
    ]
}

/// What the `tiered` policy's reason starts with, in every language.
const TIERED: &str = "tiered:";
/// What the `cascade` policy's reason starts with.
const CASCADE: &str = "cheapest-first";

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
#[ignore = "benchmark: builds and compiles Python and JS components; run bench/reload.sh"]
async fn reload_latency() {
    let new = env_or("RELOAD_BENCH_NEW", 5);
    let hits = env_or("RELOAD_BENCH_HIT", 10);
    let settle = Duration::from_millis(env_or("RELOAD_BENCH_SETTLE_MS", DEFAULT_SETTLE.as_millis() as u64));
    let langs = std::env::var("RELOAD_BENCH_LANGS").unwrap_or_else(|_| "rust,python,js".to_string());

    // Build every version first (untimed): a first, `new` new ones and one for the hits.
    let mut versions = Vec::new();
    for lang in langs.split(',').map(str::trim).filter(|l| !l.is_empty()) {
        let lang = lang.to_string();
        let built = tokio::task::spawn_blocking({
            let lang = lang.clone();
            move || (0..new + 2).map(|v| tiered_variant(&lang, v)).collect::<Vec<_>>()
        })
        .await
        .unwrap();
        let distinct: std::collections::HashSet<&Vec<u8>> = built.iter().collect();
        assert_eq!(distinct.len(), built.len(), "{lang}: every variant is a distinct component");
        versions.push((lang, built));
    }
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
    for (lang, built) in &versions {
        rows.extend(language_rows(&proxy, &policy, lang, built, hits, &cascade).await);
    }

    let build = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!("\nhot reload latency ({build} build, settle {} ms, poll {} ms)", settle.as_millis(), POLL.as_millis());
    println!("| case | n | p50 ms | p99 ms | max ms | target |\n|---|---:|---:|---:|---:|---|");
    for row in rows {
        println!("{row}");
    }
}
