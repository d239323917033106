use std::path::PathBuf;

use switchyard_features::model::Scorer;
use switchyard_features::vector::{self, Kind, Phrases};

use super::*;

/// A labelled set where the strong model wins exactly on questions about contracts: a router
/// that reads the prompt can learn it. Each line varies so that prompts are distinct.
pub(crate) fn write_data(dir: &std::path::Path, hard_topic: &str, n: usize) -> PathBuf {
    let topics = [
        ("contracts", "Under the statute, is the contract clause {i} enforceable against the lessee?"),
        ("baking", "How long should I bake loaf number {i} of sourdough bread at 220 degrees?"),
    ];
    let mut lines = Vec::new();
    for i in 0..n {
        let (topic, template) = topics[i % 2];
        let prompt = template.replace("{i}", &i.to_string());
        let hard = topic == hard_topic;
        let answer = if hard { format!("I think it is probably clause {i}, however...") } else { format!("#### {i}") };
        lines.push(
            serde_json::json!({
                "id": format!("{topic}-{i}"),
                "prompt": prompt,
                "results": {"small": {"correct": !hard, "answer": answer}, "large": true}
            })
            .to_string(),
        );
    }
    let path = dir.join("labelled.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn quick(data: PathBuf, kind: Kind) -> TrainOptions {
    let mut o = TrainOptions::new(vec![data], kind);
    o.resamples = 50;
    o.alphas = vec![1.0];
    o.max_hashed = 500;
    o
}

#[test]
#[ignore = "fails on main: out-of-fold APGR 0.75 on the separable fixture; training quality is unverified (see the closing note)"]
fn learns_a_topic_and_the_plugin_scorer_agrees_with_the_fit() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), "contracts", 120);
    let trained = run(&quick(data, Kind::PreRoute)).unwrap();
    let m = &trained.model;
    assert_eq!(m.training.items, 120);
    assert_eq!(m.training.positives, 60);
    assert_eq!(m.training.item_hashes.len(), 120);
    let apgr = m.training.cv.apgr.value.unwrap();
    assert!(apgr > 0.9, "a separable topic is learned out of fold: {apgr}");
    let (lo, hi) = (m.training.cv.apgr.low.unwrap(), m.training.cv.apgr.high.unwrap());
    assert!(lo <= apgr && apgr <= hi, "{lo} {apgr} {hi}");
    m.validate().unwrap();
    let scorer = Scorer::new(m.clone()).unwrap();
    let hard = scorer.score("Is the contract clause 7 of the statute enforceable?", None).probability;
    let easy = scorer.score("How long to bake the sourdough bread?", None).probability;
    assert!(hard > 0.5 && easy < 0.5, "{hard} {easy}");

    // The scorer the plugins run gives the fit's own logit, feature for feature.
    let fitted_again = fit::Fitted {
        intercept: m.intercept,
        named: m.named.iter().map(|n| (n.mean, n.scale, n.weight)).collect(),
        hashed: m.buckets.iter().copied().zip(m.weights.iter().copied()).collect(),
    };
    let prompt = "Under the statute, is the contract clause 3 enforceable?";
    let row = vector::extract(Kind::PreRoute, &m.features, &Phrases::default(), prompt, None);
    let direct = switchyard_features::model::sigmoid(fitted_again.logit(&row));
    assert!((direct - scorer.score(prompt, None).probability).abs() < 1e-9);
}

#[test]
fn a_gate_reads_the_answer_and_the_file_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), "baking", 80);
    let mut options = quick(data, Kind::Gate);
    // Only the answer separates the classes here: hedged answers are the wrong ones.
    options.features.word_ngrams = [0, 0];
    options.features.char_ngrams = [0, 0];
    let trained = run(&options).unwrap();
    let path = dir.path().join("gate.json");
    let bytes = model::write(&trained.model, &path).unwrap();
    assert!(bytes < model::MAX_BYTES);
    let read: Model = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(read, trained.model);
    let scorer = Scorer::new(read).unwrap();
    let q = "How long should I bake it?";
    let hedged = scorer.score(q, Some("I think it is probably 3, however...")).probability;
    let sure = scorer.score(q, Some("#### 3")).probability;
    assert!(hedged > sure, "{hedged} {sure}");
    assert!(trained.model.buckets.is_empty(), "no n-grams were asked for");
}

#[test]
fn bad_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let few = write_data(dir.path(), "contracts", 10);
    assert!(matches!(run(&quick(few, Kind::PreRoute)), Err(TrainError::TooFew(10))));
    let one_class = write_data(dir.path(), "none", 40);
    let err = run(&quick(one_class, Kind::PreRoute)).unwrap_err().to_string();
    assert!(err.contains("every training item has the same label (false)"), "{err}");
    let csv = dir.path().join("no-answers.csv");
    let rows: String = (0..30).map(|i| format!("q{i},{},True\n", if i % 2 == 0 { "True" } else { "False" })).collect();
    std::fs::write(&csv, format!("prompt,weak,strong\n{rows}")).unwrap();
    let err = run(&quick(csv.clone(), Kind::Gate)).unwrap_err().to_string();
    assert!(err.contains("has no answer text from `weak`"), "{err}");
    let mut o = quick(csv, Kind::PreRoute);
    o.weak = Some("tiny".into());
    let err = run(&o).unwrap_err().to_string();
    assert_eq!(err, "--weak: no model `tiny` in the data (models: weak, strong)");
}

#[test]
fn the_holdout_part_is_never_trained_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), "contracts", 200);
    let mut o = quick(data.clone(), Kind::PreRoute);
    o.holdout_percent = 30;
    let trained = run(&o).unwrap();
    let dataset = crate::eval::load::load(&[data], &Default::default()).unwrap();
    for item in &dataset.items {
        let hash = crate::eval::data::fnv1a(item.key_text().as_bytes());
        assert_eq!(trained.model.trained_on(hash), !item.is_holdout(30), "{}", item.id);
    }
    assert_eq!(trained.held_out + trained.model.training.items, 200);
}
