//! `bad-policy`: a policy that returns bad (or revealing) plans on request, for host tests.
//!
//! Config: `{"mode": "..."}`, one of:
//!
//! | mode             | what `route` returns                                               |
//! |------------------|--------------------------------------------------------------------|
//! | `echo` (default) | every model id in the order given; the reason lists the signals it received as `name=value` (comma-separated, `(none)` when empty) |
//! | `unknown-model`  | a plan naming `no-such-model`, which is not in the table            |
//! | `empty-plan`     | a plan with no steps                                                |
//! | `err`            | `Err("bad-policy refuses to route")`                                |

use serde::Deserialize;
use switchyard_plugin_sdk::config::{self, ConfigCell};
use switchyard_plugin_sdk::{ModelInfo, Plan, Policy, Request, Signal};

/// Every mode `configure` accepts.
pub const MODES: &[&str] = &["echo", "unknown-model", "empty-plan", "err"];

/// `{"mode": "..."}`.
#[derive(Deserialize, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// One of [`MODES`].
    pub mode: String,
}

impl Default for Config {
    fn default() -> Self {
        Config { mode: "echo".into() }
    }
}

static CONFIG: ConfigCell<Config> = ConfigCell::new();

/// Parses and checks the config.
pub fn parse_config(json: &str) -> Result<Config, String> {
    let config: Config = config::parse(json)?;
    if !MODES.contains(&config.mode.as_str()) {
        return Err(format!("config key `mode`: unknown mode `{}`, expected one of {}", config.mode, MODES.join(", ")));
    }
    Ok(config)
}

struct BadPolicy;

impl Policy for BadPolicy {
    fn configure(config: String) -> Result<(), String> {
        CONFIG.set(parse_config(&config)?);
        Ok(())
    }

    fn route(_req: Request, signals: Vec<Signal>, models: Vec<ModelInfo>) -> Result<Plan, String> {
        route(&*CONFIG.get()?, &signals, &models)
    }
}

switchyard_plugin_sdk::export_policy!(BadPolicy);

/// The plan for `config.mode`.
pub fn route(config: &Config, signals: &[Signal], models: &[ModelInfo]) -> Result<Plan, String> {
    match config.mode.as_str() {
        "unknown-model" => Ok(Plan {
            steps: vec!["no-such-model".into()],
            reason: "bad-policy names a model that does not exist".into(),
        }),
        "empty-plan" => Ok(Plan { steps: vec![], reason: "bad-policy returns no steps".into() }),
        "err" => Err("bad-policy refuses to route".into()),
        _ => {
            let listed: Vec<String> = signals.iter().map(|s| format!("{}={}", s.name, s.value)).collect();
            Ok(Plan {
                steps: models.iter().map(|m| m.id.clone()).collect(),
                reason: if listed.is_empty() {
                    "signals: (none)".into()
                } else {
                    format!("signals: {}", listed.join(", "))
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(mode: &str) -> Config {
        parse_config(&format!(r#"{{"mode": "{mode}"}}"#)).unwrap()
    }

    #[test]
    fn modes() {
        let models = [ModelInfo::new("b", 1), ModelInfo::new("a", 0)];
        let signals = [Signal::new("x.y", 0.5), Signal::new("z", 1.0)];
        let plan = route(&cfg("echo"), &signals, &models).unwrap();
        assert_eq!(plan.steps, ["b", "a"]);
        assert_eq!(plan.reason, "signals: x.y=0.5, z=1");
        assert_eq!(route(&cfg("echo"), &[], &models).unwrap().reason, "signals: (none)");
        assert_eq!(route(&cfg("unknown-model"), &[], &models).unwrap().steps, ["no-such-model"]);
        assert!(route(&cfg("empty-plan"), &[], &models).unwrap().steps.is_empty());
        assert!(route(&cfg("err"), &[], &models).is_err());
        assert!(parse_config(r#"{"mode": "x"}"#).is_err());
    }
}
