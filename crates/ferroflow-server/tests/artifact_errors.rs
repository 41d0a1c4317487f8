//! What clients hear when the artifact store's file system says no: a user's mistake is a
//! 400, and no answer names a server-side path (the artifact root, the folder holding it).
//! Staging files of uploads (`<name>#<n>`) and folders holding only them are never listed.

mod common;

use common::artifacts::spawn;
use ferroflow_server::ServerConfig;

const PROXY: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// Asserts that no server-side absolute path appears in an answer.
#[track_caller]
fn assert_names_no_server_path(text: &str, server_paths: &[&std::path::Path]) {
    for path in server_paths {
        assert!(!text.contains(&*path.to_string_lossy()), "{} in the answer {text}", path.display());
    }
}

#[tokio::test]
async fn names_too_long_for_the_file_system_are_the_clients_mistake() {
    let server = spawn(ServerConfig::default()).await;
    let long = "n".repeat(300);
    for path in [format!("0/run/artifacts/{long}"), format!("0/run/artifacts/{long}/model.bin")] {
        let response = server.raw("PUT", &format!("{PROXY}/{path}"), b"x").await;
        assert_eq!(response.status, 400, "{path}: {}", response.text());
        assert_eq!(response.json()["error_code"], "INVALID_PARAMETER_VALUE");
        assert_names_no_server_path(&response.text(), &[&server.root, &server.tmp]);
        let listing = server.raw("GET", &format!("{PROXY}?path={path}"), b"").await;
        // Nothing by that name exists: an empty listing, or a 400.
        assert!(matches!(listing.status, 200 | 400), "{path}: {} {}", listing.status, listing.text());
        assert_names_no_server_path(&listing.text(), &[&server.root, &server.tmp]);
        let download = server.raw("GET", &format!("{PROXY}/{path}"), b"").await;
        assert!(matches!(download.status, 400 | 404), "{path}: {} {}", download.status, download.text());
        assert_names_no_server_path(&download.text(), &[&server.root, &server.tmp]);
    }
    assert!(server.files_on_disk().is_empty(), "{:?}", server.files_on_disk());
}

#[tokio::test]
async fn staging_files_and_folders_holding_only_them_are_not_listed() {
    let server = spawn(ServerConfig::default()).await;
    server.put_ok("1/run/artifacts/real.txt", "real").await;
    // As an upload in progress, or one killed mid-way, leaves them.
    let staging = server.root.join("1/run/artifacts/model/data");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("model.bin#1"), "partial").unwrap();
    std::fs::write(server.root.join("1/run/artifacts/real.txt#2"), "partial").unwrap();

    let listing = server.raw("GET", &format!("{PROXY}?path=1/run/artifacts"), b"").await;
    assert_eq!(listing.status, 200);
    let files = listing.json()["files"].clone();
    assert_eq!(files, serde_json::json!([{"path": "real.txt", "is_dir": false, "file_size": 4}]));
    let inside = server.raw("GET", &format!("{PROXY}?path=1/run/artifacts/model"), b"").await;
    assert_eq!((inside.status, inside.json()), (200, serde_json::json!({})));
}
