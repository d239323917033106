//! `[plugins.NAME]`: one WebAssembly component and the limits it runs under.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

pub use crate::plugin::PluginKind;

/// What a request does when a classifier traps, times out or returns garbage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifierFailMode {
    /// Contribute no signals (default): routing goes on without this classifier.
    #[default]
    Skip,
    /// Fail the request.
    Error,
}

/// What a request does when its policy fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyFailMode {
    /// Use the route's `default_plan` (default): a route can always answer.
    #[default]
    DefaultPlan,
    /// Fail the request.
    Error,
}

/// What a candidate answer gets when a gate fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateFailMode {
    /// Treat as "escalate" (default; fail closed on quality).
    #[default]
    Escalate,
    /// Treat as "accept" (fail open).
    Accept,
    /// Treat as "reject".
    Reject,
}

/// A plugin's fail mode, typed by the world it implements: each kind has its own set, so a
/// gate can never be told to `skip` and a classifier never to `accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(untagged)]
pub enum FailMode {
    Classifier(ClassifierFailMode),
    Policy(PolicyFailMode),
    Gate(GateFailMode),
}

impl FailMode {
    /// The kind's safe default.
    pub fn default_for(kind: PluginKind) -> FailMode {
        match kind {
            PluginKind::Classifier => FailMode::Classifier(ClassifierFailMode::default()),
            PluginKind::Policy => FailMode::Policy(PolicyFailMode::default()),
            PluginKind::Gate => FailMode::Gate(GateFailMode::default()),
        }
    }

    /// Parses the config's `fail_mode` string as the fail mode of a `kind` plugin. The error
    /// lists the values that kind accepts (serde's own "unknown variant" message).
    pub fn parse(kind: PluginKind, text: &str) -> Result<FailMode, String> {
        use serde::de::IntoDeserializer;
        let de = || -> serde::de::value::StrDeserializer<'_, serde::de::value::Error> { text.into_deserializer() };
        let parsed = match kind {
            PluginKind::Classifier => ClassifierFailMode::deserialize(de()).map(FailMode::Classifier),
            PluginKind::Policy => PolicyFailMode::deserialize(de()).map(FailMode::Policy),
            PluginKind::Gate => GateFailMode::deserialize(de()).map(FailMode::Gate),
        };
        parsed.map_err(|e| e.to_string())
    }

    /// The snake_case name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::Classifier(ClassifierFailMode::Skip) => "skip",
            FailMode::Classifier(ClassifierFailMode::Error) | FailMode::Policy(PolicyFailMode::Error) => "error",
            FailMode::Policy(PolicyFailMode::DefaultPlan) => "default_plan",
            FailMode::Gate(GateFailMode::Escalate) => "escalate",
            FailMode::Gate(GateFailMode::Accept) => "accept",
            FailMode::Gate(GateFailMode::Reject) => "reject",
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
    /// What a failure means, as written (`skip`, `error`, `default_plan`, `escalate`,
    /// `accept`, `reject`); `None` = the kind's default. Checked against the kind by
    /// validation; read it typed with [`PluginConfig::fail_mode`].
    #[serde(default, rename = "fail_mode")]
    pub fail_mode_text: Option<String>,
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
    /// The fail mode in force: the configured one or the kind's default. An error names the
    /// values the plugin's kind accepts.
    pub fn fail_mode(&self) -> Result<FailMode, String> {
        match &self.fail_mode_text {
            Some(text) => FailMode::parse(self.kind, text),
            None => Ok(FailMode::default_for(self.kind)),
        }
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
    fn fail_modes_are_typed_by_kind() {
        assert_eq!(FailMode::parse(PluginKind::Gate, "accept"), Ok(FailMode::Gate(GateFailMode::Accept)));
        assert_eq!(
            FailMode::parse(PluginKind::Classifier, "error"),
            Ok(FailMode::Classifier(ClassifierFailMode::Error))
        );
        let wrong = FailMode::parse(PluginKind::Classifier, "escalate").unwrap_err();
        assert!(wrong.contains("`skip`") && wrong.contains("`error`"), "{wrong}");
        for kind in PluginKind::ALL {
            assert_eq!(FailMode::parse(kind, FailMode::default_for(kind).as_str()), Ok(FailMode::default_for(kind)));
        }
    }

    #[test]
    fn config_json_round_trips_tables() {
        let p: PluginConfig =
            toml::from_str("kind = \"gate\"\npath = \"g.wasm\"\nconfig = { min = 0.5, x = [1] }").unwrap();
        assert_eq!(p.config_json(), r#"{"min":0.5,"x":[1]}"#);
        assert_eq!(p.fail_mode(), Ok(FailMode::Gate(GateFailMode::Escalate)));
    }
}
