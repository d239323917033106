//! The TOML config: schema, defaults, and validation with messages that name the file, the
//! key path and what was expected.
//!
//! Loading is all-or-nothing: [`Config::load`] either returns a config whose cross
//! references all resolve (every model's provider exists, every route's plugins exist and
//! have the right kind, every plugin file is on disk, every named secret is set), or an
//! error listing every problem at once. Code downstream can then index maps without
//! handling "unknown model" again.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! [providers.openai]
//! base_url = "https://api.openai.com/v1"
//! api_key_env = "OPENAI_API_KEY"
//! [models.small]
//! provider = "openai"
//! upstream = "gpt-4o-mini"
//! input_price = 0.15
//! output_price = 0.6
//! [routes.auto]
//! default_plan = ["small"]
//! ```

mod error;
mod governance;
mod governance_check;
mod model;
mod package;
mod plugin;
mod provider;
mod route;
mod secret;
mod sections;
mod trust;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use error::ConfigError;
pub use governance::{
    BudgetConfig, ClassConfig, CostGateAction, CostGateConfig, Escalation, GovernanceConfig, KeyConfig, LimitFailMode,
    Period, RateLimitConfig, StateBackend, StateConfig, TeamConfig, check_key,
};
pub use model::{ModelConfig, Prices};
pub use package::{PackageLimits, ResolvedPackage};
pub use plugin::{
    ClassifierFailMode, FailMode, GateFailMode, InstanceMode, OCI_SCHEME, PluginConfig, PluginKind, PolicyFailMode,
};
pub use provider::{ProviderConfig, ProviderKind};
pub use route::{OnReject, RouteConfig};
pub use secret::{Secret, Secrets};
pub use sections::{
    AdminConfig, DecisionLog, HealthConfig, LogFormat, OtlpConfig, RuntimeConfig, ServerConfig, TelemetryConfig,
};
pub use trust::{PublisherConfig, TrustConfig};

/// A loaded, validated config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the proxy listens on, `"IP:port"`. Default `"127.0.0.1:8080"`: loopback, so
    /// a fresh install is not an open relay for your API keys.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// `listen`, parsed.
    #[serde(skip, default = "default_listen_addr")]
    pub listen_addr: SocketAddr,
    /// `[server]`.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[health]`.
    #[serde(default)]
    pub health: HealthConfig,
    /// `[runtime]`.
    #[serde(default)]
    pub runtime: RuntimeConfig,
    /// `[telemetry]`.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// `[admin]`.
    #[serde(default)]
    pub admin: AdminConfig,
    /// `[trust]`: who may publish plugin packages, and with what limits.
    #[serde(default)]
    pub trust: TrustConfig,
    /// `[providers.NAME]`, by name.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// `[models.ID]`, by model id.
    #[serde(default)]
    pub models: BTreeMap<String, ModelConfig>,
    /// `[plugins.NAME]`, by name.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginConfig>,
    /// `[routes.ALIAS]`, by the model name clients ask for.
    #[serde(default)]
    pub routes: BTreeMap<String, RouteConfig>,
    /// `[state]`: in-process, or Redis shared by a fleet.
    #[serde(default)]
    pub state: StateConfig,
    /// `[governance]`.
    #[serde(default)]
    pub governance: GovernanceConfig,
    /// `[keys.NAME]`: virtual keys, each in a team.
    #[serde(default)]
    pub keys: BTreeMap<String, KeyConfig>,
    /// `[teams.NAME]`.
    #[serde(default)]
    pub teams: BTreeMap<String, TeamConfig>,
    /// `[classes.NAME]`: request classes, each bound to a model tier.
    #[serde(default)]
    pub classes: BTreeMap<String, ClassConfig>,
    /// `[model_limits.ID]`: rate limits of one model, across all keys.
    #[serde(default)]
    pub model_limits: BTreeMap<String, RateLimitConfig>,
    /// The file this config came from, as given (used in messages).
    #[serde(skip)]
    pub path: PathBuf,
    /// The directory relative paths were resolved against (absolute).
    #[serde(skip)]
    pub base_dir: PathBuf,
    #[serde(skip)]
    secrets: Secrets,
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_string()
}
fn default_listen_addr() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 8080))
}

impl Config {
    /// Reads, parses and validates the config file at `path`, resolving relative paths
    /// against its directory and secrets from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { file: path.display().to_string(), source })?;
        Config::from_str(&text, path)
    }

    /// Parses and validates `text` as if it were the file at `path` (which names the file
    /// in messages and anchors relative paths). Secrets come from the process environment.
    pub fn from_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Config::from_str_with_env(text, path, &|var| std::env::var(var).ok())
    }

    /// Like [`Config::from_str`], with secrets looked up through `env` instead of the
    /// process environment (tests, and embedding without touching global state).
    pub fn from_str_with_env(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let mut cfg: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { file: file.clone(), message: e.to_string().trim_end().to_string() })?;
        let base = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        cfg.base_dir = std::path::absolute(&base).unwrap_or(base);
        cfg.path = path.to_path_buf();
        let mut problems = error::Problems::default();
        let base = cfg.base_dir.clone();
        validate::check(&mut cfg, &base, env, &mut problems);
        problems.into_result(&file)?;
        Ok(cfg)
    }

    /// The secrets resolved at load (API keys by provider, the admin token).
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Absolute paths of every plugin's component file, by plugin name.
    pub fn plugin_paths(&self) -> BTreeMap<&str, &Path> {
        self.plugins.iter().map(|(name, p)| (name.as_str(), p.resolved_path.as_path())).collect()
    }

    /// The total deadline for a request on `route`: its `deadline_ms`, or the server's.
    pub fn request_deadline(&self, route: &str) -> Duration {
        self.routes
            .get(route)
            .and_then(|r| r.deadline_ms)
            .map(Duration::from_millis)
            .unwrap_or_else(|| self.server.request_timeout())
    }
}
