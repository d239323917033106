//! Reading `--data` paths: files by extension, directories by their data files, and the
//! contamination list next to them.

use std::path::{Path, PathBuf};

use super::data::{Builder, DataError, Dataset};
use super::{jsonl, mtbench, routellm};

/// The file next to RouteLLM's CSVs listing prompts to exclude.
pub const CONTAMINATED_FILE: &str = "contaminated_prompts.jsonl";

/// How to read the data.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Keep prompts listed in a `contaminated_prompts.jsonl` next to the data (dropped by
    /// default, as RouteLLM's own evaluation does).
    pub keep_contaminated: bool,
}

/// Loads every path: a `.jsonl` file, a `.csv` file (RouteLLM's format), or a directory of
/// them (read in name order, not recursively).
pub fn load(paths: &[PathBuf], options: &LoadOptions) -> Result<Dataset, DataError> {
    let mut builder = Builder::default();
    let mut exclusion_lists = Vec::new();
    let mut mtbench_dirs: Vec<PathBuf> = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| DataError::Read { path: path.clone(), source })?;
        // RouteLLM's MT-Bench: a directory (or either file) of question.jsonl + judgements.jsonl.
        if (meta.is_dir() && mtbench::is_mtbench_dir(path)) || mtbench::is_mtbench_file(path) {
            let dir = mtbench::dir_of(path);
            if !mtbench_dirs.contains(&dir) {
                let list = dir.join(CONTAMINATED_FILE);
                let mut excluded = std::collections::HashSet::new();
                if !options.keep_contaminated && list.is_file() {
                    excluded.extend(routellm::contaminated_prompts(&list)?);
                    if !exclusion_lists.contains(&list) {
                        builder.exclude_prompts(excluded.iter().cloned());
                        exclusion_lists.push(list);
                    }
                }
                let dropped = mtbench::load(&dir, &mut builder, &excluded)?;
                builder.dropped_contaminated(dropped);
                mtbench_dirs.push(dir);
            }
            continue;
        }
        let files = if meta.is_dir() { data_files(path)? } else { vec![path.clone()] };
        for file in files {
            match extension(&file).as_str() {
                "csv" => routellm::load(&file, &mut builder)?,
                "jsonl" | "ndjson" => jsonl::load(&file, &mut builder)?,
                other => {
                    return Err(DataError::Format {
                        path: file.clone(),
                        message: format!("unknown data format `.{other}` (expected .jsonl or .csv)"),
                    });
                }
            }
            let list = file.parent().unwrap_or(Path::new(".")).join(CONTAMINATED_FILE);
            if !options.keep_contaminated && list.is_file() && !exclusion_lists.contains(&list) {
                builder.exclude_prompts(routellm::contaminated_prompts(&list)?);
                exclusion_lists.push(list);
            }
        }
    }
    builder.finish()
}

fn extension(path: &Path) -> String {
    path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default()
}

fn data_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Read { path: dir.to_path_buf(), source })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != CONTAMINATED_FILE))
        .filter(|p| matches!(extension(p).as_str(), "csv" | "jsonl" | "ndjson"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DataError::NoFiles { path: dir.to_path_buf() });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_merge_files_and_honour_the_contamination_list() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "prompt,w,s\nq1,False,True\nq2,True,True\n").unwrap();
        std::fs::write(dir.path().join("b.jsonl"), "{\"prompt\": \"q3\", \"results\": {\"w\": 1, \"s\": 0}}\n")
            .unwrap();
        std::fs::write(dir.path().join(CONTAMINATED_FILE), "{\"eval_prompt\": \"q2\", \"train_prompt\": \"x\"}\n")
            .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let d = load(&[dir.path().to_path_buf()], &LoadOptions::default()).unwrap();
        assert_eq!(d.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["a:2", "b:1"]);
        assert_eq!(d.contaminated, 1);
        assert_eq!(d.sources.len(), 2);
        let all = load(&[dir.path().to_path_buf()], &LoadOptions { keep_contaminated: true }).unwrap();
        assert_eq!(all.items.len(), 3);
        let err = load(&[dir.path().join("notes.txt")], &LoadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("unknown data format `.txt`"), "{err}");
    }
}
