//! Several `ferroflow server` replicas on one PostgreSQL database and one artifact folder
//! behave as one server. Concurrent clients, spread round-robin over the replicas, replay
//! the races that broke MLflow on PostgreSQL, then every record is read back through the
//! API. Needs FERROFLOW_TEST_POSTGRES_URL (run through scripts/with-postgres.sh).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{eventually, plant, staging_files, DataPaths, Server};
use serde_json::{json, Value};

/// Replicas on a fresh database and a shared artifact folder.
struct Cluster {
    paths: DataPaths,
    replicas: Vec<Server>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts `n` replicas at once, so that they also race to migrate the fresh schema.
    async fn start(n: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let uri = ferroflow_postgres::testing::fresh_database().await;
        let paths = DataPaths::postgres(uri, dir.path().join("artifacts"));
        let starting: Vec<_> = (0..n)
            .map(|_| {
                let paths = paths.clone();
                tokio::spawn(async move { Server::start(&paths).await })
            })
            .collect();
        let mut replicas = Vec::new();
        for server in starting {
            replicas.push(server.await.expect("a replica started"));
        }
        // A bound on every request, so that a hung replica fails the test instead of stalling it.
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        Cluster { paths, replicas, client, _dir: dir }
    }

    /// The base URLs, for tasks to pick from round-robin.
    fn bases(&self) -> Arc<Vec<String>> {
        Arc::new(self.replicas.iter().map(|server| server.base.clone()).collect())
    }

    /// The replicas' logs, for failure messages.
    fn logs(&self) -> String {
        self.replicas.iter().map(|s| format!("--- replica pid {}:\n{}", s.pid(), s.log_text())).collect()
    }
}

/// POSTs JSON to `<base>/api/2.0/mlflow/<rpc>`: the status and the JSON answer, or the
/// transport error (a replica that died).
async fn post(client: &reqwest::Client, base: &str, rpc: &str, body: &Value) -> reqwest::Result<(u16, Value)> {
    answer(client.post(format!("{base}/api/2.0/mlflow/{rpc}")).json(body).send().await?).await
}

async fn get(client: &reqwest::Client, base: &str, rpc_and_query: &str) -> reqwest::Result<(u16, Value)> {
    answer(client.get(format!("{base}/api/2.0/mlflow/{rpc_and_query}")).send().await?).await
}

async fn answer(response: reqwest::Response) -> reqwest::Result<(u16, Value)> {
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

/// A call that must succeed: its JSON answer.
async fn ok_post(client: &reqwest::Client, base: &str, rpc: &str, body: &Value) -> Value {
    let (status, answer) = post(client, base, rpc, body).await.unwrap_or_else(|e| panic!("{rpc}: {e}"));
    assert_eq!(status, 200, "{rpc} {body}: {answer}");
    answer
}

async fn ok_get(client: &reqwest::Client, base: &str, rpc_and_query: &str) -> Value {
    let (status, answer) = get(client, base, rpc_and_query).await.unwrap_or_else(|e| panic!("{rpc_and_query}: {e}"));
    assert_eq!(status, 200, "{rpc_and_query}: {answer}");
    answer
}

async fn create_run(client: &reqwest::Client, base: &str, experiment_id: &str) -> String {
    let run = ok_post(client, base, "runs/create", &json!({"experiment_id": experiment_id, "start_time": 1})).await;
    run["run"]["info"]["run_id"].as_str().unwrap().to_string()
}

/// A point as the API returns it: (step, timestamp, value), ordered as MLflow picks the
/// latest value (the greatest step, then timestamp, then value).
type Point = (i64, i64, u64);

fn point(step: i64, timestamp: i64, value: f64) -> Point {
    (step, timestamp, value.to_bits())
}

fn points_of(metrics: &Value) -> Vec<(String, Point)> {
    metrics
        .as_array()
        .map(|metrics| {
            metrics
                .iter()
                .map(|m| {
                    let key = m["key"].as_str().unwrap().to_string();
                    (
                        key,
                        point(
                            m["step"].as_i64().unwrap(),
                            m["timestamp"].as_i64().unwrap(),
                            m["value"].as_f64().unwrap(),
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One run's stored history of `key`, sorted.
async fn history(client: &reqwest::Client, base: &str, run_id: &str, key: &str) -> Vec<Point> {
    let answer = ok_get(client, base, &format!("metrics/get-history?run_id={run_id}&metric_key={key}")).await;
    let mut points: Vec<Point> = points_of(&answer["metrics"]).into_iter().map(|(_, p)| p).collect();
    points.sort();
    points
}

/// The same history through the sampler charts use, asked for more points than there
/// are: it must return every one, which it only does if the series' stored summary
/// (point count, step stride) is right.
async fn sampled_history(client: &reqwest::Client, base: &str, run_id: &str, key: &str) -> Vec<Point> {
    let answer = ok_get(
        client,
        base,
        &format!("metrics/get-history-bulk-interval?run_ids={run_id}&metric_key={key}&max_results=1000"),
    )
    .await;
    let mut points: Vec<Point> = points_of(&answer["metrics"]).into_iter().map(|(_, p)| p).collect();
    points.sort();
    points
}

/// Checks one run against what was acknowledged: each key's history holds exactly the
/// acknowledged points (nothing lost, nothing extra, no duplicate), and get-run's latest
/// value of each key is the greatest of them.
async fn check_run(
    client: &reqwest::Client,
    bases: &[String],
    run_id: &str,
    acknowledged: &BTreeMap<String, Vec<Point>>,
) {
    for (n, (key, points)) in acknowledged.iter().enumerate() {
        let mut expected = points.clone();
        expected.sort();
        let base = &bases[n % bases.len()];
        let stored = history(client, base, run_id, key).await;
        assert_eq!(
            stored.len(),
            expected.len(),
            "run {run_id} key {key}: {} points stored, {} acknowledged",
            stored.len(),
            expected.len()
        );
        assert_eq!(stored, expected, "run {run_id} key {key}: the stored history differs from the acknowledged points");
        let sampled = sampled_history(client, &bases[(n + 1) % bases.len()], run_id, key).await;
        assert_eq!(sampled, expected, "run {run_id} key {key}: the sampled history misses points (a wrong summary)");
    }
    let run = ok_get(client, &bases[0], &format!("runs/get?run_id={run_id}")).await;
    let latest: BTreeMap<String, Point> = points_of(&run["run"]["data"]["metrics"]).into_iter().collect();
    let expected: BTreeMap<String, Point> =
        acknowledged.iter().map(|(key, points)| (key.clone(), *points.iter().max().unwrap())).collect();
    assert_eq!(latest, expected, "run {run_id}: get-run's latest metrics are wrong");
}

/// mlflow#24923, #4353: concurrent log-batch calls to the same runs and keys deadlocked
/// on latest_metrics. Here many tasks log overlapping keys, listed in different orders and
/// with keys that every task uses for the first time at once, to a few runs through every
/// replica: none may fail, and every acknowledged point must be stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_log_batches_to_the_same_runs_and_keys() {
    const RUNS: usize = 3;
    const TASKS: usize = 16;
    const BATCHES: usize = 12;
    let cluster = Cluster::start(3).await;
    let bases = cluster.bases();
    let client = cluster.client.clone();
    let mut runs = Vec::new();
    for n in 0..RUNS {
        runs.push(create_run(&client, &bases[n % bases.len()], "0").await);
    }
    let runs = Arc::new(runs);
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (client, bases, runs) = (client.clone(), bases.clone(), runs.clone());
        tasks.push(tokio::spawn(async move {
            // (run, key) → points acknowledged; the failures, as messages.
            let mut acknowledged: Vec<(usize, String, Point)> = Vec::new();
            let mut failures = Vec::new();
            for batch in 0..BATCHES {
                let run = (task + batch) % RUNS;
                let base = &bases[(task + batch) % bases.len()];
                // Shared keys, one that every task logs first in the same round, and one of
                // a few; in reverse order for odd tasks.
                let mut keys =
                    ["loss".to_string(), "acc".to_string(), format!("round_{batch}"), format!("group_{}", task % 4)];
                if task % 2 == 1 {
                    keys.reverse();
                }
                let step = (task * 100 + batch) as i64;
                let metrics: Vec<Value> = keys
                    .iter()
                    .enumerate()
                    .map(|(k, key)| {
                        let value = step as f64 + k as f64 / 8.0;
                        json!({"key": key, "value": value, "timestamp": 1000 + batch, "step": step})
                    })
                    .collect();
                let body = json!({
                    "run_id": runs[run],
                    "metrics": metrics,
                    // The same param from every task is no conflict; tags are last-writer-wins.
                    "params": [{"key": "shared", "value": "same"}, {"key": format!("p{task}_{batch}"), "value": "1"}],
                    "tags": [{"key": "last_task", "value": task.to_string()}],
                });
                match post(&client, base, "runs/log-batch", &body).await {
                    Ok((200, _)) => {
                        for metric in &metrics {
                            let p =
                                point(step, metric["timestamp"].as_i64().unwrap(), metric["value"].as_f64().unwrap());
                            acknowledged.push((run, metric["key"].as_str().unwrap().to_string(), p));
                        }
                    }
                    Ok((status, answer)) => failures.push(format!("log-batch answered {status}: {answer}")),
                    Err(error) => failures.push(format!("log-batch failed: {error}")),
                }
            }
            (acknowledged, failures)
        }));
    }
    let mut acknowledged: Vec<BTreeMap<String, Vec<Point>>> = vec![BTreeMap::new(); RUNS];
    let mut failures = Vec::new();
    for task in tasks {
        let (points, failed) = task.await.unwrap();
        for (run, key, p) in points {
            acknowledged[run].entry(key).or_default().push(p);
        }
        failures.extend(failed);
    }
    assert!(
        failures.is_empty(),
        "{} of {} batches failed, e.g. {:?}\n{}",
        failures.len(),
        TASKS * BATCHES,
        &failures[..failures.len().min(3)],
        cluster.logs()
    );
    for (run, run_id) in runs.iter().enumerate() {
        check_run(&client, &bases, run_id, &acknowledged[run]).await;
        let got = ok_get(&client, &bases[run % bases.len()], &format!("runs/get?run_id={run_id}")).await;
        let params = got["run"]["data"]["params"].as_array().unwrap();
        let batches_to_run =
            (0..TASKS).flat_map(|t| (0..BATCHES).map(move |b| (t + b) % RUNS)).filter(|r| *r == run).count();
        assert_eq!(params.len(), 1 + batches_to_run, "run {run_id}: params {params:?}");
    }
}

/// One call made by `n` tasks at once, spread over the replicas: every answer.
async fn contend(cluster: &Cluster, n: usize, rpc: &'static str, body: impl Fn(usize) -> Value) -> Vec<(u16, Value)> {
    let bases = cluster.bases();
    let calls: Vec<_> = (0..n)
        .map(|i| {
            let (client, bases, body) = (cluster.client.clone(), bases.clone(), body(i));
            tokio::spawn(async move { post(&client, &bases[i % bases.len()], rpc, &body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap().unwrap_or_else(|e| panic!("{rpc}: {e}")));
    }
    answers
}

/// Exactly one call created the name; every other heard RESOURCE_ALREADY_EXISTS (400).
fn exactly_one_created(what: &str, answers: &[(u16, Value)]) -> Value {
    let created: Vec<&Value> = answers.iter().filter(|(status, _)| *status == 200).map(|(_, a)| a).collect();
    assert_eq!(created.len(), 1, "{what}: {} creations succeeded: {answers:?}", created.len());
    for (status, answer) in answers.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 400, "{what}: {answer}");
        assert_eq!(answer["error_code"], "RESOURCE_ALREADY_EXISTS", "{what}: {answer}");
    }
    created[0].clone()
}

fn all_succeeded(what: &str, answers: &[(u16, Value)]) {
    let failed: Vec<_> = answers.iter().filter(|(status, _)| *status != 200).collect();
    assert!(failed.is_empty(), "{what}: {} of {} calls failed: {failed:?}", failed.len(), answers.len());
}

/// The registry's and names' races: duplicate model-version numbers (MLflow's MAX + 1, PR
/// #22635), duplicate experiment names (#1811), and duplicate-key errors on concurrent
/// tag writes (#8442).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creations_and_tag_writes() {
    const N: usize = 24;
    let cluster = Cluster::start(2).await;
    let (client, bases) = (cluster.client.clone(), cluster.bases());

    let answers = contend(&cluster, N, "experiments/create", |_| json!({"name": "contested"})).await;
    let id = exactly_one_created("experiments/create", &answers)["experiment_id"].as_str().unwrap().to_string();
    let found = ok_get(&client, &bases[1], "experiments/get-by-name?experiment_name=contested").await;
    assert_eq!(found["experiment"]["experiment_id"], id.as_str());

    let answers = contend(&cluster, N, "registered-models/create", |_| json!({"name": "contested-model"})).await;
    exactly_one_created("registered-models/create", &answers);

    // Renames onto one new name at once: one wins, the others hear what a rename onto a
    // taken name answers (never a 500 from the unique index).
    let mut ids = Vec::new();
    for i in 0..N {
        let created = ok_post(&client, &bases[i % 2], "experiments/create", &json!({"name": format!("e{i}")})).await;
        ids.push(created["experiment_id"].as_str().unwrap().to_string());
        ok_post(&client, &bases[i % 2], "registered-models/create", &json!({"name": format!("rm{i}")})).await;
    }
    let onto_taken = json!({"experiment_id": ids[0], "new_name": "e1"});
    let (status, taken) = post(&client, &bases[0], "experiments/update", &onto_taken).await.unwrap();
    assert_eq!(status, 400, "{taken}");
    let answers =
        contend(&cluster, N, "experiments/update", |i| json!({"experiment_id": ids[i], "new_name": "won"})).await;
    let renamed: Vec<_> = answers.iter().filter(|(status, _)| *status == 200).collect();
    assert_eq!(renamed.len(), 1, "experiments/update: {answers:?}");
    for (status, answer) in answers.iter().filter(|(status, _)| *status != 200) {
        assert_eq!((*status, &answer["error_code"]), (400, &taken["error_code"]), "experiments/update: {answer}");
    }
    let answers =
        contend(&cluster, N, "registered-models/rename", |i| json!({"name": format!("rm{i}"), "new_name": "won"}))
            .await;
    exactly_one_created("registered-models/rename", &answers);

    // Versions of one model: numbered 1..=N, no gap, no duplicate.
    ok_post(&client, &bases[0], "registered-models/create", &json!({"name": "m"})).await;
    let answers =
        contend(&cluster, N, "model-versions/create", |i| json!({"name": "m", "source": format!("s3://bucket/m/{i}")}))
            .await;
    all_succeeded("model-versions/create", &answers);
    let mut numbers: Vec<u64> =
        answers.iter().map(|(_, a)| a["model_version"]["version"].as_str().unwrap().parse().unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, (1..=N as u64).collect::<Vec<_>>(), "the versions created were numbered");
    let listed = ok_get(&client, &bases[1], "model-versions/search?filter=name%3D%27m%27&max_results=1000").await;
    let mut listed: Vec<u64> = listed["model_versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap().parse().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed, numbers, "the stored versions");

    // Everyone points one alias at their version: all succeed, and it names one of them.
    let answers = contend(
        &cluster,
        N,
        "registered-models/alias",
        |i| json!({"name": "m", "alias": "champion", "version": (i + 1).to_string()}),
    )
    .await;
    all_succeeded("registered-models/alias", &answers);
    let model = ok_get(&client, &bases[0], "registered-models/get?name=m").await;
    let aliases = model["registered_model"]["aliases"].as_array().unwrap();
    assert_eq!(aliases.len(), 1, "{aliases:?}");

    // The same tag key written at once from both replicas (#8442): all succeed, one value stays.
    let run_id = create_run(&client, &bases[0], &id).await;
    let tag = |i: usize| json!({"key": "contested", "value": i.to_string()});
    let with = |base: Value, i: usize| {
        let mut body = tag(i);
        body.as_object_mut().unwrap().extend(base.as_object().unwrap().clone());
        body
    };
    let answers = contend(&cluster, N, "runs/set-tag", |i| with(json!({"run_id": run_id}), i)).await;
    all_succeeded("runs/set-tag", &answers);
    let run = ok_get(&client, &bases[1], &format!("runs/get?run_id={run_id}")).await;
    let tags: Vec<&Value> =
        run["run"]["data"]["tags"].as_array().unwrap().iter().filter(|t| t["key"] == "contested").collect();
    assert_eq!(tags.len(), 1, "{tags:?}");
    let answers =
        contend(&cluster, N, "experiments/set-experiment-tag", |i| with(json!({"experiment_id": id}), i)).await;
    all_succeeded("experiments/set-experiment-tag", &answers);
    let answers = contend(&cluster, N, "registered-models/set-tag", |i| with(json!({"name": "m"}), i)).await;
    all_succeeded("registered-models/set-tag", &answers);
    let answers =
        contend(&cluster, N, "model-versions/set-tag", |i| with(json!({"name": "m", "version": "1"}), i)).await;
    all_succeeded("model-versions/set-tag", &answers);
}

/// Page tokens carry no replica-local state: pages fetched alternately from each replica
/// concatenate to the one big page. And an artifact uploaded through one replica (the
/// proxy) downloads and lists from the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn page_tokens_and_artifacts_work_on_any_replica() {
    let cluster = Cluster::start(2).await;
    let (client, bases) = (cluster.client.clone(), cluster.bases());
    let experiment = ok_post(&client, &bases[0], "experiments/create", &json!({"name": "paged"})).await;
    let experiment_id = experiment["experiment_id"].as_str().unwrap().to_string();
    for i in 0..23i64 {
        // Equal start times and metric values, so pages also depend on the tie-breakers.
        let body = json!({"experiment_id": experiment_id, "start_time": i / 4});
        let run = ok_post(&client, &bases[i as usize % 2], "runs/create", &body).await;
        let run_id = run["run"]["info"]["run_id"].as_str().unwrap();
        let metric = json!({"run_id": run_id, "key": "m", "value": (i % 3) as f64, "timestamp": 1, "step": 0});
        ok_post(&client, &bases[0], "runs/log-metric", &metric).await;
    }
    for order_by in [json!([]), json!(["metrics.m DESC"]), json!(["attributes.start_time ASC"])] {
        let search = |max_results: usize, token: Option<String>| {
            let mut body = json!({"experiment_ids": [experiment_id], "max_results": max_results, "order_by": order_by});
            if let Some(token) = token {
                body["page_token"] = json!(token);
            }
            body
        };
        let ids = |answer: &Value| -> Vec<String> {
            answer["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["info"]["run_id"].as_str().unwrap().to_string())
                .collect()
        };
        let whole = ids(&ok_post(&client, &bases[0], "runs/search", &search(1000, None)).await);
        assert_eq!(whole.len(), 23);
        let (mut paged, mut token, mut page) = (Vec::new(), None, 0);
        loop {
            let answer = ok_post(&client, &bases[page % 2], "runs/search", &search(5, token)).await;
            paged.extend(ids(&answer));
            page += 1;
            match answer["next_page_token"].as_str().filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next.to_string()),
                None => break,
            }
            assert!(page < 10, "the pages never end");
        }
        assert_eq!(paged, whole, "pages of runs/search ordered by {order_by} from alternate replicas");
    }

    // A file big enough to take several writes, through replica 0; read through replica 1.
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let path = format!("{experiment_id}/shared/artifacts/model/weights.bin");
    let (status, answer) = cluster.replicas[0].put_artifact(&path, bytes.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let (status, downloaded) = cluster.replicas[1].get_artifact(&path).await;
    assert_eq!(status, 200);
    assert!(downloaded == bytes, "the download through the other replica differs ({} bytes)", downloaded.len());
    let listed = cluster.replicas[1].list_artifacts(&format!("{experiment_id}/shared/artifacts/model")).await;
    assert_eq!(listed, vec!["weights.bin"]);

    // A proxied multipart upload created on one replica, its parts sent to both, completed
    // on the other: its state lives in the shared artifact store, not in a process.
    let artifacts = |server: &Server, rpc: &str| format!("{}/api/2.0/mlflow-artifacts/mpu/{rpc}", server.base);
    let dir = format!("{experiment_id}/multi/artifacts");
    let body = json!({"path": "/client/big.bin", "num_parts": 3});
    let created = client.post(artifacts(&cluster.replicas[0], &format!("create/{dir}"))).json(&body).send().await;
    let created: Value = created.unwrap().json().await.unwrap();
    let upload_id = created["upload_id"].as_str().unwrap_or_else(|| panic!("create: {created}"));
    let mut parts = Vec::new();
    for (n, credential) in created["credentials"].as_array().unwrap().iter().enumerate() {
        let url = credential["url"].as_str().unwrap().replacen(&cluster.replicas[0].base, &bases[n % 2], 1);
        let chunk = bytes[n * 100_000..(n + 1) * 100_000].to_vec();
        let response = client.put(&url).body(chunk).send().await.unwrap();
        assert_eq!(response.status(), 200, "part {n} through replica {}", n % 2);
        let etag = response.headers()["etag"].to_str().unwrap().to_string();
        parts.push(json!({"part_number": credential["part_number"], "etag": etag, "url": url}));
    }
    let body = json!({"path": "/client/big.bin", "upload_id": upload_id, "parts": parts});
    let completed = client.post(artifacts(&cluster.replicas[1], &format!("complete/{dir}"))).json(&body).send().await;
    let completed = completed.unwrap();
    assert_eq!(completed.status(), 200, "complete: {}", completed.text().await.unwrap());
    let (status, downloaded) = cluster.replicas[0].get_artifact(&format!("{dir}/big.bin")).await;
    assert_eq!(status, 200);
    assert!(downloaded == bytes[..300_000], "the multipart upload differs ({} bytes)", downloaded.len());
}

/// A replica that starts (a restart after a crash, a scale-up) must leave alone the
/// uploads the others are writing to the shared artifact folder: its start-up sweep of
/// interrupted uploads' staging files cannot tell another live process's from a dead one's
/// except by their age.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_starting_replica_leaves_the_others_uploads_alone() {
    use std::io::{Read, Write};
    let cluster = Cluster::start(1).await;
    // A leftover of an upload killed long ago: the new replica's sweep removes it, which
    // tells the test that the sweep has run.
    plant(&cluster.paths, "0/dead/artifacts/old.bin#1", 10, Duration::from_secs(7 * 24 * 3600));
    let body: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let (to_upload, resume) = std::sync::mpsc::channel::<()>();
    let port = cluster.replicas[0].port;
    let sent = body.clone();
    // A slow client: half the body, a pause, the rest. Raw HTTP so the pause is ours.
    let upload = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let head = format!(
            "PUT /api/2.0/mlflow-artifacts/artifacts/0/live/artifacts/model.bin HTTP/1.1\r\nHost: x\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            sent.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&sent[..sent.len() / 2]).unwrap();
        resume.recv().unwrap();
        // The server may already have given up on the upload: what it answers tells.
        let _ = stream.write_all(&sent[sent.len() / 2..]);
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
    });
    let live = cluster.paths.artifacts.join("0/live/artifacts");
    assert!(eventually(|| !staging_files(&live).is_empty()).await, "the upload never started");
    let second = Server::start(&cluster.paths).await;
    let dead = cluster.paths.artifacts.join("0/dead");
    assert!(eventually(|| staging_files(&dead).is_empty()).await, "the new replica never swept");
    to_upload.send(()).unwrap();
    let response = tokio::task::spawn_blocking(move || upload.join().unwrap()).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "the upload failed: {response}\n{}", cluster.logs());
    let (status, stored) = second.get_artifact("0/live/artifacts/model.bin").await;
    assert_eq!(status, 200);
    assert!(stored == body, "the stored upload differs ({} bytes)", stored.len());
}

/// What one writer of the kill -9 test did.
#[derive(Default)]
struct Acknowledged {
    /// Run index → the points of every batch answered 200.
    points: HashMap<usize, Vec<Point>>,
    /// Run index → the params of those batches.
    params: HashMap<usize, BTreeSet<String>>,
    /// The run this writer logs to, and the tag its last acknowledged batch set.
    last_tag: Option<(usize, String, String)>,
    failures: Vec<String>,
}

/// kill -9 of one replica while writers stream log-batch calls to both. Writers of the
/// dead replica resend the call whose answer they lost to the survivor (it may or may not
/// have been committed), then carry on there. At the end the database holds exactly the
/// acknowledged points: none lost, none extra, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9_of_a_replica() {
    const WRITERS: usize = 8;
    const POINTS_PER_BATCH: i64 = 4;
    let mut cluster = Cluster::start(2).await;
    let (client, bases) = (cluster.client.clone(), cluster.bases());
    let runs = Arc::new(vec![create_run(&client, &bases[0], "0").await, create_run(&client, &bases[1], "0").await]);
    let (victim, survivor) = (1usize, 0usize);
    let stop = Arc::new(AtomicBool::new(false));
    let on_victim = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let moved = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (client, bases, runs) = (client.clone(), bases.clone(), runs.clone());
        let (stop, on_victim, total, moved) = (stop.clone(), on_victim.clone(), total.clone(), moved.clone());
        writers.push(tokio::spawn(async move {
            let mut done = Acknowledged::default();
            let mut target = writer % 2;
            // Both runs get writes through both replicas.
            let run = (writer / 2) % 2;
            let mut seq = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let first = writer as i64 * 1_000_000 + seq * POINTS_PER_BATCH;
                let metrics: Vec<Value> = (first..first + POINTS_PER_BATCH)
                    .map(|step| json!({"key": "loss", "value": step as f64 / 2.0, "timestamp": 7, "step": step}))
                    .collect();
                let param = format!("w{writer}_{seq}");
                let body = json!({
                    "run_id": runs[run], "metrics": metrics,
                    "params": [{"key": param, "value": "v"}],
                    "tags": [{"key": format!("writer_{writer}"), "value": seq.to_string()}],
                });
                match post(&client, &bases[target], "runs/log-batch", &body).await {
                    Ok((200, _)) => {
                        let points = done.points.entry(run).or_default();
                        points.extend((first..first + POINTS_PER_BATCH).map(|s| point(s, 7, s as f64 / 2.0)));
                        done.params.entry(run).or_default().insert(param);
                        done.last_tag = Some((run, format!("writer_{writer}"), seq.to_string()));
                        total.fetch_add(1, Ordering::Relaxed);
                        if target == victim {
                            on_victim.fetch_add(1, Ordering::Relaxed);
                        }
                        seq += 1;
                    }
                    Ok((status, answer)) => {
                        done.failures.push(format!("writer {writer}: log-batch answered {status}: {answer}"));
                        break;
                    }
                    // The victim died: this call's fate is unknown; send it again to the survivor.
                    Err(_) if target == victim => {
                        target = survivor;
                        moved.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => {
                        done.failures.push(format!("writer {writer}: the survivor failed: {error}"));
                        break;
                    }
                }
            }
            done
        }));
    }
    assert!(eventually(|| on_victim.load(Ordering::Relaxed) >= 60).await, "the victim never acknowledged 60 batches");
    cluster.replicas.remove(victim).kill_9();
    let at_kill = total.load(Ordering::Relaxed);
    // Every writer of the victim has moved, and the survivor took plenty more.
    let carried_on = || moved.load(Ordering::Relaxed) == WRITERS / 2 && total.load(Ordering::Relaxed) >= at_kill + 100;
    assert!(eventually(carried_on).await, "the victim's writers did not carry on on the survivor");
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged: Vec<BTreeMap<String, Vec<Point>>> = vec![BTreeMap::new(); 2];
    let mut params: Vec<BTreeSet<String>> = vec![BTreeSet::new(); 2];
    let mut tags: Vec<BTreeMap<String, String>> = vec![BTreeMap::new(); 2];
    let mut failures = Vec::new();
    for writer in writers {
        let done = writer.await.unwrap();
        if let Some((run, key, value)) = done.last_tag {
            tags[run].insert(key, value);
        }
        for (run, points) in done.points {
            acknowledged[run].entry("loss".into()).or_default().extend(points);
        }
        for (run, names) in done.params {
            params[run].extend(names);
        }
        failures.extend(done.failures);
    }
    assert!(failures.is_empty(), "{failures:?}\n{}", cluster.logs());
    let survivor_base = vec![cluster.replicas[0].base.clone()];
    for (run, run_id) in runs.iter().enumerate() {
        check_run(&client, &survivor_base, run_id, &acknowledged[run]).await;
        let got = ok_get(&client, &survivor_base[0], &format!("runs/get?run_id={run_id}")).await;
        let stored: BTreeSet<String> = got["run"]["data"]["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"].as_str().unwrap().to_string())
            .collect();
        // A retried batch may have been committed by the dead replica before it was
        // resent; then its params are there once. Nothing unacknowledged stays, as every
        // lost answer was resent until acknowledged.
        assert_eq!(stored, params[run], "run {run_id}: params");
        // Each writer's tag holds its last acknowledged batch's value: a resent batch
        // cannot roll it back.
        let stored: BTreeMap<String, String> = got["run"]["data"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["key"].as_str().unwrap().starts_with("writer_"))
            .map(|t| (t["key"].as_str().unwrap().to_string(), t["value"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(stored, tags[run], "run {run_id}: tags");
    }
}
