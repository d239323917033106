//! `POST /v1/chat/completions`: admission, body limits and parsing, then the routing core
//! decides and [`respond`](super::respond) renders what it chose.

use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;

use super::body::{Body, ReadError, read_limited};
use super::error::ApiError;
use super::recorder::{Recorder, new_request_id, now_ms};
use super::respond;
use crate::app::App;
use crate::route::live::{LiveUpstream, Reply};
use crate::route::request::{self, ChatBody};
use crate::route::{Ask, Target, decide};
use crate::telemetry::decision::DecisionRecord;

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
    serve(app, chat, parts.headers, started, permit).await
}

/// Decides one parsed chat request on the live snapshot and answers it.
async fn serve(
    app: Arc<App>,
    body: ChatBody,
    headers: http::HeaderMap,
    started: Instant,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Response<Body> {
    let snapshot = app.snapshot();
    let record = DecisionRecord {
        id: new_request_id(),
        ts_ms: now_ms(),
        snapshot: snapshot.version,
        requested_model: body.model.clone(),
        stream: body.stream,
        ..Default::default()
    };
    let mut recorder = Recorder::new(app.clone(), started, record, permit);
    let request = request::plugin_request(&recorder.record.id, &body, &headers);
    let (target, timeout, table) = if let Some(route) = snapshot.routes.get(&body.model) {
        recorder.record.route = Some(route.alias.clone());
        (Target::Route(route), route.deadline, snapshot.model_table(app.health(), Some(route)))
    } else if let Some(entry) = snapshot.models.get(&body.model) {
        (Target::Model(entry), snapshot.config.server.request_timeout(), Vec::new())
    } else {
        return respond::error(recorder, ApiError::model_not_found(&body.model));
    };
    let deadline = tokio::time::Instant::from_std(started + timeout);
    let ask = Ask { request: &request, target, models: &snapshot.models, table: &table, deadline: Some(deadline) };
    let mut upstream = LiveUpstream { body: &body, health: app.health(), deadline };
    match decide(ask, &mut upstream, &mut recorder.record).await {
        Ok(served) => match served.held {
            Reply::Complete(completion) => respond::complete(recorder, &served.model, completion),
            Reply::Buffered(chunks) => respond::buffered_stream(recorder, &served.model, chunks, &body),
            Reply::Stream(stream) => respond::passthrough(recorder, &served.model, stream, &body, &request),
        },
        Err(error) => respond::error(recorder, ApiError::from(error)),
    }
}
