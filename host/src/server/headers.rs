//! The transparency headers every chat answer carries: who answered, after how many
//! attempts, why, and at what cost. Switching models silently is what Switchyard exists to
//! fix.

use http::{HeaderMap, HeaderName, HeaderValue};

pub const MODEL: &str = "x-switchyard-model";
pub const ROUTE: &str = "x-switchyard-route";
pub const ATTEMPTS: &str = "x-switchyard-attempts";
pub const REASON: &str = "x-switchyard-reason";
pub const COST: &str = "x-switchyard-cost-usd";
pub const REQUEST_ID: &str = "x-switchyard-request-id";
pub const SNAPSHOT: &str = "x-switchyard-snapshot";
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
    pub cost_usd: f64,
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
        set(COST, &format!("{:.8}", self.cost_usd));
        if let Some(stream) = self.stream {
            set(STREAM, stream);
        }
    }
}

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
}
