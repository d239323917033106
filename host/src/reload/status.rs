//! What the admin API reports about reloads: the serving snapshot, the last attempt, and the
//! last error of each plugin.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::route::snapshot::NamedChange;

/// The outcome of one reload attempt.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadAttempt {
    /// Unix milliseconds when the attempt finished.
    pub at_ms: u64,
    /// What started it: `watch`, `admin`, `startup`.
    pub trigger: String,
    pub ok: bool,
    /// The version published, when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What happened to each plugin, when it succeeded.
    pub plugins: Vec<NamedChange>,
    pub duration_ms: f64,
}

/// A plugin's most recent load failure (cleared when a version of it loads).
#[derive(Debug, Clone, Serialize)]
pub struct PluginFailure {
    pub at_ms: u64,
    pub error: String,
}

/// Reload bookkeeping kept by the app.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReloadStatus {
    pub last: Option<ReloadAttempt>,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    pub plugin_failures: BTreeMap<String, PluginFailure>,
    /// The last [`HISTORY_KEPT`] attempts, oldest first (the dashboard's reload history).
    #[serde(skip)]
    pub history: VecDeque<ReloadAttempt>,
}

/// Reload attempts remembered for the dashboard.
pub const HISTORY_KEPT: usize = 50;

impl ReloadStatus {
    /// Records a finished attempt as the last one and in the bounded history.
    pub fn record(&mut self, attempt: ReloadAttempt) {
        if self.history.len() == HISTORY_KEPT {
            self.history.pop_front();
        }
        self.history.push_back(attempt.clone());
        self.last = Some(attempt);
    }
}
