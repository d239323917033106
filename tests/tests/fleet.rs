//! A fleet on one machine: three replicas (separate `App`s on their own loopback ports) with
//! one config, sharing a real `redis-server`, in front of the simulated upstream. Budgets,
//! rate limits, revocations and class clamps hold across the replicas; a Redis killed under
//! load leaves every limit on its fail mode, no request stuck and nothing lost once it is back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchyard::telemetry::decision::DecisionRecord;
use switchyard_tests::proxy::{Proxy, Reply, SIM_MODELS, render, send_with, simulator};
use switchyard_tests::redis::RedisServer;

const ADMIN: &str = "fleet-admin-token";

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The shared part of every replica's config; `{REDIS}`, `{PREFIX}` and `{EXTRA}` are filled in.
const FLEET: &str = r#"
[state]
backend = "redis"
redis_url = "{REDIS}"
prefix = "{PREFIX}"
timeout_ms = {TIMEOUT}
probe_ms = 100
keys_refresh_ms = 200
[admin]
token_sha256 = "{ADMIN_SHA}"
[models.broken]
provider = "sim"
upstream = "fail-503"
input_price = 5.0
output_price = 5.0
[models.cutter]
provider = "sim"
upstream = "cut-stream"
input_price = 1.0
output_price = 1.0
[models.flaky]
provider = "sim"
upstream = "flaky-2"
input_price = 0.5
output_price = 0.5
[plugins.sanity]
kind = "gate"
path = "{GUEST:SANITY}"
deadline_ms = 2000
[classes.basic]
max_tier = 0
approval_tier = 1
[routes.auto]
default_plan = ["small"]
[routes.climb]
default_plan = ["large", "small"]
[routes.fallback]
default_plan = ["broken", "small"]
[routes.gated]
gates = ["sanity"]
default_plan = ["small", "large"]
"#;

struct Fleet {
    replicas: Vec<Proxy>,
    redis: std::sync::Mutex<RedisServer>,
    prefix: String,
}

async fn fleet(extra: &str, timeout_ms: u64) -> Option<Fleet> {
    let redis = RedisServer::start()?;
    let sim = simulator().await;
    let prefix = format!("sy{}", redis.port);
    let text = format!("{SIM_MODELS}{FLEET}{extra}")
        .replace("{REDIS}", &redis.url())
        .replace("{PREFIX}", &prefix)
        .replace("{TIMEOUT}", &timeout_ms.to_string())
        .replace("{ADMIN_SHA}", &sha(ADMIN));
    let text = render(&text, sim);
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Proxy::start(&text).await);
    }
    Some(Fleet { replicas, redis: std::sync::Mutex::new(redis), prefix })
}

fn ask(model: &str, text: &str, max_tokens: u32) -> String {
    json!({"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}]}).to_string()
}

async fn chat_as(proxy: &Proxy, key: &str, body: String, extra: &[(&str, &str)]) -> Reply {
    let auth = format!("Bearer {key}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    send_with("POST", &format!("{}/v1/chat/completions", proxy.base), &headers, body).await
}

async fn admin(proxy: &Proxy, method: &str, path: &str, body: Value) -> Reply {
    let auth = format!("Bearer {ADMIN}");
    send_with(method, &format!("{}{path}", proxy.base), &[("authorization", auth.as_str())], body.to_string()).await
}

fn records(fleet: &Fleet) -> Vec<DecisionRecord> {
    fleet.replicas.iter().flat_map(|p| p.records.lock().unwrap().clone()).collect()
}

/// Waits until every settlement spawned after the answers has reached Redis.
async fn settled() {
    tokio::time::sleep(Duration::from_millis(400)).await;
}

/// 3 replicas × 64 concurrent clients spend one team budget.
///
/// The bound: a request is charged its estimate (every plan step, with `max_tokens` of
/// output) in one atomic check-and-add before its first upstream call, and settled to its
/// actual cost afterwards. What is admitted therefore never exceeds the budget at estimate;
/// actual spend exceeds it only by what requests cost beyond their estimates. We assert the
/// issue's bound (overspend ≤ one in-flight reservation's estimate per replica, i.e. 3 ×
/// estimate) and that Redis ends holding exactly the sum of the settled costs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_budget_holds_across_three_replicas_under_192_concurrent_clients() {
    let budget_usd = 0.0002;
    let extra = format!(
        r#"
[teams.research]
budgets = [{{ name = "team-daily", usd = {budget_usd}, period = "day" }}]
[keys.spender]
team = "research"
key_sha256 = "{}"
"#,
        sha("sk-spender")
    );
    let Some(fleet) = fleet(&extra, 1000).await else { return };
    let fleet = Arc::new(fleet);
    let prompt = "Say hi.";
    // The host's estimate: 4 tokens per message + ceil(7/4) = 6 prompt tokens, 16 output.
    let estimate = (6.0 * 0.1 + 16.0 * 0.1) / 1e6;
    let mut clients = Vec::new();
    for client in 0..192 {
        let fleet = fleet.clone();
        clients.push(tokio::spawn(async move {
            let proxy = &fleet.replicas[client % 3];
            let mut refused = 0;
            let mut served = 0;
            let mut unavailable = 0;
            while refused < 3 && served < 50 && unavailable < 20 {
                let reply = chat_as(proxy, "sk-spender", ask("auto", prompt, 16), &[]).await;
                match reply.status.as_u16() {
                    200 => served += 1,
                    429 => {
                        let body = reply.json();
                        assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
                        let message = body["error"]["message"].as_str().unwrap();
                        assert!(message.contains("team-daily") && message.contains("resets at"), "{message}");
                        assert!(reply.header("retry-after").parse::<u64>().unwrap() >= 1);
                        assert!(!reply.header("x-switchyard-budget-remaining-usd").is_empty());
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    // The budget fails closed: a Redis call slower than the timeout on a
                    // loaded machine is a 503, which spends nothing. Retry.
                    503 if reply.json()["error"]["code"] == "limit_state_unavailable" => {
                        unavailable += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    other => panic!("unexpected {other}: {}", String::from_utf8_lossy(&reply.body)),
                }
            }
            served
        }));
    }
    let mut served = 0;
    for client in clients {
        served += client.await.unwrap();
    }
    settled().await;
    let records = records(&fleet);
    let ok: Vec<&DecisionRecord> = records.iter().filter(|r| r.outcome.http_status == 200).collect();
    assert_eq!(ok.len(), served);
    let spent: f64 = ok.iter().map(|r| r.cost_usd.expect("priced")).sum();
    let max_estimate = ok.iter().filter_map(|r| r.governance.as_ref()).map(|g| g.reserved_usd).fold(0.0, f64::max);
    assert!((max_estimate - estimate).abs() < 1e-12, "estimate {max_estimate} vs {estimate}");
    let bound = budget_usd + 3.0 * estimate;
    eprintln!(
        "served {served}, spent ${spent:.9} of ${budget_usd} (bound ${bound:.9}, overspend ${:.9})",
        spent - budget_usd
    );
    assert!(spent <= bound, "overspent: ${spent} > ${bound}");
    assert!(spent >= 0.8 * budget_usd, "the budget was barely used: ${spent}");
    // Every settlement landed once: Redis holds the sum of the actual costs (each rounded up
    // to a nano-dollar).
    let in_redis = fleet.redis.lock().unwrap().counter_sum(&fleet.prefix, "team:research:budget:team-daily");
    let expected: i64 = ok.iter().map(|r| (r.cost_usd.expect("priced") * 1e9).ceil() as i64).sum();
    assert_eq!(in_redis, expected, "redis {in_redis} vs records {expected}");
}

/// Requests per minute across replicas. Within one window the sliding-window counter
/// admits exactly the limit (its tolerance, one 5 s bucket, only shows across windows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_holds_across_replicas() {
    let extra = format!(
        r#"
[teams.ops]
[keys.bot]
team = "ops"
key_sha256 = "{}"
rate_limits = {{ requests_per_minute = 30 }}
"#,
        sha("sk-bot")
    );
    let Some(fleet) = fleet(&extra, 1000).await else { return };
    let fleet = Arc::new(fleet);
    let mut tasks = Vec::new();
    for i in 0..60 {
        let fleet = fleet.clone();
        tasks.push(tokio::spawn(async move {
            chat_as(&fleet.replicas[i % 3], "sk-bot", ask("auto", "hello", 8), &[]).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status.as_u16() {
            200 => ok += 1,
            429 => {
                assert_eq!(reply.json()["error"]["code"], "rate_limit_exceeded");
                assert_eq!(reply.header("x-ratelimit-remaining-requests"), "0");
                assert_eq!(reply.header("x-ratelimit-limit-requests"), "30");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 30);
}

/// A key created on one replica works on all; revoked on one, it is refused on all within
/// a second. A key from the config file is revocable the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_revoked_on_one_replica_are_refused_on_all_within_a_second() {
    let extra =
        format!("\n[teams.research]\n[keys.config-key]\nteam = \"research\"\nkey_sha256 = \"{}\"\n", sha("sk-config"));
    let Some(fleet) = fleet(&extra, 1000).await else { return };
    let created = admin(&fleet.replicas[0], "POST", "/admin/keys", json!({"name": "ci-bot", "team": "research"})).await;
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let created = created.json();
    let (id, secret) = (created["id"].as_str().unwrap().to_string(), created["key"].as_str().unwrap().to_string());
    let bad = admin(&fleet.replicas[0], "POST", "/admin/keys", json!({"name": "x", "team": "nope"})).await;
    assert_eq!(bad.status, 422);
    assert!(String::from_utf8_lossy(&bad.body).contains("unknown team"));

    for (key, revoke) in [(secret.as_str(), id.as_str()), ("sk-config", "config-key")] {
        for proxy in &fleet.replicas {
            let started = Instant::now();
            while chat_as(proxy, key, ask("auto", "hi", 4), &[]).await.status != 200 {
                assert!(started.elapsed() < Duration::from_secs(1), "key not accepted on every replica within 1 s");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let revoked = admin(&fleet.replicas[0], "DELETE", &format!("/admin/keys/{revoke}"), json!({})).await;
        assert_eq!(revoked.status, 200, "{}", String::from_utf8_lossy(&revoked.body));
        let started = Instant::now();
        for proxy in &fleet.replicas {
            loop {
                let reply = chat_as(proxy, key, ask("auto", "hi", 4), &[]).await;
                if reply.status == 401 {
                    break;
                }
                assert_eq!(reply.status, 200);
                assert!(started.elapsed() < Duration::from_secs(1), "revoked key still served after 1 s");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        eprintln!("{revoke}: refused on all replicas after {:?}", started.elapsed());
    }
    let listed = admin(&fleet.replicas[2], "GET", "/admin/keys", json!({})).await.json();
    let keys = listed["keys"].as_array().unwrap();
    assert!(keys.iter().all(|k| k["revoked"] == true), "{listed}");
    assert!(!listed.to_string().contains(&secret), "listings never show secrets");
}

/// A plan is clamped to the key's class before any call; escalation only with approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_are_clamped_to_the_class_and_escalate_only_with_approval() {
    let extra = format!(
        r#"
[teams.research]
class = "basic"
[keys.agent]
team = "research"
key_sha256 = "{}"
escalation = "header"
[keys.locked]
team = "research"
key_sha256 = "{}"
routes = ["climb"]
"#,
        sha("sk-agent"),
        sha("sk-locked")
    );
    let Some(fleet) = fleet(&extra, 1000).await else { return };
    let [a, b, _] = &fleet.replicas[..] else { unreachable!() };

    let clamped = chat_as(a, "sk-agent", ask("climb", "hi", 8), &[]).await;
    assert_eq!(clamped.status, 200);
    assert_eq!(clamped.header("x-switchyard-model"), "small");
    assert_eq!(clamped.header("x-switchyard-dropped"), "large");
    let record = a.record(clamped.header("x-switchyard-request-id")).await;
    let governance = record.governance.unwrap();
    assert_eq!(governance.dropped[0].model, "large");
    assert!(governance.dropped[0].why.contains("ceiling of tier 0"), "{:?}", governance.dropped);
    assert!(record.attempts.iter().all(|a| a.model != "large"), "a dropped step was called");

    let approved = chat_as(b, "sk-agent", ask("climb", "hi", 8), &[("x-switchyard-approve-escalation", "true")]).await;
    assert_eq!(approved.header("x-switchyard-model"), "large");
    // A key without the header privilege sends it in vain.
    let ignored = chat_as(b, "sk-locked", ask("climb", "hi", 8), &[("x-switchyard-approve-escalation", "true")]).await;
    assert_eq!(ignored.header("x-switchyard-model"), "small");
    // Naming the tier-1 model directly does not step around the class.
    let direct = chat_as(a, "sk-agent", ask("large", "hi", 8), &[]).await;
    assert_eq!(direct.status, 403);
    assert_eq!(direct.json()["error"]["code"], "class_forbids_plan");
    // A key bound to one route may not use another, nor a model directly.
    assert_eq!(chat_as(a, "sk-locked", ask("auto", "hi", 8), &[]).await.status, 403);
    assert_eq!(chat_as(a, "sk-locked", ask("small", "hi", 8), &[]).await.status, 403);
    // No key, a wrong key: 401.
    assert_eq!(chat_as(a, "sk-nobody", ask("auto", "hi", 8), &[]).await.status, 401);
}

/// Settlement after a fallback, a retried call, a cascade and a cut stream: Redis holds
/// exactly the actual costs, and each record says how much was refunded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_settle_exactly_after_fallbacks_retries_cascades_and_cut_streams() {
    let extra = format!(
        r#"
[teams.audit]
[keys.settler]
team = "audit"
key_sha256 = "{}"
budgets = [{{ name = "monthly", usd = 10.0, period = "month" }}]
"#,
        sha("sk-settler")
    );
    let Some(fleet) = fleet(&extra, 1000).await else { return };
    let hard = "Prove step by step that the square root of 2 is irrational, then explain why the proof generalises to every prime.";
    let mut cases = vec![
        ("fallback", ask("fallback", "hi", 16)),
        ("retry", ask("flaky", "hi", 16)),
        ("retry", ask("flaky", "hi", 16)),
        ("cascade", ask("gated", hard, 200)),
    ];
    cases.push((
        "cut stream",
        json!({"model": "cutter", "stream": true, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]})
            .to_string(),
    ));
    for (i, (what, body)) in cases.into_iter().enumerate() {
        let reply = chat_as(&fleet.replicas[i % 3], "sk-settler", body, &[]).await;
        assert_eq!(reply.status, 200, "{what}: {}", String::from_utf8_lossy(&reply.body));
    }
    settled().await;
    let records = records(&fleet);
    assert_eq!(records.len(), 5);
    let fallback = records.iter().find(|r| r.route.as_deref() == Some("fallback")).unwrap();
    assert_eq!(fallback.fallbacks(), 1);
    let cascade = records.iter().find(|r| r.route.as_deref() == Some("gated")).unwrap();
    assert_eq!(cascade.escalations(), 1, "{:?}", cascade.attempts);
    let cut = records.iter().find(|r| r.requested_model == "cutter").unwrap();
    assert!(cut.outcome.error.is_some(), "the stream was cut");
    for record in &records {
        let g = record.governance.as_ref().unwrap();
        let delta = g.settled_delta_usd.expect("settled");
        let cost = record.cost_usd.expect("priced");
        assert!((g.reserved_usd + delta - cost).abs() < 1e-8, "{g:?} vs cost {cost}");
        assert!(delta <= 0.0, "the estimate is an upper bound here: {g:?}");
    }
    let in_redis = fleet.redis.lock().unwrap().counter_sum(&fleet.prefix, "key:settler:budget:monthly");
    let expected: i64 = records.iter().map(|r| (r.cost_usd.expect("priced") * 1e9).ceil() as i64).sum();
    assert_eq!(in_redis, expected);
}

/// Redis killed under load and restarted: the fail-closed budget refuses with 503 while it
/// is away, the fail-open rate limit keeps serving and counting locally, no request waits
/// past a few timeouts, nothing crashes, and once Redis is back every replica recovers and
/// hands over what it counted meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_load_follows_each_fail_mode_and_recovers() {
    let extra = format!(
        r#"
[teams.money]
budgets = [{{ name = "guarded", usd = 100.0, period = "day", fail = "closed" }}]
[teams.ops]
[keys.closed]
team = "money"
key_sha256 = "{}"
[keys.open]
team = "ops"
key_sha256 = "{}"
rate_limits = {{ requests_per_minute = 100000, fail = "open" }}
"#,
        sha("sk-closed"),
        sha("sk-open")
    );
    let Some(fleet) = fleet(&extra, 150).await else { return };
    let fleet = Arc::new(fleet);
    let t0 = Instant::now();
    let stop = t0 + Duration::from_millis(4000);
    let mut workers = Vec::new();
    for w in 0..12 {
        let fleet = fleet.clone();
        workers.push(tokio::spawn(async move {
            let key = if w % 2 == 0 { "sk-closed" } else { "sk-open" };
            let mut seen = Vec::new();
            while Instant::now() < stop {
                let sent = Instant::now();
                let reply = chat_as(&fleet.replicas[w % 3], key, ask("auto", "hi", 8), &[]).await;
                seen.push((
                    key,
                    sent - t0,
                    sent.elapsed(),
                    reply.status.as_u16(),
                    reply.json()["error"]["code"].clone(),
                ));
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            seen
        }));
    }
    let killer = {
        let fleet = fleet.clone();
        tokio::task::spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(1000));
            let mut redis = fleet.redis.lock().unwrap();
            redis.kill();
            std::thread::sleep(Duration::from_millis(1200));
            redis.restart();
            (t0.elapsed(), switchyard::state::now_ms())
        })
    };
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let (restarted_at, restart_ms) = killer.await.unwrap();
    let down = Duration::from_millis(1300)..Duration::from_millis(2100);
    let slowest = all.iter().map(|s| s.2).max().unwrap();
    assert!(slowest < Duration::from_secs(2), "a request took {slowest:?}");
    for (key, at, _, status, code) in &all {
        match (*key, *status) {
            ("sk-open", 200) | ("sk-closed", 200) => {}
            ("sk-closed", 503) => assert_eq!(code, "limit_state_unavailable"),
            other => panic!("unexpected {other:?} at {at:?}: {code}"),
        }
    }
    let closed_refused = all.iter().filter(|s| s.0 == "sk-closed" && s.3 == 503 && down.contains(&s.1)).count();
    let closed_during = all.iter().filter(|s| s.0 == "sk-closed" && down.contains(&s.1)).count();
    assert!(
        closed_during > 0 && closed_refused == closed_during,
        "fail closed: {closed_refused} of {closed_during} refused"
    );
    assert!(all.iter().filter(|s| s.0 == "sk-open").all(|s| s.3 == 200), "fail open serves throughout");
    let late = restarted_at + Duration::from_millis(800);
    let after: Vec<_> = all.iter().filter(|s| s.0 == "sk-closed" && s.1 > late).collect();
    assert!(!after.is_empty() && after.iter().all(|s| s.3 == 200), "no recovery: {after:?}");

    // Every replica is back, with its backlog handed over.
    for proxy in &fleet.replicas {
        let started = Instant::now();
        loop {
            let state = admin(proxy, "GET", "/admin/state", json!({})).await.json();
            if state["up"] == true && state["pending_buckets"] == 0 {
                assert!(
                    state["outages"].as_u64().unwrap() >= 1 && state["recoveries"].as_u64().unwrap() >= 1,
                    "{state}"
                );
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(3), "not recovered: {state}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Redis restarted empty; it now holds the open key's requests counted locally during the
    // outage plus those counted in Redis since.
    let records = records(&fleet);
    let open: Vec<_> = records.iter().filter(|r| r.governance.as_ref().is_some_and(|g| g.key == "open")).collect();
    let degraded = open.iter().filter(|r| r.governance.as_ref().unwrap().degraded).count();
    let since = open.iter().filter(|r| !r.governance.as_ref().unwrap().degraded && r.ts_ms >= restart_ms).count();
    assert!(degraded > 0);
    let in_redis = fleet.redis.lock().unwrap().counter_sum(&fleet.prefix, "key:open:rpm");
    assert_eq!(in_redis as usize, degraded + since, "degraded {degraded} + since {since}");
}
