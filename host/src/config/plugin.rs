//! `[plugins.NAME]`: one WebAssembly component and the limits it runs under.

use std::path::PathBuf;
use std::sync::Arc;
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
    /// The `.wasm` component, relative to the config file's directory. Either this or
    /// `source`.
    #[serde(default)]
    pub path: PathBuf,
    /// A signed package in an OCI registry: `oci://HOST/REPO:TAG` or
    /// `oci://HOST/REPO@sha256:…` (a pinned digest). Verified against `[trust]` at load.
    #[serde(default)]
    pub source: Option<String>,
    /// How often a `source` tag is asked whether it moved, in ms; unset = only on reload.
    #[serde(default)]
    pub poll_interval_ms: Option<u64>,
    /// Absolute path of the component, resolved at load (for a package: its verified copy
    /// in the package cache).
    #[serde(skip)]
    pub resolved_path: PathBuf,
    /// The verified package a `source` resolved to, filled in at load by `crate::package`.
    #[serde(skip)]
    pub package: Option<Arc<super::package::ResolvedPackage>>,
    /// Free-form configuration handed to the plugin as JSON. Default `{}`.
    #[serde(default)]
    pub config: toml::Table,
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

/// The scheme of a registry `source`.
pub const OCI_SCHEME: &str = "oci://";

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
    /// The `source` reference without its `oci://` scheme, when the plugin comes from a registry.
    pub fn oci_reference(&self) -> Option<&str> {
        self.source.as_deref().and_then(|s| s.strip_prefix(OCI_SCHEME))
    }
    /// `poll_interval_ms` as a duration.
    pub fn poll_interval(&self) -> Option<Duration> {
        self.poll_interval_ms.map(Duration::from_millis)
    }
    /// The plugin's `config` table as the JSON string the plugin receives.
    pub fn config_json(&self) -> String {
        serde_json::to_string(&self.config).unwrap_or_else(|_| "{}".to_string())
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
