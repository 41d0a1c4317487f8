//! The model registry's storage interface: registered models, model versions, stages,
//! aliases, tags, and the webhooks that subscribe to registry events.
//!
//! Callers validate input with the rules in `ferroflow_core::registry` (names, tags,
//! aliases, sources); a store enforces existence, uniqueness and numbering. Every method is
//! atomic. Version numbers are taken inside the write (the next number of the model), so
//! they are unique and gap-free even under concurrent creates; deleted versions keep their
//! number. The rules and messages all backends share are in [`crate::registry_rules`].

use std::fmt;

use async_trait::async_trait;
use ferroflow_core::registry::{ModelVersion, RegisteredModel, Stage, Webhook, WebhookEvent, WebhookStatus};
use ferroflow_core::types::{KeyValue, Page};
use ferroflow_core::Result;

#[derive(Debug, Clone, Default)]
pub struct CreateRegisteredModel {
    pub name: String,
    pub tags: Vec<KeyValue>,
    /// MLflow stores what the request carried (`""` when absent) and omits it when empty.
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CreateModelVersion {
    pub name: String,
    /// The source as the client gave it (after `models:/` sources are normalised).
    pub source: String,
    /// Where the artifacts really are, when that differs from `source`: the logged model's
    /// artifact location for `models:/m-…`, the referenced version's for `models:/<n>/<v>`.
    /// `model-versions/get-download-uri` answers this, or the source when it is `None`.
    pub storage_location: Option<String>,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<KeyValue>,
}

/// A registered-model or model-version search. `filter` and `order_by` use MLflow's
/// registry search language; `max_results` is already range-checked by the caller.
#[derive(Debug, Clone, Default)]
pub struct RegistrySearch {
    pub filter: Option<String>,
    pub max_results: usize,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
    /// Only the models (by name) this caller may read; `None` is every model.
    pub visible: Option<ferroflow_core::auth::Visibility>,
}

#[derive(Clone)]
pub struct CreateWebhook {
    pub name: String,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub description: Option<String>,
    /// The HMAC key deliveries are signed with; never returned by any answer.
    pub secret: Option<String>,
    pub status: WebhookStatus,
}

/// A partial update: `None` leaves a field as it is.
#[derive(Clone, Default)]
pub struct UpdateWebhook {
    pub webhook_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<WebhookEvent>>,
    pub secret: Option<String>,
    pub status: Option<WebhookStatus>,
}

// Hand-written so that a logged request never shows its secret.
impl fmt::Debug for CreateWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateWebhook")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("description", &self.description)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("status", &self.status)
            .finish()
    }
}

impl fmt::Debug for UpdateWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateWebhook")
            .field("webhook_id", &self.webhook_id)
            .field("name", &self.name)
            .field("description", &self.description)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("status", &self.status)
            .finish()
    }
}

/// A webhook delivery waiting in the outbox every replica shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxDelivery {
    /// The `X-MLflow-Delivery-Id` the receiver sees on every attempt (it can dedupe on it).
    pub delivery_id: String,
    pub webhook_id: String,
    /// The request body, fixed when the event happened.
    pub body: String,
    /// Attempts claimed so far, this one included when returned by a claim.
    pub attempts: u32,
}

#[async_trait]
pub trait RegistryStore: Send + Sync + 'static {
    // ------------------------------------------------------------ registered models

    /// Fails with `RESOURCE_ALREADY_EXISTS` when the name is taken (by a model or a prompt).
    async fn create_registered_model(&self, request: CreateRegisteredModel) -> Result<RegisteredModel>;
    /// With its tags, aliases and the latest version per stage.
    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel>;
    /// Renames the model and all its versions; the new name must be free.
    async fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel>;
    async fn update_registered_model(&self, name: &str, description: Option<String>) -> Result<RegisteredModel>;
    /// Deletes the model with its versions, tags and aliases.
    async fn delete_registered_model(&self, name: &str) -> Result<()>;
    /// Prompts are left out unless the filter asks for them (MLflow's prompt-tag rule).
    async fn search_registered_models(&self, request: RegistrySearch) -> Result<Page<RegisteredModel>>;
    /// The highest version in each of `stages` (all four when empty), with their aliases.
    async fn get_latest_versions(&self, name: &str, stages: Vec<Stage>) -> Result<Vec<ModelVersion>>;
    async fn set_registered_model_tag(&self, name: &str, tag: KeyValue) -> Result<()>;
    /// Deleting a tag that is not there is not an error.
    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()>;

    // ------------------------------------------------------------ model versions

    /// The next version number of the model, in stage `None`, status `READY`.
    async fn create_model_version(&self, request: CreateModelVersion) -> Result<ModelVersion>;
    async fn get_model_version(&self, name: &str, version: i64) -> Result<ModelVersion>;
    /// `None` clears the description, as MLflow does for an absent field.
    async fn update_model_version(&self, name: &str, version: i64, description: Option<String>)
        -> Result<ModelVersion>;
    /// With `archive_existing_versions`, every other version in `stage` moves to Archived.
    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion>;
    /// Hides the version for good (its number is never reused) and drops its aliases.
    async fn delete_model_version(&self, name: &str, version: i64) -> Result<()>;
    /// The version's storage location, or its source.
    async fn get_model_version_download_uri(&self, name: &str, version: i64) -> Result<String>;
    async fn search_model_versions(&self, request: RegistrySearch) -> Result<Page<ModelVersion>>;
    async fn set_model_version_tag(&self, name: &str, version: i64, tag: KeyValue) -> Result<()>;
    async fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()>;

    // ------------------------------------------------------------ aliases

    /// Points `alias` at `version` (which must exist), moving it if it pointed elsewhere.
    async fn set_registered_model_alias(&self, name: &str, alias: &str, version: i64) -> Result<()>;
    /// Deleting an alias that is not there is not an error (the model must exist).
    async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()>;
    /// An unknown alias is `INVALID_PARAMETER_VALUE`, as in MLflow; `latest` (any case) is
    /// the highest version.
    async fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion>;

    // ------------------------------------------------------------ webhooks

    async fn create_webhook(&self, request: CreateWebhook) -> Result<Webhook>;
    /// Deleted webhooks are not found. The answer carries the secret (for signing).
    async fn get_webhook(&self, webhook_id: &str) -> Result<Webhook>;
    /// Newest first; `max_results` is 1..=1000.
    async fn list_webhooks(&self, max_results: usize, page_token: Option<String>) -> Result<Page<Webhook>>;
    /// Every webhook (active or not) subscribed to `event`, with secrets, for delivery.
    async fn list_webhooks_by_event(&self, event: WebhookEvent) -> Result<Vec<Webhook>>;
    async fn update_webhook(&self, request: UpdateWebhook) -> Result<Webhook>;
    /// Soft delete.
    async fn delete_webhook(&self, webhook_id: &str) -> Result<()>;

    // ------------------------------------------------------------ webhook outbox
    //
    // Deliveries wait in the store, not in a process: whichever replica claims one sends
    // it, a claim is a lease (`available_at` moved past the lease's end), and a replica
    // that dies mid-delivery leaves a claim that expires and is taken again.

    /// Queues deliveries (with `attempts` 0), available at once. A delivery id already
    /// queued is left as it is.
    async fn enqueue_webhook_deliveries(&self, deliveries: Vec<OutboxDelivery>, now_ms: i64) -> Result<()>;
    /// Claims up to `max` deliveries available at `now_ms`, oldest first, leasing each
    /// until `lease_until_ms`; two claims never return the same delivery while its lease
    /// runs. Each claimed delivery's `attempts` grows by one.
    async fn claim_webhook_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        max: usize,
    ) -> Result<Vec<OutboxDelivery>>;
    /// Makes a claimed delivery available again at `available_at_ms` (a retry's backoff).
    async fn reschedule_webhook_delivery(&self, delivery_id: &str, available_at_ms: i64) -> Result<()>;
    /// Removes a delivery: sent, or given up.
    async fn finish_webhook_delivery(&self, delivery_id: &str) -> Result<()>;
}
