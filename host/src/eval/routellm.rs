//! RouteLLM's response CSVs (`routellm/evals/*/responses/*.csv`, a copy under
//! `shared/datasets/routellm/`).
//!
//! Columns: `prompt`; one column per model holding its correctness (`True`/`False`, or a
//! number); and optionally `<model>_response` with that model's answer text. Any column
//! named like that is read, so the loader is not tied to RouteLLM's model pair. Cells hold
//! commas, quotes and newlines: this is a real CSV parser, not a line splitter.
//!
//! Next to the CSVs, `contaminated_prompts.jsonl` lists prompts RouteLLM dropped because they
//! overlap its routers' training data; [`contaminated_prompts`] reads it (its `eval_prompt`).

use std::path::Path;

use super::data::{Builder, DataError, Item, ModelResult, parse_score, stem};
use crate::plugin::Message;

/// The suffix of answer-text columns.
const RESPONSE_SUFFIX: &str = "_response";

/// Reads one CSV file into `builder`.
pub fn load(path: &Path, builder: &mut Builder) -> Result<(), DataError> {
    let format = |message: String| DataError::Format { path: path.to_path_buf(), message };
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(false).from_path(path).map_err(|e| csv_error(path, e))?;
    let headers = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let prompt_col = headers
        .iter()
        .position(|h| h == "prompt")
        .ok_or_else(|| format("no `prompt` column (expected RouteLLM's prompt,<model>,...,<model>_response)".into()))?;
    // (score column, response column, model index)
    let mut models = Vec::new();
    for (col, name) in headers.iter().enumerate() {
        let is_response = name.strip_suffix(RESPONSE_SUFFIX).is_some_and(|model| headers.iter().any(|h| h == model));
        if col == prompt_col || is_response {
            continue;
        }
        let response = headers.iter().position(|h| h.strip_suffix(RESPONSE_SUFFIX) == Some(name));
        models.push((col, response, builder.model(name)));
    }
    if models.is_empty() {
        return Err(format("no model columns next to `prompt`".into()));
    }
    builder.source(path);
    let group = stem(path);
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(path, e))?;
        // Row 1 is the header; report lines as a spreadsheet would number them.
        let row_no = row + 2;
        let line = record.position().map_or(row_no, |p| p.line() as usize);
        let cell = |col: usize| record.get(col).unwrap_or_default();
        let mut results = Vec::with_capacity(models.len());
        for (col, response, model) in &models {
            let raw = cell(*col);
            if raw.trim().is_empty() {
                continue; // no result for this model on this row
            }
            let score = parse_score(raw).ok_or_else(|| DataError::Parse {
                path: path.to_path_buf(),
                line,
                message: format!("column `{}`: expected True, False or a number, got {raw:?}", &headers[*col]),
            })?;
            let answer = response.map(|c| cell(c).to_string()).filter(|a| !a.is_empty());
            results.push((*model, ModelResult { score, answer, ..Default::default() }));
        }
        let item = Item {
            id: format!("{group}:{row_no}"),
            group: group.clone(),
            messages: vec![Message::text("user", cell(prompt_col))],
            metadata: Vec::new(),
            results: Vec::new(),
        };
        builder.push(item, results, format!("{}:{line}", path.display()))?;
    }
    Ok(())
}

fn csv_error(path: &Path, error: csv::Error) -> DataError {
    let line = error.position().map_or(0, |p| p.line() as usize);
    match error.into_kind() {
        csv::ErrorKind::Io(source) => DataError::Read { path: path.to_path_buf(), source },
        kind => DataError::Parse { path: path.to_path_buf(), line, message: format!("{kind:?}") },
    }
}

/// The `eval_prompt` of every line of a `contaminated_prompts.jsonl`.
pub fn contaminated_prompts(path: &Path) -> Result<Vec<String>, DataError> {
    #[derive(serde::Deserialize)]
    struct Line {
        eval_prompt: String,
    }
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Read { path: path.to_path_buf(), source })?;
    let mut prompts = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(raw).map_err(|e| DataError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        prompts.push(line.eval_prompt);
    }
    Ok(prompts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_multiline_cells_and_response_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gsm.csv");
        std::fs::write(
            &path,
            "prompt,weak,strong,weak_response,strong_response\n\
             \"What is 1+1, really?\",True,True,\"It is 2.\n#### 2\",2\n\
             \"Say \"\"hi\"\"\",False,True,,hi\n\
             Only strong,,1,,\n",
        )
        .unwrap();
        let mut builder = Builder::default();
        load(&path, &mut builder).unwrap();
        let d = builder.finish().unwrap();
        assert_eq!(d.models, ["weak", "strong"]);
        assert_eq!(d.items.len(), 3);
        assert_eq!(d.items[0].messages[0].content, "What is 1+1, really?");
        assert_eq!(d.items[0].results[0].as_ref().unwrap().answer.as_deref(), Some("It is 2.\n#### 2"));
        assert_eq!(d.items[1].messages[0].content, "Say \"hi\"");
        assert_eq!(d.items[1].results[0].as_ref().unwrap().answer, None);
        assert!(d.items[2].results[0].is_none());
        assert_eq!(d.items[1].id, "gsm:3");
    }

    #[test]
    fn bad_cells_and_headers_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(&path, "prompt,m\nq,maybe\n").unwrap();
        let err = load(&path, &mut Builder::default()).unwrap_err().to_string();
        assert!(err.ends_with("x.csv:2: column `m`: expected True, False or a number, got \"maybe\""), "{err}");
        std::fs::write(&path, "question,m\nq,1\n").unwrap();
        let err = load(&path, &mut Builder::default()).unwrap_err().to_string();
        assert!(err.contains("no `prompt` column"), "{err}");
    }
}
