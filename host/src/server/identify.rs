//! Authentication to identity: the request's key resolved to a governed [`Identity`], or
//! accepted as a plain `client_keys` key (no team, no limits), or refused.
//!
//! With no key defined anywhere (no `[keys]`, no run-time keys, no `client_keys`) the API is
//! open, as before keys existed.

use std::sync::Arc;

use http::HeaderMap;

use super::error::ApiError;
use crate::app::App;
use crate::govern::Identity;
use crate::govern::credentials::{bearer, digest};

/// The caller's identity; `Ok(None)` for an open API or a plain client key.
pub fn identify(app: &App, headers: &HeaderMap) -> Result<Option<Arc<Identity>>, ApiError> {
    let governance = app.governance();
    let legacy = app.client_keys();
    if !governance.keys_defined() && !legacy.required() {
        return Ok(None);
    }
    // `x-api-key` is how Anthropic clients send theirs.
    let given = bearer(headers)
        .or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()))
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()));
    if let Some(given) = given
        && let Some(identity) = governance.lookup(&digest(given.trim()))
    {
        return Ok(Some(identity));
    }
    if legacy.required() && legacy.allows(headers) {
        return Ok(None);
    }
    Err(ApiError::unauthorized("Incorrect, revoked or missing API key: send `Authorization: Bearer <key>`."))
}
