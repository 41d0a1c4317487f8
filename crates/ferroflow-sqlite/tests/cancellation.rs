//! A search whose caller has gone stops working (issue 10: an abandoned RLIKE search
//! went on burning CPU for seconds). Its own test binary, so the process's CPU time is
//! this test's alone.

use std::time::Duration;

use ferroflow_core::types::{KeyValue, ViewType};
use ferroflow_sqlite::{SqliteOptions, SqliteStore, SyncMode};
use ferroflow_store::{CreateExperiment, CreateRun, LogBatch, SearchRuns, TrackingStore};

/// User plus system CPU time of this process so far (Linux's `/proc/self/stat`, in the
/// kernel's clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let after_name = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_search_stops_using_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions {
        path: dir.path().join("ferroflow.db"),
        default_artifact_root: "mlflow-artifacts:/".into(),
        sync: SyncMode::Normal,
        // Far beyond the test: only the caller's leaving may stop this search.
        query_timeout: Duration::from_secs(600),
    })
    .unwrap();
    let experiment_id =
        store.create_experiment(CreateExperiment { name: "abandoned".into(), ..Default::default() }).await.unwrap();
    for _ in 0..600 {
        let run = store
            .create_run(CreateRun { experiment_id: Some(experiment_id.clone()), ..Default::default() })
            .await
            .unwrap();
        // Words after a non-ASCII letter: the lazy DFA gives up on Unicode word
        // boundaries there, so matching falls back to the (still linear) NFA simulation.
        let tags = vec![KeyValue::new("big", format!("é{}", "ab ".repeat(2600)))];
        store.log_batch(LogBatch { run_id: run.info.run_id, tags, ..Default::default() }).await.unwrap();
    }
    // Linear time, but a large automaton stepped over 7,800 characters: milliseconds a run.
    let filter = r"tags.big RLIKE '(?:\b[a-z]+ ){200}z'".to_string();
    let search = store.search_runs(SearchRuns {
        experiment_ids: vec![experiment_id],
        filter: Some(filter),
        run_view_type: ViewType::ActiveOnly,
        max_results: 1000,
        order_by: vec![],
        page_token: None,
    });
    // The client leaves after half a second: the request's future is dropped.
    let finished = tokio::time::timeout(Duration::from_millis(500), search).await;
    assert!(
        finished.is_err(),
        "the search must still be running when its caller leaves, or this proves nothing: {:?}",
        finished.map(|page| page.map(|page| page.items.len()))
    );

    let before = cpu_time();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_time().saturating_sub(before);
    // Left running, the search would keep one core busy: about 2 s of CPU in these 2 s.
    assert!(spent < Duration::from_millis(400), "{spent:?} of CPU in the 2 s after the caller left");
}
