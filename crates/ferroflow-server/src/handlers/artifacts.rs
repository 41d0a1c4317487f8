//! The artifact proxy (`/api/2.0/mlflow-artifacts/...`) and run artifact listing.
//!
//! Every path from a request is validated by [`ArtifactPath::parse`] before it reaches
//! storage; bodies stream in both directions.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ferroflow_artifacts::{ArtifactPath, ArtifactRepository, FileInfo};
use ferroflow_core::Error;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::handlers::tracking::{required_text, RunIdMessage};
use crate::wire::{lenient, Rpc};
use crate::AppState;

/// Routes served under `/api/2.0/mlflow-artifacts` and `/ajax-api/2.0/mlflow-artifacts`.
pub fn proxy_routes() -> Router<AppState> {
    Router::new()
        .route("/artifacts", get(list_proxied))
        .route("/artifacts/", get(list_proxied))
        .route("/artifacts/{*path}", get(download).put(upload).delete(delete_artifact))
        .merge(crate::handlers::multipart::routes())
}

/// Routes under `/api/2.0/mlflow`.
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/artifacts/list", get(list_run_artifacts))
        .route("/logged-models/{model_id}/artifacts/directories", get(list_logged_model_artifacts))
}

fn repository(app: &AppState) -> ApiResult<&ArtifactRepository> {
    app.artifacts.as_deref().ok_or_else(|| {
        ApiError(Error::new(
            ferroflow_core::ErrorCode::EndpointNotFound,
            "This server does not serve artifacts (started with --no-serve-artifacts).",
        ))
    })
}

fn parse_path(raw: &str) -> ApiResult<ArtifactPath> {
    ArtifactPath::parse(raw).map_err(|e| ApiError(e.into()))
}

async fn upload(State(app): State<AppState>, Path(raw): Path<String>, body: Body) -> ApiResult<Json<Value>> {
    let repo = repository(&app)?;
    let path = parse_path(&raw)?;
    repo.put_stream(&path, body.into_data_stream(), app.config.max_artifact_bytes)
        .await
        .map_err(|e| ApiError(e.into()))?;
    Ok(Json(json!({})))
}

async fn download(State(app): State<AppState>, Path(raw): Path<String>) -> ApiResult<Response> {
    let repo = repository(&app)?;
    let path = parse_path(&raw)?;
    let download = repo.get(&path).await.map_err(|e| ApiError(e.into()))?;
    let content_type = mime_guess::from_path(path.file_name()).first_or_octet_stream();
    // The file name is quoted and stripped of quotes so the header cannot be split.
    let file_name = path.file_name().replace(['"', '\r', '\n'], "");
    let mut response = Body::from_stream(download.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type.as_ref()).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(download.size));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

async fn delete_artifact(State(app): State<AppState>, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let repo = repository(&app)?;
    let path = parse_path(&raw)?;
    repo.delete(&path).await.map_err(|e| ApiError(e.into()))?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct ListQuery {
    path: Option<String>,
}

fn files_json(entries: Vec<FileInfo>, prefix: Option<&str>) -> Value {
    let files: Vec<Value> = entries
        .into_iter()
        .map(|entry| {
            let path = match prefix {
                Some(prefix) => format!("{prefix}/{}", entry.name),
                None => entry.name,
            };
            let mut file = json!({ "path": path, "is_dir": entry.is_dir });
            if let Some(size) = entry.file_size {
                file["file_size"] = json!(size);
            }
            file
        })
        .collect();
    if files.is_empty() {
        json!({})
    } else {
        json!({ "files": files })
    }
}

/// `GET mlflow-artifacts/artifacts?path=dir`: one level, entries named by basename.
async fn list_proxied(State(app): State<AppState>, Query(query): Query<ListQuery>) -> ApiResult<Json<Value>> {
    let repo = repository(&app)?;
    let dir = ArtifactPath::parse_optional(query.path.as_deref()).map_err(|e| ApiError(e.into()))?;
    let entries = repo.list(dir.as_ref()).await.map_err(|e| ApiError(e.into()))?;
    Ok(Json(files_json(entries, None)))
}

/// Lists `relative` under an entity's artifact root, with paths relative to that root.
async fn list_under_root(app: &AppState, root_uri: &str, relative: Option<String>) -> ApiResult<Json<Value>> {
    let relative = ArtifactPath::parse_optional(relative.as_deref()).map_err(|e| ApiError(e.into()))?;
    let mut body = json!({ "root_uri": root_uri });
    let root = app.artifacts.as_deref().and_then(|repo| repo.path_of_uri(root_uri).map(|path| (repo, path)));
    if let Some((repo, root)) = root {
        let dir = match &relative {
            Some(relative) => root.join(relative),
            None => root,
        };
        let entries = repo.list(Some(&dir)).await.map_err(|e| ApiError(e.into()))?;
        if let Value::Object(files) = files_json(entries, relative.as_ref().map(ArtifactPath::as_str)) {
            body.as_object_mut().expect("object").extend(files);
        }
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct ListRunArtifactsMessage {
    #[serde(flatten)]
    id: RunIdMessage,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    path: Option<String>,
}

/// `GET /api/2.0/mlflow/artifacts/list?run_id&path`: paths relative to the run's root.
async fn list_run_artifacts(State(app): State<AppState>, rpc: Rpc<ListRunArtifactsMessage>) -> ApiResult<Json<Value>> {
    let message = rpc.message;
    let run = app.store.get_run(&message.id.resolve()?).await?;
    list_under_root(&app, &run.info.artifact_uri, message.path).await
}

#[derive(Deserialize)]
pub struct ListModelArtifactsMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    artifact_directory_path: Option<String>,
}

async fn list_logged_model_artifacts(
    State(app): State<AppState>,
    Path(model_id): Path<String>,
    rpc: Rpc<ListModelArtifactsMessage>,
) -> ApiResult<Json<Value>> {
    let model_id = required_text(Some(model_id), "model_id")?;
    let model = app.store.get_logged_model(&model_id, false).await?;
    list_under_root(&app, &model.info.artifact_uri, rpc.message.artifact_directory_path).await
}
