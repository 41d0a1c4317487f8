//! Durability: every write the server acknowledged survives `kill -9`, and concurrent
//! writers never see "database is locked".

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{free_port, DataPaths, Server};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let paths = DataPaths::in_dir(dir.path());
    let port = free_port();
    let server = Server::start_on(&paths, port).await;
    let base = format!("{}/api/2.0/mlflow", server.base);
    let client = reqwest::Client::new();
    let run: Value = client
        .post(format!("{base}/runs/create"))
        .json(&json!({"experiment_id": "0"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();

    // 16 writers log steps as fast as they can; the server is killed mid-stream.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..16i64 {
        let (client, base, run_id, stop) = (client.clone(), base.clone(), run_id.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut step = writer;
            while !stop.load(Ordering::Relaxed) {
                let body = json!({"run_id": run_id, "key": "loss", "value": step as f64, "timestamp": 1, "step": step});
                match client.post(format!("{base}/runs/log-metric")).json(&body).send().await {
                    Ok(response) => {
                        let status = response.status();
                        let text = response.text().await.unwrap_or_default();
                        assert!(!text.contains("locked"), "writer saw a lock error: {text}");
                        if status.is_success() {
                            acknowledged.push(step);
                        } else {
                            panic!("write failed with {status}: {text}");
                        }
                    }
                    // The connection died with the server: not acknowledged.
                    Err(_) => break,
                }
                step += 16;
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.kill_9();
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged: Vec<i64> = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(acknowledged.len() > 50, "only {} writes were acknowledged before the kill", acknowledged.len());

    let _server = Server::start_on(&paths, port).await;
    let history: Value = client
        .get(format!("{base}/metrics/get-history?run_id={run_id}&metric_key=loss"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored: std::collections::HashSet<i64> = history["metrics"]
        .as_array()
        .map(|points| points.iter().map(|p| p["step"].as_i64().unwrap()).collect())
        .unwrap_or_default();
    let lost: Vec<&i64> = acknowledged.iter().filter(|step| !stored.contains(step)).collect();
    assert!(lost.is_empty(), "{} acknowledged writes were lost, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
}
