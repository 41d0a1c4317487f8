//! `ferroflow gate`: the CI step that decides whether a candidate run is good enough —
//! thresholds in the search language, an optional baseline to beat — and, on a pass,
//! registers and promotes its model. Exit 0 pass, 1 fail, 2 usage or server error.

use std::collections::BTreeMap;

use clap::Args;
use ferroflow_client::{Client, KeyValue, ModelUri, ModelVersion, Run};
use ferroflow_core::search::{self, AttrValue, Expr, KeyKind, Record};
use serde::Serialize;
use serde_json::{json, Value};

use super::output::{number, Cell, Format, Report, Table, Tone};
use super::{key_value, runs, CliError, Connection, Outcome};

#[derive(Args, Debug)]
#[command(after_help = "Exit status: 0 the gate passed, 1 it failed, 2 a usage or server error.

Examples:
  ferroflow gate --run $RUN_ID --require 'metrics.f1 >= 0.9' --require 'metrics.latency_ms < 50'
  ferroflow gate --experiment churn --filter \"tags.branch = 'main'\" --order-by 'metrics.f1 DESC' \\
      --require 'metrics.f1 >= 0.9' \\
      --baseline models:/churn@champion --min-improvement f1=0.01 --min-improvement loss=2% \\
      --register churn --alias champion
  ferroflow gate --run $RUN_ID --baseline models:/churn/3 --min-improvement rmse=0 \\
      --register churn --stage Production --archive-existing --format json
  ferroflow gate --run $RUN_ID --require 'metrics.f1 >= 0.9' --register churn --alias champion --dry-run")]
pub struct GateArgs {
    /// The candidate run.
    #[arg(long, conflicts_with = "experiment", required_unless_present = "experiment")]
    pub run: Option<String>,
    /// Take the candidate from this experiment (name or id): the first run of the search.
    #[arg(long, value_name = "NAME|ID")]
    pub experiment: Option<String>,
    /// With --experiment: which runs are candidates (MLflow's search language).
    #[arg(long, requires = "experiment")]
    pub filter: Option<String>,
    /// With --experiment: the order that puts the best run first, e.g. "metrics.f1 DESC"
    /// (repeatable; default: the newest run).
    #[arg(long, value_name = "CLAUSE", requires = "experiment")]
    pub order_by: Vec<String>,
    /// A condition the candidate must meet, in the search language's comparison syntax,
    /// e.g. 'metrics.f1 >= 0.9' or "params.model = 'xgb'" (repeatable). A metric the run did
    /// not log fails the condition.
    #[arg(long, value_name = "CONDITION")]
    pub require: Vec<String>,
    /// The version to beat: models:/NAME@ALIAS, models:/NAME/VERSION or models:/NAME/STAGE.
    #[arg(long, value_name = "MODEL_URI")]
    pub baseline: Option<String>,
    /// Fail when the baseline does not exist (by default, with no baseline there is
    /// nothing to beat and the baseline checks pass: the first model of a project).
    #[arg(long, requires = "baseline")]
    pub require_baseline: bool,
    /// How much better than the baseline a metric must be: METRIC=DELTA (absolute) or
    /// METRIC=PCT% (relative to the baseline's value); 0 means "at least as good"
    /// (repeatable).
    #[arg(long, value_name = "METRIC=DELTA", requires = "baseline")]
    pub min_improvement: Vec<String>,
    /// METRIC=max|min: which way is better (repeatable). Otherwise inferred: names
    /// containing loss, error, latency, mae, mse, rmse, mape, perplexity or duration are
    /// lower-is-better, all others higher-is-better.
    #[arg(long, value_name = "METRIC=max|min")]
    pub direction: Vec<String>,
    /// Shorthand for --direction METRIC=max.
    #[arg(long, value_name = "METRIC")]
    pub higher_is_better: Vec<String>,
    /// Shorthand for --direction METRIC=min.
    #[arg(long, value_name = "METRIC")]
    pub lower_is_better: Vec<String>,
    /// On a pass, register the candidate's model as a new version of this model.
    #[arg(long, value_name = "MODEL_NAME")]
    pub register: Option<String>,
    /// The model to register: an artifact path in the run (default: the run's newest
    /// logged model, else the last model in its mlflow.log-model.history tag).
    #[arg(long, value_name = "PATH", requires = "register")]
    pub model_path: Option<String>,
    /// On a pass, point this alias at the new version (repeatable).
    #[arg(long, requires = "register")]
    pub alias: Vec<String>,
    /// On a pass, move the new version to this stage (Staging, Production, Archived).
    #[arg(long, requires = "register")]
    pub stage: Option<String>,
    /// With --stage: archive the versions already in that stage.
    #[arg(long, requires = "stage")]
    pub archive_existing: bool,
    /// Decide and report, but register nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    #[command(flatten)]
    pub connection: Connection,
}

/// Which way a metric gets better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Max,
    Min,
}

/// Name parts that make a metric lower-is-better when no direction is declared.
const LOWER_IS_BETTER: [&str; 8] = ["loss", "error", "latency", "mae", "mse", "mape", "perplexity", "duration"];

/// The direction of `metric`, and whether it was declared or inferred from its name.
pub fn infer_direction(metric: &str) -> Direction {
    let name = metric.to_ascii_lowercase();
    if LOWER_IS_BETTER.iter().any(|part| name.contains(part)) {
        Direction::Min
    } else {
        Direction::Max
    }
}

/// `--min-improvement`'s amount.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Improvement {
    Absolute(f64),
    /// Percent of the baseline's value.
    Relative(f64),
}

impl std::fmt::Display for Improvement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Improvement::Absolute(d) => write!(f, "{}", number(*d)),
            Improvement::Relative(p) => write!(f, "{}%", number(*p)),
        }
    }
}

pub fn parse_improvement(text: &str) -> Result<(String, Improvement), String> {
    let (metric, amount) = key_value(text)?;
    let amount = amount.trim();
    let (digits, relative) = match amount.strip_suffix('%') {
        Some(pct) => (pct.trim(), true),
        None => (amount, false),
    };
    let value: f64 = digits.parse().map_err(|_| format!("--min-improvement {text}: '{amount}' is not a number"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("--min-improvement {text}: the amount must be a number >= 0"));
    }
    Ok((metric, if relative { Improvement::Relative(value) } else { Improvement::Absolute(value) }))
}

/// Compares the candidate's value with the baseline's: the improvement (positive is
/// better) and whether it reaches `wanted`. Differences below a relative 1e-9 count as
/// ties, so that `0.92` beats `0.91` by `0.01` as written, whatever binary rounding says.
pub fn improvement(candidate: f64, baseline: f64, direction: Direction, wanted: Improvement) -> (f64, bool) {
    let gain = match direction {
        Direction::Max => candidate - baseline,
        Direction::Min => baseline - candidate,
    };
    let tolerance = 1e-9 * candidate.abs().max(baseline.abs()).max(1.0);
    let passed = match wanted {
        Improvement::Absolute(delta) => gain >= delta - tolerance,
        Improvement::Relative(pct) => {
            if baseline == 0.0 {
                // No scale to be relative to: only a strict gain (or a tie for 0%) counts.
                gain > tolerance || (pct == 0.0 && gain >= -tolerance)
            } else {
                (gain + tolerance) / baseline.abs() * 100.0 >= pct
            }
        }
    };
    (gain, passed && !candidate.is_nan() && !baseline.is_nan())
}

/// One line of the reason table.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: String,
    pub expected: String,
    pub actual: String,
    pub passed: bool,
}

/// Everything checked up front, before the server is asked anything.
struct Plan {
    requirements: Vec<(String, search::Filter)>,
    baseline: Option<ModelUri>,
    improvements: Vec<(String, Improvement)>,
    directions: BTreeMap<String, Direction>,
}

fn plan(args: &GateArgs) -> Result<Plan, CliError> {
    let mut requirements = Vec::new();
    for text in &args.require {
        match search::parse_run_filter(text) {
            Ok(Some(filter)) => requirements.push((text.clone(), filter)),
            Ok(None) => return Err(CliError::Usage(format!("--require '{text}' is empty"))),
            Err(e) => return Err(CliError::Usage(format!("--require: {}", e.message))),
        }
    }
    let baseline = args.baseline.as_deref().map(str::parse::<ModelUri>).transpose().map_err(CliError::Usage)?;
    let improvements: Vec<_> =
        args.min_improvement.iter().map(|t| parse_improvement(t)).collect::<Result<_, _>>().map_err(CliError::Usage)?;
    if baseline.is_some() && improvements.is_empty() {
        return Err(CliError::Usage("--baseline needs at least one --min-improvement METRIC=DELTA".into()));
    }
    let mut directions = BTreeMap::new();
    for text in &args.direction {
        let (metric, way) = key_value(text).map_err(CliError::Usage)?;
        let way = match way.trim().to_ascii_lowercase().as_str() {
            "max" | "higher" => Direction::Max,
            "min" | "lower" => Direction::Min,
            other => return Err(CliError::Usage(format!("--direction {text}: '{other}' is not max or min"))),
        };
        directions.insert(metric, way);
    }
    directions.extend(args.higher_is_better.iter().map(|m| (m.clone(), Direction::Max)));
    directions.extend(args.lower_is_better.iter().map(|m| (m.clone(), Direction::Min)));
    if args.require.is_empty() && baseline.is_none() {
        return Err(CliError::Usage("nothing to check: give --require and/or --baseline".into()));
    }
    Ok(Plan { requirements, baseline, improvements, directions })
}

/// The run as the search evaluator sees it: the client's counterpart of the in-memory
/// store's `run_record` (ferroflow-store/src/in_memory.rs), which takes the server's types.
fn record(run: &Run) -> Record {
    let i = &run.info;
    let mut record = Record::default()
        .with_attr("run_id", i.run_id.as_str())
        .with_attr("status", i.status.as_str())
        .with_attr("user_id", i.user_id.as_str())
        .with_attr("artifact_uri", i.artifact_uri.as_str());
    if let Some(start) = i.start_time {
        record = record.with_attr("start_time", AttrValue::Int(start));
    }
    if let Some(end) = i.end_time {
        record = record.with_attr("end_time", AttrValue::Int(end));
    }
    for m in &run.data.metrics {
        record = record.with_metric(&m.key, m.value);
    }
    for p in &run.data.params {
        record = record.with_param(&p.key, &p.value);
    }
    for t in &run.data.tags {
        record = record.with_tag(&t.key, &t.value);
    }
    for d in &run.inputs.dataset_inputs {
        let context = ferroflow_client::find(&d.tags, "mlflow.data.context");
        record = record.with_dataset(&d.dataset.name, &d.dataset.digest, context);
    }
    record
}

/// What the run has for each key a condition reads: `metrics.f1 = 0.93`, `metrics.f1: not logged`.
fn actual_values(expr: &Expr, run: &Run, out: &mut Vec<String>) {
    match expr {
        Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| actual_values(p, run, out)),
        Expr::Not(inner) => actual_values(inner, run, out),
        Expr::Compare(c) => {
            let name = &c.key.name;
            let (label, value) = match c.key.kind {
                KeyKind::Metric => (format!("metrics.{name}"), run.metric(name).map(number)),
                KeyKind::Param => (format!("params.{name}"), run.param(name).map(str::to_string)),
                KeyKind::Tag => (format!("tags.{name}"), run.tag(name).map(str::to_string)),
                KeyKind::Attribute => (format!("attributes.{name}"), attribute(run, name)),
                KeyKind::Dataset => (format!("datasets.{name}"), None),
            };
            let shown = match value {
                Some(v) => format!("{label} = {v}"),
                None if c.key.kind == KeyKind::Dataset => label,
                None => format!("{label}: not logged"),
            };
            if !out.contains(&shown) {
                out.push(shown);
            }
        }
    }
}

fn attribute(run: &Run, name: &str) -> Option<String> {
    let i = &run.info;
    match name {
        "run_id" => Some(i.run_id.clone()),
        "run_name" => run.tag(search::RUN_NAME_TAG_KEY).map(str::to_string),
        "status" => Some(i.status.clone()),
        "user_id" => Some(i.user_id.clone()),
        "artifact_uri" => Some(i.artifact_uri.clone()),
        "start_time" => i.start_time.map(|t| t.to_string()),
        "end_time" => i.end_time.map(|t| t.to_string()),
        _ => None,
    }
}

/// The baseline version and its run, `None` when the version does not exist.
async fn baseline(client: &Client, uri: &ModelUri) -> Result<Option<(ModelVersion, Option<Run>)>, CliError> {
    let version = match client.resolve_model_uri(uri).await {
        Ok(version) => version,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if version.run_id.is_empty() {
        return Ok(Some((version, None)));
    }
    match client.get_run(&version.run_id).await {
        Ok(run) => Ok(Some((version, Some(run)))),
        Err(e) if e.is_not_found() => Ok(Some((version, None))),
        Err(e) => Err(e.into()),
    }
}

fn check(check: String, expected: String, actual: String, passed: bool) -> Check {
    Check { check, expected, actual, passed }
}

fn baseline_checks(
    plan: &Plan,
    candidate: &Run,
    uri: &ModelUri,
    found: &Option<(ModelVersion, Option<Run>)>,
    required: bool,
) -> Vec<Check> {
    let Some((version, base_run)) = found else {
        return vec![check(
            "baseline".into(),
            uri.to_string(),
            if required { "does not exist (--require-baseline)" } else { "does not exist: nothing to beat" }.into(),
            !required,
        )];
    };
    let mut checks = vec![check(
        "baseline".into(),
        uri.to_string(),
        format!("version {} (run {})", version.version, version.run_id),
        true,
    )];
    for (metric, wanted) in &plan.improvements {
        let (direction, how) = match plan.directions.get(metric) {
            Some(d) => (*d, "declared"),
            None => (infer_direction(metric), "inferred"),
        };
        let better = match direction {
            Direction::Max => "higher",
            Direction::Min => "lower",
        };
        let expected = format!("{better} by >= {wanted} ({better} is better, {how})");
        let name = format!("improvement metrics.{metric}");
        let candidate_value = candidate.metric(metric);
        let base_value = base_run.as_ref().and_then(|r| r.metric(metric));
        checks.push(match (candidate_value, base_value, base_run) {
            (None, _, _) => check(name, expected, "candidate did not log it".into(), false),
            (_, _, None) => check(name, expected, "the baseline version has no run to compare with".into(), false),
            (_, None, Some(_)) => check(name, expected, "baseline did not log it".into(), false),
            (Some(c), Some(b), Some(_)) => {
                let (gain, passed) = improvement(c, b, direction, *wanted);
                let relative = if b != 0.0 { format!(", {:+.3}%", gain / b.abs() * 100.0) } else { String::new() };
                let verdict = if gain.abs() <= 1e-9 * c.abs().max(b.abs()).max(1.0) { " (tied)" } else { "" };
                // Rounded to 12 decimals for reading: 0.93 - 0.9 shows as +0.03.
                let shown = (gain * 1e12).round() / 1e12;
                check(name, expected, format!("{} vs {}: {shown:+}{relative}{verdict}", number(c), number(b)), passed)
            }
        });
    }
    checks
}

/// Where the candidate's model is, as MLflow 3's `register_model` would find it:
/// the source URI and the logged model's id.
async fn model_source(client: &Client, run: &Run, path: Option<&str>) -> Result<(String, Option<String>), CliError> {
    let mut logged = match client.logged_models_of_run(&run.info.experiment_id, &run.info.run_id).await {
        Ok(models) => models,
        Err(e) if e.error_code() == Some("ENDPOINT_NOT_FOUND") => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    logged.sort_by_key(|m| std::cmp::Reverse(m.info.creation_timestamp_ms.unwrap_or(0)));
    let root = run.info.artifact_uri.trim_end_matches('/');
    if let Some(path) = path {
        let path = path.trim_matches('/');
        if client.read_artifact_text(root, &format!("{path}/MLmodel")).await?.is_some() {
            return Ok((format!("{root}/{path}"), None));
        }
        if let Some(model) = logged.iter().find(|m| m.info.name == path) {
            return Ok((format!("models:/{}", model.info.model_id), Some(model.info.model_id.clone())));
        }
        return Err(CliError::Usage(format!("run {} has no model at '{path}'", run.info.run_id)));
    }
    if let Some(model) = logged.first() {
        return Ok((format!("models:/{}", model.info.model_id), Some(model.info.model_id.clone())));
    }
    let history: Option<String> = run
        .tag("mlflow.log-model.history")
        .and_then(|h| serde_json::from_str::<Value>(h).ok())
        .and_then(|h| h.as_array()?.last()?.get("artifact_path")?.as_str().map(str::to_string));
    match history {
        Some(path) => Ok((format!("{root}/{path}"), None)),
        None => Err(CliError::Usage(format!(
            "run {} logged no model to register (pass --model-path PATH)",
            run.info.run_id
        ))),
    }
}

/// What a passing gate wrote to the registry.
#[derive(Debug, Serialize)]
struct Registered {
    name: String,
    version: String,
    source: String,
    aliases: Vec<String>,
    stage: Option<String>,
}

async fn register(
    client: &Client,
    args: &GateArgs,
    name: &str,
    candidate: &Run,
    source: (String, Option<String>),
    tags: Vec<KeyValue>,
) -> Result<Registered, CliError> {
    match client.get_registered_model(name).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {
            client.create_registered_model(name, &[]).await?;
        }
        Err(e) => return Err(e.into()),
    }
    let (source, model_id) = source;
    let version =
        client.create_model_version(name, &source, Some(&candidate.info.run_id), model_id.as_deref(), &tags).await?;
    for alias in &args.alias {
        client.set_alias(name, alias, &version.version).await?;
    }
    if let Some(stage) = &args.stage {
        client.transition_stage(name, &version.version, stage, args.archive_existing).await?;
    }
    Ok(Registered {
        name: name.to_string(),
        version: version.version,
        source,
        aliases: args.alias.clone(),
        stage: args.stage.clone(),
    })
}

/// The longest tag value MLflow stores on a model version.
const MAX_TAG_VALUE: usize = 5000;

fn decision_tags(
    candidate: &Run,
    baseline: Option<&ModelVersion>,
    uri: Option<&ModelUri>,
    checks: &[Check],
) -> Vec<KeyValue> {
    let tag = |key: &str, value: String| KeyValue { key: key.into(), value };
    let mut summary = serde_json::to_string(checks).unwrap_or_default();
    if summary.len() > MAX_TAG_VALUE {
        let mut cut = MAX_TAG_VALUE - 3;
        while !summary.is_char_boundary(cut) {
            cut -= 1;
        }
        summary.truncate(cut);
        summary.push_str("...");
    }
    let baseline = match (uri, baseline) {
        (Some(uri), Some(v)) => format!("{uri} (version {})", v.version),
        (Some(uri), None) => format!("{uri} (did not exist)"),
        _ => "none".into(),
    };
    vec![
        tag("ferroflow.gate.decision", "passed".into()),
        tag("ferroflow.gate.run_id", candidate.info.run_id.clone()),
        tag("ferroflow.gate.baseline", baseline),
        tag("ferroflow.gate.checks", summary),
        tag("ferroflow.gate.decided_at", chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    ]
}

pub async fn run(args: GateArgs) -> Result<Outcome, CliError> {
    let plan = plan(&args)?;
    let client = args.connection.client()?;
    let candidate = match (&args.run, &args.experiment) {
        (Some(id), _) => Some(client.get_run(id).await?),
        (None, Some(experiment)) => {
            let order = if args.order_by.is_empty() {
                vec!["attributes.start_time DESC".into()]
            } else {
                args.order_by.clone()
            };
            runs::search(&client, std::slice::from_ref(experiment), args.filter.clone(), order, 1)
                .await?
                .into_iter()
                .next()
        }
        (None, None) => unreachable!("clap requires --run or --experiment"),
    };
    let mut checks = Vec::new();
    let mut found_baseline = None;
    match &candidate {
        None => checks.push(check(
            "candidate".into(),
            format!(
                "a run of experiment {} matching {}",
                args.experiment.as_deref().unwrap_or(""),
                args.filter.as_deref().unwrap_or("(any)")
            ),
            "no run matches".into(),
            false,
        )),
        Some(run) => {
            checks.push(check(
                "candidate".into(),
                "a run".into(),
                format!("{} ({})", run.info.run_id, run.info.run_name),
                true,
            ));
            let seen = record(run);
            for (text, filter) in &plan.requirements {
                let mut actual = Vec::new();
                actual_values(&filter.expr, run, &mut actual);
                checks.push(check("require".into(), text.clone(), actual.join(", "), filter.matches(&seen)));
            }
            if let Some(uri) = &plan.baseline {
                found_baseline = baseline(&client, uri).await?;
                checks.extend(baseline_checks(&plan, run, uri, &found_baseline, args.require_baseline));
            }
        }
    }
    let passed = checks.iter().all(|c| c.passed);
    let mut registered = None;
    let mut notes = Vec::new();
    if let (true, Some(name), Some(run)) = (passed, &args.register, &candidate) {
        let source = model_source(&client, run, args.model_path.as_deref()).await?;
        if args.dry_run {
            notes.push(format!("dry run: would register {} as a new version of {name}", source.0));
        } else {
            let tags = decision_tags(run, found_baseline.as_ref().map(|(v, _)| v), plan.baseline.as_ref(), &checks);
            let done = register(&client, &args, name, run, source, tags).await?;
            let mut what = format!("registered {} version {}", done.name, done.version);
            if !done.aliases.is_empty() {
                what.push_str(&format!(", alias {}", done.aliases.join(", ")));
            }
            if let Some(stage) = &done.stage {
                what.push_str(&format!(", stage {stage}"));
            }
            notes.push(what);
            registered = Some(done);
        }
    }
    let mut table = Table::new(&["check", "expected", "actual", "result"]);
    for c in &checks {
        let result = if c.passed { Cell::toned("PASS", Tone::Good) } else { Cell::toned("FAIL", Tone::Bad) };
        table.row(vec![c.check.clone().into(), c.expected.clone().into(), c.actual.clone().into(), result]);
    }
    notes.insert(0, format!("gate {}", if passed { "PASSED" } else { "FAILED" }));
    let mut report = Report::new(
        vec![table],
        json!({
            "decision": if passed { "pass" } else { "fail" },
            "candidate": candidate.as_ref().map(|r| json!({"run_id": r.info.run_id, "run_name": r.info.run_name})),
            "baseline": found_baseline.as_ref().map(|(v, _)| json!({"name": v.name, "version": v.version, "run_id": v.run_id})),
            "checks": checks,
            "registered": registered,
            "dry_run": args.dry_run,
        }),
    );
    report.notes = notes;
    report.print(args.format);
    Ok(if passed { Outcome::Success } else { Outcome::GateFailed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_are_inferred_from_names() {
        for name in ["loss", "val_loss", "rmse", "MAE", "error_rate", "latency_ms", "p95_latency", "mape"] {
            assert_eq!(infer_direction(name), Direction::Min, "{name}");
        }
        for name in ["f1", "accuracy", "auc", "precision", "r2"] {
            assert_eq!(infer_direction(name), Direction::Max, "{name}");
        }
    }

    #[test]
    fn improvements_absolute_relative_and_ties() {
        use Direction::*;
        use Improvement::*;
        assert!(improvement(0.92, 0.91, Max, Absolute(0.01)).1, "as written, despite binary rounding");
        assert!(!improvement(0.915, 0.91, Max, Absolute(0.01)).1);
        assert!(!improvement(0.91, 0.91, Max, Absolute(0.01)).1, "a tie does not improve");
        assert!(improvement(0.91, 0.91, Max, Absolute(0.0)).1, "0 means at least as good");
        assert!(improvement(0.30, 0.40, Min, Absolute(0.1)).1);
        assert!(!improvement(0.40, 0.30, Min, Absolute(0.0)).1);
        assert!(improvement(0.98, 1.0, Min, Relative(2.0)).1);
        assert!(!improvement(0.99, 1.0, Min, Relative(2.0)).1);
        assert!(improvement(1.02, 1.0, Max, Relative(2.0)).1);
        assert!(!improvement(f64::NAN, 1.0, Max, Absolute(0.0)).1);
        assert!(improvement(0.1, 0.0, Max, Relative(5.0)).1);
        assert!(!improvement(0.0, 0.0, Max, Relative(5.0)).1);
    }

    #[test]
    fn improvement_amounts_parse() {
        assert_eq!(parse_improvement("f1=0.01"), Ok(("f1".into(), Improvement::Absolute(0.01))));
        assert_eq!(parse_improvement("loss=2%"), Ok(("loss".into(), Improvement::Relative(2.0))));
        assert!(parse_improvement("f1").is_err());
        assert!(parse_improvement("f1=-1").is_err());
        assert!(parse_improvement("f1=abc").is_err());
    }
}
