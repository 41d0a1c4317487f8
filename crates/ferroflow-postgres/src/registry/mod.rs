//! The model registry on PostgreSQL: registered models, versions, stages, aliases, tags
//! and webhooks.
//!
//! Laid out like the SQLite store's registry, and sharing its rules, row mappings,
//! messages and in-memory searches (`ferroflow_store::registry_rules`); this module keeps
//! the SQL. What differs is how concurrent writers on several replicas stay correct:
//!
//! - every write to a model, its versions, tags or aliases first locks the model's
//!   `registered_models` row ([`lock_model`], or the `UPDATE` that takes a version
//!   number), so writers of one model queue in one order and cannot deadlock;
//! - a version's number is the model's `next_version` counter, bumped under that lock
//!   (never `MAX + 1`): numbers are gap-free, and a deleted version's is never reused;
//! - names are unique by constraint: a create or rename that loses a race answers
//!   RESOURCE_ALREADY_EXISTS, never a 500.
//!
//! Several models are assembled with one query per part (`= ANY($1)`), not per model.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use ferroflow_core::registry::{
    registered_model_not_found, ModelVersion, RegisteredModel, RegisteredModelAlias, Stage, Webhook, WebhookEvent,
};
use ferroflow_core::types::{KeyValue, Page};
use ferroflow_core::{Error, Result};
use ferroflow_store::registry::{
    CreateModelVersion, CreateRegisteredModel, CreateWebhook, OutboxDelivery, RegistrySearch, UpdateWebhook,
};
use ferroflow_store::registry_rules::{
    group_tags, latest_per_stage, version_from_columns, Columns, StoredModel, DELETED_STAGE, MODEL_COLUMNS,
    VERSION_COLUMNS,
};
use ferroflow_store::RegistryStore;
use tokio_postgres::Row;

use crate::db::query;
use crate::{now_millis, PgStore};

mod models;
mod outbox;
mod search;
mod versions;
mod webhooks;

pub(crate) use models::upsert_tag as upsert_model_tag;
pub(crate) use versions::upsert_tag as upsert_version_tag;

// ---------------------------------------------------------------- rows

/// A PostgreSQL row, read by the shared row mappings of `registry_rules`. A column of an
/// unexpected type is a 500 naming no value, never a panic.
pub(super) struct PgColumns<'a>(pub(super) &'a Row);

fn unreadable_column(error: tokio_postgres::Error) -> Error {
    tracing::error!(%error, "unreadable registry column");
    Error::internal("database error: a registry row could not be read")
}

impl Columns for PgColumns<'_> {
    type Error = Error;

    fn int(&self, index: usize) -> Result<i64> {
        self.0.try_get(index).map_err(unreadable_column)
    }

    fn text(&self, index: usize) -> Result<String> {
        self.0.try_get(index).map_err(unreadable_column)
    }

    fn optional_text(&self, index: usize) -> Result<Option<String>> {
        self.0.try_get(index).map_err(unreadable_column)
    }
}

/// A `(tag key, tag value)` pair from columns `first` and `first + 1`.
fn key_value(row: &Row, first: usize) -> Result<KeyValue> {
    let columns = PgColumns(row);
    Ok(KeyValue::new(columns.text(first)?, columns.text(first + 1)?))
}

fn model_from_row(row: &Row) -> Result<StoredModel> {
    StoredModel::from_columns(&PgColumns(row))
}

async fn select_model(client: &impl GenericClient, name: &str, lock: bool) -> Result<Option<StoredModel>> {
    let sql = format!(
        "SELECT {MODEL_COLUMNS} FROM registered_models WHERE name = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    crate::db::query_opt(client, &sql, &[&name]).await?.as_ref().map(model_from_row).transpose()
}

pub(super) async fn find_model_opt(client: &impl GenericClient, name: &str) -> Result<Option<StoredModel>> {
    select_model(client, name, false).await
}

pub(super) async fn find_model(client: &impl GenericClient, name: &str) -> Result<StoredModel> {
    find_model_opt(client, name).await?.ok_or_else(|| registered_model_not_found(name))
}

/// The model, its row locked until the transaction ends: every write to a model or to
/// anything of it takes this lock first (see the module's notes).
pub(super) async fn lock_model_opt(client: &impl GenericClient, name: &str) -> Result<Option<StoredModel>> {
    select_model(client, name, true).await
}

pub(super) async fn lock_model(client: &impl GenericClient, name: &str) -> Result<StoredModel> {
    lock_model_opt(client, name).await?.ok_or_else(|| registered_model_not_found(name))
}

// ---------------------------------------------------------------- a model's parts

/// The tags of each of `model_pks`, in insertion order.
pub(super) async fn tags_of_models(
    client: &impl GenericClient,
    model_pks: &[i64],
) -> Result<HashMap<i64, Vec<KeyValue>>> {
    let rows = query(
        client,
        "SELECT model_pk, key, value FROM registered_model_tags WHERE model_pk = ANY($1) ORDER BY position",
        &[&model_pks],
    )
    .await?;
    let pairs = rows.iter().map(|row| Ok((PgColumns(row).int(0)?, key_value(row, 1)?))).collect::<Result<Vec<_>>>()?;
    Ok(group_tags(pairs))
}

pub(super) async fn model_tags(client: &impl GenericClient, model_pk: i64) -> Result<Vec<KeyValue>> {
    Ok(tags_of_models(client, &[model_pk]).await?.remove(&model_pk).unwrap_or_default())
}

/// Every version tag (deleted versions' included) of `model_pks`, by (model, version),
/// in insertion order.
pub(super) async fn version_tags_of_models(
    client: &impl GenericClient,
    model_pks: &[i64],
) -> Result<HashMap<(i64, i64), Vec<KeyValue>>> {
    let rows = query(
        client,
        "SELECT model_pk, version, key, value FROM model_version_tags WHERE model_pk = ANY($1) ORDER BY position",
        &[&model_pks],
    )
    .await?;
    let pairs = rows
        .iter()
        .map(|row| {
            let columns = PgColumns(row);
            Ok(((columns.int(0)?, columns.int(1)?), key_value(row, 2)?))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(group_tags(pairs))
}

/// The aliases of each of `model_pks`, by alias in byte order (as SQLite orders them,
/// whatever the database's collation).
async fn aliases_of_models(
    client: &impl GenericClient,
    model_pks: &[i64],
) -> Result<HashMap<i64, Vec<RegisteredModelAlias>>> {
    let rows = query(
        client,
        "SELECT model_pk, alias, version FROM registered_model_aliases WHERE model_pk = ANY($1) \
         ORDER BY alias COLLATE \"C\"",
        &[&model_pks],
    )
    .await?;
    let mut aliases: HashMap<i64, Vec<RegisteredModelAlias>> = HashMap::new();
    for row in &rows {
        let columns = PgColumns(row);
        let alias = RegisteredModelAlias { alias: columns.text(1)?, version: columns.int(2)? };
        aliases.entry(columns.int(0)?).or_default().push(alias);
    }
    Ok(aliases)
}

pub(super) async fn model_aliases(client: &impl GenericClient, model_pk: i64) -> Result<Vec<RegisteredModelAlias>> {
    Ok(aliases_of_models(client, &[model_pk]).await?.remove(&model_pk).unwrap_or_default())
}

/// The highest live version in each stage of each of `models`, with their tags.
async fn latest_versions_of_models(
    client: &impl GenericClient,
    models: &[&StoredModel],
) -> Result<HashMap<i64, Vec<ModelVersion>>> {
    let names: HashMap<i64, &str> = models.iter().map(|model| (model.pk, model.name.as_str())).collect();
    let model_pks: Vec<i64> = names.keys().copied().collect();
    let sql = format!(
        "SELECT model_pk, {VERSION_COLUMNS} FROM model_versions WHERE model_pk = ANY($1) \
         AND current_stage != '{DELETED_STAGE}' ORDER BY model_pk, version"
    );
    let mut live: HashMap<i64, Vec<ModelVersion>> = HashMap::new();
    for row in query(client, &sql, &[&model_pks]).await? {
        let pk = PgColumns(&row).int(0)?;
        let name = names.get(&pk).copied().unwrap_or_default();
        live.entry(pk).or_default().push(version_from_columns(name, &PgColumns(&row), 1)?);
    }
    if live.is_empty() {
        return Ok(live);
    }
    let mut tags = version_tags_of_models(client, &model_pks).await?;
    Ok(live
        .into_iter()
        .map(|(pk, versions)| {
            let mut latest = latest_per_stage(versions);
            for version in &mut latest {
                version.tags = tags.remove(&(pk, version.version)).unwrap_or_default();
            }
            (pk, latest)
        })
        .collect())
}

pub(super) async fn latest_versions(client: &impl GenericClient, model: &StoredModel) -> Result<Vec<ModelVersion>> {
    Ok(latest_versions_of_models(client, &[model]).await?.remove(&model.pk).unwrap_or_default())
}

/// The models as MLflow answers them, in the order given.
pub(super) async fn assemble_models(
    client: &impl GenericClient,
    models: &[StoredModel],
) -> Result<Vec<RegisteredModel>> {
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let model_pks: Vec<i64> = models.iter().map(|model| model.pk).collect();
    let mut latest = latest_versions_of_models(client, &models.iter().collect::<Vec<_>>()).await?;
    let mut tags = tags_of_models(client, &model_pks).await?;
    let mut aliases = aliases_of_models(client, &model_pks).await?;
    Ok(models
        .iter()
        .map(|model| {
            model.assemble(
                latest.remove(&model.pk).unwrap_or_default(),
                tags.remove(&model.pk).unwrap_or_default(),
                aliases.remove(&model.pk).unwrap_or_default(),
            )
        })
        .collect())
}

pub(super) async fn assemble_model(client: &impl GenericClient, model: &StoredModel) -> Result<RegisteredModel> {
    let mut assembled = assemble_models(client, std::slice::from_ref(model)).await?;
    assembled.pop().ok_or_else(|| registered_model_not_found(&model.name))
}

// ---------------------------------------------------------------- the trait

#[async_trait]
impl RegistryStore for PgStore {
    async fn create_registered_model(&self, request: CreateRegisteredModel) -> Result<RegisteredModel> {
        transaction!(self.db, |tx| { models::create(&tx, request.clone(), now_millis()).await })
    }

    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let client = self.db.client().await?;
        assemble_model(&client, &find_model(&client, name).await?).await
    }

    async fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        transaction!(self.db, |tx| { models::rename(&tx, name, new_name, now_millis()).await })
    }

    async fn update_registered_model(&self, name: &str, description: Option<String>) -> Result<RegisteredModel> {
        transaction!(self.db, |tx| { models::update(&tx, name, description.as_deref(), now_millis()).await })
    }

    async fn delete_registered_model(&self, name: &str) -> Result<()> {
        transaction!(self.db, |tx| { models::delete(&tx, name).await })
    }

    async fn search_registered_models(&self, request: RegistrySearch) -> Result<Page<RegisteredModel>> {
        search::registered_models(&self.db.client().await?, &request).await
    }

    async fn get_latest_versions(&self, name: &str, stages: Vec<Stage>) -> Result<Vec<ModelVersion>> {
        models::get_latest_versions(&self.db.client().await?, name, &stages).await
    }

    async fn set_registered_model_tag(&self, name: &str, tag: KeyValue) -> Result<()> {
        transaction!(self.db, |tx| { models::set_tag(&tx, name, &tag).await })
    }

    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        transaction!(self.db, |tx| { models::delete_tag(&tx, name, key).await })
    }

    async fn create_model_version(&self, request: CreateModelVersion) -> Result<ModelVersion> {
        transaction!(self.db, |tx| { versions::create(&tx, request.clone(), now_millis()).await })
    }

    async fn get_model_version(&self, name: &str, version: i64) -> Result<ModelVersion> {
        versions::get(&self.db.client().await?, name, version).await
    }

    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: Option<String>,
    ) -> Result<ModelVersion> {
        transaction!(self.db, |tx| { versions::update(&tx, name, version, description.as_deref(), now_millis()).await })
    }

    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        transaction!(self.db, |tx| {
            versions::transition_stage(&tx, name, version, stage, archive_existing_versions, now_millis()).await
        })
    }

    async fn delete_model_version(&self, name: &str, version: i64) -> Result<()> {
        transaction!(self.db, |tx| { versions::delete(&tx, name, version, now_millis()).await })
    }

    async fn get_model_version_download_uri(&self, name: &str, version: i64) -> Result<String> {
        versions::download_uri(&self.db.client().await?, name, version).await
    }

    async fn search_model_versions(&self, request: RegistrySearch) -> Result<Page<ModelVersion>> {
        search::model_versions(&self.db.client().await?, &request).await
    }

    async fn set_model_version_tag(&self, name: &str, version: i64, tag: KeyValue) -> Result<()> {
        transaction!(self.db, |tx| { versions::set_tag(&tx, name, version, &tag).await })
    }

    async fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()> {
        transaction!(self.db, |tx| { versions::delete_tag(&tx, name, version, key).await })
    }

    async fn set_registered_model_alias(&self, name: &str, alias: &str, version: i64) -> Result<()> {
        transaction!(self.db, |tx| { versions::set_alias(&tx, name, alias, version).await })
    }

    async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        transaction!(self.db, |tx| { versions::delete_alias(&tx, name, alias).await })
    }

    async fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        versions::by_alias(&self.db.client().await?, name, alias).await
    }

    async fn create_webhook(&self, request: CreateWebhook) -> Result<Webhook> {
        transaction!(self.db, |tx| { webhooks::create(&tx, &request, now_millis()).await })
    }

    async fn get_webhook(&self, webhook_id: &str) -> Result<Webhook> {
        webhooks::get(&self.db.client().await?, webhook_id).await
    }

    async fn list_webhooks(&self, max_results: usize, page_token: Option<String>) -> Result<Page<Webhook>> {
        webhooks::list(&self.db.client().await?, max_results, page_token.as_deref()).await
    }

    async fn list_webhooks_by_event(&self, event: WebhookEvent) -> Result<Vec<Webhook>> {
        webhooks::list_by_event(&self.db.client().await?, event).await
    }

    async fn update_webhook(&self, request: UpdateWebhook) -> Result<Webhook> {
        transaction!(self.db, |tx| { webhooks::update(&tx, &request, now_millis()).await })
    }

    async fn delete_webhook(&self, webhook_id: &str) -> Result<()> {
        transaction!(self.db, |tx| { webhooks::delete(&tx, webhook_id, now_millis()).await })
    }

    async fn enqueue_webhook_deliveries(&self, deliveries: Vec<OutboxDelivery>, now_ms: i64) -> Result<()> {
        outbox::enqueue(&self.db.client().await?, &deliveries, now_ms).await
    }

    async fn claim_webhook_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        max: usize,
    ) -> Result<Vec<OutboxDelivery>> {
        transaction!(self.db, |tx| { outbox::claim(&tx, now_ms, lease_until_ms, max).await })
    }

    async fn reschedule_webhook_delivery(&self, delivery_id: &str, available_at_ms: i64) -> Result<()> {
        outbox::reschedule(&self.db.client().await?, delivery_id, available_at_ms).await
    }

    async fn finish_webhook_delivery(&self, delivery_id: &str) -> Result<()> {
        outbox::finish(&self.db.client().await?, delivery_id).await
    }
}
