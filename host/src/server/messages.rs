//! `POST /v1/messages` and `POST /v1/messages/count_tokens`: Anthropic's Messages API in.
//!
//! The body is checked and translated into the canonical chat body (what routing and
//! plugins see), with the original kept for Anthropic-dialect upstreams. From there the
//! request takes the same path as a chat completion: routes, plugins, transparency headers
//! and decision records. Errors come back in Anthropic's shape, whatever raised them.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::body::{Body, full};
use super::chat::{read_body, serve};
use super::error::ApiError;
use crate::app::App;
use crate::govern::Identity;
use crate::provider::cost::{estimate_prompt_tokens, estimate_tokens};
use crate::provider::translate::{ANTHROPIC_VERSIONS, BadRequest, request_in, stop};
use crate::route::request::ChatBody;

/// Largest error body reshaped into Anthropic's form (errors are small; anything larger is
/// passed as is rather than buffered).
const MAX_ERROR_BYTES: usize = 64 * 1024;

pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let identity = match admit_headers(&app, request.headers()) {
        Ok(identity) => identity,
        Err(error) => return self::error(error),
    };
    let Some(permit) = app.admit().await else {
        app.metrics().observe_overload();
        return self::error(ApiError::overloaded());
    };
    let (parts, body) = request.into_parts();
    let bytes = match read_body(&app, &parts, body).await {
        Ok(bytes) => bytes,
        Err(error) => return self::error(error),
    };
    let parsed = match request_in::parse(&bytes, false) {
        Ok(parsed) => parsed,
        Err(invalid) => return self::error(bad_request(invalid)),
    };
    let beta = parts.headers.get("anthropic-beta").cloned();
    let version = parts.headers.get("anthropic-version").cloned();
    let chat = ChatBody::from_anthropic(parsed, beta, version);
    let response = serve(app, chat, parts.headers, started, permit, identity).await;
    reshape_error(response).await
}

/// `count_tokens`: the host's estimate of the prompt (messages, system prompt and tool
/// definitions), the same estimator that prices requests and feeds policies.
pub async fn count_tokens(app: Arc<App>, request: Request<Incoming>) -> Response<Body> {
    if let Err(error) = admit_headers(&app, request.headers()) {
        return self::error(error);
    }
    let (parts, body) = request.into_parts();
    let bytes = match read_body(&app, &parts, body).await {
        Ok(bytes) => bytes,
        Err(error) => return self::error(error),
    };
    let parsed = match request_in::parse(&bytes, true) {
        Ok(parsed) => parsed,
        Err(invalid) => return self::error(bad_request(invalid)),
    };
    let snapshot = app.snapshot();
    if !snapshot.routes.contains_key(&parsed.model) && !snapshot.models.contains_key(&parsed.model) {
        return self::error(ApiError::model_not_found(&parsed.model));
    }
    let tools = parsed.original.get("tools").map_or(0, |t| estimate_tokens(&t.to_string()));
    let tokens = estimate_prompt_tokens(&parsed.canonical).saturating_add(tools);
    let mut response = Response::new(full(json!({"input_tokens": tokens}).to_string()));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Checks `anthropic-version`, then the key (a virtual key's identity, or a plain client key).
fn admit_headers(app: &App, headers: &HeaderMap) -> Result<Option<Arc<Identity>>, ApiError> {
    check_version(headers)?;
    super::identify::identify(app, headers)
        .map_err(|_| ApiError::unauthorized("Incorrect, revoked or missing API key: send `x-api-key: <key>`."))
}

/// `anthropic-version` names the API revision as a date. Anthropic publishes new ones (the
/// SDKs send theirs), so any well-formed date from the first Messages version to today is
/// accepted; a malformed one, or one from before 2023 or from the future, is refused with a
/// clear message rather than guessed at. A missing header means the current version, for
/// curl users.
fn check_version(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get("anthropic-version") else {
        return Ok(());
    };
    let version = value.to_str().unwrap_or_default().trim();
    let today =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) / 86_400) as i64;
    match version_day(version) {
        Some(day) if (FIRST_VERSION_DAY..=today + 1).contains(&day) => Ok(()),
        _ => Err(ApiError::bad_request(format!(
            "anthropic-version: {version:?} is not an API version this server knows: expected a date such as {} \
             (YYYY-MM-DD, from 2023-01-01 to today).",
            ANTHROPIC_VERSIONS[0]
        ))
        .with_param(Some("anthropic-version".into()))),
    }
}

/// 2023-01-01 as days since the Unix epoch.
const FIRST_VERSION_DAY: i64 = 19_358;

/// A `YYYY-MM-DD` date as days since the Unix epoch (proleptic Gregorian).
fn version_day(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &text[range];
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok()).flatten()
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month[(month - 1) as usize] {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn bad_request(invalid: BadRequest) -> ApiError {
    ApiError::bad_request(invalid.message).with_param(invalid.param)
}

/// An error response in Anthropic's shape: `{"type": "error", "error": {"type", "message"}}`.
pub fn error(error: ApiError) -> Response<Body> {
    let status = error.status;
    let body = stop::anthropic_error(status.as_u16(), &error.message);
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A failed answer from the routing core, which speaks OpenAI's error shape, reshaped for
/// an Anthropic client; its headers (the transparency ones included) are kept.
async fn reshape_error(response: Response<Body>) -> Response<Body> {
    let status = response.status();
    if status.is_success() || status == StatusCode::SWITCHING_PROTOCOLS {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes: Bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    let reshaped = (bytes.len() <= MAX_ERROR_BYTES)
        .then(|| stop::error_to_anthropic(status.as_u16(), &bytes))
        .flatten()
        .map(|v: Value| Bytes::from(v.to_string()));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, full(reshaped.unwrap_or(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_dates() {
        assert_eq!(version_day("1970-01-01"), Some(0));
        assert_eq!(version_day("2023-01-01"), Some(FIRST_VERSION_DAY));
        assert_eq!(version_day("2024-02-29"), Some(19_782));
        for bad in
            ["2023-02-29", "2023-13-01", "2023-00-10", "23-06-01", "2023-06-1x", "2023/06/01", "", "２０２３-06-01"]
        {
            assert_eq!(version_day(bad), None, "{bad}");
        }
        let mut headers = HeaderMap::new();
        assert!(check_version(&headers).is_ok());
        for ok in ["2023-06-01", "2023-01-01", "2026-10-21"] {
            headers.insert("anthropic-version", ok.parse().unwrap());
            // 2026-10-21 is what anthropic SDK 2.15 sends; it is in the past when this runs.
            assert!(check_version(&headers).is_ok(), "{ok}");
        }
        for bad in ["2099-01-01", "2022-12-31", "latest", "2023-06-01x"] {
            headers.insert("anthropic-version", bad.parse().unwrap());
            let err = check_version(&headers).unwrap_err();
            assert!(err.message.contains(bad), "{}", err.message);
        }
    }
}
