//! Black-box tests of proxied multipart upload (`mlflow-artifacts/mpu/*`), driven the way
//! MLflow's client drives it: create, PUT every part to the URL it was given (in parallel,
//! out of order, with the given headers), complete with the ETags, or abort.

mod common;

use common::artifacts::pseudo_random;
use common::{spawn_app, spawn_app_with, Artifacts, TestApp, TestAppOptions};
use ferroflow_server::ServerConfig;
use reqwest::Method;
use serde_json::{json, Value};

const MPU: &str = "/api/2.0/mlflow-artifacts/mpu";

/// A server whose artifact cap is `max_artifact_bytes` (or that serves no artifacts).
async fn spawn_with(max_artifact_bytes: u64, serve_artifacts: bool) -> TestApp {
    spawn_app_with(TestAppOptions {
        config: ServerConfig { max_artifact_bytes, ..ServerConfig::default() },
        artifacts: if serve_artifacts { Artifacts::Proxied } else { Artifacts::NotServed },
        ..TestAppOptions::default()
    })
    .await
}

/// Deterministic, non-repeating-looking bytes.
fn data(len: usize) -> Vec<u8> {
    pseudo_random(len, 0x9e37_79b9)
}

async fn post(app: &TestApp, path: &str, body: Value) -> common::ApiResponse {
    app.request(Method::POST, path, Some(&body.to_string())).await
}

async fn create(app: &TestApp, dir: &str, local_path: &str, num_parts: u64) -> Value {
    post(app, &format!("{MPU}/create/{dir}"), json!({ "path": local_path, "num_parts": num_parts })).await.ok()
}

/// PUTs one part as the client does (`requests.put(url, data, headers)`); returns the ETag.
async fn put_part(client: &reqwest::Client, credential: &Value, bytes: Vec<u8>) -> String {
    let mut request = client.put(credential["url"].as_str().unwrap()).body(bytes);
    for (name, value) in credential["headers"].as_object().unwrap() {
        request = request.header(name.as_str(), value.as_str().unwrap());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "part upload failed: {:?}", response.text().await);
    response.headers()["etag"].to_str().unwrap().to_string()
}

async fn download(app: &TestApp, path: &str) -> (u16, Vec<u8>) {
    let response =
        app.client.get(app.url(&format!("/api/2.0/mlflow-artifacts/artifacts/{path}"))).send().await.unwrap();
    (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
}

fn parts_json(etags: &[(u64, String)], credentials: &[Value]) -> Value {
    json!(etags
        .iter()
        .map(|(n, etag)| json!({ "part_number": n, "etag": etag, "url": credentials[*n as usize - 1]["url"] }))
        .collect::<Vec<_>>())
}

#[tokio::test]
async fn server_info_claims_multipart_uploads_only_when_artifacts_are_served() {
    let app = spawn_app().await;
    for prefix in ["/api/3.0/mlflow", "/ajax-api/3.0/mlflow"] {
        let info = app.get_url(&app.url(&format!("{prefix}/server-info"))).await.ok();
        assert_eq!(info["multipart_uploads_enabled"], true);
        assert_eq!(info["multipart_downloads_enabled"], false);
    }
    let no_artifacts = spawn_with(1 << 20, false).await;
    let address = &no_artifacts.address;
    let info: Value =
        reqwest::get(format!("{address}/api/3.0/mlflow/server-info")).await.unwrap().json().await.unwrap();
    assert_eq!(info["multipart_uploads_enabled"], false);
    let response = reqwest::Client::new()
        .post(format!("{address}{MPU}/create/x"))
        .json(&json!({ "path": "a.bin", "num_parts": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn parallel_out_of_order_parts_assemble_into_the_artifact() {
    let app = spawn_app().await;
    let (experiment_id, run_id) = app.experiment_with_run("mpu").await;
    let dir = format!("{experiment_id}/{run_id}/artifacts/model");
    let chunk = 1024 * 1024 + 7;
    let file = data(3 * chunk + 1234);
    let create = create(&app, &dir, "/home/me/weights.bin", 4).await;
    let upload_id = create["upload_id"].as_str().unwrap().to_string();
    assert_eq!(upload_id.len(), 32);
    assert!(upload_id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let credentials = create["credentials"].as_array().unwrap().clone();
    assert_eq!(credentials.len(), 4);
    for (i, credential) in credentials.iter().enumerate() {
        assert_eq!(credential["part_number"], i as u64 + 1);
        let url = credential["url"].as_str().unwrap();
        assert!(url.starts_with(&format!("{}/api/2.0/mlflow-artifacts/mpu/part/", app.address)), "{url}");
        assert!(credential["headers"].is_object());
    }
    // All parts at once, last first.
    let uploads = credentials.iter().enumerate().rev().map(|(i, credential)| {
        let bytes = file[i * chunk..((i + 1) * chunk).min(file.len())].to_vec();
        let client = app.client.clone();
        let credential = credential.clone();
        tokio::spawn(async move { (i as u64 + 1, put_part(&client, &credential, bytes).await) })
    });
    let mut etags = Vec::new();
    for upload in uploads {
        etags.push(upload.await.unwrap());
    }
    etags.sort();
    assert!(etags.iter().all(|(_, etag)| etag.starts_with('"') && etag.ends_with('"')));

    // Nothing of the upload shows before completion, nor can it be reached.
    assert_eq!(download(&app, &format!("{dir}/weights.bin")).await.0, 404);
    let root = app.get_url(&app.url("/api/2.0/mlflow-artifacts/artifacts")).await.ok();
    assert!(!root.to_string().contains(".ferroflow-mpu"), "{root}");
    for path in [".ferroflow-mpu", &format!(".ferroflow-mpu/{upload_id}/upload"), ".FERROFLOW-MPU"] {
        app.get_url(&app.url(&format!("/api/2.0/mlflow-artifacts/artifacts/{path}"))).await.invalid();
        app.get_url(&app.url(&format!("/api/2.0/mlflow-artifacts/artifacts?path={path}"))).await.invalid();
        app.request(Method::DELETE, &format!("/api/2.0/mlflow-artifacts/artifacts/{path}"), None).await.invalid();
    }

    let body =
        json!({ "path": "/home/me/weights.bin", "upload_id": upload_id, "parts": parts_json(&etags, &credentials) });
    assert_eq!(post(&app, &format!("{MPU}/complete/{dir}"), body).await.ok(), json!({}));
    let (status, bytes) = download(&app, &format!("{dir}/weights.bin")).await;
    assert_eq!(status, 200);
    assert!(bytes == file, "the assembled artifact differs from the file ({} vs {} bytes)", bytes.len(), file.len());

    // The run's listing shows the artifact, and only it.
    let listing = app.get_query("artifacts/list", &[("run_id", &run_id), ("path", "model")]).await.ok();
    assert_eq!(listing["files"], json!([{ "path": "model/weights.bin", "is_dir": false, "file_size": file.len() }]));
    // The upload is gone: its parts can no longer be sent, and it cannot complete twice.
    let late = app.client.put(credentials[0]["url"].as_str().unwrap()).body("x").send().await.unwrap();
    assert_eq!(late.status(), 404);
    let body = json!({ "path": "weights.bin", "upload_id": upload_id, "parts": parts_json(&etags, &credentials) });
    post(&app, &format!("{MPU}/complete/{dir}"), body).await.not_found();
}

#[tokio::test]
async fn ajax_prefix_root_destination_and_an_empty_file() {
    let app = spawn_app().await;
    let created = post(
        &app,
        "/ajax-api/2.0/mlflow-artifacts/mpu/create/",
        json!({ "path": "C:\\data\\empty.txt", "num_parts": 0 }),
    )
    .await
    .ok();
    assert_eq!(created["credentials"], json!([]));
    let body = json!({ "path": "C:\\data\\empty.txt", "upload_id": created["upload_id"], "parts": [] });
    post(&app, "/ajax-api/2.0/mlflow-artifacts/mpu/complete", body).await.ok();
    assert_eq!(download(&app, "empty.txt").await, (200, Vec::new()));
}

#[tokio::test]
async fn part_urls_follow_a_reverse_proxy_and_carry_the_clients_credentials() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url(&format!("{MPU}/create/d")))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "mlflow.example.com")
        .header("x-forwarded-prefix", "/tracking")
        .header("authorization", "Basic dXNlcjpwdw==")
        .json(&json!({ "path": "f.bin", "num_parts": 1 }))
        .send()
        .await
        .unwrap();
    let created: Value = response.json().await.unwrap();
    let credential = &created["credentials"][0];
    let expected = format!(
        "https://mlflow.example.com/tracking/api/2.0/mlflow-artifacts/mpu/part/{}/1",
        created["upload_id"].as_str().unwrap()
    );
    assert_eq!(credential["url"], expected);
    assert_eq!(credential["headers"], json!({ "Authorization": "Basic dXNlcjpwdw==" }));
}

#[tokio::test]
async fn abort_removes_the_parts_and_is_idempotent() {
    let app = spawn_app().await;
    let created = create(&app, "a/b", "f.bin", 2).await;
    let upload_id = created["upload_id"].as_str().unwrap();
    let credentials = created["credentials"].as_array().unwrap();
    put_part(&app.client, &credentials[1], b"second".to_vec()).await;
    let body = json!({ "path": "f.bin", "upload_id": upload_id });
    for _ in 0..2 {
        assert_eq!(post(&app, &format!("{MPU}/abort/a/b"), body.clone()).await.ok(), json!({}));
    }
    let late = app.client.put(credentials[0]["url"].as_str().unwrap()).body("first").send().await.unwrap();
    assert_eq!(late.status(), 404);
    let body = json!({ "path": "f.bin", "upload_id": upload_id, "parts": [{ "part_number": 1, "etag": "x" }] });
    post(&app, &format!("{MPU}/complete/a/b"), body).await.not_found();
    assert_eq!(download(&app, "a/b/f.bin").await.0, 404);
}

#[tokio::test]
async fn bad_requests_are_4xx_and_write_nothing() {
    let app = spawn_app().await;
    let created = create(&app, "dir", "f.bin", 2).await;
    let upload_id = created["upload_id"].as_str().unwrap();
    let credentials = created["credentials"].as_array().unwrap();
    let etag1 = put_part(&app.client, &credentials[0], b"one".to_vec()).await;
    let etag2 = put_part(&app.client, &credentials[1], b"two".to_vec()).await;
    let complete = |parts: Value| json!({ "path": "f.bin", "upload_id": upload_id, "parts": parts });

    // create: unsafe or missing paths, too many parts.
    for (dir, body) in [
        ("dir", json!({ "num_parts": 1 })),
        ("dir", json!({ "path": "/tmp/..", "num_parts": 1 })),
        ("dir", json!({ "path": "a#b", "num_parts": 1 })),
        ("..%2Fetc", json!({ "path": "f", "num_parts": 1 })),
        (".ferroflow-mpu", json!({ "path": "f", "num_parts": 1 })),
        ("dir", json!({ "path": "f", "num_parts": 10_001 })),
        ("dir", json!({ "path": "f", "num_parts": -1 })),
    ] {
        post(&app, &format!("{MPU}/create/{dir}"), body).await.invalid();
    }
    // complete: wrong ids, wrong destination, wrong or missing parts.
    for body in [
        json!({ "path": "f.bin", "upload_id": "../../etc", "parts": [] }),
        json!({ "path": "f.bin", "parts": [] }),
        json!({ "path": "g.bin", "upload_id": upload_id, "parts": [{ "part_number": 1, "etag": etag1 }, { "part_number": 2, "etag": etag2 }] }),
        complete(json!([{ "part_number": 1, "etag": etag1 }])),
        complete(json!([{ "part_number": 1, "etag": etag1 }, { "part_number": 2, "etag": etag1 }])),
        complete(json!([{ "part_number": 1, "etag": etag1 }, { "part_number": 2 }])),
        complete(
            json!([{ "part_number": 1, "etag": etag1 }, { "part_number": 2, "etag": etag2 }, { "part_number": 3, "etag": etag2 }]),
        ),
        complete(
            json!([{ "part_number": 1, "etag": etag1 }, { "part_number": 1, "etag": etag1 }, { "part_number": 2, "etag": etag2 }]),
        ),
    ] {
        post(&app, &format!("{MPU}/complete/dir"), body).await.invalid();
    }
    let unknown = json!({ "path": "f.bin", "upload_id": "0".repeat(32), "parts": [] });
    post(&app, &format!("{MPU}/complete/dir"), unknown).await.not_found();
    // parts: bad ids and numbers.
    let base = app.url(&format!("{MPU}/part"));
    for (url, status) in [
        (format!("{base}/{upload_id}/3"), 400),
        (format!("{base}/{upload_id}/0"), 400),
        (format!("{base}/{upload_id}/one"), 400),
        (format!("{base}/{}/1", upload_id.to_uppercase()), 400),
        (format!("{base}/{}/1", "0".repeat(32)), 404),
    ] {
        let response = app.client.put(&url).body("x").send().await.unwrap();
        assert_eq!(response.status(), status, "{url}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error_code"].is_string(), "{body}");
    }
    assert_eq!(download(&app, "dir/f.bin").await.0, 404);
    // The upload survived every mistake.
    post(
        &app,
        &format!("{MPU}/complete/dir"),
        complete(json!([{ "part_number": 1, "etag": etag1 }, { "part_number": 2, "etag": etag2 }])),
    )
    .await
    .ok();
    assert_eq!(download(&app, "dir/f.bin").await, (200, b"onetwo".to_vec()));
}

#[tokio::test]
async fn the_artifact_size_cap_holds_for_parts_and_the_whole() {
    let app = spawn_with(10, true).await;
    let address = &app.address;
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{address}{MPU}/create/x"))
        .json(&json!({ "path": "big.bin", "num_parts": 3 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let credentials = created["credentials"].as_array().unwrap();
    let too_big = client.put(credentials[0]["url"].as_str().unwrap()).body(vec![0u8; 11]).send().await.unwrap();
    assert_eq!(too_big.status(), 413);
    let mut parts = Vec::new();
    for (i, credential) in credentials.iter().enumerate() {
        let etag = put_part(&client, credential, vec![1u8; 4]).await;
        parts.push(json!({ "part_number": i + 1, "etag": etag }));
    }
    let response = client
        .post(format!("{address}{MPU}/complete/x"))
        .json(&json!({ "path": "big.bin", "upload_id": created["upload_id"], "parts": parts }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], "RESOURCE_LIMIT_EXCEEDED");
    let missing = client.get(format!("{address}/api/2.0/mlflow-artifacts/artifacts/x/big.bin")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn presigned_download_points_at_ranged_reads_of_the_file() {
    let app = spawn_app().await;
    let file = data(100_000);
    let put = app
        .client
        .put(app.url("/api/2.0/mlflow-artifacts/artifacts/d/a b.bin"))
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let presigned = app.get_url(&app.url("/api/2.0/mlflow-artifacts/presigned/d/a b.bin")).await.ok();
    assert_eq!(presigned["file_size"], 100_000);
    assert_eq!(presigned["headers"], json!({}));
    let url = presigned["url"].as_str().unwrap();
    assert_eq!(url, format!("{}/api/2.0/mlflow-artifacts/mpd/d/a%20b.bin", app.address));

    // The client's chunking: bytes=start-end, inclusive, the last chunk short.
    let chunk = 30_000;
    let mut assembled = Vec::new();
    for start in (0..file.len()).step_by(chunk) {
        let end = (start + chunk - 1).min(file.len() - 1);
        let response = app.client.get(url).header("range", format!("bytes={start}-{end}")).send().await.unwrap();
        assert_eq!(response.status(), 206);
        assert_eq!(response.headers()["content-range"], format!("bytes {start}-{end}/100000").as_str());
        assert_eq!(response.headers()["content-length"], (end - start + 1).to_string().as_str());
        assembled.extend_from_slice(&response.bytes().await.unwrap());
    }
    assert!(assembled == file);

    let whole = app.client.get(url).send().await.unwrap();
    assert_eq!((whole.status().as_u16(), whole.headers()["accept-ranges"].to_str().unwrap()), (200, "bytes"));
    assert!(whole.bytes().await.unwrap() == file);
    let past_the_end = app.client.get(url).header("range", "bytes=100000-").send().await.unwrap();
    assert_eq!(past_the_end.status(), 416);
    assert_eq!(past_the_end.headers()["content-range"], "bytes */100000");

    app.get_url(&app.url("/api/2.0/mlflow-artifacts/presigned/d/missing")).await.not_found();
    app.get_url(&app.url("/api/2.0/mlflow-artifacts/presigned/d")).await.not_found();
    app.get_url(&app.url("/api/2.0/mlflow-artifacts/mpd/d/missing")).await.not_found();
    app.get_url(&app.url("/api/2.0/mlflow-artifacts/presigned/.ferroflow-mpu/x")).await.invalid();
    app.get_url(&app.url("/api/2.0/mlflow-artifacts/mpd/..%2F..%2Fetc%2Fpasswd")).await.invalid();
}

#[tokio::test]
async fn multipart_can_be_switched_off_and_the_client_falls_back() {
    let config = ServerConfig { multipart_uploads: false, ..ServerConfig::default() };
    let app = spawn_app_with(TestAppOptions { config, ..TestAppOptions::default() }).await;
    let address = app.addr;
    let client = reqwest::Client::new();
    let info: serde_json::Value =
        client.get(format!("http://{address}/api/3.0/mlflow/server-info")).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["multipart_uploads_enabled"], false);
    let response = client
        .post(format!("http://{address}/api/2.0/mlflow-artifacts/mpu/create/dir"))
        .json(&serde_json::json!({"path": "/tmp/big.bin", "num_parts": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 501);
    let body: serde_json::Value = response.json().await.unwrap();
    // The client falls back to a plain PUT only on this message.
    assert!(body["message"].as_str().unwrap().starts_with("Multipart upload is not supported"));
}
