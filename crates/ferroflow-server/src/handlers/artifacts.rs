//! The artifact proxy (`/api/2.0/mlflow-artifacts/...`) and run artifact listing.
//!
//! Every path from a request is validated by [`ArtifactPath::parse`] before it reaches
//! storage; bodies stream in both directions.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
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
        .route("/artifacts", get(list_proxied).put(empty_path).delete(empty_path))
        .route("/artifacts/", get(list_proxied).put(empty_path).delete(empty_path))
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

/// The path from the URL, decoded; one that does not decode (invalid UTF-8 escapes) is
/// an invalid path like any other, answered in MLflow's JSON.
fn parse_path(raw: Result<Path<String>, PathRejection>) -> ApiResult<ArtifactPath> {
    let Path(raw) = raw.map_err(|_| ApiError::invalid("Invalid path"))?;
    ArtifactPath::parse(&raw).map_err(|e| ApiError(e.into()))
}

/// Writing or deleting the root itself (an empty path) is never meant.
async fn empty_path() -> ApiError {
    ApiError::invalid("Invalid path: ''")
}

async fn upload(
    State(app): State<AppState>,
    raw: Result<Path<String>, PathRejection>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let repo = repository(&app)?;
    let path = parse_path(raw)?;
    repo.put_stream(&path, body.into_data_stream(), app.config.max_artifact_bytes)
        .await
        .map_err(|e| ApiError(e.into()))?;
    Ok(Json(json!({})))
}

async fn download(State(app): State<AppState>, raw: Result<Path<String>, PathRejection>) -> ApiResult<Response> {
    let repo = repository(&app)?;
    let path = parse_path(raw)?;
    let download = repo.get(&path).await.map_err(|e| ApiError(e.into()))?;
    let content_type = guess_mime_type(path.file_name());
    let mut response = Body::from_stream(download.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(download.size));
    // Always an attachment, so a browser never renders an artifact on the server's origin.
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&content_disposition(path.file_name())).unwrap_or(HeaderValue::from_static("attachment")),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

/// MLflow's `_guess_mime_type`: its text formats (and the extension-less `MLmodel` and
/// `MLproject`) are `text/plain`, anything else is guessed from the extension, and what
/// cannot be guessed is binary.
fn guess_mime_type(file_name: &str) -> String {
    const TEXT: &[&str] = &[
        "txt",
        "log",
        "err",
        "cfg",
        "conf",
        "cnf",
        "cf",
        "ini",
        "properties",
        "prop",
        "hocon",
        "toml",
        "yaml",
        "yml",
        "xml",
        "json",
        "js",
        "py",
        "py3",
        "csv",
        "tsv",
        "md",
        "rst",
        "ipynb",
        "MLmodel",
        "MLproject",
    ];
    let extension = match file_name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => extension,
        _ => file_name,
    };
    if TEXT.contains(&extension) {
        return "text/plain".to_string();
    }
    mime_guess::from_path(file_name).first_or_octet_stream().to_string()
}

/// `attachment; filename="…"` (RFC 6266), with the name quoted; a name that is not ASCII
/// gets an ASCII stand-in there and its exact spelling in `filename*` (RFC 5987).
fn content_disposition(file_name: &str) -> String {
    let quote = |name: &str| {
        let escaped: String = name
            .chars()
            .filter(|c| !c.is_control())
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    };
    if file_name.is_ascii() {
        return format!("attachment; filename={}", quote(file_name));
    }
    let fallback: String = file_name.chars().filter_map(ascii_stand_in).collect();
    let fallback = if fallback.trim_matches(['.', ' ']).is_empty() { "download".to_string() } else { fallback };
    let mut encoded = String::new();
    for byte in file_name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename={}; filename*=UTF-8''{encoded}", quote(&fallback))
}

/// An ASCII character standing in for `c` in a fallback file name: itself, its letter
/// without accents for the common Latin ones, or nothing.
fn ascii_stand_in(c: char) -> Option<char> {
    if c.is_ascii() {
        return Some(c);
    }
    const ACCENTED: [(&str, char); 12] = [
        ("àáâãäåā", 'a'),
        ("ÀÁÂÃÄÅĀ", 'A'),
        ("èéêëē", 'e'),
        ("ÈÉÊËĒ", 'E'),
        ("ìíîïī", 'i'),
        ("ÌÍÎÏĪ", 'I'),
        ("òóôõöøō", 'o'),
        ("ÒÓÔÕÖØŌ", 'O'),
        ("ùúûüū", 'u'),
        ("ÙÚÛÜŪ", 'U'),
        ("çćč", 'c'),
        ("ñń", 'n'),
    ];
    ACCENTED.iter().find(|(set, _)| set.contains(c)).map(|(_, plain)| *plain)
}

async fn delete_artifact(
    State(app): State<AppState>,
    raw: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let repo = repository(&app)?;
    let path = parse_path(raw)?;
    repo.delete(&path).await.map_err(|e| ApiError(e.into()))?;
    Ok(Json(json!({})))
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
            // As MLflow's `FileInfo.to_proto`: an empty file has no size field.
            if let Some(size) = entry.file_size.filter(|size| *size > 0) {
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
async fn list_proxied(State(app): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Json<Value>> {
    let repo = repository(&app)?;
    let path = query_path(query.as_deref().unwrap_or(""))?;
    let dir = ArtifactPath::parse_optional(path.as_deref()).map_err(|e| ApiError(e.into()))?;
    let entries = repo.list(dir.as_ref()).await.map_err(|e| ApiError(e.into()))?;
    Ok(Json(files_json(entries, None)))
}

/// The `path` parameter of a query string (the last one, if repeated), decoded as a
/// form value; one that is not UTF-8 once decoded is an invalid path.
fn query_path(query: &str) -> ApiResult<Option<String>> {
    let mut path = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if form_decode(key)?.as_deref() == Some("path") {
            path = form_decode(value)?;
        }
    }
    Ok(path)
}

fn form_decode(text: &str) -> ApiResult<Option<String>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).map(Some).map_err(|_| ApiError::invalid("Invalid path"))
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
    run_artifact_listing(&app, rpc.message).await.map(Json)
}

/// `artifacts/list`'s answer (`root_uri`, `files`), shared with GraphQL's `mlflowListArtifacts`.
pub(crate) async fn run_artifact_listing(app: &AppState, message: ListRunArtifactsMessage) -> ApiResult<Value> {
    let run = app.store.get_run(&message.id.resolve()?).await?;
    list_under_root(app, &run.info.artifact_uri, message.path).await.map(|Json(body)| body)
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
