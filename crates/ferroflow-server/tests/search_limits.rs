//! The work of one search is bounded (issue 10, item 2): RLIKE patterns are matched in
//! linear time within size limits, a pattern over a limit is a 400, and a search that
//! runs past the store's query timeout is stopped with a 400 (never a 5xx, which the
//! client would retry for minutes). Nothing here asserts how fast anything is: the
//! overall timeouts only turn a hang into a failure.

mod common;

use std::time::Duration;

use common::{spawn_app, spawn_app_with, TestApp, TestAppOptions};
use serde_json::{json, Value};

/// The pattern of the reproduction: `(?:a?){1000}` nine times, then `b` (109 characters).
fn pathological_pattern() -> String {
    format!("{}b", "(?:a?){1000}".repeat(9))
}

/// A tag value of the longest length MLflow accepts.
const LONGEST_TAG_VALUE: usize = 8000;

/// Fails the test instead of hanging it.
async fn within_hang_guard<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(300), work).await.expect("the request hung")
}

/// Creates `count` runs in `experiment_id`, each with tag `big` = `value(i)`; returns their ids.
async fn runs_with_big_tags(
    app: &TestApp,
    experiment_id: &str,
    count: usize,
    value: impl Fn(usize) -> String,
) -> Vec<String> {
    let mut run_ids = Vec::with_capacity(count);
    for i in 0..count {
        let body = app
            .post_json(
                "runs/create",
                &json!({
                    "experiment_id": experiment_id,
                    "start_time": 1000 + i,
                    "tags": [{ "key": "big", "value": value(i) }],
                }),
            )
            .await
            .ok();
        run_ids.push(body["run"]["info"]["run_id"].as_str().expect("run_id").to_string());
    }
    run_ids
}

fn run_ids_of(body: &Value) -> Vec<String> {
    let runs = body["runs"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut ids: Vec<String> =
        runs.iter().map(|run| run["info"]["run_id"].as_str().expect("run_id").to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_pathological_pattern_of_the_reproduction_answers_correctly() {
    let app = spawn_app().await;
    let experiment_id = app.create_experiment("pathological").await;
    // 20 runs as in the reproduction; only the last one's value can match (it ends in `b`).
    let run_ids = runs_with_big_tags(&app, &experiment_id, 20, |i| {
        let mut value = "a".repeat(LONGEST_TAG_VALUE - 1);
        value.push(if i == 19 { 'b' } else { 'a' });
        value
    })
    .await;
    let filter = format!("tags.big RLIKE '{}'", pathological_pattern());

    let body = within_hang_guard(
        app.post_json("runs/search", &json!({ "experiment_ids": [experiment_id], "filter": filter })),
    )
    .await
    .ok();
    assert_eq!(run_ids_of(&body), vec![run_ids[19].clone()]);

    // Experiments are filtered in memory, by the same definition.
    let tag = json!({ "experiment_id": experiment_id, "key": "big", "value": "a".repeat(LONGEST_TAG_VALUE) });
    app.post_json("experiments/set-experiment-tag", &tag).await.ok();
    let body = within_hang_guard(app.post_json("experiments/search", &json!({ "filter": filter, "max_results": 10 })))
        .await
        .ok();
    assert!(body["experiments"].as_array().is_none_or(Vec::is_empty), "nothing ends in b: {body}");
    let with_b = format!("tags.big RLIKE '{}'", "(?:a?){1000}".repeat(9) + "a$");
    let body = within_hang_guard(app.post_json("experiments/search", &json!({ "filter": with_b, "max_results": 10 })))
        .await
        .ok();
    assert_eq!(body["experiments"][0]["experiment_id"], json!(experiment_id), "{body}");
}

#[tokio::test]
async fn patterns_over_a_limit_or_beyond_linear_time_are_refused_with_a_clear_400() {
    let app = spawn_app().await;
    let experiment_id = app.create_experiment("limits").await;
    let cases = [
        // Unicode \w is about 50 KiB compiled: a hundred of them are over the limit.
        ("\\w{100}".to_string(), "the compiled pattern is larger than the limit of 1024 KiB"),
        ("a".repeat(5000), "the pattern is longer than 4096 characters"),
        (format!("{}a{}", "(".repeat(100), ")".repeat(100)), "nested parentheses"),
        ("release/(?=v2)".to_string(), "look-around, including look-ahead and look-behind, is not supported"),
        ("(a)\\1".to_string(), "backreferences are not supported"),
    ];
    for (pattern, reason) in cases {
        let filter = format!("tags.big RLIKE '{pattern}'");
        let registry_filter = filter.replace("tags.big", "name");
        let answers = [
            (
                "runs/search",
                app.post_json("runs/search", &json!({ "experiment_ids": [experiment_id], "filter": filter })).await,
            ),
            (
                "experiments/search",
                app.post_json("experiments/search", &json!({ "filter": filter, "max_results": 10 })).await,
            ),
            (
                "registered-models/search",
                app.get_query("registered-models/search", &[("filter", &registry_filter)]).await,
            ),
        ];
        for (rpc, answer) in answers {
            let message = answer.invalid();
            assert!(message.starts_with("Invalid regular expression '"), "{rpc}: {message}");
            assert!(message.contains(reason), "{rpc} with {}: {message}", &pattern[..pattern.len().min(40)]);
        }
    }
}

#[tokio::test]
async fn a_search_past_the_query_timeout_is_stopped_with_a_400() {
    let app =
        spawn_app_with(TestAppOptions { query_timeout: Some(Duration::from_millis(1)), ..TestAppOptions::default() })
            .await;
    let experiment_id = app.create_experiment("deadline").await;
    // Far more work than a millisecond: every run's longest value goes through the
    // pathological pattern.
    runs_with_big_tags(&app, &experiment_id, 300, |_| "a".repeat(LONGEST_TAG_VALUE)).await;
    let filter = format!("tags.big RLIKE '{}' OR tags.big LIKE '%b%'", pathological_pattern());

    let response = within_hang_guard(
        app.post_json("runs/search", &json!({ "experiment_ids": [experiment_id], "filter": filter })),
    )
    .await;
    let message = response.invalid();
    assert!(message.starts_with("The search took longer than the server's limit of 1ms and was stopped."), "{message}");
    assert!(message.contains("Narrow the filter"), "{message}");

    // The server goes on serving quick reads.
    assert_eq!(app.get_experiment(&experiment_id).await["name"], "deadline");
}
