//! Dispatch by method and path.

use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;

use super::body::{Body, full};
use super::error::ApiError;
use super::{chat, messages, models};
use crate::app::App;

/// Answers one request. Never fails: every error becomes an OpenAI-shaped response.
pub async fn route(app: Arc<App>, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().trim_end_matches('/').to_string();
    match (request.method(), path.as_str()) {
        (&Method::POST, "/v1/chat/completions" | "/chat/completions") => chat::handle(app, request).await,
        (&Method::POST, "/v1/messages") => messages::handle(app, request).await,
        (&Method::POST, "/v1/messages/count_tokens") => messages::count_tokens(app, request).await,
        (&Method::POST, "/v1/embeddings" | "/embeddings") => super::embeddings::handle(app, request).await,
        (&Method::GET, "/v1/models" | "/models") => models::list(&app, request.headers()),
        (&Method::GET, "/healthz") => text(200, "ok\n", "text/plain"),
        (_, admin) if admin.starts_with("/admin/") => super::admin::handle(app, request, &path).await,
        (_, ui) if ui == "/ui" || ui.starts_with("/ui/") => super::ui::handle(app, request, &path).await,
        (&Method::GET, "/metrics") => {
            let snapshot = app.snapshot();
            app.metrics().observe_quarantine(snapshot.plugins.values().map(|p| (p.name(), p.is_quarantined())));
            app.metrics().observe_memory(&app.engine().caches(), crate::telemetry::resident_bytes());
            text(200, &app.metrics().encode(), "application/openmetrics-text; version=1.0.0; charset=utf-8")
        }
        (method, "/v1/messages" | "/v1/messages/count_tokens") => {
            messages::error(ApiError::method_not_allowed(method, &path))
        }
        (method, "/v1/chat/completions" | "/v1/embeddings" | "/v1/models" | "/healthz" | "/metrics") => {
            ApiError::method_not_allowed(method, &path).into_response()
        }
        (_, other) => ApiError::not_found(format!(
            "Unknown path {other}. Switchyard serves /v1/chat/completions, /v1/messages, /v1/embeddings, /v1/models, /healthz and /metrics."
        ))
        .into_response(),
    }
}

fn text(status: u16, body: &str, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    response
}
