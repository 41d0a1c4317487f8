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
        // The mpu/* endpoints work with every artifact destination (parts are staged in it).
        "multipart_uploads_enabled": app.artifacts.is_some() && app.config.multipart_uploads,
        // presigned/ + ranged mpd/ exist for clients that opt in, but are not advertised: the
        // bytes still come through this server, and the client would trade each streamed
        // GET for a presigned call plus ranged GETs buffered whole in its memory.
        "multipart_downloads_enabled": false,
        "artifacts_presigned_only": false,
        "ferroflow_version": env!("CARGO_PKG_VERSION"),
    }))
}
