//! MLflow 3 logged models' storage interface.

use async_trait::async_trait;
use ferroflow_core::names::generate_run_name;
use ferroflow_core::types::{
    KeyValue, LifecycleStage, LoggedModel, LoggedModelData, LoggedModelInfo, LoggedModelStatus, Metric, Page,
};
use ferroflow_core::{Error, Result};

use crate::common::{join_uri, stored_metric_value};

#[derive(Debug, Clone, Default)]
pub struct CreateLoggedModel {
    pub experiment_id: String,
    /// Empty means a generated name.
    pub name: String,
    pub model_type: String,
    pub source_run_id: Option<String>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

/// A logged-model search order key, as MLflow 3 sends it (structured, not a string).
#[derive(Debug, Clone)]
pub struct LoggedModelOrder {
    pub field_name: String,
    pub ascending: bool,
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SearchLoggedModels {
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    /// `(dataset_name, dataset_digest)` pairs that metric filters and orders are restricted to.
    pub datasets: Vec<(String, Option<String>)>,
    pub max_results: usize,
    pub order_by: Vec<LoggedModelOrder>,
    pub page_token: Option<String>,
}

#[async_trait]
pub trait LoggedModelStore: Send + Sync + 'static {
    async fn create_logged_model(&self, request: CreateLoggedModel) -> Result<LoggedModel>;
    /// Deleted models are returned only with `allow_deleted`.
    async fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel>;
    async fn finalize_logged_model(&self, model_id: &str, status: LoggedModelStatus) -> Result<LoggedModel>;
    /// Soft delete.
    async fn delete_logged_model(&self, model_id: &str) -> Result<()>;
    async fn set_logged_model_tags(&self, model_id: &str, tags: Vec<KeyValue>) -> Result<()>;
    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()>;
    async fn log_logged_model_params(&self, model_id: &str, params: Vec<KeyValue>) -> Result<()>;
    async fn search_logged_models(&self, request: SearchLoggedModels) -> Result<Page<LoggedModel>>;
}

// ---------------------------------------------------------------- rules every backend applies

/// A `logged_models` row as both stores keep it: status as its proto number, the
/// lifecycle stage as text.
#[derive(Debug, Clone)]
pub struct LoggedModelRow {
    pub model_id: String,
    pub experiment_id: i64,
    pub name: String,
    pub artifact_uri: String,
    pub status: i64,
    pub status_message: Option<String>,
    pub model_type: String,
    pub source_run_id: Option<String>,
    pub creation_time: i64,
    pub last_updated_time: i64,
    pub lifecycle_stage: String,
}

impl LoggedModelRow {
    pub fn into_info(self) -> LoggedModelInfo {
        LoggedModelInfo {
            model_id: self.model_id,
            experiment_id: self.experiment_id.to_string(),
            name: self.name,
            artifact_uri: self.artifact_uri,
            status: LoggedModelStatus::from_number(self.status).unwrap_or(LoggedModelStatus::Unspecified),
            status_message: self.status_message,
            model_type: self.model_type,
            source_run_id: self.source_run_id,
            creation_timestamp_ms: self.creation_time,
            last_updated_timestamp_ms: self.last_updated_time,
            creator_id: None,
            tags: Vec::new(),
            registrations: Vec::new(),
            lifecycle_stage: LifecycleStage::parse(&self.lifecycle_stage).unwrap_or(LifecycleStage::Active),
        }
    }
}

/// A `logged_model_metrics` row; the run and dataset columns hold "" for none, since
/// they are part of the primary key.
#[derive(Debug, Clone)]
pub struct LoggedModelMetricRow {
    pub key: String,
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    pub run_id: String,
    pub dataset_name: String,
    pub dataset_digest: String,
}

impl LoggedModelMetricRow {
    /// The row a run's metric that names a model adds: its value stored as the run's own
    /// copy is ([`stored_metric_value`]).
    pub fn recorded(metric: &Metric, run_id: &str) -> Self {
        LoggedModelMetricRow {
            key: metric.key.clone(),
            value: stored_metric_value(metric.value),
            timestamp: metric.timestamp,
            step: metric.step,
            run_id: run_id.to_string(),
            dataset_name: metric.dataset_name.clone().unwrap_or_default(),
            dataset_digest: metric.dataset_digest.clone().unwrap_or_default(),
        }
    }
}

/// A whole logged model from its row and its children (each already in key order; the
/// metrics by key, step and timestamp).
pub fn assemble(
    info: LoggedModelInfo,
    tags: Vec<KeyValue>,
    params: Vec<KeyValue>,
    metrics: Vec<LoggedModelMetricRow>,
) -> LoggedModel {
    let non_empty = |text: String| (!text.is_empty()).then_some(text);
    let metrics = metrics
        .into_iter()
        .map(|row| {
            let mut metric = Metric::new(row.key, row.value, row.timestamp, row.step);
            metric.run_id = non_empty(row.run_id);
            metric.dataset_name = non_empty(row.dataset_name);
            metric.dataset_digest = non_empty(row.dataset_digest);
            metric.model_id = Some(info.model_id.clone());
            metric
        })
        .collect();
    LoggedModel { info: LoggedModelInfo { tags, ..info }, data: LoggedModelData { params, metrics } }
}

/// What a create stores besides the request's own fields.
#[derive(Debug, Clone)]
pub struct NewLoggedModel {
    pub model_id: String,
    /// The request's name, or a generated one like a run's.
    pub name: String,
    /// `<experiment artifact location>/models/<model id>/artifacts`, as in MLflow.
    pub artifact_uri: String,
    pub status: LoggedModelStatus,
    /// An empty source run id is none.
    pub source_run_id: Option<String>,
}

impl NewLoggedModel {
    pub fn new(request: &CreateLoggedModel, experiment_artifact_location: &str) -> Self {
        let model_id = format!("m-{}", uuid::Uuid::new_v4().simple());
        let artifact_uri = join_uri(experiment_artifact_location, &format!("models/{model_id}/artifacts"));
        let name = if request.name.is_empty() { generate_run_name(&mut rand::rng()) } else { request.name.clone() };
        let source_run_id = request.source_run_id.clone().filter(|r| !r.is_empty());
        NewLoggedModel { model_id, name, artifact_uri, status: LoggedModelStatus::Pending, source_run_id }
    }
}

pub fn logged_model_tag_not_found(model_id: &str, key: &str) -> Error {
    Error::not_found(format!("No tag with key '{key}' found for model with ID '{model_id}'."))
}

/// A search's candidates in MLflow's default order: newest first, then by id.
pub fn sort_newest_first(models: &mut [LoggedModel]) {
    models.sort_by(|a, b| {
        b.info
            .creation_timestamp_ms
            .cmp(&a.info.creation_timestamp_ms)
            .then_with(|| a.info.model_id.cmp(&b.info.model_id))
    });
}
