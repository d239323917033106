//! `switchyard eval`: replay a route's plugins over labelled data, offline, and show what the
//! route buys: accuracy against strong-model calls and against cost, summarised the way
//! RouteLLM does (APGR, CPT), next to random routing, the oracle and each model alone.
//!
//! The pieces, in the order a run uses them:
//!
//! - [`load`] reads `--data` ([`jsonl`] for Switchyard's own format, [`routellm`] for
//!   RouteLLM's CSVs) into a [`data::Dataset`]; [`mapping`] pairs the data's models with
//!   the config's.
//! - The config and plugins load exactly as `switchyard serve` loads them (same engine
//!   settings, same [`Snapshot`](crate::route::snapshot::Snapshot)); [`sweep`] re-loads the
//!   swept plugin once per value.
//! - [`replay`] decides one item through the routing core (`route::decide`), the proxy's own
//!   code, with the data's answers standing in for upstream calls;
//!   [`batch`] runs every (value, item) on all cores.
//! - [`metrics`] turns decisions into curves and summaries; [`report`] collects them;
//!   [`table`] and [`svg`] show them.

pub mod batch;
pub mod data;
pub mod jsonl;
pub mod load;
pub mod mapping;
pub mod metrics;
pub mod mtbench;
pub mod progress;
pub mod replay;
pub mod report;
pub mod routellm;
pub mod svg;
pub mod sweep;
pub mod table;
pub mod trained;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, ConfigError};
use crate::plugin::{self, EngineError, LoadError, PluginEngine};
use crate::provider::{HealthBook, HealthOptions};
use crate::route::snapshot::{Route, Snapshot, SnapshotError, plugin_spec};

pub use report::Report;

/// What to evaluate and how.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub config: PathBuf,
    /// The route alias (the model name clients ask for).
    pub route: String,
    pub data: Vec<PathBuf>,
    /// `CONFIG_MODEL=DATA_MODEL` pairs (see [`mapping`]).
    pub model_map: Vec<String>,
    /// `PLUGIN.KEY=VALUES` (see [`sweep`]).
    pub sweep: Option<String>,
    /// Percent of items held out (0..=99), reported apart.
    pub holdout_percent: u32,
    pub keep_contaminated: bool,
    /// Worker threads (0: one per core).
    pub threads: usize,
    pub replay: replay::ReplayOptions,
    /// Draw a progress line on a terminal.
    pub progress: bool,
    /// Keep the configured per-call deadlines instead of stretching them to
    /// [`RELAXED_DEADLINE`] (see [`plugin_spec_for_eval`]).
    pub strict_deadlines: bool,
    /// Drop items a learned model on the route was trained on (see [`trained`]).
    pub exclude_trained: bool,
}

/// The per-call deadline eval gives plugins unless `strict_deadlines` is set.
pub const RELAXED_DEADLINE: Duration = Duration::from_secs(1);

/// A plugin's load spec as eval uses it: the configured one, but with the call deadline
/// stretched to at least [`RELAXED_DEADLINE`] unless `strict`.
///
/// Why: a deadline is wall time, so whether a 2 ms call finishes inside 10 ms depends on
/// what else the machine is doing (a descheduled thread blows it). The proxy must keep that
/// promise to a live request; a replay must give the same answer on a busy laptop as on an
/// idle server, or its curves are noise. Memory caps and fuel, which do not depend on load,
/// stay as configured.
pub fn plugin_spec_for_eval(name: &str, cfg: &crate::config::PluginConfig, strict: bool) -> plugin::PluginSpec {
    // The same stretch `Snapshot::build_with` applies to every plugin of an eval snapshot.
    let mut spec = plugin_spec(name, cfg);
    if !strict {
        spec.limits.deadline = spec.limits.deadline.max(RELAXED_DEADLINE);
    }
    spec
}

impl EvalOptions {
    /// Options with defaults for everything but the inputs.
    pub fn new(config: impl Into<PathBuf>, route: impl Into<String>, data: Vec<PathBuf>) -> Self {
        EvalOptions {
            config: config.into(),
            route: route.into(),
            data,
            model_map: Vec::new(),
            sweep: None,
            holdout_percent: 0,
            keep_contaminated: false,
            threads: 0,
            replay: replay::ReplayOptions::default(),
            progress: false,
            strict_deadlines: false,
            exclude_trained: false,
        }
    }
}

/// Why an eval could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("route `{route}` is not in {config} (routes: {known})")]
    UnknownRoute { route: String, config: String, known: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Plugin(#[from] LoadError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Data(#[from] data::DataError),
    #[error(transparent)]
    Map(#[from] mapping::MapError),
    #[error(transparent)]
    Sweep(#[from] sweep::SweepLoadError),
    #[error(transparent)]
    Replay(#[from] replay::ReplayError),
    #[error("no item has a result for every mapped model ({models}); check --model-map")]
    NoCompleteItems { models: String },
    #[error(
        "model `{model}` in {config} has no prices: eval compares routes by cost, so give every model \
         input_price and output_price (USD per million tokens)"
    )]
    Unpriced { model: String, config: String },
    #[error("--holdout: expected a share of 0 to 0.99 in whole percent, got {0}")]
    Holdout(String),
}

/// Loads everything, replays every decision, and builds the report.
pub fn run(options: &EvalOptions) -> Result<Report, EvalError> {
    let started = Instant::now();
    if options.holdout_percent > 99 {
        return Err(EvalError::Holdout(format!("{} %", options.holdout_percent)));
    }
    let config = load_config(&options.config)?;
    let engine = build_engine(&config)?;
    let snapshot = load_snapshot(config, &engine, options.strict_deadlines)?;
    let config = snapshot.config.clone();
    let route = snapshot.routes.get(&options.route).ok_or_else(|| EvalError::UnknownRoute {
        route: options.route.clone(),
        config: options.config.display().to_string(),
        known: config.routes.keys().cloned().collect::<Vec<_>>().join(", "),
    })?;
    let base: Route = (**route).clone();

    let dataset = load::load(&options.data, &load::LoadOptions { keep_contaminated: options.keep_contaminated })?;
    let mut config_models: Vec<mapping::ConfigModel> = Vec::new();
    for id in &snapshot.model_order {
        let Some(prices) = snapshot.models[id].config.prices() else {
            return Err(EvalError::Unpriced { model: id.clone(), config: options.config.display().to_string() });
        };
        config_models.push(mapping::ConfigModel {
            id: id.clone(),
            input_price: prices.input,
            output_price: prices.output,
        });
    }
    let map = mapping::build(&config_models, &dataset, &mapping::parse_pairs(&options.model_map)?)?;
    let mut complete: Vec<&data::Item> = dataset
        .items
        .iter()
        .filter(|item| map.models.iter().all(|m| item.results.get(m.data_index).is_some_and(Option::is_some)))
        .collect();
    let learned = trained::models(&config, &base.plugin_names());
    let seen = complete.iter().filter(|item| trained::is_trained(&learned, item)).count();
    let trained_warning = (seen > 0).then(|| trained::warning(&learned, seen, complete.len(), options.exclude_trained));
    if options.exclude_trained {
        complete.retain(|item| !trained::is_trained(&learned, item));
    }
    if complete.is_empty() {
        return Err(EvalError::NoCompleteItems {
            models: map.models.iter().map(|m| format!("{}={}", m.id, m.data_name)).collect::<Vec<_>>().join(", "),
        });
    }
    let prepared: Vec<replay::Prepared> =
        complete.iter().map(|item| replay::prepare(item, &options.route, &map, &options.replay)).collect();
    let models = replay::Models {
        table: snapshot.model_table(&HealthBook::new(HealthOptions::default()), Some(&base)),
        entries: snapshot.models.clone(),
    };

    let spec = match &options.sweep {
        Some(text) => {
            let names: Vec<&str> = config.plugins.keys().map(String::as_str).collect();
            Some(sweep::parse(text, &names).map_err(sweep::SweepLoadError::from)?)
        }
        None => None,
    };
    let sweeper = match &spec {
        Some(spec) => {
            let sweeper = sweep::Sweeper::new(spec, &base, &config, &engine, options.strict_deadlines)?;
            sweeper.check_all()?;
            Some(sweeper)
        }
        None => None,
    };
    let (values, knob) = match &spec {
        Some(spec) => (spec.values.clone(), Some(spec.knob())),
        None => (vec![serde_json::Value::Null], None),
    };
    let route_at = |point: usize| match &sweeper {
        Some(sweeper) => sweeper.route(point),
        None => Ok(base.clone()),
    };
    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        options.threads
    };
    let load_time = started.elapsed();
    let result = batch::run(values.len(), &route_at, &models, &map, &prepared, threads, options.progress).map_err(
        |e| match e {
            batch::BatchError::Replay(e) => EvalError::Replay(e),
            batch::BatchError::Sweep(e) => EvalError::Sweep(e),
        },
    )?;
    let load_time = load_time + result.loading;

    let all: Vec<usize> = (0..prepared.len()).collect();
    let mut parts = vec![report::part("all", &all, &prepared, &map, &values, &result.decisions)];
    if options.holdout_percent > 0 {
        let (held, dev): (Vec<usize>, Vec<usize>) =
            all.iter().partition(|i| complete[**i].is_holdout(options.holdout_percent));
        for (name, members) in [("dev", dev), ("holdout", held)] {
            if !members.is_empty() {
                parts.push(report::part(name, &members, &prepared, &map, &values, &result.decisions));
            }
        }
    }
    let decisions = values.len() * prepared.len();
    let plugin_calls: u64 = result.decisions.iter().flatten().map(|d| u64::from(d.plugin_calls)).sum();
    Ok(Report {
        config: options.config.display().to_string(),
        route: options.route.clone(),
        data: dataset.sources.iter().map(|p| p.display().to_string()).collect(),
        items: prepared.len(),
        contaminated_dropped: dataset.contaminated,
        incomplete_dropped: dataset.items.len() - complete.len(),
        weak: map.models[map.weak()].id.clone(),
        strong: map.models[map.strong()].id.clone(),
        models: map.models.clone(),
        knob,
        holdout_percent: options.holdout_percent,
        warnings: trained_warning
            .into_iter()
            .chain(warnings(&parts[0], &map, &config_models, &result.decisions))
            .collect(),
        parts,
        timing: report::Timing {
            load_ms: ms(load_time),
            replay_ms: ms(result.elapsed),
            decisions,
            decisions_per_sec: decisions as f64 / result.elapsed.as_secs_f64().max(1e-9),
            plugin_calls,
            threads: result.threads,
        },
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Reads the config as `serve` does, except that API keys need not be set: eval never calls
/// an upstream, and an operator should be able to evaluate a production config on a laptop.
fn load_config(path: &Path) -> Result<Config, EvalError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { file: path.display().to_string(), source })?;
    let env = |var: &str| Some(std::env::var(var).unwrap_or_else(|_| "unused-by-eval".to_string()));
    Ok(Config::from_str_with_env(&text, path, &env)?)
}

/// The engine `serve` would build (`server::App::start`): same limits, same on-disk cache of
/// compiled plugins. Sweeps load every value's copy onto it, reusing the compiled component.
fn build_engine(config: &Config) -> Result<Arc<PluginEngine>, EvalError> {
    let mut settings = config.runtime.engine_settings(&config.base_dir);
    // A replay measures the code the proxy settles on, so it waits for optimized code.
    settings.tiered = false;
    Ok(PluginEngine::new(settings)?)
}

/// Loads every plugin of the config and resolves routes with the proxy's snapshot loader.
fn load_snapshot(config: Config, engine: &Arc<PluginEngine>, strict: bool) -> Result<Snapshot, EvalError> {
    let min_deadline = (!strict).then_some(RELAXED_DEADLINE);
    let (snapshot, _) = plugin::blocking::run(Snapshot::build_with(config, engine, 1, None, min_deadline))?;
    Ok(snapshot)
}

fn warnings(
    all: &report::PartReport,
    map: &mapping::ModelMap,
    config_models: &[mapping::ConfigModel],
    decisions: &[Vec<replay::Decision>],
) -> Vec<String> {
    let mut warnings = Vec::new();
    let unmapped: u64 = all.points.iter().map(|p| p.unmapped_steps).sum();
    if unmapped > 0 {
        let missing: Vec<&str> =
            config_models.iter().filter(|m| map.get(&m.id).is_none()).map(|m| m.id.as_str()).collect();
        warnings.push(format!(
            "{unmapped} plan steps named models without data ({}); they were treated as upstream failures",
            missing.join(", ")
        ));
    }
    let failures: u64 = all.points.iter().map(|p| p.plugin_failures).sum();
    if failures > 0 {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for message in decisions.iter().flatten().filter_map(|d| d.first_failure.as_deref()) {
            *kinds.entry(message).or_default() += 1;
        }
        let mut kinds: Vec<(&str, usize)> = kinds.into_iter().collect();
        kinds.sort_by_key(|kind| std::cmp::Reverse(kind.1));
        let top: Vec<String> = kinds.iter().take(3).map(|(m, n)| format!("{n}× {m}")).collect();
        warnings.push(format!(
            "{failures} plugin calls failed and their fail modes were applied; most often: {}",
            top.join("; ")
        ));
    }
    warnings
}
