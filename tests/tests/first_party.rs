//! The first-party plugins, built from source, run through the real host: each one's
//! documented behaviour holds across the component boundary.

use serde_json::json;
use switchyard::plugin::{self, Candidate, ModelInfo, PluginKind, Request, Verdict, samples};
use switchyard_tests::{engine, guests, spec, user_request};

fn load(kind: PluginKind, path: &str, config: serde_json::Value) -> plugin::Plugin {
    plugin::load_blocking(&engine(), spec("p", kind, path, config)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn signal(signals: &[switchyard::plugin::Signal], name: &str) -> f64 {
    signals.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no {name} in {signals:?}")).value
}

fn answer(content: &str, finish_reason: &str) -> Candidate {
    Candidate {
        model: "small".into(),
        content: content.into(),
        finish_reason: finish_reason.into(),
        input_tokens: 10,
        output_tokens: 10,
        mean_logprob: None,
        last_step: false,
        tool_calls: Vec::new(),
        refusal: None,
    }
}

#[test]
fn complexity_scores_hard_prompts_above_easy_ones() {
    let plugin = load(PluginKind::Classifier, guests::COMPLEXITY, json!({}));
    let easy = plugin.classify_blocking(&user_request("What is the capital of France?")).unwrap();
    let hard = plugin
        .classify_blocking(&user_request(
            "Prove step by step that there are infinitely many primes, then write a Rust function `fn nth_prime(n: usize) -> u64` and explain its complexity.",
        ))
        .unwrap();
    for name in ["complexity.length", "complexity.code", "complexity.math", "complexity.reasoning", "complexity.score"]
    {
        let value = signal(&hard, name);
        assert!((0.0..=1.0).contains(&value), "{name}={value}");
    }
    assert!(signal(&hard, "complexity.score") > signal(&easy, "complexity.score") + 0.3);
    assert!(signal(&hard, "complexity.code") > signal(&easy, "complexity.code"), "{hard:?}");
    assert!(signal(&hard, "complexity.reasoning") > 0.5, "{hard:?}");
    // Bad config is refused at load, naming the key.
    let err = plugin::load_blocking(
        &engine(),
        spec("p", PluginKind::Classifier, guests::COMPLEXITY, json!({"weights": {"code": "x"}})),
    )
    .unwrap_err();
    assert!(err.to_string().contains("weights"), "{err}");
}

#[test]
fn cascade_orders_cheapest_first_and_skips_what_cannot_serve() {
    let plugin = load(PluginKind::Policy, guests::CASCADE, json!({"start_tier": 1, "start_threshold": 0.6}));
    let mut models = samples::models();
    models.push(ModelInfo {
        id: "tiny".into(),
        tier: 0,
        input_price: 0.01,
        output_price: 0.02,
        context_window: 10,
        tags: vec![],
        healthy: true,
        p50_ms: 0,
        error_rate: 0.0,
    });
    let request = user_request("hello");
    let plan = plugin.route_blocking(&request, &[], &models).unwrap();
    assert_eq!(plan.steps, ["small", "large"], "tiny's context window is too small: {}", plan.reason);
    // A complex request starts at tier 1.
    let score = switchyard::plugin::Signal { name: "complexity.score".into(), value: 0.9, label: None };
    assert_eq!(plugin.route_blocking(&request, &[score], &models).unwrap().steps, ["large"]);
    // An unhealthy model is skipped.
    models[0].healthy = false;
    let plan = plugin.route_blocking(&request, &[], &models).unwrap();
    assert_eq!(plan.steps, ["large"], "{}", plan.reason);
}

#[test]
fn static_routes_map_metadata_to_a_fixed_plan() {
    let plugin = load(
        PluginKind::Policy,
        guests::STATIC_ROUTES,
        json!({"rules": [{"when": {"tenant": "acme"}, "plan": ["large"], "reason": "acme pays for quality"}], "default": ["small", "large"]}),
    );
    let mut request: Request = user_request("hi");
    request.metadata = vec![("tenant".into(), "acme".into())];
    let plan = plugin.route_blocking(&request, &[], &samples::models()).unwrap();
    assert_eq!((plan.steps.as_slice(), plan.reason.as_str()), (&["large".to_string()][..], "acme pays for quality"));
    request.metadata = vec![("tenant".into(), "other".into())];
    assert_eq!(plugin.route_blocking(&request, &[], &samples::models()).unwrap().steps, ["small", "large"]);
}

#[test]
fn sanity_escalates_empty_truncated_refusing_and_repetitive_answers() {
    let plugin = load(PluginKind::Gate, guests::SANITY, json!({"min_mean_logprob": -1.5}));
    let request = user_request("Explain TCP slow start.");
    let good = "TCP slow start grows the congestion window exponentially until a loss or the threshold.";
    assert!(matches!(plugin.check_blocking(&request, &answer(good, "stop")).unwrap(), Verdict::Accept(_)));
    let repetitive = "the same words again ".repeat(40);
    let mut low_confidence = answer(good, "stop");
    low_confidence.mean_logprob = Some(-3.0);
    for (case, candidate) in [
        ("empty", answer("   ", "stop")),
        ("truncated", answer(good, "length")),
        ("refusal", answer("I'm sorry, but I can't help with that.", "stop")),
        ("repetition", answer(&repetitive, "stop")),
        ("low logprob", low_confidence),
    ] {
        let verdict = plugin.check_blocking(&request, &candidate).unwrap();
        assert!(matches!(verdict, Verdict::Escalate(_)), "{case}: {verdict:?}");
    }
}

#[test]
fn the_json_gate_checks_json_and_schemas_only_when_asked() {
    let plugin = load(PluginKind::Gate, guests::JSON_GATE, json!({}));
    let mut request = user_request("a cat as JSON");
    assert!(
        matches!(plugin.check_blocking(&request, &answer("not json", "stop")).unwrap(), Verdict::Accept(_)),
        "JSON not asked for"
    );
    request.wants_json = true;
    assert!(matches!(
        plugin.check_blocking(&request, &answer("here you go: {", "stop")).unwrap(),
        Verdict::Escalate(_)
    ));
    assert!(matches!(
        plugin.check_blocking(&request, &answer(r#"{"name": "Tom"}"#, "stop")).unwrap(),
        Verdict::Accept(_)
    ));
    request.json_schema = Some(
        json!({"type": "object", "required": ["name", "age"], "properties": {"age": {"type": "integer"}}}).to_string(),
    );
    assert!(matches!(
        plugin.check_blocking(&request, &answer(r#"{"name": "Tom"}"#, "stop")).unwrap(),
        Verdict::Escalate(_)
    ));
    assert!(matches!(
        plugin.check_blocking(&request, &answer(r#"{"name": "Tom", "age": 3}"#, "stop")).unwrap(),
        Verdict::Accept(_)
    ));
    assert!(matches!(
        plugin.check_blocking(&request, &answer("```json\n{\"name\": \"Tom\", \"age\": 3}\n```", "stop")).unwrap(),
        Verdict::Accept(_)
    ));
}
