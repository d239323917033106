//! Limits on what a plugin may return. A plugin is untrusted: its output is checked before
//! anything else in the host reads it.

use super::bindings::types::{Plan, Signal, Verdict};
use super::error::CallError;
use super::store::truncate;

/// Most signals one classifier call may return.
pub const MAX_SIGNALS: usize = 256;
/// Longest signal name.
pub const MAX_NAME_BYTES: usize = 128;
/// Most steps in a plan.
pub const MAX_PLAN_STEPS: usize = 32;
/// Longest free text (plan reason, verdict reason, label, error message) kept; longer text
/// is cut, not refused.
pub const MAX_TEXT_BYTES: usize = 1024;

fn bad(plugin: &str, detail: String) -> CallError {
    CallError::BadOutput { plugin: plugin.to_string(), detail }
}

/// Signals must be few, named, and finite.
pub(crate) fn check_signals(plugin: &str, mut signals: Vec<Signal>) -> Result<Vec<Signal>, CallError> {
    if signals.len() > MAX_SIGNALS {
        return Err(bad(plugin, format!("{} signals (at most {MAX_SIGNALS})", signals.len())));
    }
    for signal in &mut signals {
        if signal.name.is_empty() || signal.name.len() > MAX_NAME_BYTES {
            return Err(bad(plugin, format!("signal name of {} bytes (1 to {MAX_NAME_BYTES})", signal.name.len())));
        }
        if !signal.value.is_finite() {
            return Err(bad(plugin, format!("signal `{}` is {}", signal.name, signal.value)));
        }
        if let Some(label) = &mut signal.label {
            cut(label);
        }
    }
    Ok(signals)
}

/// A plan must have 1..=32 steps with plausible ids. Whether the ids exist is the route's
/// business (it knows the model table).
pub(crate) fn check_plan(plugin: &str, mut plan: Plan) -> Result<Plan, CallError> {
    if plan.steps.is_empty() {
        return Err(bad(plugin, "an empty plan".to_string()));
    }
    if plan.steps.len() > MAX_PLAN_STEPS {
        return Err(bad(plugin, format!("a plan of {} steps (at most {MAX_PLAN_STEPS})", plan.steps.len())));
    }
    if let Some(step) = plan.steps.iter().find(|s| s.is_empty() || s.len() > MAX_NAME_BYTES) {
        return Err(bad(plugin, format!("a plan step id of {} bytes", step.len())));
    }
    cut(&mut plan.reason);
    Ok(plan)
}

/// A verdict's confidence must be a number in 0..=1.
pub(crate) fn check_verdict(plugin: &str, mut verdict: Verdict) -> Result<Verdict, CallError> {
    match &mut verdict {
        Verdict::Accept(confidence) => {
            if !confidence.is_finite() || !(0.0..=1.0).contains(confidence) {
                return Err(bad(plugin, format!("accept confidence {confidence} (expected 0..=1)")));
            }
        }
        Verdict::Escalate(reason) | Verdict::Reject(reason) => cut(reason),
    }
    Ok(verdict)
}

fn cut(text: &mut String) {
    let len = truncate(text, MAX_TEXT_BYTES).len();
    text.truncate(len);
}
