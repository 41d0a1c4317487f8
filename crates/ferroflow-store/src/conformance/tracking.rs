//! Tracking behaviour: experiments, runs, logging, metric reads.

use ferroflow_core::types::{
    Dataset, DatasetInput, ExperimentTag, InputTag, LifecycleStage, Metric, ModelOutput, Param, RunStatus, RunTag,
    ViewType,
};
use ferroflow_core::ErrorCode;

use crate::{
    BulkIntervalQuery, CreateExperiment, CreateRun, LogBatch, MetricHistoryQuery, SearchExperiments, SearchRuns, Store,
    UpdateRun,
};

fn experiment(name: &str) -> CreateExperiment {
    CreateExperiment { name: name.to_string(), ..Default::default() }
}

async fn new_run<S: Store>(store: &S, experiment_id: &str) -> String {
    let request = CreateRun { experiment_id: Some(experiment_id.to_string()), ..Default::default() };
    store.create_run(request).await.expect("create run").info.run_id
}

fn metric(key: &str, value: f64, timestamp: i64, step: i64) -> Metric {
    Metric::new(key, value, timestamp, step)
}

async fn log<S: Store>(
    store: &S,
    run_id: &str,
    metrics: Vec<Metric>,
    params: Vec<Param>,
    tags: Vec<RunTag>,
) -> ferroflow_core::Result<()> {
    store.log_batch(LogBatch { run_id: run_id.to_string(), metrics, params, tags }).await
}

pub async fn default_experiment_exists<S: Store>(store: &S) {
    let default = store.get_experiment("0").await.expect("experiment 0");
    assert_eq!(default.name, "Default");
    assert_eq!(default.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(store.get_experiment_by_name("Default").await.unwrap().experiment_id, "0");
}

pub async fn experiment_lifecycle<S: Store>(store: &S) {
    let id = store.create_experiment(experiment("exp-a")).await.unwrap();
    assert_ne!(id, "0");
    let created = store.get_experiment(&id).await.unwrap();
    assert_eq!(created.name, "exp-a");
    assert!(created.artifact_location.ends_with(&format!("/{id}")), "{}", created.artifact_location);

    let duplicate = store.create_experiment(experiment("exp-a")).await.unwrap_err();
    assert_eq!(duplicate.code, ErrorCode::ResourceAlreadyExists);
    let missing = store.get_experiment("987654").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.get_experiment("not-a-number").await.unwrap_err().code, ErrorCode::InvalidParameterValue);
    assert_eq!(store.get_experiment_by_name("nope").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);

    store.rename_experiment(&id, "exp-b").await.unwrap();
    assert_eq!(store.get_experiment_by_name("exp-b").await.unwrap().experiment_id, id);
    assert!(store.get_experiment_by_name("exp-a").await.is_err());

    let run_id = new_run(store, &id).await;
    store.delete_experiment(&id).await.unwrap();
    assert_eq!(store.get_experiment(&id).await.unwrap().lifecycle_stage, LifecycleStage::Deleted);
    assert_eq!(store.get_run(&run_id).await.unwrap().info.lifecycle_stage, LifecycleStage::Deleted);
    let in_deleted =
        store.create_run(CreateRun { experiment_id: Some(id.clone()), ..Default::default() }).await.unwrap_err();
    assert_eq!(in_deleted.code, ErrorCode::InvalidParameterValue);
    assert_eq!(store.rename_experiment(&id, "exp-c").await.unwrap_err().code, ErrorCode::InvalidState);

    // Deleting twice finds no active experiment.
    assert_eq!(store.delete_experiment(&id).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    // A deleted experiment keeps its name reserved.
    assert_eq!(store.create_experiment(experiment("exp-b")).await.unwrap_err().code, ErrorCode::ResourceAlreadyExists);
    store.restore_experiment(&id).await.unwrap();
    assert_eq!(store.restore_experiment(&id).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.get_experiment(&id).await.unwrap().lifecycle_stage, LifecycleStage::Active);
    assert_eq!(store.get_run(&run_id).await.unwrap().info.lifecycle_stage, LifecycleStage::Active);
}

pub async fn experiment_tags<S: Store>(store: &S) {
    let request = CreateExperiment {
        name: "tagged".into(),
        artifact_location: Some("s3://bucket/path".into()),
        tags: vec![ExperimentTag::new("team", "a")],
    };
    let id = store.create_experiment(request).await.unwrap();
    let created = store.get_experiment(&id).await.unwrap();
    assert_eq!(created.artifact_location, "s3://bucket/path");
    assert_eq!(created.tags, vec![ExperimentTag::new("team", "a")]);
    store.set_experiment_tag(&id, ExperimentTag::new("team", "b")).await.unwrap();
    store.set_experiment_tag(&id, ExperimentTag::new("k", "v")).await.unwrap();
    let tags = store.get_experiment(&id).await.unwrap().tags;
    assert_eq!(tags, vec![ExperimentTag::new("k", "v"), ExperimentTag::new("team", "b")]);
    store.delete_experiment_tag(&id, "k").await.unwrap();
    let missing = store.delete_experiment_tag(&id, "k").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
}

pub async fn run_names_and_tags<S: Store>(store: &S) {
    let generated = store.create_run(CreateRun::default()).await.unwrap();
    assert_eq!(generated.info.experiment_id, "0");
    assert_eq!(generated.info.status, RunStatus::Running);
    assert_eq!(generated.info.run_name.split('-').count(), 3, "{}", generated.info.run_name);
    let name_tag = generated.data.tags.iter().find(|t| t.key == "mlflow.runName").unwrap();
    assert_eq!(name_tag.value, generated.info.run_name);
    assert!(generated.info.artifact_uri.ends_with(&format!("/{}/artifacts", generated.info.run_id)));

    let from_tag = store
        .create_run(CreateRun { tags: vec![RunTag::new("mlflow.runName", "by-tag")], ..Default::default() })
        .await
        .unwrap();
    assert_eq!(from_tag.info.run_name, "by-tag");

    let conflict = store
        .create_run(CreateRun {
            run_name: Some("a".into()),
            tags: vec![RunTag::new("mlflow.runName", "b")],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(conflict.code, ErrorCode::InvalidParameterValue);

    // Setting the tag renames the run.
    let run_id = from_tag.info.run_id;
    log(store, &run_id, vec![], vec![], vec![RunTag::new("mlflow.runName", "renamed")]).await.unwrap();
    assert_eq!(store.get_run(&run_id).await.unwrap().info.run_name, "renamed");
    store.delete_tag(&run_id, "mlflow.runName").await.unwrap();
    assert_eq!(store.delete_tag(&run_id, "absent").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(
        store.get_run("0123456789abcdef0123456789abcdef").await.unwrap_err().code,
        ErrorCode::ResourceDoesNotExist
    );
}

pub async fn run_update_and_lifecycle<S: Store>(store: &S) {
    let run_id = new_run(store, "0").await;
    let info = store
        .update_run(UpdateRun {
            run_id: run_id.clone(),
            status: Some(RunStatus::Finished),
            end_time: Some(1234),
            run_name: Some("new-name".into()),
        })
        .await
        .unwrap();
    assert_eq!((info.status, info.end_time, info.run_name.as_str()), (RunStatus::Finished, Some(1234), "new-name"));
    let run = store.get_run(&run_id).await.unwrap();
    assert!(run.data.tags.contains(&RunTag::new("mlflow.runName", "new-name")));

    store.delete_run(&run_id).await.unwrap();
    assert_eq!(store.get_run(&run_id).await.unwrap().info.lifecycle_stage, LifecycleStage::Deleted);
    let refused = log(store, &run_id, vec![], vec![Param::new("p", "1")], vec![]).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidParameterValue);
    assert!(refused.message.contains("must be in the 'active' state"), "{}", refused.message);
    store.restore_run(&run_id).await.unwrap();
    log(store, &run_id, vec![], vec![Param::new("p", "1")], vec![]).await.unwrap();
}

pub async fn params_are_write_once<S: Store>(store: &S) {
    let run_id = new_run(store, "0").await;
    log(store, &run_id, vec![], vec![Param::new("p", "1")], vec![]).await.unwrap();
    log(store, &run_id, vec![], vec![Param::new("p", "1")], vec![]).await.unwrap();
    let changed = log(store, &run_id, vec![], vec![Param::new("p", "2")], vec![]).await.unwrap_err();
    assert_eq!(changed.code, ErrorCode::InvalidParameterValue);
    assert!(changed.message.contains("Changing param values is not allowed"), "{}", changed.message);
    assert_eq!(store.get_run(&run_id).await.unwrap().data.params, vec![Param::new("p", "1")]);
}

pub async fn failed_batch_changes_nothing<S: Store>(store: &S) {
    let run_id = new_run(store, "0").await;
    log(store, &run_id, vec![], vec![Param::new("p", "1")], vec![]).await.unwrap();
    let before = store.get_run(&run_id).await.unwrap();
    // The param conflict comes after a metric and a tag in the same batch.
    let failed = log(
        store,
        &run_id,
        vec![metric("m", 1.0, 1, 0)],
        vec![Param::new("q", "new"), Param::new("p", "other")],
        vec![RunTag::new("t", "v")],
    )
    .await;
    assert!(failed.is_err());
    let after = store.get_run(&run_id).await.unwrap();
    assert_eq!(before.data, after.data);
    let history = store
        .get_metric_history(MetricHistoryQuery { run_id, metric_key: "m".into(), max_results: None, page_token: None })
        .await
        .unwrap();
    assert!(history.items.is_empty());
}

pub async fn metrics_latest_and_history<S: Store>(store: &S) {
    let run_id = new_run(store, "0").await;
    let points = vec![
        metric("m", 1.5, 1000, 1),
        metric("m", f64::NAN, 1001, 2),
        metric("m", f64::INFINITY, 1002, 3),
        metric("m", 0.5, 500, 0),
        metric("other", -1.0, 10, 0),
    ];
    log(store, &run_id, points.clone(), vec![], vec![]).await.unwrap();
    // Re-logging identical rows is accepted and deduplicated.
    log(store, &run_id, points, vec![], vec![]).await.unwrap();
    let run = store.get_run(&run_id).await.unwrap();
    let latest: Vec<(String, f64, i64)> = run.data.metrics.iter().map(|m| (m.key.clone(), m.value, m.step)).collect();
    assert_eq!(latest, vec![("m".to_string(), f64::MAX, 3), ("other".to_string(), -1.0, 0)]);

    let history = store
        .get_metric_history(MetricHistoryQuery {
            run_id: run_id.clone(),
            metric_key: "m".into(),
            max_results: None,
            page_token: None,
        })
        .await
        .unwrap();
    let steps: Vec<i64> = history.items.iter().map(|m| m.step).collect();
    assert_eq!(steps, vec![0, 1, 2, 3]);
    assert!(history.items[2].value.is_nan());
    assert_eq!(history.items[3].value, f64::MAX);

    // An older step never replaces the latest value.
    log(store, &run_id, vec![metric("other", 99.0, 5, -1)], vec![], vec![]).await.unwrap();
    let run = store.get_run(&run_id).await.unwrap();
    assert_eq!(run.data.metrics[1].value, -1.0);
    // Like MLflow, an unknown run simply has no history.
    let missing_run = store
        .get_metric_history(MetricHistoryQuery {
            run_id: "0123456789abcdef0123456789abcdef".into(),
            metric_key: "m".into(),
            max_results: None,
            page_token: None,
        })
        .await
        .unwrap();
    assert!(missing_run.items.is_empty());
}

/// One batch whose keys fare differently: one key's points partly stored already (a
/// retried or overlapping request), one key continuing its series, one key new. Each
/// history holds every point once, and each summary (latest value, count, shape) is
/// what the history says, as the chart sampler's answers show.
pub async fn a_batch_with_some_points_already_stored<S: Store>(store: &S) {
    let run_id = new_run(store, "0").await;
    let points = |key: &str, steps: std::ops::Range<i64>| -> Vec<Metric> {
        steps.map(|s| metric(key, s as f64 / 2.0, 100 + s, s)).collect()
    };
    log(store, &run_id, [points("a", 0..5), points("b", 0..3)].concat(), vec![], vec![]).await.unwrap();
    let tags = vec![RunTag::new("t", "first"), RunTag::new("t", "second")];
    log(store, &run_id, [points("a", 3..8), points("b", 3..5), points("c", 0..2)].concat(), vec![], tags)
        .await
        .unwrap();
    let run = store.get_run(&run_id).await.unwrap();
    let latest: Vec<(&str, i64)> = run.data.metrics.iter().map(|m| (m.key.as_str(), m.step)).collect();
    assert_eq!(latest, vec![("a", 7), ("b", 4), ("c", 1)]);
    // Two values for one tag in one batch: the later wins, as if sent one after the other.
    assert_eq!(run.data.tags.iter().find(|t| t.key == "t").map(|t| t.value.as_str()), Some("second"));
    for (key, steps) in [("a", 0..8), ("b", 0..5), ("c", 0..2)] {
        let history = store
            .get_metric_history(MetricHistoryQuery {
                run_id: run_id.clone(),
                metric_key: key.into(),
                max_results: None,
                page_token: None,
            })
            .await
            .unwrap();
        let as_tuple = |m: &Metric| (m.step, m.timestamp, m.value);
        let expected: Vec<_> = points(key, steps.clone()).iter().map(as_tuple).collect();
        assert_eq!(history.items.iter().map(as_tuple).collect::<Vec<_>>(), expected, "{key}");
        let sampled = store
            .get_metric_history_bulk_interval(BulkIntervalQuery {
                run_ids: vec![run_id.clone()],
                metric_key: key.into(),
                steps: None,
                max_results: 3,
            })
            .await
            .unwrap();
        let sampled_steps: Vec<i64> = sampled.iter().map(|m| m.step).collect();
        assert_eq!(sampled_steps.first(), Some(&steps.start), "{key}: {sampled_steps:?}");
        assert_eq!(sampled_steps.last(), Some(&(steps.end - 1)), "{key}: {sampled_steps:?}");
        assert!(sampled_steps.len() <= 3 && sampled_steps.windows(2).all(|w| w[0] < w[1]), "{key}: {sampled_steps:?}");
    }
}

/// SQLite's REAL loses the sign of -0.0, so MLflow's store reads it back as 0.0; every
/// backend must, in the latest value and the history alike.
pub async fn negative_zero_reads_back_as_zero<S: Store>(store: &S) {
    let run_id = new_run(store, "0").await;
    log(store, &run_id, vec![metric("z", -0.0, 10, 0), metric("z", -0.0, 20, 1)], vec![], vec![]).await.unwrap();
    // A retry of the same point, spelt +0.0, is the same point.
    log(store, &run_id, vec![metric("z", 0.0, 10, 0)], vec![], vec![]).await.unwrap();
    let run = store.get_run(&run_id).await.unwrap();
    let latest = &run.data.metrics[0];
    assert_eq!((latest.value.to_bits(), latest.step), (0.0f64.to_bits(), 1));
    let history = store
        .get_metric_history(MetricHistoryQuery { run_id, metric_key: "z".into(), max_results: None, page_token: None })
        .await
        .unwrap();
    let points: Vec<(u64, i64)> = history.items.iter().map(|m| (m.value.to_bits(), m.step)).collect();
    assert_eq!(points, vec![(0.0f64.to_bits(), 0), (0.0f64.to_bits(), 1)]);
}

pub async fn metric_history_pages<S: Store>(store: &S) {
    let run_id = new_run(store, "0").await;
    let points: Vec<Metric> = (0..25).map(|step| metric("loss", step as f64, 100 + step, step)).collect();
    log(store, &run_id, points, vec![], vec![]).await.unwrap();
    let mut token = None;
    let mut seen = Vec::new();
    loop {
        let page = store
            .get_metric_history(MetricHistoryQuery {
                run_id: run_id.clone(),
                metric_key: "loss".into(),
                max_results: Some(10),
                page_token: token.clone(),
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 10);
        seen.extend(page.items.iter().map(|m| m.step));
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, (0..25).collect::<Vec<_>>());
}

pub async fn search_runs_default_order_and_paging<S: Store>(store: &S) {
    let id = store.create_experiment(experiment("search-paging")).await.unwrap();
    let mut expected = Vec::new();
    for start_time in 0..7 {
        let request = CreateRun { experiment_id: Some(id.clone()), start_time: Some(start_time), ..Default::default() };
        expected.push(store.create_run(request).await.unwrap().info.run_id);
    }
    expected.reverse();
    store.delete_run(&expected[0]).await.unwrap();
    let search = |token: Option<String>, view: ViewType| SearchRuns {
        experiment_ids: vec![id.clone()],
        filter: None,
        run_view_type: view,
        max_results: 3,
        order_by: vec![],
        page_token: token,
    };
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = store.search_runs(search(token, ViewType::ActiveOnly)).await.unwrap();
        seen.extend(page.items.into_iter().map(|r| r.info.run_id));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, expected[1..].to_vec());
    let deleted = store.search_runs(search(None, ViewType::DeletedOnly)).await.unwrap();
    assert_eq!(deleted.items.len(), 1);
    assert_eq!(deleted.items[0].info.run_id, expected[0]);
    assert!(deleted.next_page_token.is_none());
    let bad_token = store.search_runs(search(Some("%%%".into()), ViewType::All)).await.unwrap_err();
    assert_eq!(bad_token.code, ErrorCode::InvalidParameterValue);
}

pub async fn search_experiments_paging<S: Store>(store: &S) {
    for i in 0..4 {
        store.create_experiment(experiment(&format!("paged-{i}"))).await.unwrap();
    }
    let deleted = store.create_experiment(experiment("paged-deleted")).await.unwrap();
    store.delete_experiment(&deleted).await.unwrap();
    let search = |token: Option<String>, view: ViewType| SearchExperiments {
        visible: None,
        filter: None,
        order_by: vec![],
        view_type: view,
        max_results: 2,
        page_token: token,
    };
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = store.search_experiments(search(token, ViewType::ActiveOnly)).await.unwrap();
        names.extend(page.items.into_iter().map(|e| e.name));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.contains(&"Default".to_string()) && !names.contains(&"paged-deleted".to_string()));
    let only_deleted = store.search_experiments(search(None, ViewType::DeletedOnly)).await.unwrap();
    assert_eq!(only_deleted.items.len(), 1);
}

pub async fn inputs_and_outputs<S: Store>(store: &S) {
    let run_id = new_run(store, "0").await;
    let input = DatasetInput {
        tags: vec![InputTag::new("mlflow.data.context", "train")],
        dataset: Dataset {
            name: "iris".into(),
            digest: "abc123".into(),
            source_type: "local".into(),
            source: "{\"uri\": \"/tmp/iris.csv\"}".into(),
            schema: Some("{}".into()),
            profile: None,
        },
    };
    store.log_inputs(&run_id, vec![input.clone()], vec![]).await.unwrap();
    store.log_inputs(&run_id, vec![input.clone()], vec![]).await.unwrap();
    store.log_outputs(&run_id, vec![ModelOutput { model_id: "m-1".into(), step: 3 }]).await.unwrap();
    let run = store.get_run(&run_id).await.unwrap();
    assert_eq!(run.inputs.dataset_inputs, vec![input]);
    assert_eq!(run.outputs.model_outputs, vec![ModelOutput { model_id: "m-1".into(), step: 3 }]);
}

pub async fn bulk_interval_samples<S: Store>(store: &S) {
    let first = new_run(store, "0").await;
    let second = new_run(store, "0").await;
    let points: Vec<Metric> = (0..500).map(|step| metric("acc", step as f64, step, step)).collect();
    log(store, &first, points[..500].to_vec(), vec![], vec![]).await.unwrap();
    log(store, &second, points[..20].to_vec(), vec![], vec![]).await.unwrap();
    let sampled = store
        .get_metric_history_bulk_interval(BulkIntervalQuery {
            run_ids: vec![first.clone(), second.clone()],
            metric_key: "acc".into(),
            steps: None,
            max_results: 50,
        })
        .await
        .unwrap();
    let of =
        |run: &str| sampled.iter().filter(|m| m.run_id.as_deref() == Some(run)).map(|m| m.step).collect::<Vec<_>>();
    let first_steps = of(&first);
    assert!(first_steps.len() <= 50 && first_steps.len() >= 40, "{}", first_steps.len());
    assert_eq!((first_steps[0], *first_steps.last().unwrap()), (0, 499));
    assert_eq!(of(&second), (0..20).collect::<Vec<_>>());
    let ranged = store
        .get_metric_history_bulk_interval(BulkIntervalQuery {
            run_ids: vec![first.clone()],
            metric_key: "acc".into(),
            steps: Some((100, 109)),
            max_results: 50,
        })
        .await
        .unwrap();
    assert_eq!(ranged.iter().map(|m| m.step).collect::<Vec<_>>(), (100..110).collect::<Vec<_>>());
}

/// Reference chart sampling, written from MLflow's definition: number the rows with
/// NTILE(max_results) in (step, timestamp, value) order, keep the first row of each tile,
/// and keep the last row too (in place of the last tile's first row when all tiles are
/// already represented).
fn reference_sample(rows: &[Metric], max_results: usize) -> Vec<Metric> {
    let n = rows.len();
    let tiles = max_results.min(n.max(1));
    let (small, big_tiles) = (n / tiles.max(1), n % tiles.max(1));
    let tile_of = |i: usize| {
        let big_rows = big_tiles * (small + 1);
        if i < big_rows {
            i / (small + 1)
        } else {
            big_tiles + (i - big_rows) / small.max(1)
        }
    };
    let mut kept: Vec<usize> = (0..n).filter(|&i| i == 0 || tile_of(i) != tile_of(i - 1)).collect();
    if n > 0 && kept.last() != Some(&(n - 1)) {
        if kept.len() >= max_results {
            kept.pop();
        }
        kept.push(n - 1);
    }
    kept.into_iter().map(|i| rows[i].clone()).collect()
}

/// Bulk-interval answers equal the reference sampling of the full history for series of
/// every shape (dense, strided, repeated steps, logged out of order, NaN, one point),
/// logged over several requests, with and without step ranges.
pub async fn bulk_interval_matches_reference_sampling<S: Store>(store: &S) {
    let stored_order = |a: &Metric, b: &Metric| {
        let v = |m: &Metric| if m.value.is_nan() { 0.0 } else { m.value };
        (a.step, a.timestamp)
            .cmp(&(b.step, b.timestamp))
            .then(v(a).total_cmp(&v(b)))
            .then(a.value.is_nan().cmp(&b.value.is_nan()))
    };
    let series: Vec<(&str, Vec<Vec<Metric>>)> = vec![
        (
            "dense",
            (0..4).map(|b| (b * 250..(b + 1) * 250).map(|s| metric("y", s as f64, 1000 + s, s)).collect()).collect(),
        ),
        ("strided", vec![(0..300).map(|i| metric("y", (i % 7) as f64, i, 5 + i * 10)).collect()]),
        ("repeats", vec![(0..400).map(|i| metric("y", i as f64, i, i / 3)).collect()]),
        (
            "reversed",
            (0..3).rev().map(|b| (b * 100..(b + 1) * 100).map(|s| metric("y", s as f64, s, s)).collect()).collect(),
        ),
        (
            "shuffled",
            vec![(0..200)
                .map(|i| {
                    let s = (i * 37) % 200;
                    metric("y", s as f64, s, s)
                })
                .collect()],
        ),
        ("nan", vec![(0..150).map(|s| metric("y", if s % 4 == 0 { f64::NAN } else { s as f64 }, s, s)).collect()]),
        ("single", vec![vec![metric("y", 1.5, 7, 42)]]),
        // A retried request, and one overlapping an earlier one: duplicates are ignored.
        ("retried", {
            let batch: Vec<Metric> = (0..120).map(|s| metric("y", s as f64, s, s)).collect();
            vec![batch.clone(), batch, (120..200).map(|s| metric("y", s as f64, s, s)).collect()]
        }),
        (
            "overlapping",
            vec![
                (0..100).map(|s| metric("y", s as f64, s, s)).collect(),
                (75..200).map(|s| metric("y", s as f64, s, s)).collect(),
            ],
        ),
        (
            "gap",
            vec![
                (0..50).map(|s| metric("y", 0.0, s, s)).collect(),
                (60..120).map(|s| metric("y", 0.0, s, s)).collect(),
            ],
        ),
    ];
    let mut runs = Vec::new();
    for (name, batches) in &series {
        let run_id = new_run(store, "0").await;
        for batch in batches {
            log(store, &run_id, batch.clone(), vec![], vec![]).await.unwrap();
        }
        runs.push((name.to_string(), run_id));
    }
    for steps in [None, Some((0, 1_000_000)), Some((10, 99)), Some((95, 95)), Some((42, 42)), Some((-5, 3))] {
        for max_results in [1, 2, 7, 50, 320, 2000] {
            let answer = store
                .get_metric_history_bulk_interval(BulkIntervalQuery {
                    run_ids: runs.iter().map(|(_, id)| id.clone()).collect(),
                    metric_key: "y".into(),
                    steps,
                    max_results,
                })
                .await
                .unwrap();
            for (name, run_id) in &runs {
                let mut history = store
                    .get_metric_history(MetricHistoryQuery {
                        run_id: run_id.clone(),
                        metric_key: "y".into(),
                        max_results: None,
                        page_token: None,
                    })
                    .await
                    .unwrap()
                    .items;
                history.sort_by(stored_order);
                history.retain(|m| steps.is_none_or(|(low, high)| (low..=high).contains(&m.step)));
                let expected: Vec<(i64, i64, String)> = reference_sample(&history, max_results)
                    .iter()
                    .map(|m| (m.step, m.timestamp, format!("{}", m.value)))
                    .collect();
                let got: Vec<(i64, i64, String)> = answer
                    .iter()
                    .filter(|m| m.run_id.as_deref() == Some(run_id.as_str()))
                    .map(|m| (m.step, m.timestamp, format!("{}", m.value)))
                    .collect();
                assert_eq!(got, expected, "series {name}, steps {steps:?}, max_results {max_results}");
            }
        }
    }
}

/// The legacy model history: entries append in order (concurrent ones included), a
/// deleted run refuses them, and a tag that is not a list is refused rather than lost.
pub async fn model_history_appends<S: Store>(store: &S) {
    let run_id = new_run(store, "0").await;
    let tag = ferroflow_core::model_history::HISTORY_TAG;
    store.append_model_history(&run_id, r#"{"artifact_path": "a"}"#.into()).await.unwrap();
    let appends = (0..20).map(|i| store.append_model_history(&run_id, format!(r#"{{"n": {i}}}"#)));
    for outcome in futures_join_all(appends).await {
        outcome.unwrap();
    }
    let value = store.get_run(&run_id).await.unwrap().data.tags.into_iter().find(|t| t.key == tag).unwrap().value;
    let list: Vec<serde_json::Value> = serde_json::from_str(&value).unwrap();
    assert_eq!(list.len(), 21, "{value}");
    assert!(value.starts_with(r#"[{"artifact_path": "a"}, {"n": "#), "{value}");
    let mut numbers: Vec<i64> = list[1..].iter().map(|e| e["n"].as_i64().unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, (0..20).collect::<Vec<_>>());

    let other = new_run(store, "0").await;
    log(store, &other, vec![], vec![], vec![RunTag::new(tag, "not a list")]).await.unwrap();
    let refused = store.append_model_history(&other, "{}".into()).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidParameterValue);
    store.delete_run(&run_id).await.unwrap();
    let refused = store.append_model_history(&run_id, "{}".into()).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidParameterValue, "{}", refused.message);
}

/// History pages follow MLflow's (timestamp, step, value) order for every series shape,
/// including regular series whose timestamps run against their steps, across pages.
pub async fn history_pages_follow_mlflows_order<S: Store>(store: &S) {
    let series: Vec<(&str, Vec<Vec<Metric>>)> = vec![
        ("forward", vec![(0..40).map(|s| metric("h", s as f64, 1000 + s, s)).collect()]),
        ("backward", vec![(0..40).map(|s| metric("h", s as f64, 1000 - s, s)).collect()]),
        ("same-time", vec![(0..40).map(|s| metric("h", (40 - s) as f64, 500, s)).collect()]),
        (
            "late-dip",
            vec![
                (0..20).map(|s| metric("h", 0.0, 1000 + s, s)).collect(),
                (20..40).map(|s| metric("h", 0.0, 900 + s, s)).collect(),
            ],
        ),
        ("repeats", vec![(0..40).map(|i| metric("h", (i % 5) as f64, 2000 - i / 2, i / 4)).collect()]),
    ];
    for (name, batches) in series {
        let run_id = new_run(store, "0").await;
        let mut all = Vec::new();
        for batch in batches {
            all.extend(batch.clone());
            log(store, &run_id, batch, vec![], vec![]).await.unwrap();
        }
        all.sort_by(|a, b| (a.timestamp, a.step).cmp(&(b.timestamp, b.step)).then(a.value.total_cmp(&b.value)));
        let expected: Vec<(i64, i64)> = all.iter().map(|m| (m.timestamp, m.step)).collect();
        let mut got = Vec::new();
        let mut page_token = None;
        loop {
            let page = store
                .get_metric_history(MetricHistoryQuery {
                    run_id: run_id.clone(),
                    metric_key: "h".into(),
                    max_results: Some(7),
                    page_token: page_token.take(),
                })
                .await
                .unwrap();
            got.extend(page.items.iter().map(|m| (m.timestamp, m.step)));
            match page.next_page_token {
                Some(token) => page_token = Some(token),
                None => break,
            }
        }
        assert_eq!(got, expected, "series {name}");
    }
}

pub async fn concurrent_writers_all_succeed<S: Store>(store: &S) {
    let run_id = new_run(store, "0").await;
    let writes = (0..200).map(|step| {
        let run_id = run_id.clone();
        async move { log(store, &run_id, vec![metric("c", step as f64, step, step)], vec![], vec![]).await }
    });
    for outcome in futures_join_all(writes).await {
        outcome.expect("concurrent write failed");
    }
    let history = store
        .get_metric_history(MetricHistoryQuery { run_id, metric_key: "c".into(), max_results: None, page_token: None })
        .await
        .unwrap();
    assert_eq!(history.items.len(), 200);
}

/// Renames racing onto one free name: one wins, every other hears that the name is
/// taken (a 400, as when it was taken before), never an internal error.
pub async fn concurrent_experiment_renames_make_one_winner<S: Store>(store: &S) {
    for round in 0..5 {
        let mut ids = Vec::new();
        for i in 0..8 {
            ids.push(store.create_experiment(experiment(&format!("race-{round}-{i}"))).await.unwrap());
        }
        let target = format!("race-target-{round}");
        let renames = ids.iter().map(|id| store.rename_experiment(id, &target));
        let outcomes = futures_join_all(renames).await;
        let mut refused = Vec::new();
        for outcome in &outcomes {
            if let Err(error) = outcome {
                refused.push((error.code, error.message.clone()));
            }
        }
        assert_eq!(outcomes.len() - refused.len(), 1, "round {round}: {refused:?}");
        let taken = crate::common::experiment_rename_taken(&target);
        assert!(refused.iter().all(|r| *r == (taken.code, taken.message.clone())), "round {round}: {refused:?}");
    }
}

/// Polls all futures concurrently without pulling in the `futures` crate.
pub(crate) async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future completed")).collect()
}
