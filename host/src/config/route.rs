//! `[routes.ALIAS]`: the model name a client asks for, and the plugins that decide which
//! real models serve it.

use serde::Deserialize;

/// What happens when a gate rejects an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnReject {
    /// Move on to the next plan step, like an escalation (default).
    #[default]
    Next,
    /// Fail the request with the gate's reason.
    Error,
}

/// One route.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Classifier plugins, run in order; their signals are concatenated.
    #[serde(default)]
    pub classifiers: Vec<String>,
    /// The policy plugin; without one the route always uses `default_plan`.
    #[serde(default)]
    pub policy: Option<String>,
    /// Gate plugins, run in order on each candidate answer.
    #[serde(default)]
    pub gates: Vec<String>,
    /// Model IDs tried in order when there is no policy or the policy fails. Required and
    /// non-empty: a route must always be able to answer.
    pub default_plan: Vec<String>,
    /// The models this route may use: the model table its policy sees and the bound on the
    /// plans it may make. Default (absent): every model of the config.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// `"next"` (default) or `"error"`.
    #[serde(default)]
    pub on_reject: OnReject,
    /// Total deadline for requests on this route, overriding `server.request_timeout_ms`.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

use std::collections::{BTreeMap, BTreeSet};

use super::error::Problems;
use super::model::ModelConfig;
use super::plugin::{PluginConfig, PluginKind};
use super::validate::key;

/// Checks one route against the models and plugins it names.
pub(crate) fn check(
    alias: &str,
    route: &RouteConfig,
    models: &BTreeMap<String, ModelConfig>,
    plugins: &BTreeMap<String, PluginConfig>,
    problems: &mut Problems,
) {
    let at = format!("routes.{}", key(alias));
    if models.contains_key(alias) {
        problems.push(
            &at,
            format!(
                "route alias {alias:?} is also a model id; clients could not tell which they \
                 get, so rename one of them"
            ),
        );
    }
    if route.default_plan.is_empty() {
        problems.push(
            format!("{at}.default_plan"),
            "expected at least one model id: a route must be able to answer without its policy",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, model) in route.default_plan.iter().enumerate() {
        if !models.contains_key(model) {
            problems.push(
                format!("{at}.default_plan[{i}]"),
                format!("unknown model {model:?}; expected one of the [models.*] ids{}", list(models.keys())),
            );
        }
        if !seen.insert(model) {
            problems.push(format!("{at}.default_plan[{i}]"), format!("model {model:?} is listed twice"));
        }
    }
    if let Some(allowed) = &route.models {
        if allowed.is_empty() {
            problems.push(format!("{at}.models"), "expected at least one model id (omit it to allow every model)");
        }
        let mut seen = BTreeSet::new();
        for (i, model) in allowed.iter().enumerate() {
            if !models.contains_key(model) {
                problems.push(
                    format!("{at}.models[{i}]"),
                    format!("unknown model {model:?}; expected one of the [models.*] ids{}", list(models.keys())),
                );
            }
            if !seen.insert(model) {
                problems.push(format!("{at}.models[{i}]"), format!("model {model:?} is listed twice"));
            }
        }
        for (i, model) in route.default_plan.iter().enumerate() {
            if models.contains_key(model) && !allowed.contains(model) {
                problems.push(
                    format!("{at}.default_plan[{i}]"),
                    format!("model {model:?} is not in this route's `models`; add it there or remove it here"),
                );
            }
        }
    }
    check_slot_list(&at, "classifiers", &route.classifiers, PluginKind::Classifier, plugins, problems);
    check_slot_list(&at, "gates", &route.gates, PluginKind::Gate, plugins, problems);
    if let Some(policy) = &route.policy {
        check_slot(&format!("{at}.policy"), policy, PluginKind::Policy, plugins, problems);
    }
    if route.deadline_ms == Some(0) {
        problems
            .push(format!("{at}.deadline_ms"), "expected a deadline > 0 ms (omit it to use server.request_timeout_ms)");
    }
}

fn check_slot_list(
    at: &str,
    field: &str,
    names: &[String],
    kind: PluginKind,
    plugins: &BTreeMap<String, PluginConfig>,
    problems: &mut Problems,
) {
    let mut seen = BTreeSet::new();
    for (i, name) in names.iter().enumerate() {
        let here = format!("{at}.{field}[{i}]");
        if !seen.insert(name) {
            problems.push(&here, format!("plugin {name:?} is listed twice"));
        }
        check_slot(&here, name, kind, plugins, problems);
    }
}

fn check_slot(
    here: &str,
    name: &str,
    kind: PluginKind,
    plugins: &BTreeMap<String, PluginConfig>,
    problems: &mut Problems,
) {
    match plugins.get(name) {
        None => problems.push(
            here,
            format!("unknown plugin {name:?}; expected one of the [plugins.*] names{}", list(plugins.keys())),
        ),
        Some(p) if p.kind != kind => problems
            .push(here, format!("plugin {name:?} is a {}, but this slot needs a {}", p.kind.as_str(), kind.as_str())),
        Some(_) => {}
    }
}

/// `" (a, b)"`, or `" (none are defined)"`: tells the operator what the valid names are.
fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() { " (none are defined)".to_string() } else { format!(" ({})", names.join(", ")) }
}
