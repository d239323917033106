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

use super::app::App;
use super::body::{Body, full};
use super::chat::read_body;
use super::error::ApiError;
use crate::provider::cost::{estimate_prompt_tokens, estimate_tokens};
use crate::provider::translate::{ANTHROPIC_VERSIONS, BadRequest, request_in, stop};
use crate::route::pipeline;
use crate::route::request::ChatBody;

/// Largest error body reshaped into Anthropic's form (errors are small; anything larger is
/// passed as is rather than buffered).
const MAX_ERROR_BYTES: usize = 64 * 1024;

pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    if let Err(error) = admit_headers(&app, request.headers()) {
        return self::error(error);
    }
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
    let chat = ChatBody::from_anthropic(parsed, beta);
    let response = pipeline::run(app, chat, parts.headers, started, permit).await;
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

/// Checks `anthropic-version` and the client key.
fn admit_headers(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    check_version(headers)?;
    if !app.client_keys().allows(headers) {
        return Err(ApiError::unauthorized("Incorrect or missing API key: send `x-api-key: <key>`."));
    }
    Ok(())
}

/// An unknown `anthropic-version` is refused (as Anthropic refuses it) rather than guessed
/// at; a missing one means the current version, for curl users.
fn check_version(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get("anthropic-version") else {
        return Ok(());
    };
    let version = value.to_str().unwrap_or_default().trim();
    if ANTHROPIC_VERSIONS.contains(&version) {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "anthropic-version: {version:?} is not a version this server supports; use one of {}.",
        ANTHROPIC_VERSIONS.join(", ")
    ))
    .with_param(Some("anthropic-version".into())))
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
