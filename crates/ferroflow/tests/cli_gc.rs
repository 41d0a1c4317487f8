//! `ferroflow gc` end to end: the real binary serves, the API soft-deletes, gc removes
//! the rows and the artifact bytes, and leaves live data alone.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start(dir: &Path) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_ferroflow"))
        .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", dir.join("db.sqlite").display()))
        .arg("--artifacts-destination")
        .arg(dir.join("artifacts"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferroflow");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(response) = reqwest::get(format!("{base}/health")).await {
            if response.status().is_success() {
                return Server { child, base };
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    panic!("ferroflow did not become healthy");
}

async fn post(server: &Server, path: &str, body: Value) -> Value {
    let response =
        reqwest::Client::new().post(format!("{}/api/2.0/mlflow/{path}", server.base)).json(&body).send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap()
}

async fn put_artifact(server: &Server, path: &str, bytes: &'static str) {
    let response = reqwest::Client::new()
        .put(format!("{}/api/2.0/mlflow-artifacts/artifacts/{path}", server.base))
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

async fn new_run(server: &Server, experiment_id: &str) -> String {
    let run = post(server, "runs/create", json!({"experiment_id": experiment_id})).await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    post(
        server,
        "runs/log-batch",
        json!({"run_id": run_id, "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}],
               "params": [{"key": "p", "value": "v"}]}),
    )
    .await;
    put_artifact(server, &format!("{experiment_id}/{run_id}/artifacts/file.txt"), "bytes").await;
    run_id
}

fn count(db: &rusqlite::Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_rows_and_bytes_of_deleted_entities_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let experiment =
        post(&server, "experiments/create", json!({"name": "gc"})).await["experiment_id"].as_str().unwrap().to_string();
    let kept = new_run(&server, &experiment).await;
    let deleted = new_run(&server, &experiment).await;
    post(&server, "runs/delete", json!({"run_id": deleted})).await;
    let doomed_experiment = post(&server, "experiments/create", json!({"name": "gone"})).await["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let doomed_run = new_run(&server, &doomed_experiment).await;
    let model = post(&server, "logged-models", json!({"experiment_id": experiment, "name": "m"})).await;
    let model_id = model["model"]["info"]["model_id"].as_str().unwrap().to_string();
    put_artifact(&server, &format!("{experiment}/models/{model_id}/artifacts/MLmodel"), "flavors: {}").await;
    let response = reqwest::Client::new()
        .delete(format!("{}/api/2.0/mlflow/logged-models/{model_id}", server.base))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    post(&server, "experiments/delete", json!({"experiment_id": doomed_experiment})).await;
    drop(server);

    let artifacts = dir.path().join("artifacts");
    assert!(artifacts.join(format!("{experiment}/{deleted}/artifacts/file.txt")).exists());
    let status = Command::new(env!("CARGO_BIN_EXE_ferroflow"))
        .arg("gc")
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", dir.path().join("db.sqlite").display()))
        .arg("--artifacts-destination")
        .arg(&artifacts)
        .status()
        .unwrap();
    assert!(status.success());

    let db = rusqlite::Connection::open(dir.path().join("db.sqlite")).unwrap();
    let runs_left = count(&db, "SELECT COUNT(*) FROM runs");
    assert_eq!(runs_left, 1, "only the live run stays");
    let kept_rows = count(&db, &format!("SELECT COUNT(*) FROM runs WHERE run_uuid = '{kept}'"));
    assert_eq!(kept_rows, 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM metrics"), 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM params"), 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM logged_models"), 0);
    assert_eq!(count(&db, &format!("SELECT COUNT(*) FROM experiments WHERE experiment_id = {doomed_experiment}")), 0);

    assert!(artifacts.join(format!("{experiment}/{kept}/artifacts/file.txt")).exists());
    assert!(!artifacts.join(format!("{experiment}/{deleted}")).exists());
    assert!(!artifacts.join(format!("{doomed_experiment}/{doomed_run}")).exists());
    assert!(!artifacts.join(format!("{experiment}/models/{model_id}")).exists());

    // Naming a live run is refused and changes nothing.
    let refused = Command::new(env!("CARGO_BIN_EXE_ferroflow"))
        .arg("gc")
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", dir.path().join("db.sqlite").display()))
        .arg("--artifacts-destination")
        .arg(&artifacts)
        .args(["--run-ids", &kept])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("deleted"));
    assert_eq!(count(&db, "SELECT COUNT(*) FROM runs"), 1);
}
