use super::*;

fn config() -> Config {
    Config::default()
}

const QUESTION: &str =
    "James runs 3 sprints 3 times a week. He runs 60 meters each sprint. How many total meters does he run a week?";

#[test]
fn accepts_a_clean_worked_answer() {
    let answer =
        "He runs 3 x 60 = <<3*60=180>>180 meters a session.\nSo 180 x 3 = <<180*3=540>>540 meters a week.\n#### 540";
    // Only the question's three numbers count: (3 − 2) / 5 · 0.3 = 0.06.
    let v = check(&config(), QUESTION, answer);
    assert_eq!(v, Verdict::Accept(0.94), "{v:?}");
}

#[test]
fn escalates_wrong_arithmetic_and_says_why() {
    let answer = "He runs 3 x 60 = <<3*60=160>>160 meters a session.\nSo 160 x 3 = 480.\n#### 480";
    let Verdict::Escalate(why) = check(&config(), QUESTION, answer) else { panic!() };
    assert!(why.starts_with("suspicion 0.8"), "{why}");
    assert!(why.contains("wrong arithmetic `<<3*60=160>>`"), "{why}");
}

#[test]
fn fractional_counts_missing_answers_and_hedges() {
    let f = inspect(&config(), QUESTION, "He runs 3 x 60 = 180 meters, so about 540.5 meters.\n#### 540.5");
    assert_eq!(f.values[2], 1.0);
    assert!(matches!(
        check(&config(), QUESTION, "He runs 3 x 60 = 180 meters, so about 540.5.\n#### 540.5"),
        Verdict::Escalate(_)
    ));
    let f = inspect(&config(), QUESTION, "He runs 3 x 60 = 180 meters a session, 540 in a week");
    assert_eq!(f.values[1], 1.0);
    assert!(f.notes.contains(&"no final answer".to_string()));
    let f = inspect(&config(), QUESTION, "3 x 60 = 180. However, sprints vary.\n#### 540");
    assert_eq!(f.values[3], 1.0);
    assert!((f.suspicion - (1.0 - 0.6 * 0.94)).abs() < 1e-9, "{f:?}");
}

#[test]
fn harder_looking_questions_raise_suspicion() {
    let long =
        format!("{QUESTION} {}", "He also walks 2 km, 4 km and 7 km on other days and rests for 1 day. ".repeat(4));
    let answer = "#### 540";
    let f = inspect(&config(), &long, answer);
    assert!(f.values[5] > 0.0 && f.values[6] == 1.0, "{f:?}");
    assert!(f.values[4] > 0.0);
    assert!(f.suspicion > inspect(&config(), QUESTION, "3 x 60 x 3 = 540\n#### 540").suspicion);
}

#[test]
fn the_threshold_is_the_knob() {
    let answer = "3 x 60 = 180. However, sprints vary.\n#### 540";
    let strict = parse_config(r#"{"threshold": 0.3}"#).unwrap();
    let lax = parse_config(r#"{"threshold": 0.9}"#).unwrap();
    assert!(matches!(check(&strict, QUESTION, answer), Verdict::Escalate(_)));
    assert_eq!(check(&lax, QUESTION, answer), Verdict::Accept(0.564));
    let never = parse_config(r#"{"threshold": 1.01}"#).unwrap();
    assert!(matches!(check(&never, QUESTION, "3 x 60 = 170"), Verdict::Accept(_)));
    let always = parse_config(r#"{"threshold": 0}"#).unwrap();
    assert!(matches!(check(&always, QUESTION, answer), Verdict::Escalate(_)));
}

#[test]
fn non_math_is_accepted_untouched() {
    assert_eq!(check(&config(), "Tell me a joke", "Why did the chicken cross the road?"), Verdict::Accept(1.0));
}

#[test]
fn config_is_validated() {
    assert_eq!(parse_config("").unwrap(), Config::default());
    assert!(parse_config(r#"{"weights": {"arithmetic": 2}}"#).unwrap_err().contains("weights.arithmetic"));
    assert!(parse_config(r#"{"hedges": ["ok", ""]}"#).unwrap_err().contains("hedges[1]"));
    assert!(parse_config(r#"{"max_scan_chars": 0}"#).unwrap_err().contains("max_scan_chars"));
    assert!(parse_config(r#"{"treshold": 0.5}"#).unwrap_err().contains("unknown field `treshold`"));
    let c = parse_config(r#"{"hedges": ["HOWEVER"], "final_markers": ["Answer:"]}"#).unwrap();
    assert_eq!((c.hedges[0].as_str(), c.final_markers[0].as_str()), ("however", "answer:"));
}
