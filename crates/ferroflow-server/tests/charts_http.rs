//! Black-box tests of ferroflow's own chart endpoints under `/ajax-api/ferroflow/v1`:
//! `charts/series` (one call, downsampled per bucket) and `charts/live` (SSE).

mod common;

use std::time::Duration;

use common::{query_string, spawn_app, spawn_app_with, TestApp, TestAppOptions};
use serde_json::{json, Value};

const CHART: &str = "/ajax-api/ferroflow/v1/charts/series";
const LIVE: &str = "/ajax-api/ferroflow/v1/charts/live";

async fn chart(app: &TestApp, body: Value) -> common::ApiResponse {
    app.post_json_to(&app.url(CHART), &body).await
}

async fn log_batch(app: &TestApp, run_id: &str, metrics: Vec<Value>) {
    app.post_json("runs/log-batch", &json!({ "run_id": run_id, "metrics": metrics })).await.ok();
}

#[tokio::test]
async fn a_chart_arrives_in_one_call_with_spikes_kept() {
    let app = spawn_app().await;
    let (_, a) = app.experiment_with_run("charts").await;
    let b = app.create_run("0").await;
    for chunk in (0..3000).collect::<Vec<i64>>().chunks(1000) {
        let metrics = chunk
            .iter()
            .map(|i| {
                let value = if *i == 1234 { json!(1e6) } else { json!((*i % 10) as f64) };
                json!({ "key": "loss", "value": value, "timestamp": 1000 + i, "step": i })
            })
            .collect();
        log_batch(&app, &a, metrics).await;
    }
    log_batch(
        &app,
        &b,
        vec![
            json!({ "key": "loss", "value": 0.30000000000000004, "timestamp": 5, "step": 0 }),
            json!({ "key": "loss", "value": "NaN", "timestamp": 6, "step": 1 }),
            json!({ "key": "loss", "value": "-Infinity", "timestamp": 7, "step": 2 }),
            json!({ "key": "acc", "value": 0.5, "timestamp": 7, "step": 2 }),
        ],
    )
    .await;

    let body = chart(&app, json!({ "run_ids": [a, b], "metric_keys": ["loss", "acc"], "buckets": 100 })).await.ok();
    assert_eq!(body["buckets"], 100);
    let series = body["series"].as_array().unwrap();
    assert_eq!(series.len(), 4, "runs × keys, in the order given");
    let long = &series[0];
    assert_eq!((long["run_id"].as_str(), long["key"].as_str()), (Some(a.as_str()), Some("loss")));
    assert_eq!(long["total_points"], 3000);
    assert_eq!(long["sampled"], true);
    assert_eq!(long["last_step"], 2999);
    let steps = long["steps"].as_array().unwrap();
    assert!(steps.len() <= 200 && steps.len() >= 100, "{}", steps.len());
    assert_eq!(long["timestamps"].as_array().unwrap().len(), steps.len());
    let values = long["values"].as_array().unwrap();
    let spike = steps.iter().position(|s| s == 1234).expect("the spike's step is kept");
    assert_eq!(values[spike], 1e6);

    let short = &series[2];
    assert_eq!((short["run_id"].as_str(), short["key"].as_str()), (Some(b.as_str()), Some("loss")));
    assert_eq!(short["sampled"], false);
    assert_eq!(short["steps"], json!([0, 1, 2]));
    assert_eq!(short["timestamps"], json!([5, 6, 7]));
    // Raw values as the other metric reads give them: bit-exact, NaN and ∞ as MLflow writes them.
    let history = app.get_query("metrics/get-history", &[("run_id", &b), ("metric_key", "loss")]).await.ok();
    let expected: Vec<Value> = {
        let mut points = history["metrics"].as_array().unwrap().clone();
        points.sort_by_key(|p| p["step"].as_i64());
        points.iter().map(|p| p["value"].clone()).collect()
    };
    assert_eq!(short["values"], json!(expected));
    assert_eq!(short["values"][0].as_f64().unwrap().to_bits(), 0.30000000000000004f64.to_bits());
    assert_eq!(short["values"][1], "NaN");
    assert_eq!(series[1]["total_points"], 0, "run a has no acc");
    assert!(series[1].get("last_step").is_none());

    // A zoom: the finer range, raw once it holds fewer points than buckets.
    let zoom = chart(&app, json!({ "run_ids": [a], "metric_keys": ["loss"], "start_step": 1200, "end_step": 1249 }))
        .await
        .ok();
    let zoomed = &zoom["series"][0];
    assert_eq!((zoomed["total_points"].as_i64(), zoomed["sampled"].as_bool()), (Some(50), Some(false)));
    assert_eq!(zoomed["steps"][34], 1234);
    assert_eq!(zoomed["values"][34], 1e6);

    // The same call as a GET with repeated keys.
    let query = query_string(&[("run_ids", &b), ("metric_keys", "loss"), ("buckets", "2")]);
    let got = app.get_url(&app.url(&format!("{CHART}?{query}"))).await.ok();
    assert_eq!(got["series"][0]["total_points"], 3);
    assert_eq!(got["series"][0]["sampled"], true);
}

#[tokio::test]
async fn bad_chart_requests_are_mlflow_errors() {
    let app = spawn_app().await;
    let run = app.create_run("0").await;
    let many: Vec<String> = (0..101).map(|i| format!("{i:032x}")).collect();
    let keys: Vec<String> = (0..11).map(|i| format!("k{i}")).collect();
    for body in [
        json!({ "metric_keys": ["loss"] }),
        json!({ "run_ids": [run] }),
        json!({ "run_ids": many, "metric_keys": ["loss"] }),
        json!({ "run_ids": [run], "metric_keys": keys }),
        json!({ "run_ids": [run], "metric_keys": ["loss"], "buckets": 0 }),
        json!({ "run_ids": [run], "metric_keys": ["loss"], "buckets": 4001 }),
        json!({ "run_ids": [run], "metric_keys": ["loss"], "buckets": "many" }),
        json!({ "run_ids": [run], "metric_keys": ["loss"], "start_step": 5, "end_step": 4 }),
        json!({ "run_ids": [run], "metric_keys": [""] }),
    ] {
        chart(&app, body).await.invalid();
    }
    let query = query_string(&[("metric_keys", "loss")]);
    app.get_url(&app.url(&format!("{LIVE}?{query}"))).await.invalid();
    // Unknown runs are empty series, not errors.
    let body = chart(&app, json!({ "run_ids": ["0123456789abcdef0123456789abcdef"], "metric_keys": ["x"] })).await.ok();
    assert_eq!(body["series"][0]["total_points"], 0);
}

/// Reads server-sent events off a streaming response until one named `name` arrives.
async fn next_event(response: &mut reqwest::Response, buffer: &mut String, name: &str) -> Value {
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = "message";
            let mut data = String::new();
            for line in block.lines() {
                if let Some(rest) = line.strip_prefix("event:") {
                    event = rest.trim();
                } else if let Some(rest) = line.strip_prefix("data:") {
                    data.push_str(rest.trim_start());
                }
            }
            if event == name {
                return serde_json::from_str(&data).unwrap();
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no `{name}` event within 10 s"))
            .unwrap()
            .expect("the stream ended");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[tokio::test]
async fn a_live_chart_receives_a_logged_point() {
    let app = spawn_app().await;
    let (_, run) = app.experiment_with_run("live").await;
    app.log_metric(&run, "loss", json!(1.0), 100, 0).await;
    app.log_metric(&run, "loss", json!(0.5), 200, 1).await;
    let query = query_string(&[("run_ids", &run), ("metric_keys", "loss"), ("metric_keys", "acc")]);
    let mut response = app.client.get(app.url(&format!("{LIVE}?{query}"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut buffer = String::new();
    let ready = next_event(&mut response, &mut buffer, "ready").await;
    assert_eq!(ready["series"][0]["last_step"], 1);
    assert!(ready["series"][1].get("last_step").is_none());

    let started = std::time::Instant::now();
    app.log_metric(&run, "loss", json!(0.25), 300, 2).await;
    app.log_metric(&run, "acc", json!("NaN"), 300, 7).await;
    let mut seen: Vec<(String, Value, Value)> = Vec::new();
    while seen.len() < 2 {
        let points = next_event(&mut response, &mut buffer, "points").await;
        for series in points["series"].as_array().unwrap() {
            let key = series["key"].as_str().unwrap().to_string();
            for (step, value) in series["steps"].as_array().unwrap().iter().zip(series["values"].as_array().unwrap()) {
                seen.push((key.clone(), step.clone(), value.clone()));
            }
        }
    }
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    seen.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(seen, vec![("acc".into(), json!(7), json!("NaN")), ("loss".into(), json!(2), json!(0.25))]);

    // Nothing is sent twice: the next point is the only one in the next event.
    app.log_metric(&run, "loss", json!(0.125), 400, 3).await;
    let points = next_event(&mut response, &mut buffer, "points").await;
    assert_eq!(points["series"].as_array().unwrap().len(), 1);
    assert_eq!(points["series"][0]["steps"], json!([3]));
}

/// The connection loop ends a connection silent for `--keep-alive-timeout` once its
/// handler has answered; a quiet live chart outlives it on its keep-alive comments.
#[tokio::test]
async fn a_quiet_live_chart_outlives_the_keep_alive_timeout() {
    let mut options = TestAppOptions::default();
    options.config.connections.keep_alive_timeout = Duration::from_secs(2);
    let app = spawn_app_with(options).await;
    let run = app.create_run("0").await;
    let query = query_string(&[("run_ids", &run), ("metric_keys", "loss")]);
    let mut response = app.client.get(app.url(&format!("{LIVE}?{query}"))).send().await.unwrap();
    let mut buffer = String::new();
    next_event(&mut response, &mut buffer, "ready").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    app.log_metric(&run, "loss", json!(1.5), 10, 4).await;
    let points = next_event(&mut response, &mut buffer, "points").await;
    assert_eq!(points["series"][0]["steps"], json!([4]));
    assert!(buffer.is_empty() || !buffer.contains("error"));
}
