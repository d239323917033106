//! The command-line surface of the plugin developer kit (`switchyard plugin new|build|test`):
//! argument structs for clap and the code that runs them and prints. Kept here rather than
//! in `main.rs` so the binary only wires subcommands.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::plugin::PluginKind;

use super::plugin_build::{self, BuildError, BuildOptions, JS_TOOLCHAIN_ENV};
use super::plugin_new::{self, NewError, NewOptions};
use super::plugin_test::{self, TestError, TestOptions};
use super::project::Lang;

/// `switchyard plugin new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name (kebab-case); also the directory created unless --dir is given.
    pub name: String,
    /// rust, python or js.
    #[arg(long)]
    pub lang: Lang,
    /// classifier, policy or gate.
    #[arg(long)]
    pub kind: PluginKind,
    /// Where to create the project (default: ./NAME).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Flags shared by `build` and `test`.
#[derive(Debug, Args, Clone, Default)]
pub struct BuildArgs {
    /// Where the component goes (default: DIR/build/NAME.wasm).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A node_modules directory holding componentize-js, for JS projects (default:
    /// $SWITCHYARD_JS_TOOLCHAIN, else the nearest node_modules at or above the project).
    #[arg(long)]
    pub js_toolchain: Option<PathBuf>,
    /// Cargo's target directory, for Rust projects.
    #[arg(long)]
    pub cargo_target_dir: Option<PathBuf>,
    /// Rebuild even when the output is up to date.
    #[arg(long)]
    pub force: bool,
}

impl BuildArgs {
    fn options(&self) -> BuildOptions {
        BuildOptions {
            out: self.out.clone(),
            js_modules: self.js_toolchain.clone(),
            cargo_target_dir: self.cargo_target_dir.clone(),
            force: self.force,
        }
    }
}

/// `switchyard plugin test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// A plugin project (built first) or a component file.
    #[arg(default_value = ".")]
    pub target: PathBuf,
    /// The fixtures, one JSON object per line (default: the project's fixtures.jsonl).
    #[arg(long)]
    pub requests: Option<PathBuf>,
    /// The world of a component file; detected when omitted.
    #[arg(long)]
    pub kind: Option<PluginKind>,
    /// The plugin's configuration as a JSON object (default: the project's [config]).
    #[arg(long)]
    pub config: Option<String>,
    /// Per-call deadline in milliseconds (default: the project's, else 10).
    #[arg(long)]
    pub deadline_ms: Option<u64>,
    /// Memory cap per instance in MiB (default: the project's, else 64).
    #[arg(long)]
    pub memory_mb: Option<u64>,
    /// Warm calls timed after the checks (0: no timing).
    #[arg(long, default_value_t = 1000)]
    pub iterations: usize,
    /// Keep compiled artifacts here (default: DIR/build/cache for a project).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub build: BuildArgs,
}

/// Errors of the developer-kit commands, for the binary to print.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error(transparent)]
    New(#[from] NewError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Test(#[from] TestError),
    #[error("--config must be a JSON object: {0}")]
    Config(String),
    #[error("packing the build: {0}")]
    Package(#[from] super::package::PackageCliError),
    #[error("{failed} of {total} fixtures did not meet their expectations")]
    Unmet { failed: usize, total: usize },
}

/// Scaffolds a project and says what to do next.
pub fn new(args: &NewArgs) -> Result<(), DevError> {
    let (dir, files) = plugin_new::create(&NewOptions {
        name: args.name.clone(),
        lang: args.lang,
        kind: args.kind,
        dir: args.dir.clone(),
    })?;
    println!("created {} ({} {}):", dir.display(), args.lang, args.kind);
    for file in files {
        println!("  {}", file.display());
    }
    let first = match args.lang {
        Lang::Rust => "rustup target add wasm32-wasip2   # once".to_string(),
        Lang::Python => format!("{}   # once", plugin_build::python_install_command()),
        Lang::Js => format!("(cd {} && npm install)   # once, or set {JS_TOOLCHAIN_ENV}", dir.display()),
    };
    println!("\nnext:\n  {first}\n  switchyard plugin test {}", dir.display());
    Ok(())
}

/// Builds a project and prints where the component went.
pub fn build(dir: Option<PathBuf>, args: &BuildArgs) -> Result<(), DevError> {
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    let built = plugin_build::build(&dir, &args.options())?;
    let how =
        if built.up_to_date { "up to date".to_string() } else { format!("built in {:.1} s", built.took.as_secs_f64()) };
    println!("{} ({how}, {})", built.path.display(), built.toolchain);
    // A project with `[package]` also gets its package, ready for `plugin sign` and `push`.
    let project = super::project::Project::load(&dir).map_err(BuildError::from)?;
    if let Some(package) = &project.package {
        let options = super::package::PackOptions {
            name: package.name.clone(),
            version: package.version.clone(),
            kind: Some(project.kind),
            description: package.description.clone(),
            license: package.license.clone(),
            source_url: package.source.clone(),
            config_schema: package.config_schema.clone(),
            limits: crate::config::PackageLimits {
                memory_mb: project.limits.memory_mb,
                deadline_ms: project.limits.deadline_ms,
                fuel: None,
            },
        };
        let out = project.package_output();
        let digest = super::package::pack(&built.path, &options, &out)?;
        println!("{} ({} {}, {digest})", out.display(), package.name, package.version);
    }
    Ok(())
}

/// Runs a plugin over fixtures, prints the report, fails when an expectation is unmet.
pub fn test(args: &TestArgs) -> Result<(), DevError> {
    let config = match &args.config {
        None => None,
        Some(text) => {
            let value: serde_json::Value = serde_json::from_str(text).map_err(|e| DevError::Config(e.to_string()))?;
            if !value.is_object() {
                return Err(DevError::Config(format!("got {value}")));
            }
            Some(value)
        }
    };
    let report = plugin_test::run(&TestOptions {
        target: args.target.clone(),
        requests: args.requests.clone(),
        kind: args.kind,
        config,
        deadline: args.deadline_ms.map(Duration::from_millis),
        memory_mb: args.memory_mb,
        iterations: args.iterations,
        cache_dir: args.cache_dir.clone(),
        build: args.build.options(),
    })?;
    print!("{report}");
    if report.success() {
        Ok(())
    } else {
        Err(DevError::Unmet { failed: report.failed(), total: report.outcomes.len() })
    }
}
