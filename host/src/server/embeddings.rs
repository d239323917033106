//! `POST /v1/embeddings`: straight to the concrete model the client names (embeddings have
//! no answer to judge, so no route, policy or gate applies), with the cost, the transparency
//! headers and a decision record like any chat request.

use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::{Map, Value};

use super::body::{Body, ReadError, full, read_limited};
use super::error::ApiError;
use super::headers::{Transparency, trail};
use super::recorder::{Recorder, new_request_id, now_ms};
use crate::app::App;
use crate::provider::{ProviderError, cost_usd};
use crate::telemetry::decision::{Attempt, AttemptOutcome, DecisionRecord, PlanRecord, PlanSource};

/// Checks an embeddings body: a JSON object with a string `model` and an `input` that is a
/// string, an array of strings, or an array of token arrays.
pub fn parse(bytes: &[u8]) -> Result<(Map<String, Value>, String), ApiError> {
    let bad = |param: &str, message: String| ApiError::bad_request(message).with_param(Some(param.to_string()));
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("We could not parse the JSON body of your request: {e}")))?;
    let Value::Object(body) = value else {
        return Err(ApiError::bad_request("The request body must be a JSON object."));
    };
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => return Err(bad("model", "You must provide a model parameter (a string).".into())),
    };
    let input_ok = match body.get("input") {
        Some(Value::String(_)) => true,
        Some(Value::Array(items)) => {
            !items.is_empty()
                && (items.iter().all(Value::is_string)
                    || items.iter().all(Value::is_number)
                    || items.iter().all(|i| i.as_array().is_some_and(|t| t.iter().all(Value::is_number))))
        }
        _ => false,
    };
    if !input_ok {
        return Err(bad(
            "input",
            "Invalid 'input': expected a string, an array of strings, or an array of token arrays (not empty).".into(),
        ));
    }
    Ok((body, model))
}

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
                let why = "The request body was not received in time.";
                return ApiError::new(StatusCode::REQUEST_TIMEOUT, "invalid_request_error", why).into_response();
            }
        };
    let (body, model) = match parse(&bytes) {
        Ok(parsed) => parsed,
        Err(error) => return error.into_response(),
    };
    let snapshot = app.snapshot();
    let record = DecisionRecord {
        id: new_request_id(),
        ts_ms: now_ms(),
        snapshot: snapshot.version,
        requested_model: model.clone(),
        plan: PlanRecord { steps: vec![model.clone()], reason: "embeddings".into(), source: PlanSource::Direct },
        ..Default::default()
    };
    let mut recorder = Recorder::new(app.clone(), started, record, permit);
    let Some(entry) = snapshot.models.get(&model) else {
        let error = if snapshot.routes.contains_key(&model) {
            ApiError::bad_request(format!(
                "`{model}` is a route; embeddings go to a concrete model (one of: {}).",
                snapshot.models.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
            .with_param(Some("model".into()))
        } else {
            ApiError::model_not_found(&model)
        };
        return answer_error(recorder, error);
    };
    let deadline = tokio::time::Instant::from_std(started + snapshot.config.server.request_timeout());
    let called = Instant::now();
    let result = entry.provider.embeddings(&body, entry.upstream_name(), deadline).await;
    let mut attempt = Attempt {
        model: entry.id.clone(),
        provider: entry.provider.name().to_string(),
        upstream_model: entry.upstream_name().to_string(),
        latency_ms: called.elapsed().as_secs_f64() * 1000.0,
        ..Default::default()
    };
    match result {
        Ok(answer) => {
            attempt.outcome = AttemptOutcome::Returned;
            attempt.status = Some(200);
            attempt.input_tokens = answer.usage.prompt_tokens;
            attempt.tokens_estimated = answer.usage.estimated;
            attempt.cost_usd = cost_usd(&answer.usage, entry.config.prices());
            recorder.record.attempts.push(attempt);
            let t = transparency(&recorder, Some(&entry.id));
            recorder.finish(200, Some(entry.id.clone()), None);
            let mut response = Response::new(full(answer.into_bytes(&entry.id)));
            response.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
            t.apply(response.headers_mut());
            response
        }
        Err(error) => {
            attempt.outcome = match error {
                ProviderError::Timeout(_) => AttemptOutcome::DeadlineExceeded,
                _ => AttemptOutcome::UpstreamError,
            };
            attempt.error = Some(error.to_string());
            let api = match &error {
                ProviderError::Status { status, message, .. } if (400..500).contains(status) && *status != 429 => {
                    attempt.status = Some(*status);
                    ApiError::new(
                        StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
                        "invalid_request_error",
                        format!("The upstream for `{}` rejected the request: {message}", entry.id),
                    )
                }
                ProviderError::Timeout(_) => ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "timeout",
                    format!("`{}` did not answer in time: {error}", entry.id),
                ),
                _ => ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_error",
                    format!("`{}` could not answer: {error}", entry.id),
                ),
            };
            recorder.record.attempts.push(attempt);
            answer_error(recorder, api)
        }
    }
}

fn transparency(recorder: &Recorder, model: Option<&str>) -> Transparency {
    let record = &recorder.record;
    Transparency {
        request_id: record.id.clone(),
        snapshot: record.snapshot,
        model: model.map(str::to_string),
        route: None,
        attempts: record.attempts.len(),
        reason: record.plan.reason.clone(),
        trail: trail(&record.attempts),
        cost_usd: recorder.cost_so_far(),
        stream: None,
    }
}

fn answer_error(recorder: Recorder, error: ApiError) -> Response<Body> {
    let t = transparency(&recorder, None);
    recorder.finish(error.status.as_u16(), None, Some(error.message.clone()));
    let mut response = error.into_response();
    t.apply(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked() {
        assert!(parse(br#"{"model":"e","input":"hi"}"#).is_ok());
        assert!(parse(br#"{"model":"e","input":["a","b"]}"#).is_ok());
        assert!(parse(br#"{"model":"e","input":[[1,2],[3]]}"#).is_ok());
        assert_eq!(parse(br#"{"input":"hi"}"#).unwrap_err().param.as_deref(), Some("model"));
        for bad in [
            r#"{"model":"e"}"#,
            r#"{"model":"e","input":[]}"#,
            r#"{"model":"e","input":["a",1]}"#,
            r#"{"model":"e","input":{}}"#,
        ] {
            assert_eq!(parse(bad.as_bytes()).unwrap_err().param.as_deref(), Some("input"), "{bad}");
        }
        assert!(parse(b"[1]").is_err());
        assert!(parse(b"{nope").is_err());
    }
}
