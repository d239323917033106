//! `static-routes`: a routing table from request metadata to fixed plans.
//!
//! Metadata is what the host put in the request's `metadata`: `tenant`, every
//! `x-switchyard-KEY` header as `KEY`, and the body's string-valued `metadata` entries.
//!
//! How a plan is chosen, first match wins:
//!
//! 1. With `allow_plan_hint`, a `plan` metadata entry (header `x-switchyard-plan: a,b`)
//!    naming only models of the table is the plan. A hint naming an unknown model is ignored
//!    (the reason says so) and the rules decide.
//! 2. The first rule whose `when` pairs all match: a value matches exactly, or `"*"` matches
//!    any value as long as the key is present. An empty `when` matches every request.
//! 3. `default`, when set.
//!
//! Model ids of a rule that are not in the model table are dropped and named in the reason; a
//! plan left empty is an error (the host then uses the route's default plan). The plan is
//! otherwise used as written: health is the host's business (it falls back along the plan), or
//! set `skip_unhealthy`.
//!
//! # Configuration
//!
//! ```json
//! {
//!   "rules": [
//!     {"when": {"tenant": "acme", "tier": "2"}, "plan": ["large", "small"], "reason": "acme pays for tier 2"},
//!     {"when": {"debug": "*"}, "plan": ["small"]}
//!   ],
//!   "default": ["small", "large"],
//!   "allow_plan_hint": false,
//!   "skip_unhealthy": false
//! }
//! ```
//!
//! See [`Config`] and [`Rule`].

use serde::Deserialize;
use std::collections::BTreeMap;
use switchyard_plugin_sdk::config::{self, ConfigCell};
use switchyard_plugin_sdk::{ModelInfo, Plan, Policy, Request, Signal};

/// The policy's configuration.
#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The table, tried in order (default empty; `rules`, `default` or `allow_plan_hint` must
    /// be given, an empty table is a configuration error).
    pub rules: Vec<Rule>,
    /// The plan when no rule matches (default none: no match is an error).
    pub default: Option<Vec<String>>,
    /// Honour the `plan` metadata hint (`x-switchyard-plan: a,b`) (default false: a client
    /// could otherwise pick the dearest model).
    pub allow_plan_hint: bool,
    /// Drop unhealthy models from the chosen plan, unless that would empty it (default false).
    pub skip_unhealthy: bool,
}

/// One row of the table.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Metadata pairs that must all match: an exact value, or `"*"` for "present" (default
    /// empty: matches everything).
    #[serde(default)]
    pub when: BTreeMap<String, String>,
    /// Model ids to try, in order (required, not empty).
    pub plan: Vec<String>,
    /// Shown as the plan's reason (default: `rule N (key=value, ...)`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Parses and validates the configuration `configure` receives.
pub fn parse_config(json: &str) -> Result<Config, String> {
    let config: Config = config::parse(json)?;
    for (i, rule) in config.rules.iter().enumerate() {
        if rule.plan.is_empty() {
            return Err(format!("config key `rules[{i}].plan`: expected at least one model id"));
        }
        if rule.when.keys().any(|k| k.is_empty()) {
            return Err(format!("config key `rules[{i}].when`: keys must not be empty"));
        }
    }
    if config.rules.is_empty() && config.default.is_none() && !config.allow_plan_hint {
        return Err("config: a static routing table needs `rules`, a `default` plan, or both".into());
    }
    if config.default.as_ref().is_some_and(Vec::is_empty) {
        return Err("config key `default`: expected at least one model id (or leave it out)".into());
    }
    Ok(config)
}

static CONFIG: ConfigCell<Config> = ConfigCell::new();

struct StaticRoutes;

impl Policy for StaticRoutes {
    fn configure(config: String) -> Result<(), String> {
        CONFIG.set(parse_config(&config)?);
        Ok(())
    }

    fn route(req: Request, _signals: Vec<Signal>, models: Vec<ModelInfo>) -> Result<Plan, String> {
        route(&*CONFIG.get()?, &req, &models)
    }
}

switchyard_plugin_sdk::export_policy!(StaticRoutes);

fn matches(rule: &Rule, req: &Request) -> bool {
    rule.when.iter().all(|(key, want)| match req.meta(key) {
        Some(have) => want == "*" || have == want,
        None => false,
    })
}

/// The plan for one request (see the crate docs for the order of precedence).
pub fn route(config: &Config, req: &Request, models: &[ModelInfo]) -> Result<Plan, String> {
    let known = |id: &str| models.iter().any(|m| m.id == id);
    let mut notes = Vec::new();

    if config.allow_plan_hint
        && let Some(hint) = req.meta("plan")
    {
        let ids: Vec<String> = hint.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        let unknown: Vec<&str> = ids.iter().map(String::as_str).filter(|id| !known(id)).collect();
        if ids.is_empty() {
            notes.push("ignored an empty plan hint".to_string());
        } else if unknown.is_empty() {
            return finish(config, ids, "plan from the request's plan hint".into(), notes, models);
        } else {
            notes.push(format!("ignored the plan hint (unknown model {})", unknown.join(", ")));
        }
    }

    let (steps, reason) = match config.rules.iter().enumerate().find(|(_, rule)| matches(rule, req)) {
        Some((i, rule)) => {
            let reason = rule.reason.clone().unwrap_or_else(|| {
                if rule.when.is_empty() {
                    format!("rule {i} (catch-all)")
                } else {
                    let pairs: Vec<String> = rule.when.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("rule {i} ({})", pairs.join(", "))
                }
            });
            (rule.plan.clone(), reason)
        }
        None => match &config.default {
            Some(default) => (default.clone(), "default plan (no rule matched)".to_string()),
            None => return Err("no rule matched and there is no default plan".into()),
        },
    };
    let unknown: Vec<String> = steps.iter().filter(|id| !known(id)).cloned().collect();
    let steps: Vec<String> = steps.into_iter().filter(|id| known(id)).collect();
    if !unknown.is_empty() {
        notes.push(format!("dropped unknown model {}", unknown.join(", ")));
    }
    if steps.is_empty() {
        return Err(format!("{reason}: no model of its plan is in the model table ({})", unknown.join(", ")));
    }
    finish(config, steps, reason, notes, models)
}

/// Applies `skip_unhealthy` and joins the reason with the notes.
fn finish(
    config: &Config,
    mut steps: Vec<String>,
    reason: String,
    mut notes: Vec<String>,
    models: &[ModelInfo],
) -> Result<Plan, String> {
    if config.skip_unhealthy {
        let healthy = |id: &String| models.iter().any(|m| &m.id == id && m.healthy);
        let sick: Vec<String> = steps.iter().filter(|id| !healthy(id)).cloned().collect();
        if !sick.is_empty() && sick.len() < steps.len() {
            steps.retain(healthy);
            notes.push(format!("skipped {} (unhealthy)", sick.join(", ")));
        } else if !sick.is_empty() {
            notes.push("every model of the plan is unhealthy, trying them anyway".into());
        }
    }
    let mut reason = reason;
    for note in notes {
        reason.push_str("; ");
        reason.push_str(&note);
    }
    Ok(Plan { steps, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models() -> Vec<ModelInfo> {
        vec![ModelInfo::new("small", 0), ModelInfo::new("large", 1), ModelInfo::new("huge", 2)]
    }

    fn req(meta: &[(&str, &str)]) -> Request {
        let mut r = Request::from_user("x");
        r.metadata = meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        r
    }

    const TABLE: &str = r#"{
        "rules": [
            {"when": {"tenant": "acme", "tier": "2"}, "plan": ["large", "small"], "reason": "acme tier 2"},
            {"when": {"debug": "*"}, "plan": ["ghost", "huge"]},
            {"when": {"tenant": "ghosts"}, "plan": ["ghost"]}
        ],
        "default": ["small", "large"]
    }"#;

    fn run(config: &str, meta: &[(&str, &str)]) -> Result<Plan, String> {
        route(&parse_config(config).unwrap(), &req(meta), &models())
    }

    #[test]
    fn first_matching_rule_wins() {
        let p = run(TABLE, &[("tenant", "acme"), ("tier", "2")]).unwrap();
        assert_eq!((p.steps, p.reason.as_str()), (vec!["large".to_string(), "small".to_string()], "acme tier 2"));
        // Only one of two pairs matches: falls through to the default.
        let p = run(TABLE, &[("tenant", "acme"), ("tier", "1")]).unwrap();
        assert_eq!(p.steps, ["small", "large"]);
        assert_eq!(p.reason, "default plan (no rule matched)");
    }

    #[test]
    fn star_means_present_and_unknown_ids_are_dropped() {
        let p = run(TABLE, &[("debug", "")]).unwrap();
        assert_eq!(p.steps, ["huge"]);
        assert_eq!(p.reason, "rule 1 (debug=*); dropped unknown model ghost");
        let err = run(TABLE, &[("tenant", "ghosts")]).unwrap_err();
        assert_eq!(err, "rule 2 (tenant=ghosts): no model of its plan is in the model table (ghost)");
    }

    #[test]
    fn no_match_without_default_is_an_error() {
        let err = run(r#"{"rules": [{"when": {"a": "b"}, "plan": ["small"]}]}"#, &[]).unwrap_err();
        assert_eq!(err, "no rule matched and there is no default plan");
        let p = run(r#"{"rules": [{"plan": ["huge"]}]}"#, &[]).unwrap();
        assert_eq!((p.steps[0].as_str(), p.reason.as_str()), ("huge", "rule 0 (catch-all)"));
    }

    #[test]
    fn plan_hint_only_when_allowed_and_known() {
        let hint = [("plan", "huge, small")];
        assert_eq!(run(TABLE, &hint).unwrap().steps, ["small", "large"]);
        let allowed = TABLE.replacen('{', r#"{"allow_plan_hint": true,"#, 1);
        let p = run(&allowed, &hint).unwrap();
        assert_eq!(p.steps, ["huge", "small"]);
        assert_eq!(p.reason, "plan from the request's plan hint");
        let p = run(&allowed, &[("plan", "huge,nope")]).unwrap();
        assert_eq!(p.steps, ["small", "large"]);
        assert_eq!(p.reason, "default plan (no rule matched); ignored the plan hint (unknown model nope)");
    }

    #[test]
    fn skip_unhealthy() {
        let config = parse_config(r#"{"default": ["small", "large"], "skip_unhealthy": true}"#).unwrap();
        let mut m = models();
        m[0].healthy = false;
        let p = route(&config, &req(&[]), &m).unwrap();
        assert_eq!(p.steps, ["large"]);
        assert!(p.reason.ends_with("skipped small (unhealthy)"));
        m[1].healthy = false;
        assert_eq!(route(&config, &req(&[]), &m).unwrap().steps, ["small", "large"]);
    }

    #[test]
    fn config_is_validated() {
        assert!(parse_config("{}").unwrap_err().contains("needs `rules`, a `default` plan, or both"));
        assert_eq!(
            parse_config(r#"{"rules": [{"when": {}, "plan": []}]}"#).unwrap_err(),
            "config key `rules[0].plan`: expected at least one model id"
        );
        assert!(
            parse_config(r#"{"rules": [{"when": {"a": 1}, "plan": ["x"]}]}"#)
                .unwrap_err()
                .starts_with("config key `rules[0].when.a`: invalid type: integer `1`, expected a string")
        );
        assert!(
            parse_config(r#"{"rules": [{"plan": ["x"], "wen": {}}]}"#).unwrap_err().contains("unknown field `wen`")
        );
        assert!(parse_config(r#"{"default": []}"#).is_err());
    }
}
