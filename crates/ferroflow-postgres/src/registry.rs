//! The model registry on PostgreSQL.

use async_trait::async_trait;
use ferroflow_core::registry::{ModelVersion, RegisteredModel, Stage, Webhook, WebhookEvent};
use ferroflow_core::types::{KeyValue, Page};
use ferroflow_core::{Error, ErrorCode, Result};
use ferroflow_store::registry::{
    CreateModelVersion, CreateRegisteredModel, CreateWebhook, RegistrySearch, UpdateWebhook,
};
use ferroflow_store::RegistryStore;

use crate::PgStore;

#[async_trait]
impl RegistryStore for PgStore {
    async fn create_registered_model(&self, _request: CreateRegisteredModel) -> Result<RegisteredModel> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn get_registered_model(&self, _name: &str) -> Result<RegisteredModel> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn rename_registered_model(&self, _name: &str, _new_name: &str) -> Result<RegisteredModel> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn update_registered_model(&self, _name: &str, _description: Option<String>) -> Result<RegisteredModel> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn delete_registered_model(&self, _name: &str) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn search_registered_models(&self, _request: RegistrySearch) -> Result<Page<RegisteredModel>> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn get_latest_versions(&self, _name: &str, _stages: Vec<Stage>) -> Result<Vec<ModelVersion>> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn set_registered_model_tag(&self, _name: &str, _tag: KeyValue) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn delete_registered_model_tag(&self, _name: &str, _key: &str) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn create_model_version(&self, _request: CreateModelVersion) -> Result<ModelVersion> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn get_model_version(&self, _name: &str, _version: i64) -> Result<ModelVersion> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn update_model_version(
        &self,
        _name: &str,
        _version: i64,
        _description: Option<String>,
    ) -> Result<ModelVersion> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn transition_model_version_stage(
        &self,
        _name: &str,
        _version: i64,
        _stage: Stage,
        _archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn delete_model_version(&self, _name: &str, _version: i64) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn get_model_version_download_uri(&self, _name: &str, _version: i64) -> Result<String> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn search_model_versions(&self, _request: RegistrySearch) -> Result<Page<ModelVersion>> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn set_model_version_tag(&self, _name: &str, _version: i64, _tag: KeyValue) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn delete_model_version_tag(&self, _name: &str, _version: i64, _key: &str) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn set_registered_model_alias(&self, _name: &str, _alias: &str, _version: i64) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn delete_registered_model_alias(&self, _name: &str, _alias: &str) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn get_model_version_by_alias(&self, _name: &str, _alias: &str) -> Result<ModelVersion> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn create_webhook(&self, _request: CreateWebhook) -> Result<Webhook> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn get_webhook(&self, _webhook_id: &str) -> Result<Webhook> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn list_webhooks(&self, _max_results: usize, _page_token: Option<String>) -> Result<Page<Webhook>> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn list_webhooks_by_event(&self, _event: WebhookEvent) -> Result<Vec<Webhook>> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn update_webhook(&self, _request: UpdateWebhook) -> Result<Webhook> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }

    async fn delete_webhook(&self, _webhook_id: &str) -> Result<()> {
        Err(Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL"))
    }
}
