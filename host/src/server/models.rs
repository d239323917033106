//! `GET /v1/models`: every route alias and concrete model, in OpenAI's list shape, with
//! the fields of Anthropic's (`type`, `display_name`, `created_at`, `has_more`, `first_id`,
//! `last_id`) alongside, so both SDKs' `models.list()` read it.

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
    let created_at = rfc3339(created);
    for item in &mut data {
        let id = item["id"].clone();
        item["type"] = json!("model");
        item["display_name"] = id;
        item["created_at"] = json!(created_at);
    }
    let first_id = data.first().map(|m| m["id"].clone());
    let last_id = data.last().map(|m| m["id"].clone());
    let body = json!({ "object": "list", "data": data, "has_more": false, "first_id": first_id, "last_id": last_id });
    let mut response = Response::new(full(body.to_string()));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Unix seconds as an RFC 3339 UTC timestamp (civil-from-days, Howard Hinnant's algorithm).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
