//! Harness for the artifact suites (`artifacts_http`, `security_paths`): a [`TestApp`]
//! whose proxied artifact root is a local folder the tests can see (to plant files and
//! symlinks, and to check what reached the disk), with secrets planted around it, plus a
//! raw HTTP/1.1 client that writes the request line byte for byte, so that `..`, `%2e`,
//! backslashes and other oddities reach the server exactly as sent.

#![allow(dead_code)] // Each test binary uses a different subset of the helpers.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferroflow_server::ServerConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{spawn_app_with, Artifacts, TestApp, TestAppOptions, DB_FILE};

/// The secret planted next to (outside) every artifact root.
pub const SECRET: &str = "TOP-SECRET-0f9d2c4e-must-never-leak";

/// A running server whose artifact root is a folder on this machine. It derefs to its
/// [`TestApp`] (`addr`, `client`, ...); its client gives up after two minutes.
pub struct ArtifactServer {
    /// The canonical artifact root (what the server resolves paths against).
    pub root: PathBuf,
    /// A folder outside the root holding `secret.txt` (content [`SECRET`]).
    pub outside: PathBuf,
    /// The temporary folder holding everything: the database, the root, the secrets.
    pub tmp: PathBuf,
    app: TestApp,
}

impl Deref for ArtifactServer {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// Starts a server that proxies artifacts into a fresh local folder.
pub async fn spawn(config: ServerConfig) -> ArtifactServer {
    // The root is nested two levels down so that `../x` and `../../x` both land in
    // folders the test controls, and both hold a copy of the secret.
    let options = TestAppOptions {
        config,
        artifacts: Artifacts::ProxiedAt(Path::new("srv").join("artifacts")),
        ..TestAppOptions::default()
    };
    let mut app = spawn_app_with(options).await;
    app.client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("client");
    let dir = app.data_dir();
    let outside = dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), SECRET).unwrap();
    std::fs::write(dir.join("srv").join("secret.txt"), SECRET).unwrap();
    std::fs::write(dir.join("secret.txt"), SECRET).unwrap();
    std::fs::write(dir.join("srv").join("artifacts-secret.txt"), SECRET).unwrap();
    std::fs::write(dir.join("srv").join("artifactsX"), SECRET).unwrap();
    ArtifactServer {
        root: app.artifact_root.clone().expect("artifacts are proxied"),
        outside: std::fs::canonicalize(&outside).unwrap(),
        tmp: std::fs::canonicalize(dir).unwrap(),
        app,
    }
}

/// One raw HTTP answer.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl ArtifactServer {
    /// `/api/2.0/mlflow-artifacts/artifacts/<path>` (the path is not escaped).
    pub fn artifact_url(&self, path: &str) -> String {
        self.url(&format!("/api/2.0/mlflow-artifacts/artifacts/{path}"))
    }

    /// Sends `method target` with the target written verbatim, `Connection: close`, and
    /// reads the whole answer. The body, if any, is sent with a `Content-Length`.
    pub async fn raw(&self, method: &str, target: &str, body: &[u8]) -> RawResponse {
        self.raw_with_headers(method, target, &[], body).await
    }

    pub async fn raw_with_headers(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        let mut head = Vec::new();
        head.extend_from_slice(method.as_bytes());
        head.push(b' ');
        head.extend_from_slice(target.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\n");
        head.extend_from_slice(format!("Host: {}\r\nConnection: close\r\n", self.addr).as_bytes());
        for (name, value) in headers {
            head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if !body.is_empty() || method == "PUT" || method == "POST" {
            head.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let mut stream = TcpStream::connect(&self.addr).await.expect("connect");
        stream.write_all(&head).await.expect("write head");
        stream.write_all(body).await.expect("write body");
        read_response(stream).await
    }

    /// Every byte of every regular file under the root, by path relative to it.
    pub fn files_on_disk(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out);
        out.sort();
        out
    }

    /// Every file outside the artifact root (the database aside), with its bytes: what
    /// must never change whatever a request asks for.
    pub fn files_outside_root(&self) -> Vec<(String, Vec<u8>)> {
        let mut all = Vec::new();
        walk(&self.tmp, &self.tmp, &mut all);
        let root = self.root.strip_prefix(&self.tmp).unwrap().to_string_lossy().into_owned();
        all.retain(|(path, _)| !path.starts_with(&format!("{root}/")) && !path.starts_with(DB_FILE));
        all.sort();
        all
    }

    /// Creates an experiment and a run over the REST API; returns `(experiment_id, run)`.
    pub async fn create_run(&self, name: &str) -> (String, Value) {
        let experiment_id = self.create_experiment(name).await;
        let run = self.post_json("runs/create", &json!({ "experiment_id": experiment_id, "start_time": 1000 })).await;
        (experiment_id, run.ok()["run"].clone())
    }

    /// PUTs `body` to the proxy at `path` (escaped by the caller) and asserts a 200.
    pub async fn put_ok(&self, path: &str, body: impl Into<reqwest::Body>) {
        let response = self.client.put(self.artifact_url(path)).body(body).send().await.unwrap();
        let status = response.status();
        assert_eq!(status, 200, "PUT {path}: {}", response.text().await.unwrap_or_default());
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let file_type = entry.file_type().unwrap();
        if file_type.is_dir() {
            walk(root, &path, out);
        } else if file_type.is_file() {
            let relative = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.push((relative, std::fs::read(&path).unwrap_or_default()));
        }
    }
}

async fn read_response(mut stream: TcpStream) -> RawResponse {
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut raw)).await;
    // A reset after a complete answer (the server closing a connection with unread
    // body bytes) is fine; what was read is what counts.
    let _ = read.expect("the server answered within 60 s");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| {
        panic!("no complete HTTP head in {:?}", String::from_utf8_lossy(&raw));
    });
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked { dechunk(&rest) } else { rest };
    RawResponse { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        data = &data[line_end + 2..];
        if size == 0 || data.len() < size {
            out.extend_from_slice(&data[..size.min(data.len())]);
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

/// Deterministic bytes that do not repeat in any short period (xorshift).
pub fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect()
}
