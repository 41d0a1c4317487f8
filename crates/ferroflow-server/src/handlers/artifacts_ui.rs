//! The artifact endpoints of MLflow's web UI, mounted where MLflow mounts them (outside the
//! RPC prefixes, so not under `/api/2.0/mlflow`):
//!
//! * `GET /get-artifact?run_id|run_uuid&path`: a run's file;
//! * `GET /model-versions/get-artifact?name&version&path`: a model version's file;
//! * `GET /ajax-api/2.0/mlflow/logged-models/{id}/artifacts/files?artifact_file_path`: a
//!   logged model's file;
//! * `POST /ajax-api/2.0/mlflow/upload-artifact?run_uuid&path`: a small file (at most
//!   10 MB, the body's raw bytes) into a run.
//!
//! They read Flask's `request.args`, not a proto message: the first value of each query
//! parameter counts. Paths are checked by [`ArtifactPath::parse`], as the proxy's are;
//! every kind of artifact root is served through [`Root`].

use crate::auth::{Locate, Routes, Rule};
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ferroflow_artifacts::ArtifactPath;
use ferroflow_core::auth::Action;
use ferroflow_core::registry::{parse_version, validate_model_name};
use ferroflow_core::Error;
use futures_util::StreamExt;

use crate::error::{ApiError, ApiResult};
use crate::handlers::artifacts::{attachment, Root};
use crate::AppState;

/// MLflow's cap on the UI's upload (`upload_artifact_handler`): 10 MB, refused with a
/// 400 `INVALID_PARAMETER_VALUE`, before the body is read when it is declared.
pub const UPLOAD_ARTIFACT_MAX_BYTES: u64 = 10 * 1024 * 1024;

const TOO_LARGE: &str = "Artifact size is too large. Max size is 10MB.";

/// Routes at the server's root, merged beside the API prefixes.
pub fn routes() -> Routes {
    Routes::new()
        .get("/get-artifact", Rule::Experiment(Action::Read, Locate::Run), get_artifact)
        .get("/model-versions/get-artifact", Rule::Model(Action::Read), get_model_version_artifact)
        .post(
            "/ajax-api/2.0/mlflow/upload-artifact",
            Rule::Experiment(Action::Update, Locate::RunInQuery),
            upload_artifact,
        )
        .get(
            "/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
            Rule::Experiment(Action::Read, Locate::LoggedModelInPath),
            get_logged_model_artifact,
        )
}

/// A query string as Flask's `request.args`: pairs form-decoded, the first of a repeated
/// key winning.
struct Args(Vec<(String, String)>);

impl Args {
    fn parse(query: Option<&str>) -> ApiResult<Args> {
        let mut pairs = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode =
                |text| crate::wire::form_decode_utf8(text).ok_or_else(|| ApiError::invalid("Invalid query string"));
            pairs.push((decode(key)?, decode(value)?));
        }
        Ok(Args(pairs))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The value, unless absent or empty (Python's `args.get(key) or …`).
    fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|value| !value.is_empty())
    }
}

fn artifact_path(raw: &str) -> ApiResult<ArtifactPath> {
    ArtifactPath::parse(raw).map_err(|e| ApiError(e.into()))
}

/// The `path` every download needs (Flask's `request.args["path"]`: a 400 when absent).
fn download_path(args: &Args, name: &str) -> ApiResult<ArtifactPath> {
    let raw = args.get(name).ok_or_else(|| ApiError(Error::missing_parameter(name)))?;
    artifact_path(raw)
}

async fn send(root: Root, path: &ArtifactPath) -> ApiResult<Response> {
    let download = root.get(path).await?;
    Ok(attachment(download, path.file_name()))
}

/// `GET /get-artifact?run_id=…&path=…` (or `run_uuid`, as the UI sends it).
async fn get_artifact(State(app): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let args = Args::parse(query.as_deref())?;
    let run_id = args.non_empty("run_id").or_else(|| args.non_empty("run_uuid")).map(str::to_string);
    let path = download_path(&args, "path")?;
    // MLflow looks a missing id up as `None` (a 404 for run `None`); it is the request's
    // mistake, so a 400 here.
    let run_id = run_id.ok_or_else(|| ApiError(Error::missing_parameter("run_id")))?;
    let run = app.store.get_run(&run_id).await?;
    send(Root::resolve(&app, &run.info.artifact_uri, false)?, &path).await
}

/// `GET /model-versions/get-artifact?name=…&version=…&path=…`: from the version's
/// download URI (its logged model's location, its source, or the run a `runs:/` source
/// names).
async fn get_model_version_artifact(State(app): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let args = Args::parse(query.as_deref())?;
    let path = download_path(&args, "path")?;
    let name = args.get("name").unwrap_or_default();
    validate_model_name(name)?;
    // MLflow answers a missing version with a 500 (`int(None)`); a 400 here.
    let version = parse_version(args.get("version").unwrap_or_default())?;
    let uri = app.store.get_model_version_download_uri(name, version).await?;
    send(source_root(&app, &uri).await?, &path).await
}

/// The root a model version's download URI names: `runs:/<run_id>/<path>` is that path
/// in the run's root (MLflow's `RunsArtifactRepository`); anything else a root itself.
async fn source_root(app: &AppState, uri: &str) -> ApiResult<Root> {
    let Some(rest) = uri.strip_prefix("runs:/").filter(|rest| !rest.starts_with('/')) else {
        return Root::resolve(app, uri, false);
    };
    let (run_id, sub) = rest.split_once('/').unwrap_or((rest, ""));
    let sub = ArtifactPath::parse_optional(Some(sub)).map_err(|e| ApiError(e.into()))?;
    let run = app.store.get_run(run_id).await?;
    Ok(Root::resolve(app, &run.info.artifact_uri, false)?.descend(sub))
}

/// `GET /ajax-api/2.0/mlflow/logged-models/{id}/artifacts/files?artifact_file_path=…`.
async fn get_logged_model_artifact(
    State(app): State<AppState>,
    model_id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let Path(model_id) = model_id.map_err(|_| ApiError::invalid("Invalid model_id"))?;
    let args = Args::parse(query.as_deref())?;
    let raw = args.non_empty("artifact_file_path").ok_or_else(|| {
        ApiError(Error::bad_request("Request must include the \"artifact_file_path\" query parameter."))
    })?;
    let path = artifact_path(raw)?;
    let model = app.store.get_logged_model(&model_id, false).await?;
    send(Root::resolve(&app, &model.info.artifact_uri, false)?, &path).await
}

/// `POST /ajax-api/2.0/mlflow/upload-artifact?run_uuid=…&path=…`, the file's bytes as the
/// body: MLflow's checks in MLflow's order, then the file is written under the run's
/// root, whatever its kind. Answers 200 with an empty body, as MLflow does.
async fn upload_artifact(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let args = Args::parse(query.as_deref())?;
    // Only `run_uuid`: MLflow's handler reads no `run_id` here.
    let run_id = args.non_empty("run_uuid").ok_or_else(|| ApiError::invalid("Request must specify run_uuid."))?;
    let raw_path = args.non_empty("path").ok_or_else(|| ApiError::invalid("Request must specify path."))?;
    let path = artifact_path(raw_path)?;
    // `dir/` names no file (MLflow fails writing it, a 500).
    if raw_path.ends_with('/') {
        return Err(ApiError::invalid("Invalid path"));
    }
    // Refused before a byte is read, so no `100 Continue` invites the upload.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > UPLOAD_ARTIFACT_MAX_BYTES) {
        return Err(ApiError::invalid(TOO_LARGE));
    }
    let data = read_capped(body, UPLOAD_ARTIFACT_MAX_BYTES).await?;
    if data.is_empty() {
        return Err(ApiError::invalid("Request must specify data."));
    }
    let run = app.store.get_run(run_id).await?;
    let root = Root::resolve(&app, &run.info.artifact_uri, true)?;
    root.put(&path, data, app.config.max_artifact_bytes).await?;
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// The whole body, refused (MLflow's message) past `limit` bytes, chunked or not.
async fn read_capped(body: Body, limit: u64) -> ApiResult<Bytes> {
    let mut stream = body.into_data_stream();
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::invalid("The upload was interrupted."))?;
        if (data.len() + chunk.len()) as u64 > limit {
            return Err(ApiError::invalid(TOO_LARGE));
        }
        data.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_read_as_flask_reads_them() {
        let args = Args::parse(Some("path=a%2Fb+c.txt&run_uuid=&run_uuid=x&path=second&flag")).unwrap();
        assert_eq!(args.get("path"), Some("a/b c.txt"));
        assert_eq!(args.get("run_uuid"), Some(""));
        assert_eq!(args.non_empty("run_uuid"), None);
        assert_eq!(args.get("flag"), Some(""));
        assert_eq!(args.get("missing"), None);
        assert!(Args::parse(Some("path=%FF")).is_err());
        assert!(Args::parse(None).unwrap().0.is_empty());
    }
}
