//! The admin API: what is loaded, how the last reload went, and a way to force one.
//! Every endpoint needs the admin bearer token; without one configured the API is off.

use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;

use super::body::{Body, full};
use super::error::ApiError;
use crate::app::App;
use crate::govern::credentials::AdminAuth;

/// Answers `/admin/*`.
pub async fn handle(app: Arc<App>, request: Request<Incoming>, path: &str) -> Response<Body> {
    match app.admin_auth() {
        AdminAuth::Disabled => {
            return ApiError::not_found(
                "The admin API is disabled: set admin.token_env or admin.token_sha256 in the configuration.",
            )
            .into_response();
        }
        auth if !auth.allows(request.headers()) => {
            return ApiError::unauthorized("The admin API needs `Authorization: Bearer <admin token>`.")
                .into_response();
        }
        _ => {}
    }
    let method = request.method().as_str().to_string();
    let keys = match (method.as_str(), path) {
        ("GET", "/admin/keys") => Some(Ok(super::admin_keys::list(&app))),
        ("GET", "/admin/state") => Some(Ok(super::admin_keys::state(&app))),
        ("POST", "/admin/keys") => Some(super::admin_keys::create(&app, request.into_body()).await),
        ("DELETE", revoke) if revoke.starts_with("/admin/keys/") => {
            Some(super::admin_keys::revoke(&app, &revoke["/admin/keys/".len()..]).await)
        }
        _ => None,
    };
    match keys {
        Some(Ok((status, body))) => return json_response(status, body),
        Some(Err(response)) => return response,
        None => {}
    }
    match (method.as_str(), path) {
        ("GET", "/admin/plugins") => json_response(StatusCode::OK, plugins(&app)),
        ("GET", "/admin/snapshot") => json_response(StatusCode::OK, snapshot(&app)),
        ("GET", "/admin/memory") => json_response(StatusCode::OK, memory(&app)),
        ("POST", "/admin/reload") => match crate::reload::reload(&app, "admin").await {
            Ok(version) => json_response(StatusCode::OK, json!({"ok": true, "version": version})),
            Err(error) => json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"ok": false, "error": error.to_string(), "serving_version": app.snapshot().version}),
            ),
        },
        (method, path) => ApiError::not_found(format!(
            "No admin endpoint {method} {path}: GET /admin/plugins, GET /admin/snapshot, GET /admin/memory, POST /admin/reload, GET|POST /admin/keys, DELETE /admin/keys/ID, GET /admin/state."
        ))
        .into_response(),
    }
}

pub(crate) fn plugins(app: &App) -> serde_json::Value {
    let snapshot = app.snapshot();
    let status = app.reload_status();
    let mut list: Vec<serde_json::Value> = snapshot
        .plugins
        .values()
        .map(|plugin| {
            let failure = status.plugin_failures.get(plugin.name());
            let state = if plugin.is_quarantined() {
                "quarantined"
            } else if failure.is_some() {
                "serving_previous_version"
            } else {
                "serving"
            };
            json!({
                "name": plugin.name(),
                "kind": plugin.kind(),
                "path": plugin.path(),
                "hash": plugin.hash().to_string(),
                "status": state,
                "last_error": failure.map(|f| &f.error),
                "load": plugin.load_report(),
                "tier": plugin.tier(),
                "tier_up": plugin.tier_up_status(),
                "instance": plugin.strategy(),
                "idle_instances": plugin.idle_instances(),
                "failed_calls": plugin.failures(),
                // A registry package: who published which version, and its limits as asked
                // for and as granted.
                "package": snapshot.config.plugins.get(plugin.name()).and_then(|c| c.package.as_deref()),
                "limits": {
                    "deadline_ms": plugin.limits().deadline.as_millis() as u64,
                    "memory_bytes": plugin.limits().memory_bytes,
                    "fuel": plugin.limits().fuel,
                },
            })
        })
        .collect();
    // A plugin newly added to the config that never loaded has no serving version.
    for (name, failure) in &status.plugin_failures {
        if !snapshot.plugins.contains_key(name) {
            list.push(json!({"name": name, "status": "failed", "last_error": failure.error}));
        }
    }
    json!({ "snapshot": snapshot.version, "plugins": list })
}

fn snapshot(app: &App) -> serde_json::Value {
    let snapshot = app.snapshot();
    let status = app.reload_status();
    let loaded_at_ms =
        snapshot.loaded_at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    json!({
        "version": snapshot.version,
        "loaded_at_ms": loaded_at_ms,
        "config": snapshot.config.path,
        "routes": snapshot.routes.len(),
        "models": snapshot.models.len(),
        "plugins": snapshot.plugins.len(),
        "last_reload": status.last,
        "reloads_ok": status.reloads_ok,
        "reloads_failed": status.reloads_failed,
    })
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// What the process holds in memory and where: its RSS, the plugin engine's caches, and the
/// warm instances of every serving plugin.
fn memory(app: &App) -> serde_json::Value {
    let snapshot = app.snapshot();
    let mut warm: Vec<_> =
        snapshot.plugins.values().map(|p| json!({"plugin": p.name(), "idle_instances": p.idle_instances()})).collect();
    warm.sort_by(|a, b| a["plugin"].as_str().cmp(&b["plugin"].as_str()));
    json!({
        "resident_bytes": crate::telemetry::resident_bytes(),
        "caches": app.engine().caches(),
        "warm_instances": warm,
    })
}
