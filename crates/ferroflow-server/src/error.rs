//! The single place where core errors become HTTP responses in MLflow's error format.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferroflow_core::{Error, ErrorCode};

/// An error on its way to the client as `{"error_code": …, "message": …}`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError(error)
    }
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError(Error::invalid_parameter(message))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Error { code, message } = self.0;
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error_code = %code, %message, "request failed");
        }
        let body = serde_json::json!({
            "error_code": code.as_str(),
            "message": message,
            "error_class": code.error_class(),
        });
        (status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The answer for routes that do not exist: a JSON 404 the client maps to ENDPOINT_NOT_FOUND.
pub async fn endpoint_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError(Error::new(ErrorCode::EndpointNotFound, format!("No endpoint for {}", uri.path())))
}
