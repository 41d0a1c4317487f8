//! Regression tests for issue 10's hardening items that live in the HTTP layer: metric
//! values bit-exact on every decoding path, Python's bare non-finite literals, forged
//! page tokens, oversized declared bodies, and slow clients (timeouts and the cap).

mod common;

use std::time::Duration;

use common::{spawn_app, spawn_app_with, TestApp, TestAppOptions};
use ferroflow_server::{ConnectionLimits, ServerConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Guards against a hang only; no test asserts how fast anything is.
const HANG_GUARD: Duration = Duration::from_secs(60);

// ------------------------------------------------------------ bit-exact metric values

/// Doubles that stress decimal round-tripping: subnormals, the extremes, and neighbours.
fn hard_doubles() -> Vec<f64> {
    let mut values = vec![
        1.1400000000000001,
        941300.4193968255,
        5e-324,
        -5e-324,
        f64::from_bits(0x000f_ffff_ffff_ffff), // the largest subnormal
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        0.1 + 0.2,
        9007199254740993.0,
        1e23,
        8.98846567431158e307,
    ];
    let neighbours: Vec<f64> =
        values.iter().map(|v| f64::from_bits(v.to_bits() + 1)).filter(|v| v.is_finite()).collect();
    values.extend(neighbours);
    values
}

/// Every finite double, by its bits, but -0.0: SQLite keeps a REAL that equals an
/// integer as that integer, so -0.0 reads back as 0.0, in MLflow's SQL stores as here
/// (asserted below).
fn finite_double() -> impl Strategy<Value = f64> {
    any::<u64>()
        .prop_map(f64::from_bits)
        .prop_filter("finite, not -0.0", |v| v.is_finite() && v.to_bits() != (-0.0f64).to_bits())
}

/// JSON number texts for `value`: the shortest form, and 17 significant digits (what
/// Python's `repr` and many encoders write, e.g. `1.1400000000000001`).
fn number_texts(value: f64) -> [String; 2] {
    [format!("{value:?}"), format!("{value:.16e}")]
}

fn bits_of(value: &Value) -> u64 {
    value.as_f64().unwrap_or_else(|| panic!("not a number: {value}")).to_bits()
}

/// Logs `values` to a fresh run, each through log-metric and log-batch, in snake_case
/// (the fast decoder) and camelCase (the general one), and reads every one back through
/// get-history and runs/get.
async fn assert_round_trip(app: &TestApp, experiment_id: &str, values: &[f64]) -> Result<(), TestCaseError> {
    let run_id = app.create_run(experiment_id).await;
    let mut expected = Vec::new();
    for (index, value) in values.iter().enumerate() {
        for (form, text) in number_texts(*value).iter().enumerate() {
            let key = format!("m{index}_{form}");
            let single = format!(
                r#"{{"run_id": "{run_id}", "key": "{key}_single", "value": {text}, "timestamp": 1, "step": 0}}"#
            );
            app.post_raw("runs/log-metric", single).await.ok();
            let camel = format!(
                r#"{{"runId": "{run_id}", "metrics": [{{"key": "{key}_camel", "value": {text}, "timestamp": 1, "step": 0}}]}}"#
            );
            app.post_raw("runs/log-batch", camel).await.ok();
            expected.push((format!("{key}_single"), *value));
            expected.push((format!("{key}_camel"), *value));
        }
    }
    let batch: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!(r#"{{"key": "b{i}", "value": {}, "timestamp": 1, "step": 0}}"#, number_texts(*v)[1]))
        .collect();
    let body = format!(r#"{{"run_id": "{run_id}", "metrics": [{}]}}"#, batch.join(", "));
    app.post_raw("runs/log-batch", body).await.ok();
    expected.extend(values.iter().enumerate().map(|(i, v)| (format!("b{i}"), *v)));

    let latest = app.run_data_map(&run_id, "metrics").await;
    for (key, value) in &expected {
        prop_assert_eq!(bits_of(&latest[key]["value"]), value.to_bits(), "runs/get {} for {:?}", key, value);
        let history = app.get_query("metrics/get-history", &[("run_id", &run_id), ("metric_key", key)]).await.ok();
        prop_assert_eq!(
            bits_of(&history["metrics"][0]["value"]),
            value.to_bits(),
            "get-history {} for {:?}",
            key,
            value
        );
    }
    Ok(())
}

#[test]
fn metric_values_come_back_bit_exact() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(spawn_app());
    let experiment_id = runtime.block_on(app.create_experiment("bits"));
    runtime.block_on(assert_round_trip(&app, &experiment_id, &hard_doubles())).unwrap();
    let mut runner = TestRunner::new(Config { cases: 24, ..Config::default() });
    runner
        .run(&proptest::collection::vec(finite_double(), 1..12), |values| {
            runtime.block_on(assert_round_trip(&app, &experiment_id, &values))
        })
        .unwrap();

    // -0.0 reads back as 0.0, as from a real MLflow server on SQLite.
    let run_id = runtime.block_on(app.create_run(&experiment_id));
    runtime.block_on(app.post_raw(
        "runs/log-metric",
        format!(r#"{{"run_id": "{run_id}", "key": "z", "value": -0.0, "timestamp": 1, "step": 0}}"#),
    ));
    let metrics = runtime.block_on(app.run_data_map(&run_id, "metrics"));
    assert_eq!(bits_of(&metrics["z"]["value"]), 0.0f64.to_bits());
}

#[tokio::test]
async fn python_bare_non_finite_literals_are_read_in_metric_values_only() {
    let app = spawn_app().await;
    let (_, run_id) = app.experiment_with_run("bare-literals").await;
    let single = |key: &str, literal: &str| {
        format!(r#"{{"run_id": "{run_id}", "key": "{key}", "value": {literal}, "timestamp": 5, "step": 0}}"#)
    };
    app.post_raw("runs/log-metric", single("nan", "NaN")).await.ok();
    app.post_raw("runs/log-metric", single("inf", "Infinity")).await.ok();
    let batch = format!(
        r#"{{"run_id": "{run_id}", "metrics": [{{"key": "neg", "value": -Infinity, "timestamp": 5, "step": 0}}, {{"key": "nan2", "value": NaN, "timestamp": 5}}]}}"#
    );
    app.post_raw("runs/log-batch", batch).await.ok();
    let metrics = app.run_data_map(&run_id, "metrics").await;
    assert_eq!(metrics["nan"]["value"], "NaN");
    assert_eq!(metrics["nan2"]["value"], "NaN");
    // As with the quoted forms, infinities are held at the largest double (MLflow's rule).
    assert_eq!(metrics["inf"]["value"].as_f64(), Some(f64::MAX));
    assert_eq!(metrics["neg"]["value"].as_f64(), Some(f64::MIN));

    // Anywhere but a metric value, a bare literal is still malformed JSON, and changes nothing.
    let param = format!(r#"{{"run_id": "{run_id}", "key": "p", "value": NaN}}"#);
    app.post_raw("runs/log-parameter", param).await.invalid();
    let step = format!(r#"{{"run_id": "{run_id}", "key": "s", "value": 1, "timestamp": 5, "step": NaN}}"#);
    app.post_raw("runs/log-metric", step).await.invalid();
    let batch_param = format!(r#"{{"run_id": "{run_id}", "params": [{{"key": "p", "value": Infinity}}]}}"#);
    app.post_raw("runs/log-batch", batch_param).await.invalid();
    let run = app.get_run(&run_id).await;
    assert!(run["data"]["params"].is_null(), "no param was written: {run}");
    assert!(!app.run_data_map(&run_id, "metrics").await.contains_key("s"));
}

// ------------------------------------------------------------ page tokens

fn token(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn forged_page_tokens_are_refused_and_past_the_end_is_an_empty_last_page() {
    let app = spawn_app().await;
    let (experiment_id, run_id) = app.experiment_with_run("tokens").await;
    app.create_run(&experiment_id).await;
    for step in 0..3 {
        app.log_metric(&run_id, "loss", json!(1.0), 10 + step, step).await;
    }
    let forged = ["{\"offset\": 18446744073709551615}", "{\"offset\": 9223372036854775808}", "{\"offset\": -3}"];
    for text in forged {
        let search = json!({"experiment_ids": [experiment_id], "max_results": 1, "page_token": token(text)});
        app.post_json("runs/search", &search).await.invalid();
        let history = app
            .get_query(
                "metrics/get-history",
                &[("run_id", &run_id), ("metric_key", "loss"), ("max_results", "1"), ("page_token", &token(text))],
            )
            .await;
        history.invalid();
        let experiments = json!({"max_results": 1, "page_token": token(text)});
        app.post_json("experiments/search", &experiments).await.invalid();
        app.get_query("registered-models/search", &[("page_token", &token(text))]).await.invalid();
        app.get_query("model-versions/search", &[("page_token", &token(text))]).await.invalid();
        let models = json!({"experiment_ids": [experiment_id], "page_token": token(text)});
        app.post_json("logged-models/search", &models).await.invalid();
    }
    // The largest offset a token can carry is past the end: an empty, final page.
    let far = token(&format!("{{\"offset\": {}}}", i64::MAX));
    let page = app
        .post_json("runs/search", &json!({"experiment_ids": [experiment_id], "max_results": 1, "page_token": far}))
        .await
        .ok();
    assert_eq!(page, json!({}), "an empty page without a next token");
    let history = app
        .get_query(
            "metrics/get-history",
            &[("run_id", &run_id), ("metric_key", "loss"), ("max_results", "2"), ("page_token", &far)],
        )
        .await
        .ok();
    assert!(history.get("next_page_token").is_none() && history["metrics"].as_array().is_none_or(Vec::is_empty));
}

// ------------------------------------------------------------ oversized bodies

/// Sends a request head (and no body) on a new connection, then reads the first answer
/// the server gives; the server must answer without waiting for the body.
async fn answer_to_head(app: &TestApp, head: &str) -> String {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(HANG_GUARD, async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = stream.read(&mut buffer).await.unwrap();
            if read == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..read]);
        }
    })
    .await
    .expect("the server answered without the body");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn declared_oversized_bodies_are_refused_at_once_with_413_and_no_100_continue() {
    let config = ServerConfig { max_artifact_bytes: 1024 * 1024, ..ServerConfig::default() };
    let app = spawn_app_with(TestAppOptions { config, ..TestAppOptions::default() }).await;
    let (_, run_id) = app.experiment_with_run("big").await;
    let host = app.addr;
    let batch = format!(
        "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: 1073741824\r\n\r\n"
    );
    let answer = answer_to_head(&app, &batch).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let expecting = format!(
        "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: 1073741824\r\nExpect: 100-continue\r\n\r\n"
    );
    let answer = answer_to_head(&app, &expecting).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "a 413, never 100 Continue: {answer}");
    let upload = format!(
        "PUT /api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/model.bin HTTP/1.1\r\nHost: {host}\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        1024 * 1024 + 1
    );
    let answer = answer_to_head(&app, &upload).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // A body that really is over the cap (33 MiB) is a 413 in MLflow's error format.
    let filler = "x".repeat(33 * 1024 * 1024);
    let body = format!(r#"{{"run_id": "{run_id}", "tags": [{{"key": "t", "value": "{filler}"}}]}}"#);
    let message = app.post_raw("runs/log-batch", body).await.error(413, "RESOURCE_LIMIT_EXCEEDED");
    assert!(message.contains("larger than"), "{message}");
    // Within the caps, all is as before.
    app.post_json("runs/set-tag", &json!({"run_id": run_id, "key": "t", "value": "small"})).await.ok();
}

// ------------------------------------------------------------ slow clients

fn short_timeouts(max_connections: usize) -> TestAppOptions {
    let connections = ConnectionLimits {
        max_connections,
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        keep_alive_timeout: Duration::from_secs(2),
    };
    TestAppOptions { config: ServerConfig { connections, ..ServerConfig::default() }, ..TestAppOptions::default() }
}

/// Reads until the server closes the connection, returning what it sent.
async fn read_until_closed(stream: &mut TcpStream, what: &str) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(HANG_GUARD, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the server did not close {what}: {}", String::from_utf8_lossy(&received)));
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn stalled_heads_bodies_and_idle_connections_are_closed() {
    let app = spawn_app_with(short_timeouts(64)).await;
    let (_, run_id) = app.experiment_with_run("slow").await;
    let host = app.addr;
    let stalls = [
        // A head that stops halfway.
        format!("POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: {host}\r\nContent-Ty"),
        // A body short of its Content-Length.
        format!(
            "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: 100\r\n\r\n{{\"run_id\": \"{run_id}\""
        ),
        // A chunked body that never ends.
        format!(
            "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n5\r\n{{\"run\r\n"
        ),
        // Nothing at all.
        String::new(),
    ];
    let mut streams = Vec::new();
    for stall in &stalls {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream.write_all(stall.as_bytes()).await.unwrap();
        streams.push(stream);
    }
    // And a keep-alive connection left idle after one answered request.
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(format!("GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()).await.unwrap();
    streams.push(idle);
    for (index, stream) in streams.iter_mut().enumerate() {
        let received = read_until_closed(stream, &format!("stall {index}")).await;
        if index == 4 {
            assert!(received.starts_with("HTTP/1.1 200"), "the idle connection's request was served: {received}");
        }
    }
    // The cut-off body wrote nothing.
    let run = app.get_run(&run_id).await;
    assert!(run["data"].get("metrics").is_none(), "{run}");
}

#[tokio::test]
async fn slow_and_idle_clients_cannot_starve_fast_ones() {
    const CAP: usize = 16;
    let app = spawn_app_with(short_timeouts(CAP)).await;
    let host = app.addr;
    // Fill every slot: half with connections that never send, half with stalled heads.
    let mut hogs = Vec::new();
    for index in 0..CAP {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        if index % 2 == 1 {
            stream.write_all(format!("GET /health HTTP/1.1\r\nHost: {host}\r\nX-Slow: ").as_bytes()).await.unwrap();
        }
        hogs.push(stream);
    }
    // Fast clients, each on a new connection, are all served.
    let fast = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    for _ in 0..CAP * 2 {
        let answer = tokio::time::timeout(HANG_GUARD, fast.get(app.url("/health")).send())
            .await
            .expect("a fast client was served")
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    drop(hogs);
}
