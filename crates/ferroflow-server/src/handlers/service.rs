//! Service endpoints: liveness, version and the capability flags the client reads.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::AppState;

/// The MLflow version whose wire protocol ferroflow speaks.
pub const MLFLOW_COMPAT_VERSION: &str = "3.18.0";

pub async fn health() -> &'static str {
    "OK"
}

pub async fn version() -> &'static str {
    MLFLOW_COMPAT_VERSION
}

pub async fn server_info(State(app): State<AppState>) -> Json<Value> {
    Json(json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "artifact_serving_enabled": app.artifacts.is_some(),
        // Never claimed before the mpu/* endpoints exist: the client would use them.
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "artifacts_presigned_only": false,
        "ferroflow_version": env!("CARGO_PKG_VERSION"),
    }))
}
