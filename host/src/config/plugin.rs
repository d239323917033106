//! `[plugins.NAME]`: one WebAssembly component and the limits it runs under.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Which WIT world a plugin implements, i.e. which slot of a route it may fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// Emits signals about a request.
    Classifier,
    /// Turns request + signals + model table into a plan.
    Policy,
    /// Judges a candidate answer.
    Gate,
}

impl PluginKind {
    /// The lowercase name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Classifier => "classifier",
            PluginKind::Policy => "policy",
            PluginKind::Gate => "gate",
        }
    }

    /// The fail mode used when the config names none: the safe one for each kind.
    pub fn default_fail_mode(self) -> FailMode {
        match self {
            PluginKind::Classifier => FailMode::Skip,
            PluginKind::Policy => FailMode::DefaultPlan,
            PluginKind::Gate => FailMode::Escalate,
        }
    }

    /// The fail modes that make sense for this kind.
    pub fn allowed_fail_modes(self) -> &'static [FailMode] {
        match self {
            PluginKind::Classifier => &[FailMode::Skip, FailMode::Error],
            PluginKind::Policy => &[FailMode::DefaultPlan, FailMode::Error],
            PluginKind::Gate => &[FailMode::Escalate, FailMode::Accept, FailMode::Reject],
        }
    }
}

/// What the request does when this plugin traps, times out or returns garbage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Classifier: contribute no signals (default).
    Skip,
    /// Classifier or policy: fail the request.
    Error,
    /// Policy: use the route's `default_plan` (default).
    DefaultPlan,
    /// Gate: treat as "escalate" (default; fail closed on quality).
    Escalate,
    /// Gate: treat as "accept" (fail open).
    Accept,
    /// Gate: treat as "reject".
    Reject,
}

impl FailMode {
    /// The snake_case name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::Skip => "skip",
            FailMode::Error => "error",
            FailMode::DefaultPlan => "default_plan",
            FailMode::Escalate => "escalate",
            FailMode::Accept => "accept",
            FailMode::Reject => "reject",
        }
    }
}

/// Whether each call gets a new instance or reuses one from a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceMode {
    /// Reuse instances from a per-plugin pool: ~2 µs per call; required for Python/JS
    /// guests whose instantiation costs ~1 ms. Default.
    #[default]
    Warm,
    /// A new instance per call: strongest isolation (no state leaks between requests).
    Fresh,
}

/// One plugin.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// The world it implements.
    pub kind: PluginKind,
    /// The `.wasm` component, relative to the config file's directory.
    pub path: PathBuf,
    /// Absolute path of the component, resolved at load.
    #[serde(skip)]
    pub resolved_path: PathBuf,
    /// Free-form configuration handed to the plugin as JSON. Default `{}`.
    #[serde(default)]
    pub config: toml::Table,
    /// Files whose text the plugin receives in its config, by config key, relative to the
    /// config file's directory: `files = { model = "router.json" }` passes that file's text
    /// as the string `config.model`. Plugins cannot open files (the sandbox grants none), so
    /// data too large or too often retrained to paste into the TOML (a trained router) comes
    /// this way; the files are watched like the config, and a change re-initialises the
    /// plugin.
    #[serde(default)]
    pub files: BTreeMap<String, PathBuf>,
    /// `files` resolved to absolute paths, with their text, read at load.
    #[serde(skip)]
    pub file_texts: BTreeMap<String, (PathBuf, String)>,
    /// Deadline of one call, in ms. Default 10.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
    /// Linear memory cap per instance, in MiB. Default 64.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
    /// Fuel per call; only allowed when `runtime.fuel = true`.
    #[serde(default)]
    pub fuel: Option<u64>,
    /// `"warm"` (default) or `"fresh"`.
    #[serde(default)]
    pub instance: InstanceMode,
    /// Warm instances kept per plugin. Default 16.
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// What a failure means; `None` = the kind's default ([`PluginKind::default_fail_mode`]).
    #[serde(default)]
    pub fail_mode: Option<FailMode>,
    /// Consecutive failures before the plugin is quarantined; 0 = never. Default 10.
    #[serde(default = "default_quarantine_after")]
    pub quarantine_after: u32,
    /// How long a quarantined plugin waits before it is tried again, in ms. Default 5 000.
    #[serde(default = "default_quarantine_retry_ms")]
    pub quarantine_retry_ms: u64,
}

fn default_deadline_ms() -> u64 {
    10
}
fn default_memory_mb() -> u64 {
    64
}
fn default_pool_size() -> u32 {
    16
}
fn default_quarantine_after() -> u32 {
    10
}
fn default_quarantine_retry_ms() -> u64 {
    5_000
}

impl PluginConfig {
    /// The fail mode in force: the configured one or the kind's default.
    pub fn effective_fail_mode(&self) -> FailMode {
        self.fail_mode.unwrap_or_else(|| self.kind.default_fail_mode())
    }
    /// `deadline_ms` as a duration.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
    /// `quarantine_retry_ms` as a duration.
    pub fn quarantine_retry(&self) -> Duration {
        Duration::from_millis(self.quarantine_retry_ms)
    }
    /// The plugin's `config` table as the JSON string the plugin receives.
    pub fn config_json(&self) -> String {
        self.config_value().to_string()
    }

    /// The configuration the plugin receives: the `config` table plus the text of each of
    /// `files` under its key (validation rejects a key in both).
    pub fn config_value(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(&self.config).unwrap_or_else(|_| serde_json::json!({}));
        if let Some(map) = value.as_object_mut() {
            for (key, (_, text)) in &self.file_texts {
                map.insert(key.clone(), serde_json::Value::String(text.clone()));
            }
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fail_modes_are_allowed() {
        for kind in [PluginKind::Classifier, PluginKind::Policy, PluginKind::Gate] {
            assert!(kind.allowed_fail_modes().contains(&kind.default_fail_mode()));
        }
    }

    #[test]
    fn config_json_round_trips_tables() {
        let p: PluginConfig =
            toml::from_str("kind = \"gate\"\npath = \"g.wasm\"\nconfig = { min = 0.5, x = [1] }").unwrap();
        assert_eq!(p.config_json(), r#"{"min":0.5,"x":[1]}"#);
        assert_eq!(p.effective_fail_mode(), FailMode::Escalate);
    }
}
