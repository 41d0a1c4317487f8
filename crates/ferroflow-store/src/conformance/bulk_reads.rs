//! The web UI's multi-run reads: `get-history-bulk` and `search-datasets`.

use ferroflow_core::types::{Dataset, DatasetInput, DatasetSummary, InputTag, Metric};
use ferroflow_core::ErrorCode;

use crate::{CreateExperiment, CreateRun, LogBatch, Store};

async fn new_run<S: Store>(store: &S, experiment_id: &str) -> String {
    let request = CreateRun { experiment_id: Some(experiment_id.to_string()), ..Default::default() };
    store.create_run(request).await.expect("create run").info.run_id
}

async fn log_metrics<S: Store>(store: &S, run_id: &str, metrics: Vec<Metric>) {
    store.log_batch(LogBatch { run_id: run_id.to_string(), metrics, ..Default::default() }).await.expect("log batch");
}

pub async fn history_bulk_orders_by_run_then_time_and_caps<S: Store>(store: &S) {
    let mut runs = [new_run(store, "0").await, new_run(store, "0").await];
    runs.sort();
    let point = |value: f64, timestamp: i64, step: i64| Metric::new("loss", value, timestamp, step);
    log_metrics(store, &runs[1], vec![point(3.0, 15, 0), point(1.0, 10, 2), point(2.0, 10, 1)]).await;
    log_metrics(store, &runs[0], vec![point(0.5, 10, 0), point(0.25, 10, 0), point(f64::NAN, 20, 0)]).await;
    log_metrics(store, &runs[0], vec![Metric::new("other", 1.0, 1, 0)]).await;
    let ids = vec![runs[1].clone(), runs[0].clone(), runs[1].clone(), "unknown".to_string()];
    let all = store.get_metric_history_bulk(ids.clone(), "loss".into(), usize::MAX).await.unwrap();
    let seen: Vec<(String, i64, i64, String)> =
        all.iter().map(|m| (m.run_id.clone().unwrap(), m.timestamp, m.step, format!("{}", m.value))).collect();
    let (a, b) = (runs[0].clone(), runs[1].clone());
    let expected = vec![
        (a.clone(), 10, 0, "0.25".to_string()),
        (a.clone(), 10, 0, "0.5".to_string()),
        (a.clone(), 20, 0, "NaN".to_string()),
        (b.clone(), 10, 1, "2".to_string()),
        (b.clone(), 10, 2, "1".to_string()),
        (b, 15, 0, "3".to_string()),
    ];
    assert_eq!(seen, expected);
    assert!(all.iter().all(|m| m.key == "loss"));
    let capped = store.get_metric_history_bulk(ids.clone(), "loss".into(), 4).await.unwrap();
    assert_eq!(capped.len(), 4);
    assert_eq!(capped[3].run_id.as_deref(), Some(runs[1].as_str()));
    assert!(store.get_metric_history_bulk(ids.clone(), "loss".into(), 0).await.unwrap().is_empty());
    assert!(store.get_metric_history_bulk(ids, "missing".into(), 10).await.unwrap().is_empty());
}

fn input(name: &str, digest: &str, context: Option<&str>) -> DatasetInput {
    DatasetInput {
        tags: context.map(|c| InputTag::new("mlflow.data.context", c)).into_iter().collect(),
        dataset: Dataset {
            name: name.into(),
            digest: digest.into(),
            source_type: "local".into(),
            source: "{}".into(),
            schema: None,
            profile: None,
        },
    }
}

fn summary(experiment_id: &str, name: &str, digest: &str, context: Option<&str>) -> DatasetSummary {
    DatasetSummary {
        experiment_id: experiment_id.into(),
        name: name.into(),
        digest: digest.into(),
        context: context.map(str::to_string),
    }
}

pub async fn search_datasets_lists_distinct_pairs<S: Store>(store: &S) {
    let experiment =
        store.create_experiment(CreateExperiment { name: "datasets".into(), ..Default::default() }).await.unwrap();
    let other = store.create_experiment(CreateExperiment { name: "other".into(), ..Default::default() }).await.unwrap();
    let (first, second) = (new_run(store, &experiment).await, new_run(store, &experiment).await);
    store.log_inputs(&first, vec![input("train", "d1", Some("training"))], vec![]).await.unwrap();
    store
        .log_inputs(&second, vec![input("train", "d1", Some("training")), input("eval", "d2", Some("eval"))], vec![])
        .await
        .unwrap();
    // The same dataset in another context is another pair; no context tag, no context.
    store.log_inputs(&second, vec![input("raw", "d3", None)], vec![]).await.unwrap();
    let elsewhere = new_run(store, &other).await;
    store.log_inputs(&elsewhere, vec![input("train", "d1", Some("testing"))], vec![]).await.unwrap();

    let found = store.search_datasets(vec![experiment.clone()], 1000).await.unwrap();
    assert_eq!(
        found,
        vec![
            summary(&experiment, "train", "d1", Some("training")),
            summary(&experiment, "eval", "d2", Some("eval")),
            summary(&experiment, "raw", "d3", None),
        ]
    );
    let both = store.search_datasets(vec![experiment.clone(), other.clone()], 1000).await.unwrap();
    assert_eq!(both.len(), 4);
    assert!(both.contains(&summary(&other, "train", "d1", Some("testing"))));
    assert_eq!(store.search_datasets(vec![experiment.clone(), other], 2).await.unwrap().len(), 2);
    assert!(store.search_datasets(vec!["12345".into()], 1000).await.unwrap().is_empty());
    let error = store.search_datasets(vec!["abc".into()], 1000).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidParameterValue);
}

fn chart_range(run_id: &str, key: &str, steps: (i64, i64)) -> crate::SeriesRange {
    crate::SeriesRange { run_id: run_id.to_string(), key: key.to_string(), steps }
}

fn bits(points: &[ferroflow_core::downsample::ChartPoint]) -> Vec<(i64, i64, u64)> {
    points.iter().map(|p| (p.step, p.timestamp, p.value.to_bits())).collect()
}

/// The chart read: short series raw and bit-exact, long ones reduced to each bucket's
/// extremes (the reference downsampler's answer over the stored history), step ranges,
/// last steps, unknown runs and keys.
pub async fn chart_series_downsamples_by_bucket<S: Store>(store: &S) {
    use ferroflow_core::downsample::{downsample, ChartPoint};
    let (a, b) = (new_run(store, "0").await, new_run(store, "0").await);
    let long: Vec<Metric> = (0..100)
        .map(|i| {
            let value = match i {
                57 => 1000.0,
                10 => f64::NAN,
                _ => (i % 7) as f64 * 0.1,
            };
            Metric::new("loss", value, 1_000 + i, i)
        })
        .collect();
    log_metrics(store, &a, long).await;
    let short = vec![
        Metric::new("loss", 0.1 + 0.2, 5, 3),
        Metric::new("loss", f64::NAN, 6, 4),
        Metric::new("loss", -1.5e-300, 7, 9),
    ];
    log_metrics(store, &b, short).await;
    let stored = |run: &str| {
        let run = run.to_string();
        async move {
            let query = crate::MetricHistoryQuery {
                run_id: run,
                metric_key: "loss".into(),
                max_results: None,
                page_token: None,
            };
            let mut points: Vec<ChartPoint> = store
                .get_metric_history(query)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|m| ChartPoint { step: m.step, timestamp: m.timestamp, value: m.value })
                .collect();
            points.sort_by(|x, y| x.step.cmp(&y.step).then(x.timestamp.cmp(&y.timestamp)));
            points
        }
    };
    let all = (i64::MIN, i64::MAX);
    let ranges = vec![
        chart_range(&a, "loss", all),
        chart_range(&b, "loss", all),
        chart_range("unknown", "loss", all),
        chart_range(&a, "missing", all),
        chart_range(&a, "loss", (20, 29)),
        chart_range(&a, "loss", (100, i64::MAX)),
    ];
    let answer = store.chart_series(ranges, 10).await.unwrap();
    assert_eq!(answer.len(), 6);

    let long = &answer[0];
    assert_eq!((long.run_id.as_str(), long.key.as_str()), (a.as_str(), "loss"));
    assert_eq!((long.total, long.sampled, long.last_step), (100, true, Some(99)));
    assert!(long.points.len() <= 20);
    assert!(long.points.iter().any(|p| p.step == 57 && p.value == 1000.0), "the spike survives");
    assert!(long.points.iter().any(|p| p.step == 10 && p.value.is_nan()), "so does the NaN");
    let (expected, _) = downsample(&stored(&a).await, 0, 99, 10);
    assert_eq!(bits(&long.points), bits(&expected));

    let short = &answer[1];
    assert_eq!((short.total, short.sampled, short.last_step), (3, false, Some(9)));
    assert_eq!(bits(&short.points), bits(&stored(&b).await));
    assert_eq!(short.points[0].value.to_bits(), (0.1f64 + 0.2).to_bits());

    for empty in &answer[2..4] {
        assert_eq!((empty.total, empty.sampled, empty.last_step), (0, false, None));
        assert!(empty.points.is_empty());
    }
    let window = &answer[4];
    assert_eq!((window.total, window.sampled), (10, false));
    assert_eq!(window.points.iter().map(|p| p.step).collect::<Vec<_>>(), (20..30).collect::<Vec<_>>());
    let after = &answer[5];
    assert_eq!((after.total, after.last_step), (0, Some(99)));
    assert!(after.points.is_empty());

    // A point logged later is what a range past the last step finds.
    log_metrics(store, &a, vec![Metric::new("loss", 2.5, 5_000, 120)]).await;
    let live = store.chart_series(vec![chart_range(&a, "loss", (100, i64::MAX))], 10).await.unwrap();
    assert_eq!(live[0].last_step, Some(120));
    assert_eq!(bits(&live[0].points), vec![(120, 5_000, 2.5f64.to_bits())]);
}
