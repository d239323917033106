//! What governance decided about a request (key, class clamp, cost gate, reservation), for
//! its decision record.

use serde::Serialize;

/// A plan step the class clamp removed before any call.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DroppedStep {
    pub model: String,
    pub tier: u32,
    pub why: String,
}

/// The `governance` section of a decision record.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct GovernanceRecord {
    pub key: String,
    pub team: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// The highest tier the plan could reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ceiling_tier: Option<u32>,
    /// Why the ceiling is above the class's tier, when an approval raised it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// Plan steps dropped before any call, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<DroppedStep>,
    /// What the cost gate did, when it acted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_gate: Option<String>,
    /// The estimate reserved before the first call, in USD.
    pub reserved_usd: f64,
    /// Settled minus reserved (negative: refunded), once settled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_delta_usd: Option<f64>,
    /// Counted on this replica's own counters because the shared state did not answer.
    pub degraded: bool,
}
