//! The proxy's observer around the decision record: it stamps each stage with when it began
//! (microseconds after the request arrived) and each upstream attempt with the span id its
//! `traceparent` carried, which trace spans need and the routing core does not know.
//!
//! The core reports a stage as it ends, so its start is "now minus its duration". An attempt
//! is reported after its gates have judged it: it began before its own time and its gates'
//! time; each gate began as the one before it ended. The few microseconds of bookkeeping
//! between stages are not accounted for.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::telemetry::decision::{Attempt, DecisionRecord, Observer, PlanRecord, PluginRun};

/// The span id of the upstream call in flight, set by the upstream before it calls and
/// taken by the observer when the core reports the attempt (0: the step was skipped).
#[derive(Debug, Default)]
pub struct CallSpan(AtomicU64);

impl CallSpan {
    pub fn set(&self, span_id: u64) {
        self.0.store(span_id, Ordering::Relaxed);
    }

    fn take(&self) -> u64 {
        self.0.swap(0, Ordering::Relaxed)
    }
}

/// Observes into `record`, timing stages from `started` (the request's arrival).
pub struct Timed<'a> {
    pub record: &'a mut DecisionRecord,
    pub started: Instant,
    pub call_span: &'a CallSpan,
}

impl Timed<'_> {
    fn now_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

impl Observer for Timed<'_> {
    fn classified(&mut self, mut run: PluginRun) {
        run.start_us = self.now_us().saturating_sub(run.micros);
        self.record.classified(run);
    }

    fn planned(&mut self, mut policy: Option<PluginRun>, plan: &PlanRecord) {
        if let Some(run) = &mut policy {
            run.start_us = self.now_us().saturating_sub(run.micros);
        }
        self.record.planned(policy, plan);
    }

    fn attempted(&mut self, mut attempt: Attempt) {
        let gates: u64 = attempt.gates.iter().map(|g| g.micros).sum();
        let own = (attempt.latency_ms.max(0.0) * 1000.0) as u64;
        attempt.start_us = self.now_us().saturating_sub(gates + own);
        let mut next = attempt.start_us + own;
        for gate in &mut attempt.gates {
            gate.start_us = next;
            next += gate.micros;
        }
        attempt.span_id = self.call_span.take();
        self.record.attempted(attempt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::decision::GateRun;

    #[test]
    fn stages_are_stamped_with_their_start_and_attempts_with_their_span() {
        let mut record = DecisionRecord::default();
        let call_span = CallSpan::default();
        let started = Instant::now() - std::time::Duration::from_millis(10);
        let mut timed = Timed { record: &mut record, started, call_span: &call_span };
        timed.classified(PluginRun { plugin: "c".into(), micros: 2000, ..Default::default() });
        call_span.set(0xabc);
        timed.attempted(Attempt {
            latency_ms: 3.0,
            gates: vec![GateRun { micros: 500, ..Default::default() }, GateRun { micros: 250, ..Default::default() }],
            ..Default::default()
        });
        // A skipped step: no call, no span.
        timed.attempted(Attempt::default());
        let classifier = &record.classifiers[0];
        assert!((8000..=9000).contains(&classifier.start_us), "{}", classifier.start_us);
        let attempt = &record.attempts[0];
        assert_eq!(attempt.span_id, 0xabc);
        assert!((6250..=7500).contains(&attempt.start_us), "{}", attempt.start_us);
        assert_eq!(attempt.gates[0].start_us, attempt.start_us + 3000);
        assert_eq!(attempt.gates[1].start_us, attempt.start_us + 3500);
        assert_eq!(record.attempts[1].span_id, 0);
    }
}
