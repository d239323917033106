//! The dashboard at `/ui`: static assets compiled into the binary (no build step, no files
//! to deploy) and the JSON/SSE endpoints under `/ui/api/` that feed it.
//!
//! The pages themselves are public (they hold no data); every endpoint under `/ui/api/`
//! needs the admin bearer token, which the login form keeps in the tab's session storage.

mod api;
mod query;
mod stream;

use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use super::body::{Body, full};
use super::error::ApiError;
use crate::app::App;
use crate::govern::credentials::AdminAuth;

/// An embedded file: its path under `/ui`, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset { path: "", content_type: "text/html; charset=utf-8", bytes: include_bytes!("assets/index.html") },
    Asset { path: "/app.js", content_type: "text/javascript; charset=utf-8", bytes: include_bytes!("assets/app.js") },
    Asset {
        path: "/charts.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/charts.js"),
    },
    Asset { path: "/app.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("assets/app.css") },
];

/// Answers `/ui` and everything under it. `path` has no trailing slash.
pub async fn handle(app: Arc<App>, request: Request<Incoming>, path: &str) -> Response<Body> {
    let rest = path.strip_prefix("/ui").unwrap_or(path);
    if let Some(endpoint) = rest.strip_prefix("/api") {
        return guarded(app, request, endpoint).await;
    }
    if request.method() != http::Method::GET && request.method() != http::Method::HEAD {
        return ApiError::method_not_allowed(request.method(), path).into_response();
    }
    match ASSETS.iter().find(|a| a.path == rest) {
        Some(asset) => {
            let mut response = Response::new(full(asset.bytes));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            // The page runs only its own scripts and talks only to this origin.
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self'"),
            );
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            response
        }
        None => ApiError::not_found(format!("No dashboard page {path}: open /ui.")).into_response(),
    }
}

async fn guarded(app: Arc<App>, request: Request<Incoming>, endpoint: &str) -> Response<Body> {
    match app.admin_auth() {
        AdminAuth::Disabled => {
            return ApiError::not_found(
                "The dashboard's data needs the admin API: set admin.token_env or admin.token_sha256.",
            )
            .into_response();
        }
        auth if !auth.allows(request.headers()) => {
            return ApiError::unauthorized("The dashboard needs `Authorization: Bearer <admin token>`.")
                .into_response();
        }
        _ => {}
    }
    if request.method() != http::Method::GET {
        return ApiError::method_not_allowed(request.method(), endpoint).into_response();
    }
    let query = query::Query::parse(request.uri().query().unwrap_or(""));
    match endpoint {
        "/overview" => api::overview(&app, &query),
        "/decisions" => api::decisions(&app, &query),
        "/stream" => stream::decisions(&app),
        "/plugins" => api::plugins(&app),
        "/rollout" => api::rollout(),
        other => match other.strip_prefix("/decisions/") {
            Some(id) => api::decision(&app, id),
            None => ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!(
                    "No dashboard endpoint /ui/api{other}: overview, decisions, decisions/ID, stream, plugins, rollout."
                ),
            )
            .into_response(),
        },
    }
}
