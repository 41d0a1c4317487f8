//! Black-box tests of the HTTP surface around the tracking RPCs: service endpoints,
//! routing, request decoding leniency, and robustness against garbage input (a user
//! mistake must never produce a 5xx: the Python client retries 5xx answers seven times).

mod common;

use common::{spawn_app, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

// ---------------------------------------------------------------- service endpoints

#[tokio::test]
async fn health_and_version() {
    let app = spawn_app().await;
    let health = app.get_url(&app.url("/health")).await;
    assert_eq!((health.status.as_u16(), health.text.as_str()), (200, "OK"));
    let version = app.get_url(&app.url("/version")).await;
    assert_eq!((version.status.as_u16(), version.text.as_str()), (200, "3.18.0"));
}

#[tokio::test]
async fn server_info_describes_a_sql_store_that_serves_artifacts() {
    let app = spawn_app().await;
    for prefix in ["/api/3.0/mlflow", "/ajax-api/3.0/mlflow"] {
        let body = app.get_url(&app.url(&format!("{prefix}/server-info"))).await.ok();
        assert_eq!(body["store_type"], "SqlStore");
        assert_eq!(body["artifact_serving_enabled"], true);
        assert_eq!(body["workspaces_enabled"], false);
        assert_eq!(body["trace_archival_enabled"], false);
        // Proxied multipart uploads work for every store, so they are on when serving.
        assert_eq!(body["multipart_uploads_enabled"], true);
        assert_eq!(body["multipart_downloads_enabled"], false);
        assert_eq!(body["artifacts_presigned_only"], false);
    }
}

#[tokio::test]
async fn unknown_routes_are_json_endpoint_not_found() {
    let app = spawn_app().await;
    for path in ["/api/2.0/mlflow/experiments/teleport", "/api/2.0/mlflow/", "/api/9.9/mlflow/runs/get"] {
        app.get_url(&app.url(path)).await.error(404, "ENDPOINT_NOT_FOUND");
        app.request(Method::POST, path, Some("{}")).await.error(404, "ENDPOINT_NOT_FOUND");
    }
    // Outside the API prefixes a GET is the web UI's (SPA fallback, tests/ui_http.rs); any
    // other method is still the JSON 404.
    app.request(Method::POST, "/nope", Some("{}")).await.error(404, "ENDPOINT_NOT_FOUND");
}

#[tokio::test]
async fn a_known_route_with_the_wrong_method_is_a_client_error() {
    let app = spawn_app().await;
    let response = app.request(Method::DELETE, "/api/2.0/mlflow/runs/create", Some("{}")).await;
    assert!(response.status.is_client_error(), "{response:?}");
    let response = app.request(Method::GET, "/api/2.0/mlflow/runs/log-metric", None).await;
    assert!(response.status.is_client_error(), "{response:?}");
}

#[tokio::test]
async fn the_ajax_prefix_serves_run_and_metric_rpcs() {
    let app = spawn_app().await;
    let ajax = |rpc: &str| app.url(&format!("/ajax-api/2.0/mlflow/{rpc}"));
    let body = app.post_json_to(&ajax("runs/create"), &json!({ "start_time": 1 })).await.ok();
    let run_id = body["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let metric = json!({ "run_id": run_id, "key": "m", "value": 1.5, "timestamp": 2, "step": 3 });
    app.post_json_to(&ajax("runs/log-metric"), &metric).await.ok();
    let history = app.get_url(&format!("{}?run_id={run_id}&metric_key=m", ajax("metrics/get-history"))).await.ok();
    assert_eq!(history["metrics"], json!([{ "key": "m", "value": 1.5, "timestamp": 2, "step": 3 }]));
    let sampled = app
        .get_url(&format!("{}?run_ids={run_id}&metric_key=m&max_results=10", ajax("metrics/get-history-bulk-interval")))
        .await
        .ok();
    assert_eq!(sampled["metrics"][0]["run_id"], run_id.as_str());
    let found = app.post_json_to(&ajax("runs/search"), &json!({ "experiment_ids": ["0"] })).await.ok();
    assert_eq!(found["runs"][0]["info"]["run_id"], run_id.as_str());
    app.get_url(&format!("{}?run_id=0123456789abcdef0123456789abcdef", ajax("runs/get"))).await.not_found();
}

// ---------------------------------------------------------------- decoding

#[tokio::test]
async fn a_body_that_is_not_json_is_invalid_parameter_value() {
    let app = spawn_app().await;
    for body in ["{", "not json", "{\"name\": \"x\",}", "\u{0}", "{\"name\": \"unterminated}"] {
        app.post_raw("experiments/create", body).await.invalid();
    }
    app.post_raw("experiments/create", vec![0xff, 0xfe, 0x00]).await.invalid();
    for body in ["[]", "[{\"name\": \"x\"}]", "42", "null", "true"] {
        app.post_raw("experiments/create", body).await.invalid();
    }
    // Nothing was created along the way.
    let body = app.post_json("experiments/search", &json!({ "max_results": 10 })).await.ok();
    assert_eq!(body["experiments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_empty_post_body_is_an_empty_message() {
    let app = spawn_app().await;
    // Like MLflow, an empty body reads as `{}`: runs/create has no required field.
    let body = app.post_raw("runs/create", "").await.ok();
    assert_eq!(body["run"]["info"]["experiment_id"], "0");
    let message = app.post_raw("experiments/create", "").await.invalid();
    assert!(message.starts_with("Missing value for required parameter 'name'."), "{message}");
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let app = spawn_app().await;
    let body = app
        .post_json("experiments/create", &json!({ "name": "extra", "colour": "blue", "nested": { "a": [1, 2] } }))
        .await
        .ok();
    assert!(body["experiment_id"].is_string());
    let experiment_id = body["experiment_id"].as_str().unwrap();
    app.get_query("experiments/get", &[("experiment_id", experiment_id), ("unexpected", "1")]).await.ok();
}

#[tokio::test]
async fn spelling_a_field_both_ways_is_refused() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("twice").await;
    app.post_json("runs/set-tag", &json!({ "run_id": run_id, "runId": run_id, "key": "k", "value": "v" }))
        .await
        .invalid();
    // Also inside nested messages.
    let dataset = json!({ "name": "d", "digest": "1", "source": "s", "source_type": "local", "sourceType": "local" });
    app.post_json("runs/log-inputs", &json!({ "run_id": run_id, "datasets": [{ "dataset": dataset }] }))
        .await
        .invalid();
    assert_eq!(app.get_run(&run_id).await["inputs"], json!({}));
}

#[tokio::test]
async fn get_query_strings_are_decoded_like_python_requests_sends_them() {
    let app = spawn_app().await;
    let name = "a name/with:odd&chars=+%";
    let id = app.create_experiment(name).await;
    let body = app.get_query("experiments/get-by-name", &[("experiment_name", name)]).await.ok();
    assert_eq!(body["experiment"]["experiment_id"], id.as_str());
    // `+` is a space in a query string.
    app.create_experiment("two words").await;
    let body = app.get_url(&format!("{}?experiment_name=two+words", app.api("experiments/get-by-name"))).await.ok();
    assert_eq!(body["experiment"]["name"], "two words");
    // Repeated keys make a repeated field.
    let body = app
        .get_query("metrics/get-history-bulk-interval", &[("run_ids", "a"), ("run_ids", "b"), ("metric_key", "m")])
        .await
        .ok();
    assert_eq!(body, json!({}));
}

#[tokio::test]
async fn a_get_without_a_query_string_reads_a_json_body() {
    // MLflow reads a GET message from the query string when there is one, else from the body.
    let app = spawn_app().await;
    let body =
        app.request(Method::GET, "/api/2.0/mlflow/experiments/get", Some("{\"experiment_id\": \"0\"}")).await.ok();
    assert_eq!(body["experiment"]["name"], "Default");
    let path = "/api/2.0/mlflow/experiments/get?experiment_id=0";
    let body = app.request(Method::GET, path, Some("{\"experiment_id\": \"9\"}")).await.ok();
    assert_eq!(body["experiment"]["name"], "Default", "the query string wins");
}

#[tokio::test]
async fn a_double_encoded_json_body_is_decoded_twice() {
    // Older clients posted the JSON message as a JSON string; MLflow decodes it again.
    let app = spawn_app().await;
    let body = app.post_raw("experiments/create", "\"{\\\"name\\\": \\\"legacy\\\"}\"").await.ok();
    let experiment = app.get_experiment(body["experiment_id"].as_str().unwrap()).await;
    assert_eq!(experiment["name"], "legacy");
    app.post_raw("experiments/create", "\"not json inside\"").await.invalid();
    app.post_raw("experiments/create", "\"[1, 2]\"").await.invalid();
}

// ---------------------------------------------------------------- garbage never gives a 5xx

async fn assert_all_client_errors(app: &TestApp, rpc: &str, bodies: &[Value]) {
    for body in bodies {
        let response = app.post_json(rpc, body).await;
        assert!(response.status.is_client_error(), "{rpc} with {body} answered {} {}", response.status, response.text);
        assert!(response.body["error_code"].is_string(), "{rpc} with {body}: no JSON error_code in {}", response.text);
        assert!(response.body["message"].is_string(), "{rpc} with {body}: no message in {}", response.text);
    }
}

/// Values of the wrong JSON type for a field of each kind.
fn wrong_types() -> Vec<Value> {
    vec![json!({}), json!([]), json!([[]]), json!({ "a": 1 }), json!(true), json!([{ "x": 1 }])]
}

#[tokio::test]
async fn wrong_json_types_are_4xx_with_a_json_error_code() {
    let app = spawn_app().await;
    let (experiment_id, run_id) = app.experiment_with_run("garbage").await;

    // Each (rpc, valid body, field) is sent with the field replaced by every wrong value.
    let cases: Vec<(&str, Value, &str)> = vec![
        ("experiments/create", json!({ "name": "g" }), "name"),
        ("experiments/create", json!({ "name": "g" }), "tags"),
        ("experiments/create", json!({ "name": "g" }), "artifact_location"),
        ("experiments/update", json!({ "experiment_id": experiment_id, "new_name": "g2" }), "experiment_id"),
        ("experiments/update", json!({ "experiment_id": experiment_id, "new_name": "g2" }), "new_name"),
        ("experiments/delete", json!({ "experiment_id": experiment_id }), "experiment_id"),
        ("experiments/restore", json!({ "experiment_id": experiment_id }), "experiment_id"),
        ("experiments/set-experiment-tag", json!({ "experiment_id": experiment_id, "key": "k", "value": "v" }), "key"),
        (
            "experiments/set-experiment-tag",
            json!({ "experiment_id": experiment_id, "key": "k", "value": "v" }),
            "value",
        ),
        ("experiments/delete-experiment-tag", json!({ "experiment_id": experiment_id, "key": "k" }), "experiment_id"),
        ("experiments/search", json!({ "max_results": 10 }), "max_results"),
        ("experiments/search", json!({ "max_results": 10 }), "view_type"),
        ("experiments/search", json!({ "max_results": 10 }), "page_token"),
        ("experiments/search", json!({ "max_results": 10 }), "filter"),
        ("runs/create", json!({ "experiment_id": experiment_id }), "experiment_id"),
        ("runs/create", json!({ "experiment_id": experiment_id }), "start_time"),
        ("runs/create", json!({ "experiment_id": experiment_id }), "run_name"),
        ("runs/create", json!({ "experiment_id": experiment_id }), "user_id"),
        ("runs/update", json!({ "run_id": run_id }), "run_id"),
        ("runs/update", json!({ "run_id": run_id }), "status"),
        ("runs/update", json!({ "run_id": run_id }), "end_time"),
        ("runs/delete", json!({ "run_id": run_id }), "run_id"),
        ("runs/search", json!({ "experiment_ids": [experiment_id] }), "max_results"),
        ("runs/search", json!({ "experiment_ids": [experiment_id] }), "run_view_type"),
        ("runs/search", json!({ "experiment_ids": [experiment_id] }), "order_by"),
        ("runs/log-metric", json!({ "run_id": run_id, "key": "m", "value": 1, "timestamp": 1 }), "run_id"),
        ("runs/log-metric", json!({ "run_id": run_id, "key": "m", "value": 1, "timestamp": 1 }), "key"),
        ("runs/log-metric", json!({ "run_id": run_id, "key": "m", "value": 1, "timestamp": 1 }), "value"),
        ("runs/log-metric", json!({ "run_id": run_id, "key": "m", "value": 1, "timestamp": 1 }), "timestamp"),
        ("runs/log-metric", json!({ "run_id": run_id, "key": "m", "value": 1, "timestamp": 1 }), "step"),
        ("runs/log-parameter", json!({ "run_id": run_id, "key": "p", "value": "1" }), "key"),
        ("runs/log-parameter", json!({ "run_id": run_id, "key": "p", "value": "1" }), "value"),
        ("runs/set-tag", json!({ "run_id": run_id, "key": "t", "value": "1" }), "value"),
        ("runs/delete-tag", json!({ "run_id": run_id, "key": "t" }), "key"),
        ("runs/log-batch", json!({ "run_id": run_id }), "metrics"),
        ("runs/log-batch", json!({ "run_id": run_id }), "params"),
        ("runs/log-batch", json!({ "run_id": run_id }), "tags"),
        ("runs/log-inputs", json!({ "run_id": run_id }), "datasets"),
        ("runs/log-inputs", json!({ "run_id": run_id }), "models"),
        ("runs/outputs", json!({ "run_id": run_id, "models": [] }), "models"),
    ];
    for (rpc, valid, field) in cases {
        let bodies: Vec<Value> = wrong_types()
            .into_iter()
            .filter(|wrong| {
                // A one-object list is a valid list of messages for repeated message fields;
                // skip the ones that happen to be well-formed.
                let empty_list_of_messages =
                    matches!(field, "tags" | "metrics" | "params" | "datasets" | "models" | "order_by")
                        && wrong == &json!([]);
                // Protobuf JSON reads a boolean for a double as 1.0 or 0.0, as MLflow does.
                let boolean_for_a_double = field == "value" && rpc == "runs/log-metric" && wrong == &json!(true);
                !(empty_list_of_messages || boolean_for_a_double)
            })
            .map(|wrong| {
                let mut body = valid.clone();
                body[field] = wrong;
                body
            })
            .collect();
        assert_all_client_errors(&app, rpc, &bodies).await;
    }
}

#[tokio::test]
async fn out_of_range_numbers_and_nested_garbage_are_4xx() {
    let app = spawn_app().await;
    let (experiment_id, run_id) = app.experiment_with_run("numbers").await;
    let huge =
        [json!(1e300), json!(-1e300), json!(18446744073709551616.0_f64), json!("99999999999999999999999"), json!(1.5)];
    for value in &huge {
        assert_all_client_errors(
            &app,
            "runs/create",
            &[json!({ "experiment_id": experiment_id, "start_time": value })],
        )
        .await;
        assert_all_client_errors(&app, "runs/update", &[json!({ "run_id": run_id, "end_time": value })]).await;
        assert_all_client_errors(
            &app,
            "runs/log-metric",
            &[json!({ "run_id": run_id, "key": "m", "value": 1, "timestamp": value })],
        )
        .await;
        assert_all_client_errors(
            &app,
            "runs/search",
            &[json!({ "experiment_ids": [experiment_id], "max_results": value })],
        )
        .await;
        assert_all_client_errors(&app, "experiments/search", &[json!({ "max_results": value })]).await;
    }
    let garbage = [
        json!({ "run_id": run_id, "metrics": [1, 2, 3] }),
        json!({ "run_id": run_id, "metrics": [null] }),
        json!({ "run_id": run_id, "metrics": [{ "key": ["m"], "value": 1, "timestamp": 1 }] }),
        json!({ "run_id": run_id, "metrics": [{ "key": "m", "value": { "v": 1 }, "timestamp": 1 }] }),
        json!({ "run_id": run_id, "metrics": [{ "key": "m", "value": 1, "timestamp": "soon" }] }),
        json!({ "run_id": run_id, "params": ["p=1"] }),
        json!({ "run_id": run_id, "params": [{ "key": "p", "value": ["1"] }] }),
        json!({ "run_id": run_id, "tags": [{ "key": null, "value": "v" }] }),
        json!({ "run_id": run_id, "tags": [{ "key": { "k": 1 }, "value": "v" }] }),
        json!({ "run_id": [run_id] }),
        json!({ "run_id": 12345 }),
        json!({ "run_id": "" }),
    ];
    assert_all_client_errors(&app, "runs/log-batch", &garbage).await;
    let datasets = [
        json!({ "run_id": run_id, "datasets": [{ "dataset": "train" }] }),
        json!({ "run_id": run_id, "datasets": [{ "dataset": { "name": "d" } }] }),
        json!({ "run_id": run_id, "datasets": [{ "dataset": { "name": 1, "digest": [], "source_type": "x", "source": "y" } }] }),
        json!({ "run_id": run_id, "datasets": [{ "tags": "t", "dataset": { "name": "d", "digest": "1", "source_type": "x", "source": "y" } }] }),
        json!({ "run_id": run_id, "models": [{ "model_id": "" }] }),
        json!({ "run_id": run_id, "models": [{ "model_id": {} }] }),
    ];
    assert_all_client_errors(&app, "runs/log-inputs", &datasets).await;
    assert_all_client_errors(
        &app,
        "runs/outputs",
        &[json!({ "run_id": run_id, "models": [{ "model_id": "m", "step": "first" }] })],
    )
    .await;

    // Deeply nested JSON is still just a bad request.
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let response = app.post_raw("runs/create", deep).await;
    assert!(response.status.is_client_error(), "{} {}", response.status, response.text);

    // Nothing above reached the run.
    let run = app.get_run(&run_id).await;
    assert!(run["data"].get("metrics").is_none() && run["data"].get("params").is_none(), "{run}");
}

#[tokio::test]
async fn garbage_query_strings_are_4xx() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("queries").await;
    let urls = [
        format!("{}?experiment_id=%ZZ", app.api("experiments/get")),
        format!("{}?experiment_id=1e400", app.api("experiments/get")),
        format!("{}?experiment_id=", app.api("experiments/get")),
        format!("{}?run_id={run_id}&metric_key=m&max_results=1.5", app.api("metrics/get-history")),
        format!("{}?run_id={run_id}&metric_key=m&max_results=99999999999999999999", app.api("metrics/get-history")),
        format!("{}?run_ids={run_id}&metric_key=m&max_results=", app.api("metrics/get-history-bulk-interval")),
        format!(
            "{}?run_ids={run_id}&metric_key=m&start_step=1&end_step=%FF",
            app.api("metrics/get-history-bulk-interval")
        ),
        format!("{}?max_results=10&view_type=7", app.api("experiments/search")),
    ];
    for url in urls {
        let response = app.get_url(&url).await;
        assert!(response.status.is_client_error(), "{url} answered {} {}", response.status, response.text);
        assert!(response.body["error_code"].is_string(), "{url}: {}", response.text);
    }
}

#[tokio::test]
async fn an_oversized_body_is_refused_without_a_5xx() {
    let app = spawn_app().await;
    let body = format!("{{\"name\": \"{}\"}}", "x".repeat(33 * 1024 * 1024));
    let sent = app
        .client
        .post(app.api("experiments/create"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    // The server may answer before it has read the whole body and close the connection;
    // if an answer arrives, it must be a 4xx.
    if let Ok(response) = sent {
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    // Nothing was created.
    let body = app.post_json("experiments/search", &json!({ "max_results": 10 })).await.ok();
    assert_eq!(body["experiments"].as_array().unwrap().len(), 1);
}
