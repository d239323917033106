//! The JSONL data format: one item per line.
//!
//! ```json
//! {"id": "q17", "prompt": "What is 2 + 2?",
//!  "results": {"small": {"correct": false, "answer": "5", "output_tokens": 3},
//!              "large": true}}
//! ```
//!
//! - `prompt` (one user message) or `messages` (`[{"role": "user", "content": "..."}]`).
//! - `results`: model name → `true`/`false`, a score (a number, 1 = correct), or an object with
//!   `correct` or `score`, and optionally `answer` (the text gates judge), `finish_reason`,
//!   `mean_logprob`, `input_tokens`, `output_tokens`, `cost_usd`.
//! - Optional: `id` (default `<file stem>:<line>`), `metadata` (string → string, handed to
//!   plugins like request metadata), `group` (for breakdowns; default the file stem).
//!
//! Unknown keys are errors, so a typo (`"answr"`) does not silently drop the answer text.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::data::{Builder, DataError, Item, ModelResult, stem};
use crate::plugin::Message;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: Option<String>,
    prompt: Option<String>,
    messages: Option<Vec<LineMessage>>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    group: Option<String>,
    results: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineMessage {
    role: String,
    content: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullResult {
    correct: Option<bool>,
    score: Option<f64>,
    answer: Option<String>,
    finish_reason: Option<String>,
    mean_logprob: Option<f64>,
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
    cost_usd: Option<f64>,
}

/// Reads one JSONL file into `builder`.
pub fn load(path: &Path, builder: &mut Builder) -> Result<(), DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Read { path: path.to_path_buf(), source })?;
    builder.source(path);
    let group = stem(path);
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let parse_error = |message: String| DataError::Parse { path: path.to_path_buf(), line: line_no, message };
        let line: Line = serde_json::from_str(raw).map_err(|e| parse_error(without_position(&e.to_string())))?;
        let messages = match (line.prompt, line.messages) {
            (Some(prompt), None) => vec![Message::text("user", prompt)],
            (None, Some(messages)) if !messages.is_empty() => {
                messages.into_iter().map(|m| Message::text(m.role, m.content)).collect()
            }
            (None, Some(_)) => return Err(parse_error("`messages` is empty".into())),
            (Some(_), Some(_)) => return Err(parse_error("give `prompt` or `messages`, not both".into())),
            (None, None) => return Err(parse_error("missing `prompt` (or `messages`)".into())),
        };
        let mut results = Vec::with_capacity(line.results.len());
        for (model, result) in line.results {
            let result = model_result(result).map_err(|m| parse_error(format!("results.{model}: {m}")))?;
            results.push((builder.model(&model), result));
        }
        let id = line.id.unwrap_or_else(|| format!("{group}:{line_no}"));
        let item = Item {
            id,
            group: line.group.unwrap_or_else(|| group.clone()),
            messages,
            metadata: line.metadata.into_iter().collect(),
            results: Vec::new(),
        };
        builder.push(item, results, format!("{}:{line_no}", path.display()))?;
    }
    Ok(())
}

/// `true`/`false`, a number, or a [`FullResult`] object. (Not a serde `untagged` enum: its
/// "did not match any variant" would hide which key of the object was wrong.)
fn model_result(result: serde_json::Value) -> Result<ModelResult, String> {
    use serde_json::Value;
    let full: FullResult = match result {
        Value::Bool(correct) => return Ok(ModelResult { score: f64::from(u8::from(correct)), ..Default::default() }),
        Value::Number(n) => {
            let score = n.as_f64().ok_or_else(|| format!("{n} is not a usable score"))?;
            return finite(score).map(|score| ModelResult { score, ..Default::default() });
        }
        object @ Value::Object(_) => serde_json::from_value(object).map_err(|e| without_position(&e.to_string()))?,
        other => return Err(format!("expected true/false, a score or an object, got {other}")),
    };
    let score = match (full.correct, full.score) {
        (Some(correct), None) => f64::from(u8::from(correct)),
        (None, Some(score)) => finite(score)?,
        (Some(_), Some(_)) => return Err("give `correct` or `score`, not both".into()),
        (None, None) => return Err("missing `correct` (or `score`)".into()),
    };
    if let Some(cost) = full.cost_usd
        && !(cost.is_finite() && cost >= 0.0)
    {
        return Err(format!("`cost_usd` must be a finite number >= 0, got {cost}"));
    }
    Ok(ModelResult {
        score,
        answer: full.answer,
        finish_reason: full.finish_reason,
        mean_logprob: full.mean_logprob.filter(|m| m.is_finite()),
        input_tokens: full.input_tokens,
        output_tokens: full.output_tokens,
        cost_usd: full.cost_usd,
    })
}

fn finite(score: f64) -> Result<f64, String> {
    if score.is_finite() { Ok(score) } else { Err(format!("a score must be a finite number, got {score}")) }
}

/// serde_json's " at line 1 column 57": the line is ours to report, the column is noise.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<super::super::data::Dataset, DataError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("set.jsonl");
        std::fs::write(&path, text).unwrap();
        let mut builder = Builder::default();
        load(&path, &mut builder)?;
        builder.finish()
    }

    #[test]
    fn all_result_shapes() {
        let d = load_text(concat!(
            r#"{"prompt": "p1", "results": {"a": true, "b": 0.5}}"#,
            "\n\n",
            r#"{"id": "x", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "p2"}],"#,
            r#" "metadata": {"tenant": "t"}, "group": "g","#,
            r#" "results": {"a": {"correct": false, "answer": "no", "output_tokens": 7}, "b": {"score": 1}}}"#,
            "\n"
        ))
        .unwrap();
        assert_eq!(d.models, ["a", "b"]);
        assert_eq!(d.items[0].id, "set:1");
        assert_eq!(d.items[1].id, "x");
        assert_eq!(d.items[1].group, "g");
        assert_eq!(d.items[1].metadata, [("tenant".to_string(), "t".to_string())]);
        let a = d.items[1].results[0].as_ref().unwrap();
        assert_eq!((a.score, a.answer.as_deref(), a.output_tokens), (0.0, Some("no"), Some(7)));
        assert_eq!(d.items[0].results[1].as_ref().unwrap().score, 0.5);
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let err = load_text("{\"prompt\": \"p\", \"results\": {}}\n{\"prompt\": \"q\", \"answr\": 1, \"results\": {}}")
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("set.jsonl:2: unknown field `answr`, expected one of `id`, `prompt`, `messages`, `metadata`, `group`, `results`"), "{err}");
        let err = load_text(r#"{"prompt": "p", "results": {"m": {"answer": "x"}}}"#).unwrap_err().to_string();
        assert!(err.ends_with(":1: results.m: missing `correct` (or `score`)"), "{err}");
        let err = load_text(r#"{"results": {}}"#).unwrap_err().to_string();
        assert!(err.ends_with(":1: missing `prompt` (or `messages`)"), "{err}");
        let err = load_text("{not json").unwrap_err().to_string();
        assert!(err.contains("set.jsonl:1: key must be a string"), "{err}");
    }
}
