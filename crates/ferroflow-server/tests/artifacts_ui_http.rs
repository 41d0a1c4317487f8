//! Black-box tests of the web UI's artifact endpoints (`/get-artifact`,
//! `/model-versions/get-artifact`, `logged-models/{id}/artifacts/files`,
//! `/ajax-api/2.0/mlflow/upload-artifact`) and of artifact listing through the tracking API
//! for every kind of root: the proxied destination (`mlflow-artifacts:/`), the proxy's own
//! `http://…/api/2.0/mlflow-artifacts/artifacts` URL, a local path, a `file://` URI, a root
//! not created yet, and roots the server does not read. Answers are checked against what
//! MLflow 3.17's server answers (content types, headers, messages, shapes).

mod common;

use std::path::Path;
use std::time::Duration;

use common::artifacts::{spawn, ArtifactServer, RawResponse, SECRET};
use common::{assert_keys, encode_component, spawn_app_with, Artifacts, TestApp, TestAppOptions};
use ferroflow_server::ServerConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const UPLOAD: &str = "/ajax-api/2.0/mlflow/upload-artifact";
const TEN_MB: usize = 10 * 1024 * 1024;

/// The run's path inside the proxied destination (`mlflow-artifacts:/<path>`).
fn run_dir(run: &Value) -> String {
    let uri = run["info"]["artifact_uri"].as_str().unwrap();
    uri.strip_prefix("mlflow-artifacts:/").unwrap_or_else(|| panic!("not proxied: {uri}")).to_string()
}

fn run_id(run: &Value) -> String {
    run["info"]["run_id"].as_str().unwrap().to_string()
}

async fn get_artifact(app: &TestApp, run_id: &str, path: &str) -> reqwest::Response {
    let url = app.url(&format!("/get-artifact?run_id={run_id}&path={}", encode_component(path)));
    app.client.get(url).send().await.unwrap()
}

async fn upload(app: &TestApp, query: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.client.post(app.url(&format!("{UPLOAD}?{query}"))).body(body).send().await.unwrap()
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[track_caller]
fn assert_error(answer: &(u16, Value), status: u16, code: &str, message: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error_code"], code, "{}", answer.1);
    assert_eq!(answer.1["message"], message, "{}", answer.1);
}

/// `artifacts/list` for a run (and `path`), the whole body.
async fn list(app: &TestApp, run_id: &str, path: Option<&str>) -> Value {
    let mut pairs = vec![("run_id", run_id)];
    if let Some(path) = path {
        pairs.push(("path", path));
    }
    app.get_query("artifacts/list", &pairs).await.ok()
}

fn paths(listing: &Value) -> Vec<(String, bool, Option<u64>)> {
    listing["files"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_string(), f["is_dir"].as_bool().unwrap(), f["file_size"].as_u64()))
        .collect()
}

fn file(path: &str, size: u64) -> (String, bool, Option<u64>) {
    (path.to_string(), false, Some(size))
}

fn folder(path: &str) -> (String, bool, Option<u64>) {
    (path.to_string(), true, None)
}

/// Writes `files` under a local folder, as a client writing its root directly does.
fn write_files(root: &Path, files: &[(&str, &[u8])]) {
    for (path, bytes) in files {
        let target = root.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }
}

/// The answer to a request written byte for byte, as `raw` does, for a head we build.
async fn raw_exchange(app: &TestApp, head: String) -> RawResponse {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw)).await.expect("answered");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP head in {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    RawResponse { status, headers, body: body.as_bytes().to_vec() }
}

// ------------------------------------------------------------------ downloads

#[tokio::test]
async fn downloads_carry_mlflow_content_types_and_attachment_headers() {
    let server = spawn(ServerConfig::default()).await;
    let (_, run) = server.create_run("types").await;
    let (dir, id) = (run_dir(&run), run_id(&run));
    // MLflow's `_guess_mime_type`: its text extensions (and MLmodel, MLproject) are
    // text/plain, `.js` included; others by extension; unknown ones binary.
    let cases: &[(&str, &str)] = &[
        ("notes.txt", "text/plain"),
        ("model/MLmodel", "text/plain"),
        // MLflow spells it `mlproject` in its list (so it serves `MLproject` as binary);
        // both are text here.
        ("MLproject", "text/plain"),
        ("project/mlproject", "text/plain"),
        ("images/plot.png", "image/png"),
        ("report.pdf", "application/pdf"),
        ("model/model.pkl", "application/octet-stream"),
        ("page.html", "text/html"),
        ("pic.svg", "image/svg+xml"),
        ("code.js", "text/plain"),
        ("metrics.json", "text/plain"),
        ("table.csv", "text/plain"),
        ("conda.yaml", "text/plain"),
        ("photo.jpeg", "image/jpeg"),
        ("noextension", "application/octet-stream"),
    ];
    for (i, (path, _)) in cases.iter().enumerate() {
        server.put_ok(&format!("{dir}/{path}"), format!("content {i}")).await;
    }
    for (i, (path, content_type)) in cases.iter().enumerate() {
        let response = get_artifact(&server, &id, path).await;
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(header("content-type").as_deref(), Some(*content_type), "{path}");
        let name = path.rsplit('/').next().unwrap();
        assert_eq!(header("content-disposition"), Some(format!("attachment; filename=\"{name}\"")), "{path}");
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
        let expected = format!("content {i}");
        assert_eq!(header("content-length"), Some(expected.len().to_string()), "{path}");
        assert_eq!(response.text().await.unwrap(), expected, "{path}");
    }
    // The UI sends `run_uuid`.
    let by_uuid = server.client.get(server.url(&format!("/get-artifact?run_uuid={id}&path=notes.txt"))).send().await;
    assert_eq!(by_uuid.unwrap().text().await.unwrap(), "content 0");
}

#[tokio::test]
async fn get_artifact_answers_mistakes_with_4xx() {
    let server = spawn(ServerConfig::default()).await;
    let (_, run) = server.create_run("mistakes").await;
    let (dir, id) = (run_dir(&run), run_id(&run));
    server.put_ok(&format!("{dir}/images/a.png"), "png").await;
    let get = |target: String| {
        let server = &server;
        async move { json_of(server.client.get(server.url(&target)).send().await.unwrap()).await }
    };

    let missing_path = get(format!("/get-artifact?run_id={id}")).await;
    assert_eq!((missing_path.0, missing_path.1["error_code"].as_str()), (400, Some("INVALID_PARAMETER_VALUE")));
    let missing_run = get("/get-artifact?path=images/a.png".into()).await;
    assert_eq!((missing_run.0, missing_run.1["error_code"].as_str()), (400, Some("INVALID_PARAMETER_VALUE")));
    let unknown = get("/get-artifact?run_id=nope&path=a.png".into()).await;
    assert_error(&unknown, 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=nope not found");
    let no_file = get(format!("/get-artifact?run_id={id}&path=images/b.png")).await;
    assert_error(&no_file, 404, "RESOURCE_DOES_NOT_EXIST", "No such artifact: 'images/b.png'");
    let on_folder = get(format!("/get-artifact?run_id={id}&path=images")).await;
    assert_error(
        &on_folder,
        400,
        "INVALID_PARAMETER_VALUE",
        "Artifact path refers to a directory, not a file: 'images'",
    );
    let below_file = get(format!("/get-artifact?run_id={id}&path=images/a.png/x")).await;
    assert_eq!(below_file.0, 404, "{}", below_file.1);

    // Mounted where MLflow mounts it, and nowhere else; GET only.
    for prefix in ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"] {
        let elsewhere = get(format!("{prefix}/get-artifact?run_id={id}&path=images/a.png")).await;
        assert_eq!((elsewhere.0, elsewhere.1["error_code"].as_str()), (404, Some("ENDPOINT_NOT_FOUND")));
    }
    let post = server.client.post(server.url(&format!("/get-artifact?run_id={id}&path=images/a.png"))).send().await;
    assert_eq!(post.unwrap().status(), 405);
}

/// Every way of naming a file outside the root, as a query value: raw, percent-encoded,
/// double-encoded, with backslashes, NUL, absolute.
const TRAVERSALS: &[&str] = &[
    "..",
    "../secret.txt",
    "../../secret.txt",
    "../../../secret.txt",
    "../../../../secret.txt",
    "images/../../../../secret.txt",
    "%2e%2e%2fsecret.txt",
    "%2E%2E/%2E%2E/%2E%2E/secret.txt",
    "%252e%252e%252f%252e%252e%252fsecret.txt",
    "%25252e%25252e/secret.txt",
    "..%5Csecret.txt",
    "..%5C..%5Csecret.txt",
    "images%5C..%5C..%5Csecret.txt",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "//etc/passwd",
    "file:///etc/passwd",
    "C:/Windows/win.ini",
    "a%00b",
    "images/a.png%00.txt",
    "a/./b",
    "a//b",
    "x%23frag",
];

#[track_caller]
fn assert_refused(response: &RawResponse, what: &str) {
    assert!(response.status < 500, "{what}: server error {} {:?}", response.status, response.text());
    assert!(!response.text().contains(SECRET), "{what}: the secret leaked");
    assert!(matches!(response.status, 400 | 404), "{what}: {} {:?}", response.status, response.text());
    let body = response.json();
    assert!(body["error_code"].is_string(), "{what}: not an MLflow error: {:?}", response.text());
}

async fn assert_all_refused(server: &ArtifactServer, method: &str, targets: &[String]) {
    let before = server.files_outside_root();
    let inside = server.files_on_disk();
    for target in targets {
        let response = server.raw(method, target, if method == "POST" { b"PWNED" } else { b"" }).await;
        assert_refused(&response, &format!("{method} {target}"));
    }
    assert_eq!(server.files_outside_root(), before, "a file outside the root changed");
    assert_eq!(server.files_on_disk(), inside, "a refused request changed the root");
}

#[tokio::test]
async fn traversals_are_refused_by_every_ui_endpoint() {
    let server = spawn(ServerConfig::default()).await;
    let (experiment_id, run) = server.create_run("traversal").await;
    let (dir, id) = (run_dir(&run), run_id(&run));
    server.put_ok(&format!("{dir}/images/a.png"), "png").await;
    server.put_ok(&format!("{dir}/model/MLmodel"), "flavors: {}").await;
    server.post_json("registered-models/create", &json!({ "name": "m" })).await.ok();
    let source = format!("mlflow-artifacts:/{dir}/model");
    server.post_json("model-versions/create", &json!({ "name": "m", "source": source, "run_id": id })).await.ok();
    let model = server.post_json("logged-models", &json!({ "experiment_id": experiment_id })).await.ok();
    let model_id = model["model"]["info"]["model_id"].as_str().unwrap().to_string();

    let mut gets = Vec::new();
    for path in TRAVERSALS {
        gets.push(format!("/get-artifact?run_id={id}&path={path}"));
        gets.push(format!("/get-artifact?run_uuid={id}&path={path}"));
        gets.push(format!("/model-versions/get-artifact?name=m&version=1&path={path}"));
        gets.push(format!("/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files?artifact_file_path={path}"));
        gets.push(format!("/api/2.0/mlflow/artifacts/list?run_id={id}&path={path}"));
        gets.push(format!("/ajax-api/2.0/mlflow/artifacts/list?run_id={id}&path={path}"));
        gets.push(format!(
            "/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories?artifact_directory_path={path}"
        ));
    }
    assert_all_refused(&server, "GET", &gets).await;
    let uploads: Vec<String> = TRAVERSALS.iter().map(|path| format!("{UPLOAD}?run_uuid={id}&path={path}")).collect();
    assert_all_refused(&server, "POST", &uploads).await;
    // A raw `..` in the request line's query, unencoded, is a path like any other.
    let raw = server.raw("GET", &format!("/get-artifact?run_id={id}&path=../../../secret.txt"), b"").await;
    assert_refused(&raw, "raw ..");
}

#[cfg(unix)]
#[tokio::test]
async fn links_planted_in_a_run_root_are_neither_served_nor_listed() {
    let server = spawn(ServerConfig::default()).await;
    let (_, run) = server.create_run("links").await;
    let (dir, id) = (run_dir(&run), run_id(&run));
    server.put_ok(&format!("{dir}/real.txt"), "real").await;
    let run_root = server.root.join(&dir);
    std::os::unix::fs::symlink(server.outside.join("secret.txt"), run_root.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(&server.outside, run_root.join("escape")).unwrap();
    for path in ["leak.txt", "escape/secret.txt"] {
        let response = server.raw("GET", &format!("/get-artifact?run_id={id}&path={path}"), b"").await;
        assert_refused(&response, path);
    }
    assert_eq!(paths(&list(&server, &id, None).await), vec![file("real.txt", 4)]);
    let into_link = server.raw("GET", &format!("/api/2.0/mlflow/artifacts/list?run_id={id}&path=escape"), b"").await;
    assert_refused(&into_link, "listing through a link");
}

// ------------------------------------------------------------------ upload

#[tokio::test]
async fn upload_artifact_writes_into_the_run_root() {
    let server = spawn(ServerConfig::default()).await;
    let (_, run) = server.create_run("upload").await;
    let (dir, id) = (run_dir(&run), run_id(&run));
    let response = upload(&server, &format!("run_uuid={id}&path=eval/table.json"), r#"{"a": 1}"#).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.bytes().await.unwrap().len(), 0, "MLflow answers an empty body");
    assert_eq!(std::fs::read(server.root.join(&dir).join("eval/table.json")).unwrap(), br#"{"a": 1}"#);
    // Again over it, then read back through every way the UI reads.
    assert_eq!(upload(&server, &format!("run_uuid={id}&path=eval/table.json"), "v2").await.status(), 200);
    assert_eq!(get_artifact(&server, &id, "eval/table.json").await.text().await.unwrap(), "v2");
    assert_eq!(paths(&list(&server, &id, Some("eval")).await), vec![file("eval/table.json", 2)]);
    let proxied = server.client.get(server.artifact_url(&format!("{dir}/eval/table.json"))).send().await.unwrap();
    assert_eq!(proxied.text().await.unwrap(), "v2");
}

#[tokio::test]
async fn upload_artifact_validates_as_mlflow_does() {
    let server = spawn(ServerConfig::default()).await;
    let (_, run) = server.create_run("upload-checks").await;
    let id = run_id(&run);
    let invalid = "INVALID_PARAMETER_VALUE";
    let cases: Vec<(String, &str, u16, &str, &str)> = vec![
        // MLflow's handler reads `run_uuid` only.
        (format!("run_id={id}&path=a.txt"), "x", 400, invalid, "Request must specify run_uuid."),
        ("run_uuid=&path=a.txt".into(), "x", 400, invalid, "Request must specify run_uuid."),
        (format!("run_uuid={id}"), "x", 400, invalid, "Request must specify path."),
        (format!("run_uuid={id}&path="), "x", 400, invalid, "Request must specify path."),
        (format!("run_uuid={id}&path=a.txt"), "", 400, invalid, "Request must specify data."),
        ("run_uuid=nope&path=a.txt".into(), "x", 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=nope not found"),
    ];
    for (query, body, status, code, message) in cases {
        let answer = json_of(upload(&server, &query, body).await).await;
        assert_error(&answer, status, code, message);
    }
    // A folder is not a file name (MLflow fails with a 500 writing it).
    let on_folder = json_of(upload(&server, &format!("run_uuid={id}&path=dir/"), "x").await).await;
    assert_eq!((on_folder.0, on_folder.1["error_code"].as_str()), (400, Some(invalid)), "{}", on_folder.1);
    let path_error = json_of(upload(&server, &format!("run_uuid={id}&path=..%2Fa.txt"), "x").await).await;
    assert_eq!(path_error.0, 400);
    assert!(path_error.1["message"].as_str().unwrap().starts_with("Invalid path"), "{}", path_error.1);
    assert!(server.files_on_disk().is_empty(), "a refused upload wrote {:?}", server.files_on_disk());
    let get = server.client.get(server.url(&format!("{UPLOAD}?run_uuid={id}&path=a.txt"))).send().await.unwrap();
    assert_eq!(get.status(), 405);
}

#[tokio::test]
async fn upload_artifact_takes_at_most_10_mb() {
    let server = spawn(ServerConfig::default()).await;
    let (_, run) = server.create_run("upload-size").await;
    let (dir, id) = (run_dir(&run), run_id(&run));
    let too_large = "Artifact size is too large. Max size is 10MB.";

    // Declared too large: refused before the body, without a `100 Continue`.
    let head = format!(
        "POST {UPLOAD}?run_uuid={id}&path=big.bin HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        server.addr,
        TEN_MB + 1
    );
    let answer = raw_exchange(&server, head).await;
    assert_eq!(answer.status, 400, "{:?}", answer.text());
    assert_eq!(answer.json()["message"], too_large);

    // Exactly 10 MB is taken; one byte more, sent chunked (no length declared), is not.
    let exact = upload(&server, &format!("run_uuid={id}&path=exact.bin"), vec![7u8; TEN_MB]).await;
    assert_eq!(exact.status(), 200);
    let chunks = futures_util::stream::iter(
        [vec![1u8; TEN_MB / 2], vec![2u8; TEN_MB / 2], vec![3u8; 1]].map(Ok::<_, std::io::Error>),
    );
    let chunked = upload(&server, &format!("run_uuid={id}&path=chunked.bin"), reqwest::Body::wrap_stream(chunks)).await;
    assert_error(&json_of(chunked).await, 400, "INVALID_PARAMETER_VALUE", too_large);
    let on_disk: Vec<String> = server.files_on_disk().into_iter().map(|(path, _)| path).collect();
    assert_eq!(on_disk, vec![format!("{dir}/exact.bin")]);
}

// ------------------------------------------------------------------ every kind of root

#[tokio::test]
async fn the_proxys_own_http_url_is_listed_served_and_written_as_the_destination() {
    // `--default-artifact-root http://host:port/api/2.0/mlflow-artifacts/artifacts`, as many
    // deployments set it: roots are URLs of the proxy. MLflow's server resolves any host.
    let server = spawn(ServerConfig::default()).await;
    let location = "http://tracking.example:5000/api/2.0/mlflow-artifacts/artifacts/http-exp";
    let body = json!({ "name": "http", "artifact_location": location });
    let experiment_id =
        server.post_json("experiments/create", &body).await.ok()["experiment_id"].as_str().unwrap().to_string();
    let run = server.post_json("runs/create", &json!({ "experiment_id": experiment_id })).await.ok()["run"].clone();
    let id = run_id(&run);
    let root_uri = run["info"]["artifact_uri"].as_str().unwrap().to_string();
    assert_eq!(root_uri, format!("{location}/{id}/artifacts"));
    // What MLflow's HttpArtifactRepository writes: the path after the route.
    let dir = format!("http-exp/{id}/artifacts");
    server.put_ok(&format!("{dir}/images/plot.png"), "png").await;
    server.put_ok(&format!("{dir}/model/MLmodel"), "flavors: {}").await;
    server.put_ok(&format!("{dir}/empty.txt"), "").await;

    let root = list(&server, &id, None).await;
    assert_keys(&root, &["root_uri", "files"]);
    assert_eq!(root["root_uri"], root_uri.as_str());
    // MLflow leaves out the size of an empty file.
    assert_eq!(paths(&root), vec![("empty.txt".into(), false, None), folder("images"), folder("model")]);
    for images in ["images", "images/"] {
        assert_eq!(paths(&list(&server, &id, Some(images)).await), vec![file("images/plot.png", 3)], "{images}");
    }
    assert_eq!(get_artifact(&server, &id, "model/MLmodel").await.text().await.unwrap(), "flavors: {}");
    assert_eq!(upload(&server, &format!("run_uuid={id}&path=ui/note.txt"), "ui").await.status(), 200);
    assert_eq!(std::fs::read(server.root.join(&dir).join("ui/note.txt")).unwrap(), b"ui");
    // A file, or a folder not there, lists as nothing.
    for nothing in ["model/MLmodel", "nope"] {
        assert_keys(&list(&server, &id, Some(nothing)).await, &["root_uri"]);
    }
}

#[tokio::test]
async fn local_roots_that_clients_write_directly_are_listed_and_served() {
    // `--default-artifact-root /some/folder`: clients write runs' artifacts themselves.
    let app = spawn_app_with(TestAppOptions {
        default_artifact_root: Some("client-root".into()),
        ..TestAppOptions::default()
    })
    .await;
    let (_, id) = app.experiment_with_run("local").await;
    let root_uri = app.get_run(&id).await["info"]["artifact_uri"].as_str().unwrap().to_string();
    let root = Path::new(&root_uri);
    assert!(root.is_absolute(), "{root_uri}");
    assert!(!root.exists(), "the server does not create a client's root");

    // Nothing written yet: an empty listing, a 404, and still nothing created.
    assert_keys(&list(&app, &id, None).await, &["root_uri"]);
    assert_eq!(get_artifact(&app, &id, "a.txt").await.status(), 404);
    assert!(!root.exists());

    write_files(root, &[("images/step-0.png", b"png0"), ("images/step-1.png", b"png1"), ("metrics.json", b"{}")]);
    std::fs::create_dir_all(root.join("empty")).unwrap();
    let listing = list(&app, &id, None).await;
    assert_eq!(listing["root_uri"], root_uri.as_str());
    assert_eq!(paths(&listing), vec![folder("empty"), folder("images"), file("metrics.json", 2)]);
    assert_eq!(
        paths(&list(&app, &id, Some("images/")).await),
        vec![file("images/step-0.png", 4), file("images/step-1.png", 4)]
    );
    let png = get_artifact(&app, &id, "images/step-1.png").await;
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(png.bytes().await.unwrap().as_ref(), b"png1");
    assert_eq!(upload(&app, &format!("run_uuid={id}&path=ui/u.txt"), "ui").await.status(), 200);
    assert_eq!(std::fs::read(root.join("ui/u.txt")).unwrap(), b"ui");
}

#[tokio::test]
async fn file_uris_are_read_as_local_paths() {
    let app = spawn_app_with(TestAppOptions::default()).await;
    let base = app.data_dir().join("file root");
    let location = format!("file://{}", base.display()).replace(' ', "%20");
    let body = json!({ "name": "f", "artifact_location": location });
    let experiment_id =
        app.post_json("experiments/create", &body).await.ok()["experiment_id"].as_str().unwrap().to_string();
    let id = app.create_run(&experiment_id).await;
    let root_uri = app.get_run(&id).await["info"]["artifact_uri"].as_str().unwrap().to_string();
    assert_eq!(root_uri, format!("{location}/{id}/artifacts"));
    // The URI's path, decoded (`%20` is a space), is the folder.
    write_files(&base.join(&id).join("artifacts"), &[("dir/a.txt", b"a"), ("b.txt", b"bb")]);
    assert_eq!(paths(&list(&app, &id, None).await), vec![file("b.txt", 2), folder("dir")]);
    assert_eq!(paths(&list(&app, &id, Some("dir")).await), vec![file("dir/a.txt", 1)]);
    assert_eq!(get_artifact(&app, &id, "dir/a.txt").await.text().await.unwrap(), "a");
}

#[tokio::test]
async fn roots_the_server_does_not_read_list_as_empty_and_refuse_files() {
    let app = spawn_app_with(TestAppOptions::default()).await;
    for (i, location) in [
        "hdfs://namenode:8020/mlflow",
        "dbfs:/databricks/mlflow",
        "http://elsewhere.example/not-the-proxy",
        "ftp://files.example/mlflow",
    ]
    .iter()
    .enumerate()
    {
        let body = json!({ "name": format!("x{i}"), "artifact_location": location });
        let experiment_id =
            app.post_json("experiments/create", &body).await.ok()["experiment_id"].as_str().unwrap().to_string();
        let id = app.create_run(&experiment_id).await;
        let listing = list(&app, &id, None).await;
        assert_keys(&listing, &["root_uri"]);
        let download = json_of(get_artifact(&app, &id, "a.txt").await).await;
        assert_eq!(
            (download.0, download.1["error_code"].as_str()),
            (400, Some("INVALID_PARAMETER_VALUE")),
            "{location}"
        );
        let written = json_of(upload(&app, &format!("run_uuid={id}&path=a.txt"), "x").await).await;
        assert_eq!((written.0, written.1["error_code"].as_str()), (400, Some("INVALID_PARAMETER_VALUE")), "{location}");
    }
}

#[tokio::test]
async fn without_the_proxy_local_roots_are_still_read_and_proxied_ones_are_not() {
    // `--no-serve-artifacts --default-artifact-root <folder>`.
    let app = spawn_app_with(TestAppOptions {
        artifacts: Artifacts::NotServed,
        default_artifact_root: Some("direct".into()),
        ..TestAppOptions::default()
    })
    .await;
    let (_, id) = app.experiment_with_run("direct").await;
    let root_uri = app.get_run(&id).await["info"]["artifact_uri"].as_str().unwrap().to_string();
    write_files(Path::new(&root_uri), &[("model/MLmodel", b"flavors: {}")]);
    assert_eq!(paths(&list(&app, &id, Some("model")).await), vec![file("model/MLmodel", 11)]);
    assert_eq!(get_artifact(&app, &id, "model/MLmodel").await.text().await.unwrap(), "flavors: {}");

    let body = json!({ "name": "p", "artifact_location": "mlflow-artifacts:/p" });
    let experiment_id =
        app.post_json("experiments/create", &body).await.ok()["experiment_id"].as_str().unwrap().to_string();
    let proxied = app.create_run(&experiment_id).await;
    assert_keys(&list(&app, &proxied, None).await, &["root_uri"]);
    assert_eq!(get_artifact(&app, &proxied, "a.txt").await.status(), 400);
}

// ------------------------------------------------------------------ registry and logged models

#[tokio::test]
async fn model_version_artifacts_come_from_the_version_source() {
    let server = spawn(ServerConfig::default()).await;
    let (experiment_id, run) = server.create_run("versions").await;
    let (dir, id) = (run_dir(&run), run_id(&run));
    server.put_ok(&format!("{dir}/model/MLmodel"), "from the run").await;
    let body = json!({ "experiment_id": experiment_id, "source_run_id": id });
    let model = server.post_json("logged-models", &body).await.ok()["model"]["info"].clone();
    let model_id = model["model_id"].as_str().unwrap();
    let model_dir = model["artifact_uri"].as_str().unwrap().strip_prefix("mlflow-artifacts:/").unwrap();
    server.put_ok(&format!("{model_dir}/MLmodel"), "from the logged model").await;
    server.put_ok(&format!("{model_dir}/data/model.pkl"), "pkl").await;

    server.post_json("registered-models/create", &json!({ "name": "churn" })).await.ok();
    for body in [
        json!({ "name": "churn", "source": format!("mlflow-artifacts:/{dir}/model"), "run_id": id }),
        json!({ "name": "churn", "source": format!("runs:/{id}/model"), "run_id": id }),
        json!({ "name": "churn", "source": format!("models:/{model_id}"), "model_id": model_id }),
    ] {
        server.post_json("model-versions/create", &body).await.ok();
    }
    let get = |query: &str| {
        let url = server.url(&format!("/model-versions/get-artifact?{query}"));
        let client = server.client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    for (version, text) in [(1, "from the run"), (2, "from the run"), (3, "from the logged model")] {
        let response = get(&format!("name=churn&version={version}&path=MLmodel")).await;
        assert_eq!(response.status(), 200, "version {version}");
        assert_eq!(response.headers()["content-type"], "text/plain");
        assert_eq!(response.headers()["content-disposition"], "attachment; filename=\"MLmodel\"");
        assert_eq!(response.text().await.unwrap(), text, "version {version}");
    }
    let pkl = get("name=churn&version=3&path=data/model.pkl").await;
    assert_eq!(pkl.headers()["content-type"], "application/octet-stream");

    let unknown = json_of(get("name=churn&version=9&path=MLmodel").await).await;
    assert_error(&unknown, 404, "RESOURCE_DOES_NOT_EXIST", "Model Version (name=churn, version=9) not found");
    let bad_version = json_of(get("name=churn&version=x&path=MLmodel").await).await;
    assert_error(&bad_version, 400, "INVALID_PARAMETER_VALUE", "Parameter 'version' must be an integer, got 'x'.");
    for mistake in ["version=1&path=MLmodel", "name=churn&path=MLmodel", "name=churn&version=1"] {
        let answer = json_of(get(mistake).await).await;
        assert_eq!((answer.0, answer.1["error_code"].as_str()), (400, Some("INVALID_PARAMETER_VALUE")), "{mistake}");
    }
    let missing = json_of(get("name=churn&version=1&path=nope").await).await;
    assert_error(&missing, 404, "RESOURCE_DOES_NOT_EXIST", "No such artifact: 'nope'");
}

#[tokio::test]
async fn logged_model_files_and_directories_answer_in_mlflows_shapes() {
    let server = spawn(ServerConfig::default()).await;
    let (experiment_id, _) = server.create_run("logged").await;
    let body = json!({ "experiment_id": experiment_id, "name": "m" });
    let info = server.post_json("logged-models", &body).await.ok()["model"]["info"].clone();
    let model_id = info["model_id"].as_str().unwrap().to_string();
    let root_uri = info["artifact_uri"].as_str().unwrap().to_string();
    let dir = root_uri.strip_prefix("mlflow-artifacts:/").unwrap().to_string();
    for (path, body) in [("MLmodel", "flavors: {}"), ("data/model.pkl", "pkl"), ("data/sub/x.txt", "x"), ("empty", "")]
    {
        server.put_ok(&format!("{dir}/{path}"), body).await;
    }

    let files = |query: &str| {
        let url = server.url(&format!("/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files{query}"));
        let client = server.client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let mlmodel = files("?artifact_file_path=MLmodel").await;
    assert_eq!(mlmodel.headers()["content-type"], "text/plain");
    assert_eq!(mlmodel.headers()["x-content-type-options"], "nosniff");
    assert_eq!(mlmodel.text().await.unwrap(), "flavors: {}");
    let pkl = files("?artifact_file_path=data%2Fmodel.pkl").await;
    assert_eq!(pkl.headers()["content-type"], "application/octet-stream");
    let required = "Request must include the \"artifact_file_path\" query parameter.";
    for query in ["", "?artifact_file_path="] {
        assert_error(&json_of(files(query).await).await, 400, "BAD_REQUEST", required);
    }
    let on_folder = json_of(files("?artifact_file_path=data").await).await;
    assert_eq!(on_folder.0, 400, "{}", on_folder.1);
    let unknown = server.url("/ajax-api/2.0/mlflow/logged-models/m-nope/artifacts/files?artifact_file_path=MLmodel");
    let unknown = json_of(server.client.get(unknown).send().await.unwrap()).await;
    assert_error(&unknown, 404, "RESOURCE_DOES_NOT_EXIST", "Logged model with ID 'm-nope' not found.");
    // MLflow mounts the download under /ajax-api only.
    let api =
        server.url(&format!("/api/2.0/mlflow/logged-models/{model_id}/artifacts/files?artifact_file_path=MLmodel"));
    assert_eq!(server.client.get(api).send().await.unwrap().status(), 404);

    // The listing: `root_uri` and `files`, no `next_page_token` (MLflow sends none, and
    // ignores `page_token`), sizes left out for folders and empty files.
    let app: &TestApp = &server;
    let listing = |query: &str| {
        let url = app.api(&format!("logged-models/{model_id}/artifacts/directories{query}"));
        async move { app.get_url(&url).await }
    };
    let top = listing("").await.ok();
    assert_keys(&top, &["root_uri", "files"]);
    assert_eq!(top["root_uri"], root_uri.as_str());
    assert_eq!(paths(&top), vec![file("MLmodel", 11), folder("data"), ("empty".into(), false, None)]);
    assert_eq!(listing("?page_token=abc").await.ok(), top);
    assert_eq!(listing("?artifact_directory_path=").await.ok(), top);
    for data in ["data", "data/"] {
        let sub = listing(&format!("?artifact_directory_path={data}")).await.ok();
        assert_eq!(paths(&sub), vec![file("data/model.pkl", 3), folder("data/sub")], "{data}");
    }
    assert_keys(&listing("?artifact_directory_path=MLmodel").await.ok(), &["root_uri"]);
    let ajax = server.url(&format!("/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/directories"));
    assert_eq!(server.get_url(&ajax).await.ok(), top);
}

#[tokio::test]
async fn sources_on_the_servers_own_artifact_host_are_registered() {
    let proxy_root = "http://tracking.example:5000/api/2.0/mlflow-artifacts/artifacts";
    let config = ServerConfig { trusted_artifact_locations: vec![proxy_root.to_string()], ..ServerConfig::default() };
    let server = spawn(config).await;
    let body = json!({ "name": "http-registry", "artifact_location": format!("{proxy_root}/reg") });
    let experiment_id =
        server.post_json("experiments/create", &body).await.ok()["experiment_id"].as_str().unwrap().to_string();
    let run = server.post_json("runs/create", &json!({ "experiment_id": experiment_id })).await.ok()["run"].clone();
    let (id, root_uri) = (run_id(&run), run["info"]["artifact_uri"].as_str().unwrap().to_string());
    server.put_ok(&format!("reg/{id}/artifacts/model/MLmodel"), "flavors: {}").await;
    server.post_json("registered-models/create", &json!({ "name": "web" })).await.ok();
    // What MLflow 2's `register_model("runs:/…")` sends: the run's root URL.
    let source = format!("{root_uri}/model");
    server.post_json("model-versions/create", &json!({ "name": "web", "source": source, "run_id": id })).await.ok();
    let response = server.client.get(server.url("/model-versions/get-artifact?name=web&version=1&path=MLmodel"));
    assert_eq!(response.send().await.unwrap().text().await.unwrap(), "flavors: {}");
    // Another host, or the same one on another port, is still refused.
    for other in [
        format!("http://elsewhere.example:5000/api/2.0/mlflow-artifacts/artifacts/reg/{id}/artifacts/model"),
        format!("http://tracking.example:5001/api/2.0/mlflow-artifacts/artifacts/reg/{id}/artifacts/model"),
        format!("https://tracking.example/api/2.0/mlflow-artifacts/artifacts/reg/{id}/artifacts/model"),
    ] {
        let body = json!({ "name": "web", "source": other, "run_id": id });
        let message = server.post_json("model-versions/create", &body).await.invalid();
        assert!(message.contains("addresses a host other than"), "{other}: {message}");
    }
    // Without the setting (the server's own roots unknown), an http source is refused, as before.
    let plain = spawn(ServerConfig::default()).await;
    plain.post_json("registered-models/create", &json!({ "name": "web" })).await.ok();
    let body = json!({ "name": "web", "source": source });
    assert!(plain.post_json("model-versions/create", &body).await.invalid().contains("addresses a host other than"));
}
