//! Uploads interrupted by `kill -9` leave their staging file (`<name>#<n>`, see
//! `ferroflow_artifacts::staging`): it is never listed, the folder holding only it is
//! never listed, the next start removes it, and so does `ferroflow gc`.

mod common;

use std::time::Duration;

use common::{eventually, gc, plant, staging_files, DataPaths, Server};
use tokio::io::AsyncWriteExt;

const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_killed_mid_way_leaves_nothing_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let paths = DataPaths::in_dir(dir.path());
    let server = Server::start(&paths).await;
    let (status, _) = server.put_artifact("0/run/artifacts/kept.txt", "kept").await;
    assert_eq!(status, 200);

    // A 20 MiB upload of which 8 MiB arrive before the server is killed.
    let mut upload = tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
    let head = format!(
        "PUT /api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/model/data/model.bin HTTP/1.1\r\n\
         Host: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
        20 * MIB
    );
    upload.write_all(head.as_bytes()).await.unwrap();
    upload.write_all(&vec![7u8; 8 * MIB]).await.unwrap();
    let model_folder = paths.artifacts.join("0/run/artifacts/model");
    let staged = model_folder.join("data/model.bin#1");
    let part_written = eventually(|| std::fs::metadata(&staged).is_ok_and(|meta| meta.len() >= 5 * MIB as u64)).await;
    assert!(part_written, "the upload never reached its staging file: {:?}", staging_files(&paths.artifacts));
    server.kill_9();
    drop(upload);
    assert!(staged.exists(), "kill -9 leaves the staging file behind");

    let server = Server::start(&paths).await;
    // Whether or not the start-up sweep has run yet, the listing shows only real artifacts.
    assert_eq!(server.list_artifacts("0/run/artifacts").await, vec!["kept.txt"]);
    assert!(server.list_artifacts("0/run/artifacts/model").await.is_empty());
    let (status, _) = server.get_artifact("0/run/artifacts/model/data/model.bin").await;
    assert_eq!(status, 404);

    let swept = eventually(|| !model_folder.exists()).await;
    assert!(swept, "the start-up sweep left {:?}\n{}", staging_files(&paths.artifacts), server.log_text());
    assert!(staging_files(&paths.artifacts).is_empty());
    assert!(server.log_text().contains("removed the staging files of interrupted uploads"), "{}", server.log_text());
    let (status, kept) = server.get_artifact("0/run/artifacts/kept.txt").await;
    assert_eq!((status, kept.as_slice()), (200, &b"kept"[..]));

    // The same name uploads cleanly afterwards.
    let (status, _) = server.put_artifact("0/run/artifacts/model/data/model.bin", vec![1u8; 1000]).await;
    assert_eq!(status, 200);
    assert_eq!(server.list_artifacts("0/run/artifacts").await, vec!["kept.txt", "model"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_staging_leftovers_older_than_its_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let paths = DataPaths::in_dir(dir.path());
    let server = Server::start(&paths).await;
    let (status, _) = server.put_artifact("1/run/artifacts/real.txt", "real").await;
    assert_eq!(status, 200);
    drop(server);

    let two_hours = Duration::from_secs(2 * 3600);
    plant(&paths, "1/run/artifacts/model/model.bin#1", 3000, two_hours);
    plant(&paths, ".ferroflow-mpu/0123456789abcdef0123456789abcdef/parts/1.ab#1", 500, two_hours);
    // Written a moment ago: it may belong to an upload a running server is receiving.
    plant(&paths, "1/run/artifacts/fresh.bin#2", 70, Duration::ZERO);

    let output = gc(&paths, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("removed 2 staging files (3500 bytes) of interrupted uploads"), "{stdout}");
    assert!(!paths.artifacts.join("1/run/artifacts/model").exists(), "the folder made for the upload goes too");
    assert_eq!(staging_files(&paths.artifacts), vec![paths.artifacts.join("1/run/artifacts/fresh.bin#2")]);

    // Offline, no upload can be in progress: nothing is too young.
    let output = gc(&paths, &["--staging-older-than", "0s"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("removed 1 staging files (70 bytes)"), "{stdout}");
    assert!(staging_files(&paths.artifacts).is_empty());
    assert_eq!(std::fs::read_to_string(paths.artifacts.join("1/run/artifacts/real.txt")).unwrap(), "real");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_shaped_like_staging_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let paths = DataPaths::in_dir(dir.path());
    let server = Server::start(&paths).await;
    // `#` can only arrive escaped (a raw one starts the URL's fragment).
    for name in ["notes%231", "notes%23", "a%23b/c.txt"] {
        let (status, body) = server.put_artifact(&format!("0/run/artifacts/{name}"), "x").await;
        assert_eq!((status, body["error_code"].as_str()), (400, Some("INVALID_PARAMETER_VALUE")), "{name}: {body}");
    }
    assert!(staging_files(&paths.artifacts).is_empty());
    assert!(server.list_artifacts("0/run/artifacts").await.is_empty());
}
