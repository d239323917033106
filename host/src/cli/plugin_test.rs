//! `switchyard plugin test [DIR|FILE] --requests fixtures.jsonl`: run a plugin, as the proxy
//! would load it, over fixture requests; print each answer and whether it met the fixture's
//! expectations, then the warm-call timing percentiles.
//!
//! A DIR is a plugin project: it is built first (a no-op when up to date) and its manifest
//! gives the kind, the configuration, the limits and the fixture file. A FILE is a component;
//! its kind is detected from its exports unless `--kind` says it.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::plugin::{
    self, CallError, EngineSettings, InstanceStrategy, LoadReport, Plugin, PluginEngine, PluginKind, PluginSpec,
};

use crate::config::{ClassifierFailMode, GateFailMode, OnReject, PolicyFailMode};
use crate::route::RouteError;
use crate::route::decide;
use crate::route::slots::{ClassifierSlot, GateSlot, PolicySlot};
use crate::route::snapshot::Route;
use crate::telemetry::decision::DecisionRecord;

use super::fixtures::{self, Fixture, FixtureError, Output};
use super::plugin_build::{self, BuildError, BuildOptions, Built};
use super::project::{Lang, Project, ProjectError};
use super::stats::{Summary, micros};

/// What to test and how.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// A project directory or a `.wasm` component.
    pub target: PathBuf,
    /// The fixture file (default: the project's `fixtures`).
    pub requests: Option<PathBuf>,
    /// The world, for a bare component (default: detected).
    pub kind: Option<PluginKind>,
    /// The plugin's configuration (default: the project's `[config]`, else `{}`).
    pub config: Option<serde_json::Value>,
    pub deadline: Option<Duration>,
    pub memory_mb: Option<u64>,
    /// Timed warm calls after the checks (round-robin over the fixtures); 0 skips timing.
    pub iterations: usize,
    /// Compiled-artifact cache (default: `DIR/build/cache` for a project, none for a file).
    pub cache_dir: Option<PathBuf>,
    pub build: BuildOptions,
}

/// Why a test could not run (unmet expectations are not errors: see [`TestReport::failed`]).
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Fixtures(#[from] FixtureError),
    #[error(transparent)]
    Engine(#[from] plugin::EngineError),
    #[error(transparent)]
    Load(#[from] plugin::LoadError),
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {detail}", path.display())]
    Kind { path: PathBuf, detail: String },
    #[error("no fixtures: pass --requests FILE.jsonl")]
    NoFixtures,
    #[error("timing: {0}")]
    Timing(CallError),
}

/// One fixture's answer and verdict.
#[derive(Debug, Clone)]
pub struct FixtureOutcome {
    pub name: String,
    pub line: usize,
    pub output: Result<Output, String>,
    /// Unmet expectations; empty when the fixture passed.
    pub failures: Vec<String>,
}

/// Everything `plugin test` found.
#[derive(Debug, Clone)]
pub struct TestReport {
    pub component: PathBuf,
    pub kind: PluginKind,
    pub lang: Option<Lang>,
    pub fixtures: PathBuf,
    pub build: Option<Built>,
    pub load: LoadReport,
    pub outcomes: Vec<FixtureOutcome>,
    /// Warm calls, round-robin over the fixtures.
    pub timing: Summary,
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.failures.is_empty()).count()
    }
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.passed()
    }
    pub fn success(&self) -> bool {
        self.failed() == 0
    }
}

impl std::fmt::Display for TestReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lang = self.lang.map(|l| format!(", {l}")).unwrap_or_default();
        writeln!(f, "plugin    {} ({}{lang})", self.component.display(), self.kind)?;
        if let Some(build) = &self.build {
            let how =
                if build.up_to_date { "up to date".to_string() } else { format!("built in {}", secs(build.took)) };
            writeln!(f, "build     {how} · {}", build.toolchain)?;
        }
        let load = &self.load;
        writeln!(
            f,
            "load      compile {} ({:?}) · link {} · self-test {}",
            secs(load.compile),
            load.cache,
            micros(load.link),
            micros(load.self_test)
        )?;
        writeln!(f, "fixtures  {}\n", self.fixtures.display())?;
        let width = self.outcomes.iter().map(|o| o.name.len()).max().unwrap_or(0).min(32);
        for outcome in &self.outcomes {
            let mark = if outcome.failures.is_empty() { "ok  " } else { "FAIL" };
            let answer = match &outcome.output {
                Ok(output) => output.to_string(),
                Err(error) => format!("error: {error}"),
            };
            writeln!(f, "  {mark}  {:<width$}  {answer}", outcome.name)?;
            for failure in &outcome.failures {
                writeln!(f, "        {:<width$}  line {}: {failure}", "", outcome.line)?;
            }
        }
        if self.timing.count > 0 {
            writeln!(f, "\ntiming    warm call {}", self.timing)?;
        }
        writeln!(f, "result    {} passed, {} failed", self.passed(), self.failed())
    }
}

fn secs(d: Duration) -> String {
    if d >= Duration::from_millis(100) { format!("{:.1} s", d.as_secs_f64()) } else { micros(d) }
}

/// What a DIR or FILE resolves to before loading.
struct Target {
    component: PathBuf,
    kind: Option<PluginKind>,
    lang: Option<Lang>,
    fixtures: Option<PathBuf>,
    config: serde_json::Value,
    deadline: Option<Duration>,
    memory_mb: Option<u64>,
    cache_dir: Option<PathBuf>,
    build: Option<Built>,
}

fn resolve(options: &TestOptions) -> Result<Target, TestError> {
    if options.target.is_dir() {
        let project = Project::load(&options.target)?;
        let built = plugin_build::build_project(&project, &options.build)?;
        return Ok(Target {
            component: built.path.clone(),
            kind: Some(project.kind),
            lang: Some(project.lang),
            fixtures: Some(project.fixtures.clone()),
            config: project.config.clone(),
            deadline: project.limits.deadline_ms.map(Duration::from_millis),
            memory_mb: project.limits.memory_mb,
            cache_dir: Some(project.dir.join("build").join("cache")),
            build: Some(built),
        });
    }
    Ok(Target {
        component: options.target.clone(),
        kind: None,
        lang: None,
        fixtures: None,
        config: serde_json::json!({}),
        deadline: None,
        memory_mb: None,
        cache_dir: None,
        build: None,
    })
}

/// Runs the test with a new engine.
pub fn run(options: &TestOptions) -> Result<TestReport, TestError> {
    let target = resolve(options)?;
    let engine = PluginEngine::new(EngineSettings {
        cache_dir: options.cache_dir.clone().or_else(|| target.cache_dir.clone()),
        ..EngineSettings::default()
    })?;
    run_target(&engine, options, target)
}

/// Runs the test on an existing engine (tests share one, and its compiled-artifact cache).
pub fn run_with_engine(engine: &Arc<PluginEngine>, options: &TestOptions) -> Result<TestReport, TestError> {
    let target = resolve(options)?;
    run_target(engine, options, target)
}

fn run_target(engine: &Arc<PluginEngine>, options: &TestOptions, target: Target) -> Result<TestReport, TestError> {
    let fixtures_path = options.requests.clone().or(target.fixtures).ok_or(TestError::NoFixtures)?;
    let fixtures = fixtures::load(&fixtures_path)?;
    let bytes = std::fs::read(&target.component)
        .map_err(|source| TestError::Read { path: target.component.clone(), source })?;
    let kind = match options.kind.or(target.kind) {
        Some(kind) => kind,
        None => engine
            .detect_kind(&bytes)
            .map_err(|detail| TestError::Kind { path: target.component.clone(), detail })?
            .ok_or_else(|| TestError::Kind {
                path: target.component.clone(),
                detail: "its exports fit none of the classifier, policy and gate worlds (pass --kind)".into(),
            })?,
    };
    let mut spec = PluginSpec {
        config: options.config.clone().unwrap_or(target.config),
        strategy: InstanceStrategy::Warm,
        ..PluginSpec::new("test", kind, &target.component)
    };
    if let Some(deadline) = options.deadline.or(target.deadline) {
        spec.limits.deadline = deadline;
    }
    if let Some(mb) = options.memory_mb.or(target.memory_mb) {
        spec.limits.memory_bytes = mb << 20;
    }
    let plugin = Arc::new(plugin::blocking::run(plugin::load_bytes(engine, spec, bytes, Instant::now()))?);

    let outcomes = fixtures
        .iter()
        .map(|fixture| {
            let output = call(&plugin, fixture).map_err(|e| e.to_string());
            FixtureOutcome {
                name: fixture.name.clone(),
                line: fixture.line,
                failures: fixture.expect.check(&output),
                output,
            }
        })
        .collect();
    let timing = time_calls(&plugin, &fixtures, options.iterations)?;
    Ok(TestReport {
        component: target.component,
        kind,
        lang: target.lang,
        fixtures: fixtures_path,
        build: target.build,
        load: plugin.load_report().clone(),
        outcomes,
        timing,
    })
}

/// Runs one fixture the way a route runs the plugin, through the routing core's stage for
/// its world ([`decide`]): a classifier's signals as the classify stage gathers them, a
/// policy's plan as the plan stage checks it (against the fixture's model table, with
/// duplicates dropped), a gate's verdict as the gate stage calls it. Fail modes are `error`,
/// so a failure is reported rather than stood in for. Blocking: not from inside a runtime.
pub fn call(plugin: &Arc<Plugin>, fixture: &Fixture) -> Result<Output, CallError> {
    plugin::blocking::run(through_core(plugin, fixture))
}

async fn through_core(plugin: &Arc<Plugin>, fixture: &Fixture) -> Result<Output, CallError> {
    let mut record = DecisionRecord::default();
    let plugin_failed = |error: RouteError| match error {
        RouteError::PluginFailed(error) => error,
        other => CallError::BadOutput { plugin: plugin.name().to_string(), detail: other.to_string() },
    };
    match plugin.kind() {
        PluginKind::Classifier => {
            let slot = ClassifierSlot { plugin: plugin.clone(), on_failure: ClassifierFailMode::Error };
            let signals = decide::classify(std::slice::from_ref(&slot), &fixture.request, &mut record).await;
            signals.map(Output::Signals).map_err(plugin_failed)
        }
        PluginKind::Policy => {
            let route = Route {
                alias: "plugin-test".to_string(),
                classifiers: Vec::new(),
                policy: Some(PolicySlot { plugin: plugin.clone(), on_failure: PolicyFailMode::Error }),
                gates: Vec::new(),
                default_plan: Vec::new(),
                on_reject: OnReject::Next,
                deadline: Duration::from_secs(60),
                models: fixture.models.iter().map(|m| m.id.clone()).collect(),
            };
            let plan = decide::plan(&route, &fixture.request, &fixture.signals, &fixture.models, &mut record).await;
            plan.map(|plan| Output::Plan(plugin::Plan { steps: plan.steps, reason: plan.reason }))
                .map_err(plugin_failed)
        }
        PluginKind::Gate => {
            let slot = GateSlot { plugin: plugin.clone(), on_failure: GateFailMode::Escalate };
            decide::check_gate(&slot, &fixture.request, &fixture.candidate).await.0.map(Output::Verdict)
        }
    }
}

/// One warm call of the plugin itself, for timing: what the plugin costs, without the core.
fn call_plugin(plugin: &Plugin, fixture: &Fixture) -> Result<(), CallError> {
    match plugin.kind() {
        PluginKind::Classifier => plugin.classify_blocking(&fixture.request).map(drop),
        PluginKind::Policy => plugin.route_blocking(&fixture.request, &fixture.signals, &fixture.models).map(drop),
        PluginKind::Gate => plugin.check_blocking(&fixture.request, &fixture.candidate).map(drop),
    }
}

/// Times `iterations` warm calls, round-robin over the fixtures. A guest error is a timed
/// answer like any other; a trap or a limit stops the timing.
fn time_calls(plugin: &Plugin, fixtures: &[Fixture], iterations: usize) -> Result<Summary, TestError> {
    let mut timings = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let fixture = &fixtures[i % fixtures.len()];
        let started = Instant::now();
        let outcome = call_plugin(plugin, fixture);
        timings.push(started.elapsed());
        match outcome {
            Ok(_) | Err(CallError::Guest { .. }) => {}
            Err(error) => return Err(TestError::Timing(error)),
        }
    }
    Ok(Summary::of(&mut timings))
}

/// A one-paragraph summary of failures, for error messages.
pub fn failure_summary(report: &TestReport) -> String {
    let mut out = String::new();
    for outcome in report.outcomes.iter().filter(|o| !o.failures.is_empty()) {
        let _ = writeln!(out, "{} (line {}): {}", outcome.name, outcome.line, outcome.failures.join("; "));
    }
    out
}
