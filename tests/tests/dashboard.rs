//! The dashboard: its endpoints behind the admin token (overview aggregates, the decision
//! list and detail, the live stream, plugins), and the pages themselves driven in Debian's
//! headless Chromium by puppeteer-core (tests/browser/dashboard.mjs), which saves the
//! screenshots in docs/ui/.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use switchyard_tests::observe::{self, ADMIN_TOKEN, EASY, HARD, ask, ui_get};
use switchyard_tests::proxy::{Proxy, chat, render, send, simulator};

#[tokio::test]
async fn the_endpoints_need_the_admin_token() {
    let proxy = observe::proxy("").await;
    for path in ["/ui/api/overview", "/ui/api/decisions", "/ui/api/stream", "/ui/api/plugins"] {
        let wrong = ui_get(&proxy, path, "guess").await;
        assert_eq!(wrong.status, 401, "{path}");
        assert_eq!(wrong.json()["error"]["type"], "authentication_error", "{path}");
        let none = send("GET", &format!("{}{path}", proxy.base), "").await;
        assert_eq!(none.status, 401, "{path}");
    }
    // The pages are public (they hold no data) and come out of the binary.
    let page = send("GET", &format!("{}/ui", proxy.base), "").await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(String::from_utf8_lossy(&page.body).contains("login-form"));
    let script = send("GET", &format!("{}/ui/app.js", proxy.base), "").await;
    assert!(script.header("content-type").starts_with("text/javascript"));
    assert_eq!(send("GET", &format!("{}/ui/nope.js", proxy.base), "").await.status, 404);

    // Without an admin token configured, the data is off.
    let bare = Proxy::start(&render(switchyard_tests::proxy::SIM_MODELS, simulator().await)).await;
    assert_eq!(ui_get(&bare, "/ui/api/overview", ADMIN_TOKEN).await.status, 404);
}

#[tokio::test]
async fn overview_and_decisions_tell_what_happened() {
    let proxy = observe::proxy("").await;
    let sent = observe::traffic(&proxy, 3).await;
    let overview = ui_get(&proxy, "/ui/api/overview?seconds=60", ADMIN_TOKEN).await.json();
    assert_eq!(overview["totals"]["requests"], sent.requests);
    assert_eq!(overview["totals"]["errors"], sent.errors);
    let routes = overview["routes"].as_array().unwrap();
    let auto = routes.iter().find(|r| r["route"] == "auto").unwrap();
    assert_eq!(auto["requests"], sent.requests / 5 * 3);
    assert_eq!(auto["escalated"], sent.escalated);
    assert_eq!(auto["answered_by_tier"]["0"], sent.requests / 5 * 2);
    assert_eq!(auto["answered_by_tier"]["1"], sent.escalated);
    assert_eq!(auto["ceiling_model"], "large");
    assert!(auto["saved_usd"].as_f64().unwrap() > 0.0, "{auto}");
    let flaky = routes.iter().find(|r| r["route"] == "flaky").unwrap();
    assert_eq!(flaky["fell_back"], sent.fell_back);
    let series = overview["series"].as_array().unwrap();
    let counted: u64 = series.iter().map(|p| p["requests"].as_u64().unwrap()).sum();
    assert_eq!(counted, sent.requests);
    assert!(series.iter().all(|p| p["p99_ms"].as_f64() >= p["p50_ms"].as_f64()));

    let errors = ui_get(&proxy, "/ui/api/decisions?outcome=error", ADMIN_TOKEN).await.json();
    let errors = errors["decisions"].as_array().unwrap();
    assert_eq!(errors.len() as u64, sent.errors);
    assert!(errors.iter().all(|d| d["status"] == "error" && d["http_status"] == 404));
    let large = ui_get(&proxy, "/ui/api/decisions?route=auto&model=large", ADMIN_TOKEN).await.json();
    let large = large["decisions"].as_array().unwrap();
    assert_eq!(large.len() as u64, sent.escalated);

    let id = large[0]["id"].as_str().unwrap();
    let story = ui_get(&proxy, &format!("/ui/api/decisions/{id}"), ADMIN_TOKEN).await.json();
    assert_eq!(story["id"], id);
    assert_eq!(story["classifiers"][0]["plugin"], "complexity");
    assert_eq!(story["attempts"][0]["gates"][0]["verdict"], "escalate");
    assert_eq!(story["attempts"][1]["outcome"], "returned");
    assert_eq!(story["trace"]["trace_id"].as_str().unwrap().len(), 32);
    let missing = ui_get(&proxy, "/ui/api/decisions/not-an-id", ADMIN_TOKEN).await;
    assert_eq!(missing.status, 404);

    let plugins = ui_get(&proxy, "/ui/api/plugins", ADMIN_TOKEN).await.json();
    let names: Vec<&str> = plugins["plugins"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(plugins["reloads"]["history"].is_array());
    assert_eq!(ui_get(&proxy, "/ui/api/rollout", ADMIN_TOKEN).await.json()["configured"], false);
}

#[tokio::test]
async fn the_stream_delivers_decisions_as_they_finish() {
    let proxy = observe::proxy("").await;
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = http::Request::get(format!("{}/ui/api/stream", proxy.base))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut text = String::new();
    let mut next = async || {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame()).await.expect("an event").unwrap();
        String::from_utf8(frame.unwrap().into_data().unwrap().to_vec()).unwrap()
    };
    text.push_str(&next().await);
    assert!(text.contains("event: ready"), "{text}");
    let reply = chat(&proxy, ask("auto", HARD)).await;
    let id = reply.header("x-switchyard-request-id").to_string();
    let event = next().await;
    let data = event.strip_prefix("event: decision\ndata: ").expect("a decision event").trim_end();
    let summary: Value = serde_json::from_str(data).unwrap();
    assert_eq!(summary["id"], id.as_str());
    assert_eq!((summary["route"].as_str(), summary["model"].as_str()), (Some("auto"), Some("large")));
    assert_eq!(summary["escalations"], 1);
    chat(&proxy, ask("auto", EASY)).await;
    assert!(next().await.contains("event: decision"));
}

/// Whether the browser test can run; outside CI a missing piece skips it with a note.
fn browser_ready() -> bool {
    let modules = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/node_modules/puppeteer-core");
    let missing: Vec<&str> = [("/usr/bin/chromium", "chromium"), (modules, "puppeteer-core (npm ci in tests/browser)")]
        .into_iter()
        .filter(|(path, _)| !std::path::Path::new(path).exists())
        .map(|(_, what)| what)
        .collect();
    if !missing.is_empty() {
        assert!(std::env::var_os("CI").is_none(), "missing {missing:?} (scripts/test.sh installs them)");
        eprintln!("skipped: missing {missing:?}");
    }
    missing.is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser() {
    if !browser_ready() {
        return;
    }
    let proxy = observe::proxy("").await;
    observe::traffic(&proxy, 4).await;
    // Traffic keeps flowing while the browser watches, as on a live proxy.
    let base = proxy.base.clone();
    let background = tokio::spawn(async move {
        let url = format!("{base}/v1/chat/completions");
        for i in 0u64.. {
            let (model, text) = match i % 5 {
                0 => ("auto", HARD),
                1 => ("flaky", EASY),
                2 => ("no-such-model", EASY),
                _ => ("auto", EASY),
            };
            send("POST", &url, ask(model, text).to_string()).await;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/ui");
    std::fs::create_dir_all(out).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/dashboard.mjs");
    let run = tokio::process::Command::new("node")
        .arg(script)
        .env("BASE", &proxy.base)
        .env("TOKEN", ADMIN_TOKEN)
        .env("OUT", out)
        .env("CHROMIUM", "/usr/bin/chromium")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run).await.expect("the browser run ends").unwrap();
    background.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "dashboard.mjs failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("dashboard: all checks passed"), "{stdout}");
    for shot in ["login-refused.png", "overview.png", "decisions.png", "decision-detail.png", "plugins.png"] {
        let bytes = std::fs::read(format!("{out}/{shot}")).unwrap();
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{shot} is a real screenshot");
    }
}
