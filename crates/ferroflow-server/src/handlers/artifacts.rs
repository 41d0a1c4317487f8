//! The artifact proxy (`/api/2.0/mlflow-artifacts/...`), and the artifact roots of runs and
//! logged models: their listing through the tracking API for every kind of root
//! ([`Root`]), shared with the web UI's endpoints (`handlers::artifacts_ui`).
//!
//! Every path from a request is validated by [`ArtifactPath::parse`] before it reaches
//! storage; bodies stream in both directions.

use crate::auth::{Locate, Routes, Rule};
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferroflow_core::auth::Action;
use std::sync::Arc;

use ferroflow_artifacts::{ArtifactPath, ArtifactRepository, Download, FileInfo, OpenedRoot};
use ferroflow_core::Error;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::handlers::tracking::{required_text, RunIdMessage};
use crate::wire::{lenient, Rpc};
use crate::AppState;

/// Routes served under `/api/2.0/mlflow-artifacts` and `/ajax-api/2.0/mlflow-artifacts`.
/// Paths are checked through their experiment, the first segment of ferroflow's layout.
pub fn proxy_routes() -> Routes {
    let listing = Rule::Experiment(Action::Read, Locate::ArtifactPathField);
    let mut routes = Routes::new();
    for root in ["/artifacts", "/artifacts/"] {
        // A path-less upload or delete is refused by the handler; nobody needs more than sign-in for that.
        routes = routes.get(root, listing, list_proxied).put(root, Rule::Authenticated, empty_path).delete(
            root,
            Rule::Authenticated,
            empty_path,
        );
    }
    routes
        .get("/artifacts/{*path}", Rule::Experiment(Action::Read, Locate::ArtifactPath), download)
        .put("/artifacts/{*path}", Rule::Experiment(Action::Update, Locate::ArtifactPath), upload)
        .delete("/artifacts/{*path}", Rule::Experiment(Action::Delete, Locate::ArtifactPath), delete_artifact)
        .merge(crate::handlers::multipart::routes())
}

/// Routes under `/api/2.0/mlflow`.
pub fn api_routes() -> Routes {
    Routes::new().get("/artifacts/list", Rule::Experiment(Action::Read, Locate::Run), list_run_artifacts).get(
        "/logged-models/{model_id}/artifacts/directories",
        Rule::Experiment(Action::Read, Locate::LoggedModelInPath),
        list_logged_model_artifacts,
    )
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
    Ok(attachment(download, path.file_name()))
}

/// A download as MLflow sends one: the type from the file's name, always an attachment,
/// never sniffed.
pub(crate) fn attachment(download: Download, file_name: &str) -> Response {
    let content_type = guess_mime_type(file_name);
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
        HeaderValue::from_str(&content_disposition(file_name)).unwrap_or(HeaderValue::from_static("attachment")),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// MLflow's `_guess_mime_type`: its text formats (and the extension-less `MLmodel` and
/// `MLproject`) are `text/plain`, anything else is guessed from the extension, and what
/// cannot be guessed is binary. MLflow's list spells the project file `mlproject` (its
/// `MLPROJECT_FILE_NAME`), so it serves `MLproject` itself as binary; both spellings are
/// text here.
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
        "mlproject",
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

/// `GET mlflow-artifacts/artifacts?path=dir`: one level, entries named by basename.
async fn list_proxied(State(app): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Json<Value>> {
    let repo = repository(&app)?;
    let path = query_path(query.as_deref().unwrap_or(""))?;
    let dir = ArtifactPath::parse_optional(path.as_deref()).map_err(|e| ApiError(e.into()))?;
    let entries = repo.list(dir.as_ref()).await.map_err(|e| ApiError(e.into()))?;
    let files = listed_files(entries, None);
    Ok(Json(if files.is_empty() { json!({}) } else { json!({ "files": files }) }))
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
    crate::wire::form_decode_utf8(text).map(Some).ok_or_else(|| ApiError::invalid("Invalid path"))
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
    let run_id = message.id.resolve()?;
    Ok(list_artifacts_for_run(app, &run_id, message.path.as_deref()).await?.to_json())
}

/// One level of a run's artifacts at `path` (its root when `None` or empty), whatever
/// kind of root the run has (see [`Root`]).
pub(crate) async fn list_artifacts_for_run(app: &AppState, run_id: &str, path: Option<&str>) -> ApiResult<Listing> {
    let relative = ArtifactPath::parse_optional(path).map_err(|e| ApiError(e.into()))?;
    let run = app.store.get_run(run_id).await?;
    list_root(app, &run.info.artifact_uri, relative).await
}

#[derive(Deserialize)]
pub struct ListModelArtifactsMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    artifact_directory_path: Option<String>,
}

/// `GET logged-models/{id}/artifacts/directories`: MLflow's `ListLoggedModelArtifacts`,
/// `root_uri` and `files`; its `page_token` is ignored and no `next_page_token` is sent,
/// as MLflow's server sends none (one level is one page).
async fn list_logged_model_artifacts(
    State(app): State<AppState>,
    Path(model_id): Path<String>,
    rpc: Rpc<ListModelArtifactsMessage>,
) -> ApiResult<Json<Value>> {
    let model_id = required_text(Some(model_id), "model_id")?;
    let relative =
        ArtifactPath::parse_optional(rpc.message.artifact_directory_path.as_deref()).map_err(|e| ApiError(e.into()))?;
    let model = app.store.get_logged_model(&model_id, false).await?;
    Ok(Json(list_root(&app, &model.info.artifact_uri, relative).await?.to_json()))
}

/// Lists `relative` under the artifact root `root_uri`, with paths relative to the root.
pub(crate) async fn list_root(app: &AppState, root_uri: &str, relative: Option<ArtifactPath>) -> ApiResult<Listing> {
    let root = Root::resolve(app, root_uri, false)?;
    let entries = root.list(relative.as_ref()).await?;
    Ok(Listing {
        root_uri: root_uri.to_string(),
        files: listed_files(entries, relative.as_ref().map(ArtifactPath::as_str)),
    })
}

/// One level of an artifact root, as `artifacts/list` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listing {
    pub root_uri: String,
    pub files: Vec<ListedFile>,
}

/// An entry of a [`Listing`]: its path from the root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ListedFile {
    pub path: String,
    pub is_dir: bool,
    /// As MLflow's `FileInfo.to_proto`: absent for folders and for empty files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
}

impl Listing {
    /// `{"root_uri", "files"}`, `files` left out when there are none (as MLflow's JSON
    /// leaves out an empty repeated field).
    pub(crate) fn to_json(&self) -> Value {
        let mut body = json!({ "root_uri": self.root_uri });
        if !self.files.is_empty() {
            body["files"] = json!(self.files);
        }
        body
    }
}

fn listed_files(entries: Vec<FileInfo>, prefix: Option<&str>) -> Vec<ListedFile> {
    entries
        .into_iter()
        .map(|entry| ListedFile {
            path: match prefix {
                Some(prefix) => format!("{prefix}/{}", entry.name),
                None => entry.name,
            },
            is_dir: entry.is_dir,
            file_size: entry.file_size.filter(|size| *size > 0),
        })
        .collect()
}

/// An entity's artifact root, resolved to where its bytes are, as MLflow's server
/// resolves it (`_is_servable_proxied_run_artifact_root`, else `_get_artifact_repo`):
///
/// * a root in the proxied destination (`mlflow-artifacts:/…`, the proxy's URL
///   `http(s)://…/api/2.0/mlflow-artifacts/artifacts/…` whatever its host, or a local
///   path under the destination) is read there, when the server serves artifacts;
/// * any other local folder or `file:` URI, and `s3://`, `gs://`, `wasbs://`/`az://`
///   roots, are opened themselves ([`RootRepositories`]);
/// * anything else (`hdfs`, `dbfs`, a remote `file:` host, an `http` URL that is not the
///   proxy's, `mlflow-artifacts` when artifacts are not served) is not read: it lists as
///   empty, and downloads and uploads are refused with a 400.
pub(crate) struct Root {
    uri: String,
    kind: RootKind,
}

enum RootKind {
    /// In `repo`, under `base` (the repository's own root when `None`).
    Store {
        repo: Arc<ArtifactRepository>,
        base: Option<ArtifactPath>,
    },
    /// A local root not created yet: nothing was written there.
    Missing,
    Unreadable,
}

impl Root {
    /// Resolves `uri` for reading, or for writing (`create`: a missing local root is made).
    pub(crate) fn resolve(app: &AppState, uri: &str, create: bool) -> ApiResult<Root> {
        let store = |repo, base| RootKind::Store { repo, base };
        if let Some(proxy) = &app.artifacts {
            if let Some(base) = proxy.path_of_uri(uri) {
                return Ok(Root { uri: uri.to_string(), kind: store(Arc::clone(proxy), Some(base)) });
            }
        }
        let kind = match app.roots.open(uri, create).map_err(|e| ApiError(e.into()))? {
            OpenedRoot::Repository(repo) => store(Arc::new(repo), None),
            OpenedRoot::Missing => RootKind::Missing,
            OpenedRoot::Unsupported => RootKind::Unreadable,
        };
        Ok(Root { uri: uri.to_string(), kind })
    }

    /// The same root, `sub` further down (`runs:/<run>/<sub>`).
    pub(crate) fn descend(self, sub: Option<ArtifactPath>) -> Root {
        let Some(sub) = sub else { return self };
        let kind = match self.kind {
            RootKind::Store { repo, base } => RootKind::Store { repo, base: Some(join(base.as_ref(), &sub)) },
            other => other,
        };
        Root { uri: self.uri, kind }
    }

    /// The entries one level down at `relative` (the root when `None`); a folder that does
    /// not exist, or a file, has none.
    pub(crate) async fn list(&self, relative: Option<&ArtifactPath>) -> ApiResult<Vec<FileInfo>> {
        match &self.kind {
            RootKind::Store { repo, base } => {
                let dir = match (base, relative) {
                    (Some(base), Some(relative)) => Some(base.join(relative)),
                    (base, relative) => base.clone().or_else(|| relative.cloned()),
                };
                repo.list(dir.as_ref()).await.map_err(|e| ApiError(e.into()))
            }
            RootKind::Missing | RootKind::Unreadable => Ok(Vec::new()),
        }
    }

    /// The file at `relative`, with MLflow's answers for a missing file and a folder
    /// (naming the path from the root, never a server path).
    pub(crate) async fn get(&self, relative: &ArtifactPath) -> ApiResult<Download> {
        let no_such = || ApiError(Error::not_found(format!("No such artifact: '{}'", relative.as_str())));
        match &self.kind {
            RootKind::Store { repo, base } => repo.get(&join(base.as_ref(), relative)).await.map_err(|e| {
                if e.is_not_found() {
                    no_such()
                } else if e.is_directory() {
                    ApiError::invalid(format!(
                        "Artifact path refers to a directory, not a file: '{}'",
                        relative.as_str()
                    ))
                } else {
                    ApiError(e.into())
                }
            }),
            RootKind::Missing => Err(no_such()),
            RootKind::Unreadable => Err(self.unreadable("read")),
        }
    }

    /// Writes `body` at `relative`, at most `max_bytes`. Resolve with `create` first.
    pub(crate) async fn put(&self, relative: &ArtifactPath, body: axum::body::Bytes, max_bytes: u64) -> ApiResult<u64> {
        match &self.kind {
            RootKind::Store { repo, base } => {
                let chunks = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
                repo.put_stream(&join(base.as_ref(), relative), chunks, max_bytes).await.map_err(|e| ApiError(e.into()))
            }
            RootKind::Missing | RootKind::Unreadable => Err(self.unreadable("write")),
        }
    }

    fn unreadable(&self, action: &str) -> ApiError {
        ApiError::invalid(format!("This server does not {action} artifacts stored at '{}'.", self.uri))
    }
}

fn join(base: Option<&ArtifactPath>, relative: &ArtifactPath) -> ArtifactPath {
    match base {
        Some(base) => base.join(relative),
        None => relative.clone(),
    }
}
