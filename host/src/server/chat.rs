//! `POST /v1/chat/completions`: admission, body limits and parsing, then the routing core
//! decides and [`respond`](super::respond) renders what it chose.

use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;

use super::body::{Body, ReadError, read_limited};
use super::error::ApiError;
use super::recorder::{Recorder, new_request_id, now_ms};
use super::refusal;
use super::respond;
use crate::app::App;
use crate::govern::Identity;
use crate::route::governed::{self, Governed};
use crate::route::live::{LiveUpstream, Reply};
use crate::route::request::{self, ChatBody};
use crate::route::{Ask, RouteError, Target, decide, decide_admitted};
use crate::telemetry::decision::DecisionRecord;
use crate::telemetry::timing::{CallSpan, Timed};
use crate::telemetry::trace_context::TraceContext;

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
    serve(app, chat, parts.headers, started, permit, identity).await
}

/// Decides one parsed chat request on the live snapshot and answers it.
async fn serve(
    app: Arc<App>,
    body: ChatBody,
    headers: http::HeaderMap,
    started: Instant,
    permit: tokio::sync::OwnedSemaphorePermit,
    identity: Option<Arc<Identity>>,
) -> Response<Body> {
    let snapshot = app.snapshot();
    let record = DecisionRecord {
        id: new_request_id(),
        ts_ms: now_ms(),
        snapshot: snapshot.version,
        requested_model: body.model.clone(),
        stream: body.stream,
        trace: TraceContext::for_request(headers.get("traceparent")),
        key: app.client_keys().fingerprint(&headers),
        ..Default::default()
    };
    let mut recorder = Recorder::new(app.clone(), started, record, permit);
    let mut request = request::plugin_request(&recorder.record.id, &body, &headers);
    if let Some(refused) = governed::check_access(identity.as_deref(), &body.model, &snapshot) {
        return respond::error(recorder, ApiError::from(RouteError::Governed(refused)));
    }
    governed::annotate(&mut request, identity.as_deref(), app.governance()).await;
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
    let call_span = CallSpan::default();
    let trace = recorder.record.trace;
    let mut upstream = LiveUpstream { body: &body, health: app.health(), deadline, trace, call_span: &call_span };
    let mut admission = identity
        .as_deref()
        .map(|id| Governed::new(id, app.governance().clone(), snapshot.config.clone(), &request, &headers));
    let mut observer = Timed { record: &mut recorder.record, started, call_span: &call_span };
    let decided = match admission.as_mut() {
        Some(admission) => decide_admitted(ask, &mut upstream, &mut observer, admission).await,
        None => decide(ask, &mut upstream, &mut observer).await,
    };
    let dropped = admission
        .as_ref()
        .map(|a| &a.record.dropped)
        .filter(|d| !d.is_empty())
        .map(|d| d.iter().map(|step| step.model.as_str()).collect::<Vec<_>>().join(", "));
    let remaining = admission.and_then(|admission| {
        recorder.record.governance = Some(admission.record);
        recorder.reservation = admission.reservation;
        admission.remaining
    });
    let mut response = match decided {
        Ok(served) => match served.held {
            Reply::Complete(completion) => respond::complete(recorder, &served.model, completion),
            Reply::Buffered(chunks) => respond::buffered_stream(recorder, &served.model, chunks, &body),
            Reply::Stream(stream) => respond::passthrough(recorder, &served.model, stream, &body, &request),
        },
        Err(RouteError::Governed(refused)) => {
            let (error, extra) = refusal::to_api_error(&refused);
            let mut response = respond::error(recorder, error);
            response.headers_mut().extend(extra);
            response
        }
        Err(error) => respond::error(recorder, ApiError::from(error)),
    };
    if let Some(remaining) = &remaining {
        refusal::remaining_headers(response.headers_mut(), remaining);
    }
    if let Some(dropped) = dropped {
        response.headers_mut().insert(refusal::DROPPED, super::headers::header_value(&dropped));
    }
    response
}
