//! MLflow 3 logged-model behaviour: create, get, finalize, delete, tags, params, metrics
//! recorded by log-batch, and searches.

use ferroflow_core::types::{KeyValue, LifecycleStage, LoggedModel, LoggedModelStatus, Metric, RunStatus};
use ferroflow_core::ErrorCode;

use crate::conformance::tracking::futures_join_all;
use crate::logged_models::{CreateLoggedModel, LoggedModelOrder, SearchLoggedModels};
use crate::{CreateExperiment, CreateRun, LogBatch, Store};

/// The logged-model cases, for [`conformance_suite!`](crate::conformance_suite).
#[macro_export]
macro_rules! logged_model_conformance_cases {
    ($make:expr) => {
        $crate::conformance_cases!($make; logged_models;
            logged_model_create_and_get,
            logged_model_create_needs_an_active_experiment,
            logged_model_finalize,
            logged_model_delete_then_get,
            logged_model_tags,
            logged_model_params,
            logged_model_metrics_from_log_batch,
            search_logged_models_filters_attributes_params_tags,
            search_logged_models_orders_and_pages,
            search_logged_models_metrics_and_datasets,
            concurrent_logged_model_writes,
        );
    };
}

/// Lets the millisecond clock move on, for cases that order by time.
fn tick() {
    std::thread::sleep(std::time::Duration::from_millis(3));
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue::new(key, value)
}

async fn experiment<S: Store>(store: &S, name: &str) -> String {
    let request = CreateExperiment {
        name: name.into(),
        artifact_location: Some(format!("s3://bucket/{name}/")),
        ..Default::default()
    };
    store.create_experiment(request).await.expect("create experiment")
}

async fn model<S: Store>(store: &S, experiment_id: &str, name: &str) -> LoggedModel {
    let request = CreateLoggedModel { experiment_id: experiment_id.into(), name: name.into(), ..Default::default() };
    store.create_logged_model(request).await.expect("create logged model")
}

fn search(experiment_ids: &[&str]) -> SearchLoggedModels {
    SearchLoggedModels {
        experiment_ids: experiment_ids.iter().map(|id| id.to_string()).collect(),
        filter: None,
        datasets: Vec::new(),
        max_results: 100,
        order_by: Vec::new(),
        page_token: None,
    }
}

fn filtered(experiment_ids: &[&str], filter: &str) -> SearchLoggedModels {
    SearchLoggedModels { filter: Some(filter.into()), ..search(experiment_ids) }
}

fn order(field_name: &str, ascending: bool) -> LoggedModelOrder {
    LoggedModelOrder { field_name: field_name.into(), ascending, dataset_name: None, dataset_digest: None }
}

async fn names<S: Store>(store: &S, request: SearchLoggedModels) -> Vec<String> {
    let page = store.search_logged_models(request).await.expect("search logged models");
    page.items.into_iter().map(|m| m.info.name).collect()
}

/// Like [`names`], sorted, for searches whose order is not the point.
async fn name_set<S: Store>(store: &S, request: SearchLoggedModels) -> Vec<String> {
    let mut found = names(store, request).await;
    found.sort();
    found
}

fn model_metric(
    key: &str,
    value: f64,
    timestamp: i64,
    step: i64,
    model_id: &str,
    dataset: Option<(&str, &str)>,
) -> Metric {
    let mut metric = Metric::new(key, value, timestamp, step);
    metric.model_id = Some(model_id.into());
    if let Some((name, digest)) = dataset {
        metric.dataset_name = Some(name.into());
        metric.dataset_digest = Some(digest.into());
    }
    metric
}

async fn log_metrics<S: Store>(store: &S, run_id: &str, metrics: Vec<Metric>) -> ferroflow_core::Result<()> {
    store.log_batch(LogBatch { run_id: run_id.into(), metrics, ..Default::default() }).await
}

pub async fn logged_model_create_and_get<S: Store>(store: &S) {
    let experiment_id = experiment(store, "lm-create").await;
    let request = CreateLoggedModel {
        experiment_id: experiment_id.clone(),
        name: "my-model".into(),
        model_type: "sklearn".into(),
        source_run_id: Some("r-not-checked".into()),
        params: vec![kv("lr", "0.1"), kv("alpha", "1")],
        tags: vec![kv("team", "a"), kv("env", "dev")],
    };
    let created = store.create_logged_model(request).await.unwrap();
    let info = &created.info;
    let id = info.model_id.clone();
    assert!(id.starts_with("m-") && id.len() == 34, "{id}");
    assert!(id[2..].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(info.experiment_id, experiment_id);
    assert_eq!(info.name, "my-model");
    assert_eq!(info.model_type, "sklearn");
    assert_eq!(info.source_run_id.as_deref(), Some("r-not-checked"));
    assert_eq!(info.status, LoggedModelStatus::Pending);
    assert_eq!(info.status_message, None);
    assert_eq!(info.lifecycle_stage, LifecycleStage::Active);
    // Under the experiment's location, without doubling its trailing slash.
    assert_eq!(info.artifact_uri, format!("s3://bucket/lm-create/models/{id}/artifacts"));
    assert!(info.creation_timestamp_ms > 0);
    assert_eq!(info.creation_timestamp_ms, info.last_updated_timestamp_ms);
    assert_eq!(info.tags, vec![kv("env", "dev"), kv("team", "a")]);
    assert_eq!(created.data.params, vec![kv("alpha", "1"), kv("lr", "0.1")]);
    assert!(created.data.metrics.is_empty());
    assert_eq!(store.get_logged_model(&id, false).await.unwrap(), created);

    // No name: a generated one, like a run's; an empty source run is none.
    let request =
        CreateLoggedModel { experiment_id: "0".into(), source_run_id: Some(String::new()), ..Default::default() };
    let generated = store.create_logged_model(request).await.unwrap();
    assert_eq!(generated.info.name.split('-').count(), 3, "{}", generated.info.name);
    assert_eq!(generated.info.source_run_id, None);
    assert_eq!(generated.info.model_type, "");
    let default_location = store.get_experiment("0").await.unwrap().artifact_location;
    let expected = format!("{default_location}/models/{}/artifacts", generated.info.model_id);
    assert_eq!(generated.info.artifact_uri, expected);
    assert_ne!(generated.info.model_id, id);

    let missing = store.get_logged_model("m-00000000000000000000000000000000", true).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(missing.message, "Logged model with ID 'm-00000000000000000000000000000000' not found.");
}

pub async fn logged_model_create_needs_an_active_experiment<S: Store>(store: &S) {
    let create = |experiment_id: &str| CreateLoggedModel { experiment_id: experiment_id.into(), ..Default::default() };
    let missing = store.create_logged_model(create("987654")).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(missing.message, "No Experiment with id=987654 exists");
    let malformed = store.create_logged_model(create("not-a-number")).await.unwrap_err();
    assert_eq!(malformed.code, ErrorCode::InvalidParameterValue);

    let experiment_id = experiment(store, "lm-deleted-experiment").await;
    store.delete_experiment(&experiment_id).await.unwrap();
    let deleted = store.create_logged_model(create(&experiment_id)).await.unwrap_err();
    assert_eq!(deleted.code, ErrorCode::InvalidParameterValue);
    assert_eq!(
        deleted.message,
        format!("The experiment {experiment_id} must be in the 'active' state. Current state is deleted.")
    );
    // Nothing was left behind.
    store.restore_experiment(&experiment_id).await.unwrap();
    assert!(names(store, search(&[&experiment_id])).await.is_empty());
}

pub async fn logged_model_finalize<S: Store>(store: &S) {
    let experiment_id = experiment(store, "lm-finalize").await;
    let created = model(store, &experiment_id, "m").await;
    let id = created.info.model_id.clone();
    tick();
    let ready = store.finalize_logged_model(&id, LoggedModelStatus::Ready).await.unwrap();
    assert_eq!(ready.info.status, LoggedModelStatus::Ready);
    assert!(ready.info.last_updated_timestamp_ms > created.info.last_updated_timestamp_ms);
    assert_eq!(ready.info.creation_timestamp_ms, created.info.creation_timestamp_ms);
    assert_eq!(store.get_logged_model(&id, false).await.unwrap(), ready);

    let other = model(store, &experiment_id, "other").await;
    let failed = store.finalize_logged_model(&other.info.model_id, LoggedModelStatus::UploadFailed).await.unwrap();
    assert_eq!(failed.info.status, LoggedModelStatus::UploadFailed);
    // MLflow's store sets whatever status it is given: there are no transition rules.
    let again = store.finalize_logged_model(&id, LoggedModelStatus::UploadFailed).await.unwrap();
    assert_eq!(again.info.status, LoggedModelStatus::UploadFailed);

    let missing = store.finalize_logged_model("m-nope", LoggedModelStatus::Ready).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(missing.message, "Logged model with ID 'm-nope' not found.");
}

pub async fn logged_model_delete_then_get<S: Store>(store: &S) {
    let experiment_id = experiment(store, "lm-delete").await;
    let doomed = model(store, &experiment_id, "doomed").await;
    let kept = model(store, &experiment_id, "kept").await;
    let id = doomed.info.model_id.clone();
    tick();
    store.delete_logged_model(&id).await.unwrap();

    let hidden = store.get_logged_model(&id, false).await.unwrap_err();
    assert_eq!(hidden.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(hidden.message, format!("Logged model with ID '{id}' not found."));
    let deleted = store.get_logged_model(&id, true).await.unwrap();
    assert_eq!(deleted.info.lifecycle_stage, LifecycleStage::Deleted);
    assert!(deleted.info.last_updated_timestamp_ms > doomed.info.last_updated_timestamp_ms);
    assert_eq!(deleted.info.name, "doomed");
    assert_eq!(names(store, search(&[&experiment_id])).await, vec!["kept"]);
    assert_eq!(store.get_logged_model(&kept.info.model_id, false).await.unwrap(), kept);

    let missing = store.delete_logged_model("m-nope").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
}

pub async fn logged_model_tags<S: Store>(store: &S) {
    let experiment_id = experiment(store, "lm-tags").await;
    let request = CreateLoggedModel {
        experiment_id: experiment_id.clone(),
        name: "tagged".into(),
        tags: vec![kv("team", "a")],
        ..Default::default()
    };
    let id = store.create_logged_model(request).await.unwrap().info.model_id;
    store.set_logged_model_tags(&id, vec![kv("team", "b"), kv("k", "v"), kv("z", "last")]).await.unwrap();
    let tags = store.get_logged_model(&id, false).await.unwrap().info.tags;
    assert_eq!(tags, vec![kv("k", "v"), kv("team", "b"), kv("z", "last")]);

    store.delete_logged_model_tag(&id, "k").await.unwrap();
    let tags = store.get_logged_model(&id, false).await.unwrap().info.tags;
    assert_eq!(tags, vec![kv("team", "b"), kv("z", "last")]);
    let gone = store.delete_logged_model_tag(&id, "k").await.unwrap_err();
    assert_eq!(gone.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(gone.message, format!("No tag with key 'k' found for model with ID '{id}'."));

    let missing = store.set_logged_model_tags("m-nope", vec![kv("a", "b")]).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(missing.message, "Logged model with ID 'm-nope' not found.");
    let missing = store.delete_logged_model_tag("m-nope", "a").await.unwrap_err();
    assert_eq!(missing.message, "Logged model with ID 'm-nope' not found.");
}

pub async fn logged_model_params<S: Store>(store: &S) {
    let experiment_id = experiment(store, "lm-params").await;
    let id = model(store, &experiment_id, "with-params").await.info.model_id;
    store.log_logged_model_params(&id, vec![kv("lr", "0.1"), kv("depth", "3")]).await.unwrap();
    // A model's params are upserted, unlike a run's.
    store.log_logged_model_params(&id, vec![kv("lr", "0.2")]).await.unwrap();
    let params = store.get_logged_model(&id, false).await.unwrap().data.params;
    assert_eq!(params, vec![kv("depth", "3"), kv("lr", "0.2")]);
    let missing = store.log_logged_model_params("m-nope", vec![kv("a", "b")]).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
}

pub async fn logged_model_metrics_from_log_batch<S: Store>(store: &S) {
    let experiment_id = experiment(store, "lm-metrics").await;
    let run = store.create_run(CreateRun { experiment_id: Some(experiment_id.clone()), ..Default::default() }).await;
    let run_id = run.unwrap().info.run_id;
    let id = model(store, &experiment_id, "measured").await.info.model_id;
    let metrics = vec![
        model_metric("loss", 0.5, 20, 2, &id, None),
        model_metric("acc", 0.9, 10, 1, &id, Some(("train", "t1"))),
        model_metric("loss", 0.8, 10, 1, &id, None),
        model_metric("big", f64::INFINITY, 10, 0, &id, None),
        // Read back as 0.0, as SQLite's REAL keeps it.
        model_metric("zero", -0.0, 10, 0, &id, None),
    ];
    log_metrics(store, &run_id, metrics.clone()).await.unwrap();
    // A retried batch adds nothing.
    log_metrics(store, &run_id, metrics).await.unwrap();

    let recorded = store.get_logged_model(&id, false).await.unwrap().data.metrics;
    let summary: Vec<(&str, f64, i64, i64)> =
        recorded.iter().map(|m| (m.key.as_str(), m.value, m.timestamp, m.step)).collect();
    assert_eq!(
        summary,
        vec![
            ("acc", 0.9, 10, 1),
            ("big", f64::MAX, 10, 0),
            ("loss", 0.8, 10, 1),
            ("loss", 0.5, 20, 2),
            ("zero", 0.0, 10, 0)
        ]
    );
    assert!(recorded[4].value.is_sign_positive());
    for metric in &recorded {
        assert_eq!(metric.run_id.as_deref(), Some(run_id.as_str()));
        assert_eq!(metric.model_id.as_deref(), Some(id.as_str()));
    }
    assert_eq!(
        (recorded[0].dataset_name.as_deref(), recorded[0].dataset_digest.as_deref()),
        (Some("train"), Some("t1"))
    );
    assert_eq!((recorded[2].dataset_name.as_deref(), recorded[2].dataset_digest.as_deref()), (None, None));
    // The run keeps its own copy.
    let run = store.get_run(&run_id).await.unwrap();
    assert!(run.data.metrics.iter().any(|m| m.key == "loss" && m.value == 0.5));

    // A metric naming an unknown model fails the whole batch.
    let bad = vec![Metric::new("other", 1.0, 30, 0), model_metric("other", 1.0, 30, 0, "m-nope", None)];
    let refused = log_metrics(store, &run_id, bad).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(refused.message, "Logged model with ID 'm-nope' not found.");
    let run = store.get_run(&run_id).await.unwrap();
    assert!(!run.data.metrics.iter().any(|m| m.key == "other"));
    assert_eq!(run.info.status, RunStatus::Running);
}

pub async fn search_logged_models_filters_attributes_params_tags<S: Store>(store: &S) {
    let experiment_id = experiment(store, "lm-search-filters").await;
    let other_experiment = experiment(store, "lm-search-other").await;
    let create = |name: &str, model_type: &str, run: Option<&str>, params: Vec<KeyValue>, tags: Vec<KeyValue>| {
        CreateLoggedModel {
            experiment_id: experiment_id.clone(),
            name: name.into(),
            model_type: model_type.into(),
            source_run_id: run.map(String::from),
            params,
            tags,
        }
    };
    let alpha = create("alpha", "sklearn", Some("run-1"), vec![kv("lr", "0.1")], vec![kv("team", "a")]);
    let alpha = store.create_logged_model(alpha).await.unwrap();
    tick();
    let beta = create("beta", "pytorch", Some("run-2"), vec![kv("lr", "0.2")], vec![kv("team", "b")]);
    store.create_logged_model(beta).await.unwrap();
    tick();
    let gamma = create("gamma", "sklearn", None, vec![], vec![]);
    let gamma = store.create_logged_model(gamma).await.unwrap();
    model(store, &other_experiment, "elsewhere").await;
    store.finalize_logged_model(&gamma.info.model_id, LoggedModelStatus::Ready).await.unwrap();

    let exp = experiment_id.as_str();
    assert_eq!(name_set(store, search(&[exp])).await, ["alpha", "beta", "gamma"]);
    assert_eq!(name_set(store, search(&[exp, &other_experiment])).await, ["alpha", "beta", "elsewhere", "gamma"]);
    assert!(names(store, search(&["987654"])).await.is_empty());
    assert_eq!(names(store, filtered(&[exp], "name = 'alpha'")).await, ["alpha"]);
    assert_eq!(name_set(store, filtered(&[exp], "name LIKE '%a'")).await, ["alpha", "beta", "gamma"]);
    assert_eq!(name_set(store, filtered(&[exp], "name != 'alpha'")).await, ["beta", "gamma"]);
    assert_eq!(name_set(store, filtered(&[exp], "model_type = 'sklearn'")).await, ["alpha", "gamma"]);
    assert_eq!(names(store, filtered(&[exp], "status = 'LOGGED_MODEL_READY'")).await, ["gamma"]);
    assert_eq!(names(store, filtered(&[exp], "source_run_id = 'run-2'")).await, ["beta"]);
    let since = format!("creation_timestamp > {}", alpha.info.creation_timestamp_ms);
    assert_eq!(name_set(store, filtered(&[exp], &since)).await, ["beta", "gamma"]);
    assert_eq!(names(store, filtered(&[exp], "params.lr = '0.2'")).await, ["beta"]);
    assert_eq!(names(store, filtered(&[exp], "tags.team = 'a'")).await, ["alpha"]);
    assert_eq!(names(store, filtered(&[exp], "tags.team = 'a' AND params.lr = '0.1'")).await, ["alpha"]);
    assert!(names(store, filtered(&[exp], "tags.team = 'a' AND params.lr = '0.2'")).await.is_empty());
    // Tags set after the create are searched too.
    store.set_logged_model_tags(&gamma.info.model_id, vec![kv("team", "a")]).await.unwrap();
    assert_eq!(name_set(store, filtered(&[exp], "tags.team = 'a'")).await, ["alpha", "gamma"]);

    let bad = store.search_logged_models(filtered(&[exp], "name = ")).await.unwrap_err();
    assert_eq!(bad.code, ErrorCode::InvalidParameterValue);
    let bad = store.search_logged_models(search(&["not-a-number"])).await.unwrap_err();
    assert_eq!(bad.code, ErrorCode::InvalidParameterValue);
}

pub async fn search_logged_models_orders_and_pages<S: Store>(store: &S) {
    let experiment_id = experiment(store, "lm-search-pages").await;
    let exp = experiment_id.as_str();
    let mut created = Vec::new();
    for name in ["c", "a", "e", "b", "d"] {
        created.push(model(store, exp, name).await);
        tick();
    }
    // Default order: newest first.
    assert_eq!(names(store, search(&[exp])).await, ["d", "b", "e", "a", "c"]);
    let oldest = SearchLoggedModels { order_by: vec![order("creation_timestamp", true)], ..search(&[exp]) };
    assert_eq!(names(store, oldest).await, ["c", "a", "e", "b", "d"]);
    let by_name = SearchLoggedModels { order_by: vec![order("name", true)], ..search(&[exp]) };
    assert_eq!(names(store, by_name).await, ["a", "b", "c", "d", "e"]);
    let by_name_desc = SearchLoggedModels { order_by: vec![order("name", false)], ..search(&[exp]) };
    assert_eq!(names(store, by_name_desc).await, ["e", "d", "c", "b", "a"]);
    // Ties fall back on newest first.
    store.finalize_logged_model(&created[2].info.model_id, LoggedModelStatus::Ready).await.unwrap();
    let by_status = SearchLoggedModels { order_by: vec![order("status", false)], ..search(&[exp]) };
    assert_eq!(names(store, by_status).await, ["e", "d", "b", "a", "c"]);

    // Pages of two, by name, then the tokens carry on where the last page stopped.
    let mut request = SearchLoggedModels { order_by: vec![order("name", true)], max_results: 2, ..search(&[exp]) };
    let mut pages = Vec::new();
    loop {
        let page = store.search_logged_models(request.clone()).await.unwrap();
        pages.push(page.items.iter().map(|m| m.info.name.clone()).collect::<Vec<_>>());
        match page.next_page_token {
            Some(token) => request.page_token = Some(token),
            None => break,
        }
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(pages, vec![vec!["a", "b"], vec!["c", "d"], vec!["e"]]);
    // A page that ends exactly at the last model has no token.
    let exact = SearchLoggedModels { max_results: 5, ..search(&[exp]) };
    assert_eq!(store.search_logged_models(exact).await.unwrap().next_page_token, None);

    let bad_token = SearchLoggedModels { page_token: Some("not a token".into()), ..search(&[exp]) };
    assert_eq!(store.search_logged_models(bad_token).await.unwrap_err().code, ErrorCode::InvalidParameterValue);
    let by_param = SearchLoggedModels { order_by: vec![order("params.lr", true)], ..search(&[exp]) };
    let refused = store.search_logged_models(by_param).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidParameterValue);
    assert_eq!(refused.message, "Invalid order by field name: params.lr. Only metrics are supported.");
}

pub async fn search_logged_models_metrics_and_datasets<S: Store>(store: &S) {
    let experiment_id = experiment(store, "lm-search-metrics").await;
    let exp = experiment_id.as_str();
    let run = store.create_run(CreateRun { experiment_id: Some(experiment_id.clone()), ..Default::default() }).await;
    let run_id = run.unwrap().info.run_id;
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "no-metrics"] {
        ids.push(model(store, exp, name).await.info.model_id);
        tick();
    }
    let (a, b, c) = (&ids[0], &ids[1], &ids[2]);
    let metrics = vec![
        model_metric("acc", 0.9, 10, 0, a, Some(("train", "t1"))),
        model_metric("acc", 0.2, 20, 0, a, Some(("eval", "e1"))),
        model_metric("acc", 0.5, 10, 0, b, Some(("train", "t1"))),
        model_metric("acc", 0.95, 5, 3, b, Some(("train", "t1"))),
        model_metric("acc", 0.7, 10, 0, c, None),
    ];
    log_metrics(store, &run_id, metrics).await.unwrap();

    // A metric filter matches any of the model's points.
    assert_eq!(name_set(store, filtered(&[exp], "metrics.acc > 0.8")).await, ["a", "b"]);
    assert_eq!(name_set(store, filtered(&[exp], "metrics.acc < 0.3")).await, ["a"]);
    assert!(names(store, filtered(&[exp], "metrics.loss > 0")).await.is_empty());

    // A datasets clause keeps models with a metric on one of its datasets, and scopes the
    // metric filters to them.
    let on = |datasets: &[(&str, Option<&str>)], filter: Option<&str>| SearchLoggedModels {
        datasets: datasets.iter().map(|(n, d)| (n.to_string(), d.map(String::from))).collect(),
        filter: filter.map(String::from),
        ..search(&[exp])
    };
    assert_eq!(name_set(store, on(&[("train", Some("t1"))], None)).await, ["a", "b"]);
    assert_eq!(name_set(store, on(&[("eval", Some("e1"))], None)).await, ["a"]);
    assert_eq!(name_set(store, on(&[("train", Some("t1")), ("eval", Some("e1"))], None)).await, ["a", "b"]);
    assert_eq!(name_set(store, on(&[("eval", Some("e1"))], Some("metrics.acc > 0.5"))).await, Vec::<String>::new());
    assert_eq!(name_set(store, on(&[("train", Some("t1"))], Some("metrics.acc > 0.6"))).await, ["a", "b"]);
    assert_eq!(name_set(store, on(&[("train", Some("other"))], None)).await, Vec::<String>::new());
    // Without a digest, only metrics logged without one match (MLflow's `IS NULL`).
    assert_eq!(name_set(store, on(&[("train", None)], None)).await, Vec::<String>::new());

    // Ordering by a metric sorts on its latest point (by timestamp, then step), models
    // without the metric last; a clause's dataset restricts the points it looks at.
    let by_acc = |ascending: bool, dataset: Option<(&str, &str)>| {
        let mut clause = order("metrics.acc", ascending);
        clause.dataset_name = dataset.map(|d| d.0.to_string());
        clause.dataset_digest = dataset.map(|d| d.1.to_string());
        SearchLoggedModels { order_by: vec![clause], ..search(&[exp]) }
    };
    // Latest: a 0.2 (t=20), b 0.5 (t=10), c 0.7.
    assert_eq!(names(store, by_acc(true, None)).await, ["a", "b", "c", "no-metrics"]);
    assert_eq!(names(store, by_acc(false, None)).await, ["c", "b", "a", "no-metrics"]);
    // On train: a 0.9, b 0.5; c has none.
    assert_eq!(names(store, by_acc(true, Some(("train", "t1")))).await, ["b", "a", "no-metrics", "c"]);
    assert_eq!(names(store, by_acc(false, Some(("train", "t1")))).await, ["a", "b", "no-metrics", "c"]);
    // Combined with a datasets clause and paging.
    let mut paged = SearchLoggedModels { max_results: 1, ..by_acc(false, Some(("train", "t1"))) };
    paged.datasets = vec![("train".into(), Some("t1".into()))];
    let first = store.search_logged_models(paged.clone()).await.unwrap();
    assert_eq!(first.items.iter().map(|m| m.info.name.as_str()).collect::<Vec<_>>(), ["a"]);
    paged.page_token = first.next_page_token;
    let second = store.search_logged_models(paged).await.unwrap();
    assert_eq!(second.items.iter().map(|m| m.info.name.as_str()).collect::<Vec<_>>(), ["b"]);
    assert_eq!(second.next_page_token, None);
}

pub async fn concurrent_logged_model_writes<S: Store>(store: &S) {
    let experiment_id = experiment(store, "lm-concurrent").await;
    let wanted: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
    let models = futures_join_all(wanted.iter().map(|name| model(store, &experiment_id, name))).await;
    let mut ids: Vec<&str> = models.iter().map(|m| m.info.model_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8);

    let target = models[0].info.model_id.clone();
    let writes = (0..8).map(|i| {
        let target = target.clone();
        async move {
            let key = format!("k{i}");
            store.set_logged_model_tags(&target, vec![kv(&key, "v"), kv("shared", &key)]).await?;
            store.log_logged_model_params(&target, vec![kv(&key, "p")]).await
        }
    });
    for outcome in futures_join_all(writes).await {
        outcome.expect("concurrent write");
    }
    let written = store.get_logged_model(&target, false).await.unwrap();
    assert_eq!(written.info.tags.len(), 9);
    assert_eq!(written.data.params.len(), 8);
    assert_eq!(names(store, search(&[&experiment_id])).await.len(), 8);
}
