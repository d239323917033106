//! Soak: the full pipeline (complexity classifier, a policy, the sanity gate) on loopback under
//! continuous load, while the policy file is swapped between two plugins and two upstreams
//! misbehave: `a_flaky` (the simulator's `flaky-3`, a 503 on every third call) and `b_flap`
//! (a provider behind [`Flapper`], which goes down and comes back, cutting its connections).
//! Both policies end every plan with `z_large`, which never fails, so every request must get
//! a 200; anything else is a lost request.
//!
//! Asserted: zero lost requests, one decision record per request, no failed reload, RSS
//! growth after warm-up under a bound, and no file-descriptor growth beyond the pools.
//!
//! `SOAK_SECS` (default 20) sets the duration; `bench/soak.sh` runs it for minutes and prints
//! the figures kept in BENCHMARKS.md. `SOAK_RSS_GROWTH_MIB` (default 64) bounds RSS growth.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use switchyard_tests::flap::Flapper;
use switchyard_tests::guests;
use switchyard_tests::procstat::{open_fds, rss_kib};
use switchyard_tests::proxy::{Proxy, simulator};
use switchyard_tests::reload::replace_atomically;

const CLIENTS: usize = 4;
const SWAP_EVERY: Duration = Duration::from_millis(500);
const FLAP_UP: Duration = Duration::from_millis(1500);
const FLAP_DOWN: Duration = Duration::from_millis(1000);
/// File descriptors the pools may legitimately hold open at the end beyond the warm-up count
/// (proxy → upstream keep-alive connections and the flapper's two sides of each).
const FD_SLACK: usize = 24;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn config(sim: std::net::SocketAddr, flap: std::net::SocketAddr) -> String {
    format!(
        r#"
[telemetry]
decision_log = "off"
[health]
failure_threshold = 3
open_ms = 500
[providers.sim]
base_url = "http://{sim}/v1"
max_retries = 0
timeout_ms = 5000
[providers.flap]
base_url = "http://{flap}/v1"
max_retries = 0
timeout_ms = 5000
connect_timeout_ms = 500
[models.a_flaky]
provider = "sim"
upstream = "flaky-3"
input_price = 0.05
output_price = 0.05
[models.b_flap]
provider = "flap"
upstream = "sim-small"
input_price = 0.1
output_price = 0.1
[models.z_large]
provider = "sim"
upstream = "sim-large"
tier = 1
input_price = 1.0
output_price = 1.0
[plugins.complexity]
kind = "classifier"
path = "{complexity}"
[plugins.policy]
kind = "policy"
path = "policy.wasm"
deadline_ms = 2000
[plugins.sanity]
kind = "gate"
path = "{sanity}"
[routes.auto]
classifiers = ["complexity"]
policy = "policy"
gates = ["sanity"]
default_plan = ["z_large"]
"#,
        complexity = guests::COMPLEXITY,
        sanity = guests::SANITY,
    )
}

const PROMPTS: &[&str] = &[
    "What is the capital of France?",
    "Prove step by step that there are infinitely many primes, then write a Rust function `fn nth_prime(n: usize) -> u64` and explain its complexity.",
    "hi",
    "Summarise the plot of Hamlet in two sentences.",
];

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    ok: AtomicU64,
    /// Non-200 answers in OpenAI's error shape: none is expected (a fallback always exists).
    errors: AtomicU64,
    /// No answer, or an answer that is neither a valid completion nor an OpenAI error.
    lost: AtomicU64,
    fallbacks: AtomicU64,
    streamed: AtomicU64,
    by_cascade: AtomicU64,
    by_echo: AtomicU64,
}

/// One request, checked: a 200 with content and the headers naming who answered.
async fn one(client: &Client<HttpConnector, Full<Bytes>>, url: &str, n: u64, tally: &Tally) {
    let stream = n.is_multiple_of(3);
    let body = json!({"model": "auto", "stream": stream,
                      "messages": [{"role": "user", "content": PROMPTS[n as usize % PROMPTS.len()]}]});
    let request = http::Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    tally.sent.fetch_add(1, Ordering::Relaxed);
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        let response = client.request(request).await?;
        let (parts, body) = response.into_parts();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((parts, body.collect().await?.to_bytes()))
    })
    .await;
    let (parts, bytes) = match answer {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => return lost(tally, &format!("transport error: {e}")),
        Err(_) => return lost(tally, "no answer within 30 s"),
    };
    let text = String::from_utf8_lossy(&bytes);
    if parts.status != 200 {
        let shaped = serde_json::from_slice::<Value>(&bytes).is_ok_and(|v| v["error"]["message"].is_string());
        if shaped {
            tally.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("error answer: {} {text}", parts.status);
        } else {
            lost(tally, &format!("{} without an OpenAI error body: {text}", parts.status));
        }
        return;
    }
    let complete = if stream {
        tally.streamed.fetch_add(1, Ordering::Relaxed);
        text.contains("\"content\":") && text.trim_end().ends_with("data: [DONE]")
    } else {
        serde_json::from_slice::<Value>(&bytes).is_ok_and(|v| v["choices"][0]["message"]["content"].is_string())
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if !complete || header("x-switchyard-model").is_empty() {
        return lost(tally, &format!("an incomplete 200: {text}"));
    }
    tally.ok.fetch_add(1, Ordering::Relaxed);
    if header("x-switchyard-attempts").parse::<u32>().unwrap_or(1) > 1 {
        tally.fallbacks.fetch_add(1, Ordering::Relaxed);
    }
    let reason = header("x-switchyard-reason");
    if reason.contains("cheapest-first") {
        tally.by_cascade.fetch_add(1, Ordering::Relaxed);
    } else if reason.contains("signals:") {
        tally.by_echo.fetch_add(1, Ordering::Relaxed);
    }
}

fn lost(tally: &Tally, what: &str) {
    tally.lost.fetch_add(1, Ordering::Relaxed);
    eprintln!("lost request: {what}");
}

/// Memory figures in KiB, sampled every 250 ms.
#[derive(Debug, Default, Clone, Copy)]
struct Rss {
    start: u64,
    warm: u64,
    peak: u64,
    end: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_pipeline_under_load_with_swaps_and_a_flapping_upstream() {
    let secs = env_u64("SOAK_SECS", 20);
    let growth_bound_kib = env_u64("SOAK_RSS_GROWTH_MIB", 64) * 1024;
    let warm_up = Duration::from_secs((secs / 4).clamp(3, 30));
    let (fds_start, rss_start) = (open_fds(), rss_kib());

    let sim = simulator().await;
    let flapper = Flapper::start(sim, FLAP_UP, FLAP_DOWN).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.wasm");
    std::fs::copy(guests::CASCADE, &policy).unwrap();
    let config_path = dir.path().join("switchyard.toml");
    std::fs::write(&config_path, config(sim, flapper.addr)).unwrap();
    let proxy = Arc::new(Proxy::start_watching(&config_path, Duration::from_millis(100)).await);
    let url = format!("{}/v1/chat/completions", proxy.base);

    let tally = Arc::new(Tally::default());
    let records = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(secs);
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (url, tally) = (url.clone(), tally.clone());
        clients.push(tokio::spawn(async move {
            let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
            let mut n = c as u64;
            while Instant::now() < until {
                one(&client, &url, n, &tally).await;
                n += CLIENTS as u64;
            }
        }));
    }

    // Swap the policy file back and forth; sample memory; drain the in-memory decision
    // records (counting them) so the test's own bookkeeping does not grow.
    let versions = [std::fs::read(guests::BAD_POLICY).unwrap(), std::fs::read(guests::CASCADE).unwrap()];
    let rss = Arc::new(Mutex::new(Rss { start: rss_start, ..Rss::default() }));
    let (mut swaps, mut next_swap, mut fds_warm) = (0usize, Instant::now() + SWAP_EVERY, None);
    let began = Instant::now();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let drained = std::mem::take(&mut *proxy.records.lock().unwrap()).len();
        records.fetch_add(drained as u64, Ordering::Relaxed);
        let now = rss_kib();
        let mut figures = rss.lock().unwrap();
        if began.elapsed() < warm_up {
            figures.warm = now;
        } else {
            fds_warm.get_or_insert_with(open_fds);
            figures.peak = figures.peak.max(now);
        }
        drop(figures);
        if Instant::now() >= next_swap {
            replace_atomically(&policy, &versions[swaps % 2]);
            swaps += 1;
            next_swap += SWAP_EVERY;
        }
    }
    for client in clients {
        client.await.unwrap();
    }
    let downs = flapper.downs.load(Ordering::Relaxed);
    flapper.stop().await;
    // Let connection tasks see their peers go, then count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    records.fetch_add(std::mem::take(&mut *proxy.records.lock().unwrap()).len() as u64, Ordering::Relaxed);
    let fds_end = open_fds();
    let mut rss = *rss.lock().unwrap();
    rss.end = rss_kib();
    rss.peak = rss.peak.max(rss.end);
    let fds_warm = fds_warm.unwrap_or(fds_end);
    let status = proxy.app.reload_status();
    let (reloads_ok, reloads_failed) = (status.reloads_ok, status.reloads_failed);
    drop(status);

    let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let sent = get(&tally.sent);
    eprintln!(
        "SOAK secs={secs} clients={CLIENTS} requests={sent} ok={} errors={} lost={} fallbacks={} streamed={} \
         by_cascade={} by_echo={} records={} swaps={swaps} reloads_ok={reloads_ok} reloads_failed={reloads_failed} \
         flaps={downs} rss_kib_start={} rss_kib_warm={} rss_kib_peak={} rss_kib_end={} \
         fds_start={fds_start} fds_warm={fds_warm} fds_end={fds_end}",
        get(&tally.ok),
        get(&tally.errors),
        get(&tally.lost),
        get(&tally.fallbacks),
        get(&tally.streamed),
        get(&tally.by_cascade),
        get(&tally.by_echo),
        get(&records),
        rss.start,
        rss.warm,
        rss.peak,
        rss.end,
    );

    assert!(sent as f64 >= secs as f64 * 5.0, "the load ran ({sent} requests in {secs} s)");
    assert_eq!(get(&tally.lost), 0, "lost requests");
    assert_eq!(get(&tally.errors), 0, "error answers, though every plan ends with a model that never fails");
    assert_eq!(get(&tally.ok), sent);
    assert_eq!(get(&records), sent, "one decision record per request");
    assert!(get(&tally.fallbacks) > 0, "the flaky and flapping upstreams made requests fall back");
    assert!(get(&tally.by_cascade) > 0 && get(&tally.by_echo) > 0, "both policy versions served");
    assert_eq!(reloads_failed, 0, "every swap loaded");
    assert!(reloads_ok as usize >= swaps / 2, "{reloads_ok} reloads for {swaps} swaps");
    assert!(downs >= 1 || secs < 3, "the upstream flapped");
    assert!(
        rss.peak.saturating_sub(rss.warm) < growth_bound_kib,
        "RSS grew {} KiB after warm-up (bound {growth_bound_kib} KiB): {rss:?}",
        rss.peak.saturating_sub(rss.warm)
    );
    assert!(fds_end <= fds_warm + FD_SLACK, "fd leak: {fds_warm} after warm-up, {fds_end} at the end");
}
