//! What can go wrong when a plugin is called, named precisely enough to act on.

use std::time::Duration;

/// Which limit stopped a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    Deadline,
    Memory,
    Stack,
    Fuel,
}

/// The ways one plugin call can fail. Every variant names the plugin. None of them is fatal
/// to the host: the instance involved is discarded and the caller applies the fail mode.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("plugin `{plugin}` ran past its deadline of {deadline:?}")]
    Deadline { plugin: String, deadline: Duration },
    #[error("plugin `{plugin}` hit its memory cap of {cap_bytes} bytes")]
    Memory { plugin: String, cap_bytes: u64 },
    #[error("plugin `{plugin}` exhausted its stack (runaway recursion)")]
    Stack { plugin: String },
    #[error("plugin `{plugin}` ran out of fuel")]
    Fuel { plugin: String },
    #[error("plugin `{plugin}` trapped: {detail}")]
    Trap { plugin: String, detail: String },
    #[error("plugin `{plugin}` could not be instantiated: {detail}")]
    Instantiate { plugin: String, detail: String },
    #[error("plugin `{plugin}` rejected its configuration: {message}")]
    Init { plugin: String, message: String },
    #[error("plugin `{plugin}` returned an error: {message}")]
    Guest { plugin: String, message: String },
    #[error("plugin `{plugin}` returned an invalid result: {detail}")]
    BadOutput { plugin: String, detail: String },
    #[error("plugin `{plugin}` is quarantined after repeated failures")]
    Quarantined { plugin: String },
    /// The caller asked a plugin for another world's export (a gate asked to classify): a
    /// mistake of the caller, refused before an instance is taken and not held against the
    /// plugin.
    #[error("plugin `{plugin}` is a {kind}, not a {asked}")]
    WrongKind { plugin: String, kind: super::PluginKind, asked: super::PluginKind },
}

impl CallError {
    /// The limit that stopped the call, if a limit did.
    pub fn limit(&self) -> Option<LimitKind> {
        match self {
            CallError::Deadline { .. } => Some(LimitKind::Deadline),
            CallError::Memory { .. } => Some(LimitKind::Memory),
            CallError::Stack { .. } => Some(LimitKind::Stack),
            CallError::Fuel { .. } => Some(LimitKind::Fuel),
            _ => None,
        }
    }

    /// A short stable label for metrics and decision records.
    pub fn label(&self) -> &'static str {
        match self {
            CallError::Deadline { .. } => "deadline",
            CallError::Memory { .. } => "memory",
            CallError::Stack { .. } => "stack",
            CallError::Fuel { .. } => "fuel",
            CallError::Trap { .. } => "trap",
            CallError::Instantiate { .. } => "instantiate",
            CallError::Init { .. } => "init",
            CallError::Guest { .. } => "guest_error",
            CallError::BadOutput { .. } => "bad_output",
            CallError::Quarantined { .. } => "quarantined",
            CallError::WrongKind { .. } => "wrong_kind",
        }
    }
}
