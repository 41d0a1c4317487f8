//! [`ImportStore`](crate::ImportStore): records keep their ids, read back through the
//! ordinary traits as they were written, and importing again changes nothing.

use ferroflow_core::registry::Stage;
use ferroflow_core::types::{LifecycleStage, RunStatus};
use ferroflow_core::ErrorCode;

use crate::import::{
    AliasRecord, DatasetInputRecord, ExperimentRecord, LoggedModelMetricRecord, LoggedModelRecord, MetricRecord,
    ModelOutputRecord, ModelVersionRecord, Point, RegisteredModelRecord, RunRecord, Tag,
};
use crate::registry::CreateModelVersion;
use crate::{CreateExperiment, MetricHistoryQuery, Store};

/// The import cases, for [`conformance_suite!`](crate::conformance_suite).
#[macro_export]
macro_rules! import_conformance_cases {
    ($make:expr) => {
        $crate::conformance_cases!($make; import;
            import_keeps_ids_and_reads_back,
            import_twice_changes_nothing,
            import_refuses_orphans_whole_batch,
            import_refuses_a_name_held_by_another_experiment,
        );
    };
}

const RUN: &str = "0123456789abcdef0123456789abcdef";

fn experiment() -> ExperimentRecord {
    ExperimentRecord {
        experiment_id: "17".into(),
        name: "moved in".into(),
        artifact_location: "file:///old/mlruns/17".into(),
        lifecycle_stage: "active".into(),
        creation_time: 1_600_000_000_000,
        last_update_time: 1_600_000_000_500,
        tags: vec![Tag::new("team", "vision")],
    }
}

fn run() -> RunRecord {
    RunRecord {
        run_id: RUN.into(),
        experiment_id: "17".into(),
        name: "old-run".into(),
        user_id: "alice".into(),
        status: "FINISHED".into(),
        start_time: 1_600_000_001_000,
        end_time: Some(1_600_000_002_000),
        lifecycle_stage: "active".into(),
        artifact_uri: "file:///old/mlruns/17/0123/artifacts".into(),
        deleted_time: None,
        params: vec![Tag::new("lr", "0.1")],
        tags: vec![Tag::new("mlflow.runName", "old-run"), Tag::new("stage", "train")],
        dataset_inputs: vec![DatasetInputRecord {
            name: "mnist".into(),
            digest: "abc123".into(),
            source_type: "local".into(),
            source: "{\"uri\": \"/data\"}".into(),
            schema: Some("{}".into()),
            profile: None,
            tags: vec![Tag::new("mlflow.data.context", "training")],
        }],
        model_inputs: vec![],
        model_outputs: vec![ModelOutputRecord { model_id: "m-1".into(), step: 3 }],
    }
}

fn history() -> MetricRecord {
    let values = [0.5, f64::NAN, 1.0 / 3.0, f64::INFINITY, 0.25];
    let points = values.iter().enumerate().map(|(i, v)| Point { step: i as i64, timestamp: 10 + i as i64, value: *v });
    MetricRecord { run_id: RUN.into(), key: "loss".into(), points: points.collect() }
}

fn logged_model() -> LoggedModelRecord {
    LoggedModelRecord {
        model_id: "m-1".into(),
        experiment_id: "17".into(),
        name: "net".into(),
        artifact_uri: "file:///old/mlruns/17/models/m-1/artifacts".into(),
        status: "LOGGED_MODEL_READY".into(),
        status_message: None,
        model_type: "pytorch".into(),
        source_run_id: Some(RUN.into()),
        creation_time: 1_600_000_001_500,
        last_updated_time: 1_600_000_001_600,
        lifecycle_stage: "active".into(),
        tags: vec![Tag::new("k", "v")],
        params: vec![Tag::new("depth", "3")],
        metrics: vec![LoggedModelMetricRecord {
            key: "acc".into(),
            value: 0.875,
            timestamp: 20,
            step: 1,
            run_id: RUN.into(),
            dataset_name: String::new(),
            dataset_digest: String::new(),
        }],
    }
}

fn registered_model() -> RegisteredModelRecord {
    RegisteredModelRecord {
        name: "classifier".into(),
        creation_time: 1_600_000_003_000,
        last_updated_time: 1_600_000_004_000,
        description: Some("the old one".into()),
        tags: vec![Tag::new("owner", "bob")],
        aliases: vec![AliasRecord { alias: "champion".into(), version: 3 }],
    }
}

fn version(number: i64, stage: &str) -> ModelVersionRecord {
    ModelVersionRecord {
        name: "classifier".into(),
        version: number,
        creation_time: 1_600_000_003_000 + number,
        last_updated_time: 1_600_000_003_500 + number,
        description: None,
        user_id: Some("bob".into()),
        current_stage: stage.into(),
        source: Some(format!("runs:/{RUN}/model")),
        storage_location: None,
        run_id: Some(RUN.into()),
        run_link: None,
        status: "READY".into(),
        status_message: None,
        tags: vec![Tag::new("validated", number.to_string())],
    }
}

async fn import_all<S: Store>(store: &S) {
    store.import_experiments(vec![experiment()]).await.expect("experiments");
    store.import_runs(vec![run()]).await.expect("runs");
    store.import_metrics(vec![history()]).await.expect("metrics");
    store.import_logged_models(vec![logged_model()]).await.expect("logged models");
    store.import_registered_models(vec![registered_model()]).await.expect("registered models");
    // Version 2 was deleted in the source: its number stays taken.
    let versions = vec![version(1, "Archived"), version(2, "Deleted_Internal"), version(3, "Production")];
    store.import_model_versions(versions).await.expect("versions");
}

async fn full_history<S: Store>(store: &S) -> Vec<(i64, i64, u64)> {
    let query =
        MetricHistoryQuery { run_id: RUN.into(), metric_key: "loss".into(), max_results: None, page_token: None };
    let page = store.get_metric_history(query).await.expect("history");
    let bits = |v: f64| if v.is_nan() { u64::MAX } else { v.to_bits() };
    let mut points: Vec<_> = page.items.iter().map(|m| (m.step, m.timestamp, bits(m.value))).collect();
    points.sort();
    points
}

pub async fn import_keeps_ids_and_reads_back<S: Store>(store: &S) {
    assert!(store.store_counts().await.unwrap().is_empty(), "a fresh store counts as empty");
    import_all(store).await;
    let counts = store.store_counts().await.unwrap();
    assert_eq!((counts.experiments, counts.runs, counts.logged_models, counts.registered_models), (2, 1, 1, 1));
    assert!(!counts.is_empty());

    let experiment = store.get_experiment("17").await.expect("experiment keeps its id");
    assert_eq!(experiment.name, "moved in");
    assert_eq!(experiment.artifact_location, "file:///old/mlruns/17");
    assert_eq!((experiment.creation_time, experiment.last_update_time), (1_600_000_000_000, 1_600_000_000_500));
    assert_eq!(experiment.tags.iter().find(|t| t.key == "team").map(|t| t.value.as_str()), Some("vision"));

    let run = store.get_run(RUN).await.expect("run keeps its uuid");
    assert_eq!(run.info.experiment_id, "17");
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!((run.info.start_time, run.info.end_time), (1_600_000_001_000, Some(1_600_000_002_000)));
    assert_eq!(run.info.artifact_uri, "file:///old/mlruns/17/0123/artifacts");
    assert_eq!(run.info.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(run.info.run_name, "old-run");
    assert_eq!(run.data.params.len(), 1);
    assert!(run.data.tags.iter().any(|t| t.key == "stage" && t.value == "train"));
    assert_eq!(run.inputs.dataset_inputs.len(), 1);
    assert_eq!(run.inputs.dataset_inputs[0].dataset.digest, "abc123");
    assert_eq!(run.inputs.dataset_inputs[0].tags[0].value, "training");
    assert_eq!(run.outputs.model_outputs[0].step, 3);
    // The latest value is the highest step's; the run lists it.
    let latest = run.data.metrics.iter().find(|m| m.key == "loss").expect("latest loss");
    assert_eq!((latest.step, latest.value), (4, 0.25));

    let points = full_history(store).await;
    assert_eq!(points.len(), 5);
    assert_eq!(points[1].2, u64::MAX, "NaN survives");
    assert_eq!(points[2].2, (1.0f64 / 3.0).to_bits(), "doubles are bit-exact");
    assert_eq!(points[3].2, f64::MAX.to_bits(), "infinity is clamped as MLflow's SQL store does");

    let model = store.get_logged_model("m-1", false).await.expect("logged model keeps its id");
    assert_eq!(model.info.source_run_id.as_deref(), Some(RUN));
    assert_eq!(model.info.creation_timestamp_ms, 1_600_000_001_500);
    assert_eq!(model.data.params.len(), 1);
    assert_eq!(model.data.metrics.len(), 1);

    let registered = store.get_registered_model("classifier").await.expect("registered model");
    assert_eq!(registered.description.as_deref(), Some("the old one"));
    assert_eq!(registered.aliases.len(), 1);
    assert_eq!(registered.aliases[0].version, 3);
    let three = store.get_model_version_by_alias("classifier", "champion").await.expect("alias resolves");
    assert_eq!((three.version, three.current_stage), (3, Stage::Production));
    assert!(store.get_model_version("classifier", 2).await.is_err(), "a deleted version stays hidden");

    // New ids continue past the imported ones.
    let next = store.create_experiment(CreateExperiment { name: "after".into(), ..Default::default() }).await.unwrap();
    assert!(next.parse::<i64>().unwrap() > 17, "next experiment id {next}");
    let request = CreateModelVersion {
        name: "classifier".into(),
        source: "file:///x".into(),
        storage_location: None,
        run_id: None,
        run_link: None,
        description: None,
        tags: vec![],
    };
    assert_eq!(store.create_model_version(request).await.unwrap().version, 4);
    // An export lists the deleted versions (imported hidden, or deleted through the API)
    // by number, so a store it fills never hands those numbers out again.
    store.delete_model_version("classifier", 4).await.unwrap();
    let deleted = store.deleted_model_versions().await.unwrap();
    let numbers: Vec<(&str, i64, &str)> =
        deleted.iter().map(|v| (v.name.as_str(), v.version, v.current_stage.as_str())).collect();
    assert_eq!(numbers, vec![("classifier", 2, "Deleted_Internal"), ("classifier", 4, "Deleted_Internal")]);

    // A deleted run keeps its deletion time through an import, and an export reads it
    // back (with the times of runs deleted through the API), for gc --older-than.
    assert_eq!(store.run_deleted_times().await.unwrap(), vec![]);
    const DELETED_RUN: &str = "fedcba9876543210fedcba9876543210";
    let deleted_run = RunRecord {
        run_id: DELETED_RUN.into(),
        lifecycle_stage: "deleted".into(),
        deleted_time: Some(1_600_000_009_000),
        dataset_inputs: vec![],
        model_inputs: vec![],
        model_outputs: vec![],
        ..self::run()
    };
    store.import_runs(vec![deleted_run]).await.unwrap();
    let before = crate::common::now_millis();
    store.delete_run(RUN).await.unwrap();
    let times = store.run_deleted_times().await.unwrap();
    assert_eq!(times.len(), 2, "{times:?}");
    assert_eq!(times[1], (DELETED_RUN.to_string(), 1_600_000_009_000));
    assert_eq!(times[0].0, RUN);
    assert!(times[0].1 >= before, "{times:?}");
}

pub async fn import_twice_changes_nothing<S: Store>(store: &S) {
    import_all(store).await;
    let counts = store.store_counts().await.unwrap();
    let run = store.get_run(RUN).await.unwrap();
    let points = full_history(store).await;
    let versions = store.get_latest_versions("classifier", vec![]).await.unwrap();
    import_all(store).await;
    assert_eq!(store.store_counts().await.unwrap(), counts);
    assert_eq!(store.get_run(RUN).await.unwrap(), run);
    assert_eq!(full_history(store).await, points, "no point is duplicated");
    assert_eq!(store.get_latest_versions("classifier", vec![]).await.unwrap(), versions);
    let model = store.get_logged_model("m-1", false).await.unwrap();
    assert_eq!(model.data.metrics.len(), 1);
    // A later import carrying more of a history adds only the new points.
    let mut longer = history();
    longer.points.push(Point { step: 5, timestamp: 99, value: 0.125 });
    store.import_metrics(vec![longer]).await.unwrap();
    assert_eq!(full_history(store).await.len(), 6);
    let latest = store.get_run(RUN).await.unwrap().data.metrics.into_iter().find(|m| m.key == "loss").unwrap();
    assert_eq!((latest.step, latest.value), (5, 0.125));
}

pub async fn import_refuses_orphans_whole_batch<S: Store>(store: &S) {
    store.import_experiments(vec![experiment()]).await.unwrap();
    let mut orphan = run();
    orphan.run_id = "ffffffffffffffffffffffffffffffff".into();
    orphan.experiment_id = "99".into();
    let error = store.import_runs(vec![run(), orphan]).await.expect_err("a run of a missing experiment");
    assert_eq!(error.code, ErrorCode::InvalidParameterValue);
    assert!(error.message.contains("experiment 99"), "{}", error.message);
    assert!(store.get_run(RUN).await.is_err(), "the batch is all or nothing");
    let error = store.import_metrics(vec![history()]).await.expect_err("metrics of a missing run");
    assert!(error.message.contains(RUN), "{}", error.message);
    let error = store.import_model_versions(vec![version(1, "None")]).await.expect_err("a version of no model");
    assert!(error.message.contains("classifier"), "{}", error.message);
    let mut bad = run();
    bad.status = "DONE".into();
    assert!(store.import_runs(vec![bad]).await.is_err(), "an unknown status is refused");
}

pub async fn import_refuses_a_name_held_by_another_experiment<S: Store>(store: &S) {
    store.create_experiment(CreateExperiment { name: "moved in".into(), ..Default::default() }).await.unwrap();
    let error = store.import_experiments(vec![experiment()]).await.expect_err("the name is taken");
    assert_eq!(error.code, ErrorCode::ResourceAlreadyExists);
    assert!(error.message.contains("moved in"), "{}", error.message);
    assert!(store.get_experiment("17").await.is_err());
    // Nor may it take over another experiment's id under a different name.
    let mut other = experiment();
    other.name = "another".into();
    other.experiment_id = "1".into();
    let error = store.import_experiments(vec![other]).await.expect_err("the id is taken");
    assert_eq!(error.code, ErrorCode::ResourceAlreadyExists);
    assert_eq!(store.get_experiment("1").await.unwrap().name, "moved in");
}
