//! Black-box tests of ferroflow's own UI analysis endpoint,
//! `POST /ajax-api/ferroflow/v1/param-importance`.

mod common;

use common::{spawn_app, TestApp};
use serde_json::{json, Value};

const ENDPOINT: &str = "/ajax-api/ferroflow/v1/param-importance";

async fn importance(app: &TestApp, body: Value) -> common::ApiResponse {
    app.post_json_to(&app.url(ENDPOINT), &body).await
}

/// A run with these params and a final `val_loss`.
async fn log_run(app: &TestApp, experiment_id: &str, params: &[(&str, String)], val_loss: Option<f64>) {
    let run = app.post_json("runs/create", &json!({ "experiment_id": experiment_id })).await.ok();
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let params: Vec<Value> = params.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect();
    let metrics: Vec<Value> =
        val_loss.into_iter().map(|v| json!({ "key": "val_loss", "value": v, "timestamp": 1, "step": 0 })).collect();
    app.post_json("runs/log-batch", &json!({ "run_id": run_id, "params": params, "metrics": metrics })).await.ok();
}

#[tokio::test]
async fn ranks_the_param_that_drives_the_metric_first() {
    let app = spawn_app().await;
    let experiment_id = app.create_experiment("sweep").await;
    for i in 0..30 {
        let lr = [0.001, 0.01, 0.1][i % 3];
        let optimizer = ["adam", "sgd"][i % 2];
        let val_loss = 5.0 * lr + (i % 5) as f64 * 0.001;
        let params = [("lr", lr.to_string()), ("optimizer", optimizer.to_string()), ("seed", (i % 5).to_string())];
        log_run(&app, &experiment_id, &params, Some(val_loss)).await;
    }
    // Runs without the metric count as matched but not used.
    log_run(&app, &experiment_id, &[("lr", "0.5".into())], None).await;

    let body = importance(&app, json!({ "experiment_ids": [experiment_id], "metric_key": "val_loss" })).await.ok();
    assert_eq!(body["metric_key"], "val_loss");
    assert_eq!(body["runs_matched"], 31);
    assert_eq!(body["runs_used"], 30);
    assert_eq!(body["truncated"], false);
    let params = body["params"].as_array().unwrap();
    let keys: Vec<&str> = params.iter().map(|p| p["key"].as_str().unwrap()).collect();
    assert_eq!(keys[0], "lr", "{body:#}");
    assert_eq!(params[0]["kind"], "numeric");
    assert!(params[0]["correlation"].as_f64().unwrap() > 0.9, "{body:#}");
    assert!(params[0]["importance"].as_f64().unwrap() > 0.8, "{body:#}");
    assert_eq!(params[0]["runs_with_value"], 30);
    assert_eq!(params[0]["distinct_values"], 3);
    let optimizer = params.iter().find(|p| p["key"] == "optimizer").unwrap();
    assert_eq!(optimizer["kind"], "categorical");
    assert_eq!(optimizer["correlation"], Value::Null);

    // The filter narrows the runs analysed, in the search language.
    let body = importance(
        &app,
        json!({ "experiment_ids": [experiment_id], "metric_key": "val_loss", "filter": "params.optimizer = 'adam'" }),
    )
    .await
    .ok();
    assert_eq!(body["runs_used"], 15);
    assert!(body["params"].as_array().unwrap().iter().all(|p| p["key"] != "optimizer" || p["importance"] == 0.0));
}

#[tokio::test]
async fn bad_requests_are_mlflow_errors_and_unknown_metrics_are_empty() {
    let app = spawn_app().await;
    let experiment_id = app.create_experiment("e").await;
    log_run(&app, &experiment_id, &[("lr", "0.1".into())], Some(1.0)).await;

    let message = importance(&app, json!({ "experiment_ids": [experiment_id] })).await.invalid();
    assert!(message.contains("metric_key"), "{message}");
    let message = importance(&app, json!({ "metric_key": "val_loss" })).await.invalid();
    assert!(message.contains("experiment_ids"), "{message}");
    let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
    importance(&app, json!({ "experiment_ids": many, "metric_key": "val_loss" })).await.invalid();
    let message =
        importance(&app, json!({ "experiment_ids": [experiment_id], "metric_key": "m", "filter": "params.lr =" }))
            .await
            .invalid();
    assert!(!message.is_empty());
    // A body that is not JSON is MLflow's malformed-request answer, not a 5xx.
    let response = app.request(reqwest::Method::POST, ENDPOINT, Some("{not json")).await;
    response.client_error();

    let body = importance(&app, json!({ "experiment_ids": [experiment_id], "metric_key": "nope" })).await.ok();
    assert_eq!(body["runs_matched"], 1);
    assert_eq!(body["runs_used"], 0);
    assert_eq!(body["params"], json!([]));
}
