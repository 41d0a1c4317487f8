//! `ferroflow reproduce RUN`: what a re-run needs and whether the run recorded it.
//!
//! The rules are the web UI's reproducibility panel's (`ui/src/views/run/repro.ts`), item
//! for item: which tags hold the git commit, the dirty state, the entry point and the seed,
//! and how the Python and library versions and requirements are read from the run's
//! logged model (`MLmodel`, `python_env.yaml`, `requirements.txt`, `conda.yaml`).

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use clap::Args;
use ferroflow_client::{Client, Run};
use regex::Regex;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::output::{Cell, Format, Report, Table, Tone};
use super::{CliError, Connection, Outcome};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  ferroflow reproduce 3f2a9c…                      what the run recorded, and what it did not
  ferroflow reproduce 3f2a9c… --checkout ../rerun  a git worktree at the run's commit
  ferroflow reproduce 3f2a9c… --write-env env/     env/requirements.txt and env/params.json
  ferroflow reproduce 3f2a9c… --format json")]
pub struct ReproduceArgs {
    /// The run's id.
    pub run: String,
    /// Make a git worktree at the recorded commit in DIR (needs the repository at hand:
    /// --repo, the recorded repository URL when it is a local path, the folder of the
    /// recorded source file, or the current directory).
    #[arg(long, value_name = "DIR")]
    pub checkout: Option<PathBuf>,
    /// The local git repository to check the commit out of.
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    /// Write requirements.txt, params.json (and .python-version when known) into DIR.
    #[arg(long, value_name = "DIR")]
    pub write_env: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    #[command(flatten)]
    pub connection: Connection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Recorded,
    Partial,
    Missing,
}

/// One thing a re-run needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub id: &'static str,
    pub label: &'static str,
    pub status: Status,
    /// The recorded values; for a missing item, why it is missing.
    pub values: Vec<String>,
    pub source: Option<String>,
}

/// The texts of a logged model's environment files (`None`: the file does not exist).
#[derive(Debug, Clone, Default)]
pub struct ModelFiles {
    /// Where the model is ("logged model model (m-…)", "run artifacts model/").
    pub location: String,
    pub mlmodel: Option<String>,
    pub python_env: Option<String>,
    pub requirements: Option<String>,
    pub conda: Option<String>,
}

/// Everything `reproduce` (and `runs diff`'s environment) reads for a run.
pub struct Recorded {
    pub items: Vec<Item>,
    pub requirements: Vec<String>,
    pub python: Option<String>,
}

pub async fn run(args: ReproduceArgs) -> Result<Outcome, CliError> {
    let client = args.connection.client()?;
    let run = client.get_run(&args.run).await?;
    let recorded = recorded(&client, &run).await?;
    let mut notes = Vec::new();
    if let Some(dir) = &args.write_env {
        notes.extend(write_env(dir, &run, &recorded)?);
    }
    if let Some(dir) = &args.checkout {
        notes.push(checkout(&run, args.repo.as_deref(), dir)?);
    }
    let mut table = Table::new(&["item", "status", "recorded", "source"]).titled(&format!(
        "Run {} ({}): {}",
        run.info.run_id,
        run.info.run_name,
        summary(&recorded.items)
    ));
    for item in &recorded.items {
        let tone = match item.status {
            Status::Recorded => Tone::Good,
            Status::Partial => Tone::Warn,
            Status::Missing => Tone::Bad,
        };
        table.row(vec![
            item.label.into(),
            Cell::toned(format!("{:?}", item.status).to_lowercase(), tone),
            item.values.join("\n").into(),
            item.source.clone().unwrap_or_default().into(),
        ]);
    }
    let mut params = Table::new(&["param", "value"]).titled("Params");
    for p in &run.data.params {
        params.row(vec![p.key.clone().into(), p.value.clone().into()]);
    }
    let missing: Vec<&str> = recorded.items.iter().filter(|i| i.status == Status::Missing).map(|i| i.label).collect();
    let mut report_notes = Vec::new();
    if !missing.is_empty() {
        report_notes.push(format!("Missing for a faithful re-run: {}.", missing.join(", ")));
    }
    report_notes.extend(notes.iter().cloned());
    let mut csv = Table::new(&["item", "status", "value", "source"]);
    for item in &recorded.items {
        for value in &item.values {
            csv.row(vec![
                item.id.into(),
                format!("{:?}", item.status).to_lowercase().into(),
                value.clone().into(),
                item.source.clone().unwrap_or_default().into(),
            ]);
        }
    }
    let mut report = Report::new(
        vec![table, params],
        json!({
            "run_id": run.info.run_id,
            "summary": summary(&recorded.items),
            "items": recorded.items,
            "params": run.data.params.iter().map(|p| (p.key.clone(), Value::from(p.value.clone()))).collect::<Map<_, _>>(),
            "missing": missing,
            "actions": notes,
        }),
    );
    report.csv = Some(csv);
    report.notes = report_notes;
    report.print(args.format);
    Ok(Outcome::Success)
}

/// The run's items, with its model's files read from the server.
pub async fn recorded(client: &Client, run: &Run) -> Result<Recorded, CliError> {
    let model = model_files(client, run).await?;
    Ok(items(run, model.as_ref()))
}

/// Finds the run's model as the UI does: the newest logged model the run produced whose
/// files the proxy serves, else the last entry of the `mlflow.log-model.history` tag.
async fn model_files(client: &Client, run: &Run) -> Result<Option<ModelFiles>, CliError> {
    let logged = match client.logged_models_of_run(&run.info.experiment_id, &run.info.run_id).await {
        Ok(models) => models,
        // MLflow 2 servers have no logged models.
        Err(e) if e.error_code() == Some("ENDPOINT_NOT_FOUND") => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let newest = logged
        .into_iter()
        .filter(|m| ferroflow_client::proxy_path(&m.info.artifact_uri).is_ok())
        .max_by_key(|m| m.info.creation_timestamp_ms.unwrap_or(0));
    let (location, root, prefix) = if let Some(model) = newest {
        (format!("logged model {} ({})", model.info.name, model.info.model_id), model.info.artifact_uri, String::new())
    } else if let Some(path) = history_artifact_path(run) {
        (format!("run artifacts {path}/"), run.info.artifact_uri.clone(), format!("{path}/"))
    } else {
        return Ok(None);
    };
    if ferroflow_client::proxy_path(&root).is_err() {
        return Ok(None);
    }
    let mut texts = Vec::new();
    for file in ["MLmodel", "python_env.yaml", "requirements.txt", "conda.yaml"] {
        texts.push(client.read_artifact_text(&root, &format!("{prefix}{file}")).await?);
    }
    let [mlmodel, python_env, requirements, conda] = <[Option<String>; 4]>::try_from(texts).expect("four files");
    Ok(Some(ModelFiles { location, mlmodel, python_env, requirements, conda }))
}

fn history_artifact_path(run: &Run) -> Option<String> {
    let history: Value = serde_json::from_str(run.tag("mlflow.log-model.history")?).ok()?;
    history.as_array()?.last()?.get("artifact_path")?.as_str().map(str::to_string)
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid built-in pattern")
}

static DIRTY_TAG: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)(^|\.)git\.(dirty|is_dirty)$|(^|\.)(git_)?dirty$"));
static COMMENT: LazyLock<Regex> = LazyLock::new(|| regex(r"(^|\s)#.*$"));
static PINNED_EXACT: LazyLock<Regex> = LazyLock::new(|| regex(r"===?\s*[\w.*+!-]+"));
static PINNED_URL: LazyLock<Regex> = LazyLock::new(|| regex(r"@\s*\S+"));
static CONDA_PYTHON: LazyLock<Regex> = LazyLock::new(|| regex(r"^python\s*[=<>~!]*\s*([\d.*]+)"));
static SEED: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)seed"));

/// Requirement lines of a requirements.txt (comments, blanks and pip options dropped).
pub fn requirement_lines(text: Option<&str>) -> Vec<String> {
    text.unwrap_or_default()
        .lines()
        .map(|l| COMMENT.replace(l, "").trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('-'))
        .collect()
}

/// Pinned: an exact version (`==`, `===`) or a URL/path requirement with a commit.
fn pinned(requirement: &str) -> bool {
    PINNED_EXACT.is_match(requirement) || PINNED_URL.is_match(requirement)
}

/// A YAML document as JSON (`None` unless it parses to a mapping).
fn yaml_object(text: Option<&str>) -> Option<Map<String, Value>> {
    fn convert(yaml: &yaml_rust2::Yaml) -> Value {
        use yaml_rust2::Yaml;
        match yaml {
            // Kept as written: `python: 3.10` is version 3.10, not the number 3.1.
            Yaml::Real(text) => text.clone().into(),
            Yaml::Integer(n) => (*n).into(),
            Yaml::String(s) => s.clone().into(),
            Yaml::Boolean(b) => (*b).into(),
            Yaml::Array(items) => items.iter().map(convert).collect(),
            Yaml::Hash(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Yaml::String(s) | Yaml::Real(s) => s.clone(),
                            Yaml::Integer(n) => n.to_string(),
                            Yaml::Boolean(b) => b.to_string(),
                            _ => String::new(),
                        };
                        (key, convert(v))
                    })
                    .collect(),
            ),
            _ => Value::Null,
        }
    }
    let documents = yaml_rust2::YamlLoader::load_from_str(text?).ok()?;
    match convert(documents.first()?) {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// JavaScript's `String(v)` for a YAML scalar (objects as JSON), `None` for null/absent.
fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

struct MlModel {
    python_version: Option<String>,
    mlflow_version: Option<String>,
    /// Each flavor's scalar settings, e.g. `("sklearn_version", "1.5.2")`.
    flavor_details: Vec<(String, String)>,
}

fn summarise_mlmodel(text: Option<&str>) -> Option<MlModel> {
    let doc = yaml_object(text)?;
    let flavors = doc.get("flavors").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut flavor_details = Vec::new();
    for flavor in flavors.values() {
        if let Some(settings) = flavor.as_object() {
            for (k, v) in settings {
                if !v.is_null() && !v.is_object() {
                    flavor_details.push((k.clone(), text_of(Some(v)).unwrap_or_default()));
                }
            }
        }
    }
    Some(MlModel {
        python_version: text_of(flavors.get("python_function").and_then(|f| f.get("python_version"))),
        mlflow_version: text_of(doc.get("mlflow_version")),
        flavor_details,
    })
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |list| list.iter().filter_map(Value::as_str).map(str::to_string).collect())
}

/// `python_env.yaml`: the Python version and dependencies (`-r` includes dropped).
fn python_env(text: Option<&str>) -> (Option<String>, Vec<String>) {
    let doc = yaml_object(text);
    let python = doc.as_ref().and_then(|d| text_of(d.get("python")));
    let deps = strings(doc.as_ref().and_then(|d| d.get("dependencies")))
        .into_iter()
        .filter(|d| !d.starts_with("-r ") && !d.starts_with("-r\t"))
        .collect();
    (python, deps)
}

/// `conda.yaml`: the Python version and the pip dependencies.
fn conda(text: Option<&str>) -> (Option<String>, Vec<String>) {
    let doc = yaml_object(text);
    let mut python = None;
    let mut pip = Vec::new();
    for dep in doc.as_ref().and_then(|d| d.get("dependencies")).and_then(Value::as_array).into_iter().flatten() {
        match dep {
            Value::String(s) => {
                if let Some(m) = CONDA_PYTHON.captures(s) {
                    python = Some(m[1].to_string());
                }
            }
            Value::Object(o) => pip.extend(strings(o.get("pip"))),
            _ => {}
        }
    }
    (python, pip)
}

fn item(id: &'static str, label: &'static str, status: Status, values: Vec<String>, source: Option<String>) -> Item {
    Item { id, label, status, values, source }
}

/// The reproducibility items of `run` (see `reproItems` in repro.ts).
pub fn items(run: &Run, model: Option<&ModelFiles>) -> Recorded {
    let mut items = Vec::new();
    let tag = |key: &str| run.tag(key).map(str::to_string);

    let commit = tag("mlflow.source.git.commit");
    let mut values = Vec::new();
    if let Some(commit) = &commit {
        values.push(commit.clone());
        values.extend(tag("mlflow.source.git.repoURL").map(|r| format!("repository: {r}")));
        values.extend(tag("mlflow.source.git.branch").map(|b| format!("branch: {b}")));
    } else {
        values.push("not recorded (tag mlflow.source.git.commit)".into());
    }
    let (status, source) = match commit {
        Some(_) => (Status::Recorded, Some("tag mlflow.source.git.commit".to_string())),
        None => (Status::Missing, None),
    };
    items.push(item("git-commit", "Git commit", status, values, source));

    // MLflow itself records no dirty state, so any tag that says so.
    items.push(match run.data.tags.iter().find(|t| DIRTY_TAG.is_match(&t.key)) {
        None => item(
            "git-dirty",
            "Uncommitted changes",
            Status::Missing,
            vec!["not recorded (no git dirty-state tag, e.g. mlflow.source.git.dirty)".into()],
            None,
        ),
        Some(t) => {
            let v = t.value.trim().to_lowercase();
            let dirty = !["false", "0", "no", "clean", ""].contains(&v.as_str());
            item(
                "git-dirty",
                "Uncommitted changes",
                // A dirty tree is recorded, but the commit alone does not give the code back.
                if dirty { Status::Partial } else { Status::Recorded },
                vec![if dirty { "dirty: the working tree had uncommitted changes" } else { "clean" }.into()],
                Some(format!("tag {}", t.key)),
            )
        }
    });

    let mut entry = Vec::new();
    if let Some(name) = tag("mlflow.source.name") {
        let kind = tag("mlflow.source.type").map(|t| format!(" ({t})")).unwrap_or_default();
        entry.push(format!("source: {name}{kind}"));
    }
    entry.extend(tag("mlflow.project.entryPoint").map(|e| format!("project entry point: {e}")));
    entry.extend(tag("mlflow.source.command").or_else(|| tag("command")).map(|c| format!("command: {c}")));
    items.push(if entry.is_empty() {
        item(
            "entry-point",
            "Entry point / command",
            Status::Missing,
            vec!["not recorded (tags mlflow.source.name, mlflow.project.entryPoint)".into()],
            None,
        )
    } else {
        item("entry-point", "Entry point / command", Status::Recorded, entry, None)
    });

    let mlmodel = model.and_then(|m| summarise_mlmodel(m.mlmodel.as_deref()));
    let (env_python, env_deps) = python_env(model.and_then(|m| m.python_env.as_deref()));
    let (conda_python, conda_pip) = conda(model.and_then(|m| m.conda.as_deref()));
    let reqs = requirement_lines(model.and_then(|m| m.requirements.as_deref()));
    let no_model = model.is_none().then_some("no logged model, so no recorded environment");
    let of_model = |file: &str| model.map(|m| format!("{file} of {}", m.location));

    let (python, python_source) =
        match (mlmodel.as_ref().and_then(|m| m.python_version.clone()), &env_python, &conda_python) {
            (Some(v), _, _) => (Some(v), Some("MLmodel")),
            (None, Some(v), _) => (Some(v.clone()), Some("python_env.yaml")),
            (None, None, Some(v)) => (Some(v.clone()), Some("conda.yaml")),
            _ => (None, None),
        };
    items.push(match &python {
        Some(v) => {
            item("python", "Python version", Status::Recorded, vec![v.clone()], python_source.and_then(of_model))
        }
        None => item(
            "python",
            "Python version",
            Status::Missing,
            vec![no_model
                .unwrap_or("not recorded (no python_version in MLmodel, python_env.yaml or conda.yaml)")
                .into()],
            None,
        ),
    });

    let (requirements, req_source) = if !reqs.is_empty() {
        (reqs, Some("requirements.txt"))
    } else if !env_deps.is_empty() {
        (env_deps, Some("python_env.yaml"))
    } else if !conda_pip.is_empty() {
        (conda_pip, Some("conda.yaml"))
    } else {
        (Vec::new(), None)
    };
    let mut libs = Vec::new();
    if let Some(v) = mlmodel.as_ref().and_then(|m| m.mlflow_version.clone()) {
        libs.push(format!("mlflow=={v}"));
    }
    for (k, v) in mlmodel.iter().flat_map(|m| &m.flavor_details) {
        if let Some(library) = k.strip_suffix("_version").filter(|_| k != "python_version") {
            libs.push(format!("{library}=={v}"));
        }
    }
    for r in &requirements {
        if pinned(r) && !libs.contains(r) {
            libs.push(r.clone());
        }
    }
    let unpinned: Vec<&str> = requirements.iter().filter(|r| !pinned(r)).map(String::as_str).collect();
    let lib_status = if libs.is_empty() {
        Status::Missing
    } else if unpinned.is_empty() {
        Status::Recorded
    } else {
        Status::Partial
    };
    let lib_source = match (model, libs.is_empty()) {
        (Some(m), false) => {
            let files: Vec<&str> = [mlmodel.as_ref().map(|_| "MLmodel"), req_source].into_iter().flatten().collect();
            Some(format!("{} of {}", files.join(" and "), m.location))
        }
        _ => None,
    };
    let lib_values = if libs.is_empty() {
        vec![no_model.unwrap_or("not recorded (no pinned versions in the model files)").to_string()]
    } else {
        let mut values = libs;
        if !unpinned.is_empty() {
            values.push(format!("not pinned: {}", unpinned.join(", ")));
        }
        values
    };
    items.push(item("libraries", "Library versions", lib_status, lib_values, lib_source));

    let mut seeds: Vec<String> = run
        .data
        .params
        .iter()
        .filter(|p| SEED.is_match(&p.key))
        .map(|p| format!("param {} = {}", p.key, p.value))
        .collect();
    seeds
        .extend(run.data.tags.iter().filter(|t| SEED.is_match(&t.key)).map(|t| format!("tag {} = {}", t.key, t.value)));
    items.push(if seeds.is_empty() {
        item(
            "seed",
            "Random seed",
            Status::Missing,
            vec!["not recorded (no param or tag whose key contains \"seed\")".into()],
            None,
        )
    } else {
        item("seed", "Random seed", Status::Recorded, seeds, None)
    });

    let inputs = &run.inputs.dataset_inputs;
    let with_digest = inputs.iter().filter(|d| !d.dataset.digest.is_empty()).count();
    items.push(if inputs.is_empty() {
        item(
            "datasets",
            "Dataset digests",
            Status::Missing,
            vec!["not recorded (the run logged no input datasets)".into()],
            None,
        )
    } else {
        item(
            "datasets",
            "Dataset digests",
            if with_digest == inputs.len() { Status::Recorded } else { Status::Partial },
            inputs
                .iter()
                .map(|d| {
                    let digest = if d.dataset.digest.is_empty() { "no digest" } else { &d.dataset.digest };
                    format!("{}: {digest}", d.dataset.name)
                })
                .collect(),
            Some("run inputs".into()),
        )
    });

    items.push(if requirements.is_empty() {
        item(
            "requirements",
            "Model's requirements",
            Status::Missing,
            vec![no_model
                .unwrap_or("not recorded (no requirements.txt, python_env.yaml or conda.yaml with the model)")
                .into()],
            None,
        )
    } else {
        item(
            "requirements",
            "Model's requirements",
            Status::Recorded,
            requirements.clone(),
            req_source.and_then(of_model),
        )
    });
    Recorded { items, requirements, python }
}

/// "6 of 8 recorded".
pub fn summary(items: &[Item]) -> String {
    let ok = items.iter().filter(|i| i.status == Status::Recorded).count();
    format!("{ok} of {} recorded", items.len())
}

fn local(context: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Local(format!("{context}: {e}"))
}

/// Writes requirements.txt, params.json and .python-version; returns what it did.
fn write_env(dir: &Path, run: &Run, recorded: &Recorded) -> Result<Vec<String>, CliError> {
    std::fs::create_dir_all(dir).map_err(|e| local(&dir.display().to_string(), e))?;
    let mut done = Vec::new();
    let params: Map<String, Value> = run.data.params.iter().map(|p| (p.key.clone(), p.value.clone().into())).collect();
    let path = dir.join("params.json");
    let text = serde_json::to_string_pretty(&Value::Object(params)).unwrap_or_default() + "\n";
    std::fs::write(&path, text).map_err(|e| local(&path.display().to_string(), e))?;
    done.push(format!("wrote {}", path.display()));
    if recorded.requirements.is_empty() {
        done.push("no requirements recorded: requirements.txt not written".into());
    } else {
        let path = dir.join("requirements.txt");
        std::fs::write(&path, recorded.requirements.join("\n") + "\n")
            .map_err(|e| local(&path.display().to_string(), e))?;
        done.push(format!("wrote {}", path.display()));
    }
    if let Some(python) = &recorded.python {
        let path = dir.join(".python-version");
        std::fs::write(&path, format!("{python}\n")).map_err(|e| local(&path.display().to_string(), e))?;
        done.push(format!("wrote {}", path.display()));
    }
    Ok(done)
}

fn git(repo: &Path, args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The local repositories that may hold the run's commit, best first.
fn candidate_repos(run: &Run, repo: Option<&Path>) -> Vec<PathBuf> {
    if let Some(repo) = repo {
        return vec![repo.to_path_buf()];
    }
    let mut out = Vec::new();
    if let Some(url) = run.tag("mlflow.source.git.repoURL") {
        let path = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        if path.is_dir() {
            out.push(path);
        }
    }
    if let Some(parent) = run.tag("mlflow.source.name").map(Path::new).and_then(Path::parent) {
        if parent.is_dir() {
            out.push(parent.to_path_buf());
        }
    }
    out.push(PathBuf::from("."));
    out
}

/// `git worktree add --detach DIR COMMIT` in the first repository that has the commit.
fn checkout(run: &Run, repo: Option<&Path>, dir: &Path) -> Result<String, CliError> {
    let commit = run
        .tag("mlflow.source.git.commit")
        .ok_or_else(|| CliError::Local("cannot check out: the run recorded no git commit".into()))?;
    let object = format!("{commit}^{{commit}}");
    for candidate in candidate_repos(run, repo) {
        let Ok(top) = git(&candidate, &["rev-parse", "--show-toplevel"]) else { continue };
        if git(Path::new(&top), &["cat-file", "-e", &object]).is_err() {
            continue;
        }
        let target = std::path::absolute(dir).map_err(|e| local(&dir.display().to_string(), e))?;
        let target_text = target.display().to_string();
        git(Path::new(&top), &["worktree", "add", "--detach", &target_text, commit])
            .map_err(|e| CliError::Local(format!("git worktree add failed: {e}")))?;
        let mut note = format!("checked out {commit} of {top} into {target_text}");
        if items(run, None).items.iter().any(|i| i.id == "git-dirty" && i.status == Status::Partial) {
            note.push_str(" (the run's tree had uncommitted changes, which are not in this checkout)");
        }
        return Ok(note);
    }
    Err(CliError::Local(format!("cannot check out {commit}: no local repository at hand has it (pass --repo PATH)")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferroflow_client::KeyValue;

    fn run_with(tags: &[(&str, &str)], params: &[(&str, &str)]) -> Run {
        let mut run = Run::default();
        let kv = |(k, v): &(&str, &str)| KeyValue { key: k.to_string(), value: v.to_string() };
        run.data.tags = tags.iter().map(kv).collect();
        run.data.params = params.iter().map(kv).collect();
        run
    }

    fn status(recorded: &Recorded, id: &str) -> Status {
        recorded.items.iter().find(|i| i.id == id).unwrap().status
    }

    #[test]
    fn a_bare_run_says_what_is_missing() {
        let recorded = items(&run_with(&[], &[]), None);
        assert_eq!(summary(&recorded.items), "0 of 8 recorded");
        let python = recorded.items.iter().find(|i| i.id == "python").unwrap();
        assert_eq!(python.values, ["no logged model, so no recorded environment"]);
    }

    #[test]
    fn tags_and_model_files_follow_the_uis_rules() {
        let run = run_with(
            &[
                ("mlflow.source.git.commit", "abc123"),
                ("mlflow.source.git.dirty", "true"),
                ("mlflow.source.name", "train.py"),
                ("mlflow.source.type", "LOCAL"),
            ],
            &[("random_seed", "42"), ("C", "1.0")],
        );
        let model = ModelFiles {
            location: "run artifacts model/".into(),
            mlmodel: Some(
                "mlflow_version: 3.1.0\nflavors:\n  python_function:\n    python_version: 3.11.9\n  sklearn:\n    sklearn_version: 1.5.2\n    pickled_model: model.pkl\n"
                    .into(),
            ),
            requirements: Some("# a comment\nmlflow==3.1.0\nscikit-learn==1.5.2\nnumpy\n-r extra.txt\n".into()),
            ..Default::default()
        };
        let recorded = items(&run, Some(&model));
        assert_eq!(status(&recorded, "git-commit"), Status::Recorded);
        assert_eq!(status(&recorded, "git-dirty"), Status::Partial);
        assert_eq!(status(&recorded, "seed"), Status::Recorded);
        assert_eq!(recorded.python.as_deref(), Some("3.11.9"));
        let libs = recorded.items.iter().find(|i| i.id == "libraries").unwrap();
        assert_eq!(libs.status, Status::Partial);
        assert_eq!(libs.values, ["mlflow==3.1.0", "sklearn==1.5.2", "scikit-learn==1.5.2", "not pinned: numpy"]);
        assert_eq!(recorded.requirements, ["mlflow==3.1.0", "scikit-learn==1.5.2", "numpy"]);
        assert_eq!(libs.source.as_deref(), Some("MLmodel and requirements.txt of run artifacts model/"));
    }

    #[test]
    fn conda_and_python_env_are_fallbacks() {
        let model = ModelFiles {
            location: "m".into(),
            conda: Some("dependencies:\n- python=3.10.4\n- pip\n- pip:\n  - mlflow==2.0\n".into()),
            ..Default::default()
        };
        let recorded = items(&run_with(&[], &[]), Some(&model));
        assert_eq!(recorded.python.as_deref(), Some("3.10.4"));
        assert_eq!(recorded.requirements, ["mlflow==2.0"]);
        let model = ModelFiles {
            location: "m".into(),
            python_env: Some("python: 3.12.1\ndependencies:\n- -r requirements.txt\n- pandas==2.2\n".into()),
            ..Default::default()
        };
        let recorded = items(&run_with(&[("git_dirty", "clean")], &[]), Some(&model));
        assert_eq!(recorded.python.as_deref(), Some("3.12.1"));
        assert_eq!(recorded.requirements, ["pandas==2.2"]);
        assert_eq!(status(&recorded, "git-dirty"), Status::Recorded);
    }
}
