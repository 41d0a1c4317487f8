//! The benchmark's load generator: drives one MLflow-compatible tracking server with one
//! workload and prints one JSON object of figures on stdout (see bench/README.md).
//!
//! It runs on a single-threaded runtime over plain HTTP/1.1 keep-alive connections (hyper's
//! connection API, no pool, no TLS), so it uses at most one core and little of it; every
//! answer's status is counted, and anything but a 2xx is reported as a failure.

use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

#[derive(Parser)]
#[command(about = "Load generator for ferroflow's side-by-side benchmark")]
struct Cli {
    /// The server's base URL, e.g. http://127.0.0.1:5000 (loopback only).
    #[arg(long)]
    url: String,
    /// Prefix of the tracking REST API.
    #[arg(long, default_value = "/api/2.0/mlflow")]
    api: String,
    /// An `Authorization` header sent with every request (the auth pass: `Basic …` or
    /// `Bearer …`), read from the environment so that it stays out of `ps`.
    #[arg(long, env = "BENCH_AUTHORIZATION", hide_env_values = true)]
    authorization: Option<String>,
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Subcommand)]
enum Workload {
    /// W1: log-metric, one point per request, every request a new step (one run per connection).
    LogMetric {
        #[arg(long, default_value_t = 16)]
        connections: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// W2: log-batch of `points` metric points (10 keys x points/10 new steps; one run per connection).
    LogBatch {
        #[arg(long, default_value_t = 4)]
        connections: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 1000)]
        points: usize,
    },
    /// W3: create a run, then log-batch 20 params and 10 metrics into it; `runs` runs in all.
    CreateRuns {
        #[arg(long, default_value_t = 8)]
        connections: usize,
        #[arg(long)]
        runs: u64,
        /// Name of the experiment to create the runs in (created if needed).
        #[arg(long)]
        experiment: String,
        /// Stop early after this many seconds (the figure is then over the runs made).
        #[arg(long)]
        max_seconds: Option<f64>,
        /// Number the runs from here: an experiment grown in steps (the scaling row) keeps
        /// holding runs 0..N, so search-runs can still check its answers.
        #[arg(long, default_value_t = 0)]
        first: u64,
    },
    /// W4: search-runs filtered on a metric and a param, ordered by a metric, 100 results.
    SearchRuns {
        #[arg(long, default_value_t = 4)]
        connections: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long)]
        experiment_id: String,
        #[arg(long, default_value_t = 100)]
        max_results: usize,
        /// When the experiment holds exactly create-runs' runs 0..N, check the answer's
        /// content against the right one.
        #[arg(long)]
        seeded_runs: Option<u64>,
    },
    /// Seeds metric histories: `runs` runs with `points` points of key `loss` each, sent as
    /// log-batch requests of 1000 points, each run's in step order from one connection;
    /// writes the run ids to `out`, one per line.
    SeedHistory {
        #[arg(long, default_value_t = 4)]
        connections: usize,
        #[arg(long)]
        runs: usize,
        #[arg(long)]
        points: u64,
        #[arg(long)]
        experiment: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// W6: get-history-bulk-interval over the runs in `run_ids`, as the UI's chart asks for it.
    BulkInterval {
        /// File of run ids, one per line (as seed-history writes).
        #[arg(long)]
        run_ids: PathBuf,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// At least this many requests, however long they take.
        #[arg(long, default_value_t = 3)]
        min_requests: u64,
        /// The UI's sampling resolution (its chart asks for 320 points per run).
        #[arg(long, default_value_t = 320)]
        max_results: usize,
        /// The UI calls the ajax-api prefix.
        #[arg(long, default_value = "/ajax-api/2.0/mlflow")]
        prefix: String,
    },
}

type Answer = Result<(u16, Bytes), String>;

/// One keep-alive HTTP/1.1 connection; reconnects when the server closed it.
struct Client {
    addr: SocketAddr,
    host: String,
    authorization: Option<String>,
    sender: Option<http1::SendRequest<Full<Bytes>>>,
}

impl Client {
    fn new(target: &Target) -> Self {
        Self { addr: target.addr, host: target.host.clone(), authorization: target.authorization.clone(), sender: None }
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = TcpStream::connect(self.addr).await.map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
        let (sender, connection) =
            http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    async fn send(&mut self, method: Method, path: &str, body: Option<String>) -> Answer {
        let usable = match self.sender.as_mut() {
            Some(sender) if !sender.is_closed() => sender.ready().await.is_ok(),
            _ => false,
        };
        if !usable {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().expect("connected");
        let mut request = Request::builder().method(method).uri(path).header("host", &self.host);
        if let Some(value) = &self.authorization {
            request = request.header("authorization", value);
        }
        let body = match body {
            Some(text) => {
                request = request.header("content-type", "application/json");
                Full::new(Bytes::from(text))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request.body(body).map_err(|e| format!("request: {e}"))?;
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(e) => {
                self.sender = None;
                return Err(format!("send: {e}"));
            }
        };
        let status = response.status().as_u16();
        match response.into_body().collect().await {
            Ok(body) => Ok((status, body.to_bytes())),
            Err(e) => {
                self.sender = None;
                Err(format!("body: {e}"))
            }
        }
    }

    async fn post(&mut self, path: &str, body: String) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }
}

#[derive(Clone)]
struct Target {
    addr: SocketAddr,
    host: String,
    api: String,
    authorization: Option<String>,
}

impl Target {
    fn parse(url: &str, api: &str, authorization: Option<String>) -> Result<Self, String> {
        let host = url.trim_end_matches('/').strip_prefix("http://").ok_or("the URL must start with http://")?;
        let addr: SocketAddr = host.parse().map_err(|e| format!("{host} is not IP:port: {e}"))?;
        if !addr.ip().is_loopback() {
            return Err(format!("{addr} is not a loopback address; the benchmark only targets this machine"));
        }
        Ok(Self { addr, host: host.to_string(), api: api.trim_end_matches('/').to_string(), authorization })
    }

    fn path(&self, rpc: &str) -> String {
        format!("{}/{rpc}", self.api)
    }
}

/// Counts and latencies of one connection or of all of them.
#[derive(Default)]
struct Stats {
    ok: u64,
    non_2xx: u64,
    errors: u64,
    /// Workload units done (points, runs, requests) by fully successful operations.
    units: u64,
    latencies_us: Vec<u32>,
    first_failure: Option<String>,
}

impl Stats {
    /// Records one answer; returns its body when it was a 2xx.
    fn record(&mut self, started: Instant, answer: Answer) -> Option<Bytes> {
        self.latencies_us.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
        match answer {
            Ok((status, body)) if (200..300).contains(&status) => {
                self.ok += 1;
                Some(body)
            }
            Ok((status, body)) => {
                self.non_2xx += 1;
                self.first_failure.get_or_insert_with(|| {
                    format!("HTTP {status}: {}", String::from_utf8_lossy(&body[..body.len().min(300)]))
                });
                None
            }
            Err(error) => {
                self.errors += 1;
                self.first_failure.get_or_insert(error);
                None
            }
        }
    }

    fn fail(&mut self, message: String) {
        self.errors += 1;
        self.first_failure.get_or_insert(message);
    }

    fn merge(&mut self, other: Stats) {
        self.ok += other.ok;
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
        self.units += other.units;
        self.latencies_us.extend(other.latencies_us);
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
    }

    fn report(mut self, workload: &str, unit: &str, elapsed: Duration, extra: Value) -> Value {
        self.latencies_us.sort_unstable();
        let seconds = elapsed.as_secs_f64();
        let percentile = |p: f64| -> f64 {
            if self.latencies_us.is_empty() {
                return 0.0;
            }
            let index = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
            self.latencies_us[index] as f64 / 1000.0
        };
        let requests = self.ok + self.non_2xx + self.errors;
        let mean_ms = if requests == 0 {
            0.0
        } else {
            self.latencies_us.iter().map(|&l| l as f64).sum::<f64>() / self.latencies_us.len() as f64 / 1000.0
        };
        let mut out = json!({
            "workload": workload,
            "requests": requests,
            "ok": self.ok,
            "non_2xx": self.non_2xx,
            "errors": self.errors,
            "seconds": seconds,
            "req_per_s": requests as f64 / seconds,
            "unit": unit,
            "units": self.units,
            "units_per_s": self.units as f64 / seconds,
            "mean_ms": mean_ms,
            "p50_ms": percentile(0.5),
            "p99_ms": percentile(0.99),
            "max_ms": percentile(1.0),
            "first_failure": self.first_failure,
        });
        if let (Some(out), Value::Object(extra)) = (out.as_object_mut(), extra) {
            out.extend(extra);
        }
        out
    }
}

/// A small deterministic generator (splitmix64): identical data for every server.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), with at most 6 decimals so values print short and exact.
    fn unit(&mut self) -> f64 {
        (self.next_u64() % 1_000_000) as f64 / 1_000_000.0
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn json_body(body: &Bytes) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("answer is not JSON: {e}"))
}

/// Creates the experiment, or finds it when it already exists.
async fn experiment_id(client: &mut Client, target: &Target, name: &str) -> Result<String, String> {
    let created = client.post(&target.path("experiments/create"), json!({ "name": name }).to_string()).await?;
    let body = match created {
        (200..=299, body) => body,
        _ => {
            let path = format!("{}?experiment_name={name}", target.path("experiments/get-by-name"));
            match client.send(Method::GET, &path, None).await? {
                (200..=299, body) => {
                    let value = json_body(&body)?;
                    return value["experiment"]["experiment_id"]
                        .as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("no experiment id in {value}"));
                }
                (status, body) => {
                    return Err(format!("experiment {name}: HTTP {status}: {}", String::from_utf8_lossy(&body)))
                }
            }
        }
    };
    let value = json_body(&body)?;
    value["experiment_id"].as_str().map(str::to_string).ok_or_else(|| format!("no experiment_id in {value}"))
}

fn create_run_body(experiment_id: &str, name: &str) -> String {
    json!({ "experiment_id": experiment_id, "run_name": name, "start_time": now_ms(), "user_id": "bench" }).to_string()
}

fn run_id_of(body: &Bytes) -> Result<String, String> {
    let value = json_body(body)?;
    let info = &value["run"]["info"];
    info["run_id"]
        .as_str()
        .or_else(|| info["run_uuid"].as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("no run id in {value}"))
}

/// Creates one run outside any measurement.
async fn setup_run(client: &mut Client, target: &Target, experiment_id: &str, name: &str) -> Result<String, String> {
    match client.post(&target.path("runs/create"), create_run_body(experiment_id, name)).await? {
        (200..=299, body) => run_id_of(&body),
        (status, body) => Err(format!("runs/create: HTTP {status}: {}", String::from_utf8_lossy(&body))),
    }
}

/// Runs `task(i)` for each connection concurrently and adds up their stats.
async fn on_connections<F, Fut>(connections: usize, task: F) -> Stats
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Stats> + Send + 'static,
{
    let handles: Vec<_> = (0..connections).map(|i| tokio::spawn(task(i))).collect();
    let mut total = Stats::default();
    for handle in handles {
        match handle.await {
            Ok(stats) => total.merge(stats),
            Err(e) => total.fail(format!("connection task failed: {e}")),
        }
    }
    total
}

/// A log-batch body of metric points: `keys` keys, each at the steps `first_step..`.
fn metric_batch(run_id: &str, keys: &[String], first_step: u64, steps: u64, rng: &mut Rng) -> String {
    let timestamp = now_ms();
    let mut body = String::with_capacity(64 + (keys.len() * steps as usize) * 72);
    let _ = write!(body, r#"{{"run_id":"{run_id}","metrics":["#);
    let mut first = true;
    for step in first_step..first_step + steps {
        for key in keys {
            if !first {
                body.push(',');
            }
            first = false;
            let _ = write!(
                body,
                r#"{{"key":"{key}","value":{},"timestamp":{},"step":{step}}}"#,
                rng.unit(),
                timestamp + step as i64
            );
        }
    }
    body.push_str("]}");
    body
}

async fn log_metric(target: Target, connections: usize, seconds: f64) -> Result<Value, String> {
    let mut setup = Client::new(&target);
    let experiment = experiment_id(&mut setup, &target, "bench-log-metric").await?;
    let mut runs = Vec::new();
    for i in 0..connections {
        runs.push(setup_run(&mut setup, &target, &experiment, &format!("log-metric-{i}")).await?);
    }
    let runs = Arc::new(runs);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let stats = on_connections(connections, |i| {
        let (target, runs) = (target.clone(), Arc::clone(&runs));
        async move {
            let mut client = Client::new(&target);
            let mut stats = Stats::default();
            let mut rng = Rng(i as u64);
            let path = target.path("runs/log-metric");
            let run_id = &runs[i];
            let mut step = 0u64;
            while Instant::now() < deadline {
                let body = format!(
                    r#"{{"run_id":"{run_id}","key":"loss","value":{},"timestamp":{},"step":{step}}}"#,
                    rng.unit(),
                    now_ms()
                );
                let sent = Instant::now();
                let answer = client.post(&path, body).await;
                if stats.record(sent, answer).is_some() {
                    stats.units += 1;
                }
                step += 1;
            }
            stats
        }
    })
    .await;
    Ok(stats.report("log-metric", "requests", started.elapsed(), json!({ "connections": connections })))
}

async fn log_batch(target: Target, connections: usize, seconds: f64, points: usize) -> Result<Value, String> {
    let mut setup = Client::new(&target);
    let experiment = experiment_id(&mut setup, &target, "bench-log-batch").await?;
    let mut runs = Vec::new();
    for i in 0..connections {
        runs.push(setup_run(&mut setup, &target, &experiment, &format!("log-batch-{i}")).await?);
    }
    let runs = Arc::new(runs);
    let key_count = points.clamp(1, 10);
    let steps_per_batch = (points / key_count).max(1) as u64;
    let keys: Arc<Vec<String>> = Arc::new((0..key_count).map(|k| format!("metric_{k}")).collect());
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let stats = on_connections(connections, |i| {
        let (target, runs, keys) = (target.clone(), Arc::clone(&runs), Arc::clone(&keys));
        async move {
            let mut client = Client::new(&target);
            let mut stats = Stats::default();
            let mut rng = Rng(1000 + i as u64);
            let path = target.path("runs/log-batch");
            let mut step = 0u64;
            while Instant::now() < deadline {
                let body = metric_batch(&runs[i], &keys, step, steps_per_batch, &mut rng);
                let sent = Instant::now();
                let answer = client.post(&path, body).await;
                if stats.record(sent, answer).is_some() {
                    stats.units += keys.len() as u64 * steps_per_batch;
                }
                step += steps_per_batch;
            }
            stats
        }
    })
    .await;
    let extra = json!({ "connections": connections, "points_per_request": key_count as u64 * steps_per_batch });
    Ok(stats.report("log-batch", "points", started.elapsed(), extra))
}

/// The metrics m0..m9 of run number `n` in workload 3: uniform in [0, 1), a function of
/// `n` alone, so a search's right answer can be worked out here.
fn run_metrics(n: u64) -> [f64; 10] {
    let mut rng = Rng(0x5EED_0000 ^ n);
    std::array::from_fn(|_| rng.unit())
}

/// The params of run number `n`: p0 cycles through a..d, p1..p19 are filler.
fn run_param(n: u64, p: usize) -> String {
    if p == 0 {
        ["a", "b", "c", "d"][(n % 4) as usize].to_string()
    } else {
        format!("v{p}-{}", n % 97)
    }
}

/// The log-batch body of workload 3: 20 params and 10 metrics.
fn run_payload(run_id: &str, n: u64) -> String {
    let timestamp = now_ms();
    let mut body = String::with_capacity(2048);
    let _ = write!(body, r#"{{"run_id":"{run_id}","params":["#);
    for p in 0..20 {
        if p > 0 {
            body.push(',');
        }
        let _ = write!(body, r#"{{"key":"p{p}","value":"{}"}}"#, run_param(n, p));
    }
    body.push_str(r#"],"metrics":["#);
    for (m, value) in run_metrics(n).iter().enumerate() {
        if m > 0 {
            body.push(',');
        }
        let _ = write!(body, r#"{{"key":"m{m}","value":{value},"timestamp":{timestamp},"step":0}}"#);
    }
    body.push_str("]}");
    body
}

/// The m1 values, in order, of the right answer to [`search_body`] over runs `0..runs`.
fn expected_search(runs: u64, max_results: usize) -> Vec<f64> {
    let mut m1: Vec<f64> =
        (0..runs).filter(|&n| run_param(n, 0) == "a").map(run_metrics).filter(|m| m[0] > 0.5).map(|m| m[1]).collect();
    m1.sort_by(|a, b| b.total_cmp(a));
    m1.truncate(max_results);
    m1
}

async fn create_runs(
    target: Target,
    connections: usize,
    runs: u64,
    experiment: &str,
    max_seconds: Option<f64>,
    first: u64,
) -> Result<Value, String> {
    let mut setup = Client::new(&target);
    let experiment_id = Arc::new(experiment_id(&mut setup, &target, experiment).await?);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = max_seconds.map(|s| started + Duration::from_secs_f64(s));
    let stats = on_connections(connections, |_| {
        let (target, experiment_id, next) = (target.clone(), Arc::clone(&experiment_id), Arc::clone(&next));
        async move {
            let mut client = Client::new(&target);
            let mut stats = Stats::default();
            let (create, batch) = (target.path("runs/create"), target.path("runs/log-batch"));
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let n = first + next.fetch_add(1, Ordering::Relaxed);
                if n >= first + runs {
                    break;
                }
                let sent = Instant::now();
                let answer = client.post(&create, create_run_body(&experiment_id, &format!("run-{n}"))).await;
                let Some(body) = stats.record(sent, answer) else { continue };
                let run_id = match run_id_of(&body) {
                    Ok(id) => id,
                    Err(e) => {
                        stats.fail(e);
                        continue;
                    }
                };
                let sent = Instant::now();
                let answer = client.post(&batch, run_payload(&run_id, n)).await;
                if stats.record(sent, answer).is_some() {
                    stats.units += 1;
                }
            }
            stats
        }
    })
    .await;
    let extra = json!({ "connections": connections, "experiment_id": *experiment_id, "requested_runs": runs });
    Ok(stats.report("create-runs", "runs", started.elapsed(), extra))
}

fn search_body(experiment_id: &str, max_results: usize) -> String {
    json!({
        "experiment_ids": [experiment_id],
        "filter": "metrics.m0 > 0.5 and params.p0 = 'a'",
        "order_by": ["metrics.m1 DESC"],
        "max_results": max_results,
        "run_view_type": "ACTIVE_ONLY",
    })
    .to_string()
}

async fn search_runs(
    target: Target,
    connections: usize,
    seconds: f64,
    experiment_id: String,
    max_results: usize,
    seeded_runs: Option<u64>,
) -> Result<Value, String> {
    let body = Arc::new(search_body(&experiment_id, max_results));
    // One answer is checked in full: descending m1 order, and the right runs when known.
    let mut probe = Client::new(&target);
    let (returned, ordered, correct) = match probe.post(&target.path("runs/search"), body.to_string()).await? {
        (200..=299, answer) => {
            let value = json_body(&answer)?;
            let runs = value["runs"].as_array().cloned().unwrap_or_default();
            let m1: Vec<f64> = runs
                .iter()
                .map(|run| {
                    run["data"]["metrics"]
                        .as_array()
                        .and_then(|ms| ms.iter().find(|m| m["key"] == "m1"))
                        .and_then(|m| m["value"].as_f64())
                        .unwrap_or(f64::NAN)
                })
                .collect();
            let correct = seeded_runs.map(|n| {
                let expected = expected_search(n, max_results);
                expected.len() == m1.len() && expected.iter().zip(&m1).all(|(a, b)| (a - b).abs() < 1e-9)
            });
            (runs.len(), m1.windows(2).all(|w| w[0] >= w[1]), correct)
        }
        (status, answer) => return Err(format!("runs/search: HTTP {status}: {}", String::from_utf8_lossy(&answer))),
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let stats = on_connections(connections, |_| {
        let (target, body) = (target.clone(), Arc::clone(&body));
        async move {
            let mut client = Client::new(&target);
            let mut stats = Stats::default();
            let path = target.path("runs/search");
            while Instant::now() < deadline {
                let sent = Instant::now();
                let answer = client.post(&path, body.to_string()).await;
                if stats.record(sent, answer).is_some() {
                    stats.units += 1;
                }
            }
            stats
        }
    })
    .await;
    let expected_results = seeded_runs.map(|n| expected_search(n, max_results).len());
    let extra = json!({
        "connections": connections,
        "results": returned,
        "ordered": ordered,
        "correct": correct,
        "expected_results": expected_results,
    });
    Ok(stats.report("search-runs", "requests", started.elapsed(), extra))
}

async fn seed_history(
    target: Target,
    connections: usize,
    runs: usize,
    points: u64,
    experiment: &str,
    out: PathBuf,
) -> Result<Value, String> {
    let mut setup = Client::new(&target);
    let experiment_id = experiment_id(&mut setup, &target, experiment).await?;
    let mut run_ids = Vec::with_capacity(runs);
    for i in 0..runs {
        run_ids.push(setup_run(&mut setup, &target, &experiment_id, &format!("history-{i}")).await?);
    }
    std::fs::write(&out, run_ids.join("\n") + "\n").map_err(|e| format!("{}: {e}", out.display()))?;
    let run_ids = Arc::new(run_ids);
    const CHUNK: u64 = 1000;
    let chunks = points.div_ceil(CHUNK);
    let keys = Arc::new(vec!["loss".to_string()]);
    let started = Instant::now();
    let stats = on_connections(connections, |i| {
        let (target, run_ids, keys) = (target.clone(), Arc::clone(&run_ids), Arc::clone(&keys));
        async move {
            let mut client = Client::new(&target);
            let mut stats = Stats::default();
            let mut rng = Rng(3000 + i as u64);
            let path = target.path("runs/log-batch");
            // Each run belongs to one connection and gets its steps in order, as the
            // training job behind a run logs them; the runs advance together.
            let owned: Vec<&String> = run_ids.iter().skip(i).step_by(connections).collect();
            for chunk in 0..chunks {
                for run_id in &owned {
                    let first_step = chunk * CHUNK;
                    let steps = CHUNK.min(points - first_step);
                    let body = metric_batch(run_id, &keys, first_step, steps, &mut rng);
                    let sent = Instant::now();
                    let answer = client.post(&path, body).await;
                    if stats.record(sent, answer).is_some() {
                        stats.units += steps;
                    }
                }
            }
            stats
        }
    })
    .await;
    let extra =
        json!({ "connections": connections, "runs": runs, "points_per_run": points, "experiment_id": experiment_id });
    Ok(stats.report("seed-history", "points", started.elapsed(), extra))
}

async fn bulk_interval(
    target: Target,
    run_ids: PathBuf,
    seconds: f64,
    min_requests: u64,
    max_results: usize,
    prefix: &str,
) -> Result<Value, String> {
    let ids = std::fs::read_to_string(&run_ids).map_err(|e| format!("{}: {e}", run_ids.display()))?;
    let ids: Vec<&str> = ids.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut query: String = ids.iter().map(|id| format!("run_ids={id}&")).collect();
    let _ = write!(query, "metric_key=loss&max_results={max_results}");
    let path = format!("{}/metrics/get-history-bulk-interval?{query}", prefix.trim_end_matches('/'));
    let mut client = Client::new(&target);
    let mut stats = Stats::default();
    let mut points_returned = None;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    while Instant::now() < deadline || stats.latencies_us.len() < min_requests as usize {
        let sent = Instant::now();
        let answer = client.send(Method::GET, &path, None).await;
        if let Some(body) = stats.record(sent, answer) {
            stats.units += 1;
            if points_returned.is_none() {
                let value = json_body(&body)?;
                points_returned = Some(value["metrics"].as_array().map_or(0, Vec::len));
            }
        }
    }
    let extra = json!({ "runs": ids.len(), "max_results": max_results, "points_returned": points_returned });
    Ok(stats.report("bulk-interval", "requests", started.elapsed(), extra))
}

async fn run(cli: Cli) -> Result<Value, String> {
    let target = Target::parse(&cli.url, &cli.api, cli.authorization.clone())?;
    match cli.workload {
        Workload::LogMetric { connections, seconds } => log_metric(target, connections, seconds).await,
        Workload::LogBatch { connections, seconds, points } => log_batch(target, connections, seconds, points).await,
        Workload::CreateRuns { connections, runs, experiment, max_seconds, first } => {
            create_runs(target, connections, runs, &experiment, max_seconds, first).await
        }
        Workload::SearchRuns { connections, seconds, experiment_id, max_results, seeded_runs } => {
            search_runs(target, connections, seconds, experiment_id, max_results, seeded_runs).await
        }
        Workload::SeedHistory { connections, runs, points, experiment, out } => {
            seed_history(target, connections, runs, points, &experiment, out).await
        }
        Workload::BulkInterval { run_ids, seconds, min_requests, max_results, prefix } => {
            bulk_interval(target, run_ids, seconds, min_requests, max_results, &prefix).await
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ferroflow-loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferroflow-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_batches_are_json_with_one_point_per_key_and_step() {
        let keys = vec!["a".to_string(), "b".to_string()];
        let body: Value = serde_json::from_str(&metric_batch("r1", &keys, 10, 3, &mut Rng(1))).unwrap();
        let metrics = body["metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 6);
        assert_eq!(metrics[0]["step"], 10);
        assert_eq!(metrics[5]["step"], 12);
        assert_eq!(body["run_id"], "r1");
    }

    #[test]
    fn run_payloads_carry_20_params_and_10_metrics() {
        let body: Value = serde_json::from_str(&run_payload("r1", 6)).unwrap();
        assert_eq!(body["params"].as_array().unwrap().len(), 20);
        assert_eq!(body["params"][0]["value"], "c");
        let metrics = body["metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 10);
        assert_eq!(metrics[3]["value"].as_f64().unwrap(), run_metrics(6)[3]);
    }

    #[test]
    fn the_expected_search_answer_is_filtered_and_ordered() {
        let m1 = expected_search(2000, 100);
        assert!(!m1.is_empty() && m1.len() <= 100);
        assert!(m1.windows(2).all(|w| w[0] >= w[1]));
        let all = expected_search(2000, usize::MAX);
        // About a quarter of the runs have p0 = 'a', and about half of those m0 > 0.5.
        assert!((150..350).contains(&all.len()), "{}", all.len());
    }

    #[test]
    fn only_loopback_targets_are_accepted() {
        assert!(Target::parse("http://127.0.0.1:5000", "/api", None).is_ok());
        assert!(Target::parse("http://[::1]:5000", "/api", None).is_ok());
        assert!(Target::parse("http://10.0.0.1:5000", "/api", None).is_err());
        assert!(Target::parse("https://127.0.0.1:5000", "/api", None).is_err());
    }
}
