//! `POST /v1/chat/completions`: admission, body limits and parsing; the pipeline does the rest.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;

use super::app::App;
use super::body::{Body, ReadError, read_limited};
use super::error::ApiError;
use crate::route::{pipeline, request};

/// Reads a request body under the server's size limit and read deadline.
pub(crate) async fn read_body(app: &App, parts: &http::request::Parts, body: Incoming) -> Result<Bytes, ApiError> {
    let declared =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let limits = app.limits().clone();
    match tokio::time::timeout(limits.body_read_timeout, read_limited(body, declared, limits.body_limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(ReadError::TooLarge { limit })) => Err(ApiError::payload_too_large(limit)),
        Ok(Err(ReadError::Io(message))) => Err(ApiError::bad_request(message)),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            "The request body was not received in time.",
        )),
    }
}

pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    if !app.client_keys().allows(request.headers()) {
        return ApiError::unauthorized("Incorrect or missing API key: send `Authorization: Bearer <key>`.")
            .into_response();
    }
    let Some(permit) = app.admit().await else {
        app.metrics().observe_overload();
        return ApiError::overloaded().into_response();
    };
    let (parts, body) = request.into_parts();
    let bytes = match read_body(&app, &parts, body).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_response(),
    };
    let chat = match request::parse_body(&bytes) {
        Ok(chat) => chat,
        Err(invalid) => return ApiError::from(invalid).into_response(),
    };
    pipeline::run(app, chat, parts.headers, started, permit).await
}
