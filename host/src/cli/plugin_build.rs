//! `switchyard plugin build [DIR]`: turn a plugin project into a component, whatever its
//! language.
//!
//! - **Rust**: `cargo build --release --target wasm32-wasip2` (a cdylib for that target is a
//!   component already).
//! - **Python**: `componentize-py componentize` (CPython and the app, pre-initialised).
//! - **JavaScript**: componentize-js (StarlingMonkey) through a small Node script, because
//!   `jco componentize --wit` cannot read a WIT directory (see `plugins/js/build.mjs`).
//!
//! Every build lands in `DIR/build/NAME.wasm`. Python and JS builds take ~10 s, so they are
//! skipped when a stamp beside the output shows the sources, the WIT and the toolchain are
//! unchanged (cargo does its own bookkeeping). A missing toolchain is an error that carries
//! the exact command installing it, at the version this Switchyard is tested with.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::project::{Lang, Project, ProjectError};

/// componentize-py from PyPI, the version the examples and tests are built with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
/// componentize-js from npm (pinned, with jco, in `plugins/js/package.json`).
pub const COMPONENTIZE_JS_VERSION: &str = "0.23.0";
/// jco from npm; componentize-js depends on it, and `jco wit x.wasm` shows a component's WIT.
pub const JCO_VERSION: &str = "1.35.0";
/// The WASI shim componentize-js runs its splicer on (a dependency it forgets to declare).
pub const PREVIEW2_SHIM_VERSION: &str = "0.26.1";

/// The Node script that drives componentize-js; also `plugins/js/build.mjs` in the repo.
pub const JS_BUILD_SCRIPT: &str = include_str!("../../../plugins/js/build.mjs");

/// Environment variable naming a `node_modules` directory that holds componentize-js, so
/// many JS projects can share one install.
pub const JS_TOOLCHAIN_ENV: &str = "SWITCHYARD_JS_TOOLCHAIN";

/// The command that installs componentize-py.
pub fn python_install_command() -> String {
    format!("pip install componentize-py=={COMPONENTIZE_PY_VERSION}")
}

/// The command that installs componentize-js into a project: `npm install` when its
/// package.json already pins the toolchain (as `plugin new` writes it), else the pinned
/// packages by name.
pub fn js_install_command(dir: &Path) -> String {
    let pinned = std::fs::read_to_string(dir.join("package.json")).is_ok_and(|text| {
        text.contains(&format!("\"@bytecodealliance/componentize-js\": \"{COMPONENTIZE_JS_VERSION}\""))
    });
    if pinned {
        return format!("npm install --prefix {}", dir.display());
    }
    format!(
        "npm install --prefix {} --save-exact --save-dev @bytecodealliance/componentize-js@{COMPONENTIZE_JS_VERSION} \
         @bytecodealliance/jco@{JCO_VERSION} @bytecodealliance/preview2-shim@{PREVIEW2_SHIM_VERSION}",
        dir.display()
    )
}

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Where the component goes (default `DIR/build/NAME.wasm`).
    pub out: Option<PathBuf>,
    /// A `node_modules` directory with componentize-js (default: `$SWITCHYARD_JS_TOOLCHAIN`,
    /// else the nearest `node_modules` at or above the project that has it).
    pub js_modules: Option<PathBuf>,
    /// Cargo's target directory for Rust projects (default: cargo's own choice).
    pub cargo_target_dir: Option<PathBuf>,
    /// Rebuild even when the stamp says the output is up to date.
    pub force: bool,
}

/// A finished build.
#[derive(Debug, Clone)]
pub struct Built {
    pub path: PathBuf,
    /// The output was up to date and nothing ran.
    pub up_to_date: bool,
    pub took: Duration,
    /// The toolchain that built it, with its version.
    pub toolchain: String,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error("{what} is not installed. Install it with:\n\n    {install}\n")]
    MissingToolchain { what: String, install: String },
    #[error("{tool} failed ({status}):\n{output}")]
    Failed { tool: String, status: String, output: String },
    #[error("{tool} reported success but {} is missing", path.display())]
    NoOutput { tool: String, path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io { path: path.to_path_buf(), source }
}

/// Builds the project in `dir`.
pub fn build(dir: &Path, options: &BuildOptions) -> Result<Built, BuildError> {
    let project = Project::load(dir)?;
    build_project(&project, options)
}

/// Builds a loaded project.
pub fn build_project(project: &Project, options: &BuildOptions) -> Result<Built, BuildError> {
    let started = Instant::now();
    let out = options.out.clone().unwrap_or_else(|| project.default_output());
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let out = absolute(&out);
    let (toolchain, up_to_date) = match project.lang {
        Lang::Rust => (build_rust(project, options, &out)?, false),
        Lang::Python => {
            let toolchain = python_toolchain()?;
            let fresh = stamp_matches(project, &toolchain, &out, options.force)?;
            if !fresh {
                run_componentize_py(project, &out)?;
            }
            (toolchain, fresh)
        }
        Lang::Js => {
            let modules = js_modules(project, options)?;
            let toolchain = js_toolchain(&modules)?;
            let fresh = stamp_matches(project, &toolchain, &out, options.force)?;
            if !fresh {
                run_componentize_js(project, &modules, &out)?;
            }
            (toolchain, fresh)
        }
    };
    if !out.is_file() {
        return Err(BuildError::NoOutput { tool: toolchain, path: out });
    }
    if !up_to_date && project.lang != Lang::Rust {
        write_stamp(project, &toolchain, &out)?;
    }
    Ok(Built { path: out, up_to_date, took: started.elapsed(), toolchain })
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Runs `cmd`, turning "not found" into [`BuildError::MissingToolchain`] and a failure into
/// [`BuildError::Failed`] with its output.
fn run(cmd: &mut Command, tool: &str, what: &str, install: &str) -> Result<Output, BuildError> {
    let output = cmd.output().map_err(|e| match e.kind() {
        ErrorKind::NotFound => BuildError::MissingToolchain { what: what.to_string(), install: install.to_string() },
        _ => BuildError::Failed { tool: tool.to_string(), status: "could not start".into(), output: e.to_string() },
    })?;
    if !output.status.success() {
        // cargo's stdout is JSON messages (its diagnostics are rendered on stderr): skip them.
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut text: String =
            stdout.lines().filter(|l| !l.starts_with("{\"reason\"")).flat_map(|l| [l, "\n"]).collect();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        return Err(BuildError::Failed { tool: tool.to_string(), status: output.status.to_string(), output: text });
    }
    Ok(output)
}

// ---------------------------------------------------------------------------------- Python

fn python_toolchain() -> Result<String, BuildError> {
    let install = python_install_command();
    let output = run(Command::new("componentize-py").arg("--version"), "componentize-py", "componentize-py", &install)?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !version.ends_with(COMPONENTIZE_PY_VERSION) {
        tracing::warn!("{version} is not the tested {COMPONENTIZE_PY_VERSION}; if the build misbehaves: {install}");
    }
    Ok(version)
}

fn run_componentize_py(project: &Project, out: &Path) -> Result<(), BuildError> {
    let module = project.entry.file_stem().and_then(|s| s.to_str()).unwrap_or("app").to_string();
    let source_dir = project.entry.parent().unwrap_or(&project.dir);
    let mut cmd = Command::new("componentize-py");
    cmd.current_dir(&project.dir)
        .arg("-d")
        .arg(absolute(&project.wit))
        .arg("-w")
        .arg(project.kind.as_str())
        .arg("componentize")
        .arg("-p")
        .arg(absolute(source_dir))
        .arg(&module)
        .arg("-o")
        .arg(out);
    run(&mut cmd, "componentize-py", "componentize-py", &python_install_command()).map(drop)
}

// ------------------------------------------------------------------------------ JavaScript

fn has_componentize_js(modules: &Path) -> bool {
    modules.join("@bytecodealliance/componentize-js/package.json").is_file()
}

/// The `node_modules` directory to build with (see [`BuildOptions::js_modules`]).
fn js_modules(project: &Project, options: &BuildOptions) -> Result<PathBuf, BuildError> {
    let from_env = std::env::var_os(JS_TOOLCHAIN_ENV).map(PathBuf::from);
    for explicit in options.js_modules.iter().chain(from_env.iter()) {
        for candidate in [explicit.clone(), explicit.join("node_modules")] {
            if has_componentize_js(&candidate) {
                return Ok(absolute(&candidate));
            }
        }
    }
    let start = absolute(&project.dir);
    for dir in start.ancestors() {
        let candidate = dir.join("node_modules");
        if has_componentize_js(&candidate) {
            return Ok(candidate);
        }
    }
    Err(BuildError::MissingToolchain {
        what: format!("componentize-js (looked in {JS_TOOLCHAIN_ENV} and in node_modules at and above the project)"),
        install: js_install_command(&start),
    })
}

fn js_toolchain(modules: &Path) -> Result<String, BuildError> {
    let output =
        run(Command::new("node").arg("--version"), "node", "Node.js (18 or newer)", "apt-get install -y nodejs npm")?;
    let node = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let manifest = modules.join("@bytecodealliance/componentize-js/package.json");
    let text = std::fs::read_to_string(&manifest).map_err(io(&manifest))?;
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("version").and_then(|v| v.as_str()).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    Ok(format!("componentize-js {version} (node {node})"))
}

fn run_componentize_js(project: &Project, modules: &Path, out: &Path) -> Result<(), BuildError> {
    // The script is written next to the output, not to a shared temp directory: no other user
    // can swap it between the write and the run.
    let script = out.with_extension("build.mjs");
    std::fs::write(&script, JS_BUILD_SCRIPT).map_err(io(&script))?;
    let mut cmd = Command::new("node");
    cmd.current_dir(&project.dir)
        .arg(&script)
        .arg("--wit")
        .arg(absolute(&project.wit))
        .arg("--world")
        .arg(project.kind.as_str())
        .arg("--src")
        .arg(absolute(&project.entry))
        .arg("--out")
        .arg(out)
        .arg("--modules")
        .arg(modules);
    let result = run(&mut cmd, "componentize-js", "Node.js (18 or newer)", "apt-get install -y nodejs npm");
    let _ = std::fs::remove_file(&script);
    result.map(drop)
}

// ------------------------------------------------------------------------------------ Rust

/// Variables a surrounding cargo (running this from a test or build script) sets that would
/// break or redirect a wasm build.
const CARGO_SCRUB: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_WRAPPER",
    "CARGO_BUILD_TARGET",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_PATH",
];

fn build_rust(project: &Project, options: &BuildOptions, out: &Path) -> Result<String, BuildError> {
    let manifest = project.dir.join("Cargo.toml");
    let mut cmd = Command::new("cargo");
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg("wasm32-wasip2")
        .arg("--message-format")
        .arg("json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&manifest);
    if let Some(dir) = &options.cargo_target_dir {
        cmd.arg("--target-dir").arg(dir);
    }
    for var in CARGO_SCRUB {
        cmd.env_remove(var);
    }
    let install = "rustup (see the Rust website), then: rustup target add wasm32-wasip2";
    let output = match run(&mut cmd, "cargo", "cargo (Rust)", install) {
        Err(BuildError::Failed { output, .. })
            if output.contains("wasm32-wasip2") && output.contains("target may not be installed") =>
        {
            return Err(BuildError::MissingToolchain {
                what: "the wasm32-wasip2 target of the Rust toolchain".into(),
                install: "rustup target add wasm32-wasip2".into(),
            });
        }
        other => other?,
    };
    let built = wasm_artifact(&String::from_utf8_lossy(&output.stdout), &manifest)
        .ok_or_else(|| BuildError::NoOutput { tool: "cargo".into(), path: manifest.clone() })?;
    std::fs::copy(&built, out).map_err(io(out))?;
    Ok("cargo (wasm32-wasip2)".into())
}

/// The `.wasm` cdylib cargo reported for the package at `manifest`.
fn wasm_artifact(messages: &str, manifest: &Path) -> Option<PathBuf> {
    let manifest = std::fs::canonicalize(manifest).unwrap_or_else(|_| manifest.to_path_buf());
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| m["manifest_path"].as_str().is_some_and(|p| Path::new(p) == manifest))
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
}

// ----------------------------------------------------------------------------------- Stamp

/// Directories never part of a build's inputs.
const SKIP_DIRS: &[&str] = &["build", "target", "node_modules", "__pycache__"];

/// A hash of everything a Python or JS build reads: the project's files, the WIT files and
/// the toolchain's version.
fn input_hash(project: &Project, toolchain: &str) -> Result<String, BuildError> {
    let mut hasher = Sha256::new();
    hasher.update(toolchain.as_bytes());
    hasher.update(project.kind.as_str().as_bytes());
    hasher.update(JS_BUILD_SCRIPT.as_bytes());
    for root in [&project.dir, &project.wit] {
        let mut files = Vec::new();
        collect_files(root, &mut files)?;
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).map_err(io(&file))?;
            hasher.update(file.strip_prefix(root).unwrap_or(&file).to_string_lossy().as_bytes());
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(&bytes);
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), BuildError> {
    if dir.is_file() {
        files.push(dir.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        if path.is_dir() {
            if !name.starts_with('.') && !SKIP_DIRS.contains(&name.as_ref()) {
                collect_files(&path, files)?;
            }
        } else if !name.ends_with(".wasm") && !name.starts_with('.') {
            files.push(path);
        }
    }
    Ok(())
}

fn stamp_path(out: &Path) -> PathBuf {
    out.with_extension("wasm.stamp")
}

fn stamp_matches(project: &Project, toolchain: &str, out: &Path, force: bool) -> Result<bool, BuildError> {
    if force || !out.is_file() {
        return Ok(false);
    }
    let expected = input_hash(project, toolchain)?;
    Ok(std::fs::read_to_string(stamp_path(out)).is_ok_and(|s| s.trim() == expected))
}

fn write_stamp(project: &Project, toolchain: &str, out: &Path) -> Result<(), BuildError> {
    let hash = input_hash(project, toolchain)?;
    let path = stamp_path(out);
    std::fs::write(&path, hash).map_err(io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cdylib_of_the_package() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "").unwrap();
        let canonical = std::fs::canonicalize(&manifest).unwrap();
        let messages = format!(
            "{{\"reason\":\"compiler-artifact\",\"manifest_path\":\"/elsewhere/Cargo.toml\",\"filenames\":[\"/t/dep.wasm\"]}}\n\
             {{\"reason\":\"compiler-artifact\",\"manifest_path\":{:?},\"filenames\":[\"/t/p.rlib\",\"/t/p.wasm\"]}}\n\
             {{\"reason\":\"build-finished\",\"success\":true}}",
            canonical.to_str().unwrap()
        );
        assert_eq!(wasm_artifact(&messages, &manifest), Some(PathBuf::from("/t/p.wasm")));
    }

    #[test]
    fn install_commands_are_pinned() {
        assert_eq!(python_install_command(), format!("pip install componentize-py=={COMPONENTIZE_PY_VERSION}"));
        assert!(js_install_command(Path::new("p")).contains(&format!("componentize-js@{COMPONENTIZE_JS_VERSION}")));
        let pkg: serde_json::Value = serde_json::from_str(include_str!("../../../plugins/js/package.json")).unwrap();
        let deps = &pkg["devDependencies"];
        assert_eq!(deps["@bytecodealliance/componentize-js"], COMPONENTIZE_JS_VERSION);
        assert_eq!(deps["@bytecodealliance/jco"], JCO_VERSION);
        assert_eq!(deps["@bytecodealliance/preview2-shim"], PREVIEW2_SHIM_VERSION);
    }
}
