//! Hot reload over real sockets and real files: a policy swapped between two versions many
//! times under continuous load with zero failed requests; every failure keeps the last good
//! snapshot serving and shows up in the admin API; a config change changes a route.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_tests::guests;
use switchyard_tests::proxy::{Proxy, Reply, chat, send, send_with, simulator};
use switchyard_tests::reload::{ADMIN_TOKEN, replace_atomically, watched_config, with_custom_section};

const SETTLE: Duration = Duration::from_millis(100);

struct Setup {
    dir: tempfile::TempDir,
    sim: std::net::SocketAddr,
}

impl Setup {
    async fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(guests::CASCADE, dir.path().join("policy.wasm")).unwrap();
        std::fs::copy(guests::HOSTILE, dir.path().join("classifier.wasm")).unwrap();
        let setup = Setup { dir, sim: simulator().await };
        setup.write_config(r#"{ mode = "ok" }"#, "");
        setup
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn write_config(&self, classifier_config: &str, extra_routes: &str) {
        replace_atomically(
            &self.path("switchyard.toml"),
            watched_config(self.sim, classifier_config, extra_routes).as_bytes(),
        );
    }
}

/// Overwrites `path` in place in three chunks with pauses, as a slow copy would.
fn write_in_chunks(path: &Path, bytes: &[u8], pause: Duration) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).truncate(true).open(path).unwrap();
    for chunk in bytes.chunks(bytes.len().div_ceil(3)) {
        file.write_all(chunk).unwrap();
        file.flush().unwrap();
        std::thread::sleep(pause);
    }
}

async fn ask(proxy: &Proxy) -> Reply {
    chat(proxy, json!({"model": "auto", "messages": [{"role": "user", "content": "hello there"}]})).await
}

async fn admin(proxy: &Proxy, method: &str, path: &str) -> Reply {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    send_with(method, &format!("{}{path}", proxy.base), &[("authorization", &auth)], "").await
}

/// Which policy version answered: cascade says "cheapest-first", bad-policy's echo lists
/// signals.
fn policy_version(reply: &Reply) -> &'static str {
    let reason = reply.header("x-switchyard-reason");
    if reason.contains("cheapest-first") {
        "cascade"
    } else if reason.contains("hostile.ok") {
        "echo"
    } else {
        "unknown"
    }
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn reloads_failed(proxy: &Proxy) -> u64 {
    admin(proxy, "GET", "/admin/snapshot").await.json()["reloads_failed"].as_u64().unwrap()
}

/// Bounded background load: `clients` clients asking in a loop until stopped (at most 60 s),
/// counting requests that failed or were answered by no known policy version.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(proxy: &Arc<Proxy>, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let clients = (0..clients)
            .map(|_| {
                let (proxy, stop, sent, failed) = (proxy.clone(), stop.clone(), sent.clone(), failed.clone());
                tokio::spawn(async move {
                    let until = Instant::now() + Duration::from_secs(60);
                    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                        let reply = ask(&proxy).await;
                        sent.fetch_add(1, Ordering::Relaxed);
                        if reply.status != 200 || policy_version(&reply) == "unknown" {
                            failed.fetch_add(1, Ordering::Relaxed);
                            eprintln!("failed: {} {}", reply.status, String::from_utf8_lossy(&reply.body));
                        }
                    }
                })
            })
            .collect();
        Load { stop, sent, failed, clients }
    }

    /// Stops the clients and asserts that the load ran and no request failed.
    async fn finish_without_failures(self) {
        self.stop.store(true, Ordering::Relaxed);
        for client in self.clients {
            client.await.unwrap();
        }
        let sent = self.sent.load(Ordering::Relaxed);
        assert!(sent > 20, "the load ran ({sent} requests)");
        assert_eq!(self.failed.load(Ordering::Relaxed), 0, "no request failed out of {sent}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_swapped_under_load_never_fails_a_request() {
    let setup = Setup::new().await;
    let proxy = Arc::new(Proxy::start_watching(&setup.path("switchyard.toml"), SETTLE).await);
    assert_eq!(policy_version(&ask(&proxy).await), "cascade");

    // Bounded load: 4 clients until the swaps are done.
    let load = Load::start(&proxy, 4);

    let versions = [(guests::BAD_POLICY, "echo"), (guests::CASCADE, "cascade")];
    for swap in 0..10 {
        let (file, expect) = versions[swap % 2];
        let bytes = std::fs::read(file).unwrap();
        let policy = setup.path("policy.wasm");
        if swap % 4 < 2 {
            replace_atomically(&policy, &bytes);
        } else {
            // Chunks 30 ms apart: the settle delay must keep the partial file from loading.
            write_in_chunks(&policy, &bytes, Duration::from_millis(30));
        }
        wait_for(&format!("swap {swap} to {expect}"), async || policy_version(&ask(&proxy).await) == expect).await;
    }
    load.finish_without_failures().await;
    let snapshot = admin(&proxy, "GET", "/admin/snapshot").await.json();
    assert!(snapshot["version"].as_u64().unwrap() >= 11, "{snapshot}");
    // Only the policy was reloaded: the classifier was carried over each time.
    let changes = &snapshot["last_reload"]["plugins"];
    assert!(changes.as_array().unwrap().contains(&json!({"plugin": "classifier", "change": "kept"})), "{changes}");
}

/// The policy's entry in `GET /admin/plugins`.
async fn policy_entry(proxy: &Proxy) -> serde_json::Value {
    let list = admin(proxy, "GET", "/admin/plugins").await.json();
    list["plugins"].as_array().unwrap().iter().find(|p| p["name"] == "policy").cloned().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_goes_live_on_baseline_code_and_moves_to_optimized_code_under_load() {
    let setup = Setup::new().await;
    let proxy = Arc::new(Proxy::start_watching(&setup.path("switchyard.toml"), SETTLE).await);
    let load = Load::start(&proxy, 2);

    // Three versions never seen before (no cache can hold their code), each tiering up while
    // the clients run; the last is then swapped away and back, which must hit the cache.
    let echo = std::fs::read(guests::BAD_POLICY).unwrap();
    let policy = setup.path("policy.wasm");
    for round in 0..3 {
        let version = with_custom_section(&echo, format!("tier-up test {round}").as_bytes());
        replace_atomically(&policy, &version);
        wait_for("the new version", async || policy_version(&ask(&proxy).await) == "echo").await;
        let entry = policy_entry(&proxy).await;
        assert_eq!(entry["load"]["tier"], "baseline", "{entry}");
        assert_eq!(entry["load"]["cache"], "compiled", "{entry}");
        wait_for("optimized code", async || policy_entry(&proxy).await["tier"] == "optimized").await;
        let entry = policy_entry(&proxy).await;
        assert_eq!(entry["tier_up"]["state"], "done", "{entry}");
        assert!(entry["tier_up"]["compile_ms"].as_f64().unwrap() > 0.0, "{entry}");
        assert!(entry["idle_instances"].as_u64().unwrap() >= 1, "the optimized code was pre-warmed: {entry}");
        // The version stays the same snapshot: only its machine code changed.
        assert_eq!(policy_version(&ask(&proxy).await), "echo");

        replace_atomically(&policy, &std::fs::read(guests::CASCADE).unwrap());
        wait_for("cascade back", async || policy_version(&ask(&proxy).await) == "cascade").await;
        if round == 2 {
            replace_atomically(&policy, &version);
            wait_for("the cached version", async || policy_version(&ask(&proxy).await) == "echo").await;
            let entry = policy_entry(&proxy).await;
            assert_eq!(entry["load"]["tier"], "optimized", "a version seen before skips the baseline: {entry}");
            assert_eq!(entry["load"]["cache"], "memory", "{entry}");
            assert_eq!(entry["tier_up"]["state"], "not_needed", "{entry}");
        }
    }
    load.finish_without_failures().await;

    // Six policy versions later, memory holds the live and the outgoing version of each
    // plugin and no more, and says so (issue 12: caches explicit, bounded and visible).
    let memory = admin(&proxy, "GET", "/admin/memory").await.json();
    let caches = &memory["caches"];
    let components = caches["compiled_components"].as_u64().unwrap();
    assert!((1..=4).contains(&components), "2 plugins, each live + outgoing at most: {memory}");
    assert!(caches["compiled_component_bytes"].as_u64().unwrap() > 0, "{memory}");
    assert!(memory["resident_bytes"].as_u64().unwrap() > 1 << 20, "{memory}");
    let functions = &caches["function_cache"];
    assert!(functions["misses"].as_u64().unwrap() > 0, "three tier-ups compiled functions: {memory}");
    let held = functions["memory_bytes"].as_u64().unwrap();
    match functions["location"].as_str().unwrap() {
        "disk" => assert_eq!(held, 0, "{memory}"),
        _ => assert!(held <= functions["memory_budget_bytes"].as_u64().unwrap(), "{memory}"),
    }
    let metrics = String::from_utf8(send("GET", &format!("{}/metrics", proxy.base), "").await.body.to_vec()).unwrap();
    for series in ["switchyard_plugin_cache_bytes{cache=\"components\"}", "switchyard_process_resident_bytes"] {
        assert!(metrics.contains(series), "{series} missing from /metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_renamed_into_place_skips_the_settle_delay_and_an_in_place_write_waits_for_it() {
    let setup = Setup::new().await;
    let settle = Duration::from_secs(3);
    let proxy = Proxy::start_watching(&setup.path("switchyard.toml"), settle).await;
    let policy = setup.path("policy.wasm");

    let started = Instant::now();
    replace_atomically(&policy, &std::fs::read(guests::BAD_POLICY).unwrap());
    wait_for("the renamed version", async || policy_version(&ask(&proxy).await) == "echo").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a rename waited for the settle delay: {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    write_in_chunks(&policy, &std::fs::read(guests::CASCADE).unwrap(), Duration::from_millis(10));
    wait_for("the version written in place", async || policy_version(&ask(&proxy).await) == "cascade").await;
    assert!(started.elapsed() >= settle, "an in-place write loaded before it settled: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failed_reload_keeps_the_last_good_snapshot_serving() {
    let setup = Setup::new().await;
    let proxy = Proxy::start_watching(&setup.path("switchyard.toml"), SETTLE).await;
    let good_policy = std::fs::read(guests::CASCADE).unwrap();
    let policy = setup.path("policy.wasm");

    type Case<'a> = (&'static str, Box<dyn Fn() + 'a>);
    let cases: Vec<Case> = vec![
        ("truncated wasm", Box::new(|| replace_atomically(&policy, &good_policy[..good_policy.len() / 2]))),
        ("corrupt wasm", Box::new(|| replace_atomically(&policy, b"\0asm\x0d\0\x01\0garbage"))),
        ("the wrong world", Box::new(|| replace_atomically(&policy, &std::fs::read(guests::COMPLEXITY).unwrap()))),
        ("a self-test that traps", Box::new(|| setup.write_config(r#"{ mode = "panic" }"#, ""))),
        (
            "an invalid config",
            Box::new(|| replace_atomically(&setup.path("switchyard.toml"), b"[routes.auto\nbroken = ")),
        ),
        ("a deleted plugin file", Box::new(|| std::fs::remove_file(&policy).unwrap())),
    ];
    for (what, break_it) in cases {
        let failed_before = reloads_failed(&proxy).await;
        let version_before = ask(&proxy).await.header("x-switchyard-snapshot").to_string();
        break_it();
        wait_for(&format!("the failed reload after {what}"), async || reloads_failed(&proxy).await > failed_before)
            .await;
        let reply = ask(&proxy).await;
        assert_eq!(reply.status, 200, "after {what}: {}", String::from_utf8_lossy(&reply.body));
        assert_eq!(policy_version(&reply), "cascade", "after {what}");
        assert_eq!(reply.header("x-switchyard-snapshot"), version_before, "after {what}, the old snapshot serves");
        let snapshot = admin(&proxy, "GET", "/admin/snapshot").await.json();
        assert_eq!(snapshot["last_reload"]["ok"], false, "after {what}: {snapshot}");
        assert!(snapshot["last_reload"]["error"].as_str().is_some_and(|e| !e.is_empty()));

        // Repair, and wait until a reload succeeds again.
        replace_atomically(&policy, &good_policy);
        setup.write_config(r#"{ mode = "ok" }"#, "");
        let ok = proxy.app.reload_status().reloads_ok;
        let _ = admin(&proxy, "POST", "/admin/reload").await;
        wait_for(&format!("recovery after {what}"), async || proxy.app.reload_status().reloads_ok > ok).await;
        // The watcher saw the repair too and may reload once more: wait until it is quiet.
        let mut seen = proxy.app.snapshot().version;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = proxy.app.snapshot().version;
            if now == seen && proxy.app.reload_lock().try_lock().is_ok() {
                break;
            }
            seen = now;
        }
    }

    // The plugin view names the failing plugin and its error.
    replace_atomically(&policy, &good_policy[..100]);
    let failed_before = reloads_failed(&proxy).await;
    wait_for("the truncated policy to be noticed", async || reloads_failed(&proxy).await > failed_before).await;
    let plugins = admin(&proxy, "GET", "/admin/plugins").await.json();
    let entry = plugins["plugins"].as_array().unwrap().iter().find(|p| p["name"] == "policy").unwrap().clone();
    assert_eq!(entry["status"], "serving_previous_version", "{entry}");
    assert!(entry["last_error"].as_str().unwrap().contains("policy.wasm"), "{entry}");
    assert_eq!(entry["kind"], "policy");
    assert_eq!(entry["hash"].as_str().unwrap().len(), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_reload_changes_a_route() {
    let setup = Setup::new().await;
    let proxy = Proxy::start_watching(&setup.path("switchyard.toml"), SETTLE).await;
    let fast = json!({"model": "fast", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(chat(&proxy, fast.clone()).await.status, 404);
    setup.write_config(r#"{ mode = "ok" }"#, "[routes.fast]\ndefault_plan = [\"small\"]");
    wait_for("the new route", async || chat(&proxy, fast.clone()).await.status == 200).await;
    let reply = chat(&proxy, fast).await;
    assert_eq!(reply.header("x-switchyard-model"), "small");
    assert_eq!(reply.header("x-switchyard-route"), "fast");
    let record = proxy.record(reply.header("x-switchyard-request-id")).await;
    assert!(record.snapshot >= 2, "the record names the snapshot that served it");
}

#[tokio::test]
async fn the_admin_api_needs_its_token() {
    let setup = Setup::new().await;
    let proxy = Proxy::start_at(&setup.path("switchyard.toml")).await;
    let url = format!("{}/admin/plugins", proxy.base);
    assert_eq!(send_with("GET", &url, &[], "").await.status, 401);
    assert_eq!(send_with("GET", &url, &[("authorization", "Bearer wrong")], "").await.status, 401);
    let ok = admin(&proxy, "GET", "/admin/plugins").await;
    assert_eq!(ok.status, 200);
    let json = ok.json();
    let names: Vec<&str> = json["plugins"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["classifier", "policy"]);
    let forced = admin(&proxy, "POST", "/admin/reload").await;
    assert_eq!(forced.status, 200, "{}", String::from_utf8_lossy(&forced.body));
    assert_eq!(forced.json()["version"], 2);
}
