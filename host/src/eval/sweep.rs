//! The knob eval turns: one key of one plugin's configuration, set to each value in turn.
//!
//! `--sweep cascade.start_threshold=0:1:0.05` loads the route's `cascade` plugin once per
//! value with `start_threshold` set to it, exactly as an operator editing the config and
//! reloading would (the compiled component comes from the engine's cache, so a value costs
//! milliseconds). Nested keys use dots: `complexity.weights.math=0,0.3,0.6`.
//!
//! Sweeping a plugin's own config, rather than cutting a signal in the host, means the
//! curve describes configurations a proxy can actually run.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};

use crate::config::Config;
use crate::plugin::{self, LoadError, PluginEngine, PluginSpec};
use crate::route::snapshot::Route;

/// Most values one sweep may have.
pub const MAX_VALUES: usize = 10_000;

/// A parsed `--sweep PLUGIN.KEY=VALUES`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SweepSpec {
    pub plugin: String,
    /// The key path inside the plugin's config.
    pub key: Vec<String>,
    pub values: Vec<Value>,
}

impl SweepSpec {
    /// `plugin.key.path`.
    pub fn knob(&self) -> String {
        format!("{}.{}", self.plugin, self.key.join("."))
    }
}

/// A `--sweep` that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SweepError {
    #[error("--sweep: expected PLUGIN.KEY=VALUES (e.g. cascade.start_threshold=0:1:0.05), got `{0}`")]
    Syntax(String),
    #[error("--sweep: `{given}` names no plugin of the config (plugins: {known})")]
    UnknownPlugin { given: String, known: String },
    #[error(
        "--sweep: plugin `{plugin}` is not on route `{route}` (its plugins: {on_route}), so sweeping it changes nothing"
    )]
    NotOnRoute { plugin: String, route: String, on_route: String },
    #[error("--sweep: `{0}`: expected START:END:STEP with numbers, STEP > 0 and START <= END")]
    Range(String),
    #[error("--sweep: {0} values; at most {MAX_VALUES}")]
    TooMany(usize),
    #[error("--sweep: `{key}` cannot be set in plugin `{plugin}`'s config: `{at}` is not a table")]
    NotATable { plugin: String, key: String, at: String },
}

/// Parses the flag against the config's plugin names (which may themselves contain dots: the
/// longest name that prefixes the spec wins).
pub fn parse(spec: &str, plugin_names: &[&str]) -> Result<SweepSpec, SweepError> {
    let (target, values) = spec.split_once('=').ok_or_else(|| SweepError::Syntax(spec.to_string()))?;
    let plugin = plugin_names
        .iter()
        .filter(|name| target.strip_prefix(**name).is_some_and(|rest| rest.starts_with('.') && rest.len() > 1))
        .max_by_key(|name| name.len())
        .ok_or_else(|| SweepError::UnknownPlugin { given: target.to_string(), known: plugin_names.join(", ") })?;
    let key: Vec<String> = target[plugin.len() + 1..].split('.').map(str::to_string).collect();
    if key.iter().any(String::is_empty) {
        return Err(SweepError::Syntax(spec.to_string()));
    }
    Ok(SweepSpec { plugin: plugin.to_string(), key, values: parse_values(values)? })
}

/// `START:END:STEP` (inclusive, numbers) or `a,b,c` (each JSON, or else a string).
pub fn parse_values(text: &str) -> Result<Vec<Value>, SweepError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(SweepError::Syntax(text.to_string()));
    }
    if text.contains(':') {
        let parts: Vec<f64> = text
            .split(':')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| SweepError::Range(text.to_string()))?;
        let [start, end, step] = parts[..] else {
            return Err(SweepError::Range(text.to_string()));
        };
        if !(start.is_finite() && end.is_finite() && step.is_finite() && step > 0.0 && start <= end) {
            return Err(SweepError::Range(text.to_string()));
        }
        // Count steps with a little slack so 0:1:0.1 includes 1 despite binary fractions.
        let count = ((end - start) / step + 1e-9).floor() + 1.0;
        if count > MAX_VALUES as f64 {
            return Err(SweepError::TooMany(count as usize));
        }
        return Ok((0..count as usize)
            .map(|i| {
                // Rounded so 0.1·3 is 0.3 in the report, not 0.30000000000000004.
                let v = ((start + step * i as f64) * 1e9).round() / 1e9;
                number(v)
            })
            .collect());
    }
    let values: Vec<Value> = text
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string())))
        .collect();
    if values.is_empty() {
        return Err(SweepError::Syntax(text.to_string()));
    }
    if values.len() > MAX_VALUES {
        return Err(SweepError::TooMany(values.len()));
    }
    Ok(values)
}

fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// `config` with `key` set to `value`, creating tables on the way.
pub fn set_key(config: &Value, plugin: &str, key: &[String], value: Value) -> Result<Value, SweepError> {
    let mut root = match config {
        Value::Object(_) => config.clone(),
        _ => Value::Object(Map::new()),
    };
    let mut at = &mut root;
    for (depth, part) in key.iter().enumerate() {
        let Value::Object(table) = at else {
            return Err(SweepError::NotATable {
                plugin: plugin.to_string(),
                key: key.join("."),
                at: key[..depth].join("."),
            });
        };
        if depth + 1 == key.len() {
            table.insert(part.clone(), value);
            return Ok(root);
        }
        at = table.entry(part.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(root)
}

/// Why a sweep value could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SweepLoadError {
    #[error(transparent)]
    Spec(#[from] SweepError),
    /// The plugin refused the value (its `init` or self-test failed). Boxed: a load error is
    /// large and this one is rare.
    #[error("--sweep {knob}={value}: {source}")]
    Load { knob: String, value: Value, source: Box<LoadError> },
    #[error("cannot read {}: {source}", path.display())]
    Read { path: std::path::PathBuf, source: std::io::Error },
}

/// The route at each sweep value, loaded on demand.
///
/// Why not all at once: every loaded copy of the swept plugin keeps warm instances, and a few
/// hundred copies alive together would exhaust the engine's instance limit (calls would then
/// fail, and the failures would depend on timing). One copy at a time also bounds memory.
pub struct Sweeper<'a> {
    spec: &'a SweepSpec,
    base: &'a Route,
    base_spec: PluginSpec,
    bytes: Vec<u8>,
    engine: &'a Arc<PluginEngine>,
}

impl<'a> Sweeper<'a> {
    /// Checks that the plugin is on the route and reads its component once.
    pub fn new(
        spec: &'a SweepSpec,
        base: &'a Route,
        config: &Config,
        engine: &'a Arc<PluginEngine>,
        strict_deadlines: bool,
    ) -> Result<Self, SweepLoadError> {
        if !base.plugin_names().contains(&spec.plugin.as_str()) {
            return Err(SweepError::NotOnRoute {
                plugin: spec.plugin.clone(),
                route: base.alias.clone(),
                on_route: base.plugin_names().join(", "),
            }
            .into());
        }
        let Some(plugin_config) = config.plugins.get(&spec.plugin) else {
            return Err(SweepError::UnknownPlugin { given: spec.plugin.clone(), known: String::new() }.into());
        };
        let bytes = std::fs::read(&plugin_config.resolved_path)
            .map_err(|source| SweepLoadError::Read { path: plugin_config.resolved_path.clone(), source })?;
        let base_spec = super::plugin_spec_for_eval(&spec.plugin, plugin_config, strict_deadlines);
        Ok(Sweeper { spec, base, base_spec, bytes, engine })
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.spec.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spec.values.is_empty()
    }

    /// The route with the plugin loaded at value `index` (from the engine's compiled cache:
    /// milliseconds).
    pub fn route(&self, index: usize) -> Result<Route, SweepLoadError> {
        let Some(value) = self.spec.values.get(index) else {
            return Ok(self.base.clone());
        };
        let mut load_spec = self.base_spec.clone();
        load_spec.config = set_key(&self.base_spec.config, &self.spec.plugin, &self.spec.key, value.clone())?;
        let loaded =
            plugin::blocking::run(plugin::load_bytes(self.engine, load_spec, self.bytes.clone(), Instant::now()))
                .map_err(|source| SweepLoadError::Load {
                    knob: self.spec.knob(),
                    value: value.clone(),
                    source: Box::new(source),
                })?;
        Ok(self.base.with_plugin(&self.spec.plugin, &Arc::new(loaded)))
    }

    /// Loads (and drops) every value once, so that a value the plugin refuses fails the run
    /// before the replay starts, not halfway through it.
    pub fn check_all(&self) -> Result<(), SweepLoadError> {
        (0..self.len()).try_for_each(|i| self.route(i).map(drop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ranges_and_lists() {
        assert_eq!(parse_values("0:1:0.25").unwrap(), [json!(0), json!(0.25), json!(0.5), json!(0.75), json!(1)]);
        let tenth = parse_values("0:1:0.1").unwrap();
        assert_eq!(tenth.len(), 11);
        assert_eq!(tenth[3], json!(0.3));
        assert_eq!(parse_values("1, 2.5,x,true").unwrap(), [json!(1), json!(2.5), json!("x"), json!(true)]);
        assert_eq!(parse_values("1:0:0.1").unwrap_err(), SweepError::Range("1:0:0.1".into()));
        assert_eq!(parse_values("0:1:0").unwrap_err(), SweepError::Range("0:1:0".into()));
        assert_eq!(parse_values("0:1").unwrap_err(), SweepError::Range("0:1".into()));
        assert_eq!(parse_values(" , ").unwrap_err(), SweepError::Syntax(",".into()));
        assert_eq!(parse_values("0:1:0.00001").unwrap_err(), SweepError::TooMany(100_001));
    }

    #[test]
    fn plugin_and_key() {
        let names = ["cascade", "a.b", "a"];
        let s = parse("cascade.start_threshold=0,1", &names).unwrap();
        assert_eq!((s.plugin.as_str(), s.key.clone()), ("cascade", vec!["start_threshold".to_string()]));
        assert_eq!(s.knob(), "cascade.start_threshold");
        assert_eq!(parse("a.b.c=1", &names).unwrap().plugin, "a.b");
        assert_eq!(parse("a.weights.math=1", &names).unwrap().key, ["weights", "math"]);
        assert!(matches!(parse("nope.x=1", &names), Err(SweepError::UnknownPlugin { .. })));
        assert!(matches!(parse("cascade.x", &names), Err(SweepError::Syntax(_))));
        assert!(matches!(parse("cascade.=1", &names), Err(SweepError::UnknownPlugin { .. })));
    }

    #[test]
    fn setting_nested_keys() {
        let c = json!({"weights": {"code": 0.7}, "x": 1});
        let k = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            set_key(&c, "p", &k("weights.math"), json!(0.2)).unwrap(),
            json!({"weights": {"code": 0.7, "math": 0.2}, "x": 1})
        );
        assert_eq!(set_key(&json!({}), "p", &k("a.b"), json!(1)).unwrap(), json!({"a": {"b": 1}}));
        let err = set_key(&c, "p", &k("x.y"), json!(1)).unwrap_err();
        assert_eq!(err.to_string(), "--sweep: `x.y` cannot be set in plugin `p`'s config: `x` is not a table");
    }
}
