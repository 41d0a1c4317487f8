//! Black-box tests of the run RPCs: create/get/update/delete/restore/search, params, tags,
//! log-batch, log-inputs and outputs. Expected values follow MLflow 3.18's server.

mod common;

use common::{assert_keys, assert_snake_case_keys, key_value_map, spawn_app, DOUBLE_MAX};
use serde_json::{json, Value};

fn is_run_uuid(id: &str) -> bool {
    id.len() == 32 && id.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn active_state_message(run_id: &str) -> String {
    format!("The run {run_id} must be in the 'active' state. Current state is deleted.")
}

fn run_ids(runs: &Value) -> Vec<String> {
    runs.as_array()
        .map(|list| list.iter().map(|r| r["info"]["run_id"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- create

#[tokio::test]
async fn create_returns_the_new_run() {
    let app = spawn_app().await;
    let experiment_id = app.create_experiment("runs").await;
    let body = app
        .post_json(
            "runs/create",
            &json!({
                "experiment_id": experiment_id,
                "user_id": "alice",
                "run_name": "baseline",
                "start_time": 1_795_708_023_302_i64,
                "tags": [{ "key": "mlflow.source.type", "value": "LOCAL" }],
            }),
        )
        .await
        .ok();
    assert_snake_case_keys(&body);
    assert_keys(&body, &["run"]);
    // MLflow's create answer carries no `outputs`; `inputs` is present even when empty.
    assert_keys(&body["run"], &["info", "data", "inputs"]);
    assert_eq!(body["run"]["inputs"], json!({}));
    let info = &body["run"]["info"];
    assert_keys(
        info,
        &[
            "run_uuid",
            "run_id",
            "experiment_id",
            "run_name",
            "user_id",
            "status",
            "start_time",
            "artifact_uri",
            "lifecycle_stage",
        ],
    );
    let run_id = info["run_id"].as_str().unwrap();
    assert!(is_run_uuid(run_id), "run ids are uuid4 hex: {run_id}");
    assert_eq!(info["run_uuid"], run_id);
    assert_eq!(info["experiment_id"], experiment_id.as_str());
    assert_eq!(info["run_name"], "baseline");
    assert_eq!(info["user_id"], "alice");
    assert_eq!(info["status"], "RUNNING");
    assert_eq!(info["start_time"], 1_795_708_023_302_i64);
    assert_eq!(info["artifact_uri"], format!("mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"));
    assert_eq!(info["lifecycle_stage"], "active");
    let tags = key_value_map(&body["run"]["data"]["tags"]);
    assert_eq!(tags["mlflow.runName"], "baseline");
    assert_eq!(tags["mlflow.source.type"], "LOCAL");
    assert_keys(&body["run"]["data"], &["tags"]);
}

#[tokio::test]
async fn create_without_fields_uses_mlflow_defaults() {
    let app = spawn_app().await;
    let body = app.post_json("runs/create", &json!({})).await.ok();
    let info = &body["run"]["info"];
    assert_eq!(info["experiment_id"], "0", "no experiment id means the default experiment");
    assert_eq!(info["start_time"], 0, "MLflow stores 0, not now, when start_time is absent");
    assert_eq!(info["user_id"], "");
    // A generated "predicate-noun-N" name, mirrored into the mlflow.runName tag.
    let name = info["run_name"].as_str().unwrap();
    let parts: Vec<&str> = name.split('-').collect();
    assert!(name.len() <= 20 && parts.len() == 3 && parts[2].parse::<u32>().is_ok_and(|n| n <= 1000), "{name}");
    assert_eq!(key_value_map(&body["run"]["data"]["tags"])["mlflow.runName"], name);
}

#[tokio::test]
async fn create_takes_the_name_from_the_run_name_tag() {
    let app = spawn_app().await;
    let body =
        app.post_json("runs/create", &json!({ "tags": [{ "key": "mlflow.runName", "value": "from-tag" }] })).await.ok();
    assert_eq!(body["run"]["info"]["run_name"], "from-tag");
    let same = json!({ "run_name": "same", "tags": [{ "key": "mlflow.runName", "value": "same" }] });
    assert_eq!(app.post_json("runs/create", &same).await.ok()["run"]["info"]["run_name"], "same");

    let conflicting = json!({ "run_name": "a", "tags": [{ "key": "mlflow.runName", "value": "b" }] });
    let message = app.post_json("runs/create", &conflicting).await.invalid();
    assert_eq!(
        message,
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='a', mlflow.runName='b')."
    );
}

#[tokio::test]
async fn create_errors() {
    let app = spawn_app().await;
    let message = app.post_json("runs/create", &json!({ "experiment_id": "9999" })).await.not_found();
    assert_eq!(message, "No Experiment with id=9999 exists");
    let message = app.post_json("runs/create", &json!({ "experiment_id": "abc" })).await.invalid();
    assert_eq!(message, "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.");
    app.post_json("runs/create", &json!({ "start_time": "yesterday" })).await.invalid();
    app.post_json("runs/create", &json!({ "tags": "not-a-list-of-tags" })).await.invalid();
}

#[tokio::test]
async fn create_accepts_camel_case_and_string_numbers() {
    let app = spawn_app().await;
    let experiment_id = app.create_experiment("lenient").await;
    let body = app
        .post_json(
            "runs/create",
            &json!({ "experimentId": experiment_id, "userId": "bob", "runName": "camel", "startTime": "1234" }),
        )
        .await
        .ok();
    let info = &body["run"]["info"];
    assert_eq!(info["experiment_id"], experiment_id.as_str());
    assert_eq!(info["user_id"], "bob");
    assert_eq!(info["run_name"], "camel");
    assert_eq!(info["start_time"], 1234);
    // A numeric experiment id is refused, as MLflow refuses it (its client sends a string).
    let number = experiment_id.parse::<i64>().unwrap();
    let message = app.post_json("runs/create", &json!({ "experiment_id": number })).await.invalid();
    assert!(
        message.starts_with(&format!("Invalid value {number} for parameter 'experiment_id' supplied")),
        "{message}"
    );
}

// ---------------------------------------------------------------- get

#[tokio::test]
async fn get_returns_info_data_inputs_and_outputs() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("get").await;
    let body = app.get_query("runs/get", &[("run_uuid", &run_id), ("run_id", &run_id)]).await.ok();
    assert_keys(&body, &["run"]);
    assert_keys(&body["run"], &["info", "data", "inputs", "outputs"]);
    assert_eq!(body["run"]["inputs"], json!({}));
    assert_eq!(body["run"]["outputs"], json!({}));
    assert!(body["run"]["info"].get("end_time").is_none(), "an unset end_time is omitted");
    // The deprecated run_uuid alone also works.
    let body = app.get_query("runs/get", &[("run_uuid", &run_id)]).await.ok();
    assert_eq!(body["run"]["info"]["run_id"], run_id.as_str());
}

#[tokio::test]
async fn get_errors() {
    let app = spawn_app().await;
    let message = app.get_query("runs/get", &[]).await.invalid();
    assert_eq!(message, "Missing value for required parameter 'run_id'. See the API docs for more information about request parameters.");
    let missing = "0123456789abcdef0123456789abcdef";
    let message = app.get_query("runs/get", &[("run_id", missing)]).await.not_found();
    assert_eq!(message, format!("Run with id={missing} not found"));
    // Only log-batch and log-inputs check the id's syntax; elsewhere an odd id is just unknown.
    let message = app.get_query("runs/get", &[("run_id", "no such run!")]).await.not_found();
    assert_eq!(message, "Run with id=no such run! not found");
}

// ---------------------------------------------------------------- update

#[tokio::test]
async fn update_sets_status_end_time_and_name() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("update").await;
    let body =
        app.post_json("runs/update", &json!({ "run_id": run_id, "status": "FINISHED", "end_time": 5000 })).await.ok();
    assert_keys(&body, &["run_info"]);
    assert_eq!(body["run_info"]["status"], "FINISHED");
    assert_eq!(body["run_info"]["end_time"], 5000);

    // Enum by number (4 = FAILED), int64 as a string, run_uuid instead of run_id.
    let body = app.post_json("runs/update", &json!({ "run_uuid": run_id, "status": 4, "end_time": "6000" })).await.ok();
    assert_eq!(body["run_info"]["status"], "FAILED");
    assert_eq!(body["run_info"]["end_time"], 6000);

    let body = app.post_json("runs/update", &json!({ "run_id": run_id, "run_name": "renamed" })).await.ok();
    assert_eq!(body["run_info"]["run_name"], "renamed");
    assert_eq!(body["run_info"]["status"], "FAILED", "unset fields keep their value");
    assert_eq!(app.run_data_map(&run_id, "tags").await["mlflow.runName"], "renamed");
    // An empty run_name is a no-op.
    let body = app.post_json("runs/update", &json!({ "run_id": run_id, "run_name": "" })).await.ok();
    assert_eq!(body["run_info"]["run_name"], "renamed");
}

#[tokio::test]
async fn update_errors() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("update").await;
    app.post_json("runs/update", &json!({ "status": "FINISHED" })).await.invalid();
    app.post_json("runs/update", &json!({ "run_id": "0123456789abcdef0123456789abcdef" })).await.not_found();
    app.post_json("runs/update", &json!({ "run_id": run_id, "status": "DONE" })).await.invalid();
    app.post_json("runs/update", &json!({ "run_id": run_id, "end_time": "later" })).await.invalid();
    app.delete_run(&run_id).await;
    let message = app.post_json("runs/update", &json!({ "run_id": run_id, "status": "FINISHED" })).await.invalid();
    assert_eq!(message, active_state_message(&run_id));
}

// ---------------------------------------------------------------- delete / restore

#[tokio::test]
async fn delete_and_restore() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("lifecycle").await;
    assert_eq!(app.post_json("runs/delete", &json!({ "run_id": run_id })).await.ok(), json!({}));
    // A deleted run can still be read.
    assert_eq!(app.get_run(&run_id).await["info"]["lifecycle_stage"], "deleted");
    // Deleting twice is fine in MLflow.
    app.post_json("runs/delete", &json!({ "run_id": run_id })).await.ok();
    assert_eq!(app.post_json("runs/restore", &json!({ "run_id": run_id })).await.ok(), json!({}));
    assert_eq!(app.get_run(&run_id).await["info"]["lifecycle_stage"], "active");

    for rpc in ["runs/delete", "runs/restore"] {
        let message = app.post_json(rpc, &json!({ "run_id": "0123456789abcdef0123456789abcdef" })).await.not_found();
        assert_eq!(message, "Run with id=0123456789abcdef0123456789abcdef not found");
        let message = app.post_json(rpc, &json!({})).await.invalid();
        assert!(message.starts_with("Missing value for required parameter 'run_id'."), "{message}");
    }
}

#[tokio::test]
async fn every_write_to_a_deleted_run_is_refused() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("deleted").await;
    app.post_json("runs/set-tag", &json!({ "run_id": run_id, "key": "t", "value": "v" })).await.ok();
    app.delete_run(&run_id).await;
    let writes = [
        ("runs/log-metric", json!({ "run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1 })),
        ("runs/log-parameter", json!({ "run_id": run_id, "key": "p", "value": "1" })),
        ("runs/set-tag", json!({ "run_id": run_id, "key": "t", "value": "w" })),
        ("runs/delete-tag", json!({ "run_id": run_id, "key": "t" })),
        ("runs/log-batch", json!({ "run_id": run_id, "params": [{ "key": "p", "value": "1" }] })),
        ("runs/update", json!({ "run_id": run_id, "status": "FINISHED" })),
        ("runs/log-inputs", json!({ "run_id": run_id, "models": [{ "model_id": "m-1" }] })),
        ("runs/outputs", json!({ "run_id": run_id, "models": [{ "model_id": "m-1", "step": 0 }] })),
    ];
    for (rpc, body) in writes {
        let message = app.post_json(rpc, &body).await.invalid();
        assert_eq!(message, active_state_message(&run_id), "{rpc}");
    }
    let run = app.get_run(&run_id).await;
    assert_eq!(key_value_map(&run["data"]["tags"])["t"], "v", "nothing changed");
    assert!(run["data"].get("params").is_none() && run["data"].get("metrics").is_none());
}

// ---------------------------------------------------------------- search

#[tokio::test]
async fn search_orders_by_start_time_and_pages() {
    let app = spawn_app().await;
    let experiment_id = app.create_experiment("search").await;
    let mut created = Vec::new();
    for start_time in [100, 300, 200] {
        let body = app
            .post_json("runs/create", &json!({ "experiment_id": experiment_id, "start_time": start_time }))
            .await
            .ok();
        created.push(body["run"]["info"]["run_id"].as_str().unwrap().to_string());
    }
    let expected = vec![created[1].clone(), created[2].clone(), created[0].clone()];

    let body = app.post_json("runs/search", &json!({ "experiment_ids": [experiment_id] })).await.ok();
    assert_keys(&body, &["runs"]);
    assert_eq!(run_ids(&body["runs"]), expected);
    let run = &body["runs"][0];
    assert_keys(run, &["info", "data", "inputs", "outputs"]);
    assert_snake_case_keys(run);

    let first =
        app.post_json("runs/search", &json!({ "experiment_ids": [experiment_id], "max_results": 2 })).await.ok();
    assert_eq!(run_ids(&first["runs"]), expected[..2]);
    let token = first["next_page_token"].as_str().expect("a second page exists").to_string();
    let second = app
        .post_json("runs/search", &json!({ "experimentIds": [experiment_id], "maxResults": "2", "pageToken": token }))
        .await
        .ok();
    assert_eq!(run_ids(&second["runs"]), expected[2..]);
    assert!(second.get("next_page_token").is_none(), "no token on the last page: {second}");
}

#[tokio::test]
async fn search_respects_the_view_type() {
    let app = spawn_app().await;
    let (experiment_id, kept) = app.experiment_with_run("views").await;
    let deleted = app.create_run(&experiment_id).await;
    app.delete_run(&deleted).await;
    let search = |view: Value| json!({ "experiment_ids": [experiment_id], "run_view_type": view });
    assert_eq!(
        run_ids(&app.post_json("runs/search", &search(json!("ACTIVE_ONLY"))).await.ok()["runs"]),
        vec![kept.clone()]
    );
    assert_eq!(
        run_ids(&app.post_json("runs/search", &search(json!("DELETED_ONLY"))).await.ok()["runs"]),
        vec![deleted.clone()]
    );
    assert_eq!(run_ids(&app.post_json("runs/search", &search(json!(3))).await.ok()["runs"]).len(), 2);
    app.post_json("runs/search", &search(json!("EVERYTHING"))).await.invalid();
}

#[tokio::test]
async fn search_edge_cases_and_errors() {
    let app = spawn_app().await;
    let (experiment_id, _) = app.experiment_with_run("edges").await;
    // No experiments, or unknown ones: nothing found, and an empty answer is `{}`.
    assert_eq!(app.post_json("runs/search", &json!({})).await.ok(), json!({}));
    assert_eq!(app.post_json("runs/search", &json!({ "experiment_ids": ["4242"] })).await.ok(), json!({}));
    // An empty filter is no filter.
    let body = app.post_json("runs/search", &json!({ "experiment_ids": [experiment_id], "filter": "" })).await.ok();
    assert_eq!(run_ids(&body["runs"]).len(), 1);

    let message = app.post_json("runs/search", &json!({ "experiment_ids": ["abc"] })).await.invalid();
    assert_eq!(message, "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.");
    let message = app
        .post_json("runs/search", &json!({ "experiment_ids": [experiment_id], "max_results": 50001 }))
        .await
        .invalid();
    assert_eq!(
        message,
        "Invalid value 50001 for parameter 'max_results' supplied:  Hint: Value was of type 'int'. See the API docs for more information about request parameters."
    );
    let message =
        app.post_json("runs/search", &json!({ "experiment_ids": [experiment_id], "max_results": 0 })).await.invalid();
    assert_eq!(message, "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer");
    app.post_json("runs/search", &json!({ "experiment_ids": [experiment_id], "page_token": "%%%" })).await.invalid();
}

#[tokio::test]
async fn search_filters_and_orders_by_metrics_params_tags_and_attributes() {
    let app = spawn_app().await;
    let experiment_id = app.create_experiment("filters").await;
    let mut ids = Vec::new();
    for (start_time, metric, param, tag) in [
        (100, Some(1.0), Some("a"), Some("x")),
        (200, Some(3.0), Some("b"), None),
        (300, None, Some("c"), Some("x")),
        (400, Some(2.0), None, None),
    ] {
        let body = app
            .post_json("runs/create", &json!({ "experiment_id": experiment_id, "start_time": start_time }))
            .await
            .ok();
        let run_id = body["run"]["info"]["run_id"].as_str().unwrap().to_string();
        let mut batch = json!({ "run_id": run_id });
        if let Some(metric) = metric {
            batch["metrics"] = json!([{ "key": "m", "value": metric, "timestamp": 1 }]);
        }
        if let Some(param) = param {
            batch["params"] = json!([{ "key": "p", "value": param }]);
        }
        if let Some(tag) = tag {
            batch["tags"] = json!([{ "key": "t", "value": tag }]);
        }
        app.post_json("runs/log-batch", &batch).await.ok();
        ids.push(run_id);
    }
    app.post_json("runs/update", &json!({ "run_id": ids[3], "status": "FINISHED" })).await.ok();
    let search = |filter: &str, order_by: &[&str]| json!({ "experiment_ids": [experiment_id], "filter": filter, "order_by": order_by });
    let expect = |positions: &[usize]| positions.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>();
    let cases: Vec<(&str, Vec<&str>, Vec<usize>)> = vec![
        ("metrics.m > 1.5", vec![], vec![3, 1]),
        ("params.p = 'a'", vec![], vec![0]),
        ("tags.t = 'x'", vec![], vec![2, 0]),
        ("attributes.status = 'FINISHED'", vec![], vec![3]),
        ("metrics.m > 0 and tags.t = 'x'", vec![], vec![0]),
        // Runs without the metric or param sort last in both directions, as in MLflow.
        ("", vec!["metrics.m DESC"], vec![1, 3, 0, 2]),
        ("", vec!["metrics.m ASC"], vec![0, 3, 1, 2]),
        ("", vec!["params.p DESC"], vec![2, 1, 0, 3]),
        ("", vec!["start_time ASC"], vec![0, 1, 2, 3]),
    ];
    for (filter, order_by, expected) in cases {
        let body = app.post_json("runs/search", &search(filter, &order_by)).await.ok();
        assert_eq!(run_ids(&body["runs"]), expect(&expected), "filter {filter:?} order_by {order_by:?}");
    }
    for (filter, order_by) in [
        ("metrics.m >", vec![]),
        ("nonsense", vec![]),
        ("metrics.m > 'text'", vec![]),
        ("", vec!["metrics.m SIDEWAYS"]),
        ("", vec!["colour DESC"]),
    ] {
        app.post_json("runs/search", &search(filter, &order_by)).await.invalid();
    }
}

// ---------------------------------------------------------------- params

#[tokio::test]
async fn params_are_write_once() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("params").await;
    let log = |key: &str, value: &str| json!({ "run_id": run_id, "key": key, "value": value });
    assert_eq!(app.post_json("runs/log-parameter", &log("lr", "0.1")).await.ok(), json!({}));
    // The same value again is fine.
    app.post_json("runs/log-parameter", &log("lr", "0.1")).await.ok();
    let message = app.post_json("runs/log-parameter", &log("lr", "0.2")).await.invalid();
    assert_eq!(
        message,
        format!(
            "Changing param values is not allowed. Param with key='lr' was already logged with value='0.1' for run ID='{run_id}'. Attempted logging new value '0.2'."
        )
    );
    assert_eq!(app.run_data_map(&run_id, "params").await["lr"], "0.1");
    // An absent value is the empty string; run_uuid works in place of run_id.
    app.post_json("runs/log-parameter", &json!({ "run_uuid": run_id, "key": "empty" })).await.ok();
    assert_eq!(app.run_data_map(&run_id, "params").await["empty"], "");
}

#[tokio::test]
async fn long_param_values_are_truncated_to_6000_characters() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("params").await;
    let long = "é".repeat(7000);
    app.post_json("runs/log-parameter", &json!({ "run_id": run_id, "key": "long", "value": long })).await.ok();
    // Logging the same long value again compares the truncated text: no conflict.
    app.post_json("runs/log-parameter", &json!({ "run_id": run_id, "key": "long", "value": long })).await.ok();
    let stored = app.run_data_map(&run_id, "params").await["long"].as_str().unwrap().to_string();
    assert_eq!(stored.chars().count(), 6000);
    assert_eq!(stored, "é".repeat(6000));
}

#[tokio::test]
async fn param_errors() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("params").await;
    let rpc = "runs/log-parameter";
    let message = app.post_json(rpc, &json!({ "run_id": run_id, "value": "1" })).await.invalid();
    assert!(message.starts_with("Missing value for required parameter 'key'."), "{message}");
    app.post_json(rpc, &json!({ "key": "k", "value": "1" })).await.invalid();
    let message = app.post_json(rpc, &json!({ "run_id": run_id, "key": "bad*key", "value": "1" })).await.invalid();
    assert!(
        message.starts_with("Invalid value \"bad*key\" for parameter 'key' supplied: Names may only contain"),
        "{message}"
    );
    let message = app.post_json(rpc, &json!({ "run_id": run_id, "key": "a//b", "value": "1" })).await.invalid();
    assert!(message.contains("This name would resolve to 'a/b'"), "{message}");
    let message =
        app.post_json(rpc, &json!({ "run_id": run_id, "key": "k".repeat(251), "value": "1" })).await.invalid();
    assert_eq!(message, "'Param key' exceeds the maximum length of 250 characters");
    app.post_json(rpc, &json!({ "run_id": "0123456789abcdef0123456789abcdef", "key": "k", "value": "1" }))
        .await
        .not_found();
    assert!(app.get_run(&run_id).await["data"].get("params").is_none());
}

// ---------------------------------------------------------------- tags

#[tokio::test]
async fn tags_are_upserted_truncated_and_deleted() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("tags").await;
    let set = |key: &str, value: &str| json!({ "run_id": run_id, "key": key, "value": value });
    assert_eq!(app.post_json("runs/set-tag", &set("t", "1")).await.ok(), json!({}));
    app.post_json("runs/set-tag", &set("t", "2")).await.ok();
    app.post_json("runs/set-tag", &set("long", &"x".repeat(9000))).await.ok();
    let tags = app.run_data_map(&run_id, "tags").await;
    assert_eq!(tags["t"], "2");
    assert_eq!(tags["long"].as_str().unwrap().len(), 8000);

    assert_eq!(app.post_json("runs/delete-tag", &json!({ "run_id": run_id, "key": "t" })).await.ok(), json!({}));
    assert!(!app.run_data_map(&run_id, "tags").await.contains_key("t"));
    let message = app.post_json("runs/delete-tag", &json!({ "run_id": run_id, "key": "t" })).await.not_found();
    assert_eq!(message, format!("No tag with name: t in run with id {run_id}"));
}

#[tokio::test]
async fn the_run_name_tag_renames_the_run() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("names").await;
    app.post_json("runs/set-tag", &json!({ "run_id": run_id, "key": "mlflow.runName", "value": "new-name" }))
        .await
        .ok();
    assert_eq!(app.get_run(&run_id).await["info"]["run_name"], "new-name");
    // An empty name is silently ignored, as in MLflow.
    app.post_json("runs/set-tag", &json!({ "run_id": run_id, "key": "mlflow.runName", "value": "" })).await.ok();
    let run = app.get_run(&run_id).await;
    assert_eq!(run["info"]["run_name"], "new-name");
    assert_eq!(key_value_map(&run["data"]["tags"])["mlflow.runName"], "new-name");
}

#[tokio::test]
async fn tag_errors() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("tags").await;
    let message = app
        .post_json("runs/set-tag", &json!({ "run_id": run_id, "key": "k".repeat(251), "value": "v" }))
        .await
        .invalid();
    assert_eq!(message, "'key' exceeds the maximum length of 250 characters");
    let message =
        app.post_json("runs/set-tag", &json!({ "run_id": run_id, "key": "/abs", "value": "v" })).await.invalid();
    assert!(message.starts_with("Invalid value \"/abs\" for parameter 'key' supplied:"), "{message}");
    app.post_json("runs/set-tag", &json!({ "run_id": run_id, "value": "v" })).await.invalid();
    app.post_json("runs/set-tag", &json!({ "key": "k", "value": "v" })).await.invalid();
    app.post_json("runs/set-tag", &json!({ "run_id": "0123456789abcdef0123456789abcdef", "key": "k", "value": "v" }))
        .await
        .not_found();
    app.post_json("runs/delete-tag", &json!({ "run_id": run_id })).await.invalid();
    app.post_json("runs/delete-tag", &json!({ "run_id": run_id, "key": "" })).await.invalid();
    app.post_json("runs/delete-tag", &json!({ "run_id": "0123456789abcdef0123456789abcdef", "key": "k" }))
        .await
        .not_found();
}

// ---------------------------------------------------------------- log-batch

#[tokio::test]
async fn log_batch_writes_metrics_params_and_tags() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("batch").await;
    let body = app
        .post_json(
            "runs/log-batch",
            &json!({
                "run_id": run_id,
                "metrics": [
                    { "key": "m", "value": 1.5, "timestamp": 1000, "step": 1 },
                    { "key": "m", "value": "NaN", "timestamp": 1001, "step": 2 },
                    { "key": "m", "value": "Infinity", "timestamp": 1002, "step": 3 },
                    { "key": "low", "value": "-Infinity", "timestamp": 1000 },
                ],
                "params": [{ "key": "p", "value": "1" }, { "key": "long", "value": "v".repeat(7000) }],
                "tags": [
                    { "key": "t", "value": "first" },
                    { "key": "t", "value": "last" },
                    { "key": "mlflow.runName", "value": "batch-named" },
                ],
            }),
        )
        .await
        .ok();
    assert_eq!(body, json!({}));
    let run = app.get_run(&run_id).await;
    let metrics = key_value_map(&run["data"]["metrics"]);
    assert_eq!(metrics["m"], json!({ "key": "m", "value": DOUBLE_MAX, "timestamp": 1002, "step": 3 }));
    assert_eq!(metrics["low"], json!({ "key": "low", "value": -DOUBLE_MAX, "timestamp": 1000, "step": 0 }));
    let params = key_value_map(&run["data"]["params"]);
    assert_eq!(params["p"], "1");
    assert_eq!(params["long"].as_str().unwrap().len(), 6000);
    let tags = key_value_map(&run["data"]["tags"]);
    assert_eq!(tags["t"], "last", "duplicate tag keys in one batch: the last one wins");
    assert_eq!(tags["mlflow.runName"], "batch-named");
    assert_eq!(run["info"]["run_name"], "batch-named");

    // An empty batch still needs an existing run.
    app.post_json("runs/log-batch", &json!({ "run_id": run_id })).await.ok();
    app.post_json("runs/log-batch", &json!({ "run_id": "0123456789abcdef0123456789abcdef" })).await.not_found();
}

#[tokio::test]
async fn a_log_batch_with_one_invalid_item_changes_nothing() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("atomic").await;
    let before = app.get_run(&run_id).await;
    let good_metrics = json!([{ "key": "m", "value": 1, "timestamp": 1 }, { "key": "n", "value": 2, "timestamp": 1 }]);
    let good_params = json!([{ "key": "p", "value": "1" }]);
    let bad_batches = [
        json!({ "run_id": run_id, "metrics": good_metrics, "params": good_params, "tags": [{ "key": "ok", "value": "v" }, { "key": "bad*key", "value": "v" }] }),
        json!({ "run_id": run_id, "metrics": [{ "key": "m", "value": 1, "timestamp": 1 }, { "key": "m", "value": 1, "timestamp": -5 }], "params": good_params }),
        json!({ "run_id": run_id, "metrics": good_metrics, "params": [{ "key": "p", "value": "1" }, { "key": "p", "value": "1" }] }),
        json!({ "run_id": run_id, "metrics": good_metrics, "params": [{ "key": "p", "value": "1" }, { "key": "q".repeat(251), "value": "1" }] }),
        json!({ "run_id": run_id, "metrics": [{ "key": "m", "value": 1, "timestamp": 1 }, { "key": "m", "value": "one", "timestamp": 1 }] }),
        json!({ "run_id": run_id, "metrics": [{ "key": "m", "value": 1, "timestamp": 1 }, { "key": "m", "value": 1 }] }),
    ];
    for batch in &bad_batches {
        app.post_json("runs/log-batch", batch).await.invalid();
        assert_eq!(app.get_run(&run_id).await, before, "a rejected batch wrote something: {batch}");
    }

    // A param conflict with an earlier value is also all-or-nothing for the batch.
    app.post_json("runs/log-parameter", &json!({ "run_id": run_id, "key": "p", "value": "old" })).await.ok();
    let before = app.get_run(&run_id).await;
    let conflicting = json!({ "run_id": run_id, "metrics": good_metrics, "params": [{ "key": "fresh", "value": "1" }, { "key": "p", "value": "new" }], "tags": [{ "key": "t", "value": "v" }] });
    let message = app.post_json("runs/log-batch", &conflicting).await.invalid();
    assert_eq!(
        message,
        format!(
            "Changing param values is not allowed. Params were already logged='[{{'key': 'p', 'old_value': 'old', 'new_value': 'new'}}]' for run ID='{run_id}'."
        )
    );
    assert_eq!(app.get_run(&run_id).await, before);
}

#[tokio::test]
async fn log_batch_limits_and_messages() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("limits").await;
    let metric = |i: usize| json!({ "key": "m", "value": i, "timestamp": 1, "step": i });
    let kv = |i: usize| json!({ "key": format!("k{i}"), "value": "v" });
    let metrics: Vec<Value> = (0..1001).map(metric).collect();
    let message = app.post_json("runs/log-batch", &json!({ "run_id": run_id, "metrics": metrics })).await.invalid();
    assert_eq!(
        message,
        "A batch logging request can contain at most 1000 metrics. Got 1001 metrics. Please split up metrics across multiple requests and try again."
    );
    let params: Vec<Value> = (0..101).map(kv).collect();
    let message = app.post_json("runs/log-batch", &json!({ "run_id": run_id, "params": params })).await.invalid();
    assert!(
        message.starts_with("A batch logging request can contain at most 100 params. Got 101 params."),
        "{message}"
    );
    let tags: Vec<Value> = (0..101).map(kv).collect();
    let message = app.post_json("runs/log-batch", &json!({ "run_id": run_id, "tags": tags })).await.invalid();
    assert!(message.starts_with("A batch logging request can contain at most 100 tags. Got 101 tags."), "{message}");
    let metrics: Vec<Value> = (0..901).map(metric).collect();
    let params: Vec<Value> = (0..100).map(kv).collect();
    let message = app
        .post_json("runs/log-batch", &json!({ "run_id": run_id, "metrics": metrics, "params": params }))
        .await
        .invalid();
    assert!(
        message.starts_with("A batch logging request can contain at most 1000 metrics, params, and tags. Got 1001"),
        "{message}"
    );
    // Exactly at the limits is fine.
    let metrics: Vec<Value> = (0..1000).map(metric).collect();
    app.post_json("runs/log-batch", &json!({ "run_id": run_id, "metrics": metrics })).await.ok();

    let message = app
        .post_json(
            "runs/log-batch",
            &json!({ "run_id": run_id, "params": [{ "key": "d", "value": "1" }, { "key": "d", "value": "1" }] }),
        )
        .await
        .invalid();
    // MLflow prints the keys as a Python list (`['d']`); the wording around them is fixed.
    assert!(message.starts_with("Duplicate parameter keys have been submitted: ["), "{message}");
    assert!(
        message.ends_with("]. Please ensure the request contains only one param value per param key."),
        "{message}"
    );

    let message = app
        .post_json(
            "runs/log-batch",
            &json!({ "run_id": run_id, "metrics": [{ "key": "bad*", "value": 1, "timestamp": 1 }] }),
        )
        .await
        .invalid();
    assert!(message.starts_with("Invalid value \"bad*\" for parameter 'metrics[0].name' supplied"), "{message}");
    let message = app
        .post_json(
            "runs/log-batch",
            &json!({ "run_id": run_id, "params": [{ "key": "ok", "value": "1" }, { "key": "bad*" }] }),
        )
        .await
        .invalid();
    assert!(message.starts_with("Invalid value \"bad*\" for parameter 'params[1].key' supplied"), "{message}");
    let message = app
        .post_json("runs/log-batch", &json!({ "run_id": run_id, "tags": [{ "key": "t".repeat(251), "value": "1" }] }))
        .await
        .invalid();
    assert_eq!(message, "'tags[0].key' exceeds the maximum length of 250 characters");

    // Required fields of batch items are named by their position.
    let message = app
        .post_json("runs/log-batch", &json!({ "run_id": run_id, "metrics": [{ "key": "m", "value": 1 }] }))
        .await
        .invalid();
    assert_eq!(
        message,
        "Missing value for required parameter 'metrics[0].timestamp'. See the API docs for more information about request parameters."
    );
    let message = app
        .post_json(
            "runs/log-batch",
            &json!({ "run_id": run_id, "params": [{ "key": "a", "value": "1" }, { "value": "1" }] }),
        )
        .await
        .invalid();
    assert!(message.starts_with("Missing value for required parameter 'params[1].key'."), "{message}");
    let message = app
        .post_json("runs/log-batch", &json!({ "run_id": run_id, "tags": [{ "key": "", "value": "1" }] }))
        .await
        .invalid();
    assert!(message.starts_with("Missing value for required parameter 'tags[0].key'."), "{message}");

    let message = app.post_json("runs/log-batch", &json!({ "metrics": [] })).await.invalid();
    assert!(message.starts_with("Missing value for required parameter 'run_id'."), "{message}");
    // log-batch, unlike most RPCs, checks the run id's syntax.
    let message = app.post_json("runs/log-batch", &json!({ "run_id": "bad id!" })).await.invalid();
    assert_eq!(message, "Invalid value \"bad id!\" for parameter 'run_id' supplied.");
}

#[tokio::test]
async fn a_large_log_batch_within_the_entity_limits_is_accepted() {
    // 100 params of 6000 characters and 100 tags of 8000 make a 1.4 MB request. MLflow 3.18
    // accepts it: its 1 MB request check measures the parsed dict, not the bytes.
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("big").await;
    let params: Vec<Value> = (0..100).map(|i| json!({ "key": format!("p{i}"), "value": "p".repeat(6000) })).collect();
    let tags: Vec<Value> = (0..100).map(|i| json!({ "key": format!("t{i}"), "value": "t".repeat(8000) })).collect();
    let metrics: Vec<Value> = (0..800).map(|i| json!({ "key": "m", "value": i, "timestamp": i, "step": i })).collect();
    let body = json!({ "run_id": run_id, "params": params, "tags": tags, "metrics": metrics });
    assert!(body.to_string().len() > 1_000_000);
    app.post_json("runs/log-batch", &body).await.ok();
    let run = app.get_run(&run_id).await;
    assert_eq!(run["data"]["params"].as_array().unwrap().len(), 100);
    assert_eq!(key_value_map(&run["data"]["tags"])["t99"].as_str().unwrap().len(), 8000);
}

// ---------------------------------------------------------------- inputs / outputs

#[tokio::test]
async fn log_inputs_records_datasets_once_and_models() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("inputs").await;
    let dataset = json!({
        "name": "train", "digest": "abc123", "source_type": "local",
        "source": "{\"uri\": \"/data\"}", "schema": "{}", "profile": "{\"rows\": 3}",
    });
    let body = app
        .post_json(
            "runs/log-inputs",
            &json!({
                "run_id": run_id,
                "datasets": [{ "tags": [{ "key": "mlflow.data.context", "value": "training" }], "dataset": dataset }],
                "models": [{ "model_id": "m-0123" }],
            }),
        )
        .await
        .ok();
    assert_eq!(body, json!({}));
    // Logging the same dataset again with other tags changes nothing (MLflow keeps the first).
    app.post_json(
        "runs/log-inputs",
        &json!({ "run_id": run_id, "datasets": [{ "tags": [{ "key": "mlflow.data.context", "value": "eval" }], "dataset": dataset }] }),
    )
    .await
    .ok();
    let run = app.get_run(&run_id).await;
    let inputs = &run["inputs"];
    assert_eq!(
        inputs["dataset_inputs"],
        json!([{ "tags": [{ "key": "mlflow.data.context", "value": "training" }], "dataset": dataset }])
    );
    assert_eq!(inputs["model_inputs"], json!([{ "model_id": "m-0123" }]));
    // Search answers carry the dataset inputs too.
    let experiment_id = run["info"]["experiment_id"].as_str().unwrap();
    let found = app.post_json("runs/search", &json!({ "experiment_ids": [experiment_id] })).await.ok();
    assert_eq!(found["runs"][0]["inputs"]["dataset_inputs"][0]["dataset"]["name"], "train");
}

#[tokio::test]
async fn log_inputs_errors() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("inputs").await;
    let dataset =
        |name: &str, digest: &str| json!({ "name": name, "digest": digest, "source_type": "local", "source": "s" });
    let rpc = "runs/log-inputs";
    app.post_json(rpc, &json!({ "datasets": [{ "dataset": dataset("d", "1") }] })).await.invalid();
    let message = app
        .post_json(rpc, &json!({ "run_id": run_id, "datasets": [{ "dataset": dataset("d", &"x".repeat(37)) }] }))
        .await
        .invalid();
    assert_eq!(message, "'digest' exceeds the maximum length of 36 characters");
    let message = app
        .post_json(rpc, &json!({ "run_id": run_id, "datasets": [{ "dataset": dataset(&"n".repeat(501), "1") }] }))
        .await
        .invalid();
    assert_eq!(message, "'name' exceeds the maximum length of 500 characters");
    let message = app
        .post_json(rpc, &json!({ "run_id": run_id, "datasets": [{ "tags": [{ "key": "k", "value": "v".repeat(501) }], "dataset": dataset("d", "1") }] }))
        .await
        .invalid();
    assert_eq!(message, "'value' exceeds the maximum length of 500 characters");
    // A dataset input without a dataset: MLflow answers 500 here; a 4xx is the better answer.
    app.post_json(rpc, &json!({ "run_id": run_id, "datasets": [{ "tags": [] }] })).await.client_error();
    app.post_json(rpc, &json!({ "run_id": "0123456789abcdef0123456789abcdef", "models": [] })).await.not_found();
    let message = app.post_json(rpc, &json!({ "run_id": "bad id!" })).await.invalid();
    assert_eq!(message, "Invalid value \"bad id!\" for parameter 'run_id' supplied.");
    assert_eq!(app.get_run(&run_id).await["inputs"], json!({}));
}

#[tokio::test]
async fn outputs_record_model_outputs() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("outputs").await;
    let body = app
        .post_json(
            "runs/outputs",
            &json!({ "run_id": run_id, "models": [{ "model_id": "m-1", "step": 3 }, { "model_id": "m-2" }] }),
        )
        .await
        .ok();
    assert_eq!(body, json!({}));
    let mut outputs = app.get_run(&run_id).await["outputs"]["model_outputs"].as_array().unwrap().clone();
    outputs.sort_by_key(|o| o["model_id"].as_str().unwrap().to_string());
    assert_eq!(outputs, vec![json!({ "model_id": "m-1", "step": 3 }), json!({ "model_id": "m-2", "step": 0 })]);
    // An empty list is allowed; an absent one is "missing".
    app.post_json("runs/outputs", &json!({ "run_id": run_id, "models": [] })).await.ok();
    let message = app.post_json("runs/outputs", &json!({ "run_id": run_id })).await.invalid();
    assert_eq!(message, "Missing value for required parameter 'models'. See the API docs for more information about request parameters.");
    app.post_json("runs/outputs", &json!({ "models": [] })).await.invalid();
    app.post_json("runs/outputs", &json!({ "run_id": "0123456789abcdef0123456789abcdef", "models": [] }))
        .await
        .not_found();
}

#[tokio::test]
async fn log_model_appends_to_the_history_tag() {
    let app = spawn_app().await;
    let run_id = app.create_run("0").await;
    let model = json!({
        "run_id": run_id, "artifact_path": "model", "utc_time_created": "2026-11-26 10:00:00.000001",
        "flavors": { "python_function": { "loader_module": "mlflow.sklearn", "config": { "big": true } } },
        "signature": { "inputs": "[]" },
    });
    for _ in 0..2 {
        let body = json!({ "run_id": run_id, "model_json": model.to_string() });
        assert_eq!(app.post_json("runs/log-model", &body).await.ok(), json!({}));
    }
    let run = app.get_run(&run_id).await;
    let tags = run["data"]["tags"].as_array().unwrap();
    let history = tags.iter().find(|t| t["key"] == "mlflow.log-model.history").expect("history tag");
    let entry = format!(
        r#"{{"run_id": "{run_id}", "artifact_path": "model", "utc_time_created": "2026-11-26 10:00:00.000001", "model_uuid": null, "flavors": {{"python_function": {{"loader_module": "mlflow.sklearn"}}}}}}"#
    );
    assert_eq!(history["value"], format!("[{entry}, {entry}]"));
}

#[tokio::test]
async fn log_model_errors() {
    let app = spawn_app().await;
    let run_id = app.create_run("0").await;
    let message = app.post_json("runs/log-model", &json!({ "run_id": run_id })).await.invalid();
    assert!(message.contains("'model_json'"), "{message}");
    let message = app.post_json("runs/log-model", &json!({ "run_id": run_id, "model_json": "{oops" })).await.invalid();
    assert_eq!(message, "Malformed model info. \n {oops \n is not a valid JSON.");
    let partial = json!({ "run_id": run_id, "model_json": json!({ "run_id": run_id, "flavors": {} }).to_string() });
    let message = app.post_json("runs/log-model", &partial).await.invalid();
    assert_eq!(message, "Model json is missing mandatory fields: {'artifact_path', 'utc_time_created'}");
    let model = json!({ "run_id": "x", "artifact_path": "m", "utc_time_created": "t", "flavors": {} }).to_string();
    let missing = "0".repeat(32);
    app.post_json("runs/log-model", &json!({ "run_id": missing, "model_json": model })).await.not_found();
    // A failed request leaves no tag behind.
    let run = app.get_run(&run_id).await;
    let tags = run["data"]["tags"].as_array().cloned().unwrap_or_default();
    assert!(tags.iter().all(|t| t["key"] != "mlflow.log-model.history"), "{tags:?}");
}
