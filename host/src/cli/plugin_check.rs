//! `switchyard plugin check FILE.wasm`: load a plugin the way the proxy would, run it on the
//! sample requests, and print its answers and what it costs (load, instantiate, call).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use crate::plugin::{
    self, CallError, EngineSettings, InstanceStrategy, Limits, Plugin, PluginEngine, PluginKind, PluginSpec, blocking,
    samples,
};

use super::stats::{Summary, micros};

/// What to check and how.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub path: PathBuf,
    /// The world to check against; detected from the exports when absent.
    pub kind: Option<PluginKind>,
    /// The plugin's configuration (JSON object).
    pub config: serde_json::Value,
    pub limits: Limits,
    /// Calls timed per strategy.
    pub iterations: usize,
    pub cache_dir: Option<PathBuf>,
    /// Load onto baseline (Winch) code, as a never-seen version first serves.
    pub baseline: bool,
    /// A prompt (and, for gates, an answer) to time instead of the samples: what a plugin
    /// costs depends on the text's length, and the samples are short.
    pub prompt: Option<(String, Option<String>)>,
}

/// Why a check could not run or failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Engine(#[from] plugin::EngineError),
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {detail}", path.display())]
    Detect { path: PathBuf, detail: String },
    #[error(transparent)]
    Load(#[from] plugin::LoadError),
    #[error("{0}")]
    Call(#[from] CallError),
}

/// Runs the check and returns the report to print.
pub fn run(options: &CheckOptions) -> Result<String, CheckError> {
    let engine = PluginEngine::new(EngineSettings {
        cache_dir: options.cache_dir.clone(),
        tiered: options.baseline,
        ..EngineSettings::default()
    })?;
    let bytes =
        std::fs::read(&options.path).map_err(|source| CheckError::Read { path: options.path.clone(), source })?;
    let kind = match options.kind {
        Some(kind) => kind,
        None => engine
            .detect_kind(&bytes)
            .map_err(|detail| CheckError::Detect { path: options.path.clone(), detail })?
            .ok_or_else(|| CheckError::Detect {
                path: options.path.clone(),
                detail: "its exports fit none of the classifier, policy and gate worlds (pass --kind to see why)"
                    .to_string(),
            })?,
    };
    let spec = |strategy| PluginSpec {
        config: options.config.clone(),
        limits: options.limits.clone(),
        strategy,
        ..PluginSpec::new("check", kind, &options.path)
    };
    let warm = blocking::run(plugin::load_bytes(&engine, spec(InstanceStrategy::Warm), bytes.clone(), Instant::now()))?;
    let fresh = blocking::run(plugin::load_bytes(&engine, spec(InstanceStrategy::Fresh), bytes, Instant::now()))?;

    let mut out = String::new();
    let report = warm.load_report();
    let _ = writeln!(out, "plugin   {} ({kind})", options.path.display());
    let _ = writeln!(out, "hash     {}", warm.hash());
    let _ = writeln!(
        out,
        "load     read {} · compile {} ({:?}, {:?} code) · link {} · self-test {}",
        micros(report.read),
        micros(report.compile),
        report.cache,
        report.tier,
        micros(report.link),
        micros(report.self_test)
    );
    let _ = writeln!(out, "\nanswers on the sample requests:");
    for request in samples::requests() {
        let _ = writeln!(out, "  {:<13} {}", request.id, answer(&warm, &request, &samples::candidate(&request)));
    }
    let inputs = match &options.prompt {
        Some((prompt, answer_text)) => {
            let request = prompt_request(prompt);
            let mut candidate = samples::candidate(&request);
            if let Some(text) = answer_text {
                candidate.content = text.clone();
            }
            let _ = writeln!(
                out,
                "  {:<13} {}",
                format!("prompt ({} chars)", prompt.chars().count()),
                answer(&warm, &request, &candidate)
            );
            vec![(request, candidate)]
        }
        None => samples::requests().into_iter().map(|r| (r.clone(), samples::candidate(&r))).collect(),
    };

    let iterations = options.iterations.max(1);
    let on = if options.prompt.is_some() { "the given prompt" } else { "the samples" };
    let _ = writeln!(out, "\ntimings over {iterations} calls on {on}:");
    let _ = writeln!(out, "  warm call      {}", time_calls(&warm, &inputs, iterations)?);
    let _ = writeln!(out, "  fresh call     {}", time_calls(&fresh, &inputs, iterations)?);
    let _ = writeln!(out, "  instantiate    {}", time_instantiate(&fresh, iterations)?);
    Ok(out)
}

/// A one-message request for `--prompt`.
fn prompt_request(prompt: &str) -> plugin::Request {
    let mut request = samples::requests().remove(0);
    request.id = "prompt".into();
    request.messages = vec![plugin::Message::text("user", prompt)];
    request.input_tokens = prompt.len() as u32 / 4 + 4;
    request
}

fn answer(plugin: &Plugin, request: &plugin::Request, candidate: &plugin::Candidate) -> String {
    let result = match plugin.kind() {
        PluginKind::Classifier => plugin.classify_blocking(request).map(|signals| {
            signals
                .iter()
                .map(|s| match &s.label {
                    Some(label) => format!("{}={:.3} ({label})", s.name, s.value),
                    None => format!("{}={:.3}", s.name, s.value),
                })
                .collect::<Vec<_>>()
                .join(" ")
        }),
        PluginKind::Policy => plugin
            .route_blocking(request, &samples::signals(), &samples::models())
            .map(|plan| format!("[{}] — {}", plan.steps.join(" → "), plan.reason)),
        PluginKind::Gate => plugin.check_blocking(request, candidate).map(|verdict| format!("{verdict:?}")),
    };
    match result {
        Ok(text) => text,
        Err(error) => format!("error: {error}"),
    }
}

/// Times `iterations` calls on `inputs` (request, candidate answer), round-robin.
fn time_calls(
    plugin: &Plugin,
    inputs: &[(plugin::Request, plugin::Candidate)],
    iterations: usize,
) -> Result<Summary, CheckError> {
    let signals = samples::signals();
    let models = samples::models();
    let mut timings = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let (request, candidate) = &inputs[i % inputs.len()];
        let started = Instant::now();
        let outcome = match plugin.kind() {
            PluginKind::Classifier => plugin.classify_blocking(request).map(drop),
            PluginKind::Policy => plugin.route_blocking(request, &signals, &models).map(drop),
            PluginKind::Gate => plugin.check_blocking(request, candidate).map(drop),
        };
        timings.push(started.elapsed());
        match outcome {
            Ok(()) | Err(CallError::Guest { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(Summary::of(&mut timings))
}

fn time_instantiate(plugin: &Plugin, iterations: usize) -> Result<Summary, CheckError> {
    let mut timings = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let instance = blocking::run(plugin.new_instance(&plugin.code.load()))?;
        timings.push(started.elapsed());
        drop(instance);
    }
    Ok(Summary::of(&mut timings))
}
