//! What the dashboard shows live: the recent decision records, requests over time, the
//! cascade distribution, and a stream of records as they finish.
//!
//! Fed by every finished record (one short lock, a few additions). The stream is a tokio
//! broadcast channel: with nobody watching, publishing is one atomic load; with watchers, a
//! record is summarised once and shared by all of them. Everything here is bounded (rings,
//! capped maps), so an idle proxy's memory does not grow.

pub mod cascade;
pub mod series;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::broadcast;

use crate::telemetry::decision::DecisionRecord;
use cascade::{Catalog, Tallies};
use series::{Sample, Series};

/// Finished records kept for the Decisions page and its detail view.
pub const RECENT_KEPT: usize = 500;
/// Records a slow stream subscriber may fall behind before it skips ahead.
const STREAM_BUFFER: usize = 256;

/// The live view. One per process, shared by every request.
pub struct Live {
    state: Mutex<State>,
    stream: broadcast::Sender<Arc<str>>,
}

#[derive(Default)]
pub struct State {
    recent: VecDeque<Arc<DecisionRecord>>,
    pub series: Series,
    pub tallies: Tallies,
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

/// The part of a record a list row shows, and what it is filtered by.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    pub id: &'a str,
    pub ts_ms: u64,
    pub route: Option<&'a str>,
    pub requested_model: &'a str,
    pub model: Option<&'a str>,
    pub status: &'a str,
    pub http_status: u16,
    pub key: Option<&'a str>,
    pub attempts: usize,
    pub escalations: usize,
    pub fallbacks: usize,
    pub reason: &'a str,
    pub cost_usd: Option<f64>,
    pub latency_ms: f64,
}

impl<'a> Summary<'a> {
    pub fn of(record: &'a DecisionRecord) -> Summary<'a> {
        Summary {
            id: &record.id,
            ts_ms: record.ts_ms,
            route: record.route.as_deref(),
            requested_model: &record.requested_model,
            model: record.outcome.model.as_deref(),
            status: &record.outcome.status,
            http_status: record.outcome.http_status,
            key: record.key.as_deref(),
            attempts: record.attempts.len(),
            escalations: record.escalations(),
            fallbacks: record.fallbacks(),
            reason: &record.plan.reason,
            cost_usd: record.cost_usd,
            latency_ms: record.latency_ms,
        }
    }
}

/// Filters for the Decisions list (each `None` matches everything).
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub route: Option<String>,
    pub model: Option<String>,
    /// `ok` or `error`.
    pub outcome: Option<String>,
    pub key: Option<String>,
}

impl Filter {
    pub fn matches(&self, record: &DecisionRecord) -> bool {
        let is = |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
        is(&self.route, record.route.as_deref())
            && (self.model.is_none()
                || is(&self.model, record.outcome.model.as_deref())
                || is(&self.model, Some(&record.requested_model)))
            && is(&self.outcome, Some(&record.outcome.status))
            && is(&self.key, record.key.as_deref())
    }
}

impl Live {
    pub fn new() -> Live {
        Live { state: Mutex::new(State::default()), stream: broadcast::channel(STREAM_BUFFER).0 }
    }

    /// Takes in one finished record. `catalog` (the serving snapshot) prices the route's
    /// dearest model and says each model's tier.
    pub fn observe(&self, record: &Arc<DecisionRecord>, catalog: &dyn Catalog) {
        let route: Arc<str> = Arc::from(record.route.as_deref().unwrap_or("-"));
        let cost: Vec<(Arc<str>, Arc<str>, f64)> = record
            .attempts
            .iter()
            .filter_map(|a| a.cost_usd.filter(|usd| *usd > 0.0).map(|usd| (a, usd)))
            .map(|(a, usd)| (route.clone(), Arc::from(a.model.as_str()), usd))
            .collect();
        let second = now_ms() / 1000;
        {
            let mut state = self.state();
            if state.recent.len() == RECENT_KEPT {
                state.recent.pop_front();
            }
            state.recent.push_back(record.clone());
            state.series.add(Sample {
                second,
                error: record.outcome.status != "ok",
                latency_ms: record.latency_ms,
                cost: &cost,
            });
            state.tallies.add(record, catalog);
        }
        if self.stream.receiver_count() > 0
            && let Ok(line) = serde_json::to_string(&Summary::of(record))
        {
            // No receiver left between the check and the send is not an error.
            let _ = self.stream.send(Arc::from(line));
        }
    }

    /// A new stream subscriber: summaries (JSON) of records finished from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.stream.subscribe()
    }

    /// The most recent records matching `filter`, newest first.
    pub fn recent(&self, filter: &Filter, limit: usize) -> Vec<Arc<DecisionRecord>> {
        self.state().recent.iter().rev().filter(|r| filter.matches(r)).take(limit).cloned().collect()
    }

    /// One recent record by id.
    pub fn find(&self, id: &str) -> Option<Arc<DecisionRecord>> {
        self.state().recent.iter().rev().find(|r| r.id == id).cloned()
    }

    /// The aggregates, locked (for the overview endpoint; hold it briefly).
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::decision::{Attempt, AttemptOutcome, Outcome};

    fn record(id: &str, route: &str, model: &str, status: &str) -> Arc<DecisionRecord> {
        Arc::new(DecisionRecord {
            id: id.into(),
            route: Some(route.into()),
            requested_model: route.into(),
            outcome: Outcome { status: status.into(), http_status: 200, model: Some(model.into()), error: None },
            attempts: vec![Attempt {
                model: model.into(),
                outcome: AttemptOutcome::Returned,
                cost_usd: Some(0.5),
                ..Default::default()
            }],
            cost_usd: Some(0.5),
            latency_ms: 3.0,
            ..Default::default()
        })
    }

    #[test]
    fn recent_records_are_a_bounded_filterable_ring() {
        let live = Live::new();
        let snapshot = cascade::tests::TwoModels(Vec::new());
        for i in 0..(RECENT_KEPT + 10) {
            let status = if i % 2 == 0 { "ok" } else { "error" };
            live.observe(&record(&format!("r{i}"), "auto", "small", status), &snapshot);
        }
        let all = live.recent(&Filter::default(), usize::MAX);
        assert_eq!(all.len(), RECENT_KEPT);
        assert_eq!(all[0].id, format!("r{}", RECENT_KEPT + 9), "newest first");
        assert!(live.find("r0").is_none(), "the oldest fell off");
        let errors = Filter { outcome: Some("error".into()), ..Default::default() };
        assert!(live.recent(&errors, 10).iter().all(|r| r.outcome.status == "error"));
        let other_route = Filter { route: Some("nope".into()), ..Default::default() };
        assert!(live.recent(&other_route, 10).is_empty());
        let by_model = Filter { model: Some("small".into()), ..Default::default() };
        assert_eq!(live.recent(&by_model, 10).len(), 10);
        let state = live.state();
        let tally = &state.tallies.routes()["auto"];
        assert_eq!(tally.requests, (RECENT_KEPT + 10) as u64);
    }

    #[tokio::test]
    async fn the_stream_carries_summaries_only_to_subscribers() {
        let live = Live::new();
        let snapshot = cascade::tests::TwoModels(Vec::new());
        live.observe(&record("before", "auto", "small", "ok"), &snapshot);
        let mut receiver = live.subscribe();
        live.observe(&record("after", "auto", "small", "ok"), &snapshot);
        let line = receiver.recv().await.unwrap();
        let summary: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(summary["id"], "after");
        assert_eq!(summary["model"], "small");
        assert!(receiver.try_recv().is_err(), "nothing before the subscription");
    }
}
