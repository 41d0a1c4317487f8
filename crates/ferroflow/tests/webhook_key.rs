//! The key that encrypts webhook secrets at rest: created beside the database (owner-only)
//! when the first secret is stored, reused after a restart so that deliveries stay signed
//! with the secret the user gave, and refused loudly when it is replaced by another.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server {
    child: Child,
    api: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(dir: &Path, key: Option<&str>) -> Server {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferroflow"));
    command
        .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", dir.join("db.sqlite").display()))
        .arg("--artifacts-destination")
        .arg(dir.join("artifacts"))
        // The receiver below listens on loopback.
        .env("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "true")
        .env("MLFLOW_WEBHOOK_ALLOWED_SCHEMES", "http,https")
        .env_remove("FERROFLOW_WEBHOOK_SECRET_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(key) = key {
        command.env("FERROFLOW_WEBHOOK_SECRET_KEY", key);
    }
    let child = command.spawn().expect("start ferroflow");
    let server = Server { child, api: format!("http://127.0.0.1:{port}/api/2.0/mlflow") };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/health")).await {
            if response.status().is_success() {
                return server;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("ferroflow did not become healthy");
}

/// Accepts one HTTP request on `listener`, answers 200 and returns (headers, body).
async fn receive_one(listener: &tokio::net::TcpListener) -> (String, String) {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = socket.read(&mut buffer).await.unwrap();
        data.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let headers = text[..end].to_string();
            let length = header(&headers, "content-length").parse::<usize>().unwrap_or(0);
            if data.len() >= end + 4 + length {
                socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await.unwrap();
                return (headers, text[end + 4..end + 4 + length].to_string());
            }
        }
        assert!(n > 0, "the connection closed before a whole request arrived");
    }
}

/// A header's value; names compare case-insensitively.
fn header<'a>(headers: &'a str, name: &str) -> &'a str {
    headers
        .lines()
        .find_map(|line| line.split_once(':').filter(|(n, _)| n.trim().eq_ignore_ascii_case(name)))
        .map(|(_, value)| value.trim())
        .unwrap_or("")
}

async fn post(api: &str, path: &str, body: Value) -> Value {
    reqwest::Client::new().post(format!("{api}/{path}")).json(&body).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_key_persists_and_deliveries_stay_signed() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", receiver.local_addr().unwrap());
    let secret = "whsec-persisted-secret";

    let server = start(dir.path(), None).await;
    let key_file = dir.path().join("db.sqlite.webhook-key");
    assert!(!key_file.exists(), "no key file until a secret needs one");
    let events = json!([{ "entity": "REGISTERED_MODEL", "action": "CREATED" }]);
    let created =
        post(&server.api, "webhooks", json!({ "name": "w", "url": url, "events": events, "secret": secret })).await;
    let metadata = std::fs::metadata(&key_file).expect("a key file beside the database");
    #[cfg(unix)]
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o777, 0o600);
    let key = std::fs::read_to_string(&key_file).unwrap();
    let id = created["webhook"]["webhook_id"].as_str().unwrap_or_else(|| panic!("{created}")).to_string();
    drop(server);

    // After a restart the same key opens the stored secret.
    let server = start(dir.path(), None).await;
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key, "the key file is reused, not replaced");
    let test_path = format!("webhooks/{id}/test");
    let (answer, (headers, body)) = tokio::join!(post(&server.api, &test_path, json!({})), receive_one(&receiver));
    assert_eq!(answer["result"]["success"], true, "{answer}");
    let expected = ferroflow_server::handlers::webhooks::delivery::signature(
        secret,
        header(&headers, "x-mlflow-delivery-id"),
        header(&headers, "x-mlflow-timestamp"),
        &body,
    );
    assert_eq!(header(&headers, "x-mlflow-signature"), expected);
    drop(server);

    // Another key cannot open it: the test delivery fails instead of going out unsigned.
    let other = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let server = start(dir.path(), Some(other)).await;
    let answer = post(&server.api, &format!("webhooks/{id}/test"), json!({})).await;
    assert_eq!(answer["result"]["success"], false, "{answer}");
    let message = answer["result"]["error_message"].as_str().unwrap();
    assert!(message.contains("cannot decrypt a webhook secret"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_key_stops_the_server_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ferroflow"))
        .args(["server", "--port", &free_port().to_string(), "--backend-store-uri"])
        .arg(format!("sqlite:///{}", dir.path().join("db.sqlite").display()))
        .env("FERROFLOW_WEBHOOK_SECRET_KEY", "too-short")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("FERROFLOW_WEBHOOK_SECRET_KEY"), "{stderr}");
    assert!(!stderr.contains("too-short"), "the key's value is never printed: {stderr}");
}
