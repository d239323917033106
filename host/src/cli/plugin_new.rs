//! `switchyard plugin new --lang rust|python|js --kind classifier|policy|gate NAME`: scaffold
//! a plugin project that builds and passes its fixture test out of the box.
//!
//! A project holds the plugin's source, a copy of the WIT contract (so it builds without
//! this repository), a manifest for `plugin build`/`plugin test`, fixtures that exercise the
//! sample logic, and a README. The templates live in `cli/templates/` and are compiled into
//! the binary.

use std::path::{Path, PathBuf};

use crate::plugin::PluginKind;

use super::plugin_build::{
    COMPONENTIZE_JS_VERSION, COMPONENTIZE_PY_VERSION, JCO_VERSION, JS_BUILD_SCRIPT, PREVIEW2_SHIM_VERSION,
};
use super::project::{Lang, MANIFEST, check_name};

/// The contract every project gets a copy of.
pub const WIT: &str = include_str!("../../../wit/switchyard.wit");

/// What to scaffold, and where.
#[derive(Debug, Clone)]
pub struct NewOptions {
    pub name: String,
    pub lang: Lang,
    pub kind: PluginKind,
    /// The project directory (default `./NAME`); must not exist or be empty.
    pub dir: Option<PathBuf>,
}

/// Why a project could not be created.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    #[error("{0}")]
    Name(String),
    #[error("{} already exists and is not empty", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

fn template(lang: Lang, kind: PluginKind) -> &'static str {
    use PluginKind::*;
    match (lang, kind) {
        (Lang::Rust, Classifier) => include_str!("templates/rust/classifier.rs"),
        (Lang::Rust, Policy) => include_str!("templates/rust/policy.rs"),
        (Lang::Rust, Gate) => include_str!("templates/rust/gate.rs"),
        (Lang::Python, Classifier) => include_str!("templates/python/classifier.py"),
        (Lang::Python, Policy) => include_str!("templates/python/policy.py"),
        (Lang::Python, Gate) => include_str!("templates/python/gate.py"),
        (Lang::Js, Classifier) => include_str!("templates/js/classifier.js"),
        (Lang::Js, Policy) => include_str!("templates/js/policy.js"),
        (Lang::Js, Gate) => include_str!("templates/js/gate.js"),
    }
}

fn fixtures(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Classifier => include_str!("templates/common/fixtures-classifier.jsonl"),
        PluginKind::Policy => include_str!("templates/common/fixtures-policy.jsonl"),
        PluginKind::Gate => include_str!("templates/common/fixtures-gate.jsonl"),
    }
}

/// The sample configuration of each kind: (TOML lines, TOML inline table, what it does).
fn sample_config(kind: PluginKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        PluginKind::Classifier => (
            "saturation_tokens = 1000",
            "saturation_tokens = 1000",
            "It emits `NAME.length` (prompt size, saturating at `saturation_tokens`) and \
             `NAME.question` (1 when the last user message is a question).",
        ),
        PluginKind::Policy => (
            "threshold = 0.7",
            "threshold = 0.7",
            "It plans the healthy models cheapest tier first, or strongest first when the \
             `complexity.score` signal reaches `threshold`.",
        ),
        PluginKind::Gate => (
            "min_chars = 1",
            "min_chars = 1",
            "It escalates empty or cut-off answers (`min_chars`, finish reason `length`) and \
             accepts the rest.",
        ),
    }
}

/// Python and JS instantiate slower than Rust; a deadline with headroom keeps a cold start
/// on a busy machine from counting as a failure.
fn deadline_ms(lang: Lang) -> u32 {
    match lang {
        Lang::Rust => 10,
        Lang::Python | Lang::Js => 25,
    }
}

/// Fills `{{key}}` placeholders.
fn fill(text: &str, vars: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (key, value) in vars {
        out = out.replace(&format!("{{{{{key}}}}}", key = key), value);
    }
    out
}

/// Creates the project; returns its directory and the files written (relative).
pub fn create(options: &NewOptions) -> Result<(PathBuf, Vec<PathBuf>), NewError> {
    check_name(&options.name).map_err(NewError::Name)?;
    let dir = options.dir.clone().unwrap_or_else(|| PathBuf::from(&options.name));
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(NewError::Exists(dir));
    }
    let (lang, kind, name) = (options.lang, options.kind, options.name.as_str());
    let (config_lines, config_inline, what) = sample_config(kind);
    let what = what.replace("NAME", name);
    let deadline = deadline_ms(lang).to_string();
    let (lang_name, install) = match lang {
        Lang::Rust => ("Rust", "rustup target add wasm32-wasip2            # once".to_string()),
        Lang::Python => ("Python", format!("pip install componentize-py=={COMPONENTIZE_PY_VERSION}     # once")),
        Lang::Js => (
            "JavaScript",
            "npm install                               # once: componentize-js, pinned in package.json".to_string(),
        ),
    };
    let vars: Vec<(&str, &str)> = vec![
        ("name", name),
        ("kind", kind.as_str()),
        ("lang", lang.as_str()),
        ("lang_name", lang_name),
        ("entry", lang.default_entry()),
        ("config", config_lines),
        ("config_inline", config_inline),
        ("what", &what),
        ("install", &install),
        ("deadline_ms", &deadline),
        ("componentize_js", COMPONENTIZE_JS_VERSION),
        ("jco", JCO_VERSION),
        ("preview2_shim", PREVIEW2_SHIM_VERSION),
    ];

    let mut files: Vec<(PathBuf, String)> = vec![
        (MANIFEST.into(), fill(include_str!("templates/common/manifest.toml"), &vars)),
        ("README.md".into(), fill(include_str!("templates/common/README.md"), &vars)),
        ("fixtures.jsonl".into(), fill(fixtures(kind), &vars)),
        (Path::new("wit").join("switchyard.wit"), WIT.to_string()),
    ];
    let source = fill(template(lang, kind), &vars);
    match lang {
        Lang::Rust => {
            files.push(("Cargo.toml".into(), fill(include_str!("templates/rust/Cargo.toml"), &vars)));
            files.push((Path::new("src").join("lib.rs"), source));
            files.push((".gitignore".into(), include_str!("templates/rust/gitignore").into()));
        }
        Lang::Python => {
            files.push(("app.py".into(), source));
            files.push((".gitignore".into(), include_str!("templates/python/gitignore").into()));
        }
        Lang::Js => {
            files.push(("plugin.js".into(), source));
            files.push(("package.json".into(), fill(include_str!("templates/js/package.json"), &vars)));
            files.push((".gitignore".into(), include_str!("templates/js/gitignore").into()));
            // The build script `switchyard plugin build` runs, for building with npm alone.
            files.push(("build.mjs".into(), JS_BUILD_SCRIPT.to_string()));
        }
    }
    for (relative, contents) in &files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| NewError::Write { path: parent.into(), source })?;
        }
        std::fs::write(&path, contents).map_err(|source| NewError::Write { path: path.clone(), source })?;
    }
    Ok((dir, files.into_iter().map(|(p, _)| p).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::project::Project;

    #[test]
    fn every_language_and_kind_scaffolds_a_valid_project() {
        for lang in Lang::ALL {
            for kind in PluginKind::ALL {
                let root = tempfile::tempdir().unwrap();
                let dir = root.path().join("p");
                let (dir, files) =
                    create(&NewOptions { name: "my-plugin".into(), lang, kind, dir: Some(dir) }).unwrap();
                let project = Project::load(&dir).unwrap();
                assert_eq!((project.lang, project.kind), (lang, kind));
                assert!(project.entry.is_file(), "{lang} {kind}: no {}", project.entry.display());
                assert!(project.wit.join("switchyard.wit").is_file());
                crate::cli::fixtures::load(&project.fixtures).unwrap();
                for file in files {
                    let text = std::fs::read_to_string(dir.join(&file)).unwrap();
                    assert!(!text.contains("{{"), "{lang} {kind}: unfilled placeholder in {}", file.display());
                }
            }
        }
    }

    #[test]
    fn refuses_bad_names_and_non_empty_directories() {
        let root = tempfile::tempdir().unwrap();
        let options = |name: &str| NewOptions {
            name: name.into(),
            lang: Lang::Python,
            kind: PluginKind::Gate,
            dir: Some(root.path().to_path_buf()),
        };
        assert!(matches!(create(&options("Bad Name")), Err(NewError::Name(_))));
        std::fs::write(root.path().join("x"), "").unwrap();
        assert!(matches!(create(&options("ok")), Err(NewError::Exists(_))));
    }
}
