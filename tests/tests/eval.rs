//! `switchyard eval` on a small hand-made data set whose answer is known, with the real
//! first-party plugins built from source.
//!
//! Ten questions, two models:
//!
//! | items | weak | strong | metadata |
//! |---|---|---|---|
//! | alpha … delta (4) | right | right | |
//! | epsilon … eta (3) | wrong, with wrong arithmetic | right | `hard=yes` |
//! | theta (1) | right | wrong | |
//! | iota, kappa (2) | wrong (clean-looking) | wrong | |
//!
//! So weak 50 %, strong 70 %, oracle 80 % with 30 % strong calls.

use std::path::{Path, PathBuf};

use serde_json::json;
use switchyard::eval::{self, EvalError, EvalOptions, Report, replay::ReplayError};
use switchyard_tests::guests;

const NAMES: [&str; 10] = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"];

/// (weak right, strong right, weak answer has wrong arithmetic)
fn truth(i: usize) -> (bool, bool, bool) {
    match i {
        0..=3 => (true, true, false),
        4..=6 => (false, true, true),
        7 => (true, false, false),
        _ => (false, false, false),
    }
}

fn question(i: usize) -> String {
    format!("What is 2 + 2? (question {})", NAMES[i])
}

fn write_jsonl(dir: &Path, with_answers: bool) -> PathBuf {
    let mut text = String::new();
    for (i, name) in NAMES.iter().enumerate() {
        let (weak, strong, bad_arithmetic) = truth(i);
        let weak_answer = if bad_arithmetic { "2 + 2 = 5\n#### 5" } else { "2 + 2 = 4\n#### 4" };
        let result = |correct: bool, answer: &str| {
            if with_answers { json!({"correct": correct, "answer": answer}) } else { json!(correct) }
        };
        let mut line = json!({
            "id": name,
            "prompt": question(i),
            "results": {"weak-model": result(weak, weak_answer), "strong-model": result(strong, "2 + 2 = 4\n#### 4")},
        });
        if bad_arithmetic {
            line["metadata"] = json!({"hard": "yes"});
        }
        text.push_str(&line.to_string());
        text.push('\n');
    }
    let path = dir.join("known.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

fn write_config(dir: &Path) -> PathBuf {
    let config = format!(
        r#"
[runtime]
cache_dir = {cache:?}
# Low, so that a sweep holding every value's plugin copy at once would run out.
max_instances = 60

[providers.offline]
base_url = "http://127.0.0.1:9/v1"

[models.small]
provider = "offline"
tier = 0
input_price = 1.0
output_price = 1.0

[models.large]
provider = "offline"
tier = 1
input_price = 10.0
output_price = 10.0

[plugins.perfect]
kind = "policy"
path = {static_routes:?}
config = {{ rules = [{{ when = {{ hard = "yes" }}, plan = ["large"] }}], default = ["small"] }}

[plugins.always-small]
kind = "policy"
path = {static_routes:?}
config = {{ default = ["small"] }}

[plugins.always-large]
kind = "policy"
path = {static_routes:?}
config = {{ default = ["large"] }}

# Not in the data: only the `mid-first` route plans it.
[models.mid]
provider = "offline"
tier = 2
input_price = 5.0
output_price = 5.0

[plugins.mid-first]
kind = "policy"
path = {static_routes:?}
config = {{ default = ["mid", "large"] }}

[plugins.failing]
kind = "policy"
path = {bad_policy:?}
config = {{ mode = "err" }}

[plugins.cascade]
kind = "policy"
path = {cascade:?}
config = {{ max_tier = 1 }}

[plugins.math-check]
kind = "gate"
path = {math_check:?}

[plugins.difficulty]
kind = "classifier"
path = {difficulty:?}

[plugins.start-by-difficulty]
kind = "policy"
path = {cascade:?}
config = {{ start_tier = 1, start_signal = "difficulty.score", max_tier = 1 }}

[routes.perfect]
policy = "perfect"
default_plan = ["small"]

[routes.weak]
policy = "always-small"
default_plan = ["small"]

[routes.strong]
policy = "always-large"
default_plan = ["large"]

[routes.cascade]
policy = "cascade"
gates = ["math-check"]
default_plan = ["small", "large"]

[routes.mid-first]
policy = "mid-first"
default_plan = ["small"]

[routes.failing]
policy = "failing"
default_plan = ["large"]

[routes.pre-route]
classifiers = ["difficulty"]
policy = "start-by-difficulty"
default_plan = ["small", "large"]
"#,
        // Compiled plugins are shared by the tests (and runs): keyed by content hash.
        cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("eval-plugin-cache"),
        static_routes = guests::STATIC_ROUTES,
        cascade = guests::CASCADE,
        math_check = guests::MATH_CHECK,
        bad_policy = guests::BAD_POLICY,
        difficulty = guests::DIFFICULTY,
    );
    let path = dir.join("eval.toml");
    std::fs::write(&path, config).unwrap();
    path
}

struct Fixture {
    _dir: tempfile::TempDir,
    config: PathBuf,
    data: PathBuf,
}

fn fixture(with_answers: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let data = write_jsonl(dir.path(), with_answers);
    Fixture { _dir: dir, config, data }
}

fn options(f: &Fixture, route: &str) -> EvalOptions {
    let mut options = EvalOptions::new(&f.config, route, vec![f.data.clone()]);
    options.model_map = vec!["small=weak-model,large=strong-model".into()];
    options.threads = 2;
    options
}

fn run(f: &Fixture, route: &str, sweep: Option<&str>) -> Report {
    let mut options = options(f, route);
    options.sweep = sweep.map(str::to_string);
    eval::run(&options).unwrap_or_else(|e| panic!("eval of route {route}: {e}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Cost of one call of `price` per million tokens: the prompt is estimated at ~4 characters a
/// token + 4 for the message, the answer from its text.
fn call_cost(i: usize, price: f64, answer: &str) -> f64 {
    let input = question(i).chars().count().div_ceil(4) + 4;
    let output = answer.chars().count().div_ceil(4);
    (input + output) as f64 * price / 1e6
}

#[test]
fn the_baselines_are_what_the_table_says() {
    let f = fixture(true);
    let report = run(&f, "weak", None);
    let all = &report.parts[0];
    assert_eq!(report.items, 10);
    assert!(close(all.weak_accuracy, 0.5) && close(all.strong_accuracy, 0.7) && close(all.oracle_accuracy, 0.8));
    assert_eq!((report.weak.as_str(), report.strong.as_str()), ("small", "large"));
    // The oracle: 3 gains out of 10 recover the gap (0.2) at 20/3 % of the calls per 10 %.
    let oracle = all.oracle;
    assert!(close(oracle.cpt50.unwrap(), 0.1) && close(oracle.cpt80.unwrap(), 0.16), "{oracle:?}");
    assert!(close(all.random.apgr.unwrap(), 0.5) && close(all.random.cpt50.unwrap(), 0.5));
}

#[test]
fn a_constant_policy_reproduces_the_single_model_points() {
    let f = fixture(true);
    for (route, model, strong_calls) in [("weak", 0, 0.0), ("strong", 1, 1.0)] {
        let report = run(&f, route, None);
        let all = &report.parts[0];
        let point = &all.points[0];
        let single = &all.single[model];
        assert!(close(point.accuracy, single.accuracy), "{route}: {} vs {}", point.accuracy, single.accuracy);
        assert!(close(point.cost, single.cost), "{route}: {} vs {}", point.cost, single.cost);
        assert!(close(point.strong_calls, strong_calls), "{route}");
        assert_eq!(point.plugin_failures, 0);
    }
    // And the single-model costs are prices × the estimated tokens.
    let all = &run(&f, "weak", None).parts[0];
    let weak_cost: f64 = (0..10)
        .map(|i| call_cost(i, 1.0, if truth(i).2 { "2 + 2 = 5\n#### 5" } else { "2 + 2 = 4\n#### 4" }))
        .sum::<f64>()
        / 10.0;
    assert!(close(all.single[0].cost, weak_cost), "{} vs {weak_cost}", all.single[0].cost);
}

#[test]
fn a_perfect_router_reproduces_the_oracle() {
    let f = fixture(true);
    let report = run(&f, "perfect", None);
    let all = &report.parts[0];
    let point = &all.points[0];
    // Exactly the three items only the strong model gets go to it.
    assert!(close(point.strong_calls, 0.3) && close(point.accuracy, all.oracle_accuracy), "{point:?}");
    let knee = all.oracle_curve.iter().find(|p| close(p.accuracy, all.oracle_accuracy)).unwrap();
    assert!(close(point.strong_calls, knee.strong) && close(point.cost, knee.cost), "{point:?} vs {knee:?}");
    assert!(close(all.policy.cpt50.unwrap(), all.oracle.cpt50.unwrap()));
    assert!(close(all.policy.cpt80.unwrap(), all.oracle.cpt80.unwrap()));
}

#[test]
fn a_cascade_gate_sweep_spans_weak_oracle_and_strong() {
    let f = fixture(true);
    let report = run(&f, "cascade", Some("math-check.threshold=0,0.5,1.01"));
    assert_eq!(report.knob.as_deref(), Some("math-check.threshold"));
    let all = &report.parts[0];
    let got: Vec<(f64, f64)> = all.points.iter().map(|p| (p.strong_calls, p.accuracy)).collect();
    // Threshold 0 escalates everything, 0.5 exactly the wrong-arithmetic answers, 1.01 nothing.
    let want = [(1.0, 0.7), (0.3, 0.8), (0.0, 0.5)];
    for (g, w) in got.iter().zip(want) {
        assert!(close(g.0, w.0) && close(g.1, w.1), "{got:?} vs {want:?}");
    }
    // A cascade pays the weak call for every item plus the strong call for each escalation.
    let everything = &all.points[0];
    assert!(close(everything.cost, all.single[0].cost + all.single[1].cost), "{everything:?}");
    assert!(close(everything.escalated, 1.0));
    assert!(close(all.points[1].calls[0], 1.0) && close(all.points[1].calls[1], 0.3));
    // The gate is as good as the oracle here, so it recovers half the gap at the oracle's CPT.
    assert!(close(all.policy.cpt50.unwrap(), all.oracle.cpt50.unwrap()));
}

#[test]
fn a_classifier_sweep_runs_every_value_through_the_real_plugins() {
    let f = fixture(true);
    let report = run(&f, "pre-route", Some("start-by-difficulty.start_threshold=0:1:0.25"));
    let all = &report.parts[0];
    assert_eq!(all.points.len(), 5);
    // Threshold 0: every question is "hard" and starts at the large model.
    assert!(close(all.points[0].strong_calls, 1.0) && close(all.points[0].accuracy, 0.7));
    // Short questions score ~0: past that nothing starts large.
    assert!(close(all.points[4].strong_calls, 0.0) && close(all.points[4].accuracy, 0.5));
    assert_eq!(report.timing.decisions, 50);
    assert_eq!(report.timing.plugin_calls, 100);
}

#[test]
fn fail_modes_and_unmapped_models_behave_as_in_the_proxy() {
    let f = fixture(true);
    // A policy that fails falls back to the route's default plan (here: the large model).
    let report = run(&f, "failing", None);
    let point = &report.parts[0].points[0];
    assert_eq!((point.default_plan, point.plugin_failures), (10, 10));
    assert!(close(point.accuracy, 0.7) && close(point.strong_calls, 1.0));
    assert!(report.warnings.iter().any(|w| w.contains("bad-policy refuses to route")), "{:?}", report.warnings);
    // A plan step naming a model the data lacks is an upstream failure: the next step answers.
    let report = run(&f, "mid-first", None);
    let point = &report.parts[0].points[0];
    assert_eq!(point.unmapped_steps, 10);
    assert!(close(point.accuracy, 0.7) && close(point.strong_calls, 1.0));
    assert!(
        report.warnings.iter().any(|w| w.contains("10 plan steps named models without data (mid)")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn a_long_sweep_keeps_one_plugin_copy_alive_at_a_time() {
    let f = fixture(true);
    // 201 copies of the gate, each with warm instances, would be far past `max_instances`.
    let report = run(&f, "cascade", Some("math-check.threshold=0:1:0.005"));
    let all = &report.parts[0];
    assert_eq!(all.points.len(), 201);
    assert_eq!(all.points.iter().map(|p| p.plugin_failures).sum::<u64>(), 0, "{:?}", report.warnings);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn replay_is_deterministic() {
    let f = fixture(true);
    let a = serde_json::to_value(run(&f, "cascade", Some("math-check.threshold=0:1:0.1")).parts).unwrap();
    let b = serde_json::to_value(run(&f, "cascade", Some("math-check.threshold=0:1:0.1")).parts).unwrap();
    assert_eq!(a, b);
}

#[test]
fn gates_need_the_answer_text() {
    let f = fixture(false);
    let error = eval::run(&options(&f, "cascade")).unwrap_err();
    assert!(
        matches!(&error, EvalError::Replay(ReplayError::NoAnswerText { model, .. }) if model == "small"),
        "{error}"
    );
    // A pre-route policy needs none.
    assert!(eval::run(&options(&f, "perfect")).is_ok());
}

#[test]
fn unpriced_models_are_refused_with_the_model_named() {
    let f = fixture(true);
    let text = std::fs::read_to_string(&f.config).unwrap();
    let unpriced = format!("{text}\n[models.gratis]\nprovider = \"offline\"\nupstream = \"sim-small\"\n");
    std::fs::write(&f.config, unpriced).unwrap();
    let error = eval::run(&options(&f, "cascade")).unwrap_err();
    assert!(matches!(&error, EvalError::Unpriced { model, .. } if model == "gratis"), "{error}");
    assert!(error.to_string().contains("input_price and output_price"), "{error}");
}

#[test]
fn holdout_parts_partition_the_items() {
    let f = fixture(true);
    let mut options = options(&f, "perfect");
    options.holdout_percent = 40;
    let report = eval::run(&options).unwrap();
    let names: Vec<&str> = report.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["all", "dev", "holdout"]);
    assert_eq!(report.parts[1].items + report.parts[2].items, 10);
}

#[test]
fn errors_name_what_to_fix() {
    let f = fixture(true);
    let mut bad_route = options(&f, "nope");
    bad_route.model_map.clear();
    let e = eval::run(&bad_route).unwrap_err().to_string();
    assert!(e.contains("route `nope` is not in") && e.contains("cascade, failing, mid-first"), "{e}");
    let mut unmapped = options(&f, "weak");
    unmapped.model_map = vec!["small=gpt-5".into()];
    let e = eval::run(&unmapped).unwrap_err().to_string();
    assert!(e.contains("`gpt-5` is not a model of the data"), "{e}");
    let mut sweep = options(&f, "weak");
    sweep.sweep = Some("math-check.threshold=0,1".into());
    let e = eval::run(&sweep).unwrap_err().to_string();
    assert!(e.contains("plugin `math-check` is not on route `weak`"), "{e}");
    let mut bad_value = options(&f, "cascade");
    bad_value.sweep = Some("math-check.threshold=x".into());
    let e = eval::run(&bad_value).unwrap_err().to_string();
    assert!(e.contains("--sweep math-check.threshold=\"x\"") && e.contains("threshold"), "{e}");
}

#[test]
fn routellm_csv_table_json_and_svg() {
    let f = fixture(true);
    let dir = f.data.parent().unwrap();
    let mut csv = String::from("prompt,weak-model,strong-model,weak-model_response,strong-model_response\n");
    for i in 0..NAMES.len() {
        let (weak, strong, bad) = truth(i);
        let answer = if bad { "\"2 + 2 = 5\n#### 5\"" } else { "\"2 + 2 = 4\n#### 4\"" };
        let title = |b: bool| if b { "True" } else { "False" };
        csv.push_str(&format!("\"{}\",{},{},{answer},\"#### 4\"\n", question(i), title(weak), title(strong)));
    }
    let path = dir.join("known.csv");
    std::fs::write(&path, csv).unwrap();
    let mut options = options(&f, "cascade");
    options.data = vec![path];
    options.model_map = vec!["small=weak,large=strong".into()];
    options.sweep = Some("math-check.threshold=0:1:0.5".into());
    let report = eval::run(&options).unwrap();
    assert_eq!(report.models[0].data_name, "weak-model");
    assert!(close(report.parts[0].points[1].accuracy, 0.8));

    let table = eval::table::render(&report);
    assert!(table.contains("route `cascade`") && table.contains("APGR") && table.contains("oracle"), "{table}");
    let svg = eval::svg::render(&report);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>") && svg.contains("polyline"));
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["parts"][0]["points"].as_array().unwrap().len(), 3);
    assert!(json["parts"][0]["policy"]["apgr"].is_number());
}

/// The strongest check of "eval decides as the proxy does": the same requests go through a
/// real proxy (over HTTP, to the simulated upstream) and through eval's replay on that proxy's
/// own snapshot, with the simulator's answers as the data. Every request must end at the same
/// model after the same number of attempts.
#[tokio::test]
async fn replay_matches_the_live_proxy() {
    use switchyard::eval::data::{Item, ModelResult};
    use switchyard::eval::mapping;
    use switchyard::eval::replay::{self, Models, ReplayOptions};
    use switchyard::plugin::Message;
    use switchyard::sim::answer::{Quality, answer};
    use switchyard::telemetry::decision::AttemptOutcome;
    use switchyard_tests::proxy::{Proxy, chat, render, simulator};

    let sim = simulator().await;
    let config = render(
        r#"
[providers.sim]
base_url = "{SIM}"
[models.small]
provider = "sim"
upstream = "sim-small"
tier = 0
input_price = 0.15
output_price = 0.6
[models.large]
provider = "sim"
upstream = "sim-large"
tier = 1
input_price = 2.5
output_price = 10.0
[plugins.complexity]
kind = "classifier"
path = "{GUEST:COMPLEXITY}"
[plugins.cascade]
kind = "policy"
path = "{GUEST:CASCADE}"
config = { start_tier = 1, start_threshold = 0.5 }
[plugins.sanity]
kind = "gate"
path = "{GUEST:SANITY}"
config = { min_mean_logprob = -1.0 }
[plugins.math]
kind = "gate"
path = "{GUEST:MATH_CHECK}"
[routes.auto]
classifiers = ["complexity"]
policy = "cascade"
gates = ["sanity", "math"]
default_plan = ["small", "large"]
"#,
        sim,
    );
    let proxy = Proxy::start(&config).await;
    let prompts = [
        "What is the capital of France?",
        "Say hello.",
        "Prove step by step that there are infinitely many primes, then explain why the proof fails for a finite list.",
        "Explain step by step why this Rust code fails to compile and fix it:\n```rust\nfn main() { let s = String::new(); let r = &s; drop(s); println!(\"{r}\"); }\n```",
        "Compare the trade-offs of B-trees and LSM trees for write-heavy workloads, first in theory, then with numbers.",
        "Tom has 3 boxes of 12 pencils and gives away 10. How many are left?",
        "Solve 3x + 2 = 11 and explain each step.",
        "Write a haiku about rain.",
        "Derive the closed form of the sum 1 + 2 + ... + n and prove it by induction, step by step.",
        "List three colours.",
        "Why is the sky blue? Explain why, step by step, and compare it with sunsets.",
        "Translate 'good morning' into Spanish.",
    ];
    let mut live = Vec::new();
    for prompt in prompts {
        let body = json!({"model": "auto", "logprobs": true, "messages": [{"role": "user", "content": prompt}]});
        let reply = chat(&proxy, body).await;
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        let record = proxy.records.lock().unwrap().last().cloned().expect("a decision record");
        let returned = record.attempts.iter().find(|a| a.outcome == AttemptOutcome::Returned).map(|a| a.model.clone());
        live.push((returned, record.attempts.len()));
    }

    // The data: each model's answer as the simulator gives it, with what a gate sees of it.
    let items: Vec<Item> = prompts
        .iter()
        .enumerate()
        .map(|(i, prompt)| {
            let body = json!({"messages": [{"role": "user", "content": prompt}]});
            let body = body.as_object().unwrap();
            let result = |model: &str, quality| {
                let a = answer(model, quality, body);
                let mean = a.logprobs.iter().sum::<f64>() / a.logprobs.len() as f64;
                Some(ModelResult {
                    score: 1.0,
                    answer: Some(a.content),
                    finish_reason: Some(a.finish_reason.to_string()),
                    mean_logprob: Some(mean),
                    input_tokens: Some(a.prompt_tokens),
                    output_tokens: Some(a.completion_tokens),
                    cost_usd: None,
                })
            };
            Item {
                id: format!("p{i}"),
                group: "parity".into(),
                messages: vec![Message { role: "user".into(), content: prompt.to_string() }],
                metadata: vec![],
                results: vec![result("sim-small", Quality::Small), result("sim-large", Quality::Large)],
            }
        })
        .collect();
    let snapshot = proxy.app.snapshot();
    let dataset = switchyard::eval::data::Dataset {
        models: vec!["small".into(), "large".into()],
        items: items.clone(),
        ..Default::default()
    };
    let config_models: Vec<mapping::ConfigModel> = snapshot
        .model_order
        .iter()
        .map(|id| mapping::ConfigModel { id: id.clone(), input_price: 0.0, output_price: 0.0 })
        .collect();
    let map = mapping::build(&config_models, &dataset, &[]).unwrap();
    let route = &snapshot.routes["auto"];
    let models = Models {
        table: snapshot.model_table(&switchyard::provider::HealthBook::new(Default::default()), Some(route)),
        entries: snapshot.models.clone(),
    };
    let mut replayed: Vec<(Option<String>, usize)> = Vec::new();
    for item in &items {
        let prepared = replay::prepare(item, "auto", &map, &ReplayOptions::default());
        let d = replay::decide_async(route, &models, &map, &prepared).await.unwrap();
        let calls = d.calls.iter().sum::<u32>() as usize;
        replayed.push((d.answered_by.map(|m| map.models[m].id.clone()), calls));
    }
    assert_eq!(replayed, live, "eval and the proxy disagree (left: eval, right: proxy)");
    // The mix is worth checking: some requests escalate, some start large, some stay small.
    let attempts: Vec<usize> = live.iter().map(|l| l.1).collect();
    assert!(attempts.contains(&2), "{live:?}");
    assert!(live.iter().any(|l| l.0.as_deref() == Some("small")), "{live:?}");
    assert!(live.iter().any(|l| l.0.as_deref() == Some("large") && l.1 == 1), "{live:?}");
}
