//! Black-box tests of issue 11's last-mile compatibility items: the web UI's older reads
//! (`metrics/get-history-bulk`, `experiments/search-datasets`), MLflow's field types and
//! messages, relative artifact locations, and logged-model lineage. Expected values are
//! MLflow 3.17's, checked against a real server by tests/python/test_compat_last_mile.py.

mod common;

use common::{spawn_app, TestApp};
use serde_json::{json, Value};

const HINT: &str = " See the API docs for more information about request parameters.";

fn type_message(value: &str, name: &str, python_type: &str) -> String {
    format!("Invalid value {value} for parameter '{name}' supplied:  Hint: Value was of type '{python_type}'.{HINT}")
}

fn ajax(app: &TestApp, path: &str) -> String {
    app.url(&format!("/ajax-api/2.0/mlflow/{path}"))
}

async fn bulk(app: &TestApp, pairs: &[(&str, &str)]) -> common::ApiResponse {
    app.get_url(&format!("{}?{}", ajax(app, "metrics/get-history-bulk"), common::query_string(pairs))).await
}

async fn log_metrics(app: &TestApp, run_id: &str, metrics: Value) {
    app.post_json("runs/log-batch", &json!({ "run_id": run_id, "metrics": metrics })).await.ok();
}

fn points(body: &Value) -> Vec<(String, i64, i64, f64)> {
    body["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["run_id"].as_str().unwrap().to_string(),
                m["timestamp"].as_i64().unwrap(),
                m["step"].as_i64().unwrap(),
                m["value"].as_f64().unwrap(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------- get-history-bulk

#[tokio::test]
async fn history_bulk_orders_by_run_then_timestamp_step_value() {
    let app = spawn_app().await;
    let experiment_id = app.create_experiment("bulk").await;
    let mut runs = [app.create_run(&experiment_id).await, app.create_run(&experiment_id).await];
    runs.sort();
    log_metrics(
        &app,
        &runs[1],
        json!([
            { "key": "loss", "value": 3.0, "timestamp": 15, "step": 0 },
            { "key": "loss", "value": 1.0, "timestamp": 10, "step": 2 },
            { "key": "loss", "value": 2.0, "timestamp": 10, "step": 1 },
            { "key": "other", "value": 9.0, "timestamp": 10, "step": 0 },
        ]),
    )
    .await;
    log_metrics(
        &app,
        &runs[0],
        json!([
            { "key": "loss", "value": 0.5, "timestamp": 10, "step": 0 },
            { "key": "loss", "value": 0.25, "timestamp": 10, "step": 0 },
        ]),
    )
    .await;
    // Named out of order and twice, with an unknown run: each known run once, in id order.
    let response = bulk(
        &app,
        &[("run_id", &runs[1]), ("run_id", &runs[0]), ("run_id", &runs[1]), ("run_id", "nope"), ("metric_key", "loss")],
    )
    .await;
    assert!(response.content_type.starts_with("application/json"));
    let body = response.ok();
    let (a, b) = (runs[0].clone(), runs[1].clone());
    assert_eq!(
        points(&body),
        vec![
            (a.clone(), 10, 0, 0.25),
            (a, 10, 0, 0.5),
            (b.clone(), 10, 1, 2.0),
            (b.clone(), 10, 2, 1.0),
            (b, 15, 0, 3.0)
        ]
    );
    let first = body["metrics"][0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["key", "run_id", "step", "timestamp", "value"]);
}

#[tokio::test]
async fn history_bulk_max_results_caps_the_answer_as_mlflow_does() {
    let app = spawn_app().await;
    let experiment_id = app.create_experiment("bulk-cap").await;
    let mut runs = [app.create_run(&experiment_id).await, app.create_run(&experiment_id).await];
    runs.sort();
    for run_id in &runs {
        let metrics: Vec<Value> =
            (0..3).map(|i| json!({ "key": "m", "value": i as f64, "timestamp": 100 + i, "step": i })).collect();
        log_metrics(&app, run_id, Value::Array(metrics)).await;
    }
    let app = &app;
    let both = |extra: &'static str| {
        let runs = runs.clone();
        async move {
            let mut pairs = vec![("run_id", runs[0].as_str()), ("run_id", runs[1].as_str()), ("metric_key", "m")];
            pairs.push(("max_results", extra));
            bulk(app, &pairs).await
        }
    };
    let capped = both("4").await.ok();
    let steps: Vec<(String, i64)> = points(&capped).into_iter().map(|(run, _, step, _)| (run, step)).collect();
    assert_eq!(steps, vec![(runs[0].clone(), 0), (runs[0].clone(), 1), (runs[0].clone(), 2), (runs[1].clone(), 0)]);
    assert_eq!(both("0").await.ok(), json!({ "metrics": [] }));
    assert_eq!(both(" +5 ").await.ok()["metrics"].as_array().unwrap().len(), 5);
    // Negative: SQL's LIMIT -2 (no limit), then Python's [:-2].
    assert_eq!(points(&both("-2").await.ok()).len(), 4);
    // MLflow's int("") raises (a 500); ferroflow refuses it.
    let empty = bulk(app, &[("run_id", &runs[0]), ("metric_key", "m"), ("max_results", "")]).await;
    assert_eq!(empty.invalid(), "Parameter 'max_results' must be an integer, got ''.");
}

#[tokio::test]
async fn history_bulk_writes_nan_bare_and_serves_only_under_ajax_api() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("bulk-nan").await;
    log_metrics(&app, &run_id, json!([{ "key": "n", "value": "NaN", "timestamp": 1 }])).await;
    let response = bulk(&app, &[("run_id", &run_id), ("metric_key", "n")]).await;
    assert_eq!(response.status, 200);
    assert!(response.text.contains("\"value\": NaN"), "{}", response.text);
    let direct = format!("{}?run_id={run_id}&metric_key=n", app.api("metrics/get-history-bulk"));
    assert_eq!(app.get_url(&direct).await.status, 404);
    let post = app.client.post(ajax(&app, "metrics/get-history-bulk")).send().await.unwrap();
    assert_eq!(post.status(), 405);
}

#[tokio::test]
async fn history_bulk_validation_messages() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("bulk-errors").await;
    assert_eq!(
        bulk(&app, &[("metric_key", "m")]).await.invalid(),
        "GetMetricHistoryBulk request must specify at least one run_id."
    );
    assert_eq!(
        bulk(&app, &[("run_id", &run_id)]).await.invalid(),
        "GetMetricHistoryBulk request must specify a metric_key."
    );
    let ids: Vec<String> = (0..101).map(|i| format!("r{i}")).collect();
    let mut pairs: Vec<(&str, &str)> = ids.iter().map(|id| ("run_id", id.as_str())).collect();
    pairs.push(("metric_key", "m"));
    assert_eq!(
        bulk(&app, &pairs).await.invalid(),
        "GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received 101 run_ids."
    );
    // MLflow answers 500 here (its int() raises); ferroflow a 400.
    assert_eq!(
        bulk(&app, &[("run_id", &run_id), ("metric_key", "m"), ("max_results", "ten")]).await.invalid(),
        "Parameter 'max_results' must be an integer, got 'ten'."
    );
}

// ---------------------------------------------------------------- search-datasets

async fn log_dataset(app: &TestApp, run_id: &str, name: &str, digest: &str, context: Option<&str>) {
    let tags: Vec<Value> = context.map(|c| json!({ "key": "mlflow.data.context", "value": c })).into_iter().collect();
    let dataset = json!({ "name": name, "digest": digest, "source_type": "local", "source": "{}" });
    app.post_json("runs/log-inputs", &json!({ "run_id": run_id, "datasets": [{ "tags": tags, "dataset": dataset }] }))
        .await
        .ok();
}

async fn search_datasets(app: &TestApp, body: Value) -> common::ApiResponse {
    app.post_json_to(&ajax(app, "experiments/search-datasets"), &body).await
}

#[tokio::test]
async fn search_datasets_lists_each_dataset_and_context_once() {
    let app = spawn_app().await;
    let experiment_id = app.create_experiment("datasets").await;
    let other = app.create_experiment("datasets-other").await;
    let (first, second, third) = (
        app.create_run(&experiment_id).await,
        app.create_run(&experiment_id).await,
        app.create_run(&experiment_id).await,
    );
    log_dataset(&app, &first, "train", "d1", Some("training")).await;
    log_dataset(&app, &second, "train", "d1", Some("training")).await;
    log_dataset(&app, &second, "eval", "d2", Some("eval")).await;
    log_dataset(&app, &third, "raw", "d3", None).await;
    let elsewhere = app.create_run(&other).await;
    log_dataset(&app, &elsewhere, "elsewhere", "d4", Some("training")).await;

    let body = search_datasets(&app, json!({ "experiment_ids": [experiment_id] })).await.ok();
    assert_eq!(
        body,
        json!({ "dataset_summaries": [
            { "experiment_id": experiment_id, "name": "train", "digest": "d1", "context": "training" },
            { "experiment_id": experiment_id, "name": "eval", "digest": "d2", "context": "eval" },
            { "experiment_id": experiment_id, "name": "raw", "digest": "d3" },
        ] })
    );
    let both = search_datasets(&app, json!({ "experimentIds": [experiment_id, other] })).await.ok();
    assert_eq!(both["dataset_summaries"].as_array().unwrap().len(), 4);
    let empty = app.create_experiment("datasets-none").await;
    assert_eq!(search_datasets(&app, json!({ "experiment_ids": [empty] })).await.ok(), json!({}));
}

#[tokio::test]
async fn search_datasets_validation() {
    let app = spawn_app().await;
    assert_eq!(
        search_datasets(&app, json!({})).await.invalid(),
        "SearchDatasets request must specify at least one experiment_id."
    );
    let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
    assert_eq!(
        search_datasets(&app, json!({ "experiment_ids": many })).await.invalid(),
        "SearchDatasets request cannot specify more than 20 experiment_ids. Received 21 experiment_ids."
    );
    assert_eq!(
        search_datasets(&app, json!({ "experiment_ids": ["abc"] })).await.invalid(),
        "Invalid experiment ID 'abc'. Experiment ID must be a valid integer."
    );
    assert_eq!(
        search_datasets(&app, json!({ "experiment_ids": [0] })).await.invalid(),
        type_message("0", "experiment_ids", "int")
    );
    assert_eq!(app.post_json("experiments/search-datasets", &json!({ "experiment_ids": ["0"] })).await.status, 404);
}

// ---------------------------------------------------------------- field types and messages

#[tokio::test]
async fn wrongly_typed_fields_get_mlflows_message() {
    let app = spawn_app().await;
    let (experiment_id, run_id) = app.experiment_with_run("types").await;
    let cases: Vec<(&str, Value, String)> = vec![
        ("experiments/create", json!({ "name": 123 }), type_message("123", "name", "int")),
        ("runs/update", json!({ "run_id": 31 }), type_message("31", "run_id", "int")),
        ("runs/log-batch", json!({ "run_id": 31 }), type_message("31", "run_id", "int")),
        ("runs/get", json!({ "run_id": 31 }), type_message("31", "run_id", "int")),
        ("runs/create", json!({ "experiment_id": 1 }), type_message("1", "experiment_id", "int")),
        ("runs/log-parameter", json!({ "run_id": run_id, "key": "p", "value": 5 }), type_message("5", "value", "int")),
        ("runs/set-tag", json!({ "run_id": run_id, "key": "t", "value": true }), type_message("true", "value", "bool")),
        (
            "runs/log-metric",
            json!({ "run_id": run_id, "key": "m", "value": "abc", "timestamp": 1 }),
            type_message("\"abc\"", "value", "str"),
        ),
        (
            "runs/log-metric",
            json!({ "run_id": run_id, "key": "m", "value": 1, "timestamp": 1.5 }),
            type_message("1.5", "timestamp", "float"),
        ),
        (
            "runs/log-batch",
            json!({ "run_id": run_id, "metrics": { "key": "a" } }),
            type_message("{\"key\":\"a\"}", "metrics", "dict"),
        ),
        ("runs/log-batch", json!({ "run_id": run_id, "metrics": ["foo"] }), type_message("\"foo\"", "metrics", "str")),
        (
            "runs/log-batch",
            json!({ "run_id": run_id, "metrics": [{ "key": "m", "value": "x", "timestamp": 1 }] }),
            type_message("\"x\"", "metrics[0].value", "str"),
        ),
        (
            "runs/log-batch",
            json!({ "run_id": run_id, "tags": [{ "key": "k", "value": "é" }, { "key": 1 }] }),
            type_message("1", "tags[1].key", "int"),
        ),
        ("experiments/search", json!({ "view_type": "NONE_SUCH" }), type_message("\"NONE_SUCH\"", "view_type", "str")),
        ("runs/search", json!({ "experiment_ids": "0" }), type_message("\"0\"", "experiment_ids", "str")),
        (
            "experiments/create",
            json!({ "name": "x", "tags": [{ "key": "k", "value": "caf\u{e9}" }], "artifact_location": ["a"] }),
            type_message("[\"a\"]", "artifact_location", "list"),
        ),
    ];
    for (rpc, body, expected) in cases {
        let response = if rpc == "runs/get" {
            app.request(reqwest::Method::GET, "/api/2.0/mlflow/runs/get", Some(&body.to_string())).await
        } else {
            app.post_json(rpc, &body).await
        };
        assert_eq!(response.invalid(), expected, "{rpc} {body}");
    }
    // Nothing refused reached the run; a string experiment id is fine.
    let run = app.get_run(&run_id).await;
    assert!(run["data"].get("params").is_none() && run["data"].get("metrics").is_none(), "{run}");
    app.post_json("runs/create", &json!({ "experiment_id": experiment_id })).await.ok();
}

#[tokio::test]
async fn numbers_in_text_and_booleans_for_doubles_are_read_as_protobuf_reads_them() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("protobuf-json").await;
    let body = json!({ "run_id": run_id, "key": "m", "value": "1.5", "timestamp": "12", "step": "1e1" });
    app.post_json("runs/log-metric", &body).await.ok();
    app.post_json("runs/log-metric", &json!({ "run_id": run_id, "key": "b", "value": true, "timestamp": 1 }))
        .await
        .ok();
    let history = app.get_query("metrics/get-history", &[("run_id", &run_id), ("metric_key", "m")]).await.ok();
    assert_eq!(history["metrics"], json!([{ "key": "m", "value": 1.5, "timestamp": 12, "step": 10 }]));
    let history = app.get_query("metrics/get-history", &[("run_id", &run_id), ("metric_key", "b")]).await.ok();
    assert_eq!(history["metrics"][0]["value"], 1.0);
    // Protobuf refuses an integer with a space inside, and "nan" spelled in lower case.
    let spaced = json!({ "run_id": run_id, "key": "m", "value": 1, "timestamp": "1 2" });
    assert_eq!(app.post_json("runs/log-metric", &spaced).await.invalid(), type_message("\"1 2\"", "timestamp", "str"));
    let nan = json!({ "run_id": run_id, "key": "m", "value": "nan", "timestamp": 1 });
    assert_eq!(app.post_json("runs/log-metric", &nan).await.invalid(), type_message("\"nan\"", "value", "str"));
}

#[tokio::test]
async fn a_query_string_run_id_stays_text() {
    let app = spawn_app().await;
    // A run id of 31 in a query string is looked up, not refused.
    assert_eq!(app.get_query("runs/get", &[("run_id", "31")]).await.not_found(), "Run with id=31 not found");
}

#[tokio::test]
async fn a_field_spelled_both_ways_is_refused_with_mlflows_message() {
    let app = spawn_app().await;
    let body = json!({ "name": "x", "artifact_location": "a", "artifactLocation": "b" });
    assert_eq!(
        app.post_json("experiments/create", &body).await.invalid(),
        "Request specifies both 'artifact_location' and 'artifactLocation'; provide only one of them."
    );
}

// ---------------------------------------------------------------- artifact locations

#[tokio::test]
async fn relative_artifact_locations_are_resolved_against_the_working_directory() {
    let app = spawn_app().await;
    let cwd = std::env::current_dir().unwrap().to_string_lossy().into_owned();
    let create = |name: &'static str, location: &'static str| {
        let app = &app;
        async move {
            let body =
                app.post_json("experiments/create", &json!({ "name": name, "artifact_location": location })).await.ok();
            app.get_experiment(body["experiment_id"].as_str().unwrap()).await["artifact_location"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(create("rel", "rel/./store//x/").await, format!("{cwd}/rel/store/x"));
    assert_eq!(create("rel-dotdot", "../up").await, format!("{cwd}/../up"));
    assert_eq!(create("file-rel", "file:rel%20two").await, format!("file://{cwd}/rel two"));
    assert_eq!(create("file-localhost", "file://localhost/abs").await, "file://localhost/abs");
    assert_eq!(create("abs", "/tmp/abs/loc").await, "/tmp/abs/loc");
    assert_eq!(create("s3", "s3://bucket/rel").await, "s3://bucket/rel");
    // MLflow answers 500 for a file: URI on another host; ferroflow a 400 with its text.
    let remote = json!({ "name": "remote", "artifact_location": "file://otherhost/data" });
    let message = app.post_json("experiments/create", &remote).await.invalid();
    assert!(message.starts_with("file://otherhost/data is not a valid remote uri."), "{message}");
}

// ---------------------------------------------------------------- logged models

async fn logged_model(app: &TestApp, experiment_id: &str, name: &str) -> String {
    let body = app.post_json("logged-models", &json!({ "experiment_id": experiment_id, "name": name })).await.ok();
    body["model"]["info"]["model_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn search_logged_models_applies_the_datasets_filter() {
    let app = spawn_app().await;
    let (experiment_id, run_id) = app.experiment_with_run("lm-datasets").await;
    let on_train = logged_model(&app, &experiment_id, "on-train").await;
    let on_eval = logged_model(&app, &experiment_id, "on-eval").await;
    let plain = logged_model(&app, &experiment_id, "plain").await;
    log_metrics(
        &app,
        &run_id,
        json!([
            { "key": "acc", "value": 0.9, "timestamp": 1, "model_id": on_train, "dataset_name": "train", "dataset_digest": "t1" },
            { "key": "acc", "value": 0.7, "timestamp": 1, "model_id": on_eval, "dataset_name": "eval", "dataset_digest": "e1" },
            { "key": "acc", "value": 0.5, "timestamp": 1, "model_id": plain },
        ]),
    )
    .await;
    let names = |extra: Value| {
        let app = &app;
        let experiment_id = experiment_id.clone();
        async move {
            let mut body = json!({ "experiment_ids": [experiment_id] });
            for (key, value) in extra.as_object().unwrap() {
                body[key] = value.clone();
            }
            let found = app.post_json("logged-models/search", &body).await.ok();
            let mut names: Vec<String> = found["models"]
                .as_array()
                .map(|models| models.iter().map(|m| m["info"]["name"].as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            names.sort();
            names
        }
    };
    assert_eq!(names(json!({})).await, ["on-eval", "on-train", "plain"]);
    assert_eq!(names(json!({ "datasets": [{ "dataset_name": "train", "dataset_digest": "t1" }] })).await, ["on-train"]);
    let two = json!({ "datasets": [
        { "dataset_name": "train", "dataset_digest": "t1" },
        { "dataset_name": "eval", "dataset_digest": "e1" },
    ] });
    assert_eq!(names(two).await, ["on-eval", "on-train"]);
    assert!(names(json!({ "datasets": [{ "dataset_name": "train" }] })).await.is_empty());
    let filtered =
        json!({ "filter": "metrics.acc > 0.6", "datasets": [{ "dataset_name": "eval", "dataset_digest": "e1" }] });
    assert_eq!(names(filtered).await, ["on-eval"]);
    let missing = json!({ "experiment_ids": [experiment_id], "datasets": [{ "dataset_digest": "t1" }] });
    assert_eq!(
        app.post_json("logged-models/search", &missing).await.invalid(),
        "`dataset_name` in the `datasets` clause must be specified."
    );
}

#[tokio::test]
async fn a_model_version_from_a_logged_model_is_recorded_on_the_model() {
    let app = spawn_app().await;
    let experiment_id = app.create_experiment("lineage").await;
    let model_id = logged_model(&app, &experiment_id, "lineage").await;
    app.post_json("registered-models/create", &json!({ "name": "reg" })).await.ok();
    let source = format!("models:/{model_id}");
    for _ in 0..2 {
        let body = json!({ "name": "reg", "source": source, "model_id": model_id });
        app.post_json("model-versions/create", &body).await.ok();
    }
    let model = app.get_url(&app.api(&format!("logged-models/{model_id}"))).await.ok();
    let tags = model["model"]["info"]["tags"].as_array().unwrap();
    let tag = tags.iter().find(|t| t["key"] == "mlflow.modelVersions").expect("the lineage tag");
    assert_eq!(tag["value"], r#"[{"name": "reg", "version": 1}, {"name": "reg", "version": 2}]"#);
    // Without the model's id such a source is refused, as MLflow refuses it.
    let message = app.post_json("model-versions/create", &json!({ "name": "reg", "source": source })).await.invalid();
    assert_eq!(
        message,
        format!(
            "Invalid model version source: '{source}'. The model_id request parameter must identify the resource \
             that contains the source."
        )
    );
}

#[tokio::test]
async fn unsafe_artifact_paths_say_invalid_path() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("paths").await;
    for path in ["../x", "/abs", "a/../../x"] {
        let response = app.get_query("artifacts/list", &[("run_id", &run_id), ("path", path)]).await;
        assert_eq!(response.invalid(), "Invalid path", "{path}");
    }
    let response = app.get_url(&app.url("/api/2.0/mlflow-artifacts/artifacts/..%2Fx")).await;
    assert_eq!(response.invalid(), "Invalid path");
}
