//! Black-box test harness: a real ferroflow server on a random port over a fresh
//! temporary SQLite store, and a small HTTP client speaking MLflow's REST dialect.
//!
//! Every test calls [`spawn_app`] (or [`spawn_app_with`] for another configuration) and
//! gets its own database and its own server, so tests never share state and can run in
//! parallel. The artifact suites build on it through [`artifacts`].

#![allow(dead_code)] // Each test binary uses a different subset of the helpers.

pub mod artifacts;
pub mod webhook_receiver;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferroflow_server::{AppState, ServerConfig};
use ferroflow_sqlite::{SqliteOptions, SqliteStore, SyncMode};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// `f64::MAX`, the value MLflow's SQL store stores for `+Infinity`.
pub const DOUBLE_MAX: f64 = 1.797_693_134_862_315_7e308;

/// The SQLite database's file name inside [`TestApp::data_dir`] (its `-wal` and `-shm`
/// companions sit beside it).
pub const DB_FILE: &str = "ferroflow.db";

/// How the server under test serves artifacts.
#[derive(Debug, Clone, Default)]
pub enum Artifacts {
    /// Proxied into `artifacts/` inside the data dir, as with a default `mlflow server`.
    #[default]
    Proxied,
    /// Proxied into this folder: a relative path is taken inside the data dir, an
    /// absolute one as is.
    ProxiedAt(PathBuf),
    /// Not served (`mlflow server --no-serve-artifacts`): the proxy routes are absent.
    NotServed,
}

/// What [`spawn_app_with`] starts; `TestAppOptions::default()` is what [`spawn_app`] starts.
#[derive(Debug, Clone, Default)]
pub struct TestAppOptions {
    pub config: ServerConfig,
    pub artifacts: Artifacts,
    /// The store's default artifact root: `None` for `mlflow-artifacts:/` (proxied URIs),
    /// or a local folder (relative paths are taken inside the data dir), as with
    /// `mlflow server --default-artifact-root <dir>`.
    pub default_artifact_root: Option<PathBuf>,
    /// The store's limit on one read; `None` for [`ferroflow_sqlite::DEFAULT_QUERY_TIMEOUT`].
    pub query_timeout: Option<std::time::Duration>,
    /// `--app-name basic-auth`, with the admin [`ADMIN`] bootstrapped.
    pub auth: Option<ferroflow_server::auth::AuthSettings>,
}

/// The bootstrapped admin of an app spawned with auth on.
pub const ADMIN: (&str, &str) = ("admin", "admin-password");

/// A running server and a client pointed at it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub address: String,
    /// `127.0.0.1:<port>`, for clients that open their own sockets.
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// The canonical proxied artifact root, or `None` when artifacts are not served.
    pub artifact_root: Option<PathBuf>,
    /// The temporary folder holding the database (and, by default, the artifacts); it
    /// lives as long as the app.
    data_dir: tempfile::TempDir,
    /// Dropping this stops the server.
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// One HTTP answer, already read: the status, the raw text and (when it is JSON) the body.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub content_type: String,
    pub text: String,
    /// The body parsed as JSON, or `Value::Null` when it is not JSON.
    pub body: Value,
}

impl ApiResponse {
    /// Asserts a 200 and returns the JSON body.
    #[track_caller]
    pub fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "expected 200, got {} with body {}", self.status, self.text);
        assert!(self.body.is_object(), "a success body must be a JSON object: {}", self.text);
        self.body
    }

    /// Asserts an MLflow error: this HTTP status and `error_code`; returns the message.
    #[track_caller]
    pub fn error(self, status: u16, error_code: &str) -> String {
        assert_eq!(
            (self.status.as_u16(), self.body["error_code"].as_str()),
            (status, Some(error_code)),
            "expected {status} {error_code}, got {} with body {}",
            self.status,
            self.text
        );
        assert!(self.content_type.starts_with("application/json"), "error bodies are JSON, got {}", self.content_type);
        self.body["message"].as_str().unwrap_or_else(|| panic!("error without a message: {}", self.text)).to_string()
    }

    /// 400 `INVALID_PARAMETER_VALUE`; returns the message.
    #[track_caller]
    pub fn invalid(self) -> String {
        self.error(400, "INVALID_PARAMETER_VALUE")
    }

    /// 404 `RESOURCE_DOES_NOT_EXIST`; returns the message.
    #[track_caller]
    pub fn not_found(self) -> String {
        self.error(404, "RESOURCE_DOES_NOT_EXIST")
    }

    /// A user mistake: a 4xx with an MLflow JSON error body, never a 5xx.
    #[track_caller]
    pub fn client_error(&self) {
        assert!(
            self.status.is_client_error(),
            "expected a 4xx for a user mistake, got {} with body {}",
            self.status,
            self.text
        );
        assert!(self.body["error_code"].is_string(), "4xx without a JSON error_code: {}", self.text);
        assert!(self.body["message"].is_string(), "4xx without a JSON message: {}", self.text);
    }
}

/// Starts a server on `127.0.0.1:0` over a new temporary SQLite database, proxying
/// artifacts into a folder of its own.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestAppOptions::default()).await
}

/// Starts a server on `127.0.0.1:0` over a new temporary SQLite database, configured by
/// `options`.
pub async fn spawn_app_with(options: TestAppOptions) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let default_artifact_root = match &options.default_artifact_root {
        Some(folder) => data_dir.path().join(folder).display().to_string(),
        None => "mlflow-artifacts:/".to_string(),
    };
    let store = SqliteStore::open(SqliteOptions {
        path: data_dir.path().join(DB_FILE),
        default_artifact_root,
        sync: SyncMode::Normal,
        query_timeout: options.query_timeout.unwrap_or(ferroflow_sqlite::DEFAULT_QUERY_TIMEOUT),
    })
    .expect("open sqlite store");
    let artifact_folder = match options.artifacts {
        Artifacts::Proxied => Some(data_dir.path().join("artifacts")),
        Artifacts::ProxiedAt(folder) => Some(data_dir.path().join(folder)),
        Artifacts::NotServed => None,
    };
    let artifacts = artifact_folder
        .as_deref()
        .map(|folder| ferroflow_artifacts::ArtifactRepository::open_local(folder).expect("open artifact folder"));
    let artifact_root = artifact_folder.map(|folder| std::fs::canonicalize(folder).expect("canonical artifact root"));
    let mut state = AppState::new(Arc::new(store), artifacts, options.config);
    if let Some(settings) = options.auth {
        ferroflow_server::auth::bootstrap_admin(state.store.as_ref(), Some(ADMIN.0), Some(ADMIN.1))
            .await
            .expect("bootstrap the admin");
        state.auth = Some(Arc::new(ferroflow_server::auth::Auth::new(settings)));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = ferroflow_server::serve(listener, state, async {
            let _ = stopped.await;
        })
        .await;
    });
    let client = reqwest::Client::builder().build().expect("reqwest client");
    TestApp { address: format!("http://{addr}"), addr, client, artifact_root, data_dir, _shutdown: shutdown }
}

/// `application/x-www-form-urlencoded` escaping, as Python `requests` does for params.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A query string from pairs; repeat a key to send a repeated field.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v))).collect::<Vec<_>>().join("&")
}

/// Reads an answer to a request sent with [`TestApp::client`] directly.
pub async fn read_response(response: reqwest::Response) -> ApiResponse {
    read(response).await
}

async fn read(response: reqwest::Response) -> ApiResponse {
    let status = response.status();
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = response.text().await.expect("read body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    ApiResponse { status, content_type, text, body }
}

impl TestApp {
    /// The temporary folder holding the database and, unless placed elsewhere, the artifacts.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// `rpc` is a path under `/api/2.0/mlflow/`, e.g. `runs/create`.
    pub fn api(&self, rpc: &str) -> String {
        format!("{}/api/2.0/mlflow/{rpc}", self.address)
    }

    /// A URL from a full path such as `/health` or `/ajax-api/2.0/mlflow/runs/get`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POSTs `body` as JSON to `/api/2.0/mlflow/<rpc>`.
    pub async fn post_json(&self, rpc: &str, body: &Value) -> ApiResponse {
        self.post_json_to(&self.api(rpc), body).await
    }

    pub async fn post_json_to(&self, url: &str, body: &Value) -> ApiResponse {
        read(self.client.post(url).json(body).send().await.expect("send POST")).await
    }

    /// POSTs raw bytes with `Content-Type: application/json`.
    pub async fn post_raw(&self, rpc: &str, body: impl Into<reqwest::Body>) -> ApiResponse {
        let request = self.client.post(self.api(rpc)).header(reqwest::header::CONTENT_TYPE, "application/json");
        read(request.body(body).send().await.expect("send POST")).await
    }

    /// GETs `/api/2.0/mlflow/<rpc>?<pairs>`.
    pub async fn get_query(&self, rpc: &str, pairs: &[(&str, &str)]) -> ApiResponse {
        self.get_url(&format!("{}?{}", self.api(rpc), query_string(pairs))).await
    }

    pub async fn get_url(&self, url: &str) -> ApiResponse {
        read(self.client.get(url).send().await.expect("send GET")).await
    }

    /// Sends any method with an optional JSON body to a full path.
    pub async fn request(&self, method: reqwest::Method, path: &str, body: Option<&str>) -> ApiResponse {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
        }
        read(request.send().await.expect("send request")).await
    }

    // ------------------------------------------------------------ fixtures

    pub async fn create_experiment(&self, name: &str) -> String {
        let body = self.post_json("experiments/create", &json!({ "name": name })).await.ok();
        body["experiment_id"].as_str().expect("experiment_id is a string").to_string()
    }

    pub async fn get_experiment(&self, experiment_id: &str) -> Value {
        self.get_query("experiments/get", &[("experiment_id", experiment_id)]).await.ok()["experiment"].clone()
    }

    /// Creates a run in `experiment_id` and returns its id.
    pub async fn create_run(&self, experiment_id: &str) -> String {
        let body = self
            .post_json(
                "runs/create",
                &json!({ "experiment_id": experiment_id, "start_time": 1000, "user_id": "tester" }),
            )
            .await
            .ok();
        body["run"]["info"]["run_id"].as_str().expect("run_id is a string").to_string()
    }

    /// An experiment with one run: `(experiment_id, run_id)`.
    pub async fn experiment_with_run(&self, name: &str) -> (String, String) {
        let experiment_id = self.create_experiment(name).await;
        let run_id = self.create_run(&experiment_id).await;
        (experiment_id, run_id)
    }

    pub async fn get_run(&self, run_id: &str) -> Value {
        self.get_query("runs/get", &[("run_id", run_id)]).await.ok()["run"].clone()
    }

    pub async fn log_metric(&self, run_id: &str, key: &str, value: Value, timestamp: i64, step: i64) {
        self.post_json(
            "runs/log-metric",
            &json!({ "run_id": run_id, "key": key, "value": value, "timestamp": timestamp, "step": step }),
        )
        .await
        .ok();
    }

    pub async fn delete_run(&self, run_id: &str) {
        self.post_json("runs/delete", &json!({ "run_id": run_id })).await.ok();
    }

    /// `data.<field>` of a run as a key → value map (params, tags or metrics).
    pub async fn run_data_map(&self, run_id: &str, field: &str) -> serde_json::Map<String, Value> {
        let run = self.get_run(run_id).await;
        key_value_map(&run["data"][field])
    }
}

/// `[{key, value, …}]` → `{key: value}`; for metrics the whole entry is the value.
pub fn key_value_map(entries: &Value) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for entry in entries.as_array().map(Vec::as_slice).unwrap_or_default() {
        let key = entry["key"].as_str().expect("entry key").to_string();
        let value = if entry.get("timestamp").is_some() { entry.clone() } else { entry["value"].clone() };
        map.insert(key, value);
    }
    map
}

/// Asserts a JSON object has exactly these keys.
#[track_caller]
pub fn assert_keys(value: &Value, expected: &[&str]) {
    let mut actual: Vec<&str> =
        value.as_object().unwrap_or_else(|| panic!("not an object: {value}")).keys().map(String::as_str).collect();
    actual.sort_unstable();
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(actual, expected, "keys of {value}");
}

/// Asserts every object key in `value`, recursively, is snake_case.
#[track_caller]
pub fn assert_snake_case_keys(value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                assert!(
                    key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "key {key:?} is not snake_case in {value}"
                );
                assert_snake_case_keys(inner);
            }
        }
        Value::Array(items) => items.iter().for_each(assert_snake_case_keys),
        _ => {}
    }
}
