//! Black-box tests of the experiment RPCs under `/api/2.0/mlflow/experiments/`.
//! Expected values follow MLflow 3.18's server (handlers.py + SqlAlchemyStore).

mod common;

use std::time::Duration;

use common::{assert_keys, assert_snake_case_keys, spawn_app, TestApp};
use serde_json::{json, Value};

/// Experiments created in the same millisecond tie on `creation_time`; the default search
/// order then falls back to the id. Waiting a little keeps creation order observable.
async fn create_spaced(app: &TestApp, name: &str) -> String {
    tokio::time::sleep(Duration::from_millis(3)).await;
    app.create_experiment(name).await
}

fn ids(experiments: &Value) -> Vec<String> {
    experiments
        .as_array()
        .map(|list| list.iter().map(|e| e["experiment_id"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- create / get

#[tokio::test]
async fn create_returns_a_string_id_and_get_returns_the_experiment() {
    let app = spawn_app().await;
    let body = app.post_json("experiments/create", &json!({ "name": "churn" })).await.ok();
    assert_eq!(body, json!({ "experiment_id": "1" }), "ids are strings; the default experiment is 0");

    let body = app.get_query("experiments/get", &[("experiment_id", "1")]).await.ok();
    assert_keys(&body, &["experiment"]);
    let experiment = &body["experiment"];
    assert_snake_case_keys(experiment);
    assert_eq!(experiment["experiment_id"], "1");
    assert_eq!(experiment["name"], "churn");
    assert_eq!(experiment["artifact_location"], "mlflow-artifacts:/1");
    assert_eq!(experiment["lifecycle_stage"], "active");
    assert!(experiment["creation_time"].as_i64().unwrap() > 1_600_000_000_000);
    assert_eq!(experiment["last_update_time"], experiment["creation_time"]);
    assert!(experiment.get("tags").is_none(), "empty tags are omitted: {experiment}");
}

#[tokio::test]
async fn the_default_experiment_exists() {
    let app = spawn_app().await;
    let experiment = app.get_experiment("0").await;
    assert_eq!(experiment["name"], "Default");
    assert_eq!(experiment["artifact_location"], "mlflow-artifacts:/0");
    assert_eq!(experiment["lifecycle_stage"], "active");
    let by_name = app.get_query("experiments/get-by-name", &[("experiment_name", "Default")]).await.ok();
    assert_eq!(by_name["experiment"]["experiment_id"], "0");
}

#[tokio::test]
async fn create_keeps_tags_and_a_custom_artifact_location() {
    let app = spawn_app().await;
    let body = app
        .post_json(
            "experiments/create",
            &json!({
                "name": "tagged",
                "artifactLocation": "s3://bucket/prefix",
                "tags": [{ "key": "team", "value": "a" }, { "key": "empty" }],
            }),
        )
        .await
        .ok();
    let experiment = app.get_experiment(body["experiment_id"].as_str().unwrap()).await;
    assert_eq!(experiment["artifact_location"], "s3://bucket/prefix");
    let mut tags = experiment["tags"].as_array().unwrap().clone();
    tags.sort_by_key(|t| t["key"].as_str().unwrap().to_string());
    assert_eq!(tags, vec![json!({ "key": "empty", "value": "" }), json!({ "key": "team", "value": "a" })]);
}

#[tokio::test]
async fn create_rejects_missing_blank_and_long_names() {
    let app = spawn_app().await;
    for body in [json!({}), json!({ "name": "" }), json!({ "name": null })] {
        let message = app.post_json("experiments/create", &body).await.invalid();
        assert_eq!(
            message,
            "Missing value for required parameter 'name'. See the API docs for more information about request parameters."
        );
    }
    let message = app.post_json("experiments/create", &json!({ "name": "   " })).await.invalid();
    assert_eq!(message, "Invalid experiment name: '   '");
    let message = app.post_json("experiments/create", &json!({ "name": "n".repeat(501) })).await.invalid();
    assert_eq!(message, "'name' exceeds the maximum length of 500 characters");
    app.post_json("experiments/create", &json!({ "name": "n".repeat(500) })).await.ok();
}

#[tokio::test]
async fn create_validates_tags() {
    let app = spawn_app().await;
    let message = app
        .post_json("experiments/create", &json!({ "name": "e", "tags": [{ "key": "bad*key", "value": "v" }] }))
        .await
        .invalid();
    assert!(
        message.starts_with("Invalid value \"bad*key\" for parameter 'key' supplied: Names may only contain"),
        "{message}"
    );
    let message = app
        .post_json("experiments/create", &json!({ "name": "e", "tags": [{ "key": "k", "value": "v".repeat(20001) }] }))
        .await
        .invalid();
    assert_eq!(message, "'value' exceeds the maximum length of 20000 characters");
    let message = app
        .post_json("experiments/create", &json!({ "name": "e", "tags": [{ "key": "k".repeat(251), "value": "v" }] }))
        .await
        .invalid();
    assert!(message.contains("exceeds the maximum length of 250 characters"), "{message}");
    // Nothing was created by the failed attempts.
    app.get_query("experiments/get-by-name", &[("experiment_name", "e")]).await.not_found();
}

#[tokio::test]
async fn create_validates_the_artifact_location() {
    let app = spawn_app().await;
    let cases = [
        ("runs:/0123/artifacts", "Artifact location cannot be a runs:/ URI. Given: 'runs:/0123/artifacts'"),
        ("s3://bucket/path#fragment", "'artifact_location' URL can't include fragments or params."),
        ("http://host/path;params", "'artifact_location' URL can't include fragments or params."),
        ("s3://bucket/path?x=../../etc", "Invalid query string"),
    ];
    for (location, expected) in cases {
        let message = app
            .post_json("experiments/create", &json!({ "name": "loc", "artifact_location": location }))
            .await
            .invalid();
        assert_eq!(message, expected, "artifact_location {location:?}");
    }
    let long = format!("s3://bucket/{}", "a".repeat(2048));
    let message =
        app.post_json("experiments/create", &json!({ "name": "loc", "artifact_location": long })).await.invalid();
    assert!(message.starts_with("Invalid artifact path length."), "{message}");
    // An empty location means "use the default root".
    let body = app.post_json("experiments/create", &json!({ "name": "loc", "artifact_location": "" })).await.ok();
    let experiment = app.get_experiment(body["experiment_id"].as_str().unwrap()).await;
    assert_eq!(
        experiment["artifact_location"],
        format!("mlflow-artifacts:/{}", experiment["experiment_id"].as_str().unwrap())
    );
}

#[tokio::test]
async fn a_duplicate_name_is_resource_already_exists_even_when_deleted() {
    let app = spawn_app().await;
    let id = app.create_experiment("dup").await;
    let message =
        app.post_json("experiments/create", &json!({ "name": "dup" })).await.error(400, "RESOURCE_ALREADY_EXISTS");
    assert!(message.starts_with("Experiment(name=dup) already exists."), "{message}");
    // MLflow keeps a deleted experiment's name reserved.
    app.post_json("experiments/delete", &json!({ "experiment_id": id })).await.ok();
    app.post_json("experiments/create", &json!({ "name": "dup" })).await.error(400, "RESOURCE_ALREADY_EXISTS");
}

#[tokio::test]
async fn get_errors() {
    let app = spawn_app().await;
    let message = app.get_query("experiments/get", &[]).await.invalid();
    assert_eq!(
        message,
        "Missing value for required parameter 'experiment_id'. See the API docs for more information about request parameters."
    );
    let message = app.get_query("experiments/get", &[("experiment_id", "abc")]).await.invalid();
    assert_eq!(message, "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.");
    let message = app.get_query("experiments/get", &[("experiment_id", "9999")]).await.not_found();
    assert_eq!(message, "No Experiment with id=9999 exists");
}

#[tokio::test]
async fn get_by_name_finds_active_and_deleted_experiments() {
    let app = spawn_app().await;
    let id = app.create_experiment("named exp/with:chars").await;
    let body = app.get_query("experiments/get-by-name", &[("experiment_name", "named exp/with:chars")]).await.ok();
    assert_eq!(body["experiment"]["experiment_id"], id.as_str());

    app.post_json("experiments/delete", &json!({ "experiment_id": id })).await.ok();
    let body = app.get_query("experiments/get-by-name", &[("experiment_name", "named exp/with:chars")]).await.ok();
    assert_eq!(body["experiment"]["lifecycle_stage"], "deleted");

    let message = app.get_query("experiments/get-by-name", &[("experiment_name", "nope")]).await.not_found();
    assert_eq!(message, "Could not find experiment with name 'nope'");
    let message = app.get_query("experiments/get-by-name", &[]).await.invalid();
    assert!(message.starts_with("Missing value for required parameter 'experiment_name'."), "{message}");
}

// ---------------------------------------------------------------- search

#[tokio::test]
async fn search_filters_by_view_type_and_orders_newest_first() {
    let app = spawn_app().await;
    let a = create_spaced(&app, "a").await;
    let b = create_spaced(&app, "b").await;
    let c = create_spaced(&app, "c").await;
    app.post_json("experiments/delete", &json!({ "experiment_id": b })).await.ok();

    let active = app.post_json("experiments/search", &json!({ "max_results": 100 })).await.ok();
    assert_keys(&active, &["experiments"]);
    assert_eq!(ids(&active["experiments"]), vec![c.clone(), a.clone(), "0".to_string()]);

    let all = app.post_json("experiments/search", &json!({ "max_results": 100, "view_type": "ALL" })).await.ok();
    assert_eq!(ids(&all["experiments"]), vec![c.clone(), b.clone(), a.clone(), "0".to_string()]);
    // Enums also arrive as numbers (protobuf JSON) and field names in camelCase.
    let deleted = app.post_json("experiments/search", &json!({ "maxResults": "100", "viewType": 2 })).await.ok();
    assert_eq!(ids(&deleted["experiments"]), vec![b.clone()]);
    assert_eq!(deleted["experiments"][0]["lifecycle_stage"], "deleted");
}

#[tokio::test]
async fn search_pages_and_omits_the_token_on_the_last_page() {
    let app = spawn_app().await;
    for name in ["e1", "e2", "e3", "e4"] {
        create_spaced(&app, name).await;
    }
    // Five experiments with the default one; pages of two.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut request = json!({ "max_results": 2 });
        if let Some(token) = &token {
            request["page_token"] = json!(token);
        }
        let page = app.post_json("experiments/search", &request).await.ok();
        pages += 1;
        seen.extend(ids(&page["experiments"]));
        match page.get("next_page_token") {
            Some(next) => {
                assert!(next.as_str().is_some_and(|t| !t.is_empty()), "token must be a non-empty string: {page}");
                token = next.as_str().map(str::to_string);
            }
            None => break,
        }
        assert!(pages < 10, "paging does not terminate");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, vec!["4", "3", "2", "1", "0"]);

    // An exact fit: no token either.
    let page = app.post_json("experiments/search", &json!({ "max_results": 5 })).await.ok();
    assert!(page.get("next_page_token").is_none(), "{page}");
}

#[tokio::test]
async fn search_by_get_reads_the_query_string() {
    let app = spawn_app().await;
    let a = create_spaced(&app, "a").await;
    let b = create_spaced(&app, "b").await;
    app.post_json("experiments/delete", &json!({ "experiment_id": a })).await.ok();
    let body = app.get_query("experiments/search", &[("max_results", "10"), ("view_type", "ALL")]).await.ok();
    assert_eq!(ids(&body["experiments"]), vec![b.clone(), a.clone(), "0".to_string()]);
    let body = app.get_query("experiments/search", &[("max_results", "1")]).await.ok();
    assert_eq!(ids(&body["experiments"]), vec![b]);
    assert!(body["next_page_token"].is_string());
}

#[tokio::test]
async fn search_validates_max_results_and_page_token() {
    let app = spawn_app().await;
    // The client always sends max_results; an absent one reads as proto's 0 and is refused.
    for (body, expected) in [
        (json!({}), "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer"),
        (
            json!({ "max_results": 0 }),
            "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer",
        ),
        (
            json!({ "max_results": 50001 }),
            "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000",
        ),
    ] {
        assert_eq!(app.post_json("experiments/search", &body).await.invalid(), expected, "{body}");
    }
    app.post_json("experiments/search", &json!({ "max_results": 50000 })).await.ok();
    app.post_json("experiments/search", &json!({ "max_results": 10, "page_token": "not a token" })).await.invalid();
    app.post_json("experiments/search", &json!({ "max_results": 10, "view_type": "SOMETIMES" })).await.invalid();
    app.get_query("experiments/search", &[("max_results", "many")]).await.invalid();
}

#[tokio::test]
async fn search_filters_and_orders_experiments() {
    let app = spawn_app().await;
    let a = create_spaced(&app, "exp-a").await;
    let b = create_spaced(&app, "exp-b").await;
    let other = create_spaced(&app, "other").await;
    app.post_json("experiments/set-experiment-tag", &json!({ "experiment_id": b, "key": "team", "value": "x" }))
        .await
        .ok();
    let search = |filter: &str, order_by: &[&str]| json!({ "max_results": 10, "filter": filter, "order_by": order_by });
    let body = app.post_json("experiments/search", &search("name LIKE 'exp-%'", &["name DESC"])).await.ok();
    assert_eq!(ids(&body["experiments"]), vec![b.clone(), a.clone()]);
    let body = app.post_json("experiments/search", &search("tags.team = 'x'", &[])).await.ok();
    assert_eq!(ids(&body["experiments"]), vec![b.clone()]);
    let body = app.post_json("experiments/search", &search("", &["name ASC"])).await.ok();
    assert_eq!(ids(&body["experiments"]), vec!["0".to_string(), a, b, other]);
    // The recorded client call: one page of one, filtered, no token when nothing is left.
    let body = app
        .post_json(
            "experiments/search",
            &json!({ "max_results": 1, "filter": "name LIKE 'other%'", "order_by": ["name DESC"], "view_type": "ACTIVE_ONLY" }),
        )
        .await
        .ok();
    assert_eq!(body["experiments"].as_array().unwrap().len(), 1);
    assert!(body.get("next_page_token").is_none());
    // The same through GET, with repeated order_by keys.
    let body = app
        .get_query(
            "experiments/search",
            &[("max_results", "10"), ("order_by", "name DESC"), ("order_by", "experiment_id ASC")],
        )
        .await
        .ok();
    assert_eq!(ids(&body["experiments"])[0], "3");
    for (filter, order_by) in [("name LIKE", vec![]), ("colour = 'red'", vec![]), ("", vec!["name UPWARDS"])] {
        app.post_json("experiments/search", &search(filter, &order_by)).await.invalid();
    }
}

// ---------------------------------------------------------------- update

#[tokio::test]
async fn rename_changes_the_name() {
    let app = spawn_app().await;
    let id = app.create_experiment("old").await;
    let before = app.get_experiment(&id).await;
    tokio::time::sleep(Duration::from_millis(3)).await;
    let body = app.post_json("experiments/update", &json!({ "experiment_id": id, "new_name": "new" })).await.ok();
    assert_eq!(body, json!({}));
    let after = app.get_experiment(&id).await;
    assert_eq!(after["name"], "new");
    assert!(after["last_update_time"].as_i64() > before["last_update_time"].as_i64());
    app.get_query("experiments/get-by-name", &[("experiment_name", "old")]).await.not_found();
}

#[tokio::test]
async fn rename_errors() {
    let app = spawn_app().await;
    let id = app.create_experiment("one").await;
    app.create_experiment("two").await;

    let message = app.post_json("experiments/update", &json!({ "experiment_id": id })).await.invalid();
    assert_eq!(
        message,
        "Missing value for required parameter 'new_name'. See the API docs for more information about request parameters."
    );
    app.post_json("experiments/update", &json!({ "new_name": "x" })).await.invalid();
    app.post_json("experiments/update", &json!({ "experiment_id": "9999", "new_name": "x" })).await.not_found();
    app.post_json("experiments/update", &json!({ "experiment_id": id, "new_name": "  " })).await.invalid();
    // MLflow surfaces the unique-constraint failure as BAD_REQUEST, not ALREADY_EXISTS.
    app.post_json("experiments/update", &json!({ "experiment_id": id, "new_name": "two" }))
        .await
        .error(400, "BAD_REQUEST");

    app.post_json("experiments/delete", &json!({ "experiment_id": id })).await.ok();
    let message = app
        .post_json("experiments/update", &json!({ "experiment_id": id, "new_name": "three" }))
        .await
        .error(500, "INVALID_STATE");
    assert_eq!(message, "Cannot rename a non-active experiment.");
}

// ---------------------------------------------------------------- delete / restore

#[tokio::test]
async fn delete_and_restore_cascade_to_runs() {
    let app = spawn_app().await;
    let (experiment_id, run_a) = app.experiment_with_run("cascade").await;
    let run_b = app.create_run(&experiment_id).await;
    app.delete_run(&run_b).await;

    assert_eq!(app.post_json("experiments/delete", &json!({ "experiment_id": experiment_id })).await.ok(), json!({}));
    assert_eq!(app.get_experiment(&experiment_id).await["lifecycle_stage"], "deleted");
    assert_eq!(app.get_run(&run_a).await["info"]["lifecycle_stage"], "deleted");

    let message = app.post_json("runs/create", &json!({ "experiment_id": experiment_id })).await.invalid();
    assert_eq!(
        message,
        format!("The experiment {experiment_id} must be in the 'active' state. Current state is deleted.")
    );

    assert_eq!(app.post_json("experiments/restore", &json!({ "experiment_id": experiment_id })).await.ok(), json!({}));
    assert_eq!(app.get_experiment(&experiment_id).await["lifecycle_stage"], "active");
    // Restoring an experiment revives all of its runs, also ones deleted on their own.
    assert_eq!(app.get_run(&run_a).await["info"]["lifecycle_stage"], "active");
    assert_eq!(app.get_run(&run_b).await["info"]["lifecycle_stage"], "active");
}

#[tokio::test]
async fn delete_and_restore_errors() {
    let app = spawn_app().await;
    let id = app.create_experiment("e").await;
    // Restoring an active experiment, or deleting a deleted one, is "not found".
    let message = app.post_json("experiments/restore", &json!({ "experiment_id": id })).await.not_found();
    assert_eq!(message, format!("No Experiment with id={id} exists"));
    app.post_json("experiments/delete", &json!({ "experiment_id": id })).await.ok();
    app.post_json("experiments/delete", &json!({ "experiment_id": id })).await.not_found();

    for rpc in ["experiments/delete", "experiments/restore"] {
        app.post_json(rpc, &json!({ "experiment_id": "9999" })).await.not_found();
        app.post_json(rpc, &json!({ "experiment_id": "abc" })).await.invalid();
        let message = app.post_json(rpc, &json!({})).await.invalid();
        assert!(message.starts_with("Missing value for required parameter 'experiment_id'."), "{message}");
    }
}

// ---------------------------------------------------------------- tags

#[tokio::test]
async fn experiment_tags_are_upserted_and_deleted() {
    let app = spawn_app().await;
    let id = app.create_experiment("tags").await;
    let set = |key: &str, value: Option<&str>| {
        let mut body = json!({ "experiment_id": id, "key": key });
        if let Some(value) = value {
            body["value"] = json!(value);
        }
        body
    };
    assert_eq!(app.post_json("experiments/set-experiment-tag", &set("k", Some("v1"))).await.ok(), json!({}));
    app.post_json("experiments/set-experiment-tag", &set("k", Some("v2"))).await.ok();
    app.post_json("experiments/set-experiment-tag", &set("no.value", None)).await.ok();
    let long = "x".repeat(20000);
    app.post_json("experiments/set-experiment-tag", &set("long", Some(&long))).await.ok();
    let tags = common::key_value_map(&app.get_experiment(&id).await["tags"]);
    assert_eq!(tags["k"], "v2");
    assert_eq!(tags["no.value"], "");
    assert_eq!(tags["long"].as_str().unwrap().len(), 20000);

    let body =
        app.post_json("experiments/delete-experiment-tag", &json!({ "experiment_id": id, "key": "k" })).await.ok();
    assert_eq!(body, json!({}));
    let tags = common::key_value_map(&app.get_experiment(&id).await["tags"]);
    assert!(!tags.contains_key("k"));
    let message = app
        .post_json("experiments/delete-experiment-tag", &json!({ "experiment_id": id, "key": "k" }))
        .await
        .not_found();
    assert_eq!(message, format!("No tag with name: k in experiment with id {id}"));
}

#[tokio::test]
async fn experiment_tag_errors() {
    let app = spawn_app().await;
    let id = app.create_experiment("tags").await;
    let rpc = "experiments/set-experiment-tag";
    let message = app.post_json(rpc, &json!({ "experiment_id": id, "value": "v" })).await.invalid();
    assert!(message.starts_with("Missing value for required parameter 'key'."), "{message}");
    app.post_json(rpc, &json!({ "key": "k", "value": "v" })).await.invalid();
    app.post_json(rpc, &json!({ "experiment_id": id, "key": "a/../b", "value": "v" })).await.invalid();
    let message =
        app.post_json(rpc, &json!({ "experiment_id": id, "key": "k", "value": "x".repeat(20001) })).await.invalid();
    assert_eq!(message, "'value' exceeds the maximum length of 20000 characters");
    app.post_json(rpc, &json!({ "experiment_id": "9999", "key": "k", "value": "v" })).await.not_found();

    app.post_json(rpc, &json!({ "experiment_id": id, "key": "k", "value": "v" })).await.ok();
    app.post_json("experiments/delete", &json!({ "experiment_id": id })).await.ok();
    let message = app.post_json(rpc, &json!({ "experiment_id": id, "key": "k", "value": "v" })).await.invalid();
    assert_eq!(message, format!("The experiment {id} must be in the 'active' state. Current state is deleted."));
    app.post_json("experiments/delete-experiment-tag", &json!({ "experiment_id": id, "key": "k" })).await.invalid();
    app.post_json("experiments/delete-experiment-tag", &json!({ "experiment_id": "9999", "key": "k" }))
        .await
        .not_found();
    app.post_json("experiments/delete-experiment-tag", &json!({ "experiment_id": id })).await.invalid();
}

// ---------------------------------------------------------------- web UI prefix

#[tokio::test]
async fn the_ajax_prefix_serves_the_same_rpcs() {
    let app = spawn_app().await;
    let body =
        app.post_json_to(&app.url("/ajax-api/2.0/mlflow/experiments/create"), &json!({ "name": "ui" })).await.ok();
    let id = body["experiment_id"].as_str().unwrap().to_string();
    let body = app.get_url(&app.url(&format!("/ajax-api/2.0/mlflow/experiments/get?experiment_id={id}"))).await.ok();
    assert_eq!(body["experiment"]["name"], "ui");
    let body =
        app.post_json_to(&app.url("/ajax-api/2.0/mlflow/experiments/search"), &json!({ "max_results": 10 })).await.ok();
    assert_eq!(ids(&body["experiments"]).len(), 2);
    app.get_url(&app.url("/ajax-api/2.0/mlflow/experiments/get?experiment_id=77")).await.not_found();
}
