//! Webhook deliveries wait in the store's outbox: one queued before a `kill -9` is sent
//! after the restart, with the same delivery id on every attempt; and replicas on one
//! PostgreSQL database send each delivery once.

mod common;
#[path = "../../ferroflow-server/tests/common/webhook_receiver.rs"]
mod webhook_receiver;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{DataPaths, Server};
use serde_json::json;
use webhook_receiver::Receiver;

/// Plain-HTTP receivers on loopback, and enough retries to outlast a restart.
const POLICY: &[(&str, &str)] = &[
    ("MLFLOW_WEBHOOK_ALLOWED_SCHEMES", "http"),
    ("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "true"),
    ("MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES", "10"),
    ("MLFLOW_WEBHOOK_REQUEST_TIMEOUT", "2"),
];

async fn subscribe(server: &Server, url: &str) {
    let events = json!([{ "entity": "REGISTERED_MODEL", "action": "CREATED" }]);
    let (status, body) = server.post("webhooks", &json!({ "name": "ci", "url": url, "events": events })).await;
    assert_eq!(status, 200, "{body}");
}

/// Each delivery's id and the model it announces, in arrival order.
fn arrivals(receiver: &Receiver) -> Vec<(String, String)> {
    receiver
        .payloads()
        .into_iter()
        .map(|(headers, payload, _)| {
            let id = headers.get("X-MLflow-Delivery-Id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            (id, payload["data"]["name"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_delivery_survives_kill_9_and_keeps_its_id() {
    // The first six attempts are refused as retryable: every delivery is still waiting
    // for its third attempt (seconds of backoff away) when the server is killed.
    let (receiver, url) = Receiver::start(vec![503; 6]).await;
    let dir = tempfile::tempdir().unwrap();
    let paths = DataPaths::in_dir(dir.path());
    let server = Server::start_with_env(&paths, POLICY).await;
    subscribe(&server, &url).await;
    let names = ["churn", "fraud", "ranker"];
    for name in names {
        let (status, body) = server.post("registered-models/create", &json!({ "name": name })).await;
        assert_eq!(status, 200, "{body}");
    }
    receiver.wait_for(6, |_| true).await;
    server.kill_9();
    let refused = arrivals(&receiver);

    let _restarted = Server::start_with_env(&paths, POLICY).await;
    receiver.wait_for(9, |_| true).await;
    // Nothing more comes: each delivery was sent until accepted, then dropped.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let all = arrivals(&receiver);
    assert_eq!(all.len(), 9, "{all:?}");
    let mut ids_by_model: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, name) in &all {
        ids_by_model.entry(name.clone()).or_default().insert(id.clone());
    }
    assert_eq!(ids_by_model.keys().map(String::as_str).collect::<Vec<_>>(), names);
    // One id per model across attempts before and after the restart.
    assert!(ids_by_model.values().all(|ids| ids.len() == 1), "{ids_by_model:?}");
    let accepted: BTreeSet<&String> = all[refused.len()..].iter().map(|(_, name)| name).collect();
    assert_eq!(accepted.len(), 3, "after the restart each model's delivery was accepted once: {all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_send_each_delivery_once() {
    let (receiver, url) = Receiver::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let uri = ferroflow_postgres::testing::fresh_database().await;
    let paths = DataPaths::postgres(uri, dir.path().join("artifacts"));
    let replicas = [Server::start_with_env(&paths, POLICY).await, Server::start_with_env(&paths, POLICY).await];
    subscribe(&replicas[0], &url).await;
    let count = 24;
    let creates = (0..count).map(|n| {
        let replica = &replicas[n % 2];
        async move { replica.post("registered-models/create", &json!({ "name": format!("model-{n}") })).await }
    });
    for (status, body) in futures_util::future::join_all(creates).await {
        assert_eq!(status, 200, "{body}");
    }
    receiver.wait_for(count, |_| true).await;
    // Both replicas' outbox loops poll every second: give a second send every chance.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let all: Vec<(String, String)> = arrivals(&receiver);
    let ids: BTreeSet<&String> = all.iter().map(|(id, _)| id).collect();
    let models: BTreeSet<&String> = all.iter().map(|(_, name)| name).collect();
    assert_eq!((all.len(), ids.len(), models.len()), (count, count, count), "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_on_postgresql_without_the_shared_key_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let uri = ferroflow_postgres::testing::fresh_database().await;
    let server = Server::start_with_env(&DataPaths::postgres(uri, dir.path().join("artifacts")), POLICY).await;
    let events = json!([{ "entity": "REGISTERED_MODEL", "action": "CREATED" }]);
    let body = json!({ "name": "ci", "url": "http://127.0.0.1:9/hook", "events": events, "secret": "s3cr3t" });
    let (status, answer) = server.post("webhooks", &body).await;
    // 501, not a 5xx the client would retry for minutes: only configuration can help.
    assert_eq!(status, 501, "{answer}");
    assert_eq!(answer["error_code"], "NOT_IMPLEMENTED");
    assert!(answer["message"].as_str().unwrap().contains("FERROFLOW_WEBHOOK_SECRET_KEY"), "{answer}");
    assert!(!server.log_text().contains("s3cr3t"));
    // Without a secret, webhooks work as ever.
    let plain = json!({ "name": "ci", "url": "http://127.0.0.1:9/hook", "events": events });
    assert_eq!(server.post("webhooks", &plain).await.0, 200);
}
