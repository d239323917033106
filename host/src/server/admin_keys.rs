//! `/admin/keys` and `/admin/state`: virtual keys managed at run time, stored in the shared
//! state so every replica sees them.
//!
//! - `GET /admin/keys`: every key (config and run-time), revoked ones flagged; no secrets.
//! - `POST /admin/keys` `{"name": "...", "team": "...", ...}`: the fields of a `[keys.NAME]`
//!   table; answers the key's id and its secret, which is shown this once.
//! - `DELETE /admin/keys/ID`: revokes a key (a config key too) on every replica.
//! - `GET /admin/state`: the state backend and whether it answers.

use http::{Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::body::{Body, read_limited};
use super::error::ApiError;
use crate::app::App;
use crate::config::KeyConfig;
use crate::govern::KeyAdminError;

/// Largest key definition accepted.
const BODY_LIMIT: usize = 64 * 1024;

pub fn list(app: &App) -> (StatusCode, Value) {
    (StatusCode::OK, json!({ "keys": app.governance().list() }))
}

pub fn state(app: &App) -> (StatusCode, Value) {
    (StatusCode::OK, json!(app.governance().status()))
}

pub async fn create(app: &App, body: Incoming) -> Result<(StatusCode, Value), Response<Body>> {
    let bytes = read_limited(body, None, BODY_LIMIT)
        .await
        .map_err(|_| ApiError::bad_request("The key definition could not be read (at most 64 KiB).").into_response())?;
    let mut object = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err(ApiError::bad_request("Expected a JSON object.").into_response()),
        Err(e) => return Err(ApiError::bad_request(format!("Invalid JSON: {e}")).into_response()),
    };
    let name = match object.remove("name") {
        Some(Value::String(name)) => name,
        _ => {
            return Err(ApiError::bad_request("Expected `name`, a string.")
                .with_param(Some("name".into()))
                .into_response());
        }
    };
    let key: KeyConfig = serde_json::from_value(Value::Object(object))
        .map_err(|e| ApiError::bad_request(format!("Invalid key definition: {e}")).into_response())?;
    match app.governance().create(&name, key).await {
        Ok((id, secret)) => Ok((StatusCode::CREATED, json!({"id": id, "name": name, "key": secret}))),
        Err(error) => Err(admin_error(error)),
    }
}

pub async fn revoke(app: &App, id: &str) -> Result<(StatusCode, Value), Response<Body>> {
    match app.governance().revoke(id).await {
        Ok(()) => Ok((StatusCode::OK, json!({"id": id, "revoked": true}))),
        Err(error) => Err(admin_error(error)),
    }
}

fn admin_error(error: KeyAdminError) -> Response<Body> {
    let status = match error {
        KeyAdminError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        KeyAdminError::NotFound(_) => StatusCode::NOT_FOUND,
        KeyAdminError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    ApiError::new(status, "invalid_request_error", error.to_string()).into_response()
}
