//! `ferroflow runs list | show | compare | diff`.

use std::collections::BTreeSet;

use clap::{Args, Subcommand};
use ferroflow_client::{Client, Experiment, Run, RunSearch};
use serde_json::json;

use super::output::{number, timestamp, Cell, Format, Report, Table, Tone};
use super::{reproduce, CliError, Connection, Outcome};

#[derive(Args, Debug)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub command: RunsCommand,
    #[command(flatten)]
    pub connection: Connection,
}

#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// Search an experiment's runs.
    #[command(after_help = "Examples:
  ferroflow runs list --experiment churn
  ferroflow runs list --experiment churn --filter \"metrics.f1 > 0.9 and params.model = 'xgb'\" \\
      --order-by 'metrics.f1 DESC' --max-results 5
  ferroflow runs list --experiment 3 --format csv > runs.csv")]
    List(ListArgs),
    /// Everything one run recorded: info, metrics, params, tags, datasets.
    #[command(after_help = "Examples:
  ferroflow runs show 3f2a9c0d…
  ferroflow runs show 3f2a9c0d… --format json | jq '.data.metrics'")]
    Show(ShowArgs),
    /// Runs side by side: one column per run, one row per metric, param and key tag.
    #[command(after_help = "Examples:
  ferroflow runs compare RUN_A RUN_B RUN_C
  ferroflow runs compare RUN_A RUN_B --only-differences --format csv")]
    Compare(CompareArgs),
    /// What differs between two runs: params, metrics, tags, git commit and environment.
    #[command(after_help = "Examples:
  ferroflow runs diff RUN_A RUN_B
  ferroflow runs diff RUN_A RUN_B --format json")]
    Diff(DiffArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Experiment name or id (repeatable).
    #[arg(long, short = 'e', required = true, value_name = "NAME|ID")]
    pub experiment: Vec<String>,
    /// A filter in MLflow's search language, e.g. "metrics.f1 > 0.9".
    #[arg(long)]
    pub filter: Option<String>,
    /// An order_by clause, e.g. "metrics.f1 DESC" (repeatable).
    #[arg(long, value_name = "CLAUSE")]
    pub order_by: Vec<String>,
    /// How many runs at most.
    #[arg(long, default_value_t = 100)]
    pub max_results: usize,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    pub run: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Two or more run ids.
    #[arg(num_args = 2.., required = true)]
    pub runs: Vec<String>,
    /// Only the rows whose values differ.
    #[arg(long)]
    pub only_differences: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    pub a: String,
    pub b: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub async fn run(args: RunsArgs) -> Result<Outcome, CliError> {
    let client = args.connection.client()?;
    match args.command {
        RunsCommand::List(list) => list_runs(&client, list).await,
        RunsCommand::Show(show) => show_run(&client, show).await,
        RunsCommand::Compare(compare) => compare_runs(&client, compare).await,
        RunsCommand::Diff(diff) => diff_runs(&client, diff).await,
    }?;
    Ok(Outcome::Success)
}

/// An experiment by name, or by id when no experiment has that name.
pub async fn resolve_experiment(client: &Client, name_or_id: &str) -> Result<Experiment, CliError> {
    match client.get_experiment_by_name(name_or_id).await {
        Ok(experiment) => Ok(experiment),
        Err(e) if e.is_not_found() && name_or_id.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(client.get_experiment(name_or_id).await?)
        }
        Err(e) if e.is_not_found() => Err(CliError::Usage(format!("no experiment named '{name_or_id}'"))),
        Err(e) => Err(e.into()),
    }
}

/// Runs of `experiments` that `filter` matches, in `order_by`'s order, at most `limit`.
pub async fn search(
    client: &Client,
    experiments: &[String],
    filter: Option<String>,
    order_by: Vec<String>,
    limit: usize,
) -> Result<Vec<Run>, CliError> {
    let mut experiment_ids = Vec::new();
    for experiment in experiments {
        experiment_ids.push(resolve_experiment(client, experiment).await?.experiment_id);
    }
    let search = RunSearch { experiment_ids, filter, order_by, ..Default::default() };
    Ok(client.search_runs_up_to(&search, limit).await?)
}

fn duration(run: &Run) -> String {
    match (run.info.start_time, run.info.end_time) {
        (Some(start), Some(end)) if end >= start => format!("{:.1}s", (end - start) as f64 / 1000.0),
        _ => String::new(),
    }
}

fn status_cell(status: &str) -> Cell {
    let tone = match status {
        "FINISHED" => Tone::Good,
        "FAILED" | "KILLED" => Tone::Bad,
        _ => Tone::Warn,
    };
    Cell::toned(status, tone)
}

async fn list_runs(client: &Client, args: ListArgs) -> Result<(), CliError> {
    let runs = search(client, &args.experiment, args.filter, args.order_by, args.max_results).await?;
    let metric_keys: BTreeSet<&str> = runs.iter().flat_map(|r| r.data.metrics.iter().map(|m| m.key.as_str())).collect();
    let param_keys: BTreeSet<&str> = runs.iter().flat_map(|r| r.data.params.iter().map(|p| p.key.as_str())).collect();
    let mut headers = vec!["run_id".to_string(), "name".into(), "status".into(), "started".into(), "duration".into()];
    headers.extend(metric_keys.iter().map(|k| format!("metrics.{k}")));
    headers.extend(param_keys.iter().map(|k| format!("params.{k}")));
    let mut table = Table { headers, ..Default::default() };
    for run in &runs {
        let mut row: Vec<Cell> = vec![
            run.info.run_id.clone().into(),
            run.info.run_name.clone().into(),
            status_cell(&run.info.status),
            timestamp(run.info.start_time).into(),
            duration(run).into(),
        ];
        row.extend(metric_keys.iter().map(|k| run.metric(k).map(number).unwrap_or_default().into()));
        row.extend(param_keys.iter().map(|k| run.param(k).unwrap_or_default().into()));
        table.row(row);
    }
    let mut report = Report::new(vec![table], json!(runs));
    report.notes.push(format!("{} run(s)", runs.len()));
    report.print(args.format);
    Ok(())
}

async fn show_run(client: &Client, args: ShowArgs) -> Result<(), CliError> {
    let run = client.get_run(&args.run).await?;
    let i = &run.info;
    let mut info = Table::new(&["field", "value"]).titled("Run");
    for (field, value) in [
        ("run_id", i.run_id.clone()),
        ("name", i.run_name.clone()),
        ("experiment_id", i.experiment_id.clone()),
        ("status", i.status.clone()),
        ("user", i.user_id.clone()),
        ("started", timestamp(i.start_time)),
        ("ended", timestamp(i.end_time)),
        ("duration", duration(&run)),
        ("artifact_uri", i.artifact_uri.clone()),
        ("lifecycle_stage", i.lifecycle_stage.clone()),
    ] {
        let cell = if field == "status" { status_cell(&value) } else { value.into() };
        info.row(vec![field.into(), cell]);
    }
    let mut metrics = Table::new(&["metric", "value", "step", "logged"]).titled("Metrics (latest values)");
    for m in &run.data.metrics {
        metrics.row(vec![
            m.key.clone().into(),
            number(m.value).into(),
            m.step.to_string().into(),
            timestamp(Some(m.timestamp)).into(),
        ]);
    }
    let mut params = Table::new(&["param", "value"]).titled("Params");
    for p in &run.data.params {
        params.row(vec![p.key.clone().into(), p.value.clone().into()]);
    }
    let mut tags = Table::new(&["tag", "value"]).titled("Tags");
    for t in &run.data.tags {
        tags.row(vec![t.key.clone().into(), t.value.clone().into()]);
    }
    let mut datasets = Table::new(&["dataset", "digest", "context"]).titled("Input datasets");
    for d in &run.inputs.dataset_inputs {
        let context = ferroflow_client::find(&d.tags, "mlflow.data.context").unwrap_or_default();
        datasets.row(vec![d.dataset.name.clone().into(), d.dataset.digest.clone().into(), context.into()]);
    }
    // CSV: one flat table, a row per recorded value.
    let mut csv = Table::new(&["section", "key", "value"]);
    for row in &info.rows {
        csv.row(vec!["info".into(), row[0].text.clone().into(), row[1].text.clone().into()]);
    }
    for m in &run.data.metrics {
        csv.row(vec!["metric".into(), m.key.clone().into(), number(m.value).into()]);
    }
    for p in &run.data.params {
        csv.row(vec!["param".into(), p.key.clone().into(), p.value.clone().into()]);
    }
    for t in &run.data.tags {
        csv.row(vec!["tag".into(), t.key.clone().into(), t.value.clone().into()]);
    }
    for d in &run.inputs.dataset_inputs {
        csv.row(vec!["dataset".into(), d.dataset.name.clone().into(), d.dataset.digest.clone().into()]);
    }
    let mut tables = vec![info, metrics, params, tags];
    if !datasets.rows.is_empty() {
        tables.push(datasets);
    }
    let mut report = Report::new(tables, json!(run));
    report.csv = Some(csv);
    report.print(args.format);
    Ok(())
}

/// Tags compare and diff show by name, beyond params and metrics.
const KEY_TAGS: [&str; 4] = ["mlflow.source.git.commit", "mlflow.source.name", "mlflow.user", "mlflow.source.type"];

async fn fetch_runs(client: &Client, ids: &[String]) -> Result<Vec<Run>, CliError> {
    let mut runs = Vec::new();
    for id in ids {
        runs.push(client.get_run(id).await?);
    }
    Ok(runs)
}

async fn compare_runs(client: &Client, args: CompareArgs) -> Result<(), CliError> {
    let runs = fetch_runs(client, &args.runs).await?;
    let metric_keys: BTreeSet<&str> = runs.iter().flat_map(|r| r.data.metrics.iter().map(|m| m.key.as_str())).collect();
    let param_keys: BTreeSet<&str> = runs.iter().flat_map(|r| r.data.params.iter().map(|p| p.key.as_str())).collect();
    let mut rows: Vec<(String, Vec<String>)> = vec![
        ("name".into(), runs.iter().map(|r| r.info.run_name.clone()).collect()),
        ("status".into(), runs.iter().map(|r| r.info.status.clone()).collect()),
        ("started".into(), runs.iter().map(|r| timestamp(r.info.start_time)).collect()),
        ("duration".into(), runs.iter().map(duration).collect()),
    ];
    for key in &metric_keys {
        rows.push((
            format!("metrics.{key}"),
            runs.iter().map(|r| r.metric(key).map(number).unwrap_or_default()).collect(),
        ));
    }
    for key in &param_keys {
        rows.push((
            format!("params.{key}"),
            runs.iter().map(|r| r.param(key).unwrap_or_default().to_string()).collect(),
        ));
    }
    for key in KEY_TAGS {
        if runs.iter().any(|r| r.tag(key).is_some()) {
            rows.push((
                format!("tags.{key}"),
                runs.iter().map(|r| r.tag(key).unwrap_or_default().to_string()).collect(),
            ));
        }
    }
    let differs = |values: &[String]| values.iter().any(|v| v != &values[0]);
    let mut headers = vec!["key".to_string()];
    headers.extend(runs.iter().map(|r| r.info.run_id.clone()));
    let mut table = Table { headers, ..Default::default() };
    let mut json_rows = Vec::new();
    for (key, values) in &rows {
        let different = differs(values);
        // Start and duration always differ; they are context, not a finding.
        if args.only_differences && (!different || key == "started" || key == "duration") {
            continue;
        }
        let tone = if different && key != "started" && key != "duration" { Tone::Strong } else { Tone::Plain };
        let mut row = vec![Cell::toned(key.clone(), tone)];
        row.extend(values.iter().map(|v| Cell::toned(v.clone(), tone)));
        table.row(row);
        json_rows.push(json!({ "key": key, "values": values, "differs": different }));
    }
    let report = Report::new(
        vec![table],
        json!({ "runs": runs.iter().map(|r| &r.info.run_id).collect::<Vec<_>>(), "rows": json_rows }),
    );
    report.print(args.format);
    Ok(())
}

/// One difference between two runs; `None` where a run has no such value.
struct Difference {
    kind: &'static str,
    key: String,
    a: Option<String>,
    b: Option<String>,
}

fn differences_in(
    kind: &'static str,
    a: impl Fn(&str) -> Option<String>,
    b: impl Fn(&str) -> Option<String>,
    keys: BTreeSet<String>,
    out: &mut Vec<Difference>,
) {
    for key in keys {
        let (va, vb) = (a(&key), b(&key));
        if va != vb {
            out.push(Difference { kind, key, a: va, b: vb });
        }
    }
}

/// What a run ran on, from the reproducibility items: Python, libraries, requirements.
fn environment(recorded: &reproduce::Recorded) -> Vec<(String, Option<String>)> {
    recorded
        .items
        .iter()
        .filter(|i| matches!(i.id, "python" | "libraries" | "requirements"))
        .map(|i| (i.label.to_string(), (i.status != reproduce::Status::Missing).then(|| i.values.join(", "))))
        .collect()
}

async fn diff_runs(client: &Client, args: DiffArgs) -> Result<(), CliError> {
    let runs = fetch_runs(client, &[args.a, args.b]).await?;
    let (a, b) = (&runs[0], &runs[1]);
    let mut out = Vec::new();
    let keys = |f: fn(&Run) -> Vec<String>| f(a).into_iter().chain(f(b)).collect::<BTreeSet<String>>();
    differences_in(
        "param",
        |k| a.param(k).map(str::to_string),
        |k| b.param(k).map(str::to_string),
        keys(|r| r.data.params.iter().map(|p| p.key.clone()).collect()),
        &mut out,
    );
    differences_in(
        "metric",
        |k| a.metric(k).map(number),
        |k| b.metric(k).map(number),
        keys(|r| r.data.metrics.iter().map(|m| m.key.clone()).collect()),
        &mut out,
    );
    differences_in(
        "git",
        |k| a.tag(k).map(str::to_string),
        |k| b.tag(k).map(str::to_string),
        ["mlflow.source.git.commit", "mlflow.source.git.repoURL", "mlflow.source.git.branch"].map(String::from).into(),
        &mut out,
    );
    // Tags that are git's (above) or the log-model bookkeeping are not repeated here.
    let other_tag = |k: &String| !k.starts_with("mlflow.source.git.") && k != "mlflow.log-model.history";
    differences_in(
        "tag",
        |k| a.tag(k).map(str::to_string),
        |k| b.tag(k).map(str::to_string),
        keys(|r| r.data.tags.iter().map(|t| t.key.clone()).collect()).into_iter().filter(other_tag).collect(),
        &mut out,
    );
    let (env_a, env_b) =
        (environment(&reproduce::recorded(client, a).await?), environment(&reproduce::recorded(client, b).await?));
    for ((label, va), (_, vb)) in env_a.into_iter().zip(env_b) {
        if va != vb {
            out.push(Difference { kind: "environment", key: label, a: va, b: vb });
        }
    }
    let mut table = Table {
        headers: vec!["kind".into(), "key".into(), a.info.run_id.clone(), b.info.run_id.clone()],
        ..Default::default()
    };
    for d in &out {
        let shown = |v: &Option<String>| Cell::from(v.clone().unwrap_or_else(|| "-".into()));
        table.row(vec![d.kind.into(), d.key.clone().into(), shown(&d.a), shown(&d.b)]);
    }
    let mut report = Report::new(
        vec![table],
        json!({
            "a": a.info.run_id,
            "b": b.info.run_id,
            "differences": out.iter().map(|d| json!({"kind": d.kind, "key": d.key, "a": d.a, "b": d.b})).collect::<Vec<_>>(),
        }),
    );
    report.notes.push(match out.len() {
        0 => "no differences".to_string(),
        n => format!("{n} difference(s)"),
    });
    report.print(args.format);
    Ok(())
}
