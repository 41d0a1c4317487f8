//! What a call can fail with. A server's refusal keeps MLflow's `error_code` and
//! `message`, so callers can tell "not found" from "server down".

use reqwest::StatusCode;

/// Every error the client returns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error: MLflow's `{"error_code", "message"}`, or, for an
    /// answer that is not JSON (a proxy's page), the code MLflow's client derives from the
    /// HTTP status and the body as the message.
    #[error("{error_code} (HTTP {status}): {message}")]
    Api { status: StatusCode, error_code: String, message: String },
    /// The request never got an answer (connection refused, timeout, TLS), after retries.
    #[error("cannot reach {url}: {message}")]
    Transport { url: String, message: String },
    /// The server answered 200 with a body this client cannot read.
    #[error("unexpected answer from {url}: {message}")]
    Decode { url: String, message: String },
    /// The client's settings (tracking URI, retry variables, certificates) are unusable.
    #[error("{0}")]
    Config(String),
    /// A local file could not be written (artifact downloads).
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl Error {
    /// MLflow's error code for an API error (`RESOURCE_DOES_NOT_EXIST`, …).
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Error::Api { error_code, .. } => Some(error_code),
            _ => None,
        }
    }

    /// Whether the server said the thing asked for does not exist. MLflow answers an
    /// unknown alias with `INVALID_PARAMETER_VALUE` ("Registered model alias … not found."),
    /// so that counts too.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Api { error_code, message, .. } => {
                matches!(error_code.as_str(), "RESOURCE_DOES_NOT_EXIST" | "NOT_FOUND")
                    || (error_code == "INVALID_PARAMETER_VALUE"
                        && message.starts_with("Registered model alias ")
                        && message.ends_with(" not found."))
            }
            _ => false,
        }
    }
}

/// The error code MLflow's client gives an error answer that is not JSON
/// (`mlflow.exceptions.get_error_code`).
pub(crate) fn error_code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BAD_REQUEST",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "ENDPOINT_NOT_FOUND",
        409 => "RESOURCE_CONFLICT",
        429 => "REQUEST_LIMIT_EXCEEDED",
        499 => "CANCELLED",
        501 => "NOT_IMPLEMENTED",
        503 => "TEMPORARILY_UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL_ERROR",
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
