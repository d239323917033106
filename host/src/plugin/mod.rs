//! The plugin runtime: wasmtime, narrowed to the one calling style Switchyard uses.
//!
//! - [`PluginEngine`]: the engines (component model, pooling allocator, epoch ticker), their
//!   linker (the host's `log` and a WASI that grants nothing) and the compiled-artifact cache.
//! - [`load`]: file → compiled component → world check → `InstancePre` → self-test.
//! - [`tier`]: new versions go live on baseline (Winch) code and move to optimized
//!   (Cranelift) code built in the background.
//! - [`Plugin`]: a loaded version; `classify`, `route` and `check` run one call each under the
//!   plugin's [`Limits`], in a warm pooled instance or a fresh one ([`InstanceStrategy`]).
//! - [`CallError`]: every way a call can fail, naming the plugin and the limit.

mod adapt;
mod bindings;
pub mod blocking;
mod cache;
pub mod compile;
mod engine;
mod error;
mod function_cache;
mod instance;
mod limits;
mod load;
mod loaded;
mod output;
mod quarantine;
pub mod samples;
mod scratch;
mod split;
mod store;
mod tier;
mod types_ext;
mod wasi;
mod world;

pub use adapt::Contract;
pub use world::check_names as check_world_names;

pub use bindings::types;
pub use bindings::types::{
    Candidate, ContentPart, JsonSchemaFormat, Message, ModelInfo, PartKind, Plan, Request, ResponseFormat, Signal,
    Tool, ToolCall, ToolChoice, ToolResult, Verdict,
};
pub use cache::{CacheOutcome, ContentHash};
pub use compile::{WorkerLimits, WorkerReport, enable_worker as enable_compile_worker};
pub use engine::{CacheReport, EngineError, EngineSettings, PluginEngine};
pub use error::{CallError, LimitKind};
pub use function_cache::FunctionCacheStats;
pub use instance::InstanceStrategy;
pub use limits::Limits;
pub use load::{LoadError, PluginSpec, load, load_blocking, load_bytes, load_hashed};
pub use loaded::{LoadReport, Plugin, SharedModules};
pub use output::{MAX_PLAN_STEPS, MAX_SIGNALS, MAX_TEXT_BYTES};
pub use quarantine::QuarantinePolicy;
pub use store::{LOG_LINE_MAX_BYTES, LOG_LINES_PER_CALL};
pub use tier::{Tier, TierUp};
pub use wasi::FIXED_WALL_CLOCK;

/// The three plugin worlds of `wit/switchyard.wit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    Classifier,
    Policy,
    Gate,
}

impl PluginKind {
    pub const ALL: [PluginKind; 3] = [PluginKind::Classifier, PluginKind::Policy, PluginKind::Gate];

    /// The exports the kind's world requires in the current contract (0.2.0; a 0.1.0
    /// component exports `init` instead of `configure`, see [`Contract`]).
    pub fn exports(self) -> &'static [&'static str] {
        match self {
            PluginKind::Classifier => &["configure", "classify"],
            PluginKind::Policy => &["configure", "route"],
            PluginKind::Gate => &["configure", "check"],
        }
    }

    /// The export that does the kind's work (`classify`, `route` or `check`).
    pub fn call_export(self) -> &'static str {
        self.exports()[1]
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Classifier => "classifier",
            PluginKind::Policy => "policy",
            PluginKind::Gate => "gate",
        }
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PluginKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "classifier" => Ok(PluginKind::Classifier),
            "policy" => Ok(PluginKind::Policy),
            "gate" => Ok(PluginKind::Gate),
            other => Err(format!("`{other}` is not a plugin kind (expected classifier, policy or gate)")),
        }
    }
}
