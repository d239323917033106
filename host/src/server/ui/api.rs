//! The dashboard's JSON endpoints, read from the live view, the serving snapshot and the
//! reload bookkeeping.

use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

use super::super::body::{Body, full};
use super::super::error::ApiError;
use super::query::Query;
use crate::app::App;
use crate::telemetry::live::series::SECONDS_KEPT;
use crate::telemetry::live::{Filter, RECENT_KEPT, Summary, now_ms};

/// `GET /ui/api/overview?seconds=N`: requests over the last N seconds (one point per second
/// that had requests), the totals over that window, and each route's cascade tally.
pub fn overview(app: &App, query: &Query) -> Response<Body> {
    let window = query.number("seconds", 300, 10, SECONDS_KEPT as u64);
    let now = now_ms() / 1000;
    let since = now.saturating_sub(window);
    let live = app.telemetry().live();
    let state = live.state();
    let points = state.series.points(since);
    let requests: u64 = points.iter().map(|p| u64::from(p.requests)).sum();
    let errors: u64 = points.iter().map(|p| u64::from(p.errors)).sum();
    let recent_since = now.saturating_sub(10);
    let recent: u64 = points.iter().filter(|p| p.t >= recent_since).map(|p| u64::from(p.requests)).sum();
    let totals = json!({
        "requests": requests,
        "errors": errors,
        "error_rate": if requests == 0 { 0.0 } else { errors as f64 / requests as f64 },
        "rps_10s": recent as f64 / 10.0,
        "p50_ms": state.series.percentile_since(since, 0.50),
        "p99_ms": state.series.percentile_since(since, 0.99),
        "cost_usd": points.iter().flat_map(|p| p.cost.iter().map(|(_, usd)| usd)).sum::<f64>(),
    });
    let routes: Vec<Value> = state
        .tallies
        .routes()
        .iter()
        .map(|(name, t)| {
            json!({
                "route": name,
                "requests": t.requests,
                "errors": t.errors,
                "answered_by_tier": t.answered_by_tier,
                "answered_by_model": t.answered_by_model,
                "escalated": t.escalated,
                "fell_back": t.fell_back,
                "cost_usd": t.cost_usd,
                "ceiling_usd": t.ceiling_usd,
                "ceiling_model": t.ceiling_model,
                "saved_usd": t.saved_usd(),
            })
        })
        .collect();
    let series = serde_json::to_value(&points).unwrap_or(Value::Null);
    drop(state);
    let snapshot = app.snapshot();
    let models: Vec<Value> = snapshot
        .model_order
        .iter()
        .filter_map(|id| snapshot.models.get(id))
        .map(|m| json!({"id": m.id, "tier": m.config.tier, "input_price": m.config.input_price, "output_price": m.config.output_price}))
        .collect();
    json_response(
        StatusCode::OK,
        json!({
            "now": now,
            "window_s": window,
            "snapshot": snapshot.version,
            "series": series,
            "totals": totals,
            "routes": routes,
            "models": models,
        }),
    )
}

/// `GET /ui/api/decisions?route=&model=&outcome=&key=&limit=`: recent records, newest first.
pub fn decisions(app: &App, query: &Query) -> Response<Body> {
    let filter = Filter {
        route: query.get("route").map(str::to_string),
        model: query.get("model").map(str::to_string),
        outcome: query.get("outcome").map(str::to_string),
        key: query.get("key").map(str::to_string),
    };
    let limit = query.number("limit", 100, 1, RECENT_KEPT as u64) as usize;
    let records = app.telemetry().live().recent(&filter, limit);
    let rows: Vec<Summary<'_>> = records.iter().map(|r| Summary::of(r)).collect();
    json_response(StatusCode::OK, json!({ "decisions": rows, "kept": RECENT_KEPT }))
}

/// `GET /ui/api/decisions/ID`: one recent record, whole.
pub fn decision(app: &App, id: &str) -> Response<Body> {
    match app.telemetry().live().find(id) {
        Some(record) => json_response(StatusCode::OK, serde_json::to_value(&*record).unwrap_or(Value::Null)),
        None => ApiError::not_found(format!(
            "No recent decision {id}: the dashboard keeps the last {RECENT_KEPT}; older ones are in the decision log."
        ))
        .into_response(),
    }
}

/// `GET /ui/api/plugins`: what `/admin/plugins` says, plus the reload history.
pub fn plugins(app: &App) -> Response<Body> {
    let mut body = super::super::admin::plugins(app);
    let status = app.reload_status();
    body["reloads"] = json!({
        "ok": status.reloads_ok,
        "failed": status.reloads_failed,
        "history": status.history.iter().rev().collect::<Vec<_>>(),
    });
    drop(status);
    body["loaded_at_ms"] = json!(
        app.snapshot().loaded_at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    );
    json_response(StatusCode::OK, body)
}

/// `GET /ui/api/rollout`: shadow, canary and audit do not exist in this build yet.
pub fn rollout() -> Response<Body> {
    json_response(
        StatusCode::OK,
        json!({
            "configured": false,
            "message": "Rollout is not configured: this build has no shadow, canary or audit routes yet.",
        }),
    )
}

fn json_response(status: StatusCode, body: Value) -> Response<Body> {
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
