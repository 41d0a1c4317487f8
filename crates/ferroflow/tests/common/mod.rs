//! Helpers for the tests that run the real `ferroflow` binary: a server over a given
//! database and artifact folder, raw HTTP calls, `ferroflow gc`, and small tmpfs mounts.

#![allow(dead_code)] // Each test binary uses a different subset of the helpers.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Where a server keeps its data: its metadata store and its artifact folder.
#[derive(Debug, Clone)]
pub struct DataPaths {
    /// What `--backend-store-uri` is given: an SQLite file's URI or a PostgreSQL URI.
    pub backend_store_uri: String,
    pub artifacts: PathBuf,
}

impl DataPaths {
    /// `db.sqlite` and `artifacts/` inside `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self::sqlite(&dir.join("db.sqlite"), dir.join("artifacts"))
    }

    pub fn sqlite(database: &Path, artifacts: PathBuf) -> Self {
        Self { backend_store_uri: format!("sqlite:///{}", database.display()), artifacts }
    }

    /// A PostgreSQL database (any number of servers may share it) and an artifact folder.
    pub fn postgres(uri: String, artifacts: PathBuf) -> Self {
        Self { backend_store_uri: uri, artifacts }
    }

    fn store_args(&self) -> Vec<std::ffi::OsString> {
        vec![
            "--backend-store-uri".into(),
            self.backend_store_uri.clone().into(),
            "--artifacts-destination".into(),
            self.artifacts.clone().into(),
        ]
    }
}

/// A running `ferroflow server`; killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub port: u16,
    /// The server's stderr (its log), kept for failure messages; removed on drop.
    log: tempfile::TempPath,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts a server on a free port and waits until `/health` answers.
    pub async fn start(paths: &DataPaths) -> Server {
        Self::start_on(paths, free_port()).await
    }

    /// Like [`Server::start`], with extra environment variables.
    pub async fn start_with_env(paths: &DataPaths, env: &[(&str, &str)]) -> Server {
        Self::launch(paths, free_port(), env).await
    }

    pub async fn start_on(paths: &DataPaths, port: u16) -> Server {
        Self::launch(paths, port, &[]).await
    }

    async fn launch(paths: &DataPaths, port: u16, env: &[(&str, &str)]) -> Server {
        // Outside the data folder, which may be a tiny tmpfs.
        let log = tempfile::Builder::new().prefix("ferroflow-server-").suffix(".log").tempfile().unwrap();
        let (log_file, log) = log.into_parts();
        let child = Command::new(env!("CARGO_BIN_EXE_ferroflow"))
            .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(paths.store_args())
            .env("FERROFLOW_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start ferroflow");
        let mut server = Server { child, base: format!("http://127.0.0.1:{port}"), port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(response) = reqwest::get(format!("{}/health", server.base)).await {
                if response.status().is_success() {
                    return server;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("ferroflow exited with {status}: {}", server.log_text());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("ferroflow did not become healthy: {}", server.log_text());
    }

    /// `kill -9`: no chance to clean anything up.
    pub fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().unwrap();
    }

    /// The process id, to tell which server of several a failure came from.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn api(&self, rpc: &str) -> String {
        format!("{}/api/2.0/mlflow/{rpc}", self.base)
    }

    pub fn artifact_url(&self, path: &str) -> String {
        format!("{}/api/2.0/mlflow-artifacts/artifacts/{path}", self.base)
    }

    /// POSTs JSON to `/api/2.0/mlflow/<rpc>`; returns the status and the JSON body.
    pub async fn post(&self, rpc: &str, body: &Value) -> (u16, Value) {
        let response = reqwest::Client::new().post(self.api(rpc)).json(body).send().await.expect("send POST");
        answer(response).await
    }

    /// GETs `/api/2.0/mlflow/<rpc_and_query>`.
    pub async fn get(&self, rpc_and_query: &str) -> (u16, Value) {
        answer(reqwest::get(self.api(rpc_and_query)).await.expect("send GET")).await
    }

    /// PUTs an artifact through the proxy.
    pub async fn put_artifact(&self, path: &str, bytes: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = reqwest::Client::new().put(self.artifact_url(path)).body(bytes).send().await.expect("send PUT");
        answer(response).await
    }

    /// Downloads an artifact: its status and bytes.
    pub async fn get_artifact(&self, path: &str) -> (u16, Vec<u8>) {
        let response = reqwest::get(self.artifact_url(path)).await.expect("send GET");
        (response.status().as_u16(), response.bytes().await.expect("read body").to_vec())
    }

    /// Lists an artifact folder through the proxy: the entries' names.
    pub async fn list_artifacts(&self, path: &str) -> Vec<String> {
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts?path={path}", self.base);
        let (status, body) = answer(reqwest::get(url).await.expect("send GET")).await;
        assert_eq!(status, 200, "listing {path}: {body}");
        body["files"]
            .as_array()
            .map(|files| files.iter().map(|f| f["path"].as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }
}

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("read body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Runs `ferroflow gc` over `paths` with `extra` arguments.
pub fn gc(paths: &DataPaths, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferroflow")).arg("gc").args(paths.store_args()).args(extra).output().unwrap()
}

/// Waits, at most 20 s, until `condition` holds; returns whether it did. For waiting on
/// the server's background work, not for judging its speed.
pub async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}

/// Files below `dir` whose name contains `#`: what uploads stage (see
/// `ferroflow_artifacts::staging`).
pub fn staging_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            found.extend(staging_files(&path));
        } else if entry.file_name().to_string_lossy().contains('#') {
            found.push(path);
        }
    }
    found
}

/// Plants a staging file as an interrupted upload leaves it, last written `age` ago.
pub fn plant(paths: &DataPaths, relative: &str, bytes: usize, age: Duration) {
    let path = paths.artifacts.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, vec![0u8; bytes]).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() - age).unwrap();
}

/// A tmpfs of a few MiB mounted on a fresh temporary folder, unmounted when dropped.
pub struct Tmpfs {
    pub dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `mib` MiB. Returns `None`, after a loud message, where mounting
    /// is not allowed (not root): the caller skips its test.
    pub fn mount(mib: u64, test: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let outcome = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::piped())
            .output();
        match outcome {
            Ok(output) if output.status.success() => Some(Tmpfs { dir }),
            Ok(output) => {
                skip(test, &String::from_utf8_lossy(&output.stderr));
                None
            }
            Err(error) => {
                skip(test, &error.to_string());
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Remounts read-only (or back read-write).
    pub fn set_read_only(&self, read_only: bool) {
        let options = if read_only { "remount,ro" } else { "remount,rw" };
        let status = Command::new("mount").args(["-o", options]).arg(self.path()).status().unwrap();
        assert!(status.success(), "mount -o {options} failed");
    }
}

fn skip(test: &str, why: &str) {
    eprintln!();
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    eprintln!("!!! SKIPPED {test}: cannot mount a tmpfs (needs root): {}", why.trim());
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    eprintln!();
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy, so that a file still open somewhere cannot keep the mount alive.
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}
