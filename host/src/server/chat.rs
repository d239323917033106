//! `POST /v1/chat/completions`: admission, body limits and parsing; the pipeline does the rest.

use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;

use super::app::App;
use super::body::{Body, ReadError, read_limited};
use super::error::ApiError;
use crate::route::{pipeline, request};

pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let identity = match super::identify::identify(&app, request.headers()) {
        Ok(identity) => identity,
        Err(error) => return error.into_response(),
    };
    let Some(permit) = app.admit().await else {
        app.metrics().observe_overload();
        return ApiError::overloaded().into_response();
    };
    let (parts, body) = request.into_parts();
    let declared =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let limits = app.limits().clone();
    let bytes =
        match tokio::time::timeout(limits.body_read_timeout, read_limited(body, declared, limits.body_limit)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(ReadError::TooLarge { limit })) => return ApiError::payload_too_large(limit).into_response(),
            Ok(Err(ReadError::Io(message))) => return ApiError::bad_request(message).into_response(),
            Err(_) => {
                return ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "invalid_request_error",
                    "The request body was not received in time.",
                )
                .into_response();
            }
        };
    let chat = match request::parse_body(&bytes) {
        Ok(chat) => chat,
        Err(invalid) => return ApiError::from(invalid).into_response(),
    };
    pipeline::run(app, chat, parts.headers, started, permit, identity).await
}
