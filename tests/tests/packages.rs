//! Plugin packages end to end through a real OCI registry (Debian's `docker-registry`):
//! publish with one config, trust and serve with another; every refusal keeps the serving
//! version and says why; a cached package serves while the registry is down; a fleet of two
//! proxies polling one tag converges on a new signed version with no failed request, and
//! both keep the old one when the new one is signed by an untrusted key.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard::config::PackageLimits;
use switchyard::package::sign::{self, SignatureEntry};
use switchyard_tests::guests;
use switchyard_tests::packages::{Package, Publisher, Registry, options};
use switchyard_tests::proxy::{Proxy, SIM_MODELS, chat, render, simulator};

/// A config serving `source` as the route's policy, trusting `trust` (TOML tables).
fn config(sim: std::net::SocketAddr, source: &str, trust: &str, plugin_extra: &str) -> String {
    let models = render(SIM_MODELS, sim);
    format!(
        r#"
{models}
{trust}
[plugins.router]
kind = "policy"
source = "{source}"
deadline_ms = 2000
{plugin_extra}
[routes.auto]
policy = "router"
default_plan = ["small"]
"#
    )
}

fn ask() -> serde_json::Value {
    json!({"model": "auto", "messages": [{"role": "user", "content": "hello there"}]})
}

/// The package version `proxy` serves as `router`, and its digest.
fn serving(proxy: &Proxy) -> (String, String) {
    let snapshot = proxy.app.snapshot();
    let package = snapshot.config.plugins["router"].package.as_ref().expect("a package").clone();
    (package.version.clone(), package.digest.clone())
}

/// Reloads and returns the refusal's reason label (panics if the reload succeeded).
async fn refused(proxy: &Proxy) -> (String, String) {
    match switchyard::reload::reload(&proxy.app, "test").await {
        Ok(v) => panic!("the reload published snapshot {v}; expected a refusal"),
        Err(switchyard::reload::ReloadError::Snapshot(switchyard::route::snapshot::SnapshotError::Plugin(
            switchyard::plugin::LoadError::Package { reason, detail, .. },
        ))) => (reason.to_string(), detail),
        Err(other) => panic!("expected a package refusal, got: {other}"),
    }
}

/// Writes `text` as the proxy's config file (atomically) for the next reload.
fn rewrite(proxy: &Proxy, text: &str) {
    let path = proxy.app.snapshot().config.path.clone();
    switchyard_tests::reload::replace_atomically(&path, text.as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_published_with_one_config_is_trusted_and_served_by_another() {
    let registry = Registry::start(true);
    let sim = simulator().await;
    let acme = Publisher::new("acme");
    let source = registry.source("acme/router:stable");
    let limits = PackageLimits { memory_mb: Some(512), deadline_ms: Some(1500), fuel: None };
    Package::pack(guests::TIERED, "acme/router", "1.0.0", limits).sign(&acme).push(&source).await;

    // The consuming side knows only the source and the publisher's public key.
    let trust = acme.trust_table(&["acme/*"], "max_memory_mb = 128");
    let proxy = Proxy::start(&config(sim, &source, &trust, "")).await;
    let reply = chat(&proxy, ask()).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(serving(&proxy).0, "1.0.0");

    // Requested vs granted: memory clamped to the publisher's maximum, the deadline as asked.
    let snapshot = proxy.app.snapshot();
    let package = snapshot.config.plugins["router"].package.clone().unwrap();
    assert_eq!(package.publisher, "acme");
    assert_eq!(package.requested, limits);
    assert_eq!(package.granted, PackageLimits { memory_mb: Some(128), deadline_ms: Some(1500), fuel: None });
    let plugin = &snapshot.plugins["router"];
    assert_eq!(plugin.limits().memory_bytes, 128 << 20);
    assert_eq!(plugin.limits().deadline, Duration::from_millis(1500));

    // `plugin inspect` against the consumer's config says the same.
    let cfg = &snapshot.config;
    let location = switchyard::cli::package::Location::parse(&source).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let report = switchyard::cli::package::inspect(&location, Some(cfg), Some("router"), cache.path()).await.unwrap();
    assert_eq!(report["manifest"]["name"], "acme/router");
    assert_eq!(report["requested"]["memory_mb"], 512);
    assert_eq!(report["granted"]["limits"]["memory_mb"], 128);
    assert_eq!(report["trusted_publisher"], "acme");

    // `plugin pull` into a directory, then `plugin verify` of that directory offline.
    let pulled = tempfile::tempdir().unwrap();
    let switchyard::cli::package::Location::Registry(reference) = location else { unreachable!() };
    let digest = switchyard::cli::package::pull(&reference, pulled.path()).await.unwrap();
    assert_eq!(digest, serving(&proxy).1);
    let (trust, limits) = switchyard::cli::package::trust_from(None, std::slice::from_ref(&acme.public)).unwrap();
    let local = switchyard::cli::package::Location::Layout(pulled.path().to_path_buf());
    let verified = switchyard::cli::package::verify(&local, &trust, &limits, cache.path()).await.unwrap();
    assert_eq!(verified.manifest.version, "1.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_registry_credentials_are_an_error_that_says_so() {
    let registry = Registry::start(true);
    let sim = simulator().await;
    let acme = Publisher::new("acme");
    let source = registry.source("acme/router:1");
    Package::pack(guests::TIERED, "acme/router", "1.0.0", PackageLimits::default()).sign(&acme).push(&source).await;
    switchyard_tests::packages::set_credentials(&registry.addr.to_string(), "switchyard", "wrong");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.toml");
    std::fs::write(&path, config(sim, &source, &acme.trust_table(&["acme/*"], ""), "")).unwrap();
    let cfg = switchyard::config::Config::load(&path).unwrap();
    let error = switchyard::app::App::start(cfg).await.err().expect("no cached copy: the start fails").to_string();
    assert!(error.contains("credentials") && error.contains("(registry)"), "{error}");
    switchyard_tests::packages::set_credentials(
        &registry.addr.to_string(),
        "switchyard",
        switchyard_tests::packages::PASSWORD,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openssl_signature_verifies_and_a_cached_package_serves_while_the_registry_is_down() {
    let mut registry = Registry::start(false);
    let sim = simulator().await;
    let ops = Publisher::openssl("ops");
    let source = registry.source("ops/router:prod");
    Package::pack(guests::TIERED, "ops/router", "2.0.0", PackageLimits::default())
        .sign_with_openssl(&ops)
        .push(&source)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.toml");
    std::fs::write(&path, config(sim, &source, &ops.trust_table(&["ops/*"], ""), "")).unwrap();
    let first = Proxy::start_at(&path).await;
    assert_eq!(serving(&first).0, "2.0.0");
    drop(first);

    // The registry is down: a new proxy on the same cache starts from the cached copy,
    // verified again from the cache.
    registry.stop();
    let second = Proxy::start_at(&path).await;
    assert_eq!(serving(&second).0, "2.0.0");
    assert_eq!(chat(&second, ask()).await.status, 200);

    // Without a cached copy there is nothing to serve: a clear error.
    let other = tempfile::tempdir().unwrap();
    let path = other.path().join("switchyard.toml");
    std::fs::write(&path, config(sim, &source, &ops.trust_table(&["ops/*"], ""), "")).unwrap();
    let cfg = switchyard::config::Config::load(&path).unwrap();
    let error = switchyard::app::App::start(cfg).await.err().expect("nothing cached").to_string();
    assert!(error.contains("package cache has no copy"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_keeps_the_serving_version_and_says_why() {
    let registry = Registry::start(false);
    let sim = simulator().await;
    let (acme, mallory) = (Publisher::new("acme"), Publisher::new("mallory"));
    let tag = registry.source("acme/router:stable");
    let v1 = Package::pack(guests::TIERED, "acme/router", "1.0.0", PackageLimits::default()).sign(&acme);
    v1.push(&tag).await;
    let trust = format!(
        "{}{}",
        acme.trust_table(&["acme/*"], ""),
        // mallory is trusted, but only for its own names.
        mallory.trust_table(&["mallory/*"], "")
    );
    let schema_dir = tempfile::tempdir().unwrap();
    let text = config(sim, &tag, &trust, "");
    let proxy = Proxy::start(&text).await;
    let good = serving(&proxy);
    assert_eq!(good.0, "1.0.0");

    let cascade = |version: &str| Package::pack(guests::CASCADE, "acme/router", version, PackageLimits::default());
    let check = async |case: &str, want: &str| {
        let (reason, detail) = refused(&proxy).await;
        assert_eq!(reason, want, "{case}: {detail}");
        assert_eq!(serving(&proxy), good, "{case}: the serving version changed");
        assert_eq!(chat(&proxy, ask()).await.status, 200, "{case}: requests still succeed");
        detail
    };

    // Unsigned.
    cascade("1.1.0").push(&tag).await;
    let detail = check("unsigned", "unsigned").await;
    assert!(detail.contains(".sig"), "{detail}");

    // Signed by a key nobody trusts for it, with and without naming the key: naming no key
    // means every trusted key is tried, never that verification is skipped.
    let outsider = Publisher::new("outsider");
    cascade("1.1.1").sign(&outsider).push(&tag).await;
    check("untrusted key", "untrusted_key").await;
    cascade("1.1.2").sign_with_openssl(&Publisher::openssl("nobody")).push(&tag).await;
    check("a signature naming no key, by an untrusted key", "untrusted_key").await;
    let empty = SignatureEntry {
        payload: sign::payload("x", &cascade("1.1.3").digest),
        signature: Some(String::new()),
        key_id: None,
    };
    cascade("1.1.3").add_signature(empty).push(&tag).await;
    check("an empty signature", "empty_signature").await;
    // A trusted key's id on a signature it did not make.
    let forged = cascade("1.1.4");
    let payload = sign::payload("x", &forged.digest);
    let mallory_key = sign::read_private_key(&std::fs::read_to_string(&outsider.key).unwrap()).unwrap();
    let acme_id =
        sign::key_id(sign::read_private_key(&std::fs::read_to_string(&acme.key).unwrap()).unwrap().verifying_key());
    let entry =
        SignatureEntry { signature: Some(sign::sign_payload(&mallory_key, &payload)), payload, key_id: Some(acme_id) };
    forged.add_signature(entry).push(&tag).await;
    check("a forged key id", "untrusted_key").await;

    // A genuine acme signature, but over another digest (v1's), moved onto a new package.
    let acme_key = sign::read_private_key(&std::fs::read_to_string(&acme.key).unwrap()).unwrap();
    let v1_payload = sign::payload("x", &good.1);
    let replayed = SignatureEntry {
        signature: Some(sign::sign_payload(&acme_key, &v1_payload)),
        payload: v1_payload,
        key_id: None,
    };
    cascade("1.1.5").add_signature(replayed).push(&tag).await;
    let detail = check("a signature for a different digest", "wrong_digest").await;
    assert!(detail.contains(&good.1), "{detail}");

    // A trusted publisher signing a name it may not publish.
    Package::pack(guests::CASCADE, "acme/router", "1.2.0", PackageLimits::default()).sign(&mallory).push(&tag).await;
    let detail = check("a name the key may not publish", "name_not_allowed").await;
    assert!(detail.contains("mallory/*"), "{detail}");

    // A tampered layer: the registry serves other bytes under the component's digest.
    // (A component no other case uses: the registry keeps serving the bad bytes.)
    let tampered = Package::pack(guests::JSON_GATE, "acme/router", "1.3.0", PackageLimits::default()).sign(&acme);
    tampered.push(&tag).await;
    registry.tamper_blob(&tampered.wasm_digest());
    check("a tampered layer", "tampered").await;

    // A manifest that lies: about the world, and about the imports.
    let lying =
        Package::pack_lying(guests::SANITY, "acme/router", "1.4.0", |m| m["kind"] = json!("policy")).sign(&acme);
    lying.push(&tag).await;
    let detail = check("a manifest lying about its world", "lying_manifest").await;
    assert!(detail.contains("looks like a gate"), "{detail}");
    Package::pack_lying(guests::COMPLEXITY, "acme/router", "1.4.1", |m| {
        m["kind"] = json!("policy");
    })
    .sign(&acme)
    .push(&tag)
    .await;
    check("a classifier claiming to be a policy", "lying_manifest").await;
    Package::pack_lying(guests::TIERED, "acme/router", "1.4.2", |m| m["imports"] = json!([]))
        .sign(&acme)
        .push(&tag)
        .await;
    let detail = check("a manifest hiding its imports", "lying_manifest").await;
    assert!(detail.contains("leaves out"), "{detail}");

    // A config that does not fit the package's schema: the error names the key.
    let schema = schema_dir.path().join("schema.json");
    std::fs::write(&schema, r#"{"type": "object", "properties": {"start_tier": {"type": "integer", "maximum": 3}}}"#)
        .unwrap();
    let schema_options =
        switchyard::cli::package::PackOptions { config_schema: Some(schema), ..options("acme/router", "1.5.0") };
    Package::pack_with(guests::CASCADE, schema_options).sign(&acme).push(&tag).await;
    rewrite(&proxy, &config(sim, &tag, &trust, "config = { start_tier = 9 }"));
    let detail = check("config against schema", "config_schema").await;
    assert!(detail.contains("config.start_tier"), "{detail}");
    rewrite(&proxy, &text);

    // Hostile code: over the operator's component size and function-count limits.
    cascade("1.6.0").sign(&acme).push(&tag).await;
    let small = format!("{trust}\n");
    let limited = config(
        sim,
        &tag,
        &small.replacen("[trust.publishers.acme]", "[trust]\nmax_component_bytes = 4096\n[trust.publishers.acme]", 1),
        "",
    );
    rewrite(&proxy, &limited);
    let detail = check("a component over the size limit", "hostile").await;
    assert!(detail.contains("4096"), "{detail}");
    let limited = config(
        sim,
        &tag,
        &small.replacen("[trust.publishers.acme]", "[trust]\nmax_functions = 10\n[trust.publishers.acme]", 1),
        "",
    );
    rewrite(&proxy, &limited);
    let detail = check("too many functions", "hostile").await;
    assert!(detail.contains("functions"), "{detail}");
    rewrite(&proxy, &text);

    // A rollback: an older version, validly signed, is refused...
    let old = Package::pack(guests::CASCADE, "acme/router", "0.9.0", PackageLimits::default()).sign(&acme);
    old.push(&tag).await;
    let detail = check("a rollback", "rollback").await;
    assert!(detail.contains("0.9.0") && detail.contains("1.0.0") && detail.contains(&old.digest), "{detail}");
    // ...unless the config pins its digest.
    let pinned = registry.source(&format!("acme/router@{}", old.digest));
    rewrite(&proxy, &config(sim, &pinned, &trust, ""));
    switchyard::reload::reload(&proxy.app, "test").await.expect("a pinned rollback is allowed");
    assert_eq!(serving(&proxy).0, "0.9.0");

    // Every refusal was counted.
    let metrics = proxy.app.metrics().encode();
    for reason in [
        "unsigned",
        "untrusted_key",
        "empty_signature",
        "wrong_digest",
        "name_not_allowed",
        "tampered",
        "lying_manifest",
        "config_schema",
        "hostile",
        "rollback",
    ] {
        assert!(
            metrics.contains(&format!("switchyard_package_refusals_total{{plugin=\"router\",reason=\"{reason}\"}}")),
            "{reason} not counted:\n{metrics}"
        );
    }
}

/// Sends requests to every proxy in turn until `stop`, counting answers that are not 200.
fn load(
    proxies: Vec<String>,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            for base in &proxies {
                let reply =
                    switchyard_tests::proxy::send("POST", &format!("{base}/v1/chat/completions"), ask().to_string())
                        .await;
                sent.fetch_add(1, Ordering::Relaxed);
                if reply.status != 200 {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_polling_one_tag_converges_and_refuses_together() {
    let mut registry = Registry::start(false);
    let sim = simulator().await;
    let (acme, outsider) = (Publisher::new("acme"), Publisher::new("outsider"));
    let tag = registry.source("acme/router:fleet");
    Package::pack(guests::TIERED, "acme/router", "1.0.0", PackageLimits::default()).sign(&acme).push(&tag).await;
    let text = config(sim, &tag, &acme.trust_table(&["acme/*"], ""), "poll_interval_ms = 200");
    let fleet = [Proxy::start(&text).await, Proxy::start(&text).await];
    let _polls: Vec<_> = fleet.iter().map(|p| switchyard::reload::poll::spawn(p.app.clone())).collect();

    let (stop, sent, failed) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let bases: Vec<String> = fleet.iter().map(|p| p.base.clone()).collect();
    let clients: Vec<_> = (0..2).map(|_| load(bases.clone(), stop.clone(), sent.clone(), failed.clone())).collect();

    // A new signed version: both replicas serve it within the poll interval plus load time.
    let v2 = Package::pack(guests::CASCADE, "acme/router", "1.1.0", PackageLimits::default()).sign(&acme);
    let pushed = Instant::now();
    v2.push(&tag).await;
    let deadline = pushed + Duration::from_secs(30);
    for proxy in &fleet {
        while serving(proxy).1 != v2.digest {
            assert!(
                Instant::now() < deadline,
                "a replica did not converge on 1.1.0: {:?}\n{}",
                proxy.app.reload_status().last,
                proxy.app.metrics().encode()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let reply = chat(proxy, ask()).await;
        assert_eq!(reply.status, 200);
        assert!(
            reply.header("x-switchyard-reason").contains("cheapest-first"),
            "the cascade policy answers: {:?}",
            reply.headers
        );
    }
    eprintln!("converged {:?} after the push", pushed.elapsed());

    // A version signed by an untrusted key: both keep 1.1.0 and report why.
    Package::pack(guests::TIERED, "acme/router", "1.2.0", PackageLimits::default()).sign(&outsider).push(&tag).await;
    for proxy in &fleet {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let failure = proxy.app.reload_status().plugin_failures.get("router").map(|f| f.error.clone());
            if let Some(error) = failure {
                assert!(error.contains("untrusted_key"), "{error}");
                break;
            }
            assert!(Instant::now() < deadline, "a replica did not report the refusal");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(serving(proxy).1, v2.digest);
    }

    // A registry outage: still serving, polls failing with backoff, counted.
    registry.stop();
    tokio::time::sleep(Duration::from_millis(800)).await;
    for proxy in &fleet {
        assert_eq!(serving(proxy).1, v2.digest);
        assert!(proxy.app.metrics().encode().contains("switchyard_registry_errors_total{plugin=\"router\""));
    }
    registry.resume();

    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    assert!(sent.load(Ordering::Relaxed) > 20, "the load ran");
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no request failed during the swaps");
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Push-to-serve latency (BENCHMARKS.md): the time from `plugin push` returning to the first
/// request answered by the new version, with the proxy polling the tag every
/// `PACKAGE_BENCH_POLL_MS` (default 100), and apart from it the time the verification step
/// (fetch the manifest, signatures and Switchyard manifest, check the signature, the trust
/// policy and the component) takes on its own. Versions alternate between two components, so
/// after the first two the compiled code is cached, as for a redeploy.
///
/// Ignored by default; run with
/// `cargo test --release -p switchyard-tests --test packages -- --ignored --nocapture bench`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_push_to_serve() {
    let runs: usize = std::env::var("PACKAGE_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let poll: u64 = std::env::var("PACKAGE_BENCH_POLL_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let registry = Registry::start(false);
    let sim = simulator().await;
    let acme = Publisher::new("acme");
    let tag = registry.source("acme/router:bench");
    Package::pack(guests::TIERED, "acme/router", "1.0.0", PackageLimits::default()).sign(&acme).push(&tag).await;
    let text = config(sim, &tag, &acme.trust_table(&["acme/*"], ""), &format!("poll_interval_ms = {poll}"));
    let proxy = Proxy::start(&text).await;
    let _poll = switchyard::reload::poll::spawn(proxy.app.clone());
    let snapshot = proxy.app.snapshot();
    let cfg = snapshot.config.clone();
    drop(snapshot);
    let (trust, limits) = switchyard::cli::package::trust_from(Some(&cfg), &[]).unwrap();
    let cache = switchyard::package::store::Layout::open(&switchyard::package::resolve::cache_dir(&cfg)).unwrap();
    let reference = switchyard::package::registry::parse_reference(tag.strip_prefix("oci://").unwrap()).unwrap();

    let (mut served, mut verify_ms) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let component = if i % 2 == 0 { guests::CASCADE } else { guests::TIERED };
        let package =
            Package::pack(component, "acme/router", &format!("1.{}.0", i + 1), PackageLimits::default()).sign(&acme);
        package.push(&tag).await;
        let pushed = Instant::now();
        loop {
            let reply = chat(&proxy, ask()).await;
            assert_eq!(reply.status, 200);
            if serving(&proxy).1 == package.digest
                && reply.header("x-switchyard-snapshot") == proxy.app.snapshot().version.to_string()
            {
                break;
            }
            assert!(pushed.elapsed() < Duration::from_secs(30), "version {i} never served");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        served.push(pushed.elapsed().as_secs_f64() * 1000.0);
        // The verification step alone, against the registry, with the component cached.
        let started = Instant::now();
        let mut fetcher =
            switchyard::package::fetch::Fetcher::registry(reference.clone(), cache.clone(), Duration::from_secs(10));
        switchyard::package::verify::verify(&mut fetcher, &trust, &limits).await.unwrap();
        verify_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    served.sort_by(f64::total_cmp);
    verify_ms.sort_by(f64::total_cmp);
    println!(
        "push → first request on the new version ({runs} versions, poll {poll} ms): p50 {:.1} ms, p99 {:.1} ms\n\
         verification step alone (manifest + signature + trust + manifest checks): p50 {:.2} ms, p99 {:.2} ms",
        percentile(&served, 0.5),
        percentile(&served, 0.99),
        percentile(&verify_ms, 0.5),
        percentile(&verify_ms, 0.99),
    );
}
