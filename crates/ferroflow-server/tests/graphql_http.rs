//! Black-box tests of `/graphql`: the queries MLflow's web UI sends, answered in MLflow's
//! shape (`{"data", "errors"}` with string errors, protobuf defaults, NaN as `null`), its
//! several-root-fields form, and its query limits (CVE-2025-0453). A user's mistake is
//! never a 5xx. Expected values follow a real MLflow 3.17 server.

mod common;

use common::{spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const UNKNOWN_RUN: &str = "0123456789abcdef0123456789abcdef";

/// The web UI's run query (`GetRun` in MLflow's JS sources), every field it reads.
const GET_RUN: &str = r#"query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetRun(input: $data) {
    apiError { helpUrl code message }
    run {
      info { runName status runUuid experimentId artifactUri endTime lifecycleStage startTime userId }
      experiment { experimentId name tags { key value } artifactLocation lifecycleStage lastUpdateTime }
      modelVersions { status version name source }
      data { metrics { key value step timestamp } params { key value } tags { key value } }
      inputs {
        datasetInputs { dataset { digest name profile schema source sourceType } tags { key value } }
        modelInputs { modelId }
      }
      outputs { modelOutputs { modelId step } }
    }
  }
}"#;

const BULK_INTERVAL: &str = r#"query GetMetricHistoryBulkInterval($data: MlflowGetMetricHistoryBulkIntervalInput!)
  @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetMetricHistoryBulkInterval(input: $data) {
    __typename
    metrics { timestamp step runId key value }
    apiError { code message }
  }
}"#;

async fn graphql(app: &TestApp, query: &str, variables: Value) -> common::ApiResponse {
    app.post_json_to(&app.url("/graphql"), &json!({ "query": query, "variables": variables })).await
}

/// A 200 without errors; returns `data`.
#[track_caller]
fn data(response: common::ApiResponse) -> Value {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(response.body["errors"], Value::Null, "{}", response.text);
    response.body["data"].clone()
}

/// The answer's error messages, after checking MLflow's shape: `data` present, `errors`
/// a list of strings.
#[track_caller]
fn errors(response: &common::ApiResponse, status: u16) -> Vec<String> {
    assert_eq!(response.status.as_u16(), status, "{}", response.text);
    assert!(response.content_type.starts_with("application/json"), "{}", response.content_type);
    let body = response.body.as_object().unwrap_or_else(|| panic!("not a JSON object: {}", response.text));
    assert!(body.contains_key("data"), "{}", response.text);
    let errors = body["errors"].as_array().unwrap_or_else(|| panic!("no errors list: {}", response.text));
    assert!(!errors.is_empty());
    errors.iter().map(|e| e.as_str().unwrap_or_else(|| panic!("errors are strings: {e}")).to_string()).collect()
}

async fn log_batch(app: &TestApp, body: Value) {
    app.post_json("runs/log-batch", &body).await.ok();
}

/// A run with a param, a tag, metric history `m` (steps 0..5), a NaN metric and a dataset input.
async fn seeded_run(app: &TestApp) -> (String, String) {
    let (experiment_id, run_id) = app.experiment_with_run("graphql").await;
    let metrics: Vec<Value> = (0..5)
        .map(|step| json!({ "key": "m", "value": step as f64 * 1.5, "timestamp": 100 + step, "step": step }))
        .chain([json!({ "key": "nan", "value": "NaN", "timestamp": 100, "step": 0 })])
        .collect();
    log_batch(
        app,
        json!({ "run_id": run_id, "metrics": metrics, "params": [{ "key": "p", "value": "1" }],
                "tags": [{ "key": "t", "value": "x" }] }),
    )
    .await;
    let dataset = json!({ "name": "ds", "digest": "d1", "source_type": "s3", "source": "{\"uri\": \"s3://b\"}" });
    app.post_json(
        "runs/log-inputs",
        &json!({ "run_id": run_id, "datasets": [{ "tags": [{ "key": "mlflow.data.context", "value": "training" }],
                 "dataset": dataset }] }),
    )
    .await
    .ok();
    (experiment_id, run_id)
}

// ---------------------------------------------------------------- queries

#[tokio::test]
async fn get_run_answers_the_ui_query_in_mlflow_shape() {
    let app = spawn_app().await;
    let (experiment_id, run_id) = seeded_run(&app).await;
    app.post_json("registered-models/create", &json!({ "name": "model" })).await.ok();
    let source = format!("runs:/{run_id}/model");
    app.post_json("model-versions/create", &json!({ "name": "model", "source": source, "run_id": run_id })).await.ok();

    let data = data(graphql(&app, GET_RUN, json!({ "data": { "runId": run_id } })).await);
    let answer = &data["mlflowGetRun"];
    assert_eq!(answer["apiError"], Value::Null);
    let run = &answer["run"];
    let info = &run["info"];
    assert_eq!(info["runUuid"], json!(run_id));
    assert_eq!(info["experimentId"], json!(experiment_id));
    assert_eq!(info["status"], json!("RUNNING"));
    assert_eq!(info["startTime"], json!("1000"), "int64s are strings (LongString)");
    assert_eq!(info["endTime"], json!("0"), "an unset end time reads as protobuf's 0");
    assert_eq!(info["lifecycleStage"], json!("active"));
    assert_eq!(run["experiment"]["name"], json!("graphql"));
    assert_eq!(run["experiment"]["experimentId"], json!(experiment_id));

    let metrics = run["data"]["metrics"].as_array().unwrap();
    let metric = |key: &str| metrics.iter().find(|m| m["key"] == key).unwrap().clone();
    assert_eq!(metric("m"), json!({ "key": "m", "value": 6.0, "step": "4", "timestamp": "104" }));
    assert_eq!(metric("nan")["value"], Value::Null, "NaN is null, as MLflow's MlflowMetricExtension");
    assert_eq!(run["data"]["params"], json!([{ "key": "p", "value": "1" }]));
    assert!(run["data"]["tags"].as_array().unwrap().contains(&json!({ "key": "t", "value": "x" })));

    let input = &run["inputs"]["datasetInputs"][0];
    assert_eq!(input["dataset"]["name"], json!("ds"));
    assert_eq!(input["dataset"]["sourceType"], json!("s3"));
    assert_eq!(input["dataset"]["schema"], json!(""), "unset strings read as \"\"");
    assert_eq!(input["tags"], json!([{ "key": "mlflow.data.context", "value": "training" }]));
    assert_eq!(run["inputs"]["modelInputs"], json!([]));
    assert_eq!(run["outputs"]["modelOutputs"], json!([]));
    assert_eq!(run["modelVersions"], json!([{ "status": "READY", "version": "1", "name": "model", "source": source }]));
}

#[tokio::test]
async fn get_experiment_answers_the_ui_query() {
    let app = spawn_app().await;
    let experiment_id = app.create_experiment("exp").await;
    app.post_json(
        "experiments/set-experiment-tag",
        &json!({ "experiment_id": experiment_id, "key": "k", "value": "v" }),
    )
    .await
    .ok();
    let query = r#"query MlflowGetExperimentQuery($input: MlflowGetExperimentInput!) @component(name: "MLflow.ExperimentRunTracking") {
      mlflowGetExperiment(input: $input) {
        apiError { code message }
        experiment { artifactLocation creationTime effectiveTraceArchivalRetention experimentId lastUpdateTime lifecycleStage name tags { key value } }
      }
    }"#;
    let data = data(graphql(&app, query, json!({ "input": { "experimentId": experiment_id } })).await);
    let experiment = &data["mlflowGetExperiment"]["experiment"];
    assert_eq!(experiment["name"], json!("exp"));
    assert_eq!(experiment["experimentId"], json!(experiment_id));
    assert_eq!(experiment["tags"], json!([{ "key": "k", "value": "v" }]));
    assert_eq!(experiment["effectiveTraceArchivalRetention"], json!(""));
    assert!(experiment["creationTime"].as_str().unwrap().parse::<i64>().unwrap() > 0);
    assert_eq!(data["mlflowGetExperiment"]["apiError"], Value::Null);
}

#[tokio::test]
async fn search_runs_as_query_and_as_mutation() {
    let app = spawn_app().await;
    let (experiment_id, run_id) = seeded_run(&app).await;
    let other = app.create_run(&experiment_id).await;
    let selection = "mlflowSearchRuns(input: $data) { apiError { code } nextPageToken \
                     runs { info { runId } data { metrics { key value } } experiment { name } modelVersions { version } } }";
    for kind in ["query", "mutation"] {
        let query = format!("{kind} SearchRuns($data: MlflowSearchRunsInput!) {{ {selection} }}");
        let variables = json!({ "data": { "experimentIds": [experiment_id], "filter": "metrics.m > 1",
                                          "runViewType": "ALL", "orderBy": ["metrics.m DESC"] } });
        let data = data(graphql(&app, &query, variables).await);
        let answer = &data["mlflowSearchRuns"];
        assert_eq!(answer["runs"].as_array().unwrap().len(), 1, "{answer}");
        assert_eq!(answer["runs"][0]["info"]["runId"], json!(run_id));
        assert_eq!(answer["runs"][0]["experiment"]["name"], json!("graphql"));
        assert_eq!(answer["runs"][0]["modelVersions"], json!([]));
        assert_eq!(answer["nextPageToken"], json!(""));
    }
    // Paging, as runs/search pages.
    let query = "query { mlflowSearchRuns(input: { experimentIds: [\"EXP\"], maxResults: 1 }) { nextPageToken runs { info { runId } } } }"
        .replace("EXP", &experiment_id);
    let first = data(graphql(&app, &query, json!({})).await);
    let token = first["mlflowSearchRuns"]["nextPageToken"].as_str().unwrap().to_string();
    assert!(!token.is_empty());
    let query = query.replace("maxResults: 1", &format!("maxResults: 1, pageToken: \"{token}\""));
    let second = data(graphql(&app, &query, json!({})).await);
    let ids =
        [&first, &second].map(|d| d["mlflowSearchRuns"]["runs"][0]["info"]["runId"].as_str().unwrap().to_string());
    let mut ids = ids.to_vec();
    ids.sort();
    let mut expected = vec![run_id, other];
    expected.sort();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn list_artifacts_lists_the_runs_root_and_subfolders() {
    let app = spawn_app().await;
    let (experiment_id, run_id) = app.experiment_with_run("artifacts").await;
    let put = |path: &str, body: &'static str| {
        let url = app.url(&format!("/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/{path}"));
        app.client.put(url).body(body).send()
    };
    assert!(put("dir/a.txt", "hello").await.unwrap().status().is_success());
    assert!(put("empty.txt", "").await.unwrap().status().is_success());
    let query = "query L($input: MlflowListArtifactsInput) { mlflowListArtifacts(input: $input) { rootUri files { path isDir fileSize } nextPageToken apiError { code } } }";
    let data = data(graphql(&app, query, json!({ "input": { "runId": run_id } })).await);
    let listing = &data["mlflowListArtifacts"];
    assert_eq!(listing["rootUri"], json!(format!("mlflow-artifacts:/{experiment_id}/{run_id}/artifacts")));
    assert_eq!(
        listing["files"],
        json!([{ "path": "dir", "isDir": true, "fileSize": "0" }, { "path": "empty.txt", "isDir": false, "fileSize": "0" }])
    );
    assert_eq!(listing["nextPageToken"], json!(""));
    let sub = graphql(&app, query, json!({ "input": { "runId": run_id, "path": "dir" } })).await;
    assert_eq!(
        self::data(sub)["mlflowListArtifacts"]["files"],
        json!([{ "path": "dir/a.txt", "isDir": false, "fileSize": "5" }])
    );

    let escape = graphql(&app, query, json!({ "input": { "runId": run_id, "path": "../x" } })).await;
    let messages = errors(&escape, 200);
    assert!(messages[0].starts_with("Invalid path"), "{messages:?}");
    assert_eq!(escape.body["data"], json!({ "mlflowListArtifacts": null }));
}

#[tokio::test]
async fn bulk_interval_samples_with_run_ids_and_nan_as_null() {
    let app = spawn_app().await;
    let (_, run_id) = seeded_run(&app).await;
    let variables = json!({ "data": { "runIds": [run_id], "metricKey": "m", "startStep": null, "endStep": null, "maxResults": 320 } });
    let data = data(graphql(&app, BULK_INTERVAL, variables).await);
    let answer = &data["mlflowGetMetricHistoryBulkInterval"];
    assert_eq!(answer["__typename"], json!("MlflowGetMetricHistoryBulkIntervalResponse"));
    let metrics = answer["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 5);
    assert_eq!(metrics[0], json!({ "timestamp": "100", "step": "0", "runId": run_id, "key": "m", "value": 0.0 }));
    assert_eq!(metrics[4]["value"], json!(6.0));

    // The UI's zoomed chart: a step range, as the REST endpoint takes it.
    let variables =
        json!({ "data": { "runIds": [run_id], "metricKey": "m", "startStep": 1, "endStep": 3, "maxResults": 320 } });
    let data = self::data(graphql(&app, BULK_INTERVAL, variables).await);
    let steps: Vec<&str> = data["mlflowGetMetricHistoryBulkInterval"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["1", "2", "3"]);

    let variables = json!({ "data": { "runIds": [run_id], "metricKey": "nan" } });
    let data = self::data(graphql(&app, BULK_INTERVAL, variables).await);
    assert_eq!(data["mlflowGetMetricHistoryBulkInterval"]["metrics"][0]["value"], Value::Null);

    let bad =
        graphql(&app, BULK_INTERVAL, json!({ "data": { "runIds": [run_id], "metricKey": "m", "startStep": 3 } })).await;
    assert_eq!(errors(&bad, 200), ["If either start step or end step are specified, both must be specified."]);
}

#[tokio::test]
async fn search_datasets_is_a_mutation() {
    let app = spawn_app().await;
    let (experiment_id, _) = seeded_run(&app).await;
    let empty = app.create_experiment("no datasets").await;
    let query = "mutation D($input: MlflowSearchDatasetsInput) { mlflowSearchDatasets(input: $input) { datasetSummaries { experimentId name digest context } apiError { code } } }";
    let data = data(graphql(&app, query, json!({ "input": { "experimentIds": [experiment_id, empty] } })).await);
    assert_eq!(
        data["mlflowSearchDatasets"]["datasetSummaries"],
        json!([{ "experimentId": experiment_id, "name": "ds", "digest": "d1", "context": "training" }])
    );
    let none = graphql(&app, query, json!({ "input": { "experimentIds": [] } })).await;
    assert_eq!(errors(&none, 200), ["SearchDatasets request must specify at least one experiment_id."]);
    let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
    let too_many = graphql(&app, query, json!({ "input": { "experimentIds": many } })).await;
    assert!(errors(&too_many, 200)[0].contains("cannot specify more than 20 experiment_ids"));
    let bad = graphql(&app, query, json!({ "input": { "experimentIds": ["x"] } })).await;
    assert_eq!(errors(&bad, 200), ["Invalid experiment ID 'x'. Experiment ID must be a valid integer."]);
    // As in MLflow, it is not a query field.
    let as_query =
        graphql(&app, &query.replace("mutation", "query"), json!({ "input": { "experimentIds": ["0"] } })).await;
    assert!(errors(&as_query, 200)[0].contains("mlflowSearchDatasets"));
}

#[tokio::test]
async fn search_model_versions_and_test_echo() {
    let app = spawn_app().await;
    app.post_json("registered-models/create", &json!({ "name": "m" })).await.ok();
    app.post_json("model-versions/create", &json!({ "name": "m", "source": "s3://b/m" })).await.ok();
    let query = r#"{ mlflowSearchModelVersions(input: { filter: "name='m'", maxResults: "5" }) {
        modelVersions { name version status currentStage runId deploymentJobState { jobId jobState } } nextPageToken }
      test(inputString: "hi") { output } }"#;
    let data = data(graphql(&app, query, json!({})).await);
    assert_eq!(
        data["mlflowSearchModelVersions"]["modelVersions"],
        json!([{ "name": "m", "version": "1", "status": "READY", "currentStage": "None", "runId": "",
                 "deploymentJobState": { "jobId": "", "jobState": null } }])
    );
    assert_eq!(data["test"], json!({ "output": "hi" }));
}

// ---------------------------------------------------------------- several root fields

#[tokio::test]
async fn several_root_fields_in_one_query_each_answer_or_fail_alone() {
    let app = spawn_app().await;
    let (experiment_id, run_id) = seeded_run(&app).await;
    let query = format!(
        r#"{{ a: mlflowGetRun(input: {{ runId: "{run_id}" }}) {{ run {{ info {{ runId }} }} }}
            b: mlflowGetRun(input: {{ runId: "{UNKNOWN_RUN}" }}) {{ run {{ info {{ runId }} }} }}
            e: mlflowGetExperiment(input: {{ experimentId: "{experiment_id}" }}) {{ experiment {{ name }} }} }}"#
    );
    let response = graphql(&app, &query, json!({})).await;
    assert_eq!(errors(&response, 200), [format!("Run with id={UNKNOWN_RUN} not found")]);
    assert_eq!(
        response.body["data"],
        json!({ "a": { "run": { "info": { "runId": run_id } } }, "b": null,
                "e": { "experiment": { "name": "graphql" } } })
    );
}

#[tokio::test]
async fn operation_name_picks_one_of_several_operations() {
    let app = spawn_app().await;
    let query = r#"query A { test(inputString: "a") { output } } query B { test(inputString: "b") { output } }"#;
    let body = json!({ "query": query, "operationName": "B" });
    let response = app.post_json_to(&app.url("/graphql"), &body).await;
    assert_eq!(data(response), json!({ "test": { "output": "b" } }));
    let unnamed = graphql(&app, query, json!({})).await;
    errors(&unnamed, 200);
}

// ---------------------------------------------------------------- errors

#[tokio::test]
async fn store_errors_null_the_field_and_list_the_message() {
    let app = spawn_app().await;
    let response = graphql(&app, GET_RUN, json!({ "data": { "runId": UNKNOWN_RUN } })).await;
    assert_eq!(errors(&response, 200), [format!("Run with id={UNKNOWN_RUN} not found")]);
    assert_eq!(response.body["data"], json!({ "mlflowGetRun": null }));

    let query = r#"{ mlflowGetExperiment(input: { experimentId: "999" }) { experiment { name } } }"#;
    let response = graphql(&app, query, json!({})).await;
    assert_eq!(errors(&response, 200), ["No Experiment with id=999 exists"]);

    let query =
        r#"{ mlflowSearchRuns(input: { experimentIds: ["0"], filter: "foo bar" }) { runs { info { runId } } } }"#;
    let response = graphql(&app, query, json!({})).await;
    assert!(errors(&response, 200)[0].contains("foo bar"));
}

#[tokio::test]
async fn unknown_fields_and_bad_variables_are_validation_errors() {
    let app = spawn_app().await;
    for (query, variables) in [
        ("{ nope { x } }", json!({})),
        ("{ mlflowGetExperiment(input: { experimentId: \"0\" }) { experiment { nope } } }", json!({})),
        (
            "query Q($input: MlflowGetExperimentInput!) { mlflowGetExperiment(input: $input) { experiment { name } } }",
            json!({}),
        ),
        (
            "query Q($input: MlflowGetExperimentInput!) { mlflowGetExperiment(input: $input) { experiment { name } } }",
            json!({ "input": { "experimentId": 5 } }),
        ),
        ("{ mlflowGetRun(input: { runId: \"x\" }) @nope { run { info { runId } } } }", json!({})),
        ("query @component { __typename }", json!({})),
    ] {
        let response = graphql(&app, query, variables).await;
        errors(&response, 200);
        assert_eq!(response.body["data"], Value::Null, "{query}: {}", response.text);
    }
}

#[tokio::test]
async fn requests_mlflow_cannot_parse_are_400s_in_graphql_form() {
    let app = spawn_app().await;
    let url = app.url("/graphql");
    let post = |body: &'static str| {
        app.client.post(&url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body).send()
    };
    for body in [
        "{not json",
        "[{\"query\": \"{ __typename }\"}, {\"query\": \"{ __typename }\"}]",
        "\"{ __typename }\"",
        "{}",
        "{\"query\": null}",
        "{\"query\": 5}",
        "{\"query\": \"{ __typename }\", \"variables\": \"{}\"}",
        "{\"query\": \"{ __typename }\", \"operationName\": 1}",
        "{\"query\": \"{ mlflowGetExperiment( \"}",
        "",
    ] {
        let response = common::read_response(post(body).await.unwrap()).await;
        errors(&response, 400);
        assert_eq!(response.body["data"], Value::Null, "{body}");
    }
    let batch = common::read_response(post("[{\"query\": \"{ __typename }\"}]").await.unwrap()).await;
    assert!(errors(&batch, 400)[0].contains("Batched"));
    // A syntax error names the place, without echoing the query.
    let long = format!("{{\"query\": \"{{ {} \"}}", "a ".repeat(10_000));
    let response = common::read_response(
        app.client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(long)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let message = &errors(&response, 400)[0];
    assert!(message.starts_with("Syntax Error: ") && message.len() < 200, "{message}");
}

#[tokio::test]
async fn posts_must_say_json_as_in_mlflow() {
    let app = spawn_app().await;
    let response = common::read_response(
        app.client
            .post(app.url("/graphql"))
            .header(reqwest::header::CONTENT_TYPE, "text/plain")
            .body("{\"query\": \"{ __typename }\"}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(response.invalid(), "Bad Request. Content-Type must be one of ['application/json'].");
}

#[tokio::test]
async fn get_reads_a_body_or_the_query_string() {
    let app = spawn_app().await;
    let with_body = common::read_response(
        app.client
            .get(app.url("/graphql"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body("{\"query\": \"{ __typename }\"}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(data(with_body), json!({ "__typename": "Query" }));
    let query = common::query_string(&[
        ("query", "query Q($s: String) { test(inputString: $s) { output } }"),
        ("variables", "{\"s\": \"x y\"}"),
    ]);
    let from_query = app.get_url(&app.url(&format!("/graphql?{query}"))).await;
    assert_eq!(data(from_query), json!({ "test": { "output": "x y" } }));
}

#[tokio::test]
async fn only_the_root_path_serves_graphql() {
    let app = spawn_app().await;
    let body = json!({ "query": "{ __typename }" });
    assert_eq!(app.post_json_to(&app.url("/ajax-api/graphql"), &body).await.status, StatusCode::NOT_FOUND);
    let put = app.request(reqwest::Method::PUT, "/graphql", Some("{}")).await;
    assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
}

// ---------------------------------------------------------------- limits

#[tokio::test]
async fn mlflows_query_limits_are_refused_with_graphql_errors() {
    let app = spawn_app().await;
    let cases = [
        (
            format!("{{ {} }}", (0..11).map(|i| format!("f{i}: __typename")).collect::<Vec<_>>().join(" ")),
            "GraphQL queries should have at most 10 root fields, got 11 root fields. To increase the limit, set \
             the MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS environment variable.",
        ),
        (
            format!("{{ test {{ {} }} }}", (0..11).map(|i| format!("o{i}: output")).collect::<Vec<_>>().join(" ")),
            "GraphQL queries should have at most 10 aliases, got 11 aliases. To increase the limit, set the \
             MLFLOW_SERVER_GRAPHQL_MAX_ALIASES environment variable.",
        ),
        (
            "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } }"
                .to_string(),
            "Query exceeds maximum depth of 10",
        ),
        (format!("{{ test {{ {} }} }}", "output ".repeat(1001)), "Query exceeds maximum total selections of 1000"),
        // Aliases split across sibling fragments are counted together.
        (
            "{ test { ...A ...B } } fragment A on Test { a1: output a2: output a3: output a4: output a5: output a6: output } \
             fragment B on Test { b1: output b2: output b3: output b4: output b5: output }"
                .to_string(),
            "GraphQL queries should have at most 10 aliases, got 11 aliases. To increase the limit, set the \
             MLFLOW_SERVER_GRAPHQL_MAX_ALIASES environment variable.",
        ),
        // A fragment spreading itself goes no deeper than the depth limit.
        ("{ test { ...A } } fragment A on Test { output { ...A } }".to_string(), "Query exceeds maximum depth of 10"),
    ];
    for (query, message) in cases {
        let response = graphql(&app, &query, json!({})).await;
        assert_eq!(errors(&response, 200), [message.to_string()], "{query}");
        assert_eq!(response.body["data"], Value::Null);
    }
    // Just under the limits runs.
    let ten = format!("{{ {} }}", (0..10).map(|i| format!("f{i}: __typename")).collect::<Vec<_>>().join(" "));
    assert_eq!(data(graphql(&app, &ten, json!({})).await)["f9"], json!("Query"));
}

#[tokio::test]
async fn the_root_field_and_alias_limits_can_be_raised() {
    let config = ferroflow_server::ServerConfig {
        graphql: ferroflow_server::GraphqlLimits { max_root_fields: 20, max_aliases: 20 },
        ..Default::default()
    };
    let app = common::spawn_app_with(common::TestAppOptions { config, ..Default::default() }).await;
    let query = format!("{{ {} }}", (0..15).map(|i| format!("f{i}: __typename")).collect::<Vec<_>>().join(" "));
    assert_eq!(data(graphql(&app, &query, json!({})).await)["f14"], json!("Query"));
}

#[tokio::test]
async fn hostile_inputs_are_4xx_and_the_server_stays_up() {
    let app = spawn_app().await;
    let nested = [
        "{".repeat(100_000),
        format!("{{ test(inputString: {}{}) {{ output }} }}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("{{ test(inputString: {}1{}) {{ output }} }}", "{a:".repeat(50_000), "}".repeat(50_000)),
    ];
    for query in nested {
        let response = graphql(&app, &query, json!({})).await;
        assert!(response.status.is_client_error(), "{}", response.status);
        errors(&response, response.status.as_u16());
    }
    // Deeply nested variables stop at the JSON parser's recursion limit.
    let deep_variables = format!(
        "{{\"query\": \"{{ __typename }}\", \"variables\": {{\"v\": {}1{}}}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let response = common::read_response(
        app.client
            .post(app.url("/graphql"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(deep_variables)
            .send()
            .await
            .unwrap(),
    )
    .await;
    errors(&response, 400);

    // Over the body limit: 413, before the body is read.
    let huge = format!("{{\"query\": \"{{ __typename }}\", \"pad\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let response = app.post_json_to(&app.url("/graphql"), &serde_json::from_str(&huge).unwrap()).await;
    assert_eq!(errors(&response, 413).len(), 1);
    assert_eq!(data(graphql(&app, "{ __typename }", json!({})).await), json!({ "__typename": "Query" }));
}
