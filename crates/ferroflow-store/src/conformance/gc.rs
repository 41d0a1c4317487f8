//! `ferroflow gc` behaviour: which deleted entities are due, and what a purge removes.

use ferroflow_core::types::{Dataset, DatasetInput, InputTag, KeyValue, Metric, Param, RunTag, ViewType};
use ferroflow_core::ErrorCode;

use crate::gc::{GcKind, GcRequest, GcTarget};
use crate::logged_models::{CreateLoggedModel, SearchLoggedModels};
use crate::{CreateExperiment, CreateRun, LogBatch, MetricHistoryQuery, SearchRuns, Store};

/// The gc cases, for [`conformance_suite!`](crate::conformance_suite).
#[macro_export]
macro_rules! gc_conformance_cases {
    ($make:expr) => {
        $crate::conformance_cases!($make; gc;
            gc_targets_only_old_deleted_entities,
            gc_named_entities_must_be_deleted,
            gc_runs_targets_and_names,
            gc_purges_logged_model_with_children,
            gc_purges_run_with_children,
            gc_purges_experiment_with_runs_and_models,
        );
    };
}

/// Long enough that "deleted before the pause" and "deleted just now" stay apart on a
/// loaded machine.
const PAUSE_MS: u64 = 400;

fn pause() {
    std::thread::sleep(std::time::Duration::from_millis(PAUSE_MS));
}

async fn experiment<S: Store>(store: &S, name: &str) -> String {
    let request = CreateExperiment { name: name.into(), ..Default::default() };
    store.create_experiment(request).await.expect("create experiment")
}

async fn model<S: Store>(store: &S, experiment_id: &str, tags: Vec<KeyValue>) -> (String, String) {
    let request = CreateLoggedModel {
        experiment_id: experiment_id.into(),
        name: "m".into(),
        params: vec![KeyValue::new("lr", "0.1")],
        tags,
        ..Default::default()
    };
    let info = store.create_logged_model(request).await.expect("create logged model").info;
    (info.model_id, info.artifact_uri)
}

async fn run<S: Store>(store: &S, experiment_id: &str) -> (String, String) {
    let request = CreateRun { experiment_id: Some(experiment_id.into()), ..Default::default() };
    let info = store.create_run(request).await.expect("create run").info;
    (info.run_id, info.artifact_uri)
}

fn target(kind: GcKind, id: &str, artifact_uri: &str) -> GcTarget {
    GcTarget { kind, id: id.into(), artifact_uri: artifact_uri.into() }
}

fn older_than(ms: i64) -> GcRequest {
    GcRequest { older_than_ms: Some(ms), ..Default::default() }
}

async fn purge_all<S: Store>(store: &S, targets: &[GcTarget]) {
    for target in targets {
        store.purge(target).await.expect("purge");
    }
}

async fn log_everything<S: Store>(store: &S, run_id: &str, model_id: Option<&str>) {
    let mut metric = Metric::new("acc", 0.5, 10, 1);
    metric.model_id = model_id.map(String::from);
    let batch = LogBatch {
        run_id: run_id.into(),
        metrics: vec![metric, Metric::new("loss", 1.0, 10, 1)],
        params: vec![Param::new("lr", "0.1")],
        tags: vec![RunTag::new("team", "a")],
    };
    store.log_batch(batch).await.expect("log batch");
    let input = DatasetInput {
        tags: vec![InputTag::new("mlflow.data.context", "train")],
        dataset: Dataset {
            name: format!("data-{run_id}"),
            digest: "d1".into(),
            source_type: "local".into(),
            source: "{}".into(),
            schema: None,
            profile: None,
        },
    };
    store.log_inputs(run_id, vec![input], vec![]).await.expect("log inputs");
}

pub async fn gc_targets_only_old_deleted_entities<S: Store>(store: &S) {
    let experiment_id = experiment(store, "gc-models").await;
    let (old_model, old_uri) = model(store, &experiment_id, vec![]).await;
    model(store, &experiment_id, vec![]).await;
    let (new_model, new_uri) = model(store, &experiment_id, vec![]).await;
    let old_experiment = experiment(store, "gc-old-experiment").await;
    experiment(store, "gc-active-experiment").await;
    let old_location = store.get_experiment(&old_experiment).await.unwrap().artifact_location;
    store.delete_logged_model(&old_model).await.unwrap();
    store.delete_experiment(&old_experiment).await.unwrap();
    pause();
    store.delete_logged_model(&new_model).await.unwrap();

    // Everything deleted: models before experiments, each kind in creation order.
    let everything = store.gc_targets(GcRequest::default()).await.unwrap();
    assert_eq!(
        everything,
        vec![
            target(GcKind::LoggedModel, &old_model, &old_uri),
            target(GcKind::LoggedModel, &new_model, &new_uri),
            target(GcKind::Experiment, &old_experiment, &old_location),
        ]
    );
    // Only what was deleted before the cutoff.
    let old = store.gc_targets(older_than(PAUSE_MS as i64 / 2)).await.unwrap();
    assert_eq!(
        old,
        vec![
            target(GcKind::LoggedModel, &old_model, &old_uri),
            target(GcKind::Experiment, &old_experiment, &old_location)
        ]
    );
    assert!(store.gc_targets(older_than(3_600_000)).await.unwrap().is_empty());

    // Named entities obey the cutoff too: one deleted too recently is left out quietly.
    let named = GcRequest {
        older_than_ms: Some(PAUSE_MS as i64 / 2),
        logged_model_ids: vec![new_model.clone(), old_model.clone()],
        ..Default::default()
    };
    assert_eq!(store.gc_targets(named).await.unwrap(), vec![target(GcKind::LoggedModel, &old_model, &old_uri)]);
    let only_experiment = GcRequest { experiment_ids: vec![old_experiment.clone()], ..Default::default() };
    assert_eq!(
        store.gc_targets(only_experiment).await.unwrap(),
        vec![target(GcKind::Experiment, &old_experiment, &old_location)]
    );
}

pub async fn gc_named_entities_must_be_deleted<S: Store>(store: &S) {
    let experiment_id = experiment(store, "gc-named").await;
    let (active_model, _) = model(store, &experiment_id, vec![]).await;
    let (deleted_model, _) = model(store, &experiment_id, vec![]).await;
    store.delete_logged_model(&deleted_model).await.unwrap();

    let models = |ids: &[&str]| GcRequest {
        logged_model_ids: ids.iter().map(|id| id.to_string()).collect(),
        ..Default::default()
    };
    let refused = store.gc_targets(models(&[&deleted_model, &active_model])).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidParameterValue);
    assert_eq!(
        refused.message,
        format!(
            "Logged model {active_model} is not in `deleted` lifecycle stage. Only Logged models in `deleted` \
             lifecycle stage can be deleted."
        )
    );
    let unknown = store.gc_targets(models(&["m-nope"])).await.unwrap_err();
    assert_eq!(unknown.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(unknown.message, "Logged model m-nope not found");

    let experiments = |ids: &[&str]| GcRequest {
        experiment_ids: ids.iter().map(|id| id.to_string()).collect(),
        ..Default::default()
    };
    let refused = store.gc_targets(experiments(&[&experiment_id])).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidParameterValue);
    assert_eq!(
        refused.message,
        format!(
            "Experiment {experiment_id} is not in `deleted` lifecycle stage. Only Experiments in `deleted` \
             lifecycle stage can be deleted."
        )
    );
    let unknown = store.gc_targets(experiments(&["987654"])).await.unwrap_err();
    assert_eq!(unknown.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(unknown.message, "Experiment 987654 not found");
    let malformed = store.gc_targets(experiments(&["not-a-number"])).await.unwrap_err();
    assert_eq!(malformed.code, ErrorCode::InvalidParameterValue);

    // A refused request changed nothing.
    assert!(store.get_logged_model(&deleted_model, true).await.is_ok());
    assert!(store.get_logged_model(&active_model, false).await.is_ok());
}

pub async fn gc_runs_targets_and_names<S: Store>(store: &S) {
    let experiment_id = experiment(store, "gc-runs").await;
    let (active_run, _) = run(store, &experiment_id).await;
    let (deleted_run, deleted_uri) = run(store, &experiment_id).await;
    store.delete_run(&deleted_run).await.unwrap();

    let runs =
        |ids: &[&str]| GcRequest { run_ids: ids.iter().map(|id| id.to_string()).collect(), ..Default::default() };
    assert_eq!(
        store.gc_targets(runs(&[&deleted_run])).await.unwrap(),
        vec![target(GcKind::Run, &deleted_run, &deleted_uri)]
    );
    let refused = store.gc_targets(runs(&[&deleted_run, &active_run])).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidParameterValue);
    assert_eq!(
        refused.message,
        format!(
            "Run {active_run} is not in `deleted` lifecycle stage. Only Runs in `deleted` lifecycle stage can be \
             deleted."
        )
    );
    let unknown = store.gc_targets(runs(&["nope"])).await.unwrap_err();
    assert_eq!(unknown.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(unknown.message, "Run nope not found");
    assert!(store
        .gc_targets(GcRequest { older_than_ms: Some(3_600_000), ..runs(&[&deleted_run]) })
        .await
        .unwrap()
        .is_empty());

    // Deleting an experiment deletes its runs: both are due, the runs first.
    let other = experiment(store, "gc-runs-deleted-experiment").await;
    let (inner_run, inner_uri) = run(store, &other).await;
    store.delete_experiment(&other).await.unwrap();
    let location = store.get_experiment(&other).await.unwrap().artifact_location;
    assert_eq!(
        store.gc_targets(GcRequest::default()).await.unwrap(),
        vec![
            target(GcKind::Run, &deleted_run, &deleted_uri),
            target(GcKind::Run, &inner_run, &inner_uri),
            target(GcKind::Experiment, &other, &location),
        ]
    );
    // Named kinds come out in purge order whatever the request's order.
    let mixed =
        GcRequest { experiment_ids: vec![other.clone()], run_ids: vec![inner_run.clone()], ..Default::default() };
    let kinds: Vec<GcKind> = store.gc_targets(mixed).await.unwrap().into_iter().map(|t| t.kind).collect();
    assert_eq!(kinds, vec![GcKind::Run, GcKind::Experiment]);
}

pub async fn gc_purges_logged_model_with_children<S: Store>(store: &S) {
    let experiment_id = experiment(store, "gc-purge-model").await;
    let (doomed, _) = model(store, &experiment_id, vec![KeyValue::new("team", "a")]).await;
    let (kept, _) = model(store, &experiment_id, vec![KeyValue::new("team", "a")]).await;
    store.delete_logged_model(&doomed).await.unwrap();
    let targets = store.gc_targets(GcRequest::default()).await.unwrap();
    assert_eq!(targets.len(), 1);
    purge_all(store, &targets).await;
    // Purging again finds nothing to do.
    purge_all(store, &targets).await;

    let gone = store.get_logged_model(&doomed, true).await.unwrap_err();
    assert_eq!(gone.code, ErrorCode::ResourceDoesNotExist);
    assert!(store.gc_targets(GcRequest::default()).await.unwrap().is_empty());
    let survivor = store.get_logged_model(&kept, false).await.unwrap();
    assert_eq!(survivor.info.tags, vec![KeyValue::new("team", "a")]);
    assert_eq!(survivor.data.params, vec![KeyValue::new("lr", "0.1")]);
    let search = SearchLoggedModels {
        experiment_ids: vec![experiment_id.clone()],
        filter: Some("tags.team = 'a'".into()),
        datasets: Vec::new(),
        max_results: 10,
        order_by: Vec::new(),
        page_token: None,
    };
    let found: Vec<String> =
        store.search_logged_models(search).await.unwrap().items.into_iter().map(|m| m.info.model_id).collect();
    assert_eq!(found, vec![kept]);
}

fn all_runs(experiment_id: &str) -> SearchRuns {
    SearchRuns {
        experiment_ids: vec![experiment_id.into()],
        filter: None,
        run_view_type: ViewType::All,
        max_results: 100,
        order_by: Vec::new(),
        page_token: None,
    }
}

fn history(run_id: &str) -> MetricHistoryQuery {
    MetricHistoryQuery { run_id: run_id.into(), metric_key: "acc".into(), max_results: None, page_token: None }
}

pub async fn gc_purges_run_with_children<S: Store>(store: &S) {
    let experiment_id = experiment(store, "gc-purge-run").await;
    let (doomed, _) = run(store, &experiment_id).await;
    let (kept, _) = run(store, &experiment_id).await;
    log_everything(store, &doomed, None).await;
    log_everything(store, &kept, None).await;
    store.delete_run(&doomed).await.unwrap();
    let targets = store.gc_targets(GcRequest::default()).await.unwrap();
    assert_eq!(targets.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), vec![doomed.as_str()]);
    purge_all(store, &targets).await;
    purge_all(store, &targets).await;

    assert_eq!(store.get_run(&doomed).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert!(store.get_metric_history(history(&doomed)).await.map_or(true, |page| page.items.is_empty()));
    let listed: Vec<String> =
        store.search_runs(all_runs(&experiment_id)).await.unwrap().items.into_iter().map(|r| r.info.run_id).collect();
    assert_eq!(listed, vec![kept.clone()]);
    // The other run keeps all it logged.
    let survivor = store.get_run(&kept).await.unwrap();
    assert_eq!(survivor.data.params, vec![Param::new("lr", "0.1")]);
    assert!(survivor.data.tags.iter().any(|t| t.key == "team" && t.value == "a"));
    assert_eq!(survivor.data.metrics.len(), 2);
    assert_eq!(survivor.inputs.dataset_inputs.len(), 1);
    assert_eq!(store.get_metric_history(history(&kept)).await.unwrap().items.len(), 1);
    // Only the surviving run's dataset is still an input of the experiment.
    let datasets = store.search_datasets(vec![experiment_id.clone()], 100).await.unwrap();
    assert_eq!(datasets.len(), 1);
    assert!(store.gc_targets(GcRequest::default()).await.unwrap().is_empty());
}

pub async fn gc_purges_experiment_with_runs_and_models<S: Store>(store: &S) {
    let experiment_id = experiment(store, "gc-purge-experiment").await;
    store.set_experiment_tag(&experiment_id, KeyValue::new("team", "a")).await.unwrap();
    let (model_id, _) = model(store, &experiment_id, vec![KeyValue::new("team", "a")]).await;
    let (run_id, _) = run(store, &experiment_id).await;
    log_everything(store, &run_id, Some(&model_id)).await;
    let neighbour = experiment(store, "gc-neighbour").await;
    let (neighbour_run, _) = run(store, &neighbour).await;
    let (neighbour_model, _) = model(store, &neighbour, vec![]).await;
    log_everything(store, &neighbour_run, Some(&neighbour_model)).await;

    store.delete_experiment(&experiment_id).await.unwrap();
    let targets = store.gc_targets(GcRequest::default()).await.unwrap();
    let listed: Vec<(GcKind, &str)> = targets.iter().map(|t| (t.kind, t.id.as_str())).collect();
    // The model itself was never deleted: the experiment's purge takes it along.
    assert_eq!(listed, vec![(GcKind::Run, run_id.as_str()), (GcKind::Experiment, experiment_id.as_str())]);
    purge_all(store, &targets).await;

    assert_eq!(store.get_experiment(&experiment_id).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.get_run(&run_id).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.get_logged_model(&model_id, true).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert!(store.search_datasets(vec![experiment_id.clone()], 100).await.unwrap().is_empty());
    assert!(store.gc_targets(GcRequest::default()).await.unwrap().is_empty());
    // The name is free again, and the new experiment starts empty.
    let reborn = experiment(store, "gc-purge-experiment").await;
    assert_ne!(reborn, experiment_id);
    assert!(store.get_experiment(&reborn).await.unwrap().tags.is_empty());

    // The neighbour is untouched.
    let run = store.get_run(&neighbour_run).await.unwrap();
    assert_eq!(run.data.metrics.len(), 2);
    assert_eq!(run.inputs.dataset_inputs.len(), 1);
    let model = store.get_logged_model(&neighbour_model, false).await.unwrap();
    assert_eq!(model.data.metrics.len(), 1);
    assert_eq!(model.data.params.len(), 1);
    assert_eq!(store.search_datasets(vec![neighbour.clone()], 100).await.unwrap().len(), 1);
}
