//! `GET /v1/models`: every route alias and concrete model, in OpenAI's list shape.

use http::{HeaderValue, Response, header};
use serde_json::json;

use super::body::{Body, full};
use crate::app::App;

pub fn list(app: &App, headers: &http::HeaderMap) -> Response<Body> {
    if !app.client_keys().allows(headers) {
        return super::error::ApiError::unauthorized(
            "Incorrect or missing API key: send `Authorization: Bearer <key>`.",
        )
        .into_response();
    }
    let snapshot = app.snapshot();
    let created = snapshot.loaded_at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut aliases: Vec<&String> = snapshot.routes.keys().collect();
    aliases.sort();
    let mut data: Vec<serde_json::Value> = aliases
        .into_iter()
        .map(|alias| {
            let route = &snapshot.routes[alias];
            json!({
                "id": alias, "object": "model", "created": created, "owned_by": "switchyard",
                "switchyard": {
                    "kind": "route",
                    "classifiers": route.classifiers.iter().map(|s| s.plugin.name()).collect::<Vec<_>>(),
                    "policy": route.policy.as_ref().map(|s| s.plugin.name()),
                    "gates": route.gates.iter().map(|s| s.plugin.name()).collect::<Vec<_>>(),
                    "default_plan": route.default_plan,
                }
            })
        })
        .collect();
    for id in &snapshot.model_order {
        let model = &snapshot.models[id];
        let health = app.health().snapshot(id);
        data.push(json!({
            "id": id, "object": "model", "created": created, "owned_by": model.provider.name(),
            "switchyard": {
                "kind": "model",
                "upstream": model.upstream_name(),
                "tier": model.config.tier,
                "input_price": model.config.input_price,
                "output_price": model.config.output_price,
                "context_window": model.config.context_window,
                "tags": model.config.tags,
                "healthy": health.healthy,
            }
        }));
    }
    let body = json!({ "object": "list", "data": data });
    let mut response = Response::new(full(body.to_string()));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
