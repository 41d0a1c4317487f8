//! Regression tests for MLflow's artifact-path CVE classes, against the real router over
//! real HTTP. Requests are written byte for byte on a TCP socket, so `..` segments,
//! percent-escapes, backslashes and NUL bytes reach the server exactly as an attacker
//! would send them (an HTTP client library would normalise or refuse several of them).
//!
//! Every server has a secret planted outside its artifact root (beside it, and one and two
//! levels up). Whatever is asked, the answer is a 400 (`INVALID_PARAMETER_VALUE`) or a
//! 404, never a 5xx, never the secret, and no file outside the root changes.

mod common;

use common::artifacts::{spawn, ArtifactServer, RawResponse, SECRET};
use ferroflow_server::ServerConfig;
use serde_json::{json, Value};

const PROXY: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// Asserts an answer reveals nothing and is a 400/404 refusal. A body, when there is one,
/// is MLflow's JSON error (an empty body is a refusal by the HTTP layer itself).
#[track_caller]
fn assert_refused(response: &RawResponse, what: &str) {
    assert_no_leak(response, what);
    assert!(
        matches!(response.status, 400 | 404),
        "{what}: expected 400 or 404, got {} with body {:?}",
        response.status,
        response.text()
    );
    if response.body.is_empty() {
        return;
    }
    let body = response.json();
    let code =
        body["error_code"].as_str().unwrap_or_else(|| panic!("{what}: not an MLflow error: {:?}", response.text()));
    let expected: &[&str] = if response.status == 400 {
        &["INVALID_PARAMETER_VALUE"]
    } else {
        &["RESOURCE_DOES_NOT_EXIST", "ENDPOINT_NOT_FOUND"]
    };
    assert!(expected.contains(&code), "{what}: {} with error_code {code}: {:?}", response.status, response.text());
}

/// Asserts an answer is no server error and carries nothing from outside the root.
#[track_caller]
fn assert_no_leak(response: &RawResponse, what: &str) {
    assert!(response.status < 500, "{what}: server error {} {:?}", response.status, response.text());
    assert!(!response.text().contains(SECRET), "{what}: the secret leaked: {:?}", response.text());
    for (name, value) in &response.headers {
        assert!(!value.contains(SECRET), "{what}: the secret leaked in header {name}");
    }
}

/// Sends each target with each method and asserts each is refused; then asserts nothing
/// outside the root changed.
async fn assert_all_refused(server: &ArtifactServer, methods: &[&str], targets: &[String]) {
    let before = server.files_outside_root();
    for target in targets {
        for method in methods {
            let body: &[u8] = if *method == "PUT" { b"PWNED" } else { b"" };
            let response = server.raw(method, target, body).await;
            assert_refused(&response, &format!("{method} {target}"));
        }
    }
    assert_eq!(server.files_outside_root(), before, "a file outside the artifact root changed");
    for (path, bytes) in server.files_on_disk() {
        assert_ne!(bytes, b"PWNED", "a refused upload was stored at {path}");
    }
}

fn proxied(paths: &[&str]) -> Vec<String> {
    paths
        .iter()
        .flat_map(|p| [format!("{PROXY}/{p}"), format!("/ajax-api/2.0/mlflow-artifacts/artifacts/{p}")])
        .collect()
}

/// Stores `a/b/file.txt` so traversals have a real starting point inside the root.
async fn with_a_file(server: &ArtifactServer) {
    server.put_ok("a/b/file.txt", "inside").await;
}

#[tokio::test]
async fn cve_2023_1177_dot_dot_segments_never_leave_the_root() {
    let server = spawn(ServerConfig::default()).await;
    with_a_file(&server).await;
    let targets = proxied(&[
        "..",
        "../secret.txt",
        "../../secret.txt",
        "../../../secret.txt",
        "../../../../../../../../etc/passwd",
        "a/../../secret.txt",
        "a/b/../../../secret.txt",
        "a/b/../../../../secret.txt",
        "a/./b/file.txt",
        "./a/b/file.txt",
        "a/b/..",
        "a/b/../file.txt",
        "../artifacts/a/b/file.txt",
        "../artifacts-secret.txt",
    ]);
    assert_all_refused(&server, &["GET", "PUT", "DELETE"], &targets).await;
    // Dot segments before the artifact route never reach a file either.
    let around = [
        "/api/2.0/mlflow-artifacts/artifacts/../artifacts/../../secret.txt".to_string(),
        "/api/2.0/mlflow-artifacts/../../secret.txt".to_string(),
        "/../../secret.txt".to_string(),
        "/api/2.0/mlflow-artifacts/artifacts/a/b/file.txt/../../../../secret.txt".to_string(),
    ];
    assert_all_refused(&server, &["GET"], &around).await;
    // The file the traversals started from is still there, untouched.
    let file = server.raw("GET", &format!("{PROXY}/a/b/file.txt"), b"").await;
    assert_eq!((file.status, file.text().as_str()), (200, "inside"));
}

#[tokio::test]
async fn cve_2023_6831_deletion_cannot_reach_outside_the_root() {
    let server = spawn(ServerConfig::default()).await;
    with_a_file(&server).await;
    let targets = proxied(&[
        "..",
        "../secret.txt",
        "../../secret.txt",
        "a/../../secret.txt",
        "a/b/../../../secret.txt",
        "%2e%2e/secret.txt",
        "..%2fsecret.txt",
        "..%2F..%2Fsecret.txt",
        "a%2f..%2f..%2fsecret.txt",
        "..%5csecret.txt",
        "%2fetc%2fpasswd",
        "/",
        "/srv",
        "%00",
    ]);
    assert_all_refused(&server, &["DELETE"], &targets).await;
    let file = server.raw("GET", &format!("{PROXY}/a/b/file.txt"), b"").await;
    assert_eq!(file.status, 200, "a refused delete removed a file inside the root");
    // The secret next to the root (the one `..` names) survived every attempt.
    assert_eq!(std::fs::read_to_string(server.root.parent().unwrap().join("secret.txt")).unwrap(), SECRET);
}

#[tokio::test]
async fn cve_2024_1558_absolute_paths_are_refused() {
    let server = spawn(ServerConfig::default()).await;
    let secret = server.outside.join("secret.txt");
    let secret = secret.to_str().unwrap();
    let encoded_secret = secret.replace('/', "%2F");
    let targets = proxied(&[
        "/etc/passwd",
        "//etc/passwd",
        "%2Fetc%2Fpasswd",
        "%2fetc/passwd",
        &format!("/{secret}"),
        &encoded_secret,
        &format!("file:{encoded_secret}"),
        "file:%2F%2F%2Fetc%2Fpasswd",
        "C:/Windows/win.ini",
        "C:%5CWindows%5Cwin.ini",
        "c:secret.txt",
        "%5C%5Cserver%5Cshare%5Csecret.txt",
    ]);
    assert_all_refused(&server, &["GET", "PUT", "DELETE"], &targets).await;
}

#[tokio::test]
async fn cve_2024_0520_and_1558_model_version_sources_cannot_point_outside() {
    // MLflow's fixes for CVE-2024-1558 (and the source-handling half of CVE-2024-0520):
    // a version's source may not be a local path outside its run's artifacts, and no
    // source may carry `..`, encoded or not.
    let server = spawn(ServerConfig::default()).await;
    let (_, run) = server.create_run("sources").await;
    let run_id = run["info"]["run_id"].as_str().unwrap();
    let artifact_uri = run["info"]["artifact_uri"].as_str().unwrap();
    let create = server
        .client
        .post(server.url("/api/2.0/mlflow/registered-models/create"))
        .json(&json!({ "name": "victim" }))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 200);
    let outside = server.outside.join("secret.txt").display().to_string();
    let sources = [
        (outside.clone(), None),
        (outside.clone(), Some(run_id)),
        (format!("file://{outside}"), Some(run_id)),
        ("/etc/passwd".to_string(), Some(run_id)),
        (format!("{}/../../../../secret.txt", server.root.display()), Some(run_id)),
        (format!("{artifact_uri}/../../../../secret.txt"), Some(run_id)),
        (format!("{artifact_uri}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt"), Some(run_id)),
        (format!("{artifact_uri}/%252e%252e/%252e%252e/secret.txt"), Some(run_id)),
        ("mlflow-artifacts:/../../secret.txt".to_string(), None),
        ("mlflow-artifacts:/0/%2E%2E/%2E%2E/%2E%2E/secret.txt".to_string(), None),
        ("s3://bucket/../../secret.txt".to_string(), None),
        ("http://host/a/%2e%2e/%2e%2e/secret.txt".to_string(), None),
        ("mlflow-artifacts:/0/a\0/secret.txt".to_string(), None),
    ];
    for (source, run) in sources {
        let mut body = json!({ "name": "victim", "source": source });
        if let Some(run) = run {
            body["run_id"] = json!(run);
        }
        let response = server
            .raw_with_headers(
                "POST",
                "/api/2.0/mlflow/model-versions/create",
                &[("Content-Type", "application/json")],
                body.to_string().as_bytes(),
            )
            .await;
        assert_refused(&response, &format!("model version source {source:?} (run_id {run:?})"));
    }
    // And nothing was registered.
    let versions = server.raw("GET", "/api/2.0/mlflow/registered-models/get?name=victim", b"").await;
    assert_eq!(versions.status, 200);
    assert!(versions.json()["registered_model"].get("latest_versions").is_none(), "{}", versions.text());
}

#[tokio::test]
async fn url_encoded_traversals_are_decoded_then_refused() {
    let server = spawn(ServerConfig::default()).await;
    with_a_file(&server).await;
    let targets = proxied(&[
        "%2e%2e%2fsecret.txt",
        "%2E%2E%2Fsecret.txt",
        "%2e%2e/secret.txt",
        "%2e%2e/%2e%2e/secret.txt",
        ".%2e/secret.txt",
        "%2e./secret.txt",
        "a/%2e%2e/%2e%2e/secret.txt",
        "a%2F%2E%2E%2F%2E%2E%2Fsecret.txt",
        "%2e",
        "%2e%2e",
        "a/%2e/b/file.txt",
    ]);
    assert_all_refused(&server, &["GET", "PUT", "DELETE"], &targets).await;
}

#[tokio::test]
async fn double_encoded_traversals_are_refused() {
    // Decoded once, `%252e%252e` is the name `%2e%2e`; MLflow decodes until the path stops
    // changing before it checks it, so to it (and to any layer that decodes again) this is
    // a `..`. It is refused rather than stored under a name that means "parent" elsewhere.
    let server = spawn(ServerConfig::default()).await;
    with_a_file(&server).await;
    let targets = proxied(&[
        "%252e%252e%252fsecret.txt",
        "%252e%252e/%252e%252e/secret.txt",
        "a/%252e%252e/%252e%252e/%252e%252e/secret.txt",
        "%25252e%25252e%25252fsecret.txt",
        "%252fetc%252fpasswd",
        "..%255csecret.txt",
        "a%2523b",
        "a%2500b",
    ]);
    assert_all_refused(&server, &["GET", "PUT", "DELETE"], &targets).await;
    let list = [format!("{PROXY}?path=%252e%252e"), format!("{PROXY}?path=a%252f%252e%252e%252f%252e%252e")];
    assert_all_refused(&server, &["GET"], &list).await;
    // An ordinary escaped name still works: `%2520` is the name `%20`.
    server.put_ok("a/with%2520escape.txt", "ok").await;
    let get = server.raw("GET", &format!("{PROXY}/a/with%2520escape.txt"), b"").await;
    assert_eq!((get.status, get.text().as_str()), (200, "ok"));
}

#[tokio::test]
async fn backslash_traversals_are_refused() {
    let server = spawn(ServerConfig::default()).await;
    with_a_file(&server).await;
    let targets = proxied(&[
        "..\\secret.txt",
        "..\\..\\secret.txt",
        "a\\..\\..\\..\\secret.txt",
        "..%5csecret.txt",
        "..%5C..%5Csecret.txt",
        "a%5C..%5C..%5Csecret.txt",
        "a/b\\file.txt",
        "%5cetc%5cpasswd",
    ]);
    assert_all_refused(&server, &["GET", "PUT", "DELETE"], &targets).await;
    let list = [format!("{PROXY}?path=..%5C..%5C"), format!("{PROXY}?path=..\\.."), format!("{PROXY}?path=a%5Cb")];
    assert_all_refused(&server, &["GET"], &list).await;
}

#[tokio::test]
async fn absolute_etc_passwd_is_refused_everywhere() {
    let server = spawn(ServerConfig::default()).await;
    let (_, run) = server.create_run("abs").await;
    let run_id = run["info"]["run_id"].as_str().unwrap();
    let targets = vec![
        format!("{PROXY}//etc/passwd"),
        format!("{PROXY}/%2Fetc%2Fpasswd"),
        format!("{PROXY}?path=/etc"),
        format!("{PROXY}?path=%2Fetc"),
        format!("{PROXY}?path=//etc"),
        format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=/etc"),
        format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=%2Fetc%2Fpasswd"),
    ];
    assert_all_refused(&server, &["GET"], &targets).await;
}

#[tokio::test]
async fn nul_bytes_are_refused() {
    let server = spawn(ServerConfig::default()).await;
    with_a_file(&server).await;
    let targets =
        proxied(&["%00", "a/b/file.txt%00", "a/b/file.txt%00.png", "a%00/../../secret.txt", "..%00/secret.txt"]);
    assert_all_refused(&server, &["GET", "PUT", "DELETE"], &targets).await;
    assert_all_refused(&server, &["GET"], &[format!("{PROXY}?path=a%00")]).await;
    // A raw NUL in the request line is refused by the HTTP layer.
    let raw = server.raw("GET", &format!("{PROXY}/a\0b"), b"").await;
    assert_refused(&raw, "raw NUL");
}

#[tokio::test]
async fn empty_paths_are_refused_for_writes_and_deletes() {
    let server = spawn(ServerConfig::default()).await;
    with_a_file(&server).await;
    let targets = vec![
        format!("{PROXY}/"),
        format!("{PROXY}//"),
        format!("{PROXY}///"),
        PROXY.to_string(),
        format!("{PROXY}/a//b"),
        format!("{PROXY}/a/b//"),
        format!("{PROXY}//a/b"),
    ];
    assert_all_refused(&server, &["PUT", "DELETE"], &targets).await;
    // The root and the file inside are still there.
    let listing = server.raw("GET", PROXY, b"").await;
    assert_eq!(listing.status, 200);
    assert_eq!(listing.json()["files"][0]["path"], "a", "{}", listing.text());
    assert_eq!(server.files_on_disk(), vec![("a/b/file.txt".to_string(), b"inside".to_vec())]);
}

#[tokio::test]
async fn fragments_are_refused() {
    let server = spawn(ServerConfig::default()).await;
    with_a_file(&server).await;
    let targets =
        proxied(&["a/b/file.txt%23", "a/b/file.txt%23.png", "%23/../../secret.txt", "a%23/b", "..%23/secret.txt"]);
    assert_all_refused(&server, &["GET", "PUT", "DELETE"], &targets).await;
    // A raw `#` starts a fragment, which is no part of the request target: what follows
    // it never reaches a handler, and what precedes it is checked as usual.
    let before = server.files_outside_root();
    for target in [format!("{PROXY}/../secret.txt#x"), format!("{PROXY}/..#/a/b/file.txt")] {
        for method in ["GET", "PUT", "DELETE"] {
            let response = server.raw(method, &target, b"x").await;
            assert_refused(&response, &format!("{method} {target}"));
        }
    }
    for target in [format!("{PROXY}/nothing#/../../../secret.txt"), format!("{PROXY}/nothing#%2f..%2f..%2fsecret.txt")]
    {
        let response = server.raw("GET", &target, b"").await;
        assert_refused(&response, &format!("GET {target}"));
        let response = server.raw("DELETE", &target, b"").await;
        assert_no_leak(&response, &format!("DELETE {target}"));
    }
    assert_eq!(server.files_outside_root(), before, "a file outside the artifact root changed");
    assert_all_refused(&server, &["GET"], &[format!("{PROXY}?path=a%23b")]).await;
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_planted_in_the_root_are_never_followed() {
    let server = spawn(ServerConfig::default()).await;
    let (_, run) = server.create_run("links").await;
    let run_id = run["info"]["run_id"].as_str().unwrap();
    let run_dir = run["info"]["artifact_uri"].as_str().unwrap().strip_prefix("mlflow-artifacts:/").unwrap().to_string();
    server.put_ok(&format!("{run_dir}/real.txt"), "real").await;
    server.put_ok("keep/inside.txt", "inside").await;
    // A directory link and a file link at the top, and both inside a run's artifacts.
    let link = |name: &str, to: &std::path::Path| std::os::unix::fs::symlink(to, server.root.join(name)).unwrap();
    link("escape", &server.outside);
    link("leak.txt", &server.outside.join("secret.txt"));
    link(&format!("{run_dir}/escape"), &server.outside);
    link(&format!("{run_dir}/leak.txt"), &server.outside.join("secret.txt"));
    link("keep/up", server.root.parent().unwrap());

    let mut targets = proxied(&[
        "escape",
        "escape/secret.txt",
        "escape/new.txt",
        "leak.txt",
        "keep/up/secret.txt",
        "keep/up/artifacts/keep/inside.txt",
        &format!("{run_dir}/escape/secret.txt"),
        &format!("{run_dir}/leak.txt"),
    ]);
    targets.extend([
        format!("{PROXY}?path=escape"),
        format!("{PROXY}?path=keep/up"),
        format!("{PROXY}?path={run_dir}/escape"),
        format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=escape"),
    ]);
    assert_all_refused(&server, &["GET"], &targets).await;
    assert_all_refused(&server, &["PUT", "DELETE"], &targets[..16]).await;

    // Listings that contain a link never describe what lies behind it.
    for target in [
        PROXY.to_string(),
        format!("{PROXY}?path=keep"),
        format!("{PROXY}?path={run_dir}"),
        format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}"),
    ] {
        let response = server.raw("GET", &target, b"").await;
        assert_no_leak(&response, &target);
        assert_eq!(response.status, 200, "{target}: {}", response.text());
        let files = response.json()["files"].as_array().cloned().unwrap_or_default();
        for file in &files {
            let name = file["path"].as_str().unwrap();
            if name.ends_with("leak.txt") || name.ends_with("escape") || name.ends_with("up") {
                assert_ne!(file["file_size"], json!(SECRET.len()), "{target} sized the link target: {file}");
            }
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn cve_2023_6831_deleting_folders_that_hold_links_never_touches_their_targets() {
    let server = spawn(ServerConfig::default()).await;
    let (_, run) = server.create_run("links").await;
    let run_dir = run["info"]["artifact_uri"].as_str().unwrap().strip_prefix("mlflow-artifacts:/").unwrap().to_string();
    server.put_ok(&format!("{run_dir}/real.txt"), "real").await;
    server.put_ok("keep/inside.txt", "inside").await;
    server.put_ok("other/kept.txt", "kept").await;
    let link = |name: &str, to: &std::path::Path| std::os::unix::fs::symlink(to, server.root.join(name)).unwrap();
    link(&format!("{run_dir}/escape"), &server.outside);
    link(&format!("{run_dir}/leak.txt"), &server.outside.join("secret.txt"));
    link("keep/up", server.root.parent().unwrap());
    link("keep/root", &server.root);
    let before = server.files_outside_root();

    // Deleting a folder that holds links removes the links, never what they point at.
    for folder in [run_dir.as_str(), "keep"] {
        let delete = server.raw("DELETE", &format!("{PROXY}/{folder}"), b"").await;
        assert_eq!(server.files_outside_root(), before, "DELETE {folder} changed a file outside the artifact root");
        assert_no_leak(&delete, &format!("DELETE {folder}"));
        assert!(matches!(delete.status, 200 | 400), "DELETE {folder}: {} {:?}", delete.status, delete.text());
    }
    assert_eq!(std::fs::read_to_string(server.outside.join("secret.txt")).unwrap(), SECRET);
    // Nor what a link to the root itself leads back to.
    let kept = server.raw("GET", &format!("{PROXY}/other/kept.txt"), b"").await;
    assert_eq!((kept.status, kept.text().as_str()), (200, "kept"));
}

#[tokio::test]
async fn listing_with_a_traversal_is_refused() {
    let server = spawn(ServerConfig::default()).await;
    with_a_file(&server).await;
    let targets: Vec<String> = [
        "..",
        "../..",
        "../../..",
        "a/../..",
        "a/b/../../..",
        "%2e%2e",
        "%2E%2E%2F%2E%2E",
        "./a",
        "a/./b",
        "..%2F",
        "a//b",
        "a/b/../../../outside",
    ]
    .iter()
    .flat_map(|p| {
        let encoded = p.replace('/', "%2F");
        [format!("{PROXY}?path={p}"), format!("{PROXY}?path={encoded}"), format!("{PROXY}/?path={p}")]
    })
    .collect();
    assert_all_refused(&server, &["GET"], &targets).await;
}

#[tokio::test]
async fn run_artifact_listing_with_a_traversal_is_refused() {
    let server = spawn(ServerConfig::default()).await;
    let (experiment_id, run) = server.create_run("list").await;
    let run_id = run["info"]["run_id"].as_str().unwrap();
    let run_dir = run["info"]["artifact_uri"].as_str().unwrap().strip_prefix("mlflow-artifacts:/").unwrap().to_string();
    server.put_ok(&format!("{run_dir}/inside.txt"), "run file").await;
    // Another run's files are outside this run's root too.
    server.put_ok(&format!("{experiment_id}/other-run/artifacts/theirs.txt"), "theirs").await;

    let mut targets = Vec::new();
    for path in ["../../..", "..", "../../other-run/artifacts", "%2e%2e/%2e%2e", "..%2F..%2F..", "a/../..", "/", "/etc"]
    {
        for prefix in ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"] {
            targets.push(format!("{prefix}/artifacts/list?run_id={run_id}&path={path}"));
            targets.push(format!("{prefix}/artifacts/list?run_uuid={run_id}&path={path}"));
        }
    }
    assert_all_refused(&server, &["GET"], &targets).await;
    // The same request without the traversal works and shows only this run's file.
    let ok = server.raw("GET", &format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}"), b"").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let body: Value = ok.json();
    assert_eq!(body["files"], json!([{ "path": "inside.txt", "is_dir": false, "file_size": 8 }]));
}

#[tokio::test]
async fn logged_model_artifact_listing_with_a_traversal_is_refused() {
    let server = spawn(ServerConfig::default()).await;
    let (experiment_id, _) = server.create_run("models").await;
    let model = server.post_json("logged-models", &json!({ "experiment_id": experiment_id, "name": "m" })).await.body;
    let model_id = model["model"]["info"]["model_id"].as_str().unwrap().to_string();
    let targets: Vec<String> = ["..", "../..", "../../../..", "%2e%2e%2f%2e%2e", "/etc", "a/../../.."]
        .iter()
        .map(|p| format!("/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories?artifact_directory_path={p}"))
        .collect();
    assert_all_refused(&server, &["GET"], &targets).await;
    let traversal_id = [
        "/api/2.0/mlflow/logged-models/..%2F..%2Fsecret.txt/artifacts/directories".to_string(),
        "/api/2.0/mlflow/logged-models/../../secret.txt/artifacts/directories".to_string(),
    ];
    assert_all_refused(&server, &["GET"], &traversal_id).await;
}

#[tokio::test]
async fn artifact_locations_that_only_share_a_prefix_with_the_root_are_not_served() {
    // `<root>-secret/…` or `<root>X/…` is not inside `<root>`: a string-prefix check would
    // map it into the root (or, with a `..`, out of it).
    let server = spawn(ServerConfig::default()).await;
    let root = server.root.display().to_string();
    for (i, location) in [
        format!("{root}X"),
        format!("{root}-secret"),
        format!("{root}/../outside"),
        format!("file://{root}/../outside"),
    ]
    .into_iter()
    .enumerate()
    {
        let experiment = server
            .post_json("experiments/create", &json!({ "name": format!("prefix-{i}"), "artifact_location": location }))
            .await
            .body;
        let Some(experiment_id) = experiment["experiment_id"].as_str() else {
            // Refusing such a location outright is fine too.
            continue;
        };
        let run = server.post_json("runs/create", &json!({ "experiment_id": experiment_id })).await.body;
        let run_id = run["run"]["info"]["run_id"].as_str().unwrap();
        let artifact_uri = run["run"]["info"]["artifact_uri"].as_str().unwrap();
        // Plant, inside the root, what a prefix-confused server would list for this run.
        if let Some(rest) = artifact_uri.strip_prefix(&root) {
            if let Ok(relative) = ferroflow_artifacts::ArtifactPath::parse(rest.trim_start_matches('/')) {
                server.put_ok(&format!("{}/planted.txt", relative.as_str()), "planted").await;
            }
        }
        std::fs::create_dir_all(server.outside.join(format!("{run_id}/artifacts"))).unwrap();
        std::fs::write(server.outside.join(format!("{run_id}/artifacts/secret.txt")), SECRET).unwrap();
        let response = server.raw("GET", &format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}"), b"").await;
        assert_no_leak(&response, &format!("list for location {location}"));
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(response.json()["root_uri"], artifact_uri);
        assert!(
            response.json().get("files").is_none(),
            "location {location} was served from the root: {}",
            response.text()
        );
    }
}

#[tokio::test]
async fn header_injection_through_file_names_is_impossible() {
    let server = spawn(ServerConfig::default()).await;
    let targets = proxied(&["a%0d%0aSet-Cookie:%20x=y.txt", "a%0aX-Injected:%201", "a%0d.txt", "%09tab", "a%7fb"]);
    assert_all_refused(&server, &["PUT", "GET"], &targets).await;
    // A quote in a name is stored, and the download header stays one well-formed value.
    server.put_ok("quote%22name.txt", "q").await;
    let response = server.raw("GET", &format!("{PROXY}/quote%22name.txt"), b"").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-disposition"), Some(r#"attachment; filename="quote\"name.txt""#));
    assert!(response.header("set-cookie").is_none());
}
