//! A plugin project: a directory with a `switchyard-plugin.toml` that says what the plugin is
//! (name, world, language) and where its contract, fixtures and test configuration live.
//!
//! The manifest is what lets `switchyard plugin build` and `plugin test` work the same way
//! for Rust, Python and JavaScript without guessing from file names.
//!
//! ```toml
//! name = "my-policy"
//! kind = "policy"          # classifier | policy | gate
//! lang = "python"          # rust | python | js
//! # entry = "app.py"       # python: app.py; js: plugin.js; rust: Cargo.toml
//! # wit = "wit"            # the directory holding switchyard.wit
//! # fixtures = "fixtures.jsonl"
//!
//! [config]                 # handed to `init` by `plugin test` (the proxy uses its own)
//! threshold = 0.7
//!
//! [limits]                 # for `plugin test`; mirror them in the proxy's [plugins.NAME]
//! deadline_ms = 25
//! memory_mb = 32
//!
//! [package]                # with it, `plugin build` also packs build/NAME.package/
//! name = "acme/my-policy"  # publisher/plugin: what operators' trust globs match
//! version = "0.1.0"
//! description = "…"
//! license = "Apache-2.0"
//! # source = "https://…"
//! # config_schema = "config.schema.json"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::plugin::PluginKind;

/// The manifest's file name.
pub const MANIFEST: &str = "switchyard-plugin.toml";

/// The languages `plugin new` and `plugin build` know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Rust, Lang::Python, Lang::Js];

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    /// The source file a project of this language starts from.
    pub fn default_entry(self) -> &'static str {
        match self {
            Lang::Rust => "Cargo.toml",
            Lang::Python => "app.py",
            Lang::Js => "plugin.js",
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rust" | "rs" => Ok(Lang::Rust),
            "python" | "py" => Ok(Lang::Python),
            "js" | "javascript" => Ok(Lang::Js),
            other => Err(format!("`{other}` is not a plugin language (expected rust, python or js)")),
        }
    }
}

/// Limits `plugin test` runs the plugin under.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ManifestLimits {
    pub deadline_ms: Option<u64>,
    pub memory_mb: Option<u64>,
}

/// `switchyard-plugin.toml` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    kind: String,
    lang: String,
    entry: Option<PathBuf>,
    wit: Option<PathBuf>,
    fixtures: Option<PathBuf>,
    #[serde(default)]
    config: toml::Table,
    #[serde(default)]
    limits: ManifestLimits,
    package: Option<PackageSection>,
}

/// `[package]`: what `plugin build` writes into the package's Switchyard manifest.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PackageSection {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub license: String,
    #[serde(default)]
    pub source: String,
    /// A JSON Schema file for the plugin's config, relative to the project.
    pub config_schema: Option<PathBuf>,
}

/// A loaded project, paths resolved against its directory.
#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub name: String,
    pub kind: PluginKind,
    pub lang: Lang,
    pub entry: PathBuf,
    pub wit: PathBuf,
    pub fixtures: PathBuf,
    /// The `[config]` table as JSON, for `init`.
    pub config: serde_json::Value,
    pub limits: ManifestLimits,
    pub package: Option<PackageSection>,
}

/// Why a project could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{} has no {MANIFEST} (create a project with `switchyard plugin new`)", dir.display())]
    NoManifest { dir: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {detail}", path.display())]
    Invalid { path: PathBuf, detail: String },
}

impl Project {
    /// Reads `dir/switchyard-plugin.toml`.
    pub fn load(dir: &Path) -> Result<Project, ProjectError> {
        let path = dir.join(MANIFEST);
        if !path.is_file() {
            return Err(ProjectError::NoManifest { dir: dir.to_path_buf() });
        }
        let text =
            std::fs::read_to_string(&path).map_err(|source| ProjectError::Read { path: path.clone(), source })?;
        let invalid = |detail: String| ProjectError::Invalid { path: path.clone(), detail };
        let raw: RawManifest = toml::from_str(&text).map_err(|e| invalid(e.message().to_string()))?;
        let kind: PluginKind = raw.kind.parse().map_err(|e| invalid(format!("key `kind`: {e}")))?;
        let lang: Lang = raw.lang.parse().map_err(|e| invalid(format!("key `lang`: {e}")))?;
        check_name(&raw.name).map_err(|e| invalid(format!("key `name`: {e}")))?;
        let config = serde_json::to_value(&raw.config).map_err(|e| invalid(format!("table `config`: {e}")))?;
        let dir = dir.to_path_buf();
        Ok(Project {
            entry: dir.join(raw.entry.unwrap_or_else(|| lang.default_entry().into())),
            wit: dir.join(raw.wit.unwrap_or_else(|| "wit".into())),
            fixtures: dir.join(raw.fixtures.unwrap_or_else(|| "fixtures.jsonl".into())),
            name: raw.name,
            kind,
            lang,
            config,
            limits: raw.limits,
            package: raw.package.map(|p| PackageSection { config_schema: p.config_schema.map(|s| dir.join(s)), ..p }),
            dir,
        })
    }

    /// Where `plugin build` packs the package when the project has `[package]`.
    pub fn package_output(&self) -> PathBuf {
        self.dir.join("build").join(format!("{}.package", self.name))
    }

    /// Where `plugin build` writes the component unless told otherwise.
    pub fn default_output(&self) -> PathBuf {
        self.dir.join("build").join(format!("{}.wasm", self.name))
    }
}

/// Plugin names are kebab-case ASCII: they become file, crate and package names.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` is not a plugin name: use lowercase letters, digits and dashes, starting with a letter"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_manifest_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST), "name = \"p\"\nkind = \"gate\"\nlang = \"js\"\n[config]\na = 1\n")
            .unwrap();
        let p = Project::load(dir.path()).unwrap();
        assert_eq!((p.kind, p.lang), (PluginKind::Gate, Lang::Js));
        assert_eq!(p.entry, dir.path().join("plugin.js"));
        assert_eq!(p.config, serde_json::json!({"a": 1}));
        assert_eq!(p.default_output(), dir.path().join("build/p.wasm"));
    }

    #[test]
    fn names_the_bad_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST), "name = \"p\"\nkind = \"router\"\nlang = \"js\"\n").unwrap();
        let error = Project::load(dir.path()).unwrap_err().to_string();
        assert!(error.contains("key `kind`") && error.contains("router"), "{error}");
        assert!(check_name("My_Plugin").is_err() && check_name("my-plugin2").is_ok());
    }
}
