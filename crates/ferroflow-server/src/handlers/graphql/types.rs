//! The output types of MLflow's GraphQL schema, named and shaped as MLflow's (generated
//! from its protos): every field nullable, and unset proto fields read as protobuf's
//! defaults (`""`, `"0"`, `[]`), as MLflow's resolvers read them from its messages.

use async_graphql::{
    ComplexObject, Context, Enum, InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject,
};
use ferroflow_core::registry::ModelVersion;
use ferroflow_core::types::{
    DatasetInput, DatasetSummary, Experiment, KeyValue, Metric, ModelInput, ModelOutput, Run, RunInfo, RunStatus,
};
use serde_json::Value as Json;

use super::schema::{experiment_of_run, model_versions_of_run, settle};

/// MLflow's `LongString`: an int64 sent as a string, which JavaScript cannot round.
/// Read from an integer, or (in variables, as MLflow's `int(value)`) from a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongString(pub i64);

/// Long converted to string to prevent truncation to max integer in JavaScript
#[Scalar(name = "LongString")]
impl ScalarType for LongString {
    fn parse(value: async_graphql::Value) -> InputValueResult<Self> {
        let parsed = match &value {
            async_graphql::Value::Number(n) => {
                n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f.trunc() as i64))
            }
            async_graphql::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed.map(LongString).ok_or_else(|| InputValueError::expected_type(value))
    }

    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::String(self.0.to_string())
    }
}

impl serde::Serialize for LongString {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

fn long(value: i64) -> Option<LongString> {
    Some(LongString(value))
}

fn text(value: &str) -> Option<String> {
    Some(value.to_string())
}

/// An optional proto string: unset reads as `""`.
fn text_or_empty(value: &Option<String>) -> Option<String> {
    Some(value.clone().unwrap_or_default())
}

/// A double as MLflow's GraphQL sends it: NaN is `null` (a GraphQL `Float` cannot be NaN).
/// Infinities never reach here: the store keeps them as ±`f64::MAX`, as MLflow's does.
fn float(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

fn list<T, U>(items: &[T], convert: impl Fn(&T) -> U) -> Option<Vec<U>> {
    Some(items.iter().map(convert).collect())
}

/// `ApiError` of MLflow's schema. MLflow's server never fills it (errors go to the
/// response's `errors`), and neither does ferroflow; it is here for the queries that ask.
#[derive(SimpleObject, Default)]
pub struct ApiError {
    pub code: Option<String>,
    pub message: Option<String>,
    pub help_url: Option<String>,
    pub trace_id: Option<String>,
    pub error_details: Option<Vec<Option<ErrorDetail>>>,
}

#[derive(SimpleObject, Default)]
pub struct ErrorDetail {
    pub field: Option<String>,
    pub message: Option<String>,
}

// ---------------------------------------------------------------- experiments

#[derive(SimpleObject)]
pub struct MlflowExperimentTag {
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(SimpleObject)]
pub struct MlflowExperiment {
    pub experiment_id: Option<String>,
    pub name: Option<String>,
    pub artifact_location: Option<String>,
    pub lifecycle_stage: Option<String>,
    pub last_update_time: Option<LongString>,
    pub creation_time: Option<LongString>,
    pub tags: Option<Vec<MlflowExperimentTag>>,
    pub effective_trace_archival_retention: Option<String>,
    pub workspace: Option<String>,
}

impl From<&Experiment> for MlflowExperiment {
    fn from(experiment: &Experiment) -> Self {
        Self {
            experiment_id: text(&experiment.experiment_id),
            name: text(&experiment.name),
            artifact_location: text(&experiment.artifact_location),
            lifecycle_stage: text(experiment.lifecycle_stage.as_str()),
            last_update_time: long(experiment.last_update_time),
            creation_time: long(experiment.creation_time),
            tags: list(&experiment.tags, |tag| MlflowExperimentTag { key: text(&tag.key), value: text(&tag.value) }),
            effective_trace_archival_retention: text(""),
            // ferroflow has no workspaces; MLflow names its only one `default`.
            workspace: text("default"),
        }
    }
}

#[derive(SimpleObject)]
pub struct MlflowGetExperimentResponse {
    pub experiment: Option<MlflowExperiment>,
    #[graphql(name = "apiError")]
    pub api_error: Option<ApiError>,
}

// ---------------------------------------------------------------- runs

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum MlflowRunStatus {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl From<RunStatus> for MlflowRunStatus {
    fn from(status: RunStatus) -> Self {
        match status {
            RunStatus::Running => Self::Running,
            RunStatus::Scheduled => Self::Scheduled,
            RunStatus::Finished => Self::Finished,
            RunStatus::Failed => Self::Failed,
            RunStatus::Killed => Self::Killed,
        }
    }
}

#[derive(SimpleObject)]
pub struct MlflowRunInfo {
    pub run_id: Option<String>,
    pub run_uuid: Option<String>,
    pub run_name: Option<String>,
    pub experiment_id: Option<String>,
    pub user_id: Option<String>,
    pub status: Option<MlflowRunStatus>,
    pub start_time: Option<LongString>,
    pub end_time: Option<LongString>,
    pub artifact_uri: Option<String>,
    pub lifecycle_stage: Option<String>,
}

impl From<&RunInfo> for MlflowRunInfo {
    fn from(info: &RunInfo) -> Self {
        Self {
            run_id: text(&info.run_id),
            run_uuid: text(&info.run_uuid),
            run_name: text(&info.run_name),
            experiment_id: text(&info.experiment_id),
            user_id: text(&info.user_id),
            status: Some(info.status.into()),
            start_time: long(info.start_time),
            end_time: long(info.end_time.unwrap_or(0)),
            artifact_uri: text(&info.artifact_uri),
            lifecycle_stage: text(info.lifecycle_stage.as_str()),
        }
    }
}

/// A run's latest metric value (MLflow's `MlflowMetricExtension`, whose NaN is `null`).
#[derive(SimpleObject)]
pub struct MlflowMetricExtension {
    pub key: Option<String>,
    pub value: Option<f64>,
    pub timestamp: Option<LongString>,
    pub step: Option<LongString>,
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
    pub model_id: Option<String>,
    pub run_id: Option<String>,
}

impl From<&Metric> for MlflowMetricExtension {
    fn from(metric: &Metric) -> Self {
        Self {
            key: text(&metric.key),
            value: float(metric.value),
            timestamp: long(metric.timestamp),
            step: long(metric.step),
            dataset_name: text_or_empty(&metric.dataset_name),
            dataset_digest: text_or_empty(&metric.dataset_digest),
            model_id: text_or_empty(&metric.model_id),
            run_id: text_or_empty(&metric.run_id),
        }
    }
}

#[derive(SimpleObject)]
pub struct MlflowParam {
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(SimpleObject)]
pub struct MlflowRunTag {
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(SimpleObject)]
pub struct MlflowRunData {
    pub metrics: Option<Vec<MlflowMetricExtension>>,
    pub params: Option<Vec<MlflowParam>>,
    pub tags: Option<Vec<MlflowRunTag>>,
}

#[derive(SimpleObject)]
pub struct MlflowDataset {
    pub name: Option<String>,
    pub digest: Option<String>,
    pub source_type: Option<String>,
    pub source: Option<String>,
    pub schema: Option<String>,
    pub profile: Option<String>,
}

#[derive(SimpleObject)]
pub struct MlflowInputTag {
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(SimpleObject)]
pub struct MlflowDatasetInput {
    pub tags: Option<Vec<MlflowInputTag>>,
    pub dataset: Option<MlflowDataset>,
}

impl From<&DatasetInput> for MlflowDatasetInput {
    fn from(input: &DatasetInput) -> Self {
        let dataset = &input.dataset;
        Self {
            tags: list(&input.tags, |tag| MlflowInputTag { key: text(&tag.key), value: text(&tag.value) }),
            dataset: Some(MlflowDataset {
                name: text(&dataset.name),
                digest: text(&dataset.digest),
                source_type: text(&dataset.source_type),
                source: text(&dataset.source),
                schema: text_or_empty(&dataset.schema),
                profile: text_or_empty(&dataset.profile),
            }),
        }
    }
}

#[derive(SimpleObject)]
pub struct MlflowModelInput {
    pub model_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct MlflowRunInputs {
    pub dataset_inputs: Option<Vec<MlflowDatasetInput>>,
    pub model_inputs: Option<Vec<MlflowModelInput>>,
}

#[derive(SimpleObject)]
pub struct MlflowModelOutput {
    pub model_id: Option<String>,
    pub step: Option<LongString>,
}

#[derive(SimpleObject)]
pub struct MlflowRunOutputs {
    pub model_outputs: Option<Vec<MlflowModelOutput>>,
}

/// A run, with MLflow's two extra fields: its experiment and the model versions
/// registered from it (each read only when the query asks for it).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct MlflowRunExtension {
    pub info: Option<MlflowRunInfo>,
    pub data: Option<MlflowRunData>,
    pub inputs: Option<MlflowRunInputs>,
    pub outputs: Option<MlflowRunOutputs>,
    #[graphql(skip)]
    pub run_id: String,
    #[graphql(skip)]
    pub experiment_id: String,
}

#[ComplexObject]
impl MlflowRunExtension {
    async fn experiment(&self, ctx: &Context<'_>) -> Option<MlflowExperiment> {
        let experiment = settle(ctx, experiment_of_run(ctx, &self.experiment_id).await)?;
        Some(MlflowExperiment::from(&experiment))
    }

    async fn model_versions(&self, ctx: &Context<'_>) -> Option<Vec<MlflowModelVersion>> {
        let versions = settle(ctx, model_versions_of_run(ctx, &self.run_id).await)?;
        list(&versions, |v| MlflowModelVersion::from(v))
    }
}

impl From<&Run> for MlflowRunExtension {
    fn from(run: &Run) -> Self {
        let data = &run.data;
        Self {
            info: Some(MlflowRunInfo::from(&run.info)),
            data: Some(MlflowRunData {
                metrics: list(&data.metrics, |m| MlflowMetricExtension::from(m)),
                params: list(&data.params, |p| MlflowParam { key: text(&p.key), value: text(&p.value) }),
                tags: list(&data.tags, |t| MlflowRunTag { key: text(&t.key), value: text(&t.value) }),
            }),
            inputs: Some(MlflowRunInputs {
                dataset_inputs: list(&run.inputs.dataset_inputs, |d| MlflowDatasetInput::from(d)),
                model_inputs: list(&run.inputs.model_inputs, |m: &ModelInput| MlflowModelInput {
                    model_id: text(&m.model_id),
                }),
            }),
            outputs: Some(MlflowRunOutputs {
                model_outputs: list(&run.outputs.model_outputs, |m: &ModelOutput| MlflowModelOutput {
                    model_id: text(&m.model_id),
                    step: long(m.step),
                }),
            }),
            run_id: run.info.run_id.clone(),
            experiment_id: run.info.experiment_id.clone(),
        }
    }
}

#[derive(SimpleObject)]
pub struct MlflowGetRunResponse {
    pub run: Option<MlflowRunExtension>,
    #[graphql(name = "apiError")]
    pub api_error: Option<ApiError>,
}

#[derive(SimpleObject)]
pub struct MlflowSearchRunsResponse {
    pub runs: Option<Vec<MlflowRunExtension>>,
    pub next_page_token: Option<String>,
    #[graphql(name = "apiError")]
    pub api_error: Option<ApiError>,
}

// ---------------------------------------------------------------- artifacts

#[derive(SimpleObject)]
pub struct MlflowFileInfo {
    pub path: Option<String>,
    pub is_dir: Option<bool>,
    pub file_size: Option<LongString>,
}

#[derive(SimpleObject)]
pub struct MlflowListArtifactsResponse {
    pub root_uri: Option<String>,
    pub files: Option<Vec<MlflowFileInfo>>,
    pub next_page_token: Option<String>,
    #[graphql(name = "apiError")]
    pub api_error: Option<ApiError>,
}

impl MlflowListArtifactsResponse {
    /// From `artifacts/list`'s JSON answer, whose unset fields (no files, a directory's or
    /// an empty file's size) read as protobuf's defaults.
    pub fn from_listing(listing: &Json) -> Self {
        let files = listing["files"].as_array().map(Vec::as_slice).unwrap_or_default();
        Self {
            root_uri: text(listing["root_uri"].as_str().unwrap_or_default()),
            files: list(files, |file| MlflowFileInfo {
                path: text(file["path"].as_str().unwrap_or_default()),
                is_dir: Some(file["is_dir"].as_bool().unwrap_or_default()),
                file_size: long(file["file_size"].as_i64().unwrap_or_default()),
            }),
            next_page_token: text(listing["next_page_token"].as_str().unwrap_or_default()),
            api_error: None,
        }
    }
}

// ---------------------------------------------------------------- metric history

#[derive(SimpleObject)]
pub struct MlflowMetricWithRunId {
    pub key: Option<String>,
    pub value: Option<f64>,
    pub timestamp: Option<LongString>,
    pub step: Option<LongString>,
    pub run_id: Option<String>,
}

impl From<&Metric> for MlflowMetricWithRunId {
    fn from(metric: &Metric) -> Self {
        Self {
            key: text(&metric.key),
            value: float(metric.value),
            timestamp: long(metric.timestamp),
            step: long(metric.step),
            run_id: text_or_empty(&metric.run_id),
        }
    }
}

#[derive(SimpleObject)]
pub struct MlflowGetMetricHistoryBulkIntervalResponse {
    pub metrics: Option<Vec<MlflowMetricWithRunId>>,
    #[graphql(name = "apiError")]
    pub api_error: Option<ApiError>,
}

// ---------------------------------------------------------------- datasets

#[derive(SimpleObject)]
pub struct MlflowDatasetSummary {
    pub experiment_id: Option<String>,
    pub name: Option<String>,
    pub digest: Option<String>,
    pub context: Option<String>,
}

impl From<&DatasetSummary> for MlflowDatasetSummary {
    fn from(summary: &DatasetSummary) -> Self {
        Self {
            experiment_id: text(&summary.experiment_id),
            name: text(&summary.name),
            digest: text(&summary.digest),
            context: text_or_empty(&summary.context),
        }
    }
}

#[derive(SimpleObject)]
pub struct MlflowSearchDatasetsResponse {
    pub dataset_summaries: Option<Vec<MlflowDatasetSummary>>,
    #[graphql(name = "apiError")]
    pub api_error: Option<ApiError>,
}

// ---------------------------------------------------------------- model versions

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum MlflowModelVersionStatus {
    PendingRegistration,
    FailedRegistration,
    Ready,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum MlflowDeploymentJobConnectionState {
    DeploymentJobConnectionStateUnspecified,
    NotSetUp,
    Connected,
    NotFound,
    RequiredParametersChanged,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum MlflowModelVersionDeploymentJobStateDeploymentJobRunState {
    DeploymentJobRunStateUnspecified,
    NoValidDeploymentJobFound,
    Running,
    Succeeded,
    Failed,
    Pending,
    Approval,
}

/// Never set by ferroflow (no deployment jobs): protobuf's empty message, whose unset
/// states are `null` (MLflow's enums have no value 0).
#[derive(SimpleObject)]
pub struct MlflowModelVersionDeploymentJobState {
    pub job_id: Option<String>,
    pub run_id: Option<String>,
    pub job_state: Option<MlflowDeploymentJobConnectionState>,
    pub run_state: Option<MlflowModelVersionDeploymentJobStateDeploymentJobRunState>,
    pub current_task_name: Option<String>,
}

#[derive(SimpleObject)]
pub struct MlflowModelVersionTag {
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(SimpleObject)]
pub struct MlflowModelParam {
    pub name: Option<String>,
    pub value: Option<String>,
}

#[derive(SimpleObject)]
pub struct MlflowModelMetric {
    pub key: Option<String>,
    pub value: Option<f64>,
    pub timestamp: Option<LongString>,
    pub step: Option<LongString>,
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
    pub model_id: Option<String>,
    pub run_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct MlflowModelVersion {
    pub name: Option<String>,
    pub version: Option<String>,
    pub creation_timestamp: Option<LongString>,
    pub last_updated_timestamp: Option<LongString>,
    pub user_id: Option<String>,
    pub current_stage: Option<String>,
    pub description: Option<String>,
    pub source: Option<String>,
    pub run_id: Option<String>,
    pub status: Option<MlflowModelVersionStatus>,
    pub status_message: Option<String>,
    pub tags: Option<Vec<MlflowModelVersionTag>>,
    pub run_link: Option<String>,
    pub aliases: Option<Vec<Option<String>>>,
    pub model_id: Option<String>,
    pub model_params: Option<Vec<MlflowModelParam>>,
    pub model_metrics: Option<Vec<MlflowModelMetric>>,
    pub deployment_job_state: Option<MlflowModelVersionDeploymentJobState>,
}

impl From<&ModelVersion> for MlflowModelVersion {
    fn from(version: &ModelVersion) -> Self {
        let status = match version.status {
            "PENDING_REGISTRATION" => MlflowModelVersionStatus::PendingRegistration,
            "FAILED_REGISTRATION" => MlflowModelVersionStatus::FailedRegistration,
            _ => MlflowModelVersionStatus::Ready,
        };
        Self {
            name: text(&version.name),
            version: Some(version.version.to_string()),
            creation_timestamp: long(version.creation_timestamp),
            last_updated_timestamp: long(version.last_updated_timestamp),
            user_id: text_or_empty(&version.user_id),
            current_stage: text(version.current_stage.as_str()),
            description: text_or_empty(&version.description),
            source: text_or_empty(&version.source),
            run_id: text_or_empty(&version.run_id),
            status: Some(status),
            status_message: text_or_empty(&version.status_message),
            tags: list(&version.tags, |tag: &KeyValue| MlflowModelVersionTag {
                key: text(&tag.key),
                value: text(&tag.value),
            }),
            run_link: text_or_empty(&version.run_link),
            aliases: list(&version.aliases, |alias| Some(alias.clone())),
            model_id: text(""),
            model_params: Some(Vec::new()),
            model_metrics: Some(Vec::new()),
            deployment_job_state: Some(MlflowModelVersionDeploymentJobState {
                job_id: text(""),
                run_id: text(""),
                job_state: None,
                run_state: None,
                current_task_name: text(""),
            }),
        }
    }
}

#[derive(SimpleObject)]
pub struct MlflowSearchModelVersionsResponse {
    pub model_versions: Option<Vec<MlflowModelVersion>>,
    pub next_page_token: Option<String>,
    #[graphql(name = "apiError")]
    pub api_error: Option<ApiError>,
}

// ---------------------------------------------------------------- MLflow's test fields

#[derive(SimpleObject)]
pub struct Test {
    /// Echoes the input string
    pub output: Option<String>,
}

#[derive(SimpleObject)]
pub struct TestMutation {
    /// Echoes the input string
    pub output: Option<String>,
}
