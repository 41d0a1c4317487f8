//! Black-box tests of the artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/...`) and
//! the run and logged-model artifact listings, over real HTTP against the real router:
//! round trips, download headers, listings, error bodies, the upload size limit and a
//! streamed 64 MiB transfer.

mod common;

use common::artifacts::{pseudo_random, spawn, ArtifactServer};
use common::{spawn_app_with, Artifacts, TestAppOptions};
use ferroflow_server::ServerConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PROXY: &str = "/api/2.0/mlflow-artifacts/artifacts";

async fn get(server: &ArtifactServer, path: &str) -> reqwest::Response {
    server.client.get(server.artifact_url(path)).send().await.unwrap()
}

async fn get_bytes(server: &ArtifactServer, path: &str) -> (u16, Vec<u8>) {
    let response = get(server, path).await;
    (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
}

async fn list(server: &ArtifactServer, dir: Option<&str>) -> Value {
    let url = match dir {
        Some(dir) => server.url(&format!("{PROXY}?path={}", encode(dir))),
        None => server.url(PROXY),
    };
    let response = server.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Form-encodes a query value as Python `requests` does.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn delete(server: &ArtifactServer, path: &str) -> (u16, Value) {
    let response = server.client.delete(server.artifact_url(path)).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn json_get(server: &ArtifactServer, path_and_query: &str) -> (u16, Value) {
    let response = server.client.get(server.url(path_and_query)).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn put_get_list_and_delete_round_trip() {
    let server = spawn(ServerConfig::default()).await;
    let binary: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    server.put_ok("1/run/artifacts/a.txt", "hello").await;
    server.put_ok("1/run/artifacts/dir/b.bin", binary.clone()).await;
    server.put_ok("1/run/artifacts/dir/sub/c.json", r#"{"k": 1}"#).await;
    server.put_ok("1/run/artifacts/empty.txt", "").await;

    assert_eq!(get_bytes(&server, "1/run/artifacts/a.txt").await, (200, b"hello".to_vec()));
    assert_eq!(get_bytes(&server, "1/run/artifacts/dir/b.bin").await, (200, binary.clone()));
    assert_eq!(get_bytes(&server, "1/run/artifacts/empty.txt").await, (200, Vec::new()));
    // The PUT answer is an empty JSON object, as MLflow's.
    let response = server.client.put(server.artifact_url("1/run/artifacts/x.txt")).body("x").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({}));

    // Overwriting replaces the bytes.
    server.put_ok("1/run/artifacts/a.txt", "bye").await;
    assert_eq!(get_bytes(&server, "1/run/artifacts/a.txt").await, (200, b"bye".to_vec()));

    // Listing: one level, basenames, sizes for files only, sorted.
    assert_eq!(list(&server, None).await, json!({ "files": [{ "path": "1", "is_dir": true }] }));
    assert_eq!(
        list(&server, Some("1/run/artifacts")).await,
        json!({ "files": [
            { "path": "a.txt", "is_dir": false, "file_size": 3 },
            { "path": "dir", "is_dir": true },
            // An empty file has no size, as in MLflow's answers.
            { "path": "empty.txt", "is_dir": false },
            { "path": "x.txt", "is_dir": false, "file_size": 1 },
        ] })
    );
    assert_eq!(
        list(&server, Some("1/run/artifacts/dir")).await,
        json!({ "files": [
            { "path": "b.bin", "is_dir": false, "file_size": 10_000 },
            { "path": "sub", "is_dir": true },
        ] })
    );
    // A trailing slash names the same folder.
    assert_eq!(list(&server, Some("1/run/artifacts/dir/")).await, list(&server, Some("1/run/artifacts/dir")).await);
    // Both API prefixes serve the proxy.
    let ajax = server.client.get(server.url("/ajax-api/2.0/mlflow-artifacts/artifacts/1/run/artifacts/a.txt"));
    assert_eq!(ajax.send().await.unwrap().text().await.unwrap(), "bye");

    // Deleting a file, then a folder with everything in it.
    assert_eq!(delete(&server, "1/run/artifacts/a.txt").await, (200, json!({})));
    assert_eq!(get(&server, "1/run/artifacts/a.txt").await.status(), 404);
    assert_eq!(delete(&server, "1/run/artifacts/dir").await, (200, json!({})));
    assert_eq!(get(&server, "1/run/artifacts/dir/sub/c.json").await.status(), 404);
    assert_eq!(list(&server, Some("1/run/artifacts/dir")).await, json!({}));
    assert_eq!(
        list(&server, Some("1/run/artifacts")).await,
        json!({ "files": [
            { "path": "empty.txt", "is_dir": false },
            { "path": "x.txt", "is_dir": false, "file_size": 1 },
        ] })
    );
    // Deleting the run's whole folder leaves no empty folders behind.
    assert_eq!(delete(&server, "1/run").await, (200, json!({})));
    assert_eq!(list(&server, None).await, json!({}));
    assert!(server.files_on_disk().is_empty());
    // Deleting what does not exist is not an error (as MLflow).
    assert_eq!(delete(&server, "1/nothing/here").await, (200, json!({})));
}

#[tokio::test]
async fn unusual_but_legal_names_round_trip() {
    let server = spawn(ServerConfig::default()).await;
    for (escaped, name) in [
        ("with%20space.txt", "with space.txt"),
        ("plus+sign.txt", "plus+sign.txt"),
        ("%C3%BCml%C3%A4ut%20%E6%97%A5%E6%9C%AC.txt", "ümläut 日本.txt"),
        ("percent%2525.txt", "percent%25.txt"),
        ("100%25.txt", "100%.txt"),
        ("a..b", "a..b"),
        (".hidden", ".hidden"),
        ("semi%3Bcolon%2Ccomma.txt", "semi;colon,comma.txt"),
    ] {
        let path = format!("names/{escaped}");
        server.put_ok(&path, name.to_string()).await;
        assert_eq!(get_bytes(&server, &path).await, (200, name.as_bytes().to_vec()), "{name}");
        let listed = list(&server, Some("names")).await;
        let names: Vec<&str> =
            listed["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
        assert!(names.contains(&name), "{name} not in {names:?}");
        let (status, _) = delete(&server, &path).await;
        assert_eq!(status, 200);
        assert_eq!(get(&server, &path).await.status(), 404, "{name} survived its delete");
    }
}

#[tokio::test]
async fn downloads_are_attachments_with_a_guessed_type() {
    let server = spawn(ServerConfig::default()).await;
    for (name, content_type) in [
        // MLflow serves its text formats (and MLmodel) as text/plain.
        ("notes.txt", "text/plain"),
        ("metrics.json", "text/plain"),
        ("conda.yaml", "text/plain"),
        ("table.csv", "text/plain"),
        ("MLmodel", "text/plain"),
        ("MLproject", "text/plain"),
        ("train.py", "text/plain"),
        ("image.png", "image/png"),
        ("photo.jpg", "image/jpeg"),
        ("page.html", "text/html"),
        ("plot.svg", "image/svg+xml"),
        ("model.pkl", "application/octet-stream"),
        ("noextension", "application/octet-stream"),
    ] {
        server.put_ok(&format!("h/{name}"), "x").await;
        let response = get(&server, &format!("h/{name}")).await;
        assert_eq!(response.status(), 200);
        let header = |h: &str| response.headers().get(h).map(|v| v.to_str().unwrap().to_string());
        let actual_type = header("content-type").unwrap();
        assert_eq!(actual_type.split(';').next().unwrap(), content_type, "{name}");
        assert_eq!(header("content-disposition").as_deref(), Some(format!("attachment; filename=\"{name}\"").as_str()));
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(header("content-length").as_deref(), Some("1"));
    }
}

#[tokio::test]
async fn non_ascii_and_quoted_names_are_still_attachments() {
    // A download without `Content-Disposition: attachment` would let a browser render an
    // uploaded HTML page on the server's origin.
    let server = spawn(ServerConfig::default()).await;
    server.put_ok("x/%E6%97%A5%E6%9C%AC.html", "<script>alert(1)</script>").await;
    let response = get(&server, "x/%E6%97%A5%E6%9C%AC.html").await;
    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(disposition.starts_with("attachment; "), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''%E6%97%A5%E6%9C%AC.html"), "{disposition}");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");

    server.put_ok("x/caf%C3%A9.txt", "x").await;
    let response = get(&server, "x/caf%C3%A9.txt").await;
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
    assert_eq!(disposition, "attachment; filename=\"cafe.txt\"; filename*=UTF-8''caf%C3%A9.txt");

    server.put_ok("x/say%22hi%22.txt", "x").await;
    let response = get(&server, "x/say%22hi%22.txt").await;
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
    assert_eq!(disposition, r#"attachment; filename="say\"hi\".txt""#);
}

#[tokio::test]
async fn missing_files_are_404_json() {
    let server = spawn(ServerConfig::default()).await;
    server.put_ok("dir/present.txt", "x").await;
    for path in ["nothing.txt", "dir/absent.txt", "absent/dir/file.txt", "dir/present.txt/below"] {
        let response = get(&server, path).await;
        assert_eq!(response.status(), 404, "{path}");
        let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with("application/json"), "{path}: {content_type}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error_code"], "RESOURCE_DOES_NOT_EXIST", "{path}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
}

#[tokio::test]
async fn folders_and_files_do_not_stand_in_for_each_other() {
    let server = spawn(ServerConfig::default()).await;
    server.put_ok("dir/file.txt", "x").await;
    // Downloading a folder is a client mistake (MLflow: "refers to a directory"), not a 500.
    let response = get(&server, "dir").await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error_code"], "INVALID_PARAMETER_VALUE");
    // Uploading onto a folder, or below a file, is refused and changes nothing.
    for path in ["dir", "dir/", "dir/file.txt/below.txt"] {
        let response = server.client.put(server.artifact_url(path)).body("y").send().await.unwrap();
        assert_eq!(response.status(), 400, "PUT {path}");
        assert_eq!(response.json::<Value>().await.unwrap()["error_code"], "INVALID_PARAMETER_VALUE");
    }
    assert_eq!(server.files_on_disk(), vec![("dir/file.txt".to_string(), b"x".to_vec())]);
    // Listing a file lists nothing (as MLflow's local repository).
    assert_eq!(list(&server, Some("dir/file.txt")).await, json!({}));
}

#[tokio::test]
async fn empty_and_missing_folders_list_as_an_empty_object() {
    let server = spawn(ServerConfig::default()).await;
    assert_eq!(list(&server, None).await, json!({}));
    assert_eq!(json_get(&server, &format!("{PROXY}/")).await, (200, json!({})));
    assert_eq!(json_get(&server, &format!("{PROXY}?path=")).await, (200, json!({})));
    assert_eq!(list(&server, Some("no/such/dir")).await, json!({}));
    std::fs::create_dir_all(server.root.join("empty/dir")).unwrap();
    assert_eq!(list(&server, Some("empty/dir")).await, json!({}));
    // Multipart staging and uploads in progress are not artifacts.
    std::fs::create_dir_all(server.root.join(".ferroflow-mpu/abc")).unwrap();
    std::fs::write(server.root.join("empty/partial#1"), "in flight").unwrap();
    assert_eq!(list(&server, None).await, json!({ "files": [{ "path": "empty", "is_dir": true }] }));
    assert_eq!(list(&server, Some("empty")).await, json!({ "files": [{ "path": "dir", "is_dir": true }] }));
}

#[tokio::test]
async fn run_listing_is_relative_to_the_run_and_names_its_root() {
    let server = spawn(ServerConfig::default()).await;
    let (_, run) = server.create_run("list").await;
    let run_id = run["info"]["run_id"].as_str().unwrap();
    let artifact_uri = run["info"]["artifact_uri"].as_str().unwrap();
    let run_dir = artifact_uri.strip_prefix("mlflow-artifacts:/").expect("a proxied artifact root");

    let (status, body) = json_get(&server, &format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}")).await;
    assert_eq!((status, body), (200, json!({ "root_uri": artifact_uri })));

    server.put_ok(&format!("{run_dir}/top.txt"), "top").await;
    server.put_ok(&format!("{run_dir}/dir/a.txt"), "aaaa").await;
    server.put_ok(&format!("{run_dir}/dir/deeper/b.txt"), "b").await;

    let (status, body) = json_get(&server, &format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "root_uri": artifact_uri, "files": [
            { "path": "dir", "is_dir": true },
            { "path": "top.txt", "is_dir": false, "file_size": 3 },
        ] })
    );
    for path in ["dir", "dir/"] {
        let (status, body) =
            json_get(&server, &format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}&path={path}")).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({ "root_uri": artifact_uri, "files": [
                { "path": "dir/a.txt", "is_dir": false, "file_size": 4 },
                { "path": "dir/deeper", "is_dir": true },
            ] }),
            "path={path}"
        );
    }
    let (_, body) =
        json_get(&server, &format!("/ajax-api/2.0/mlflow/artifacts/list?run_uuid={run_id}&path=dir/deeper")).await;
    assert_eq!(body["files"], json!([{ "path": "dir/deeper/b.txt", "is_dir": false, "file_size": 1 }]));
    let (_, body) = json_get(&server, &format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=missing")).await;
    assert_eq!(body, json!({ "root_uri": artifact_uri }));

    // Unknown runs are 404, a missing run id is 400.
    let (status, body) = json_get(&server, "/api/2.0/mlflow/artifacts/list?run_id=0123456789abcdef").await;
    assert_eq!((status, body["error_code"].as_str()), (404, Some("RESOURCE_DOES_NOT_EXIST")));
    let (status, body) = json_get(&server, "/api/2.0/mlflow/artifacts/list").await;
    assert_eq!((status, body["error_code"].as_str()), (400, Some("INVALID_PARAMETER_VALUE")));
}

#[tokio::test]
async fn run_listing_of_a_root_the_server_does_not_read_names_the_root_only() {
    // Local, file:// and object-store roots are listed (artifacts_ui_http.rs, and
    // tests/python/test_artifacts_ui.py against S3); a scheme the server does not read is not.
    let server = spawn(ServerConfig::default()).await;
    let experiment = server
        .post_json(
            "experiments/create",
            &json!({ "name": "hdfs", "artifact_location": "hdfs://somewhere-else/prefix" }),
        )
        .await
        .body;
    let run = server.post_json("runs/create", &json!({ "experiment_id": experiment["experiment_id"] })).await.body;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap();
    let artifact_uri = run["run"]["info"]["artifact_uri"].as_str().unwrap();
    assert!(artifact_uri.starts_with("hdfs://somewhere-else/prefix/"), "{artifact_uri}");
    let (status, body) = json_get(&server, &format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}")).await;
    assert_eq!((status, body), (200, json!({ "root_uri": artifact_uri })));
}

#[tokio::test]
async fn logged_model_listing_is_relative_to_the_model() {
    let server = spawn(ServerConfig::default()).await;
    let (experiment_id, _) = server.create_run("models").await;
    let model = server.post_json("logged-models", &json!({ "experiment_id": experiment_id, "name": "m" })).await.body;
    let model_id = model["model"]["info"]["model_id"].as_str().unwrap();
    let artifact_uri = model["model"]["info"]["artifact_uri"].as_str().unwrap();
    assert_eq!(artifact_uri, format!("mlflow-artifacts:/{experiment_id}/models/{model_id}/artifacts"));
    let model_dir = artifact_uri.strip_prefix("mlflow-artifacts:/").unwrap();
    server.put_ok(&format!("{model_dir}/MLmodel"), "flavors: {}").await;
    server.put_ok(&format!("{model_dir}/sub/model.pkl"), "pickle").await;

    let url = format!("/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories");
    let (status, body) = json_get(&server, &url).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "root_uri": artifact_uri, "files": [
            { "path": "MLmodel", "is_dir": false, "file_size": 11 },
            { "path": "sub", "is_dir": true },
        ] })
    );
    let (_, body) = json_get(&server, &format!("{url}?artifact_directory_path=sub")).await;
    assert_eq!(body["files"], json!([{ "path": "sub/model.pkl", "is_dir": false, "file_size": 6 }]));
    let (status, body) =
        json_get(&server, "/api/2.0/mlflow/logged-models/m-00000000000000000000000000000000/artifacts/directories")
            .await;
    assert_eq!((status, body["error_code"].as_str()), (404, Some("RESOURCE_DOES_NOT_EXIST")));
}

#[tokio::test]
async fn the_size_limit_refuses_and_stores_nothing() {
    let server = spawn(ServerConfig { max_artifact_bytes: 1000, ..ServerConfig::default() }).await;
    // At the limit is fine.
    server.put_ok("limit/exact.bin", vec![7u8; 1000]).await;
    for (name, size) in [("over.bin", 1001usize), ("far-over.bin", 200_000)] {
        let response = server
            .client
            .put(server.artifact_url(&format!("limit/{name}")))
            .body(vec![1u8; size])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error_code"], "RESOURCE_LIMIT_EXCEEDED", "{body}");
        assert!(body["message"].as_str().unwrap().contains("1000"), "{body}");
        assert_eq!(get(&server, &format!("limit/{name}")).await.status(), 404);
    }
    // Nothing of the refused uploads is on disk or listed, and a refused overwrite keeps
    // the old bytes.
    let response =
        server.client.put(server.artifact_url("limit/exact.bin")).body(vec![2u8; 5000]).send().await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(get_bytes(&server, "limit/exact.bin").await, (200, vec![7u8; 1000]));
    assert_eq!(server.files_on_disk(), vec![("limit/exact.bin".to_string(), vec![7u8; 1000])]);
    assert_eq!(
        list(&server, Some("limit")).await,
        json!({ "files": [{ "path": "exact.bin", "is_dir": false, "file_size": 1000 }] })
    );
    // A refused upload into a new folder leaves no empty folder to list.
    let response =
        server.client.put(server.artifact_url("fresh/dir/big.bin")).body(vec![0u8; 2000]).send().await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(list(&server, None).await, json!({ "files": [{ "path": "limit", "is_dir": true }] }));
}

#[tokio::test]
async fn the_size_limit_also_applies_to_chunked_uploads() {
    let server = spawn(ServerConfig { max_artifact_bytes: 1000, ..ServerConfig::default() }).await;
    let mut stream = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let head = format!(
        "PUT {PROXY}/chunked/big.bin HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..4 {
        // Writes may fail once the server has answered and closed: that is the point.
        let _ = stream.write_all(format!("{:x}\r\n", 600).as_bytes()).await;
        let _ = stream.write_all(&[9u8; 600]).await;
        let _ = stream.write_all(b"\r\n").await;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("RESOURCE_LIMIT_EXCEEDED"), "{answer}");
    assert!(server.files_on_disk().is_empty());
}

#[tokio::test]
async fn proxy_routes_are_absent_when_artifacts_are_not_served() {
    let app = spawn_app_with(TestAppOptions {
        artifacts: Artifacts::NotServed,
        default_artifact_root: Some("direct".into()),
        ..TestAppOptions::default()
    })
    .await;
    let base = &app.address;
    let client = reqwest::Client::new();
    for (method, path) in [
        (reqwest::Method::PUT, format!("{PROXY}/a.txt")),
        (reqwest::Method::GET, format!("{PROXY}/a.txt")),
        (reqwest::Method::DELETE, format!("{PROXY}/a.txt")),
        (reqwest::Method::GET, format!("{PROXY}?path=x")),
    ] {
        let response = client.request(method.clone(), format!("{base}{path}")).body("x").send().await.unwrap();
        assert_eq!(response.status(), 404, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error_code"], "ENDPOINT_NOT_FOUND", "{method} {path}: {body}");
    }
    assert!(!app.data_dir().join("direct").join("a.txt").exists());
}

/// The SHA-256 of `len` pseudo-random bytes made in 1 MiB blocks (seeded by block number).
fn block(i: usize) -> Vec<u8> {
    pseudo_random(1 << 20, 0x5eed_0000 + i as u32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_upload_and_download_stream_through_intact() {
    const BLOCKS: usize = 64;
    let server = spawn(ServerConfig::default()).await;
    let mut expected = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);

    // Upload: the body is written block by block on the socket, never held whole.
    let mut stream = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let head = format!(
        "PUT {PROXY}/big/model.bin HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr,
        BLOCKS << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for i in 0..BLOCKS {
        let data = block(i);
        expected.update(&data);
        stream.write_all(&data).await.unwrap();
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let expected = expected.finish();

    // Download: read chunk by chunk, hashing as it arrives.
    let mut response = get(&server, "big/model.bin").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], (BLOCKS << 20).to_string().as_str());
    let mut actual = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut received = 0usize;
    while let Some(chunk) = response.chunk().await.unwrap() {
        received += chunk.len();
        actual.update(&chunk);
    }
    assert_eq!(received, BLOCKS << 20);
    assert_eq!(actual.finish().as_ref(), expected.as_ref(), "the downloaded bytes differ from the uploaded ones");
    assert_eq!(
        list(&server, Some("big")).await,
        json!({ "files": [{ "path": "model.bin", "is_dir": false, "file_size": BLOCKS << 20 }] })
    );
}
