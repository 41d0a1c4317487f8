//! MLflow 3 logged models on PostgreSQL.

use async_trait::async_trait;
use ferroflow_core::types::{KeyValue, LoggedModel, LoggedModelStatus, Page};
use ferroflow_core::{Error, ErrorCode, Result};
use ferroflow_store::logged_models::{CreateLoggedModel, SearchLoggedModels};
use ferroflow_store::LoggedModelStore;

use crate::PgStore;

#[async_trait]
impl LoggedModelStore for PgStore {
    async fn create_logged_model(&self, _request: CreateLoggedModel) -> Result<LoggedModel> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn get_logged_model(&self, _model_id: &str, _allow_deleted: bool) -> Result<LoggedModel> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn finalize_logged_model(&self, _model_id: &str, _status: LoggedModelStatus) -> Result<LoggedModel> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn delete_logged_model(&self, _model_id: &str) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn set_logged_model_tags(&self, _model_id: &str, _tags: Vec<KeyValue>) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn delete_logged_model_tag(&self, _model_id: &str, _key: &str) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn log_logged_model_params(&self, _model_id: &str, _params: Vec<KeyValue>) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn search_logged_models(&self, _request: SearchLoggedModels) -> Result<Page<LoggedModel>> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }
}

/// Records a metric logged to a run against the logged model it names.
pub(crate) async fn record_metric(
    _client: &impl deadpool_postgres::GenericClient,
    _model_id: &str,
    _run_id: &str,
    _metric: &ferroflow_core::types::Metric,
) -> Result<()> {
    Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
}
