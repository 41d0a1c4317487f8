//! The client subcommands (`runs`, `gate`, `models`, `reproduce`, `artifacts`,
//! `completions`) as a CI job runs them: the real binary, against a ferroflow server and
//! against a real `mlflow server`, both filled by the real `mlflow` client
//! (`tests/data/cli_fill.py`, from `.venv/mlflow3`, made by `scripts/setup-python.sh`).
//! Every registry effect is checked through the server's REST API, not through the CLI.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The mlflow 3 venv's Python; `None` (the test says it skipped) when it is not set up,
/// except in CI, where a missing venv is a failure.
fn mlflow_python() -> Option<PathBuf> {
    let python = repo_root().join(".venv/mlflow3/bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(std::env::var_os("CI").is_none(), "{} is missing: run scripts/setup-python.sh", python.display());
    eprintln!("SKIPPED: {} is missing (run scripts/setup-python.sh)", python.display());
    None
}

/// A real `mlflow server` in its own process group (it starts workers), stopped on drop.
struct MlflowServer {
    child: std::process::Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        std::thread::sleep(Duration::from_millis(300));
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
    }
}

async fn mlflow_server() -> MlflowServer {
    use std::os::unix::process::CommandExt;
    let data = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let log = std::fs::File::create(data.path().join("server.log")).unwrap();
    let child = Command::new(repo_root().join(".venv/mlflow3/bin/mlflow"))
        .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", data.path().join("mlflow.db").display()))
        .arg("--artifacts-destination")
        .arg(data.path().join("artifacts"))
        .current_dir(data.path())
        .env_remove("MLFLOW_TRACKING_URI")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("start mlflow server");
    let mut server = MlflowServer { child, base: format!("http://127.0.0.1:{port}"), _data: data };
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(response) = reqwest::get(format!("{}/health", server.base)).await {
            if response.status().is_success() {
                return server;
            }
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            let log = std::fs::read_to_string(server._data.path().join("server.log")).unwrap_or_default();
            panic!("mlflow server exited with {status}: {log}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("mlflow server did not become healthy");
}

/// What the fill script logged: run name → run id, and the git repository's commit.
struct Filled {
    ids: Value,
    repo: PathBuf,
    _dir: tempfile::TempDir,
}

impl Filled {
    fn id(&self, name: &str) -> String {
        self.ids[name].as_str().unwrap_or_else(|| panic!("no {name} in {}", self.ids)).to_string()
    }
}

fn fill(python: &Path, uri: &str) -> Filled {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    // Run from a copy outside this repository, or mlflow would tag every run with its commit.
    let script = dir.path().join("cli_fill.py");
    std::fs::copy(repo_root().join("crates/ferroflow/tests/data/cli_fill.py"), &script).unwrap();
    let out = Command::new(python)
        .arg(&script)
        .arg(&repo)
        .env("MLFLOW_TRACKING_URI", uri)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "cli_fill.py failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // mlflow prints "View run …" lines to stdout too; the ids are the last line.
    let ids = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    Filled { ids, repo, _dir: dir }
}

/// `ferroflow ARGS` against `uri`, as a CI log would run it (no TTY, no colour).
fn ff(uri: &str, args: &[&str]) -> Output {
    ff_env(uri, args, &[])
}

fn ff_env(uri: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferroflow"))
        .args(args)
        .env("MLFLOW_TRACKING_URI", uri)
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts the exit code; returns stdout.
#[track_caller]
fn expect(out: Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

#[track_caller]
fn json(out: Output, code: i32) -> Value {
    let text = expect(out, code);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The registry as the server's REST API tells it (independent of the CLI under test).
struct Registry {
    base: String,
}

impl Registry {
    async fn get(&self, rpc: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let response = reqwest::Client::new()
            .get(reqwest::Url::parse_with_params(&format!("{}/api/2.0/mlflow/{rpc}", self.base), query).unwrap())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The version `alias` points at, `None` when it points nowhere.
    async fn alias(&self, model: &str, alias: &str) -> Option<String> {
        let (status, body) = self.get("registered-models/alias", &[("name", model), ("alias", alias)]).await;
        (status == 200).then(|| body["model_version"]["version"].as_str().unwrap().to_string())
    }

    async fn version(&self, model: &str, version: &str) -> Value {
        let (status, body) = self.get("model-versions/get", &[("name", model), ("version", version)]).await;
        assert_eq!(status, 200, "{body}");
        body["model_version"].clone()
    }

    async fn version_count(&self, model: &str) -> usize {
        let filter = format!("name = '{model}'");
        let (_, body) = self.get("model-versions/search", &[("filter", &filter)]).await;
        body["model_versions"].as_array().map_or(0, Vec::len)
    }

    async fn model(&self, model: &str) -> Value {
        self.get("registered-models/get", &[("name", model)]).await.1["registered_model"].clone()
    }
}

fn tag<'a>(entity: &'a Value, key: &str) -> Option<&'a str> {
    entity["tags"].as_array()?.iter().find(|t| t["key"] == key)?["value"].as_str()
}

#[tokio::test(flavor = "multi_thread")]
async fn client_subcommands_against_ferroflow() {
    let Some(python) = mlflow_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = common::Server::start(&common::DataPaths::in_dir(dir.path())).await;
    let filled = tokio::task::block_in_place(|| fill(&python, &server.base));
    exercise(&server.base, &filled).await;
    offline_commands();
}

#[tokio::test(flavor = "multi_thread")]
async fn client_subcommands_against_mlflow() {
    let Some(python) = mlflow_python() else { return };
    let server = mlflow_server().await;
    let filled = tokio::task::block_in_place(|| fill(&python, &server.base));
    exercise(&server.base, &filled).await;
}

/// Every subcommand against one filled server; the gate cases run in an order where each
/// failure would have moved the alias if it were (wrongly) a pass.
async fn exercise(uri: &str, filled: &Filled) {
    let registry = Registry { base: uri.to_string() };
    let (good, baseline, tied, weak, no_f1) =
        (filled.id("good"), filled.id("baseline"), filled.id("tied"), filled.id("weak"), filled.id("no-f1"));
    runs_subcommands(uri, filled).await;

    // --- The gate's truth table. Before: churn v1 (the baseline run) is @champion.
    assert_eq!(registry.alias("churn", "champion").await.as_deref(), Some("1"));
    let promote = ["--register", "churn", "--alias", "champion"];
    let gate = |args: &[&str], extra: &[&str]| {
        let mut all = vec!["gate"];
        all.extend_from_slice(args);
        all.extend_from_slice(extra);
        ff(uri, &all)
    };

    // Threshold missed.
    let text = expect(gate(&["--run", &good, "--require", "metrics.f1 >= 0.95"], &promote), 1);
    assert!(text.contains("FAIL") && text.contains("metrics.f1 = 0.93") && text.contains("gate FAILED"), "{text}");
    // A metric the candidate did not log.
    let out = json(gate(&["--run", &no_f1, "--require", "metrics.f1 >= 0.5", "--format", "json"], &promote), 1);
    assert_eq!(out["decision"], "fail");
    assert_eq!(out["checks"][1]["actual"], "metrics.f1: not logged");
    // Baseline tied (tied's f1 equals the champion's).
    let tie =
        ["--run", &tied, "--baseline", "models:/churn@champion", "--min-improvement", "f1=0.01", "--format", "json"];
    let out = json(gate(&tie, &promote), 1);
    let improvement = &out["checks"][2];
    assert_eq!(improvement["passed"], false, "{out}");
    assert!(improvement["actual"].as_str().unwrap().contains("(tied)"), "{out}");
    // Baseline beaten but a threshold missed.
    let both = ["--run", &good, "--require", "metrics.loss < 0.2", "--baseline", "models:/churn@champion"];
    expect(gate(&both, &["--min-improvement", "f1=0.01", "--register", "churn", "--alias", "champion"]), 1);
    // The baseline's metric is missing.
    let out = json(
        gate(
            &["--run", &good, "--baseline", "models:/churn@champion", "--min-improvement", "auc=0", "--format", "json"],
            &[],
        ),
        1,
    );
    assert_eq!(out["checks"][2]["actual"], "candidate did not log it", "{out}");
    assert_eq!(registry.alias("churn", "champion").await.as_deref(), Some("1"), "no failure may move the alias");
    assert_eq!(registry.version_count("churn").await, 1, "no failure may register a version");

    // Baseline missing: nothing to beat (a pass), unless --require-baseline (a fail).
    let missing = ["--run", &tied, "--baseline", "models:/churn@challenger", "--min-improvement", "f1=0.01"];
    let text = expect(gate(&missing, &["--register", "churn", "--alias", "challenger", "--dry-run"]), 0);
    assert!(text.contains("does not exist: nothing to beat") && text.contains("dry run: would register"), "{text}");
    expect(gate(&missing, &["--require-baseline"]), 1);
    let also_missing = ["--run", &weak, "--baseline", "models:/no-such-model/1", "--min-improvement", "f1=0"];
    expect(gate(&also_missing, &[]), 0);
    // A dry run that passes registers nothing.
    let beat =
        ["--baseline", "models:/churn@champion", "--min-improvement", "f1=0.01", "--min-improvement", "loss=10%"];
    let mut dry = vec!["--run", good.as_str()];
    dry.extend_from_slice(&beat);
    let out = json(gate(&dry, &["--register", "churn", "--alias", "champion", "--dry-run", "--format", "json"]), 0);
    assert_eq!(
        (out["decision"].as_str(), out["dry_run"].as_bool(), &out["registered"]),
        (Some("pass"), Some(true), &Value::Null)
    );
    assert_eq!(registry.alias("churn", "challenger").await, None);
    assert_eq!(registry.alias("churn", "champion").await.as_deref(), Some("1"));
    assert_eq!(registry.version_count("churn").await, 1);

    // Threshold met and baseline beaten, the candidate found by search: registered,
    // aliased, staged, and the decision recorded on the version.
    let mut pass = vec!["--experiment", "churn", "--order-by", "metrics.f1 DESC", "--require", "metrics.f1 >= 0.9"];
    pass.extend_from_slice(&beat);
    let out =
        json(gate(&pass, &["--register", "churn", "--alias", "champion", "--stage", "Staging", "--format", "json"]), 0);
    assert_eq!(out["decision"], "pass");
    assert_eq!(out["candidate"]["run_id"], good.as_str());
    assert_eq!(out["baseline"]["version"], "1");
    assert!(out["checks"].as_array().unwrap().iter().all(|c| c["passed"] == true), "{out}");
    assert_eq!(out["registered"]["version"], "2");
    assert_eq!(registry.alias("churn", "champion").await.as_deref(), Some("2"));
    let v2 = registry.version("churn", "2").await;
    assert_eq!(v2["run_id"], good.as_str());
    assert_eq!(v2["current_stage"], "Staging");
    assert_eq!(tag(&v2, "ferroflow.gate.decision"), Some("passed"));
    assert_eq!(tag(&v2, "ferroflow.gate.run_id"), Some(good.as_str()));
    assert_eq!(tag(&v2, "ferroflow.gate.baseline"), Some("models:/churn@champion (version 1)"));
    let checks: Value = serde_json::from_str(tag(&v2, "ferroflow.gate.checks").unwrap()).unwrap();
    assert_eq!(checks.as_array().unwrap().len(), 5);
    // The same run again: now it ties with itself as champion, so it fails.
    let mut again = vec!["--run", good.as_str()];
    again.extend_from_slice(&beat);
    expect(gate(&again, &promote), 1);
    assert_eq!(registry.version_count("churn").await, 2);
    // Lower-is-better, declared and inferred: loss 0.25 beats 0.30 by 16.7%, not by 20%.
    let loss = ["--run", &good, "--baseline", "models:/churn/1", "--min-improvement"];
    expect(gate(&loss, &["loss=10%"]), 0);
    expect(gate(&loss, &["loss=20%"]), 1);
    expect(gate(&loss, &["loss=10%", "--direction", "loss=max"]), 1);
    expect(gate(&loss, &["loss=10%", "--higher-is-better", "loss"]), 1);
    expect(gate(&loss, &["f1=1%", "--lower-is-better", "f1"]), 1);
    // A stage names its newest version (v2, the candidate itself: a tie).
    expect(gate(&["--run", &good, "--baseline", "models:/churn/Staging", "--min-improvement", "f1=0"], &[]), 0);
    expect(gate(&["--run", &good, "--baseline", "models:/churn/Staging", "--min-improvement", "f1=0.001"], &[]), 1);
    let csv = expect(gate(&["--run", &weak, "--require", "metrics.f1 >= 0.9", "--format", "csv"], &[]), 1);
    assert_eq!(csv.lines().next(), Some("check,expected,actual,result"), "{csv}");
    assert!(csv.contains("require,metrics.f1 >= 0.9,metrics.f1 = 0.85,FAIL"), "{csv}");
    expect(gate(&["--run", &baseline, "--require", "params.C = '1.0'", "--require", "metrics.val_loss < 0.5"], &[]), 0);

    // Errors are exit 2, never a verdict: server down, unknown run, bad condition, usage.
    let port = common::free_port().to_string();
    let down = ff_env(
        uri,
        &["gate", "--run", &good, "--require", "metrics.f1 > 0", "--tracking-uri", &format!("http://127.0.0.1:{port}")],
        &[("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")],
    );
    assert!(String::from_utf8_lossy(&down.stderr).contains("cannot reach"), "{down:?}");
    assert_eq!(expect(down, 2), "", "no verdict is printed when the server is down");
    expect(gate(&["--run", "0123456789abcdef0123456789abcdef", "--require", "metrics.f1 > 0"], &[]), 2);
    expect(gate(&["--run", &good, "--require", "metrics.f1 >>> 1"], &[]), 2);
    expect(gate(&["--run", &good, "--baseline", "models:/churn@champion"], &[]), 2);
    expect(gate(&["--run", &good, "--require", "metrics.f1 > 0", "--alias", "x"], &[]), 2);
    expect(gate(&["--experiment", "no-such-experiment", "--require", "metrics.f1 > 0"], &[]), 2);
    expect(gate(&["--run", &good, "--baseline", "runs:/x/model", "--min-improvement", "f1=0"], &[]), 2);
    assert_eq!(registry.alias("churn", "champion").await.as_deref(), Some("2"));

    models_subcommands(uri, &registry).await;
    terminal_output(uri);
    reproduce_subcommand(uri, filled);
    artifacts_subcommands(uri, &good);
}

async fn runs_subcommands(uri: &str, filled: &Filled) {
    let (good, baseline, weak) = (filled.id("good"), filled.id("baseline"), filled.id("weak"));
    let text = expect(ff(uri, &["runs", "list", "--experiment", "churn", "--order-by", "metrics.f1 DESC"]), 0);
    assert!(text.contains("metrics.f1") && text.contains("params.C") && text.contains("5 run(s)"), "{text}");
    let first_row = text.lines().find(|l| l.contains(&good)).unwrap();
    assert!(first_row.contains("good") && first_row.contains("0.93") && first_row.contains("FINISHED"), "{text}");
    let runs = json(ff(uri, &["runs", "list", "-e", "churn", "--order-by", "metrics.f1 DESC", "--format", "json"]), 0);
    let names: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["info"]["run_name"].as_str().unwrap()).collect();
    assert_eq!(names[0], "good");
    assert_eq!(names.len(), 5);
    let filtered =
        json(ff(uri, &["runs", "list", "-e", "churn", "--filter", "metrics.f1 > 0.88", "--format", "json"]), 0);
    assert_eq!(filtered.as_array().unwrap().len(), 3);
    let csv = expect(
        ff(
            uri,
            &["runs", "list", "-e", "churn", "--order-by", "metrics.f1 ASC", "--max-results", "2", "--format", "csv"],
        ),
        0,
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "run_id,name,status,started,duration,metrics.f1,metrics.loss,params.C,params.seed");
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with(&format!("{weak},weak,FINISHED,")), "{csv}");
    let experiment_id = runs[0]["info"]["experiment_id"].as_str().unwrap().to_string();
    assert_eq!(
        json(ff(uri, &["runs", "list", "-e", &experiment_id, "--format", "json"]), 0).as_array().unwrap().len(),
        5
    );
    expect(ff(uri, &["runs", "list", "-e", "no-such-experiment"]), 2);

    let shown = json(ff(uri, &["runs", "show", &good, "--format", "json"]), 0);
    assert_eq!(shown["info"]["run_id"], good.as_str());
    assert!(shown["data"]["metrics"].as_array().unwrap().iter().any(|m| m["key"] == "f1" && m["value"] == 0.93));
    let text = expect(ff(uri, &["runs", "show", &good]), 0);
    assert!(
        text.contains("Metrics (latest values)") && text.contains("Params") && text.contains("mlflow.runName"),
        "{text}"
    );
    let csv = expect(ff(uri, &["runs", "show", &good, "--format", "csv"]), 0);
    assert!(
        csv.starts_with("section,key,value\r\n")
            && csv.contains("metric,f1,0.93\r\n")
            && csv.contains("param,C,0.5\r\n"),
        "{csv}"
    );
    expect(ff(uri, &["runs", "show", "0123456789abcdef0123456789abcdef"]), 2);

    let compared = json(ff(uri, &["runs", "compare", &good, &baseline, &weak, "--format", "json"]), 0);
    let f1 = compared["rows"].as_array().unwrap().iter().find(|r| r["key"] == "metrics.f1").unwrap();
    assert_eq!(f1["values"], serde_json::json!(["0.93", "0.9", "0.85"]));
    assert_eq!(f1["differs"], true);
    let seed = compared["rows"].as_array().unwrap().iter().find(|r| r["key"] == "params.seed").unwrap();
    assert_eq!(seed["differs"], false);
    let csv = expect(ff(uri, &["runs", "compare", &good, &baseline, "--only-differences", "--format", "csv"]), 0);
    assert!(csv.starts_with(&format!("key,{good},{baseline}\r\n")), "{csv}");
    assert!(csv.contains("params.C,0.5,1.0\r\n") && !csv.contains("params.seed"), "{csv}");
    let table = expect(ff(uri, &["runs", "compare", &good, &baseline]), 0);
    assert!(table.contains("metrics.val_loss") && table.contains("params.seed"), "{table}");
    expect(ff(uri, &["runs", "compare", &good]), 2);

    let diff = json(ff(uri, &["runs", "diff", &good, &baseline, "--format", "json"]), 0);
    let found: Vec<(String, String, String, String)> = diff["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap_or("-").to_string();
            (s("kind"), s("key"), s("a"), s("b"))
        })
        .collect();
    let has = |kind: &str, key: &str, a: &str, b: &str| found.contains(&(kind.into(), key.into(), a.into(), b.into()));
    assert!(has("param", "C", "0.5", "1.0"), "{diff}");
    assert!(has("metric", "f1", "0.93", "0.9") && has("metric", "val_loss", "-", "0.4"), "{diff}");
    let val_loss = diff["differences"].as_array().unwrap().iter().find(|d| d["key"] == "val_loss").unwrap();
    assert_eq!(val_loss["a"], Value::Null, "a value a run does not have is null: {diff}");
    assert!(has("tag", "mlflow.runName", "good", "baseline"), "{diff}");
    assert!(!found.iter().any(|d| d.1 == "seed"), "equal params are not differences: {diff}");
    let git_diff = json(ff(uri, &["runs", "diff", &good, &filled.id("git"), "--format", "json"]), 0);
    let commit = filled.id("repo_commit");
    assert!(
        git_diff["differences"].as_array().unwrap().iter().any(|d| d["kind"] == "git" && d["b"] == commit.as_str()),
        "{git_diff}"
    );
    let table = expect(ff(uri, &["runs", "diff", &good, &good]), 0);
    assert!(table.contains("no differences"), "{table}");
}

async fn models_subcommands(uri: &str, registry: &Registry) {
    let listed = json(ff(uri, &["models", "list", "--format", "json"]), 0);
    assert_eq!(listed.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect::<Vec<_>>(), ["churn"]);
    let text = expect(ff(uri, &["models", "list"]), 0);
    assert!(text.contains("churn") && text.contains("champion→2") && text.contains("1 model(s)"), "{text}");
    let csv = expect(ff(uri, &["models", "list", "--format", "csv"]), 0);
    assert!(csv.starts_with("name,latest versions,aliases,tags,updated\r\nchurn,"), "{csv}");
    let shown = json(ff(uri, &["models", "show", "churn", "--format", "json"]), 0);
    let versions: Vec<&str> =
        shown["model_versions"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["2", "1"]);
    let text = expect(ff(uri, &["models", "show", "churn"]), 0);
    assert!(text.contains("Versions") && text.contains("Staging") && text.contains("champion"), "{text}");
    let csv = expect(ff(uri, &["models", "show", "churn", "--format", "csv"]), 0);
    assert!(csv.starts_with("version,stage,aliases,run_id,status,created,tags\r\n2,Staging,champion,"), "{csv}");
    expect(ff(uri, &["models", "show", "no-such-model"]), 2);

    let promoted = json(
        ff(uri, &["models", "promote", "churn", "1", "--alias", "old", "--stage", "Archived", "--format", "json"]),
        0,
    );
    assert_eq!(promoted["model_version"]["current_stage"], "Archived");
    assert_eq!(registry.alias("churn", "old").await.as_deref(), Some("1"));
    assert_eq!(registry.version("churn", "1").await["current_stage"], "Archived");
    expect(ff(uri, &["models", "promote", "churn", "9", "--alias", "x"]), 2);
    expect(ff(uri, &["models", "promote", "churn", "1"]), 2);
    expect(ff(uri, &["models", "promote", "churn", "2", "--stage", "Production", "--archive-existing"]), 0);
    assert_eq!(registry.version("churn", "2").await["current_stage"], "Production");

    expect(ff(uri, &["models", "alias", "set", "churn", "challenger", "1"]), 0);
    assert_eq!(registry.alias("churn", "challenger").await.as_deref(), Some("1"));
    let got = json(ff(uri, &["models", "alias", "get", "churn", "challenger", "--format", "json"]), 0);
    assert_eq!(got["model_version"]["version"], "1");
    expect(ff(uri, &["models", "alias", "delete", "churn", "challenger"]), 0);
    assert_eq!(registry.alias("churn", "challenger").await, None);
    expect(ff(uri, &["models", "alias", "get", "churn", "challenger"]), 2);

    expect(ff(uri, &["models", "tag", "churn", "--version", "1", "validated=yes", "owner=ana"]), 0);
    let v1 = registry.version("churn", "1").await;
    assert_eq!((tag(&v1, "validated"), tag(&v1, "owner")), (Some("yes"), Some("ana")));
    expect(ff(uri, &["models", "tag", "churn", "--version", "1", "--delete", "validated"]), 0);
    assert_eq!(tag(&registry.version("churn", "1").await, "validated"), None);
    expect(ff(uri, &["models", "tag", "churn", "team=ml"]), 0);
    assert_eq!(tag(&registry.model("churn").await, "team"), Some("ml"));
    expect(ff(uri, &["models", "tag", "churn"]), 2);
    expect(ff(uri, &["models", "tag", "churn", "novalue"]), 2);
}

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(repo).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn reproduce_subcommand(uri: &str, filled: &Filled) {
    let run = filled.id("git");
    let commit = filled.id("repo_commit");
    // The repository is as the run left it: committed, plus an uncommitted change.
    assert_eq!(git(&filled.repo, &["rev-parse", "HEAD"]), commit);
    assert!(!git(&filled.repo, &["status", "--porcelain"]).is_empty());

    let out = json(ff(uri, &["reproduce", &run, "--format", "json"]), 0);
    let item = |id: &str| out["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap().clone();
    assert_eq!(item("git-commit")["status"], "recorded");
    assert_eq!(item("git-commit")["values"][0], commit.as_str());
    assert_eq!(item("git-dirty")["status"], "partial");
    assert_eq!(item("git-dirty")["source"], "tag mlflow.source.git.dirty");
    let entry = item("entry-point")["values"][0].as_str().unwrap().to_string();
    assert!(entry.starts_with("source: ") && entry.contains("train.py"), "{entry}");
    assert_eq!(item("seed")["values"], serde_json::json!(["param random_seed = 7"]));
    assert_eq!(item("datasets")["status"], "recorded");
    assert!(item("datasets")["values"][0].as_str().unwrap().starts_with("train: "), "{out}");
    assert_eq!(item("python")["status"], "recorded");
    let requirements: Vec<String> =
        item("requirements")["values"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert!(requirements.iter().any(|r| r.starts_with("scikit-learn==")), "{requirements:?}");
    assert!(item("libraries")["values"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v.as_str().unwrap().starts_with("mlflow==3.")));
    assert_eq!(out["params"], serde_json::json!({"C": "0.5", "random_seed": "7"}));

    let text = expect(ff(uri, &["reproduce", &run]), 0);
    assert!(text.contains(&commit) && text.contains("dirty: the working tree had uncommitted changes"), "{text}");
    let csv = expect(ff(uri, &["reproduce", &run, "--format", "csv"]), 0);
    assert!(
        csv.starts_with("item,status,value,source\r\n") && csv.contains(&format!("git-commit,recorded,{commit},")),
        "{csv}"
    );

    // Checkout (the repository found from the recorded source file) and the environment.
    let work = tempfile::tempdir().unwrap();
    let (tree, env) = (work.path().join("rerun"), work.path().join("env"));
    let text = expect(
        Command::new(env!("CARGO_BIN_EXE_ferroflow"))
            .args(["reproduce", &run, "--checkout"])
            .arg(&tree)
            .arg("--write-env")
            .arg(&env)
            .env("MLFLOW_TRACKING_URI", uri)
            .current_dir(work.path())
            .output()
            .unwrap(),
        0,
    );
    assert!(text.contains("which are not in this checkout"), "{text}");
    assert_eq!(git(&tree, &["rev-parse", "HEAD"]), commit);
    assert_eq!(
        std::fs::read_to_string(tree.join("README.md")).unwrap(),
        "committed\n",
        "the commit, without the dirty change"
    );
    assert!(std::fs::read_to_string(filled.repo.join("README.md")).unwrap().contains("uncommitted change"));
    let params: Value = serde_json::from_str(&std::fs::read_to_string(env.join("params.json")).unwrap()).unwrap();
    assert_eq!(params, serde_json::json!({"C": "0.5", "random_seed": "7"}));
    let written = std::fs::read_to_string(env.join("requirements.txt")).unwrap();
    assert_eq!(written.lines().collect::<Vec<_>>(), requirements);
    assert_eq!(
        std::fs::read_to_string(env.join(".python-version")).unwrap().trim(),
        item("python")["values"][0].as_str().unwrap()
    );
    git(&filled.repo, &["worktree", "remove", "--force", tree.to_str().unwrap()]);

    // A run with nothing recorded says so, plainly.
    let bare = json(ff(uri, &["reproduce", &filled.id("weak"), "--format", "json"]), 0);
    let missing: Vec<&str> = bare["missing"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert!(missing.contains(&"Git commit") && missing.contains(&"Dataset digests"), "{bare}");
    let text = expect(ff(uri, &["reproduce", &filled.id("weak")]), 0);
    assert!(
        text.contains("Missing for a faithful re-run: Git commit")
            && text.contains("not recorded (tag mlflow.source.git.commit)"),
        "{text}"
    );
    let no_repo = tempfile::tempdir().unwrap();
    let refused = ff(uri, &["reproduce", &filled.id("weak"), "--checkout", no_repo.path().join("x").to_str().unwrap()]);
    expect(refused, 2);
}

fn artifacts_subcommands(uri: &str, good: &str) {
    let listed = json(ff(uri, &["artifacts", "list", good, "--format", "json"]), 0);
    let mut top: Vec<(&str, bool)> = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["is_dir"].as_bool().unwrap_or(false)))
        .collect();
    top.sort();
    assert_eq!(top, [("data", true), ("reports", true)]);
    let csv = expect(ff(uri, &["artifacts", "list", good, "data", "--format", "csv"]), 0);
    assert_eq!(csv, "path,kind,bytes\r\ndata/big.bin,file,5000000\r\n");

    let dst = tempfile::tempdir().unwrap();
    let out = ff(uri, &["artifacts", "download", good, "--dst", dst.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr, "downloaded 2 file(s), 5000008 bytes\n", "no progress bar off a terminal");
    let text = expect(out, 0);
    assert_eq!(text.lines().count(), 2, "{text}");
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    assert!(std::fs::read(dst.path().join("data/big.bin")).unwrap() == big, "the large file arrives intact");
    assert_eq!(std::fs::read_to_string(dst.path().join("reports/summary.txt")).unwrap(), "f1 0.93\n");
    let one = tempfile::tempdir().unwrap();
    expect(ff(uri, &["artifacts", "download", good, "reports/summary.txt", "--dst", one.path().to_str().unwrap()]), 0);
    assert!(one.path().join("reports/summary.txt").exists());
    assert!(!one.path().join("data").exists());
    expect(ff(uri, &["artifacts", "download", good, "nothing/here", "--dst", one.path().to_str().unwrap()]), 2);

    // On a terminal, the large file gets a progress bar (named by its path in the run).
    if Command::new("script").arg("--version").output().is_ok() {
        let tty = tempfile::tempdir().unwrap();
        let binary = env!("CARGO_BIN_EXE_ferroflow");
        let command = format!("stty cols 100; {binary} artifacts download {good} --dst {}", tty.path().display());
        let out = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("MLFLOW_TRACKING_URI", uri)
            .output()
            .unwrap();
        let text = expect(out, 0);
        assert!(text.contains("data/big.bin") && text.contains("4.77 MiB"), "{text}");
        assert!(!text.contains("reports/summary.txt ["), "small files get no bar: {text}");
        assert!(std::fs::read(tty.path().join("data/big.bin")).unwrap() == big);
    }
}

/// What needs no server: completions and help.
fn offline_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let script = expect(ff("http://unused", &["completions", shell]), 0);
        assert!(
            script.contains("gate") && script.contains("reproduce") && script.contains("min-improvement"),
            "{shell}"
        );
    }
    expect(ff("http://unused", &["completions", "tcsh"]), 2);
    // The bash script loads, and completes the subcommands.
    let binary = env!("CARGO_BIN_EXE_ferroflow");
    let script = format!(
        "source <({binary} completions bash)\ncomplete -p ferroflow\n\
         COMP_WORDS=(ferroflow ga); COMP_CWORD=1; COMP_LINE='ferroflow ga'; COMP_POINT=12\n\
         _ferroflow ferroflow ga ferroflow\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    );
    let loaded = Command::new("bash").args(["-c", &script]).output().unwrap();
    let text = expect(loaded, 0);
    assert!(text.contains("-F _ferroflow ferroflow") && text.lines().any(|l| l == "gate"), "{text}");
    for command in [
        &["runs", "list"][..],
        &["runs", "show"],
        &["runs", "compare"],
        &["runs", "diff"],
        &["gate"],
        &["models", "list"],
        &["models", "show"],
        &["models", "promote"],
        &["models", "alias"],
        &["models", "tag"],
        &["reproduce"],
        &["artifacts", "download"],
        &["artifacts", "list"],
        &["completions"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let help = expect(ff("http://unused", &args), 0);
        assert!(
            help.contains("Examples:") && help.contains("ferroflow "),
            "{command:?} --help has no examples:\n{help}"
        );
    }
}

/// A server that answers every request with `status` and an MLflow error body, and
/// counts the requests.
fn failing_server(status: &'static str) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = requests.clone();
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buffer = [0u8; 8192];
            let _ = socket.read(&mut buffer);
            let body = r#"{"error_code":"INTERNAL_ERROR","message":"the database is on fire"}"#;
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes());
        }
    });
    (uri, requests)
}

/// A server error is exit 2 with no verdict, whatever the command (retries off to keep it quick).
#[test]
fn server_errors_are_exit_2_never_a_verdict() {
    let no_retries = [("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")];
    for status in ["500 Internal Server Error", "503 Service Unavailable"] {
        let (uri, _) = failing_server(status);
        for args in [
            &["gate", "--run", "r1", "--require", "metrics.f1 > 0"][..],
            &["gate", "--experiment", "churn", "--require", "metrics.f1 > 0", "--format", "json"],
            &["runs", "list", "-e", "churn"],
            &["models", "list", "--format", "json"],
        ] {
            let out = ff_env(&uri, args, &no_retries);
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(
                stderr.contains("INTERNAL_ERROR") && stderr.contains("the database is on fire"),
                "{args:?}: {stderr}"
            );
            assert_eq!(expect(out, 2), "", "{args:?} printed a result");
        }
    }
    // Retries are MLflow's: with two allowed, a 503 server is asked three times.
    let (uri, requests) = failing_server("503 Service Unavailable");
    let started = Instant::now();
    let out = ff_env(
        &uri,
        &["runs", "show", "r1"],
        &[
            ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"),
            ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0"),
            ("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0"),
        ],
    );
    expect(out, 2);
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert!(started.elapsed() < Duration::from_secs(10));
    // MLflow's own limit on the retry count is a usage error.
    expect(ff_env(&uri, &["runs", "show", "r1"], &[("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "11")]), 2);
    expect(
        Command::new(env!("CARGO_BIN_EXE_ferroflow"))
            .args(["runs", "show", "r1"])
            .env_remove("MLFLOW_TRACKING_URI")
            .output()
            .unwrap(),
        2,
    );
}

/// Tables: no escape codes off a terminal (even without NO_COLOR); on a terminal (under
/// `script`), colour, and lines that fit its width.
fn terminal_output(uri: &str) {
    let plain = Command::new(env!("CARGO_BIN_EXE_ferroflow"))
        .args(["runs", "list", "-e", "churn"])
        .env("MLFLOW_TRACKING_URI", uri)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(!expect(plain, 0).contains('\x1b'), "colour off a terminal");
    let narrow = expect(
        Command::new(env!("CARGO_BIN_EXE_ferroflow"))
            .args(["runs", "list", "-e", "churn"])
            .env("MLFLOW_TRACKING_URI", uri)
            .env("COLUMNS", "80")
            .output()
            .unwrap(),
        0,
    );
    assert!(narrow.lines().all(|l| l.chars().count() <= 80), "COLUMNS=80:\n{narrow}");
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED the TTY check: util-linux `script` is missing");
        return;
    }
    let binary = env!("CARGO_BIN_EXE_ferroflow");
    let out = Command::new("script")
        .args(["-qec", &format!("stty cols 90; {binary} runs list -e churn"), "/dev/null"])
        .env("MLFLOW_TRACKING_URI", uri)
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    let text = expect(out, 0);
    assert!(text.contains("\x1b["), "a terminal gets colour:\n{text}");
    let strip = |line: &str| {
        let mut out = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else if c != '\r' {
                out.push(c);
            }
        }
        out
    };
    for line in text.lines() {
        assert!(strip(line).chars().count() <= 90, "wider than the terminal: {}", strip(line));
    }
}
