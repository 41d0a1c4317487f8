//! Black-box tests of metric logging and reading: runs/log-metric, latest-metric rules,
//! metrics/get-history (paging) and metrics/get-history-bulk-interval (sampling).

mod common;

use common::{assert_keys, key_value_map, spawn_app, TestApp, DOUBLE_MAX};
use serde_json::{json, Value};

const UNKNOWN_RUN: &str = "0123456789abcdef0123456789abcdef";

async fn latest(app: &TestApp, run_id: &str, key: &str) -> Value {
    key_value_map(&app.get_run(run_id).await["data"]["metrics"])[key].clone()
}

async fn history(app: &TestApp, run_id: &str, key: &str) -> Value {
    app.get_query("metrics/get-history", &[("run_id", run_id), ("metric_key", key)]).await.ok()
}

fn steps(metrics: &Value) -> Vec<i64> {
    metrics.as_array().map(|m| m.iter().map(|p| p["step"].as_i64().unwrap()).collect()).unwrap_or_default()
}

// ---------------------------------------------------------------- log-metric

#[tokio::test]
async fn log_metric_stores_a_point() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("metrics").await;
    let body = app
        .post_json(
            "runs/log-metric",
            &json!({ "run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1000, "step": 2 }),
        )
        .await
        .ok();
    assert_eq!(body, json!({}));
    assert_eq!(
        latest(&app, &run_id, "loss").await,
        json!({ "key": "loss", "value": 0.5, "timestamp": 1000, "step": 2 })
    );
    // The Python client sends both run_uuid and run_id; step defaults to 0.
    app.post_json(
        "runs/log-metric",
        &json!({ "run_uuid": run_id, "run_id": run_id, "key": "acc", "value": 1, "timestamp": 5 }),
    )
    .await
    .ok();
    assert_eq!(latest(&app, &run_id, "acc").await, json!({ "key": "acc", "value": 1.0, "timestamp": 5, "step": 0 }));
}

#[tokio::test]
async fn special_doubles_and_lenient_numbers() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("doubles").await;
    let log = |key: &str, value: Value| json!({ "run_id": run_id, "key": key, "value": value, "timestamp": "1000", "step": "7" });
    for (key, value) in [
        ("nan", json!("NaN")),
        ("inf", json!("Infinity")),
        ("neginf", json!("-Infinity")),
        ("text", json!("2.5")),
        ("int", json!(3)),
        ("tiny", json!(1e-300)),
    ] {
        app.post_json("runs/log-metric", &log(key, value)).await.ok();
    }
    let metrics = key_value_map(&app.get_run(&run_id).await["data"]["metrics"]);
    assert_eq!(metrics["nan"]["value"], "NaN", "NaN travels as the string \"NaN\"");
    // MLflow's SQL store clamps infinities to the largest finite doubles.
    assert_eq!(metrics["inf"]["value"], DOUBLE_MAX);
    assert_eq!(metrics["neginf"]["value"], -DOUBLE_MAX);
    assert_eq!(metrics["text"]["value"], 2.5);
    assert_eq!(metrics["int"]["value"], 3.0);
    assert_eq!(metrics["tiny"]["value"], 1e-300);
    assert_eq!(metrics["text"]["timestamp"], 1000);
    assert_eq!(metrics["text"]["step"], 7);
    let points = history(&app, &run_id, "inf").await;
    assert_eq!(points["metrics"][0]["value"], DOUBLE_MAX);
    let points = history(&app, &run_id, "nan").await;
    assert_eq!(points["metrics"][0]["value"], "NaN");
}

#[tokio::test]
async fn log_metric_errors() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("errors").await;
    let rpc = "runs/log-metric";
    let message = app
        .post_json(rpc, &json!({ "run_id": run_id, "key": "bad*name", "value": 1.0, "timestamp": 1 }))
        .await
        .invalid();
    assert_eq!(
        message,
        "Invalid value \"bad*name\" for parameter 'name' supplied: Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."
    );
    let message = app
        .post_json(rpc, &json!({ "run_id": run_id, "key": "m".repeat(251), "value": 1.0, "timestamp": 1 }))
        .await
        .invalid();
    assert_eq!(message, "'Metric name' exceeds the maximum length of 250 characters");
    let message =
        app.post_json(rpc, &json!({ "run_id": run_id, "key": "m", "value": 1.0, "timestamp": -1 })).await.invalid();
    assert_eq!(
        message,
        "Invalid value -1 for parameter 'timestamp' supplied: metric 'm' (value=1.0). Timestamp must be a nonnegative long (64-bit integer) "
    );
    let message = app.post_json(rpc, &json!({ "run_id": run_id, "key": "m", "value": 1.0 })).await.invalid();
    assert!(message.starts_with("Missing value for required parameter 'timestamp'."), "{message}");
    let message = app.post_json(rpc, &json!({ "run_id": run_id, "key": "m", "timestamp": 1 })).await.invalid();
    assert!(message.starts_with("Missing value for required parameter 'value'."), "{message}");
    let message = app.post_json(rpc, &json!({ "run_id": run_id, "value": 1.0, "timestamp": 1 })).await.invalid();
    assert!(message.starts_with("Missing value for required parameter 'key'."), "{message}");
    app.post_json(rpc, &json!({ "key": "m", "value": 1.0, "timestamp": 1 })).await.invalid();
    app.post_json(rpc, &json!({ "run_id": run_id, "key": "m", "value": "high", "timestamp": 1 })).await.invalid();
    app.post_json(rpc, &json!({ "run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 1.5 }))
        .await
        .invalid();
    let message = app
        .post_json(rpc, &json!({ "run_id": UNKNOWN_RUN, "key": "m", "value": 1.0, "timestamp": 1 }))
        .await
        .not_found();
    assert_eq!(message, format!("Run with id={UNKNOWN_RUN} not found"));
    assert!(app.get_run(&run_id).await["data"].get("metrics").is_none(), "nothing was logged");
}

// ---------------------------------------------------------------- latest metric

#[tokio::test]
async fn the_latest_metric_is_the_greatest_step_timestamp_value() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("latest").await;
    // A later step wins even with an older timestamp.
    app.log_metric(&run_id, "m", json!(1.0), 100, 5).await;
    app.log_metric(&run_id, "m", json!(2.0), 50, 4).await;
    assert_eq!(latest(&app, &run_id, "m").await["value"], 1.0);
    // Same step: the later timestamp wins.
    app.log_metric(&run_id, "m", json!(3.0), 200, 5).await;
    assert_eq!(latest(&app, &run_id, "m").await["value"], 3.0);
    // Same step and timestamp: the greater value wins.
    app.log_metric(&run_id, "m", json!(2.5), 200, 5).await;
    assert_eq!(latest(&app, &run_id, "m").await["value"], 3.0);
    app.log_metric(&run_id, "m", json!(4.0), 200, 5).await;
    assert_eq!(latest(&app, &run_id, "m").await, json!({ "key": "m", "value": 4.0, "timestamp": 200, "step": 5 }));
}

#[tokio::test]
async fn nan_compares_as_zero_for_the_latest_metric() {
    // MLflow stores NaN as value 0 (is_nan=true) and compares (step, timestamp, value).
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("nan-latest").await;
    app.log_metric(&run_id, "neg", json!(-1.0), 10, 1).await;
    app.log_metric(&run_id, "neg", json!("NaN"), 10, 1).await;
    assert_eq!(latest(&app, &run_id, "neg").await["value"], "NaN", "0 (NaN) > -1");
    app.log_metric(&run_id, "pos", json!(1.0), 10, 1).await;
    app.log_metric(&run_id, "pos", json!("NaN"), 10, 1).await;
    assert_eq!(latest(&app, &run_id, "pos").await["value"], 1.0, "1 > 0 (NaN)");
    app.log_metric(&run_id, "first", json!("NaN"), 10, 1).await;
    app.log_metric(&run_id, "first", json!(-2.0), 10, 1).await;
    assert_eq!(latest(&app, &run_id, "first").await["value"], "NaN", "-2 < 0 (NaN)");
}

#[tokio::test]
async fn identical_points_are_stored_once() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("dedup").await;
    for _ in 0..3 {
        app.log_metric(&run_id, "m", json!(1.0), 10, 1).await;
        app.log_metric(&run_id, "m", json!("NaN"), 10, 1).await;
    }
    let points = history(&app, &run_id, "m").await;
    assert_eq!(points["metrics"].as_array().unwrap().len(), 2, "{points}");
    // Within one batch as well.
    let point = json!({ "key": "b", "value": 1, "timestamp": 1 });
    app.post_json("runs/log-batch", &json!({ "run_id": run_id, "metrics": [point, point] })).await.ok();
    assert_eq!(history(&app, &run_id, "b").await["metrics"].as_array().unwrap().len(), 1);
}

// ---------------------------------------------------------------- get-history

#[tokio::test]
async fn history_is_ordered_by_timestamp_step_value() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("history").await;
    for (value, timestamp, step) in [(3.0, 30, 0), (1.0, 10, 2), (2.0, 10, 1), (0.5, 10, 1)] {
        app.log_metric(&run_id, "m", json!(value), timestamp, step).await;
    }
    let body = history(&app, &run_id, "m").await;
    assert_keys(&body, &["metrics"]);
    assert_eq!(
        body["metrics"],
        json!([
            { "key": "m", "value": 0.5, "timestamp": 10, "step": 1 },
            { "key": "m", "value": 2.0, "timestamp": 10, "step": 1 },
            { "key": "m", "value": 1.0, "timestamp": 10, "step": 2 },
            { "key": "m", "value": 3.0, "timestamp": 30, "step": 0 },
        ]),
        "points carry no run_id"
    );
}

#[tokio::test]
async fn history_pages_with_tokens() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("paging").await;
    let metrics: Vec<Value> =
        (0..5).map(|i| json!({ "key": "m", "value": i, "timestamp": 100 + i, "step": i })).collect();
    app.post_json("runs/log-batch", &json!({ "run_id": run_id, "metrics": metrics })).await.ok();

    let mut collected = Vec::new();
    let mut token: Option<String> = None;
    for page_number in 0.. {
        let mut query =
            vec![("run_uuid", run_id.as_str()), ("run_id", run_id.as_str()), ("metric_key", "m"), ("max_results", "2")];
        if let Some(token) = token.as_deref() {
            query.push(("page_token", token));
        }
        let page = app.get_query("metrics/get-history", &query).await.ok();
        collected.extend(steps(&page["metrics"]));
        match page.get("next_page_token") {
            Some(next) => token = Some(next.as_str().expect("string token").to_string()),
            None => {
                assert_eq!(page_number, 2, "5 points in pages of 2 is 3 pages");
                break;
            }
        }
    }
    assert_eq!(collected, vec![0, 1, 2, 3, 4]);
    // The client's usual max_results=25000 gets everything in one page, without a token.
    let page = app
        .get_query("metrics/get-history", &[("run_id", &run_id), ("metric_key", "m"), ("max_results", "25000")])
        .await
        .ok();
    assert_eq!(steps(&page["metrics"]).len(), 5);
    assert!(page.get("next_page_token").is_none());
    // An exact fit has no token either.
    let page = app
        .get_query("metrics/get-history", &[("run_id", &run_id), ("metric_key", "m"), ("max_results", "5")])
        .await
        .ok();
    assert!(page.get("next_page_token").is_none());
}

#[tokio::test]
async fn history_of_unknown_runs_and_keys_is_empty() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("empty").await;
    assert_eq!(history(&app, &run_id, "never-logged").await, json!({}));
    // MLflow does not check that the run exists here.
    assert_eq!(history(&app, UNKNOWN_RUN, "m").await, json!({}));
    assert_eq!(history(&app, "not a run id", "m").await, json!({}));
}

#[tokio::test]
async fn history_errors() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("errors").await;
    let message = app.get_query("metrics/get-history", &[("run_id", &run_id)]).await.invalid();
    assert_eq!(message, "Missing value for required parameter 'metric_key'. See the API docs for more information about request parameters.");
    let message = app.get_query("metrics/get-history", &[("metric_key", "m")]).await.invalid();
    assert!(message.starts_with("Missing value for required parameter 'run_id'."), "{message}");
    for bad in ["0", "-3"] {
        let message = app
            .get_query("metrics/get-history", &[("run_id", &run_id), ("metric_key", "m"), ("max_results", bad)])
            .await
            .invalid();
        assert_eq!(
            message,
            format!("Invalid value {bad} for parameter 'max_results' supplied. It must be a positive integer.")
        );
    }
    app.get_query("metrics/get-history", &[("run_id", &run_id), ("metric_key", "m"), ("max_results", "ten")])
        .await
        .invalid();
    app.get_query("metrics/get-history", &[("run_id", &run_id), ("metric_key", "m"), ("page_token", "garbage!")])
        .await
        .invalid();
}

// ---------------------------------------------------------------- get-history-bulk-interval

async fn bulk(app: &TestApp, query: &[(&str, &str)]) -> crate::common::ApiResponse {
    app.get_query("metrics/get-history-bulk-interval", query).await
}

#[tokio::test]
async fn bulk_interval_returns_points_per_run_in_request_order() {
    let app = spawn_app().await;
    let (experiment_id, run_a) = app.experiment_with_run("bulk").await;
    let run_b = app.create_run(&experiment_id).await;
    app.log_metric(&run_a, "m", json!("NaN"), 10, 0).await;
    app.log_metric(&run_a, "m", json!(1.0), 11, 1).await;
    app.log_metric(&run_b, "m", json!(5.0), 12, 0).await;

    let body = bulk(&app, &[("run_ids", &run_b), ("run_ids", &run_a), ("metric_key", "m")]).await.ok();
    assert_keys(&body, &["metrics"]);
    assert_eq!(
        body["metrics"],
        json!([
            { "key": "m", "value": 5.0, "timestamp": 12, "step": 0, "run_id": run_b },
            { "key": "m", "value": "NaN", "timestamp": 10, "step": 0, "run_id": run_a },
            { "key": "m", "value": 1.0, "timestamp": 11, "step": 1, "run_id": run_a },
        ])
    );
    // Unknown runs contribute nothing; no rows at all is `{}`.
    let body = bulk(&app, &[("run_ids", UNKNOWN_RUN), ("run_ids", &run_b), ("metric_key", "m")]).await.ok();
    assert_eq!(body["metrics"].as_array().unwrap().len(), 1);
    assert_eq!(bulk(&app, &[("run_ids", UNKNOWN_RUN), ("metric_key", "m")]).await.ok(), json!({}));
    assert_eq!(bulk(&app, &[("run_ids", "not a run"), ("metric_key", "m")]).await.ok(), json!({}));
    assert_eq!(bulk(&app, &[("run_ids", &run_a), ("metric_key", "other")]).await.ok(), json!({}));
}

#[tokio::test]
async fn bulk_interval_returns_a_nan_last_row_once() {
    // MLflow appends the run's last row only when the sample does not already end with it,
    // comparing (step, timestamp, value-or-None, is_nan): a NaN last row is not repeated.
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("nan-last").await;
    app.log_metric(&run_id, "m", json!(1.0), 10, 0).await;
    app.log_metric(&run_id, "m", json!("NaN"), 11, 1).await;
    let body = bulk(&app, &[("run_ids", &run_id), ("metric_key", "m")]).await.ok();
    assert_eq!(
        body["metrics"],
        json!([
            { "key": "m", "value": 1.0, "timestamp": 10, "step": 0, "run_id": run_id },
            { "key": "m", "value": "NaN", "timestamp": 11, "step": 1, "run_id": run_id },
        ])
    );
    let body = bulk(&app, &[("run_ids", &run_id), ("metric_key", "m"), ("max_results", "1")]).await.ok();
    assert_eq!(steps(&body["metrics"]), vec![1]);
}

#[tokio::test]
async fn bulk_interval_samples_and_filters_steps() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("sampling").await;
    let metrics: Vec<Value> =
        (0..10).map(|i| json!({ "key": "m", "value": i * 10, "timestamp": 1000 + i, "step": i })).collect();
    app.post_json("runs/log-batch", &json!({ "run_id": run_id, "metrics": metrics })).await.ok();
    let sample = |max_results: &'static str| {
        let run_id = run_id.clone();
        let app = &app;
        async move {
            let body = bulk(app, &[("run_ids", &run_id), ("metric_key", "m"), ("max_results", max_results)]).await.ok();
            steps(&body["metrics"])
        }
    };
    // NTILE(4) over 10 rows keeps the first row of each bucket (0, 3, 6, 8); the last row
    // then replaces the last pick.
    assert_eq!(sample("4").await, vec![0, 3, 6, 9]);
    assert_eq!(sample("1").await, vec![9]);
    assert_eq!(sample("10").await, (0..10).collect::<Vec<_>>());
    assert_eq!(sample("2500").await, (0..10).collect::<Vec<_>>());
    // The default max_results is 2500.
    let body = bulk(&app, &[("run_ids", &run_id), ("metric_key", "m")]).await.ok();
    assert_eq!(steps(&body["metrics"]).len(), 10);

    // An inclusive step range, then sampling within it.
    let body =
        bulk(&app, &[("run_ids", &run_id), ("metric_key", "m"), ("start_step", "2"), ("end_step", "5")]).await.ok();
    assert_eq!(steps(&body["metrics"]), vec![2, 3, 4, 5]);
    let body =
        bulk(&app, &[("run_ids", &run_id), ("metric_key", "m"), ("start_step", "3"), ("end_step", "3")]).await.ok();
    assert_eq!(steps(&body["metrics"]), vec![3]);
    let body = bulk(
        &app,
        &[("run_ids", &run_id), ("metric_key", "m"), ("start_step", "0"), ("end_step", "9"), ("max_results", "3")],
    )
    .await
    .ok();
    assert_eq!(steps(&body["metrics"]), vec![0, 4, 9]);
    // Duplicated run ids repeat their rows, as in MLflow.
    let body =
        bulk(&app, &[("run_ids", &run_id), ("run_ids", &run_id), ("metric_key", "m"), ("max_results", "1")]).await.ok();
    assert_eq!(steps(&body["metrics"]), vec![9, 9]);
}

#[tokio::test]
async fn bulk_interval_validation() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("bulk-errors").await;
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut query: Vec<(&str, String)> = vec![("run_ids", run_id.clone()), ("metric_key", "m".to_string())];
        query.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        query
    };
    let send = |query: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            bulk(app, &pairs).await
        }
    };
    let message = send(with(&[("start_step", "5"), ("end_step", "1")])).await.invalid();
    assert_eq!(message, "end_step must be greater than start_step. Found start_step=5 and end_step=1.");
    for one_sided in [("start_step", "1"), ("end_step", "1")] {
        let message = send(with(&[one_sided])).await.invalid();
        assert_eq!(message, "If either start step or end step are specified, both must be specified.");
    }
    for bad in ["0", "2501", "-1"] {
        let message = send(with(&[("max_results", bad)])).await.invalid();
        assert_eq!(
            message,
            "max_results must be between 1 and 2500. See the API docs for more information about request parameters."
        );
    }
    send(with(&[("max_results", "abc")])).await.invalid();
    send(with(&[("start_step", "x"), ("end_step", "2")])).await.invalid();

    let message = bulk(&app, &[("metric_key", "m")]).await.invalid();
    assert!(message.starts_with("Missing value for required parameter 'run_ids'."), "{message}");
    let message = bulk(&app, &[("run_ids", &run_id)]).await.invalid();
    assert!(message.starts_with("Missing value for required parameter 'metric_key'."), "{message}");
    let many: Vec<String> = (0..101).map(|i| format!("{i:032x}")).collect();
    let mut query: Vec<(&str, &str)> = many.iter().map(|id| ("run_ids", id.as_str())).collect();
    query.push(("metric_key", "m"));
    let message = bulk(&app, &query).await.invalid();
    assert_eq!(
        message,
        "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 101 run_ids. See the API docs for more information about request parameters."
    );
    query.remove(0);
    assert_eq!(bulk(&app, &query).await.ok(), json!({}), "100 run ids are allowed");
}
