//! Proxied multipart upload: `POST mlflow-artifacts/mpu/{create,complete,abort}/<dir>` and
//! the part uploads they hand out, `PUT mlflow-artifacts/mpu/part/<upload_id>/<n>`.
//!
//! MLflow's client (3.x, when server-info says `multipart_uploads_enabled`, or any client
//! with `MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true`) sends a file of at least
//! `MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE` bytes this way:
//!
//! 1. `create` with `{path: <its local file path>, num_parts}`; the URL names the artifact
//!    directory and the file keeps the basename of `path`. The answer is an `upload_id` and
//!    one credential `{url, part_number, headers}` per part, in part order (the client
//!    reads part *i* from byte `i × chunk_size`).
//! 2. A plain `PUT` of each part's bytes to its `url` with its `headers`, in parallel and in
//!    any order, keeping each answer's `ETag` header.
//! 3. `complete` with `{path, upload_id, parts: [{part_number, etag, url}]}`; on any
//!    failure, `abort` with `{path, upload_id}`.
//!
//! Part URLs point back at this server (as the client reached it), and the parts are
//! staged in the artifact store itself (see `ferroflow_artifacts::multipart`), so this
//! works with every destination and any number of server processes.
//!
//! The download side, for clients that opt in with `MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD`
//! (server-info does not advertise it: see `service::server_info`): `GET presigned/<p>`
//! answers `{url, headers, file_size}`, and the client then GETs `Range: bytes=a-b` chunks
//! of `url` in parallel. The URL is `mpd/<p>` on this server, which honours ranges.

use crate::auth::{Locate, Routes, Rule};
use ferroflow_core::auth::Action;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferroflow_artifacts::multipart::{CompletedPart, UploadId, MAX_PARTS};
use ferroflow_artifacts::{ArtifactPath, ArtifactRepository};
use ferroflow_core::{Error, ErrorCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::handlers::tracking::required_text;
use crate::wire::{lenient, Rpc};
use crate::AppState;

/// Uploads left untouched this long are swept away (clients that died mid-upload).
const STALE_UPLOAD_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often, at most, `create` starts such a sweep.
const SWEEP_INTERVAL_SECS: i64 = 3600;

/// Routes served under `/api/2.0/mlflow-artifacts` and `/ajax-api/2.0/mlflow-artifacts`.
/// An upload is checked through the experiment its path starts with; its parts carry the
/// random upload id an authorised `create` handed out, which is their capability.
pub fn routes() -> Routes {
    let write = Rule::Experiment(Action::Update, Locate::ArtifactPath);
    let read = Rule::Experiment(Action::Read, Locate::ArtifactPath);
    let mut routes = Routes::new();
    // Path-less variants only answer MLflow's error; they touch nothing under any experiment.
    for root in ["/mpu/create", "/mpu/create/"] {
        routes = routes.post(root, Rule::Authenticated, create_root);
    }
    for root in ["/mpu/complete", "/mpu/complete/"] {
        routes = routes.post(root, Rule::Authenticated, complete_root);
    }
    for root in ["/mpu/abort", "/mpu/abort/"] {
        routes = routes.post(root, Rule::Authenticated, abort_root);
    }
    routes
        .post("/mpu/create/{*path}", write, create)
        .post("/mpu/complete/{*path}", write, complete)
        .post("/mpu/abort/{*path}", write, abort)
        .put("/mpu/part/{upload_id}/{part_number}", Rule::Authenticated, upload_part)
        .get("/presigned/{*path}", read, presigned_download)
        .get("/mpd/{*path}", read, ranged_download)
}

fn repository(app: &AppState) -> ApiResult<&ArtifactRepository> {
    app.artifacts.as_deref().ok_or_else(|| {
        ApiError(Error::new(
            ErrorCode::EndpointNotFound,
            "This server does not serve artifacts (started with --no-serve-artifacts).",
        ))
    })
}

fn api_error(error: impl Into<Error>) -> ApiError {
    ApiError(error.into())
}

/// The artifact an upload writes: the directory in the URL (the root when absent) and the
/// basename of the `path` field, which clients fill with their local file path (POSIX or
/// Windows). The name is used as given, as a single `PUT` would store it.
fn destination(dir: Option<&str>, path: Option<String>) -> ApiResult<ArtifactPath> {
    let local_path = required_text(path, "path")?;
    let name = local_path.rsplit(['/', '\\']).next().unwrap_or_default();
    let name = ArtifactPath::parse(name).map_err(|_| ApiError::invalid("Invalid path"))?;
    match ArtifactPath::parse_optional(dir).map_err(api_error)? {
        Some(dir) => Ok(dir.join(&name)),
        None => Ok(name),
    }
}

fn upload_id(raw: Option<String>) -> ApiResult<UploadId> {
    UploadId::parse(&required_text(raw, "upload_id")?).map_err(api_error)
}

/// The first value of a header that proxies may repeat or list.
fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

/// `scheme://host[:port][prefix]` as the client reached this server: the `Host` header,
/// or what a reverse proxy says in `X-Forwarded-Proto`, `-Host` and `-Prefix`.
fn public_base_url(headers: &HeaderMap, uri: &axum::http::Uri) -> ApiResult<String> {
    let scheme = match first_value(headers, "x-forwarded-proto").map(str::to_ascii_lowercase) {
        Some(scheme) if scheme == "https" => "https",
        _ => "http",
    };
    let host = first_value(headers, "x-forwarded-host")
        .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()))
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .ok_or_else(|| ApiError::invalid("A Host header is required for multipart uploads."))?;
    let host_ok = !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']'));
    if !host_ok {
        return Err(ApiError::invalid("The Host header is not a valid host name."));
    }
    let prefix = first_value(headers, "x-forwarded-prefix")
        .filter(|p| {
            p.starts_with('/')
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~'))
        })
        .map(|p| p.trim_end_matches('/'))
        .unwrap_or("");
    Ok(format!("{scheme}://{host}{prefix}"))
}

fn now_seconds() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Starts a sweep of abandoned uploads, at most once per [`SWEEP_INTERVAL_SECS`].
fn sweep_stale_uploads(app: &AppState) {
    static LAST_SWEEP: AtomicI64 = AtomicI64::new(0);
    let now = now_seconds();
    let last = LAST_SWEEP.load(Ordering::Relaxed);
    if now - last < SWEEP_INTERVAL_SECS
        || LAST_SWEEP.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
    {
        return;
    }
    let Some(repo) = app.artifacts.clone() else { return };
    tokio::spawn(async move {
        match repo.purge_stale_multipart_uploads(STALE_UPLOAD_AGE).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed abandoned multipart uploads"),
            Err(e) => tracing::warn!(error = %e, "could not sweep abandoned multipart uploads"),
        }
    });
}

#[derive(Deserialize)]
pub struct CreateMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    path: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    num_parts: Option<i64>,
}

async fn create_root(
    state: State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
    rpc: Rpc<CreateMessage>,
) -> ApiResult<Json<Value>> {
    create_upload(state, None, headers, uri, rpc).await
}

async fn create(
    state: State<AppState>,
    Path(dir): Path<String>,
    headers: HeaderMap,
    uri: OriginalUri,
    rpc: Rpc<CreateMessage>,
) -> ApiResult<Json<Value>> {
    create_upload(state, Some(dir), headers, uri, rpc).await
}

async fn create_upload(
    State(app): State<AppState>,
    dir: Option<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    rpc: Rpc<CreateMessage>,
) -> ApiResult<Json<Value>> {
    let repo = repository(&app)?;
    if !app.config.multipart_uploads {
        // This exact wording makes the client fall back to a single streamed PUT.
        return Err(ApiError(ferroflow_core::Error::new(
            ferroflow_core::ErrorCode::NotImplemented,
            "Multipart upload is not supported for the current artifact repository",
        )));
    }
    let message = rpc.message;
    let destination = destination(dir.as_deref(), message.path)?;
    // Like MLflow's server, an absent count means zero parts (an empty file).
    let num_parts = message.num_parts.unwrap_or(0);
    let num_parts = u32::try_from(num_parts).ok().filter(|n| *n <= MAX_PARTS).ok_or_else(|| {
        ApiError::invalid(format!(
            "num_parts must be between 0 and {MAX_PARTS}, got {num_parts}: raise MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE"
        ))
    })?;
    let base = public_base_url(&headers, &uri)?;
    let id = UploadId::parse(&uuid::Uuid::new_v4().simple().to_string()).map_err(api_error)?;
    repo.create_multipart_upload(&id, &destination, num_parts).await.map_err(api_error)?;
    sweep_stale_uploads(&app);
    // Part uploads carry no credentials of their own (the upload id is the capability);
    // a reverse proxy that authenticates requests gets the client's own credentials back.
    let part_headers = forwarded_credentials(&headers);
    let credentials: Vec<Value> = (1..=num_parts)
        .map(|part_number| {
            json!({
                "url": format!("{base}/api/2.0/mlflow-artifacts/mpu/part/{}/{part_number}", id.as_str()),
                "part_number": part_number,
                "headers": part_headers,
            })
        })
        .collect();
    tracing::info!(upload_id = id.as_str(), path = destination.as_str(), num_parts, "multipart upload created");
    Ok(Json(json!({ "upload_id": id.as_str(), "credentials": credentials })))
}

/// `PUT mpu/part/<upload_id>/<part_number>`: the raw bytes of one part, answered with the
/// part's `ETag`.
async fn upload_part(
    State(app): State<AppState>,
    Path((raw_id, raw_number)): Path<(String, String)>,
    body: Body,
) -> ApiResult<Response> {
    let repo = repository(&app)?;
    let id = UploadId::parse(&raw_id).map_err(api_error)?;
    let part_number: i64 =
        raw_number.parse().map_err(|_| ApiError::invalid(format!("Invalid part number '{raw_number}'")))?;
    let token = uuid::Uuid::new_v4().simple().to_string();
    repo.put_multipart_part(&id, part_number, &token, body.into_data_stream(), app.config.max_artifact_bytes)
        .await
        .map_err(api_error)?;
    let mut response = StatusCode::OK.into_response();
    let etag = HeaderValue::from_str(&format!("\"{token}\"")).expect("hex is a valid header value");
    response.headers_mut().insert(header::ETAG, etag);
    Ok(response)
}

#[derive(Deserialize)]
pub struct PartMessage {
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    part_number: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    etag: Option<String>,
}

#[derive(Deserialize)]
pub struct CompleteMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    path: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    upload_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::vec")]
    parts: Vec<PartMessage>,
}

async fn complete_root(state: State<AppState>, rpc: Rpc<CompleteMessage>) -> ApiResult<Json<Value>> {
    complete_upload(state, None, rpc).await
}

async fn complete(
    state: State<AppState>,
    Path(dir): Path<String>,
    rpc: Rpc<CompleteMessage>,
) -> ApiResult<Json<Value>> {
    complete_upload(state, Some(dir), rpc).await
}

async fn complete_upload(
    State(app): State<AppState>,
    dir: Option<String>,
    rpc: Rpc<CompleteMessage>,
) -> ApiResult<Json<Value>> {
    let repo = repository(&app)?;
    let message = rpc.message;
    let destination = destination(dir.as_deref(), message.path)?;
    let id = upload_id(message.upload_id)?;
    let parts = message
        .parts
        .into_iter()
        .map(|part| {
            let part_number = part.part_number.ok_or_else(|| ApiError::invalid("Every part needs a part_number."))?;
            let etag = required_text(part.etag, "etag")?;
            Ok(CompletedPart { part_number, etag })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let size = repo
        .complete_multipart_upload(&id, &destination, &parts, app.config.max_artifact_bytes)
        .await
        .map_err(api_error)?;
    tracing::info!(upload_id = id.as_str(), path = destination.as_str(), size, "multipart upload completed");
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct AbortMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    path: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    upload_id: Option<String>,
}

async fn abort_root(state: State<AppState>, rpc: Rpc<AbortMessage>) -> ApiResult<Json<Value>> {
    abort_upload(state, None, rpc).await
}

async fn abort(state: State<AppState>, Path(dir): Path<String>, rpc: Rpc<AbortMessage>) -> ApiResult<Json<Value>> {
    abort_upload(state, Some(dir), rpc).await
}

async fn abort_upload(
    State(app): State<AppState>,
    dir: Option<String>,
    rpc: Rpc<AbortMessage>,
) -> ApiResult<Json<Value>> {
    let repo = repository(&app)?;
    let message = rpc.message;
    let destination = destination(dir.as_deref(), message.path)?;
    let id = upload_id(message.upload_id)?;
    repo.abort_multipart_upload(&id, &destination).await.map_err(api_error)?;
    tracing::info!(upload_id = id.as_str(), path = destination.as_str(), "multipart upload aborted");
    Ok(Json(json!({})))
}

/// Percent-encodes a validated artifact path for a URL, keeping its slashes.
fn url_path(path: &ArtifactPath) -> String {
    let mut out = String::with_capacity(path.as_str().len());
    for byte in path.as_str().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The credentials a follow-up request to a URL we hand out should carry: the client's own
/// `Authorization`, for a reverse proxy that checks it (this server does not).
fn forwarded_credentials(headers: &HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(authorization) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        out.insert("Authorization".into(), json!(authorization));
    }
    out
}

/// `GET presigned/<p>`: where to fetch ranges of a file, and its size.
async fn presigned_download(
    State(app): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let repo = repository(&app)?;
    let path = ArtifactPath::parse(&raw).map_err(api_error)?;
    let size = repo.artifact_size(&path).await.map_err(api_error)?;
    let base = public_base_url(&headers, &uri)?;
    Ok(Json(json!({
        "url": format!("{base}/api/2.0/mlflow-artifacts/mpd/{}", url_path(&path)),
        "headers": forwarded_credentials(&headers),
        "file_size": size,
    })))
}

/// What a `Range` header asks of a file of `size` bytes: `None` to send it whole (no header,
/// or one this server does not serve, such as several ranges), `Some(Err)` when nothing of
/// the file is in range (416).
fn requested_range(headers: &HeaderMap, size: u64) -> Option<Result<std::ops::Range<u64>, ()>> {
    let spec = headers.get(header::RANGE)?.to_str().ok()?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        let suffix: u64 = last.parse().ok()?;
        if suffix == 0 || size == 0 {
            return Some(Err(()));
        }
        size.saturating_sub(suffix)..size
    } else {
        let start: u64 = first.parse().ok()?;
        let end = if last.is_empty() { u64::MAX } else { last.parse::<u64>().ok()? };
        if end < start {
            return None;
        }
        if start >= size {
            return Some(Err(()));
        }
        start..end.min(size - 1) + 1
    };
    Some(Ok(range))
}

/// `GET mpd/<p>`: the file, or the byte range its `Range` header asks for (206).
async fn ranged_download(
    State(app): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let repo = repository(&app)?;
    let path = ArtifactPath::parse(&raw).map_err(api_error)?;
    let size = repo.artifact_size(&path).await.map_err(api_error)?;
    let (status, range) = match requested_range(&headers, size) {
        None => (StatusCode::OK, 0..size),
        Some(Ok(range)) => (StatusCode::PARTIAL_CONTENT, range),
        Some(Err(())) => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            let value = HeaderValue::from_str(&format!("bytes */{size}")).expect("digits are a valid header value");
            response.headers_mut().insert(header::CONTENT_RANGE, value);
            return Ok(response);
        }
    };
    let (length, body) = if range.is_empty() {
        (0, Body::empty())
    } else {
        let download = repo.get_range(&path, range.clone()).await.map_err(api_error)?;
        (download.size, Body::from_stream(download.body))
    };
    let mut response = (status, body).into_response();
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {}-{}/{size}", range.start, range.end - 1);
        out.insert(header::CONTENT_RANGE, HeaderValue::from_str(&value).expect("digits are a valid header value"));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn base_url_follows_the_client_and_its_proxy() {
        let uri: axum::http::Uri = "/api/2.0/mlflow-artifacts/mpu/create/x".parse().unwrap();
        let base = |pairs: &[(&'static str, &str)]| public_base_url(&headers(pairs), &uri);
        assert_eq!(base(&[("host", "127.0.0.1:5000")]).unwrap(), "http://127.0.0.1:5000");
        assert_eq!(
            base(&[
                ("host", "10.0.0.2:5000"),
                ("x-forwarded-proto", "https, http"),
                ("x-forwarded-host", "mlflow.example.com"),
                ("x-forwarded-prefix", "/mlflow/"),
            ])
            .unwrap(),
            "https://mlflow.example.com/mlflow"
        );
        assert_eq!(
            base(&[("host", "[::1]:5000"), ("x-forwarded-prefix", "not/absolute")]).unwrap(),
            "http://[::1]:5000"
        );
        assert!(base(&[("host", "evil.com/path?")]).is_err());
        assert!(base(&[]).is_err());
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        let range = |value: &str, size| requested_range(&headers(&[("range", value)]), size);
        assert_eq!(range("bytes=0-9", 100), Some(Ok(0..10)));
        assert_eq!(range("bytes=90-200", 100), Some(Ok(90..100)));
        assert_eq!(range("bytes=95-", 100), Some(Ok(95..100)));
        assert_eq!(range("bytes=-10", 100), Some(Ok(90..100)));
        assert_eq!(range("bytes=-500", 100), Some(Ok(0..100)));
        assert_eq!(range("bytes=100-", 100), Some(Err(())));
        assert_eq!(range("bytes=-0", 100), Some(Err(())));
        assert_eq!(range("bytes=0-0", 0), Some(Err(())));
        for ignored in ["bytes=5-1", "bytes=0-1,5-6", "items=0-1", "bytes=a-b", "bytes=--1"] {
            assert_eq!(range(ignored, 100), None, "{ignored}");
        }
        assert_eq!(requested_range(&HeaderMap::new(), 100), None);
    }

    #[test]
    fn url_paths_are_escaped_segment_by_segment() {
        let path = ArtifactPath::parse("1/r/artifacts/a b%c?.bin").unwrap();
        assert_eq!(url_path(&path), "1/r/artifacts/a%20b%25c%3F.bin");
    }

    #[test]
    fn destinations_take_the_basename_of_the_local_path() {
        let dest =
            |dir: Option<&str>, path: &str| destination(dir, Some(path.to_string())).map(|p| p.as_str().to_string());
        assert_eq!(dest(Some("1/r/artifacts/dir"), "/home/me/big.bin").unwrap(), "1/r/artifacts/dir/big.bin");
        assert_eq!(dest(Some("1/r/artifacts"), "C:\\Users\\me\\big.bin").unwrap(), "1/r/artifacts/big.bin");
        assert_eq!(dest(None, "big.bin").unwrap(), "big.bin");
        for bad in ["", "/tmp/", "/tmp/..", "x/.", "a#b", ".ferroflow-mpu"] {
            assert!(dest(None, bad).is_err(), "{bad:?} accepted");
        }
        assert!(dest(Some("../etc"), "x").is_err());
        assert!(dest(Some(".ferroflow-mpu/abc"), "upload").is_err());
    }
}
