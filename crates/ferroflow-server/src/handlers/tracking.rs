//! Tracking RPCs: experiments, runs, logging and metric reads. Each handler decodes the
//! message, applies MLflow's input validation, calls the store once and shapes the answer.

use crate::auth::{experiment_key, grant_creator, visible_to, Caller};
use crate::auth::{Locate, Routes, Rule};
use axum::extract::Extension;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use ferroflow_core::auth::Action;
use ferroflow_core::types::{
    Dataset, DatasetInput, DatasetSummary, Experiment, KeyValue, Metric, ModelInput, ModelOutput, Page, Run, RunStatus,
    ViewType,
};
use ferroflow_core::validation;
use ferroflow_core::Error;
use ferroflow_store::auth::{ExperimentOf, Resource};
use ferroflow_store::{
    BulkIntervalQuery, CreateExperiment, CreateRun, LogBatch, MetricHistoryQuery, SearchExperiments, SearchRuns,
    UpdateRun,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::wire::{lenient, Keyed, Paged, Rpc};
use crate::AppState;

type JsonResult = ApiResult<Json<Value>>;

pub(crate) fn required<T>(value: Option<T>, name: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError(Error::missing_parameter(name)))
}

/// A required string that must also be non-empty, as MLflow treats "" like absent.
pub(crate) fn required_text(value: Option<String>, name: &str) -> Result<String, ApiError> {
    required(value.filter(|v| !v.is_empty()), name)
}

fn empty() -> JsonResult {
    Ok(Json(json!({})))
}

fn view_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ViewType>, D::Error> {
    lenient::opt_enum(d, ViewType::parse, "ViewType")
}

fn run_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<RunStatus>, D::Error> {
    lenient::opt_enum(d, RunStatus::parse, "RunStatus")
}

#[derive(Deserialize)]
pub struct TagMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    value: Option<String>,
}

impl TagMessage {
    fn into_key_value(self) -> Result<KeyValue, ApiError> {
        Ok(KeyValue::new(required(self.key, "key")?, self.value.unwrap_or_default()))
    }
}

pub(crate) fn key_values(tags: Vec<TagMessage>) -> Result<Vec<KeyValue>, ApiError> {
    tags.into_iter().map(TagMessage::into_key_value).collect()
}

// ---------------------------------------------------------------- experiments

#[derive(Deserialize)]
pub struct CreateExperimentMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    artifact_location: Option<String>,
    #[serde(default, deserialize_with = "lenient::vec")]
    tags: Vec<TagMessage>,
}

/// Schemes whose last path segment may carry `;params` (Python's `urllib.parse.uses_params`).
const URL_SCHEMES_WITH_PARAMS: &[&str] = &[
    "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtsps", "rtspu", "sip", "sips", "mms",
    "sftp", "tel",
];

/// The `(params, query, fragment)` parts of a URL, split as Python's `urlparse` does.
fn url_params_query_fragment(url: &str) -> (&str, &str, &str) {
    let (mut scheme, mut rest) = ("", url);
    if let Some((candidate, after)) = url.split_once(':') {
        let valid = candidate.starts_with(|c: char| c.is_ascii_alphabetic())
            && candidate.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if valid {
            (scheme, rest) = (candidate, after);
        }
    }
    if let Some(after_slashes) = rest.strip_prefix("//") {
        rest = &after_slashes[after_slashes.find(['/', '?', '#']).unwrap_or(after_slashes.len())..];
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let scheme = scheme.to_ascii_lowercase();
    let last_segment = path.rfind('/').unwrap_or(0);
    let params = match path[last_segment..].find(';') {
        Some(i) if URL_SCHEMES_WITH_PARAMS.contains(&scheme.as_str()) => &path[last_segment + i + 1..],
        _ => "",
    };
    (params, query, fragment)
}

/// MLflow's checks of a client-chosen artifact location (`_validate_storage_location_uri`),
/// except its host allow-list, which depends on server settings ferroflow does not have.
fn validate_artifact_location(location: &str) -> Result<(), ApiError> {
    let (params, query, fragment) = url_params_query_fragment(location);
    if !params.is_empty() || !fragment.is_empty() {
        return Err(ApiError::invalid("'artifact_location' URL can't include fragments or params."));
    }
    // Percent-decoding until stable, as MLflow does, so `%2E%2E` is caught too.
    let mut decoded = query.to_string();
    for _ in 0..10 {
        let next = crate::wire::percent_decode(&decoded);
        if next == decoded {
            break;
        }
        decoded = next;
    }
    if decoded.contains("..") {
        return Err(ApiError::invalid("Invalid query string"));
    }
    if location.starts_with("runs:") {
        return Err(ApiError::invalid(format!("Artifact location cannot be a runs:/ URI. Given: '{location}'")));
    }
    if location.chars().count() > MAX_ARTIFACT_LOCATION_LENGTH {
        return Err(ApiError::invalid(format!(
            "Invalid artifact path length. The length of the artifact path cannot be greater than \
             {MAX_ARTIFACT_LOCATION_LENGTH} characters. To configure this limit, please set the \
             MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable."
        )));
    }
    Ok(())
}

/// MLflow's `resolve_uri_if_local`: a relative local path, or a relative `file:` URI, is
/// made absolute against the server's working directory (`rel/dir` → `/cwd/rel/dir`,
/// `file:rel` → `file:///cwd/rel`); anything else is kept as given. A `file:` URI naming
/// a remote host is refused (MLflow answers that one with a 500).
fn resolve_uri_if_local(location: &str) -> Result<String, ApiError> {
    let (scheme, rest) = match location.split_once(':') {
        Some((candidate, rest))
            if candidate.starts_with(|c: char| c.is_ascii_alphabetic())
                && candidate.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            (candidate.to_ascii_lowercase(), rest)
        }
        _ => (String::new(), location),
    };
    let (path, suffix) = match scheme.as_str() {
        "" => (location, ""),
        "file" => {
            // `urlparse`: `//host` is the network location, then the path up to `?` or `#`.
            let (host, after_host) = match rest.strip_prefix("//") {
                Some(after) => after.split_at(after.find(['/', '?', '#']).unwrap_or(after.len())),
                None => ("", rest),
            };
            let hostname = host.rsplit('@').next().unwrap_or("").split(':').next().unwrap_or("");
            let local_host = hostname.is_empty()
                || hostname == "."
                || hostname.to_ascii_lowercase().starts_with("localhost")
                || hostname.starts_with("127.0.0.1");
            if !local_host {
                return Err(ApiError::invalid(format!(
                    "{location} is not a valid remote uri. For remote access on windows, please consider using a \
                     different scheme such as SMB (e.g. smb://<hostname>/<path>)."
                )));
            }
            let end = after_host.find(['?', '#']).unwrap_or(after_host.len());
            (&after_host[..end], &after_host[end..])
        }
        _ => return Ok(location.to_string()),
    };
    let path = crate::wire::percent_decode_path(path);
    if path.starts_with('/') {
        return Ok(location.to_string());
    }
    let cwd = std::env::current_dir()
        .map_err(|e| ApiError(Error::internal(format!("the working directory is unreadable: {e}"))))?;
    // pathlib's join: `.` parts and repeated or trailing slashes go, `..` stays.
    let mut joined = cwd.to_string_lossy().trim_end_matches('/').to_string();
    for part in path.split('/').filter(|part| !part.is_empty() && *part != ".") {
        joined.push('/');
        joined.push_str(part);
    }
    if joined.is_empty() {
        joined.push('/');
    }
    Ok(if scheme.is_empty() { joined } else { format!("file://{joined}{suffix}") })
}

/// MLflow's default `MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH`.
const MAX_ARTIFACT_LOCATION_LENGTH: usize = 2048;

pub async fn create_experiment(
    State(app): State<AppState>,
    caller: Option<Extension<Caller>>,
    rpc: Rpc<CreateExperimentMessage>,
) -> JsonResult {
    let message = rpc.message;
    let name = required_text(message.name, "name")?;
    if let Some(location) = message.artifact_location.as_deref().filter(|l| !l.is_empty()) {
        validate_artifact_location(location)?;
    }
    validation::validate_experiment_name(&name)?;
    let artifact_location = match message.artifact_location.filter(|l| !l.is_empty()) {
        Some(location) => {
            let resolved = resolve_uri_if_local(&location)?;
            if resolved.chars().count() > MAX_ARTIFACT_LOCATION_LENGTH {
                validate_artifact_location(&resolved)?;
            }
            Some(resolved)
        }
        None => None,
    };
    let tags = key_values(message.tags)?;
    for tag in &tags {
        validation::validate_experiment_tag(tag)?;
    }
    let experiment_id = app.store.create_experiment(CreateExperiment { name, artifact_location, tags }).await?;
    grant_creator(&app, caller.as_deref(), Resource::Experiment(experiment_id.clone())).await?;
    Ok(Json(json!({ "experiment_id": experiment_id })))
}

#[derive(Deserialize)]
pub struct ExperimentIdMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    experiment_id: Option<String>,
}

pub async fn get_experiment(
    State(app): State<AppState>,
    rpc: Rpc<ExperimentIdMessage>,
) -> ApiResult<Json<Keyed<Experiment>>> {
    Ok(Json(Keyed { key: "experiment", value: experiment(&app, rpc.message).await? }))
}

/// `experiments/get`, shared with GraphQL's `mlflowGetExperiment`.
pub(crate) async fn experiment(app: &AppState, message: ExperimentIdMessage) -> ApiResult<Experiment> {
    let experiment_id = required_text(message.experiment_id, "experiment_id")?;
    Ok(app.store.get_experiment(&experiment_id).await?)
}

#[derive(Deserialize)]
pub struct ExperimentNameMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    experiment_name: Option<String>,
}

pub async fn get_experiment_by_name(State(app): State<AppState>, rpc: Rpc<ExperimentNameMessage>) -> JsonResult {
    let name = required_text(rpc.message.experiment_name, "experiment_name")?;
    let experiment = app.store.get_experiment_by_name(&name).await?;
    Ok(Json(json!({ "experiment": experiment })))
}

#[derive(Deserialize)]
pub struct SearchExperimentsMessage {
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    page_token: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::vec_string")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "view_type")]
    view_type: Option<ViewType>,
}

pub async fn search_experiments(
    State(app): State<AppState>,
    caller: Option<Extension<Caller>>,
    rpc: Rpc<SearchExperimentsMessage>,
) -> ApiResult<Json<Paged<Experiment>>> {
    let message = rpc.message;
    let limit = validation::MAX_RESULTS_SEARCH_EXPERIMENTS;
    // An absent max_results reads as proto's 0, which MLflow rejects.
    let max_results = match message.max_results.unwrap_or(0) {
        n if n < 1 => {
            return Err(ApiError::invalid(format!(
                "Invalid value {n} for parameter 'max_results' supplied. It must be a positive integer"
            )))
        }
        n if n > limit => {
            return Err(ApiError::invalid(format!(
                "Invalid value {n} for parameter 'max_results' supplied. It must be at most {limit}"
            )))
        }
        n => n as usize,
    };
    let visible = visible_to(&app, caller.as_deref(), experiment_key).await?;
    let page = app
        .store
        .search_experiments(SearchExperiments {
            filter: message.filter,
            order_by: message.order_by,
            view_type: message.view_type.unwrap_or(ViewType::ActiveOnly),
            max_results,
            page_token: message.page_token,
            visible,
        })
        .await?;
    Ok(Json(Paged { key: "experiments", page }))
}

#[derive(Deserialize)]
pub struct UpdateExperimentMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    experiment_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    new_name: Option<String>,
}

pub async fn update_experiment(State(app): State<AppState>, rpc: Rpc<UpdateExperimentMessage>) -> JsonResult {
    let experiment_id = required_text(rpc.message.experiment_id, "experiment_id")?;
    let new_name = required_text(rpc.message.new_name, "new_name")?;
    validation::validate_experiment_name(&new_name)?;
    app.store.rename_experiment(&experiment_id, &new_name).await?;
    empty()
}

pub async fn delete_experiment(State(app): State<AppState>, rpc: Rpc<ExperimentIdMessage>) -> JsonResult {
    let experiment_id = required_text(rpc.message.experiment_id, "experiment_id")?;
    app.store.delete_experiment(&experiment_id).await?;
    empty()
}

pub async fn restore_experiment(State(app): State<AppState>, rpc: Rpc<ExperimentIdMessage>) -> JsonResult {
    let experiment_id = required_text(rpc.message.experiment_id, "experiment_id")?;
    app.store.restore_experiment(&experiment_id).await?;
    empty()
}

#[derive(Deserialize)]
pub struct ExperimentTagMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    experiment_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    value: Option<String>,
}

pub async fn set_experiment_tag(State(app): State<AppState>, rpc: Rpc<ExperimentTagMessage>) -> JsonResult {
    let message = rpc.message;
    let experiment_id = required_text(message.experiment_id, "experiment_id")?;
    let tag = KeyValue::new(required_text(message.key, "key")?, message.value.unwrap_or_default());
    validation::validate_experiment_tag(&tag)?;
    app.store.set_experiment_tag(&experiment_id, tag).await?;
    empty()
}

pub async fn delete_experiment_tag(State(app): State<AppState>, rpc: Rpc<ExperimentTagMessage>) -> JsonResult {
    let message = rpc.message;
    let experiment_id = required_text(message.experiment_id, "experiment_id")?;
    let key = required_text(message.key, "key")?;
    app.store.delete_experiment_tag(&experiment_id, &key).await?;
    empty()
}

// ---------------------------------------------------------------- runs

#[derive(Deserialize)]
pub struct CreateRunMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    experiment_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    user_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient::vec")]
    tags: Vec<TagMessage>,
}

pub async fn create_run(State(app): State<AppState>, rpc: Rpc<CreateRunMessage>) -> JsonResult {
    let message = rpc.message;
    // MLflow's store takes create-time tags as given, without key or length checks.
    let tags = key_values(message.tags)?;
    let run = app
        .store
        .create_run(CreateRun {
            experiment_id: message.experiment_id,
            user_id: message.user_id,
            run_name: message.run_name,
            start_time: message.start_time,
            tags,
        })
        .await?;
    if let Some(auth) = &app.auth {
        // The run's next calls are checked through its experiment: known now, not read later.
        auth.remember_owner(ExperimentOf::Run(run.info.run_id.clone()), run.info.experiment_id.clone());
    }
    // A new run has no outputs yet; MLflow omits the key on create.
    let mut body = json!({ "run": run });
    if run.outputs.model_outputs.is_empty() {
        if let Some(run) = body["run"].as_object_mut() {
            run.remove("outputs");
        }
    }
    Ok(Json(body))
}

/// Run-addressed messages carry `run_id`, or the deprecated `run_uuid`, or both.
#[derive(Deserialize)]
pub struct RunIdMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_uuid: Option<String>,
}

impl RunIdMessage {
    /// The run id, which must be present. Its syntax is not checked: like MLflow, an
    /// odd id is just an unknown run (404), except in log-batch and log-inputs.
    pub(crate) fn resolve(self) -> Result<String, ApiError> {
        required_text(self.run_id.filter(|r| !r.is_empty()).or(self.run_uuid), "run_id")
    }

    /// The run id, checked against MLflow's run-id syntax as its log-batch and log-inputs do.
    fn resolve_checked(self) -> Result<String, ApiError> {
        let run_id = self.resolve()?;
        validation::validate_run_id(&run_id)?;
        Ok(run_id)
    }
}

pub async fn get_run(State(app): State<AppState>, rpc: Rpc<RunIdMessage>) -> ApiResult<Json<Keyed<Run>>> {
    Ok(Json(Keyed { key: "run", value: run(&app, rpc.message).await? }))
}

/// `runs/get`, shared with GraphQL's `mlflowGetRun`.
pub(crate) async fn run(app: &AppState, message: RunIdMessage) -> ApiResult<Run> {
    Ok(app.store.get_run(&message.resolve()?).await?)
}

#[derive(Deserialize)]
pub struct UpdateRunMessage {
    #[serde(flatten)]
    id: RunIdMessage,
    #[serde(default, deserialize_with = "run_status")]
    status: Option<RunStatus>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    end_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_name: Option<String>,
}

pub async fn update_run(State(app): State<AppState>, rpc: Rpc<UpdateRunMessage>) -> JsonResult {
    let message = rpc.message;
    let run_info = app
        .store
        .update_run(UpdateRun {
            run_id: message.id.resolve()?,
            status: message.status,
            end_time: message.end_time,
            run_name: message.run_name,
        })
        .await?;
    Ok(Json(json!({ "run_info": run_info })))
}

pub async fn delete_run(State(app): State<AppState>, rpc: Rpc<RunIdMessage>) -> JsonResult {
    app.store.delete_run(&rpc.message.resolve()?).await?;
    empty()
}

pub async fn restore_run(State(app): State<AppState>, rpc: Rpc<RunIdMessage>) -> JsonResult {
    app.store.restore_run(&rpc.message.resolve()?).await?;
    empty()
}

#[derive(Deserialize)]
pub struct SearchRunsMessage {
    #[serde(default, deserialize_with = "lenient::vec_string")]
    experiment_ids: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    filter: Option<String>,
    #[serde(default, deserialize_with = "view_type")]
    run_view_type: Option<ViewType>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "lenient::vec_string")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    page_token: Option<String>,
}

/// With auth on, only the experiments the caller may read are searched (MLflow 3's
/// `filter_experiment_ids`), so paging stays the store's own.
pub async fn search_runs(
    State(app): State<AppState>,
    caller: Option<Extension<Caller>>,
    rpc: Rpc<SearchRunsMessage>,
) -> ApiResult<Json<Paged<Run>>> {
    let mut message = rpc.message;
    if let Some(visible) = visible_to(&app, caller.as_deref(), experiment_key).await? {
        message.experiment_ids.retain(|id| visible.allows(id));
        if message.experiment_ids.is_empty() {
            return Ok(Json(Paged { key: "runs", page: Page { items: Vec::new(), next_page_token: None } }));
        }
    }
    Ok(Json(Paged { key: "runs", page: run_page(&app, message).await? }))
}

/// `runs/search`, shared with GraphQL's `mlflowSearchRuns`.
pub(crate) async fn run_page(app: &AppState, message: SearchRunsMessage) -> ApiResult<Page<Run>> {
    let limit = validation::MAX_RESULTS_SEARCH_RUNS;
    let max_results = match message.max_results.unwrap_or(1000) {
        n if n > limit => {
            return Err(ApiError::invalid(format!(
                "Invalid value {n} for parameter 'max_results' supplied:  Hint: Value was of type 'int'. \
                 See the API docs for more information about request parameters."
            )))
        }
        n if n < 1 => {
            return Err(ApiError::invalid(format!(
                "Invalid value {n} for parameter 'max_results' supplied. It must be a positive integer"
            )))
        }
        n => n as usize,
    };
    let page = app
        .store
        .search_runs(SearchRuns {
            experiment_ids: message.experiment_ids,
            filter: message.filter,
            run_view_type: message.run_view_type.unwrap_or(ViewType::ActiveOnly),
            max_results,
            order_by: message.order_by,
            page_token: message.page_token,
        })
        .await?;
    Ok(page)
}

// ---------------------------------------------------------------- logging

#[derive(Deserialize)]
pub struct MetricMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    value: Option<f64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    step: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    model_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    dataset_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    dataset_digest: Option<String>,
}

impl MetricMessage {
    /// `index` is the metric's position in a batch, named in "missing" messages
    /// (`metrics[i].key`); the name is only formatted when a field is actually missing.
    fn into_metric(self, index: Option<usize>) -> Result<Metric, ApiError> {
        let missing = |field: &str| {
            let name = match index {
                Some(i) => format!("metrics[{i}].{field}"),
                None => field.to_string(),
            };
            ApiError(Error::missing_parameter(&name))
        };
        let key = self.key.ok_or_else(|| missing("key"))?;
        let value = self.value.ok_or_else(|| missing("value"))?;
        let timestamp = self.timestamp.ok_or_else(|| missing("timestamp"))?;
        let mut metric = Metric::new(key, value, timestamp, self.step.unwrap_or(0));
        metric.model_id = self.model_id.filter(|m| !m.is_empty());
        metric.dataset_name = self.dataset_name.filter(|m| !m.is_empty());
        metric.dataset_digest = self.dataset_digest.filter(|m| !m.is_empty());
        Ok(metric)
    }
}

#[derive(Deserialize)]
pub struct LogMetricMessage {
    #[serde(flatten)]
    id: RunIdMessage,
    #[serde(flatten)]
    metric: MetricMessage,
}

async fn write_batch(app: &AppState, mut batch: LogBatch) -> JsonResult {
    validation::validate_batch(&batch.metrics, &mut batch.params, &mut batch.tags)?;
    app.store.log_batch(batch).await?;
    empty()
}

pub async fn log_metric(State(app): State<AppState>, rpc: Rpc<LogMetricMessage>) -> JsonResult {
    let message = rpc.message;
    let run_id = message.id.resolve()?;
    let metric = message.metric.into_metric(None)?;
    validation::validate_metric(&metric, "")?;
    write_batch(&app, LogBatch { run_id, metrics: vec![metric], ..Default::default() }).await
}

#[derive(Deserialize)]
pub struct KeyValueForRunMessage {
    #[serde(flatten)]
    id: RunIdMessage,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    value: Option<String>,
}

impl KeyValueForRunMessage {
    fn resolve(self) -> Result<(String, KeyValue), ApiError> {
        let run_id = self.id.resolve()?;
        Ok((run_id, KeyValue::new(required_text(self.key, "key")?, self.value.unwrap_or_default())))
    }
}

pub async fn log_param(State(app): State<AppState>, rpc: Rpc<KeyValueForRunMessage>) -> JsonResult {
    let (run_id, mut param) = rpc.message.resolve()?;
    validation::validate_param(&mut param, "key")?;
    write_batch(&app, LogBatch { run_id, params: vec![param], ..Default::default() }).await
}

pub async fn set_tag(State(app): State<AppState>, rpc: Rpc<KeyValueForRunMessage>) -> JsonResult {
    let (run_id, mut tag) = rpc.message.resolve()?;
    validation::validate_run_tag(&mut tag, "key")?;
    write_batch(&app, LogBatch { run_id, tags: vec![tag], ..Default::default() }).await
}

#[derive(Deserialize)]
pub struct DeleteTagMessage {
    #[serde(flatten)]
    id: RunIdMessage,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    key: Option<String>,
}

pub async fn delete_tag(State(app): State<AppState>, rpc: Rpc<DeleteTagMessage>) -> JsonResult {
    let message = rpc.message;
    let run_id = message.id.resolve()?;
    let key = required_text(message.key, "key")?;
    app.store.delete_tag(&run_id, &key).await?;
    empty()
}

#[derive(Deserialize)]
pub struct LogBatchMessage {
    #[serde(flatten)]
    id: RunIdMessage,
    #[serde(default, deserialize_with = "lenient::vec")]
    metrics: Vec<MetricMessage>,
    #[serde(default, deserialize_with = "lenient::vec")]
    params: Vec<TagMessage>,
    #[serde(default, deserialize_with = "lenient::vec")]
    tags: Vec<TagMessage>,
}

/// A batch's params or tags; `field` names the list in MLflow's "missing" messages.
fn batch_key_values(entries: Vec<TagMessage>, field: &str) -> Result<Vec<KeyValue>, ApiError> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let key = required_text(entry.key, &format!("{field}[{i}].key"))?;
            Ok(KeyValue::new(key, entry.value.unwrap_or_default()))
        })
        .collect()
}

// MLflow 3.18 also declares a 1 MB limit for log-batch requests, but its check measures the
// parsed dict (its number of top-level keys), so it never fires; a byte limit here would
// refuse batches MLflow accepts (100 params of 6000 characters and 100 tags of 8000).
pub async fn log_batch(State(app): State<AppState>, rpc: Rpc<LogBatchMessage>) -> JsonResult {
    let message = rpc.message;
    let run_id = message.id.resolve_checked()?;
    let metrics = message
        .metrics
        .into_iter()
        .enumerate()
        .map(|(i, metric)| metric.into_metric(Some(i)))
        .collect::<Result<_, _>>()?;
    let params = batch_key_values(message.params, "params")?;
    let tags = batch_key_values(message.tags, "tags")?;
    write_batch(&app, LogBatch { run_id, metrics, params, tags }).await
}

#[derive(Deserialize)]
pub struct DatasetMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    digest: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    source_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    source: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    schema: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    profile: Option<String>,
}

#[derive(Deserialize)]
pub struct DatasetInputMessage {
    #[serde(default, deserialize_with = "lenient::vec")]
    tags: Vec<TagMessage>,
    dataset: Option<DatasetMessage>,
}

#[derive(Deserialize)]
pub struct ModelIdMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    model_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    step: Option<i64>,
}

#[derive(Deserialize)]
pub struct LogInputsMessage {
    #[serde(flatten)]
    id: RunIdMessage,
    #[serde(default, deserialize_with = "lenient::vec")]
    datasets: Vec<DatasetInputMessage>,
    #[serde(default, deserialize_with = "lenient::vec")]
    models: Vec<ModelIdMessage>,
}

pub async fn log_inputs(State(app): State<AppState>, rpc: Rpc<LogInputsMessage>) -> JsonResult {
    let message = rpc.message;
    let run_id = message.id.resolve_checked()?;
    let mut datasets = Vec::with_capacity(message.datasets.len());
    for input in message.datasets {
        let dataset = required(input.dataset, "dataset")?;
        let input = DatasetInput {
            tags: key_values(input.tags)?,
            dataset: Dataset {
                name: required(dataset.name, "name")?,
                digest: required(dataset.digest, "digest")?,
                source_type: required(dataset.source_type, "source_type")?,
                source: required(dataset.source, "source")?,
                schema: dataset.schema,
                profile: dataset.profile,
            },
        };
        validation::validate_dataset_input(&input)?;
        datasets.push(input);
    }
    let models = message
        .models
        .into_iter()
        .map(|m| Ok(ModelInput { model_id: required_text(m.model_id, "model_id")? }))
        .collect::<Result<_, ApiError>>()?;
    app.store.log_inputs(&run_id, datasets, models).await?;
    empty()
}

#[derive(Deserialize)]
pub struct LogOutputsMessage {
    #[serde(flatten)]
    id: RunIdMessage,
    #[serde(default, deserialize_with = "lenient::opt_vec")]
    models: Option<Vec<ModelIdMessage>>,
}

pub async fn log_outputs(State(app): State<AppState>, rpc: Rpc<LogOutputsMessage>) -> JsonResult {
    let message = rpc.message;
    let run_id = message.id.resolve()?;
    let models = required(message.models, "models")?
        .into_iter()
        .map(|m| Ok(ModelOutput { model_id: required_text(m.model_id, "model_id")?, step: m.step.unwrap_or(0) }))
        .collect::<Result<_, ApiError>>()?;
    app.store.log_outputs(&run_id, models).await?;
    empty()
}

#[derive(Deserialize)]
pub struct LogModelMessage {
    #[serde(flatten)]
    id: RunIdMessage,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    model_json: Option<String>,
}

/// The legacy `runs/log-model` (MLflow 2.x clients call it after every `log_model`):
/// records the model in the run's `mlflow.log-model.history` tag.
pub async fn log_model(State(app): State<AppState>, rpc: Rpc<LogModelMessage>) -> JsonResult {
    let message = rpc.message;
    let run_id = message.id.resolve()?;
    let model_json = required_text(message.model_json, "model_json")?;
    // Python's str(datetime.utcnow()), which MLflow uses for a missing creation time.
    let now = || {
        let text = chrono::Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string();
        text.strip_suffix(".000000").map(str::to_string).unwrap_or(text)
    };
    let entry = ferroflow_core::model_history::history_entry(&model_json, now)?;
    app.store.append_model_history(&run_id, entry).await?;
    empty()
}

// ---------------------------------------------------------------- metric reads

#[derive(Deserialize)]
pub struct MetricHistoryMessage {
    #[serde(flatten)]
    id: RunIdMessage,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    metric_key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    page_token: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
}

pub async fn get_metric_history(
    State(app): State<AppState>,
    rpc: Rpc<MetricHistoryMessage>,
) -> ApiResult<Json<Paged<Metric>>> {
    let message = rpc.message;
    let run_id = message.id.resolve()?;
    let metric_key = required_text(message.metric_key, "metric_key")?;
    let max_results = match message.max_results {
        None => None,
        Some(n) if n >= 1 => Some(n.min(validation::MAX_RESULTS_GET_METRIC_HISTORY) as usize),
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "Invalid value {n} for parameter 'max_results' supplied. It must be a positive integer."
            )))
        }
    };
    let page = app
        .store
        .get_metric_history(MetricHistoryQuery { run_id, metric_key, max_results, page_token: message.page_token })
        .await?;
    Ok(Json(Paged { key: "metrics", page }))
}

#[derive(Deserialize)]
pub struct BulkIntervalMessage {
    #[serde(default, deserialize_with = "lenient::vec_string")]
    run_ids: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    metric_key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    start_step: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    end_step: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
}

pub async fn get_metric_history_bulk_interval(
    State(app): State<AppState>,
    rpc: Rpc<BulkIntervalMessage>,
) -> ApiResult<Json<Paged<Metric>>> {
    let metrics = bulk_interval(&app, rpc.message).await?;
    // Serialised straight from the entities: a chart answer holds tens of thousands of points.
    Ok(Json(Paged { key: "metrics", page: Page { items: metrics, next_page_token: None } }))
}

/// `metrics/get-history-bulk-interval`, shared with GraphQL's
/// `mlflowGetMetricHistoryBulkInterval`: each run's points, sampled.
pub(crate) async fn bulk_interval(app: &AppState, message: BulkIntervalMessage) -> ApiResult<Vec<Metric>> {
    let metric_key = required_text(message.metric_key, "metric_key")?;
    if message.run_ids.is_empty() {
        return Err(ApiError(Error::missing_parameter("run_ids")));
    }
    let max_runs = validation::MAX_RUNS_GET_METRIC_HISTORY_BULK;
    if message.run_ids.len() > max_runs {
        return Err(ApiError::invalid(format!(
            "GetMetricHistoryBulkInterval request must specify at most {max_runs} run_ids. Received {} run_ids. \
             See the API docs for more information about request parameters.",
            message.run_ids.len()
        )));
    }
    let steps = match (message.start_step, message.end_step) {
        (Some(start), Some(end)) if start <= end => Some((start, end)),
        (Some(start), Some(end)) => {
            return Err(ApiError::invalid(format!(
                "end_step must be greater than start_step. Found start_step={start} and end_step={end}."
            )))
        }
        (None, None) => None,
        _ => return Err(ApiError::invalid("If either start step or end step are specified, both must be specified.")),
    };
    let limit = validation::MAX_RESULTS_BULK_INTERVAL;
    let max_results = match message.max_results.unwrap_or(limit) {
        n if (1..=limit).contains(&n) => n as usize,
        _ => {
            return Err(ApiError::invalid(format!(
                "max_results must be between 1 and {limit}. See the API docs for more information about request parameters."
            )))
        }
    };
    let query = BulkIntervalQuery { run_ids: message.run_ids, metric_key, steps, max_results };
    Ok(app.store.get_metric_history_bulk_interval(query).await?)
}

// ---------------------------------------------------------------- datasets

#[derive(Deserialize)]
pub struct SearchDatasetsMessage {
    #[serde(default, deserialize_with = "lenient::vec_string")]
    experiment_ids: Vec<String>,
}

/// MLflow's cap on the experiments of one dataset search.
const MAX_EXPERIMENTS_SEARCH_DATASETS: usize = 20;

/// `experiments/search-datasets` (MLflow's `search_datasets_impl`), used by GraphQL's
/// `mlflowSearchDatasets`: the datasets logged to runs of at most 20 experiments.
pub(crate) async fn dataset_summaries(
    app: &AppState,
    message: SearchDatasetsMessage,
) -> ApiResult<Vec<DatasetSummary>> {
    let experiment_ids = message.experiment_ids;
    if experiment_ids.is_empty() {
        return Err(ApiError::invalid("SearchDatasets request must specify at least one experiment_id."));
    }
    if experiment_ids.len() > MAX_EXPERIMENTS_SEARCH_DATASETS {
        return Err(ApiError::invalid(format!(
            "SearchDatasets request cannot specify more than {MAX_EXPERIMENTS_SEARCH_DATASETS} experiment_ids. \
             Received {} experiment_ids.",
            experiment_ids.len()
        )));
    }
    Ok(app.store.search_datasets(experiment_ids, ferroflow_store::MAX_DATASET_SUMMARIES).await?)
}

// ---------------------------------------------------------------- web UI reads

/// The reads MLflow serves under `/ajax-api/2.0/mlflow/` only (not under `/api/`).
pub fn ajax_routes() -> Routes {
    Routes::new()
        .get("/metrics/get-history-bulk", Rule::Experiment(Action::Read, Locate::Runs), get_metric_history_bulk)
        .post("/experiments/search-datasets", Rule::Experiment(Action::Read, Locate::ExperimentIds), search_datasets)
}

/// MLflow's `MAX_HISTORY_RESULTS` and `MAX_RUN_IDS_PER_REQUEST` for `get-history-bulk`.
const MAX_HISTORY_BULK_RESULTS: i64 = 25_000;
const MAX_HISTORY_BULK_RUN_IDS: usize = 100;

/// Python's `int()` on text: surrounding whitespace, a sign, digits with single `_`
/// between them.
fn python_int(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let well_formed = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
    if !well_formed {
        return None;
    }
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    cleaned.parse().ok()
}

/// `metrics/get-history-bulk`: the older multi-run history read, as MLflow's
/// `get_metric_history_bulk_handler` answers it. It reads the query string itself
/// (`run_id` repeated), and its answer is a plain JSON document, not a protobuf message:
/// keys sorted, an empty list kept, NaN written bare as Python's `json` writes it.
pub async fn get_metric_history_bulk(
    State(app): State<AppState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> ApiResult<axum::response::Response> {
    let mut run_ids = Vec::new();
    let (mut metric_key, mut max_results) = (None, None);
    for (key, value) in crate::wire::form_urlencoded_pairs(query.as_deref().unwrap_or("")) {
        match key.as_str() {
            "run_id" => run_ids.push(value),
            // Flask's `args.get` takes a repeated key's first value.
            "metric_key" if metric_key.is_none() => metric_key = Some(value),
            "max_results" if max_results.is_none() => max_results = Some(value),
            _ => {}
        }
    }
    if run_ids.is_empty() {
        return Err(ApiError::invalid("GetMetricHistoryBulk request must specify at least one run_id."));
    }
    if run_ids.len() > MAX_HISTORY_BULK_RUN_IDS {
        return Err(ApiError::invalid(format!(
            "GetMetricHistoryBulk request cannot specify more than {MAX_HISTORY_BULK_RUN_IDS} run_ids. Received {} \
             run_ids.",
            run_ids.len()
        )));
    }
    let Some(metric_key) = metric_key else {
        return Err(ApiError::invalid("GetMetricHistoryBulk request must specify a metric_key."));
    };
    // MLflow answers 500 for a `max_results` that is not an integer; ferroflow a 400.
    let max_results = match max_results {
        None => MAX_HISTORY_BULK_RESULTS,
        Some(text) => python_int(&text)
            .ok_or_else(|| ApiError::invalid(format!("Parameter 'max_results' must be an integer, got '{text}'.")))?,
    }
    .min(MAX_HISTORY_BULK_RESULTS);
    // As in MLflow, a negative `max_results` is SQL's `LIMIT -n` (no limit), then a Python
    // slice `[:-n]` that drops the last n points.
    let limit = if max_results < 0 { usize::MAX } else { max_results as usize };
    let mut metrics = app.store.get_metric_history_bulk(run_ids, metric_key, limit).await?;
    if max_results < 0 {
        metrics.truncate(metrics.len().saturating_sub(max_results.unsigned_abs() as usize));
    }
    let mut body = String::with_capacity(32 + metrics.len() * 96);
    body.push_str("{\"metrics\": [");
    for (i, metric) in metrics.iter().enumerate() {
        if i > 0 {
            body.push_str(", ");
        }
        let run_id = metric.run_id.as_deref().unwrap_or_default();
        body.push_str(&format!(
            "{{\"key\": {}, \"run_id\": {}, \"step\": {}, \"timestamp\": {}, \"value\": {}}}",
            Value::from(metric.key.as_str()),
            Value::from(run_id),
            metric.step,
            metric.timestamp,
            python_json_double(metric.value)
        ));
    }
    body.push_str("]}\n");
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A double as Python's `json` writes it: NaN and the infinities as bare literals.
fn python_json_double(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value == f64::INFINITY {
        "Infinity".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Infinity".to_string()
    } else {
        Value::from(value).to_string()
    }
}

/// `experiments/search-datasets`: the datasets the runs of some experiments took as
/// inputs, as MLflow's `search_datasets_handler` answers.
pub async fn search_datasets(State(app): State<AppState>, rpc: Rpc<SearchDatasetsMessage>) -> JsonResult {
    let summaries = dataset_summaries(&app, rpc.message).await?;
    if summaries.is_empty() {
        return empty();
    }
    Ok(Json(json!({ "dataset_summaries": summaries })))
}
