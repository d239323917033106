//! Budget and rate-limit refusals as HTTP: 429 with the limit's name and reset time in an
//! OpenAI-shaped error (503 when the shared state is unreachable and the limit fails
//! closed), and the headers that say what is left: OpenAI's `x-ratelimit-*` names, which
//! clients already read, plus Switchyard's budget headers.

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::error::ApiError;
use crate::govern::Refused;
use crate::govern::budget::{LimitKind, Refusal, Remaining, rfc3339};

pub const BUDGET_REMAINING: &str = "x-switchyard-budget-remaining-usd";
pub const BUDGET_RESET: &str = "x-switchyard-budget-reset";
pub const LIMIT: &str = "x-switchyard-limit";
/// The plan steps the key's class removed before any call.
pub const DROPPED: &str = "x-switchyard-dropped";

/// The client-facing error and its extra headers.
pub fn to_api_error(refused: &Refused) -> (ApiError, HeaderMap) {
    match refused {
        Refused::Forbidden { message, code } => (
            ApiError::new(StatusCode::FORBIDDEN, "permission_error", message.clone()).with_code(code),
            HeaderMap::new(),
        ),
        Refused::CostGate(message) => (
            ApiError::new(StatusCode::PAYMENT_REQUIRED, "invalid_request_error", message.clone())
                .with_code("cost_not_acknowledged"),
            HeaderMap::new(),
        ),
        Refused::Limit(refusal) => limit_error(refusal),
    }
}

fn limit_error(refusal: &Refusal) -> (ApiError, HeaderMap) {
    let mut headers = HeaderMap::new();
    let l = &refusal.limit;
    let name = match &l.kind {
        LimitKind::Budget { name, .. } => format!("{} {} budget {name}", l.scope, l.owner),
        LimitKind::Requests => format!("{} {} requests_per_minute", l.scope, l.owner),
        LimitKind::Tokens => format!("{} {} tokens_per_minute", l.scope, l.owner),
    };
    set(&mut headers, LIMIT, &name);
    if refusal.unavailable {
        set(&mut headers, "retry-after", "1");
        let error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", refusal.message())
            .with_code("limit_state_unavailable");
        return (error, headers);
    }
    let wait_s = refusal.reset_at_ms.saturating_sub(crate::state::now_ms()).div_ceil(1000).max(1);
    set(&mut headers, "retry-after", &wait_s.to_string());
    let left = (refusal.limit_value - refusal.used).max(0);
    let (kind, code) = match &l.kind {
        LimitKind::Budget { .. } => {
            set(&mut headers, BUDGET_REMAINING, &format!("{:.6}", crate::state::usd(left)));
            set(&mut headers, BUDGET_RESET, &rfc3339(refusal.reset_at_ms));
            ("insufficient_quota", "budget_exceeded")
        }
        LimitKind::Requests => {
            set(&mut headers, "x-ratelimit-limit-requests", &refusal.limit_value.to_string());
            set(&mut headers, "x-ratelimit-remaining-requests", &left.to_string());
            set(&mut headers, "x-ratelimit-reset-requests", &format!("{wait_s}s"));
            ("requests", "rate_limit_exceeded")
        }
        LimitKind::Tokens => {
            set(&mut headers, "x-ratelimit-limit-tokens", &refusal.limit_value.to_string());
            set(&mut headers, "x-ratelimit-remaining-tokens", &left.to_string());
            set(&mut headers, "x-ratelimit-reset-tokens", &format!("{wait_s}s"));
            ("tokens", "rate_limit_exceeded")
        }
    };
    (ApiError::new(StatusCode::TOO_MANY_REQUESTS, kind, refusal.message()).with_code(code), headers)
}

/// What is left after a granted reservation.
pub fn remaining_headers(headers: &mut HeaderMap, remaining: &Remaining) {
    let now = crate::state::now_ms();
    if let Some(left) = remaining.budget_usd {
        set(headers, BUDGET_REMAINING, &format!("{left:.6}"));
    }
    if let Some(reset) = remaining.budget_reset_ms {
        set(headers, BUDGET_RESET, &rfc3339(reset));
    }
    for (slot, what) in [(remaining.requests, "requests"), (remaining.tokens, "tokens")] {
        if let Some((limit, left, reset)) = slot {
            set(headers, &format!("x-ratelimit-limit-{what}"), &limit.to_string());
            set(headers, &format!("x-ratelimit-remaining-{what}"), &left.to_string());
            set(
                headers,
                &format!("x-ratelimit-reset-{what}"),
                &format!("{}s", reset.saturating_sub(now).div_ceil(1000)),
            );
        }
    }
}

fn set(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
        headers.insert(name, value);
    }
}
