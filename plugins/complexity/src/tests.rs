use super::*;

fn signals(text: &str) -> Vec<Signal> {
    classify(&Request::from_user(text), &Config::default())
}

fn get(signals: &[Signal], name: &str) -> f64 {
    switchyard_plugin_sdk::signal_value(signals, name).unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn emits_every_signal_in_range() {
    let s = signals("hello");
    let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "complexity.length",
            "complexity.code",
            "complexity.math",
            "complexity.reasoning",
            "complexity.questions",
            "complexity.json",
            "complexity.score"
        ]
    );
    assert!(s.iter().all(|s| (0.0..=1.0).contains(&s.value)));
}

#[test]
fn small_talk_is_simple() {
    for text in ["Hi! How are you?", "What is the capital of France?", "Thanks, that helped."] {
        let score = get(&signals(text), "complexity.score");
        assert!(score < 0.2, "{text}: {score}");
    }
}

#[test]
fn code_is_detected() {
    let s = signals(
        "Why does this panic?\n```rust\nfn main() {\n    let v: Vec<i32> = vec![];\n    println!(\"{}\", v[0]);\n}\n```\n\
         thread 'main' panicked at src/main.rs:3:20",
    );
    assert!(get(&s, "complexity.code") > 0.8, "{s:?}");
    assert!(get(&s, "complexity.score") >= 0.6, "{s:?}");
    assert!(get(&signals("Tell me a story about a dragon."), "complexity.code") < 0.1);
}

#[test]
fn math_is_detected() {
    let s = signals("Solve for x: 3x + 2 = 11, then find the derivative of x^2 + 3x.");
    assert!(get(&s, "complexity.math") > 0.7, "{s:?}");
    let s = signals("Compute $$\\int_0^1 x^2 dx$$");
    assert!(get(&s, "complexity.math") >= 0.5, "{s:?}");
    assert_eq!(get(&signals("I met her in the morning at the station."), "complexity.math"), 0.0);
}

#[test]
fn reasoning_and_questions() {
    let s = signals(
        "Compare Raft and Paxos step by step and explain why leader election matters. \
         First describe the failure model, then the trade-offs.",
    );
    assert!(get(&s, "complexity.reasoning") >= 0.9, "{s:?}");
    assert!(get(&s, "complexity.score") >= 0.6, "{s:?}");
    let s = signals("Who? What? When? Where? Why?");
    assert_eq!(get(&s, "complexity.questions"), 1.0);
}

#[test]
fn json_and_length() {
    let mut req = Request::from_user("list three colors");
    assert_eq!(get(&classify(&req, &Config::default()), "complexity.json"), 0.0);
    req.wants_json = true;
    assert_eq!(get(&classify(&req, &Config::default()), "complexity.json"), 1.0);
    assert_eq!(get(&signals("answer in JSON please"), "complexity.json"), 0.6);

    let mut req = Request::from_user("x");
    req.input_tokens = 2000;
    assert_eq!(get(&classify(&req, &Config::default()), "complexity.length"), 0.5);
    req.input_tokens = 1_000_000;
    assert_eq!(get(&classify(&req, &Config::default()), "complexity.length"), 1.0);
}

#[test]
fn score_is_noisy_or_of_weighted_signals() {
    let config =
        parse_config(r#"{"weights": {"length": 0, "code": 1, "math": 0, "reasoning": 0, "questions": 0, "json": 0}}"#)
            .unwrap();
    let s = classify(&Request::from_user("```\nfn x() {}\n```"), &config);
    assert_eq!(get(&s, "complexity.score"), get(&s, "complexity.code"));
}

#[test]
fn scope_selects_messages() {
    let mut req = Request::from_user("```rust\nfn main() {}\n```");
    req.messages.push(Message::new("assistant", "ok"));
    req.messages.push(Message::new("user", "thanks"));
    let last = parse_config(r#"{"scope": "last-user"}"#).unwrap();
    assert_eq!(get(&classify(&req, &last), "complexity.code"), 0.0);
    assert!(get(&classify(&req, &Config::default()), "complexity.code") > 0.5);
}

#[test]
fn deterministic_and_bounded() {
    let big = "Why? ```x = 1 + 2``` ".repeat(50_000);
    let a = signals(&big);
    assert_eq!(a, signals(&big));
    assert!(a.iter().all(|s| (0.0..=1.0).contains(&s.value)));
}

#[test]
fn config_errors_are_precise() {
    assert_eq!(parse_config("").unwrap(), Config::default());
    assert_eq!(
        parse_config(r#"{"weights": {"code": 2}}"#).unwrap_err(),
        "config key `weights.code`: expected a number in 0..=1, got 2"
    );
    assert!(parse_config(r#"{"weights": {"cod": 1}}"#).unwrap_err().contains("unknown field `cod`"));
    assert!(parse_config(r#"{"scope": "everything"}"#).unwrap_err().starts_with("config key `scope`: unknown variant"));
    assert!(parse_config(r#"{"length_saturation_tokens": 0}"#).is_err());
}

#[test]
#[ignore = "timing probe, run by hand"]
fn timing_probe() {
    let req = Request::from_user(
        "Explain step by step why this fails to compile, then fix it:\n```rust\nfn main() { let s = String::new(); let r = &s; drop(s); println!(\"{r}\"); }\n```",
    );
    let config = Config::default();
    let started = std::time::Instant::now();
    for _ in 0..20_000 {
        std::hint::black_box(classify(std::hint::black_box(&req), &config));
    }
    eprintln!("classify: {:?} per call", started.elapsed() / 20_000);
}
