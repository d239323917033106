//! Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}` with the
//! status OpenAI would use, so SDKs raise the exception their users expect.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use super::body::{Body, full};
use crate::route::RouteError;

/// One client-facing error.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// OpenAI's error `type`: `invalid_request_error`, `authentication_error`, `server_error`, ...
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub param: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), kind, code: None, param: None }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn with_param(mut self, param: Option<String>) -> Self {
        self.param = param;
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
    }

    pub fn model_not_found(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("The model `{model}` does not exist: it is neither a route nor a model in this Switchyard's configuration. GET /v1/models lists both."),
        )
        .with_code("model_not_found")
        .with_param(Some("model".into()))
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("The request body is larger than this server's limit of {limit} bytes."),
        )
        .with_code("request_too_large")
    }

    pub fn method_not_allowed(method: &http::Method, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            format!("{method} is not allowed on {path}."),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication_error", message).with_code("invalid_api_key")
    }

    pub fn overloaded() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "Switchyard is serving its maximum number of concurrent requests; retry shortly.",
        )
        .with_code("overloaded")
    }

    /// No step of the plan produced an answer. `tried` says what was attempted and how each
    /// attempt ended.
    pub fn no_answer(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, "upstream_error", message).with_code("no_route_answered")
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, "upstream_error", message).with_code("deadline_exceeded")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    /// The JSON body.
    pub fn body_json(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        })
    }

    /// The whole HTTP response.
    pub fn into_response(self) -> http::Response<Body> {
        let bytes = Bytes::from(self.body_json().to_string());
        let mut response = http::Response::new(full(bytes));
        *response.status_mut() = self.status;
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

impl From<crate::route::request::InvalidRequest> for ApiError {
    fn from(invalid: crate::route::request::InvalidRequest) -> Self {
        ApiError::bad_request(invalid.message).with_param(invalid.param)
    }
}

/// The one place a routing outcome becomes an HTTP status: each [`RouteError`] with the
/// status and code an OpenAI client expects.
impl From<RouteError> for ApiError {
    fn from(error: RouteError) -> Self {
        let message = error.to_string();
        match error {
            RouteError::PluginFailed(_) => ApiError::internal(message).with_code("plugin_failed"),
            RouteError::Rejected { .. } => {
                ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", message).with_code("answer_rejected")
            }
            RouteError::NoAnswer { .. } => ApiError::no_answer(StatusCode::BAD_GATEWAY, message),
            RouteError::DeadlinePassed { .. } => ApiError::timeout(message),
            RouteError::RefusedRequest { status, .. } => ApiError::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                "invalid_request_error",
                message,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_openai_error_shape() {
        let error = ApiError::model_not_found("gpt-9");
        let json = error.body_json();
        assert_eq!(json["error"]["type"], "invalid_request_error");
        assert_eq!(json["error"]["code"], "model_not_found");
        assert_eq!(json["error"]["param"], "model");
        assert!(json["error"]["message"].as_str().unwrap().contains("gpt-9"));
        assert_eq!(error.into_response().status(), StatusCode::NOT_FOUND);
    }
}
