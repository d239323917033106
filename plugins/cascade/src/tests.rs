use super::*;

fn model(id: &str, tier: u32, price: f64) -> ModelInfo {
    let mut m = ModelInfo::new(id, tier);
    m.input_price = price;
    m.output_price = price * 4.0;
    m
}

fn table() -> Vec<ModelInfo> {
    vec![model("large", 2, 10.0), model("small", 1, 1.0), model("tiny", 0, 0.1), model("medium", 1, 0.5)]
}

fn run(config: &str, req: &Request, signals: &[Signal], models: &[ModelInfo]) -> Result<Plan, String> {
    plan(&parse_config(config).unwrap(), req, signals, models)
}

#[test]
fn cheapest_first_by_tier_then_price() {
    let p = run("{}", &Request::from_user("hi"), &[], &table()).unwrap();
    assert_eq!(p.steps, ["tiny", "medium", "small", "large"]);
    assert_eq!(p.reason, "cheapest-first by tier");
}

#[test]
fn start_tier_on_hard_requests() {
    let config = r#"{"start_tier": 1, "start_threshold": 0.6}"#;
    let hard = [Signal::new("complexity.score", 0.81)];
    let mut models = table();
    models[0].healthy = true;
    let p = run(config, &Request::from_user("x"), &hard, &models).unwrap();
    assert_eq!(p.steps, ["medium", "small", "large"]);
    assert_eq!(p.reason, "cheapest-first by tier; complexity.score 0.81 >= 0.6 so start at tier 1");

    let easy = [Signal::new("complexity.score", 0.2)];
    let p = run(config, &Request::from_user("x"), &easy, &models).unwrap();
    assert_eq!(p.steps[0], "tiny");
    assert!(p.reason.ends_with("complexity.score 0.20 < 0.6"), "{}", p.reason);

    let p = run(config, &Request::from_user("x"), &[], &models).unwrap();
    assert_eq!(p.steps[0], "tiny");
    assert!(p.reason.ends_with("no complexity.score signal"), "{}", p.reason);

    let custom = r#"{"start_tier": 2, "start_signal": "domain.code", "start_threshold": 0.5}"#;
    let p = run(custom, &Request::from_user("x"), &[Signal::new("domain.code", 0.5)], &models).unwrap();
    assert_eq!(p.steps, ["large"]);
}

#[test]
fn start_tier_ignored_when_nothing_fits_there() {
    let models = vec![model("tiny", 0, 0.1)];
    let p = run(r#"{"start_tier": 1}"#, &Request::from_user("x"), &[Signal::new("complexity.score", 0.9)], &models)
        .unwrap();
    assert_eq!(p.steps, ["tiny"]);
    assert!(p.reason.contains("but no model fits at tier 1 or above"), "{}", p.reason);
}

#[test]
fn unhealthy_are_skipped_unless_all_are() {
    let mut models = table();
    models[2].healthy = false; // tiny
    let p = run(r#"{"start_tier": 1}"#, &Request::from_user("x"), &[Signal::new("complexity.score", 0.2)], &models)
        .unwrap();
    assert_eq!(p.steps, ["medium", "small", "large"]);
    assert_eq!(p.reason, "cheapest-first by tier; complexity.score 0.20 < 0.6; skipped tiny (unhealthy)");

    for m in &mut models {
        m.healthy = false;
    }
    let p = run("{}", &Request::from_user("x"), &[], &models).unwrap();
    assert_eq!(p.steps.len(), 4);
    assert!(p.reason.contains("every candidate is unhealthy, trying them anyway"), "{}", p.reason);
}

#[test]
fn context_window_must_fit_prompt_and_answer() {
    let mut models = table();
    models[2].context_window = 4096; // tiny
    let mut req = Request::from_user("x");
    req.input_tokens = 3500;
    // 3500 + default reserve 1024 > 4096
    let p = run("{}", &req, &[], &models).unwrap();
    assert_eq!(p.steps[0], "medium");
    assert!(p.reason.contains("excluded tiny (context 4096 < 4524)"), "{}", p.reason);
    req.max_tokens = Some(500);
    assert_eq!(run("{}", &req, &[], &models).unwrap().steps[0], "tiny");
    let p = run(r#"{"default_output_reserve": 100}"#, &Request::from_user("x"), &[], &models).unwrap();
    assert_eq!(p.steps[0], "tiny");
}

#[test]
fn max_tier_tags_tools_and_max_steps() {
    let mut models = table();
    models[0].tags = vec!["json".into(), "tools".into()]; // large
    models[1].tags = vec!["json".into()]; // small
    let req = Request::from_user("x");
    assert_eq!(run(r#"{"max_tier": 1}"#, &req, &[], &models).unwrap().steps, ["tiny", "medium", "small"]);
    assert_eq!(run(r#"{"required_tags": ["json"]}"#, &req, &[], &models).unwrap().steps, ["small", "large"]);
    assert_eq!(run(r#"{"max_steps": 2}"#, &req, &[], &models).unwrap().steps, ["tiny", "medium"]);

    let mut tools = Request::from_user("x");
    tools.has_tools = true;
    assert_eq!(run("{}", &tools, &[], &models).unwrap().steps, ["large"]);
    assert_eq!(run(r#"{"tools_tag": null}"#, &tools, &[], &models).unwrap().steps.len(), 4);
    assert_eq!(run(r#"{"tools_tag": ""}"#, &tools, &[], &models).unwrap().steps.len(), 4);
    // Nobody is tagged: the tag is not required.
    assert_eq!(run("{}", &tools, &[], &table()).unwrap().steps.len(), 4);
}

#[test]
fn nothing_fits_is_an_error() {
    let err = run(r#"{"required_tags": ["vision"]}"#, &Request::from_user("x"), &[], &table()).unwrap_err();
    assert!(err.starts_with("no model fits this request"), "{err}");
    assert!(err.contains("tiny (no tag vision)"), "{err}");
    let err = run("{}", &Request::from_user("x"), &[], &[]).unwrap_err();
    assert!(err.contains("the model table is empty"), "{err}");
}

#[test]
fn config_is_validated() {
    assert_eq!(parse_config("").unwrap(), Config::default());
    assert!(parse_config(r#"{"max_steps": 0}"#).unwrap_err().contains("max_steps"));
    assert!(parse_config(r#"{"start_tier": 3, "max_tier": 1}"#).unwrap_err().contains("start_tier"));
    assert_eq!(
        parse_config(r#"{"required_tags": "json"}"#).unwrap_err(),
        "config key `required_tags`: invalid type: string \"json\", expected a sequence"
    );
    assert!(parse_config(r#"{"max_teir": 1}"#).unwrap_err().contains("unknown field `max_teir`"));
}
