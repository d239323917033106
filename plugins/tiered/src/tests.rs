use super::*;

fn model(id: &str, tier: u32, price: f64) -> ModelInfo {
    let mut m = ModelInfo::new(id, tier);
    m.input_price = price;
    m.output_price = price * 4.0;
    m
}

fn table() -> Vec<ModelInfo> {
    vec![model("large", 2, 10.0), model("small", 0, 1.0), model("tiny", 0, 0.1), model("medium", 1, 0.5)]
}

fn run(config: &str, req: &Request, signals: &[Signal]) -> Result<Plan, String> {
    plan(&parse_config(config).unwrap(), req, signals, &table())
}

#[test]
fn start_tier_counts_the_thresholds_reached() {
    let req = Request::from_user("hi");
    let easy = run("{}", &req, &[Signal::new("complexity.score", 0.2)]).unwrap();
    assert_eq!(easy.steps, ["tiny", "small", "medium"]);
    assert_eq!(easy.reason, "tiered: start tier 0 (score 20%); 3 of 4 models");
    let hard = run("{}", &req, &[Signal::new("complexity.score", 0.7)]).unwrap();
    assert_eq!(hard.steps, ["large", "medium", "tiny"]);
}

#[test]
fn the_metadata_hint_overrides_the_score() {
    let mut req = Request::from_user("hi");
    req.metadata.push(("tier".into(), "1".into()));
    let p = run(r#"{"max_steps": 4}"#, &req, &[Signal::new("complexity.score", 0.9)]).unwrap();
    assert_eq!(p.steps, ["medium", "large", "tiny", "small"]);
    assert!(p.reason.contains("hint tier=1"), "{}", p.reason);
    req.metadata[0].1 = "²".into();
    assert!(run("{}", &req, &[]).unwrap().reason.contains("no complexity.score"));
}

#[test]
fn percentages_round_half_up_and_clamp() {
    assert_eq!(percent(0.125), 13);
    assert_eq!(percent(0.005), 1);
    assert_eq!(percent(-2.0), 0);
    assert_eq!(percent(7.0), 100);
}

#[test]
fn config_is_validated() {
    assert!(parse_config(r#"{"thresholds": [0.7, 0.3]}"#).is_err());
    assert!(parse_config(r#"{"max_steps": 0}"#).is_err());
    assert!(parse_config(r#"{"treshold": 1}"#).unwrap_err().contains("treshold"));
}
