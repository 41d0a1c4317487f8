//! MLflow 3 logged models' storage interface.

use async_trait::async_trait;
use ferroflow_core::types::{KeyValue, LoggedModel, LoggedModelStatus, Page};
use ferroflow_core::Result;

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
