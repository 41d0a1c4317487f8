//! A full disk, for real: the server's database and artifacts on a tmpfs of a few MiB.
//! Writes that do not fit answer 507 `RESOURCE_EXHAUSTED` (which the MLflow client does
//! not retry), nothing acknowledged is lost, reads go on, and writes work again once space
//! is freed. These tests mount file systems: run as root, or they say loudly that they
//! skipped.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{staging_files, DataPaths, Server, Tmpfs};
use serde_json::{json, Value};

const MIB: usize = 1 << 20;
const KEYS: usize = 900;
const WRITERS: i64 = 4;

/// Asserts a 507 `RESOURCE_EXHAUSTED` that says the storage is full and names no path.
#[track_caller]
fn assert_storage_full(answer: &(u16, Value), tmpfs: &Tmpfs) {
    let (status, body) = answer;
    assert_eq!((*status, body["error_code"].as_str()), (507, Some("RESOURCE_EXHAUSTED")), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("storage is full"), "{message}");
    assert!(!message.contains(&*tmpfs.path().to_string_lossy()), "a server path in {message}");
    assert!(!message.contains('/'), "a path-like message: {message}");
}

fn batch(run_id: &str, step: i64) -> Value {
    let metrics: Vec<Value> = (0..KEYS)
        .map(|key| json!({"key": format!("m{key}"), "value": step as f64 + key as f64 / 1000.0, "timestamp": 1, "step": step}))
        .collect();
    json!({"run_id": run_id, "metrics": metrics})
}

async fn history_steps(server: &Server, run_id: &str, key: &str) -> BTreeSet<i64> {
    let (status, body) = server.get(&format!("metrics/get-history?run_id={run_id}&metric_key={key}")).await;
    assert_eq!(status, 200, "{body}");
    body["metrics"]
        .as_array()
        .map(|points| points.iter().map(|p| p["step"].as_i64().unwrap()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_507_loses_nothing_and_recovers() {
    let Some(tmpfs) = Tmpfs::mount(16, "a_full_disk_answers_507_loses_nothing_and_recovers") else { return };
    // Freeing space later means deleting this file of the same file system. It leaves the
    // server 4 MiB, and frees three times that: the first checkpoint after the disk fills
    // copies the whole write-ahead log into the database file, which grows by as much.
    let filler = tmpfs.path().join("filler.bin");
    std::fs::write(&filler, vec![1u8; 12 * MIB]).unwrap();
    let paths = DataPaths::in_dir(tmpfs.path());
    let server = Server::start(&paths).await;
    let (status, run) = server.post("runs/create", &json!({"experiment_id": "0"})).await;
    assert_eq!(status, 200, "{run}");
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let early = format!("0/{run_id}/artifacts/early.txt");
    assert_eq!(server.put_artifact(&early, "early").await.0, 200);

    // Concurrent writers log batches until theirs do not fit: the server commits them in
    // groups, so refused and acknowledged writes share transactions.
    let server = Arc::new(server);
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (server, run_id) = (Arc::clone(&server), run_id.clone());
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for step in (writer..).step_by(WRITERS as usize).take(1000) {
                let answer = server.post("runs/log-batch", &batch(&run_id, step)).await;
                if answer.0 != 200 {
                    return (acknowledged, Some((step, answer)));
                }
                acknowledged.push(step);
            }
            (acknowledged, None)
        }));
    }
    let mut acknowledged = BTreeSet::new();
    let mut refused = Vec::new();
    for writer in writers {
        let (steps, refusal) = writer.await.unwrap();
        acknowledged.extend(steps);
        refused.push(refusal.expect("4 MiB never filled up"));
    }
    assert!(!acknowledged.is_empty(), "the first batches were refused: {refused:?}");
    for (_, answer) in &refused {
        assert_storage_full(answer, &tmpfs);
    }
    // Small writes still fit for a while; fill the rest with them until one is refused.
    let small = |step: i64| json!({"run_id": run_id, "key": "small", "value": 1.0, "timestamp": 1, "step": step});
    let mut small_acknowledged = BTreeSet::new();
    let mut small_refused = None;
    for step in 0..100_000 {
        let answer = server.post("runs/log-metric", &small(step)).await;
        if answer.0 == 200 {
            small_acknowledged.insert(step);
        } else {
            small_refused = Some(answer);
            break;
        }
    }
    assert_storage_full(&small_refused.expect("small writes never filled the disk"), &tmpfs);

    // An artifact larger than the space left: refused, and nothing of it stays behind.
    let big = format!("0/{run_id}/artifacts/model/big.bin");
    assert_storage_full(&server.put_artifact(&big, vec![3u8; 8 * MIB]).await, &tmpfs);
    assert!(staging_files(&paths.artifacts).is_empty(), "{:?}", staging_files(&paths.artifacts));
    assert_eq!(server.list_artifacts(&format!("0/{run_id}/artifacts")).await, vec!["early.txt"]);

    // Reads go on, and every acknowledged write is there; the refused batch is not, not
    // even in part.
    for key in ["m0", "m450", &format!("m{}", KEYS - 1)] {
        assert_eq!(history_steps(&server, &run_id, key).await, acknowledged, "{key}");
    }
    let (status, run) = server.get(&format!("runs/get?run_id={run_id}")).await;
    assert_eq!(status, 200);
    let latest = run["run"]["data"]["metrics"].as_array().unwrap();
    assert_eq!(latest.len(), KEYS + usize::from(!small_acknowledged.is_empty()));
    let batch_latest = latest.iter().filter(|m| m["key"] != "small");
    assert!(batch_latest.clone().all(|m| m["step"].as_i64() == acknowledged.last().copied()), "{latest:?}");
    assert_eq!(history_steps(&server, &run_id, "small").await, small_acknowledged);
    assert_eq!(server.get_artifact(&early).await, (200, b"early".to_vec()));

    // Space freed: writes work again, the refused ones included.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(server.post("runs/log-metric", &small(-1)).await.0, 200);
    assert_eq!(server.post("runs/set-tag", &json!({"run_id": run_id, "key": "t", "value": "v"})).await.0, 200);
    for (step, _) in &refused {
        let (status, body) = server.post("runs/log-batch", &batch(&run_id, *step)).await;
        assert_eq!(status, 200, "{body}");
        acknowledged.insert(*step);
    }
    assert_eq!(history_steps(&server, &run_id, "m0").await, acknowledged);
    assert_eq!(server.put_artifact(&big, vec![3u8; MIB]).await.0, 200);
    assert_eq!(server.get_artifact(&big).await, (200, vec![3u8; MIB]));
    assert!(server.log_text().contains("disk is full"), "the detail is logged:\n{}", server.log_text());
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_errors_name_no_server_path() {
    let Some(tmpfs) = Tmpfs::mount(4, "storage_errors_name_no_server_path") else { return };
    let dir = tempfile::tempdir().unwrap();
    // The database elsewhere: a file open for writing would keep the tmpfs from going
    // read-only.
    let paths = DataPaths::sqlite(&dir.path().join("db.sqlite"), tmpfs.path().join("artifacts"));
    let server = Server::start(&paths).await;
    assert_eq!(server.put_artifact("0/r/artifacts/a.txt", "a").await.0, 200);

    tmpfs.set_read_only(true);
    let (status, body) = server.put_artifact("0/r/artifacts/b.txt", "b").await;
    let (delete_status, delete_body) = {
        let url = server.artifact_url("0/r/artifacts/a.txt");
        let response = reqwest::Client::new().delete(url).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    tmpfs.set_read_only(false);

    let root = std::fs::canonicalize(&paths.artifacts).unwrap();
    for (status, body) in [(status, body), (delete_status, delete_body)] {
        assert_eq!((status, body["error_code"].as_str()), (500, Some("INTERNAL_ERROR")), "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(!message.contains(&*root.to_string_lossy()), "the artifact root in {message}");
        assert!(!message.contains(&*tmpfs.path().to_string_lossy()), "a server path in {message}");
        assert!(message.contains("read-only"), "{message}");
    }
    // The detail, path and all, is in the server's log.
    assert!(server.log_text().contains(&*root.to_string_lossy()), "{}", server.log_text());
    assert_eq!(server.get_artifact("0/r/artifacts/a.txt").await, (200, b"a".to_vec()));
}
