//! MLflow's error model: one table maps every error code to its HTTP status.
//!
//! Every layer returns [`Error`]; the HTTP layer only reads `code.http_status()`.

use std::fmt;

/// The `error_code` values MLflow's server emits, with the HTTP status it pairs them with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    InvalidState,
    InternalError,
    BadRequest,
    EndpointNotFound,
    Unauthenticated,
    PermissionDenied,
    RequestLimitExceeded,
    NotImplemented,
    TemporarilyUnavailable,
    /// A request larger than the server accepts (HTTP 413). MLflow has no such answer; the
    /// name is one of its proto's codes, and 413 is a status its client does not retry.
    ResourceLimitExceeded,
    /// The server's disk is full (HTTP 507): the client must not retry for minutes, as it
    /// does on 5xx statuses it deems transient (500, 502, 503, 504).
    ResourceExhausted,
}

impl ErrorCode {
    /// The code as MLflow spells it on the wire.
    pub fn as_str(self) -> &'static str {
        self.row().0
    }

    /// The HTTP status MLflow answers this code with.
    pub fn http_status(self) -> u16 {
        self.row().1
    }

    /// MLflow 3's `error_class` companion field.
    pub fn error_class(self) -> &'static str {
        self.row().2
    }

    /// MLflow 3's `sqlstate` companion field.
    pub fn sqlstate(self) -> &'static str {
        if self.http_status() >= 500 {
            "XXM00"
        } else {
            "KAM00"
        }
    }

    fn row(self) -> (&'static str, u16, &'static str) {
        use ErrorCode::*;
        match self {
            InvalidParameterValue => ("INVALID_PARAMETER_VALUE", 400, "INVALID_PARAMETER_VALUE"),
            // MLflow answers duplicates with 400, not 409: the client relies on it.
            ResourceAlreadyExists => ("RESOURCE_ALREADY_EXISTS", 400, "RESOURCE_ALREADY_EXISTS"),
            ResourceDoesNotExist => ("RESOURCE_DOES_NOT_EXIST", 404, "RESOURCE_NOT_FOUND"),
            InvalidState => ("INVALID_STATE", 500, "CLIENT_INTERNAL_ERROR"),
            InternalError => ("INTERNAL_ERROR", 500, "CLIENT_INTERNAL_ERROR"),
            BadRequest => ("BAD_REQUEST", 400, "INVALID_PARAMETER_VALUE"),
            EndpointNotFound => ("ENDPOINT_NOT_FOUND", 404, "RESOURCE_NOT_FOUND"),
            Unauthenticated => ("UNAUTHENTICATED", 401, "UNAUTHENTICATED"),
            PermissionDenied => ("PERMISSION_DENIED", 403, "PERMISSION_DENIED"),
            RequestLimitExceeded => ("REQUEST_LIMIT_EXCEEDED", 429, "REQUEST_LIMIT_EXCEEDED"),
            NotImplemented => ("NOT_IMPLEMENTED", 501, "NOT_IMPLEMENTED"),
            TemporarilyUnavailable => ("TEMPORARILY_UNAVAILABLE", 503, "CLIENT_INTERNAL_ERROR"),
            ResourceLimitExceeded => ("RESOURCE_LIMIT_EXCEEDED", 413, "RESOURCE_LIMIT_EXCEEDED"),
            ResourceExhausted => ("RESOURCE_EXHAUSTED", 507, "CLIENT_INTERNAL_ERROR"),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with MLflow semantics: a code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceDoesNotExist, message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceAlreadyExists, message)
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidState, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }

    /// A request body (or declared body) over the server's limit: 413.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceLimitExceeded, message)
    }

    /// The disk holding the store is full: 507.
    pub fn storage_full(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceExhausted, message)
    }

    /// MLflow's message for a required field that was not sent (or sent empty).
    pub fn missing_parameter(name: &str) -> Self {
        Self::invalid_parameter(format!(
            "Missing value for required parameter '{name}'. See the API docs for more information \
             about request parameters."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_400_and_missing_is_404() {
        assert_eq!(ErrorCode::ResourceAlreadyExists.http_status(), 400);
        assert_eq!(ErrorCode::ResourceDoesNotExist.http_status(), 404);
        assert_eq!(ErrorCode::ResourceDoesNotExist.error_class(), "RESOURCE_NOT_FOUND");
        assert_eq!(ErrorCode::InvalidParameterValue.as_str(), "INVALID_PARAMETER_VALUE");
    }
}
