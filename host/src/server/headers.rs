//! The transparency headers every chat answer carries: who answered, after how many
//! attempts, why, and at what cost. Switching models silently is what Switchyard exists to
//! fix.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::telemetry::decision::Attempt;

pub const MODEL: &str = "x-switchyard-model";
pub const ROUTE: &str = "x-switchyard-route";
pub const ATTEMPTS: &str = "x-switchyard-attempts";
pub const REASON: &str = "x-switchyard-reason";
pub const COST: &str = "x-switchyard-cost-usd";
pub const REQUEST_ID: &str = "x-switchyard-request-id";
pub const SNAPSHOT: &str = "x-switchyard-snapshot";
/// Each attempt's outcome and, where a plugin or upstream decided it, why:
/// `sim-small=escalated(sanity: empty answer), sim-large=returned`. Bounded like every header.
pub const TRAIL: &str = "x-switchyard-trail";
/// Present on streamed answers: `buffered` when the answer was held for the gates first,
/// `passthrough` when it streamed straight from the upstream.
pub const STREAM: &str = "x-switchyard-stream";

/// What the headers say.
#[derive(Debug, Clone, Default)]
pub struct Transparency {
    pub request_id: String,
    pub snapshot: u64,
    pub model: Option<String>,
    pub route: Option<String>,
    pub attempts: usize,
    pub reason: String,
    /// See [`TRAIL`]; empty when nothing was attempted.
    pub trail: String,
    /// `None` when a model involved is unpriced: the header says `unknown`.
    pub cost_usd: Option<f64>,
    pub stream: Option<&'static str>,
}

impl Transparency {
    pub fn apply(&self, headers: &mut HeaderMap) {
        let mut set = |name: &'static str, value: &str| {
            headers.insert(HeaderName::from_static(name), header_value(value));
        };
        set(REQUEST_ID, &self.request_id);
        set(SNAPSHOT, &self.snapshot.to_string());
        if let Some(model) = &self.model {
            set(MODEL, model);
        }
        if let Some(route) = &self.route {
            set(ROUTE, route);
        }
        set(ATTEMPTS, &self.attempts.to_string());
        if !self.reason.is_empty() {
            set(REASON, &self.reason);
        }
        if !self.trail.is_empty() {
            set(TRAIL, &self.trail);
        }
        match self.cost_usd {
            Some(cost) => set(COST, &format!("{cost:.8}")),
            None => set(COST, "unknown"),
        }
        if let Some(stream) = self.stream {
            set(STREAM, stream);
        }
    }
}

/// The [`TRAIL`] text of a request's attempts, cut to [`TRAIL_MAX`] bytes on an attempt
/// boundary (with `...` when attempts were left out), so long plugin reasons cannot crowd out
/// the attempts after them.
pub fn trail(attempts: &[Attempt]) -> String {
    let mut out = String::new();
    for (i, attempt) in attempts.iter().enumerate() {
        let why = attempt
            .gates
            .iter()
            .find(|g| g.verdict != "accept")
            .map(|g| format!("{}: {}", g.plugin, g.reason.as_deref().or(g.error.as_deref()).unwrap_or(&g.verdict)))
            .or_else(|| attempt.error.clone());
        let mut item = format!("{}={}", attempt.model, attempt.outcome.as_str());
        if let Some(why) = why {
            let why: String = why.chars().take(REASON_MAX).collect();
            item.push_str(&format!("({why})"));
        }
        let sep = if i == 0 { "" } else { ", " };
        if out.len() + sep.len() + item.len() > TRAIL_MAX {
            out.push_str(", ...");
            break;
        }
        out.push_str(sep);
        out.push_str(&item);
    }
    out
}

/// Longest [`TRAIL`] header, in bytes (before non-ASCII is replaced).
pub const TRAIL_MAX: usize = 480;
/// Longest reason quoted per attempt in the trail, in characters.
const REASON_MAX: usize = 120;

/// A header value from arbitrary text: non-visible-ASCII characters become `?` and the text
/// is cut to 512 bytes, so a plugin's reason can never produce an invalid header.
pub fn header_value(text: &str) -> HeaderValue {
    let visible = |b: &u8| *b == b' ' || b.is_ascii_graphic();
    if text.len() <= 512 && text.bytes().all(|b| visible(&b)) {
        // Already clean (the usual case): no intermediate copy.
        if let Ok(value) = HeaderValue::from_str(text) {
            return value;
        }
    }
    let clean: String =
        text.chars().take(512).map(|c| if c == ' ' || c.is_ascii_graphic() { c } else { '?' }).collect();
    HeaderValue::from_str(&clean).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_reasons_become_valid_headers() {
        let value = header_value("tier 1 → large\r\nset-cookie: x");
        assert_eq!(value.to_str().unwrap(), "tier 1 ? large??set-cookie: x");
    }

    #[test]
    fn the_trail_says_how_each_attempt_ended_and_stays_bounded() {
        use crate::telemetry::decision::{AttemptOutcome, GateRun};
        let escalated = Attempt {
            model: "small".into(),
            outcome: AttemptOutcome::Escalated,
            gates: vec![
                GateRun { plugin: "json".into(), verdict: "accept".into(), ..Default::default() },
                GateRun {
                    plugin: "sanity".into(),
                    verdict: "escalate".into(),
                    reason: Some("empty answer".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let failed = Attempt {
            model: "mid".into(),
            outcome: AttemptOutcome::UpstreamError,
            error: Some("503 (upstream_5xx)".into()),
            ..Default::default()
        };
        let returned = Attempt { model: "large".into(), ..Default::default() };
        assert_eq!(
            trail(&[escalated.clone(), failed, returned]),
            "small=escalated(sanity: empty answer), mid=upstream_error(503 (upstream_5xx)), large=returned"
        );
        let mut long = escalated;
        long.gates[1].reason = Some("x".repeat(5000));
        let many: Vec<Attempt> = std::iter::repeat_n(long, 10).collect();
        let text = trail(&many);
        assert!(text.len() <= TRAIL_MAX + 5 && text.ends_with(", ..."), "{text}");
        assert_eq!(trail(&[]), "");
    }
}
