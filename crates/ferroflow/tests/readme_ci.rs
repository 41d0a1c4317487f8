//! The README's CI/CD snippets, run as the shell scripts they are: the GitHub Actions job's
//! `run:` steps and the GitLab CI job's `script:` lines (their install steps left out: the
//! test puts the built `ferroflow` and the mlflow 3 venv on PATH itself), in order, with
//! `set -e`, against a local ferroflow server — then the registry is checked.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The fenced blocks of the README's CI/CD section whose first line is `# <name>`.
fn snippet(name: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme.find("\n## CI/CD").expect("README has a CI/CD section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let marker = format!("# {name}\n");
    section
        .split("```")
        .skip(1)
        .step_by(2)
        .filter_map(|block| block.split_once('\n').map(|(_, body)| body))
        .find(|body| body.starts_with(&marker))
        .unwrap_or_else(|| panic!("no {name} snippet in the README's CI/CD section"))
        .to_string()
}

fn yaml(text: &str) -> Yaml {
    YamlLoader::load_from_str(text).unwrap().remove(0)
}

/// The GitHub Actions job's shell steps, in order, without the install steps.
fn github_steps() -> Vec<String> {
    let doc = yaml(&snippet(".github/workflows/train.yml"));
    let jobs = doc["jobs"].as_hash().expect("jobs");
    assert_eq!(jobs.len(), 1);
    let steps = jobs.values().next().unwrap()["steps"].as_vec().expect("steps").clone();
    let runs: Vec<String> = steps
        .iter()
        .filter(|s| !s["name"].as_str().unwrap_or_default().starts_with("Install"))
        .filter_map(|s| s["run"].as_str().map(str::to_string))
        .collect();
    assert!(runs.len() >= 2, "{runs:?}");
    runs
}

/// The GitLab job's `script:` lines as one script (`before_script`, the install, left out).
fn gitlab_script() -> String {
    let doc = yaml(&snippet(".gitlab-ci.yml"));
    let job = doc["train-and-promote"]["script"].as_vec().expect("script").clone();
    job.iter().map(|line| line.as_str().unwrap().trim_end().to_string()).collect::<Vec<_>>().join("\n")
}

/// Runs `script` with bash `set -e` in `dir`; returns its exit code.
fn sh(dir: &Path, uri: &str, script: &str) -> i32 {
    let venv_bin = repo_root().join(".venv/mlflow3/bin");
    let ferroflow_dir = Path::new(env!("CARGO_BIN_EXE_ferroflow")).parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        [ferroflow_dir, venv_bin]
            .into_iter()
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let out = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("MLFLOW_TRACKING_URI", uri)
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .output()
        .unwrap();
    eprintln!(
        "--- {script}\nexit {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr).lines().rev().take(15).collect::<Vec<_>>().join("\n")
    );
    out.status.code().unwrap_or(-1)
}

/// A folder with the README's train.py, as a checked-out repository would have it.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train.py"), snippet("train.py")).unwrap();
    dir
}

async fn champion(uri: &str) -> Option<String> {
    let url = format!("{uri}/api/2.0/mlflow/registered-models/alias?name=churn&alias=champion");
    let response = reqwest::get(url).await.unwrap();
    let ok = response.status().is_success();
    let body: serde_json::Value = response.json().await.unwrap();
    ok.then(|| body["model_version"]["version"].as_str().unwrap().to_string())
}

async fn version_count(uri: &str) -> usize {
    let url = format!("{uri}/api/2.0/mlflow/model-versions/search?filter=name%3D%27churn%27");
    let body: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    body["model_versions"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread")]
async fn readme_ci_snippets_train_gate_and_promote() {
    if !repo_root().join(".venv/mlflow3/bin/python").exists() {
        assert!(std::env::var_os("CI").is_none(), ".venv/mlflow3 is missing: run scripts/setup-python.sh");
        eprintln!("SKIPPED: .venv/mlflow3 is missing (run scripts/setup-python.sh)");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let server = common::Server::start(&common::DataPaths::in_dir(data.path())).await;
    let uri = server.base.clone();

    // GitHub Actions, the project's first pipeline: nothing to beat, so v1 becomes @champion.
    let github = workdir();
    for step in github_steps() {
        assert_eq!(tokio::task::block_in_place(|| sh(github.path(), &uri, &step)), 0, "step failed: {step}");
    }
    assert_eq!(champion(&uri).await.as_deref(), Some("1"));
    let gate: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(github.path().join("gate.json")).unwrap()).unwrap();
    assert_eq!((gate["decision"].as_str(), gate["registered"]["version"].as_str()), (Some("pass"), Some("1")));

    // GitLab CI on the same server: the same training ties with the champion, so the gate
    // fails the job (exit 1) and the registry is left as it was.
    let gitlab = workdir();
    assert_eq!(tokio::task::block_in_place(|| sh(gitlab.path(), &uri, &gitlab_script())), 1);
    assert_eq!(champion(&uri).await.as_deref(), Some("1"));
    assert_eq!(version_count(&uri).await, 1);

    // GitLab CI as a project's first pipeline passes and promotes too.
    let fresh_data = tempfile::tempdir().unwrap();
    let fresh = common::Server::start(&common::DataPaths::in_dir(fresh_data.path())).await;
    let first = workdir();
    assert_eq!(tokio::task::block_in_place(|| sh(first.path(), &fresh.base, &gitlab_script())), 0);
    assert_eq!(champion(&fresh.base).await.as_deref(), Some("1"));
}
