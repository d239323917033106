//! What an eval run found, as data: the single models, every sweep point, the curves and
//! their summaries, per part of the data (all, and dev / holdout when some is held out).
//! [`super::table`] prints it, [`super::svg`] plots it, `--json` serialises it as is.

use serde::Serialize;
use serde_json::Value;

use super::mapping::{MappedModel, ModelMap};
use super::metrics::{self, Point, Summary};
use super::replay::{Decision, Outcome, Prepared};

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub config: String,
    pub route: String,
    /// The data files read.
    pub data: Vec<String>,
    /// Items replayed (after dropping contaminated ones and those missing a mapped model).
    pub items: usize,
    /// Items dropped because a `contaminated_prompts.jsonl` lists their prompt.
    pub contaminated_dropped: usize,
    /// Items dropped because the data has no result for some mapped model.
    pub incomplete_dropped: usize,
    /// Mapped models, weakest first.
    pub models: Vec<MappedModel>,
    pub weak: String,
    pub strong: String,
    /// The knob swept, `plugin.key` (`None`: the route as configured, one point).
    pub knob: Option<String>,
    /// Percent of items held out (0: no split).
    pub holdout_percent: u32,
    pub parts: Vec<PartReport>,
    pub timing: Timing,
    /// Things a careful reader should know (unmapped plan steps, plugin failures, ...).
    pub warnings: Vec<String>,
}

/// How long the run took.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// Loading the config, the plugins (and every sweep value's copy) and the data, ms.
    pub load_ms: f64,
    /// Replaying every decision, ms.
    pub replay_ms: f64,
    /// (Sweep points) × (items).
    pub decisions: usize,
    pub decisions_per_sec: f64,
    /// Plugin calls made (classifier, policy and gate calls).
    pub plugin_calls: u64,
    pub threads: usize,
}

/// One part of the data.
#[derive(Debug, Clone, Serialize)]
pub struct PartReport {
    /// `all`, `dev` or `holdout`.
    pub name: String,
    pub items: usize,
    /// Each mapped model alone.
    pub single: Vec<SingleModel>,
    pub weak_accuracy: f64,
    pub strong_accuracy: f64,
    /// The oracle's best accuracy (every item answered by whichever model got it right).
    pub oracle_accuracy: f64,
    /// Every sweep point, in sweep order.
    pub points: Vec<PointReport>,
    pub policy: Summary,
    pub random: Summary,
    pub oracle: Summary,
    /// The anchored policy curve the summaries were computed on.
    pub policy_curve: Vec<Point>,
    pub oracle_curve: Vec<Point>,
}

/// One model answering everything.
#[derive(Debug, Clone, Serialize)]
pub struct SingleModel {
    pub id: String,
    pub accuracy: f64,
    /// Mean cost per request, USD.
    pub cost: f64,
}

/// The route at one sweep value.
#[derive(Debug, Clone, Serialize)]
pub struct PointReport {
    /// The knob's value (`null` without a sweep).
    pub value: Value,
    /// Strong-model calls per request (RouteLLM's "% strong calls" / 100).
    pub strong_calls: f64,
    /// Calls per request to each mapped model, weakest first.
    pub calls: Vec<f64>,
    pub accuracy: f64,
    /// Mean cost per request, USD.
    pub cost: f64,
    /// Share of requests a gate moved on to a next step.
    pub escalated: f64,
    /// Requests that ended without an answer, by how.
    pub rejected: usize,
    pub no_answer: usize,
    pub plugin_error: usize,
    /// Plugin calls that failed (the plugins' fail modes were applied).
    pub plugin_failures: u64,
    /// Plan steps naming a model the data has no answers for.
    pub unmapped_steps: u64,
    /// Requests that used the route's default plan.
    pub default_plan: usize,
}

/// Builds the report of one part from the decisions of its items.
pub fn part(
    name: &str,
    members: &[usize],
    items: &[Prepared],
    map: &ModelMap,
    values: &[Value],
    decisions: &[Vec<Decision>],
) -> PartReport {
    let n = members.len().max(1) as f64;
    let mean = |f: &dyn Fn(usize) -> f64| members.iter().map(|i| f(*i)).sum::<f64>() / n;
    let single: Vec<SingleModel> = map
        .models
        .iter()
        .enumerate()
        .map(|(m, model)| SingleModel {
            id: model.id.clone(),
            accuracy: mean(&|i| items[i].scores[m]),
            cost: mean(&|i| items[i].costs[m]),
        })
        .collect();
    let (weak, strong) = (map.weak(), map.strong());
    let weak_point = Point { strong: 0.0, accuracy: single[weak].accuracy, cost: single[weak].cost };
    let strong_point = Point { strong: 1.0, accuracy: single[strong].accuracy, cost: single[strong].cost };

    let points: Vec<PointReport> = values
        .iter()
        .zip(decisions)
        .map(|(value, decisions)| {
            let of = |i: usize| &decisions[i];
            let count = |outcome: Outcome| members.iter().filter(|i| of(**i).outcome == outcome).count();
            PointReport {
                value: value.clone(),
                strong_calls: mean(&|i| f64::from(of(i).calls[strong])),
                calls: (0..map.models.len()).map(|m| mean(&|i| f64::from(of(i).calls[m]))).collect(),
                accuracy: mean(&|i| of(i).score),
                cost: mean(&|i| of(i).cost_usd),
                escalated: mean(&|i| f64::from(u8::from(of(i).escalations > 0))),
                rejected: count(Outcome::Rejected),
                no_answer: count(Outcome::NoAnswer),
                plugin_error: count(Outcome::PluginError),
                plugin_failures: members.iter().map(|i| u64::from(of(*i).plugin_failures)).sum(),
                unmapped_steps: members.iter().map(|i| u64::from(of(*i).unmapped_steps)).sum(),
                default_plan: members.iter().filter(|i| of(**i).default_plan).count(),
            }
        })
        .collect();

    let measured: Vec<Point> =
        points.iter().map(|p| Point { strong: p.strong_calls, accuracy: p.accuracy, cost: p.cost }).collect();
    let policy_curve = metrics::curve(&measured, weak_point, strong_point);
    let (w, s) = (weak_point.accuracy, strong_point.accuracy);
    let pairs: Vec<(f64, f64, f64, f64)> = members
        .iter()
        .map(|i| (items[*i].scores[weak], items[*i].scores[strong], items[*i].costs[weak], items[*i].costs[strong]))
        .collect();
    let oracle_curve = metrics::oracle(&pairs);
    PartReport {
        name: name.to_string(),
        items: members.len(),
        oracle_accuracy: oracle_curve.last().map_or(s, |p| p.accuracy),
        weak_accuracy: w,
        strong_accuracy: s,
        policy: metrics::summarise(&policy_curve, w, s),
        random: metrics::summarise(&metrics::random(weak_point, strong_point), w, s),
        oracle: metrics::summarise(&oracle_curve, w, s),
        single,
        points,
        policy_curve,
        oracle_curve,
    }
}
