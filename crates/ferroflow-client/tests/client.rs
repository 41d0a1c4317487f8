//! The client against a real ferroflow server (the server crate's router over a fresh
//! SQLite store, on a loopback port in this process), and its retry rules against a real
//! socket that answers what a struggling server answers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferroflow_client::{Client, ClientConfig, Error, KeyValue, Metric, ModelUri, RetryPolicy, RunSearch};
use ferroflow_server::{AppState, ServerConfig};
use ferroflow_sqlite::{SqliteOptions, SqliteStore, SyncMode};

struct Server {
    uri: String,
    _data: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn server() -> Server {
    let data = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions {
        path: data.path().join("db.sqlite"),
        default_artifact_root: "mlflow-artifacts:/".into(),
        sync: SyncMode::Normal,
        query_timeout: ferroflow_sqlite::DEFAULT_QUERY_TIMEOUT,
    })
    .unwrap();
    let artifacts = ferroflow_artifacts::ArtifactRepository::open_local(&data.path().join("artifacts")).unwrap();
    let state = AppState::new(Arc::new(store), Some(artifacts), ServerConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ferroflow_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Server { uri, _data: data, _stop: stop }
}

fn client(uri: &str) -> Client {
    let mut config = ClientConfig::new(uri).unwrap();
    config.retry = RetryPolicy::none();
    Client::new(config).unwrap()
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue { key: key.into(), value: value.into() }
}

fn metric(key: &str, value: f64, step: i64) -> Metric {
    Metric { key: key.into(), value, timestamp: 1_700_000_000_000 + step, step }
}

#[tokio::test]
async fn experiments_runs_search_paging_and_history() {
    let server = server().await;
    let client = client(&server.uri);
    let experiment_id = client.create_experiment("churn").await.unwrap();
    assert_eq!(client.get_experiment_by_name("churn").await.unwrap().experiment_id, experiment_id);
    assert_eq!(client.get_experiment(&experiment_id).await.unwrap().name, "churn");
    let missing = client.get_experiment_by_name("nope").await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    assert!(matches!(missing, Error::Api { status, .. } if status == 404));

    let mut ids = Vec::new();
    for i in 0..5 {
        let run = client.create_run(&experiment_id, Some(&format!("run-{i}")), &[kv("team", "ml")]).await.unwrap();
        let points: Vec<Metric> = (0..3).map(|step| metric("loss", 1.0 / (i + step + 1) as f64, step)).collect();
        client.log_batch(&run.info.run_id, &points, &[kv("C", &i.to_string())], &[]).await.unwrap();
        client.log_batch(&run.info.run_id, &[metric("f1", 0.5 + 0.1 * i as f64, 0)], &[], &[]).await.unwrap();
        client.end_run(&run.info.run_id, "FINISHED").await.unwrap();
        ids.push(run.info.run_id);
    }
    let run = client.get_run(&ids[2]).await.unwrap();
    assert_eq!(run.info.run_name, "run-2");
    assert_eq!(run.info.status, "FINISHED");
    assert_eq!(run.param("C"), Some("2"));
    assert_eq!(run.tag("team"), Some("ml"));
    assert!((run.metric("f1").unwrap() - 0.7).abs() < 1e-12);

    let history = client.metric_history(&ids[0], "loss").await.unwrap();
    assert_eq!(history.iter().map(|m| m.step).collect::<Vec<_>>(), [0, 1, 2]);

    // Two runs a page: the client follows the tokens and stops at the limit.
    let search = RunSearch {
        experiment_ids: vec![experiment_id.clone()],
        filter: Some("metrics.f1 > 0.55".into()),
        order_by: vec!["metrics.f1 DESC".into()],
        max_results: Some(2),
        ..Default::default()
    };
    let first = client.search_runs(&search, None).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert!(first.next_page_token.is_some());
    let all = client.search_runs_up_to(&search, 100).await.unwrap();
    assert_eq!(all.iter().map(|r| r.info.run_name.as_str()).collect::<Vec<_>>(), ["run-4", "run-3", "run-2", "run-1"]);
    assert_eq!(client.search_runs_up_to(&search, 3).await.unwrap().len(), 3);

    let bad = client
        .search_runs(
            &RunSearch {
                experiment_ids: vec![experiment_id],
                filter: Some("metrics.f1 >>> 1".into()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(bad.error_code(), Some("INVALID_PARAMETER_VALUE"), "{bad}");
}

#[tokio::test]
async fn registry_versions_aliases_tags_and_stages() {
    let server = server().await;
    let client = client(&server.uri);
    let experiment_id = client.create_experiment("e").await.unwrap();
    let run = client.create_run(&experiment_id, None, &[]).await.unwrap();
    let run_id = run.info.run_id;
    client.create_registered_model("churn", &[kv("team", "ml")]).await.unwrap();
    let source = format!("runs:/{run_id}/model");
    let v1 = client.create_model_version("churn", &source, Some(&run_id), None, &[]).await.unwrap();
    let v2 = client.create_model_version("churn", &source, Some(&run_id), None, &[kv("gate", "pass")]).await.unwrap();
    assert_eq!((v1.version.as_str(), v2.version.as_str()), ("1", "2"));

    client.set_alias("churn", "champion", "1").await.unwrap();
    assert_eq!(client.get_model_version_by_alias("churn", "champion").await.unwrap().version, "1");
    client.set_alias("churn", "champion", "2").await.unwrap();
    let by_uri = client.resolve_model_uri(&"models:/churn@champion".parse::<ModelUri>().unwrap()).await.unwrap();
    assert_eq!(by_uri.version, "2");
    assert_eq!(by_uri.tags, vec![kv("gate", "pass")]);
    let model = client.get_registered_model("churn").await.unwrap();
    assert_eq!(
        model.aliases.iter().map(|a| (a.alias.as_str(), a.version.as_str())).collect::<Vec<_>>(),
        [("champion", "2")]
    );
    client.delete_alias("churn", "champion").await.unwrap();
    assert!(client.get_model_version_by_alias("churn", "champion").await.unwrap_err().is_not_found());

    client.set_model_version_tag("churn", "1", "validated", "yes").await.unwrap();
    assert_eq!(client.get_model_version("churn", "1").await.unwrap().tags, vec![kv("validated", "yes")]);
    client.delete_model_version_tag("churn", "1", "validated").await.unwrap();
    assert!(client.get_model_version("churn", "1").await.unwrap().tags.is_empty());

    client.transition_stage("churn", "1", "Production", false).await.unwrap();
    let moved = client.transition_stage("churn", "2", "Production", true).await.unwrap();
    assert_eq!(moved.current_stage, "Production");
    assert_eq!(client.get_model_version("churn", "1").await.unwrap().current_stage, "Archived");
    let production = client.resolve_model_uri(&"models:/churn/Production".parse().unwrap()).await.unwrap();
    assert_eq!(production.version, "2");

    let versions = client.model_versions("churn").await.unwrap();
    assert_eq!(versions.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(), ["2", "1"]);
    client.create_registered_model("fraud", &[]).await.unwrap();
    let models = client.search_registered_models_up_to(None, &["name ASC".into()], 10).await.unwrap();
    assert_eq!(models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["churn", "fraud"]);
    let page = client.search_registered_models(None, &["name ASC".into()], 1, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let rest =
        client.search_registered_models(None, &["name ASC".into()], 1, page.next_page_token.as_deref()).await.unwrap();
    assert_eq!(rest.items[0].name, "fraud");
    let taken = client.create_registered_model("churn", &[]).await.unwrap_err();
    assert_eq!(taken.error_code(), Some("RESOURCE_ALREADY_EXISTS"), "{taken}");
}

#[tokio::test]
async fn artifacts_list_and_download_through_the_proxy() {
    let server = server().await;
    let client = client(&server.uri);
    let experiment_id = client.create_experiment("e").await.unwrap();
    let run = client.create_run(&experiment_id, None, &[]).await.unwrap();
    let root = run.info.artifact_uri.clone();
    assert!(root.starts_with("mlflow-artifacts:/"), "{root}");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    client.upload_artifact(&root, "model/MLmodel", b"flavors: {}\n".to_vec()).await.unwrap();
    client.upload_artifact(&root, "model/weights.bin", big.clone()).await.unwrap();
    client.upload_artifact(&root, "notes with space.txt", b"hi".to_vec()).await.unwrap();

    let top = client.list_artifacts(&root, "").await.unwrap();
    let mut names: Vec<_> = top.iter().map(|f| (f.path.as_str(), f.is_dir)).collect();
    names.sort();
    assert_eq!(names, [("model", true), ("notes with space.txt", false)]);
    let inside = client.list_artifacts(&root, "model").await.unwrap();
    assert!(inside.iter().any(|f| f.path == "model/weights.bin" && f.file_size == Some(big.len() as i64)));

    #[derive(Default)]
    struct Counted {
        files: usize,
        bytes: u64,
    }
    impl ferroflow_client::DownloadProgress for Counted {
        fn start_file(&mut self, _: &str, _: Option<u64>) {
            self.files += 1;
        }
        fn advance(&mut self, bytes: u64) {
            self.bytes += bytes;
        }
    }
    let dst = tempfile::tempdir().unwrap();
    let mut counted = Counted::default();
    let written = client.download_artifacts(&root, "", dst.path(), &mut counted).await.unwrap();
    assert_eq!(written.len(), 3);
    assert_eq!(std::fs::read(dst.path().join("model/weights.bin")).unwrap(), big);
    assert_eq!(std::fs::read(dst.path().join("notes with space.txt")).unwrap(), b"hi");
    assert_eq!((counted.files, counted.bytes), (3, big.len() as u64 + 12 + 2));

    let one = tempfile::tempdir().unwrap();
    let written = client.download_artifacts(&root, "model/MLmodel", one.path(), &mut ()).await.unwrap();
    assert_eq!(written, [one.path().join("model/MLmodel")]);
    assert_eq!(client.read_artifact_text(&root, "model/MLmodel").await.unwrap().as_deref(), Some("flavors: {}\n"));
    assert_eq!(client.read_artifact_text(&root, "model/absent.txt").await.unwrap(), None);
}

/// A socket that answers each request with the next of `answers` (the last repeats),
/// counting the requests.
async fn scripted_server(answers: Vec<&'static str>) -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let answer = answers[n.min(answers.len() - 1)];
            let mut buffer = vec![0u8; 8192];
            let _ = socket.read(&mut buffer).await;
            let (status, body) = answer.split_once('|').unwrap();
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (uri, count)
}

#[tokio::test]
async fn retry_after_is_honoured_on_429_and_503() {
    let experiment = r#"200 OK|{"experiment":{"experiment_id":"7","name":"x"}}"#;
    // The status line carries the extra header: the scripted server writes it verbatim.
    let (uri, count) = scripted_server(vec!["429 Too Many Requests\r\nretry-after: 1|{}", experiment]).await;
    let mut config = ClientConfig::new(&uri).unwrap();
    config.retry = RetryPolicy { max_retries: 1, backoff_factor: 0.0, backoff_jitter: 0.0, respect_retry_after: true };
    let started = Instant::now();
    Client::new(config.clone()).unwrap().get_experiment("7").await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());

    // MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER=false: the (zero) backoff instead.
    let (uri, _) = scripted_server(vec!["503 Service Unavailable\r\nretry-after: 30|{}", experiment]).await;
    config.tracking_uri = uri;
    config.retry.respect_retry_after = false;
    let started = Instant::now();
    Client::new(config).unwrap().get_experiment("7").await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

fn retrying_client(uri: &str, max_retries: u32) -> Client {
    let mut config = ClientConfig::new(uri).unwrap();
    config.retry = RetryPolicy { max_retries, backoff_factor: 0.05, backoff_jitter: 0.0, respect_retry_after: true };
    Client::new(config).unwrap()
}

#[tokio::test]
async fn transient_statuses_are_retried_with_backoff_then_succeed() {
    let experiment = r#"{"experiment":{"experiment_id":"7","name":"x"}}"#;
    let (uri, count) = scripted_server(vec![
        "503 Service Unavailable|{}",
        "429 Too Many Requests|{}",
        "502 Bad Gateway|<html>proxy</html>",
        Box::leak(format!("200 OK|{experiment}").into_boxed_str()),
    ])
    .await;
    let started = Instant::now();
    let found = retrying_client(&uri, 3).get_experiment("7").await.unwrap();
    assert_eq!(found.name, "x");
    assert_eq!(count.load(Ordering::SeqCst), 4);
    // Sleeps before retries 2 and 3: 0.05*2 + 0.05*4 seconds (the first retry is immediate).
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
}

#[tokio::test]
async fn retries_run_out_on_the_last_answer_and_client_errors_are_not_retried() {
    let (uri, count) =
        scripted_server(vec![r#"503 Service Unavailable|{"error_code":"TEMPORARILY_UNAVAILABLE","message":"busy"}"#])
            .await;
    let error = retrying_client(&uri, 2).get_experiment("1").await.unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert!(
        matches!(&error, Error::Api { error_code, message, .. } if error_code == "TEMPORARILY_UNAVAILABLE" && message == "busy"),
        "{error}"
    );

    let (uri, count) = scripted_server(vec!["404 Not Found|<html>nothing here</html>"]).await;
    let error = retrying_client(&uri, 5).get_experiment("1").await.unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(error.error_code(), Some("ENDPOINT_NOT_FOUND"));
    assert!(error.to_string().contains("failed with error code 404 != 200"), "{error}");
}

#[tokio::test]
async fn a_server_that_is_down_is_a_transport_error_after_the_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let error = retrying_client(&format!("http://127.0.0.1:{port}"), 2).get_experiment("1").await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn credentials_are_sent_as_mlflow_sends_them() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let (heads, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = vec![0u8; 8192];
            let n = socket.read(&mut buffer).await.unwrap();
            heads.send(String::from_utf8_lossy(&buffer[..n]).to_ascii_lowercase()).unwrap();
            let body = r#"{"experiment":{"experiment_id":"1"}}"#;
            let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            socket.write_all(reply.as_bytes()).await.unwrap();
        }
    });
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    };
    let basic = ClientConfig::from_lookup(
        Some(&uri),
        vars(&[("MLFLOW_TRACKING_USERNAME", "alice"), ("MLFLOW_TRACKING_PASSWORD", "s3cret")]),
    )
    .unwrap();
    Client::new(basic).unwrap().get_experiment("1").await.unwrap();
    // base64("alice:s3cret")
    assert!(received.recv().await.unwrap().contains("authorization: basic ywxpy2u6cznjcmv0"));
    let bearer = ClientConfig::from_lookup(Some(&uri), vars(&[("MLFLOW_TRACKING_TOKEN", "tok-1")])).unwrap();
    Client::new(bearer).unwrap().get_experiment("1").await.unwrap();
    assert!(received.recv().await.unwrap().contains("authorization: bearer tok-1"));
}
