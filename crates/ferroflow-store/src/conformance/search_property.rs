//! The run-search property test both SQL stores run: for random filters and orders over
//! a varied set of runs, a store's search returns exactly the runs the core evaluator (the
//! reference semantics) selects, in the order MLflow's rules define, page after page.
//!
//! A backend runs it with [`search_property_suite!`](crate::search_property_suite), naming
//! its store type and an async expression that yields `(store, guard)`. Built only with
//! the `property-tests` feature, which the backends enable for their tests alone.

use std::cmp::Ordering;

use ferroflow_core::search::{self, eval, Entity, KeyKind, OrderBy, Record};
use ferroflow_core::types::{Dataset, DatasetInput, InputTag, KeyValue, Metric, Run, RunStatus, ViewType};
use proptest::prelude::*;

/// For the suite macro, which expands in the backend's test crate.
pub use proptest;

use crate::{CreateExperiment, CreateRun, LogBatch, SearchRuns, TrackingStore, UpdateRun};

/// Fills `store` with 60 runs with overlapping metrics (NaN and infinities included),
/// params, tags, statuses, end times, dataset inputs and deletions; returns the
/// experiment's id and the runs as the store reads them back.
pub async fn fill<S: TrackingStore>(store: &S) -> (String, Vec<Run>) {
    let experiment_id =
        store.create_experiment(CreateExperiment { name: "property".into(), ..Default::default() }).await.unwrap();
    let values = [0.0, 0.5, 1.0, -1.0, 2.5, f64::NAN, f64::INFINITY, 1.0];
    let letters = ["a", "b", "c", "ab", "A", "é"];
    let mut ids = Vec::new();
    for i in 0..60usize {
        let run = store
            .create_run(CreateRun {
                experiment_id: Some(experiment_id.clone()),
                run_name: Some(format!("run-{}", i % 13)),
                start_time: Some((i as i64 * 7) % 23),
                ..Default::default()
            })
            .await
            .unwrap();
        let run_id = run.info.run_id;
        let mut metrics = Vec::new();
        if i % 3 != 0 {
            metrics.push(Metric::new("m1", values[i % values.len()], 1, 0));
        }
        if i % 4 != 1 {
            metrics.push(Metric::new("m2", values[(i * 5) % values.len()], 1, (i % 3) as i64));
        }
        let mut params = Vec::new();
        if i % 5 != 0 {
            params.push(KeyValue::new("p1", letters[i % letters.len()]));
        }
        if i % 2 == 0 {
            params.push(KeyValue::new("p2", letters[(i / 2) % letters.len()]));
        }
        let mut tags = Vec::new();
        if i % 3 != 2 {
            tags.push(KeyValue::new("t1", letters[(i * 7) % letters.len()]));
        }
        store.log_batch(LogBatch { run_id: run_id.clone(), metrics, params, tags }).await.unwrap();
        if i % 4 == 0 {
            let status = [RunStatus::Finished, RunStatus::Failed, RunStatus::Killed][i % 3];
            store
                .update_run(UpdateRun {
                    run_id: run_id.clone(),
                    status: Some(status),
                    end_time: Some((i as i64 * 11) % 31),
                    run_name: None,
                })
                .await
                .unwrap();
        }
        if i % 6 == 1 {
            let context = ["train", "eval"][(i / 6) % 2];
            let input = DatasetInput {
                tags: vec![InputTag::new("mlflow.data.context", context)],
                dataset: Dataset {
                    name: format!("d{}", i % 3),
                    digest: format!("x{}", i % 2),
                    source_type: "local".into(),
                    source: "{}".into(),
                    schema: None,
                    profile: None,
                },
            };
            store.log_inputs(&run_id, vec![input], vec![]).await.unwrap();
        }
        if i % 10 == 9 {
            store.delete_run(&run_id).await.unwrap();
        }
        ids.push(run_id);
    }
    let mut runs = Vec::new();
    for id in ids {
        runs.push(store.get_run(&id).await.unwrap());
    }
    (experiment_id, runs)
}

pub fn record(run: &Run) -> Record {
    let info = &run.info;
    let mut record = Record::default()
        .with_attr("run_id", info.run_id.as_str())
        .with_attr("run_name", info.run_name.as_str())
        .with_attr("status", info.status.as_str())
        .with_attr("user_id", info.user_id.as_str())
        .with_attr("artifact_uri", info.artifact_uri.as_str())
        .with_attr("start_time", info.start_time);
    if let Some(end_time) = info.end_time {
        record = record.with_attr("end_time", end_time);
    }
    for metric in &run.data.metrics {
        record = record.with_metric(&metric.key, metric.value);
    }
    for param in &run.data.params {
        record = record.with_param(&param.key, &param.value);
    }
    for tag in &run.data.tags {
        record = record.with_tag(&tag.key, &tag.value);
    }
    for input in &run.inputs.dataset_inputs {
        let context = input.tags.iter().find(|t| t.key == "mlflow.data.context").map(|t| t.value.as_str());
        record = record.with_dataset(&input.dataset.name, &input.dataset.digest, context);
    }
    record
}

#[derive(PartialEq, PartialOrd)]
enum Sortable {
    Int(i64),
    Num(f64),
    Text(String),
}

/// MLflow's run order for one clause: (absent rank, value), absent/NaN last both ways.
fn clause_key(run: &Run, order: &OrderBy) -> (u8, Option<Sortable>) {
    let name = order.key.name.as_str();
    match order.key.kind {
        KeyKind::Metric => match run.data.metrics.iter().find(|m| m.key == name) {
            Some(m) if m.value.is_nan() => (1, Some(Sortable::Num(0.0))),
            Some(m) => (0, Some(Sortable::Num(m.value))),
            None => (2, None),
        },
        KeyKind::Param => match run.data.params.iter().find(|p| p.key == name) {
            Some(p) => (0, Some(Sortable::Text(p.value.clone()))),
            None => (1, None),
        },
        KeyKind::Tag => match run.data.tags.iter().find(|t| t.key == name) {
            Some(t) => (0, Some(Sortable::Text(t.value.clone()))),
            None => (1, None),
        },
        _ => match name {
            "start_time" => (0, Some(Sortable::Int(run.info.start_time))),
            "end_time" => match run.info.end_time {
                Some(t) => (0, Some(Sortable::Int(t))),
                None => (1, None),
            },
            "run_name" => (0, Some(Sortable::Text(run.info.run_name.clone()))),
            "status" => (0, Some(Sortable::Text(run.info.status.as_str().into()))),
            "run_id" => (0, Some(Sortable::Text(run.info.run_id.clone()))),
            other => panic!("unexpected order key {other}"),
        },
    }
}

pub fn oracle_order(a: &Run, b: &Run, orders: &[OrderBy]) -> Ordering {
    for order in orders {
        let (ra, va) = clause_key(a, order);
        let (rb, vb) = clause_key(b, order);
        let by_rank = ra.cmp(&rb);
        if by_rank != Ordering::Equal {
            return by_rank;
        }
        let by_value = va.partial_cmp(&vb).unwrap_or(Ordering::Equal);
        let by_value = if order.ascending { by_value } else { by_value.reverse() };
        if by_value != Ordering::Equal {
            return by_value;
        }
    }
    if !orders.iter().any(|o| o.key.kind == KeyKind::Attribute && o.key.name == "start_time") {
        let by_start = b.info.start_time.cmp(&a.info.start_time);
        if by_start != Ordering::Equal {
            return by_start;
        }
    }
    a.info.run_id.cmp(&b.info.run_id)
}

fn atom() -> impl Strategy<Value = String> {
    let number = prop::sample::select(vec!["0", "0.5", "1", "-1", "2.5", "1e308"]);
    let op = prop::sample::select(vec!["=", "!=", "<", "<=", ">", ">="]);
    let text = prop::sample::select(vec!["'a'", "'b'", "'ab'", "'A'", "'é'", "'zz'"]);
    let pattern = prop::sample::select(vec!["'%a%'", "'a%'", "'_'", "'A%'", "'%'", "'%b'"]);
    let string_key = prop::sample::select(vec!["params.p1", "params.p2", "tags.t1", "tags.`t1`", "params.\"p1\""]);
    prop_oneof![
        (prop::sample::select(vec!["metrics.m1", "metrics.m2", "metrics.missing"]), op.clone(), number.clone())
            .prop_map(|(k, o, n)| format!("{k} {o} {n}")),
        (string_key.clone(), prop::sample::select(vec!["=", "!="]), text.clone())
            .prop_map(|(k, o, t)| format!("{k} {o} {t}")),
        (string_key.clone(), prop::sample::select(vec!["LIKE", "ILIKE"]), pattern.clone())
            .prop_map(|(k, o, p)| format!("{k} {o} {p}")),
        (string_key.clone(), prop::sample::select(vec!["IS NULL", "IS NOT NULL"]))
            .prop_map(|(k, o)| format!("{k} {o}")),
        (string_key.clone(), prop::sample::select(vec!["IN", "NOT IN"]))
            .prop_map(|(k, o)| format!("{k} {o} ('a', 'ab')")),
        (string_key, prop::sample::select(vec!["'^a'", "'b$'", "'[ab]+'"])).prop_map(|(k, p)| format!("{k} RLIKE {p}")),
        (
            prop::sample::select(vec!["attributes.status", "status"]),
            prop::sample::select(vec!["=", "!="]),
            prop::sample::select(vec!["'FINISHED'", "'RUNNING'", "'KILLED'"])
        )
            .prop_map(|(k, o, v)| format!("{k} {o} {v}")),
        prop::sample::select(vec!["attributes.status LIKE 'F%'", "attributes.status ILIKE '%ed'"])
            .prop_map(String::from),
        (
            prop::sample::select(vec!["attributes.start_time", "attributes.end_time", "attributes.created"]),
            op,
            prop::sample::select(vec!["0", "5", "11", "22"])
        )
            .prop_map(|(k, o, n)| format!("{k} {o} {n}")),
        (prop::sample::select(vec!["=", "!=", "LIKE"]), prop::sample::select(vec!["'run-1'", "'run-1%'", "'%3'"]))
            .prop_map(|(o, v)| format!("attributes.run_name {o} {v}")),
        (
            prop::sample::select(vec!["datasets.name", "datasets.digest", "datasets.context"]),
            prop::sample::select(vec!["= 'd1'", "!= 'd1'", "= 'x0'", "= 'train'", "IN ('d0', 'eval')", "LIKE 'd%'"])
        )
            .prop_map(|(k, v)| format!("{k} {v}")),
    ]
}

pub fn filter() -> impl Strategy<Value = String> {
    atom().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|parts| parts.join(" AND ")),
            prop::collection::vec(inner.clone(), 2..3).prop_map(|parts| format!("({})", parts.join(" OR "))),
            inner.prop_map(|part| format!("NOT ({part})")),
        ]
    })
}

pub fn order_by() -> impl Strategy<Value = Vec<String>> {
    let clause = prop::sample::select(vec![
        "metrics.m1",
        "metrics.m2",
        "params.p1",
        "tags.t1",
        "attributes.start_time",
        "end_time",
        "run_name",
        "status",
        "metrics.missing",
    ]);
    let direction = prop::sample::select(vec!["", " ASC", " DESC"]);
    prop::collection::vec((clause, direction).prop_map(|(c, d)| format!("{c}{d}")), 0..3)
}

/// Every page of a search of `page_size` runs, concatenated (or the first error).
pub async fn all_pages<S: TrackingStore>(
    store: &S,
    experiment_id: &str,
    (filter_text, order_text): (&str, &[String]),
    view: ViewType,
    page_size: usize,
) -> ferroflow_core::Result<Vec<Run>> {
    let mut token = None;
    let mut runs = Vec::new();
    loop {
        let page = store
            .search_runs(SearchRuns {
                experiment_ids: vec![experiment_id.to_string()],
                filter: Some(filter_text.to_string()),
                run_view_type: view,
                max_results: page_size,
                order_by: order_text.to_vec(),
                page_token: token,
            })
            .await?;
        runs.extend(page.items);
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => return Ok(runs),
        }
    }
}

/// Holds a store's `answer` to one search over `runs` (the fixture) to the evaluator.
pub fn check(
    (filter_text, order_text): (&str, &[String]),
    view: ViewType,
    page_size: usize,
    runs: &[Run],
    answer: ferroflow_core::Result<Vec<Run>>,
) -> Result<(), TestCaseError> {
    let parsed = search::parse_run_filter(filter_text);
    let orders = search::parse_order_by_list(Entity::Run, order_text);
    let (parsed, orders) = match (parsed, orders) {
        (Ok(parsed), Ok(orders)) => (parsed, orders),
        // What the language rejects, the store rejects too.
        _ => {
            prop_assert!(answer.is_err(), "accepted an invalid search: {filter_text} / {order_text:?}");
            return Ok(());
        }
    };
    let got: Vec<&str> = answer
        .as_ref()
        .map_err(|e| TestCaseError::fail(format!("{filter_text}: {e}")))?
        .iter()
        .map(|r| r.info.run_id.as_str())
        .collect();
    let mut expected: Vec<&Run> = runs
        .iter()
        .filter(|run| view.includes(run.info.lifecycle_stage))
        .filter(|run| eval::matches(Entity::Run, parsed.as_ref(), &record(run)))
        .collect();
    expected.sort_by(|a, b| oracle_order(a, b, &orders));
    let expected: Vec<&str> = expected.iter().map(|r| r.info.run_id.as_str()).collect();
    prop_assert_eq!(got, expected, "filter: {} order: {:?} page size: {}", filter_text, order_text, page_size);
    Ok(())
}

/// The number of the fixture's runs a filter selects, through the store.
pub async fn count<S: TrackingStore>(store: &S, experiment_id: &str, filter: &str) -> usize {
    all_pages(store, experiment_id, (filter, &[]), ViewType::All, 1000).await.unwrap().len()
}

#[macro_export]
macro_rules! search_property_suite {
    ($store:ty, $make:expr) => {
        struct Fixture {
            runtime: tokio::runtime::Runtime,
            store: $store,
            experiment_id: String,
            runs: Vec<ferroflow_core::types::Run>,
            _guard: Box<dyn std::any::Any + Send + Sync>,
        }

        fn fixture() -> &'static Fixture {
            static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
            FIXTURE.get_or_init(|| {
                let runtime = tokio::runtime::Runtime::new().unwrap();
                let (store, guard, experiment_id, runs) = runtime.block_on(async {
                    let (store, guard) = $make;
                    let (experiment_id, runs) = $crate::conformance::search_property::fill(&store).await;
                    (store, guard, experiment_id, runs)
                });
                Fixture { runtime, store, experiment_id, runs, _guard: Box::new(guard) }
            })
        }

        $crate::conformance::search_property::proptest::proptest! {
            #![proptest_config($crate::conformance::search_property::proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]

            #[test]
            fn sql_search_equals_the_reference_evaluator(
                filter in $crate::conformance::search_property::filter(),
                order in $crate::conformance::search_property::order_by(),
                view in $crate::conformance::search_property::proptest::sample::select(vec![
                    ferroflow_core::types::ViewType::ActiveOnly,
                    ferroflow_core::types::ViewType::DeletedOnly,
                    ferroflow_core::types::ViewType::All,
                ]),
                // Small pages make pages end inside, and at the edges of, the NaN and
                // missing segments of a metric-led order.
                page_size in $crate::conformance::search_property::proptest::sample::select(vec![1usize, 3, 7, 1000]),
            ) {
                let fixture = fixture();
                let answer = fixture.runtime.block_on($crate::conformance::search_property::all_pages(
                    &fixture.store,
                    &fixture.experiment_id,
                    (&filter, &order),
                    view,
                    page_size,
                ));
                $crate::conformance::search_property::check((&filter, &order), view, page_size, &fixture.runs, answer)?;
            }
        }

        #[test]
        fn paging_walks_the_same_order() {
            use $crate::conformance::search_property::all_pages;
            let fixture = fixture();
            let search = ("metrics.m1 >= 0", &["metrics.m1 DESC".to_string(), "params.p1".to_string()][..]);
            let all = ferroflow_core::types::ViewType::All;
            let paged = fixture.runtime.block_on(all_pages(&fixture.store, &fixture.experiment_id, search, all, 7));
            let whole = fixture.runtime.block_on(all_pages(&fixture.store, &fixture.experiment_id, search, all, 1000));
            let ids =
                |runs: Vec<ferroflow_core::types::Run>| runs.into_iter().map(|r| r.info.run_id).collect::<Vec<_>>();
            let (paged, whole) = (ids(paged.unwrap()), ids(whole.unwrap()));
            assert!(paged.len() > 7, "the filter should span pages");
            assert_eq!(paged, whole);
        }

        /// Guards the property test against a vacuous fixture: filters do split the runs.
        #[test]
        fn fixture_is_not_trivial() {
            let fixture = fixture();
            let count = |filter: &str| {
                fixture.runtime.block_on($crate::conformance::search_property::count(
                    &fixture.store,
                    &fixture.experiment_id,
                    filter,
                ))
            };
            for filter in [
                "metrics.m1 > 0",
                "params.p1 LIKE 'a%'",
                "datasets.context = 'train'",
                "attributes.end_time < 20",
                "metrics.m1 != 0",
                "tags.t1 RLIKE '^a'",
            ] {
                let n = count(filter);
                assert!(n > 0 && n < 60, "{filter}: {n} of 60 runs");
            }
            assert_eq!(count(""), 60);
            assert!(count("params.p1 LIKE 'A%'") < count("params.p1 ILIKE 'A%'"));
        }
    };
}
