//! Running a route's gates on one candidate answer, applying each gate's fail mode.

use std::time::Instant;

use super::decision::GateRun;
use super::snapshot::Route;
use crate::config::FailMode;
use crate::plugin::{CallError, Candidate, Request, Verdict};
use crate::server::App;

/// The combined verdict of a route's gates.
#[derive(Debug, Clone, PartialEq)]
pub enum GateOutcome {
    Accept,
    Escalate(String),
    Reject(String),
}

/// Runs the gates in order, stopping at the first that does not accept.
pub async fn judge(app: &App, route: &Route, request: &Request, candidate: &Candidate) -> (GateOutcome, Vec<GateRun>) {
    let mut runs = Vec::with_capacity(route.gates.len());
    for slot in &route.gates {
        let name = slot.plugin.name();
        let started = Instant::now();
        let result = slot.plugin.check(request, candidate).await;
        let elapsed = started.elapsed();
        let failure = result.as_ref().err().map(CallError::label);
        app.metrics().observe_plugin(name, "gate", elapsed.as_secs_f64(), failure);
        let mut run = GateRun { plugin: name.to_string(), micros: elapsed.as_micros() as u64, ..Default::default() };
        let outcome = match result {
            Ok(Verdict::Accept(confidence)) => {
                run.verdict = "accept".into();
                run.confidence = Some(confidence);
                GateOutcome::Accept
            }
            Ok(Verdict::Escalate(reason)) => {
                run.verdict = "escalate".into();
                run.reason = Some(reason.clone());
                GateOutcome::Escalate(format!("{name}: {reason}"))
            }
            Ok(Verdict::Reject(reason)) => {
                run.verdict = "reject".into();
                run.reason = Some(reason.clone());
                GateOutcome::Reject(format!("{name}: {reason}"))
            }
            Err(error) => {
                tracing::warn!(plugin = name, "gate failed: {error}");
                run.error = Some(error.to_string());
                let why = format!("{name} failed ({})", error.label());
                match slot.fail_mode {
                    FailMode::Accept => {
                        run.verdict = "accept".into();
                        GateOutcome::Accept
                    }
                    FailMode::Reject => {
                        run.verdict = "reject".into();
                        GateOutcome::Reject(why)
                    }
                    _ => {
                        run.verdict = "escalate".into();
                        GateOutcome::Escalate(why)
                    }
                }
            }
        };
        runs.push(run);
        if outcome != GateOutcome::Accept {
            return (outcome, runs);
        }
    }
    (GateOutcome::Accept, runs)
}
