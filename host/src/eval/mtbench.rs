//! RouteLLM's MT-Bench format (`routellm/evals/mt_bench/`, from FastChat's `llm_judge`):
//!
//! - `question.jsonl`: `{"question_id": 81, "category": "writing", "turns": ["…", "…"]}`
//!   (other keys, such as `reference`, are ignored);
//! - `judgements.jsonl`: one line per (question, model, turn) that a judge scored:
//!   `{"question_id", "model", "judge", "user_prompt", "judgment", "score", "turn", …}`.
//!
//! As RouteLLM evaluates it, an item is a question routed on its **first** turn, and a model's
//! score is the judge's mean over both turns (1–10). A judgement FastChat could not parse
//! carries `score: -1` and is left out of the mean. The answer text a gate judges is the
//! model's first-turn answer, taken from the judge's prompt: between `[The Start of
//! Assistant's Answer]` and `[The End of Assistant's Answer]` (single-answer prompts), or the
//! first `### Assistant A:` block of a multi-turn prompt.
//!
//! RouteLLM drops a question when either turn is in `contaminated_prompts.jsonl`; the general
//! filter sees the first turn (the item's message), so the second is checked here.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::data::{Builder, DataError, Item, ModelResult};
use crate::plugin::Message;

/// The two files, by the names RouteLLM gives them.
pub const QUESTIONS: &str = "question.jsonl";
pub const JUDGEMENTS: &str = "judgements.jsonl";

#[derive(Deserialize)]
struct Question {
    question_id: serde_json::Value,
    #[serde(default)]
    category: Option<String>,
    turns: Vec<String>,
}

#[derive(Deserialize)]
struct Judgement {
    question_id: serde_json::Value,
    model: String,
    #[serde(default)]
    user_prompt: Option<String>,
    score: f64,
    turn: u32,
}

/// Whether `dir` holds an MT-Bench pair.
pub fn is_mtbench_dir(dir: &Path) -> bool {
    dir.join(QUESTIONS).is_file() && dir.join(JUDGEMENTS).is_file()
}

/// Whether `path` is one file of an MT-Bench pair (its sibling exists).
pub fn is_mtbench_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str());
    matches!(name, Some(QUESTIONS | JUDGEMENTS)) && path.parent().is_some_and(is_mtbench_dir)
}

fn id_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn read_lines<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<(usize, T)>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Read { path: path.to_path_buf(), source })?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(raw).map_err(|e| DataError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push((i + 1, value));
    }
    Ok(out)
}

/// The first-turn answer inside a judge's prompt.
pub fn answer_in_prompt(prompt: &str) -> Option<String> {
    let between = |start: &str, end: &str| {
        let from = prompt.find(start)? + start.len();
        let to = prompt[from..].find(end).map_or(prompt.len(), |i| from + i);
        Some(prompt[from..to].trim().to_string())
    };
    between("[The Start of Assistant's Answer]", "[The End of Assistant's Answer]")
        .or_else(|| between("### Assistant A:", "### User:"))
}

/// Reads the pair in `dir` into `builder`. Returns how many questions were dropped because
/// their second turn is contaminated (`contaminated` lists the prompts; empty to keep all).
pub fn load(dir: &Path, builder: &mut Builder, contaminated: &HashSet<String>) -> Result<usize, DataError> {
    let questions_path = dir.join(QUESTIONS);
    let judgements_path = dir.join(JUDGEMENTS);
    let questions: Vec<(usize, Question)> = read_lines(&questions_path)?;
    let judgements: Vec<(usize, Judgement)> = read_lines(&judgements_path)?;
    builder.source(&questions_path);
    builder.source(&judgements_path);

    // (question, model) → (score sum, scored turns, first-turn answer)
    let mut by_pair: BTreeMap<(String, String), (f64, u32, Option<String>)> = BTreeMap::new();
    for (line, j) in &judgements {
        if !j.score.is_finite() {
            return Err(DataError::Parse {
                path: judgements_path.clone(),
                line: *line,
                message: format!("score must be a number, got {}", j.score),
            });
        }
        let entry = by_pair.entry((id_text(&j.question_id), j.model.clone())).or_default();
        if j.score >= 0.0 {
            entry.0 += j.score;
            entry.1 += 1;
        }
        if entry.2.is_none() || j.turn == 1 {
            let answer = j.user_prompt.as_deref().and_then(answer_in_prompt);
            if answer.is_some() {
                entry.2 = answer;
            }
        }
    }
    let mut models: Vec<String> = by_pair.keys().map(|(_, m)| m.clone()).collect();
    models.sort();
    models.dedup();
    let indices: BTreeMap<String, usize> = models.iter().map(|m| (m.clone(), builder.model(m))).collect();

    let mut dropped = 0;
    for (line, q) in questions {
        let Some(first) = q.turns.first() else {
            return Err(DataError::Parse {
                path: questions_path.clone(),
                line,
                message: "`turns` is empty; MT-Bench questions have two turns".into(),
            });
        };
        if q.turns.iter().skip(1).any(|t| contaminated.contains(t)) {
            dropped += 1;
            continue;
        }
        let id = id_text(&q.question_id);
        let mut results = Vec::new();
        for (model, index) in &indices {
            if let Some((sum, n, answer)) = by_pair.get(&(id.clone(), model.clone()))
                && *n > 0
            {
                results.push((
                    *index,
                    ModelResult { score: sum / f64::from(*n), answer: answer.clone(), ..Default::default() },
                ));
            }
        }
        let item = Item {
            id: format!("mt_bench:{id}"),
            group: q.category.unwrap_or_else(|| "mt_bench".into()),
            messages: vec![Message::text("user", first)],
            metadata: Vec::new(),
            results: Vec::new(),
        };
        builder.push(item, results, format!("{}:{line}", questions_path.display()))?;
    }
    Ok(dropped)
}

/// The directory of an MT-Bench path (the directory itself, or a file's parent).
pub fn dir_of(path: &Path) -> PathBuf {
    if path.is_dir() { path.to_path_buf() } else { path.parent().unwrap_or(Path::new(".")).to_path_buf() }
}

#[cfg(test)]
mod tests {
    use super::super::load::{LoadOptions, load as load_paths};
    use super::*;

    /// A judge prompt as FastChat's `single-v1` template lays it out.
    fn single(question: &str, answer: &str) -> String {
        format!(
            "[Instruction]\nPlease act as an impartial judge ...\n\n[Question]\n{question}\n\n\
             [The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"
        )
    }

    /// FastChat's `single-v1-multi-turn` layout.
    fn multi(q1: &str, a1: &str, q2: &str, a2: &str) -> String {
        format!(
            "<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{q1}\n\n### Assistant A:\n{a1}\n\n\
             ### User:\n{q2}\n\n### Assistant A:\n{a2}\n\n<|The End of Assistant A's Conversation with User|>"
        )
    }

    fn judgement(qid: u32, model: &str, turn: u32, score: f64, prompt: &str) -> String {
        serde_json::json!({
            "question_id": qid, "model": model, "judge": ["gpt-4", if turn == 1 { "single-v1" } else { "single-v1-multi-turn" }],
            "user_prompt": prompt, "judgment": format!("... Rating: [[{score}]]"), "score": score, "turn": turn,
            "tstamp": 1714636116.7
        })
        .to_string()
    }

    fn fixture(dir: &Path) {
        let questions = [
            serde_json::json!({"question_id": 81, "category": "writing", "turns": ["Write a haiku.", "Now a limerick."]}),
            serde_json::json!({"question_id": 119, "category": "math", "turns": ["What is 3*4?", "And 5*6?"],
                               "reference": ["12", "30"]}),
            serde_json::json!({"question_id": 130, "category": "coding", "turns": ["Sort a list.", "In Rust, leaked"]}),
        ];
        let text: Vec<String> = questions.iter().map(|q| q.to_string()).collect();
        std::fs::write(dir.join(QUESTIONS), text.join("\n") + "\n").unwrap();
        let lines = [
            judgement(81, "weak", 1, 6.0, &single("Write a haiku.", "Leaves fall, a haiku.")),
            judgement(
                81,
                "weak",
                2,
                4.0,
                &multi("Write a haiku.", "Leaves fall, a haiku.", "Now a limerick.", "There once..."),
            ),
            judgement(81, "strong", 1, 9.0, &single("Write a haiku.", "Autumn moon rises")),
            judgement(
                81,
                "strong",
                2,
                10.0,
                &multi("Write a haiku.", "Autumn moon rises", "Now a limerick.", "A man..."),
            ),
            judgement(119, "weak", 1, 2.0, &single("What is 3*4?", "It is 13.")),
            // FastChat marks a judgement it could not parse with -1: not part of the mean.
            judgement(119, "weak", 2, -1.0, &multi("What is 3*4?", "It is 13.", "And 5*6?", "31")),
            judgement(119, "strong", 1, 10.0, &single("What is 3*4?", "12")),
            judgement(119, "strong", 2, 10.0, &multi("What is 3*4?", "12", "And 5*6?", "30")),
            judgement(130, "weak", 1, 5.0, &single("Sort a list.", "sorted()")),
            judgement(130, "strong", 1, 8.0, &single("Sort a list.", "list.sort()")),
        ];
        std::fs::write(dir.join(JUDGEMENTS), lines.join("\n") + "\n").unwrap();
        std::fs::write(
            dir.join(super::super::load::CONTAMINATED_FILE),
            "{\"eval_prompt\": \"In Rust, leaked\", \"train_prompt\": \"x\"}\n",
        )
        .unwrap();
    }

    #[test]
    fn reads_routellm_mt_bench_routed_on_the_first_turn_scored_by_the_mean_of_both() {
        let dir = tempfile::tempdir().unwrap();
        fixture(dir.path());
        let d = load_paths(&[dir.path().to_path_buf()], &LoadOptions::default()).unwrap();
        assert_eq!(d.models, ["weak", "strong"]);
        // Question 130's second turn is contaminated: RouteLLM drops the whole question.
        assert_eq!(d.contaminated, 1);
        assert_eq!(d.items.len(), 2);
        let writing = &d.items[0];
        assert_eq!(writing.id, "mt_bench:81");
        assert_eq!(writing.group, "writing");
        assert_eq!(writing.messages.len(), 1);
        assert_eq!(writing.messages[0].content, "Write a haiku.");
        let weak = writing.results[0].as_ref().unwrap();
        assert_eq!(weak.score, 5.0);
        assert_eq!(weak.answer.as_deref(), Some("Leaves fall, a haiku."));
        assert_eq!(writing.results[1].as_ref().unwrap().score, 9.5);
        let math = &d.items[1];
        assert_eq!(math.results[0].as_ref().unwrap().score, 2.0, "the -1 judgement is left out");
        assert_eq!(math.results[1].as_ref().unwrap().answer.as_deref(), Some("12"));
        // Either file names the pair; --keep-contaminated keeps question 130.
        let kept = load_paths(&[dir.path().join(JUDGEMENTS)], &LoadOptions { keep_contaminated: true }).unwrap();
        assert_eq!(kept.items.len(), 3);
        assert_eq!(kept.contaminated, 0);
    }

    #[test]
    fn answers_come_from_either_judge_template_and_errors_name_the_line() {
        assert_eq!(answer_in_prompt(&single("q", "  the answer  ")).as_deref(), Some("the answer"));
        assert_eq!(answer_in_prompt(&multi("q1", "first", "q2", "second")).as_deref(), Some("first"));
        assert_eq!(answer_in_prompt("no markers"), None);
        let dir = tempfile::tempdir().unwrap();
        fixture(dir.path());
        std::fs::write(dir.path().join(QUESTIONS), "{\"question_id\": 1, \"turns\": []}\n").unwrap();
        let err = load_paths(&[dir.path().to_path_buf()], &LoadOptions::default()).unwrap_err().to_string();
        assert!(err.ends_with("question.jsonl:1: `turns` is empty; MT-Bench questions have two turns"), "{err}");
        std::fs::write(dir.path().join(QUESTIONS), "{\"question_id\": 1}\n").unwrap();
        let err = load_paths(&[dir.path().to_path_buf()], &LoadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("question.jsonl:1: missing field `turns`"), "{err}");
    }
}
