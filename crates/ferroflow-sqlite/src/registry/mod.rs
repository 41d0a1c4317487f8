//! Model registry operations on SQLite: registered models, versions, stages, aliases,
//! tags and webhooks.
//!
//! Backend-independent rules, row mappings, messages and the in-memory search live in
//! `ferroflow_store::registry_rules`, shared with the PostgreSQL store; this module keeps
//! the SQL.
//!
//! Registered models get an integer surrogate key, so a rename is one row update and
//! versions, tags and aliases never carry the name. A version's number is `max + 1` of its
//! model, computed inside the write job: the single writer thread makes that race-free,
//! and the `(model_pk, version)` primary key enforces uniqueness anyway. Deleted versions
//! stay as redacted rows in stage `Deleted_Internal` (as in MLflow), so numbers are never
//! reused.
//!
//! Registry searches are filtered and ordered in memory by the shared
//! `registry_rules::search`, after an SQL prefilter on `name = …` / `run_id = …`.

use std::collections::HashMap;

use async_trait::async_trait;
use ferroflow_core::registry::{
    registered_model_not_found, ModelVersion, RegisteredModel, RegisteredModelAlias, Stage, Webhook, WebhookEvent,
};
use ferroflow_core::types::{KeyValue, Page};
use ferroflow_core::Result;
use ferroflow_store::registry::{
    CreateModelVersion, CreateRegisteredModel, CreateWebhook, OutboxDelivery, RegistrySearch, UpdateWebhook,
};
use ferroflow_store::registry_rules::{
    attach_tags, group_tags, latest_per_stage, version_from_columns, Columns, StoredModel, DELETED_STAGE,
    MODEL_COLUMNS, VERSION_COLUMNS,
};
use ferroflow_store::RegistryStore;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::db::db_error;
use crate::{now_millis, SqliteStore};

mod models;
pub(crate) mod outbox;
mod search;
mod versions;
mod webhooks;

/// Registry tables (schema version 3).
pub(crate) const SCHEMA: &str = r#"
    CREATE TABLE registered_models (
        model_pk          INTEGER PRIMARY KEY,
        name              TEXT NOT NULL UNIQUE,
        creation_time     INTEGER NOT NULL,
        last_updated_time INTEGER NOT NULL,
        description       TEXT
    );
    -- Tags keep their first insertion's rowid, so they list in insertion order, as MLflow's.
    CREATE TABLE registered_model_tags (
        model_pk INTEGER NOT NULL,
        key      TEXT NOT NULL,
        value    TEXT NOT NULL,
        UNIQUE (model_pk, key)
    );
    -- current_stage 'Deleted_Internal' marks a deleted version: hidden, number kept.
    CREATE TABLE model_versions (
        model_pk          INTEGER NOT NULL,
        version           INTEGER NOT NULL CHECK (version >= 1),
        creation_time     INTEGER NOT NULL,
        last_updated_time INTEGER NOT NULL,
        description       TEXT,
        user_id           TEXT,
        current_stage     TEXT NOT NULL,
        source            TEXT,
        storage_location  TEXT,
        run_id            TEXT,
        run_link          TEXT,
        status            TEXT NOT NULL,
        status_message    TEXT,
        PRIMARY KEY (model_pk, version)
    ) WITHOUT ROWID;
    CREATE INDEX model_versions_by_run ON model_versions (run_id);
    CREATE TABLE model_version_tags (
        model_pk INTEGER NOT NULL,
        version  INTEGER NOT NULL,
        key      TEXT NOT NULL,
        value    TEXT NOT NULL,
        UNIQUE (model_pk, version, key)
    );
    CREATE INDEX model_version_tags_by_key ON model_version_tags (key, value);
    CREATE TABLE registered_model_aliases (
        model_pk INTEGER NOT NULL,
        alias    TEXT NOT NULL,
        version  INTEGER NOT NULL,
        PRIMARY KEY (model_pk, alias)
    ) WITHOUT ROWID;
    CREATE TABLE webhooks (
        webhook_pk             INTEGER PRIMARY KEY,
        webhook_id             TEXT NOT NULL UNIQUE,
        name                   TEXT NOT NULL,
        description            TEXT,
        url                    TEXT NOT NULL,
        status                 TEXT NOT NULL,
        secret                 TEXT,
        creation_timestamp     INTEGER NOT NULL,
        last_updated_timestamp INTEGER NOT NULL,
        deleted_timestamp      INTEGER
    );
    CREATE INDEX webhooks_by_creation ON webhooks (creation_timestamp DESC, webhook_pk DESC);
    CREATE TABLE webhook_events (
        webhook_pk INTEGER NOT NULL,
        entity     TEXT NOT NULL,
        action     TEXT NOT NULL,
        PRIMARY KEY (webhook_pk, entity, action)
    ) WITHOUT ROWID;
    CREATE INDEX webhook_events_by_event ON webhook_events (entity, action);
"#;

// ---------------------------------------------------------------- rows

/// A rusqlite row, read by the shared row mappings of `registry_rules`.
struct SqliteColumns<'a, 'r>(&'a Row<'r>);

impl Columns for SqliteColumns<'_, '_> {
    type Error = rusqlite::Error;

    fn int(&self, index: usize) -> rusqlite::Result<i64> {
        self.0.get(index)
    }

    fn text(&self, index: usize) -> rusqlite::Result<String> {
        self.0.get(index)
    }

    fn optional_text(&self, index: usize) -> rusqlite::Result<Option<String>> {
        self.0.get(index)
    }
}

fn model_from_row(row: &Row<'_>) -> rusqlite::Result<StoredModel> {
    StoredModel::from_columns(&SqliteColumns(row))
}

fn find_model_opt(conn: &Connection, name: &str) -> Result<Option<StoredModel>> {
    let sql = format!("SELECT {MODEL_COLUMNS} FROM registered_models WHERE name = ?1");
    conn.prepare_cached(&sql).map_err(db_error)?.query_row([name], model_from_row).optional().map_err(db_error)
}

fn find_model(conn: &Connection, name: &str) -> Result<StoredModel> {
    find_model_opt(conn, name)?.ok_or_else(|| registered_model_not_found(name))
}

fn version_from_row(name: &str, row: &Row<'_>) -> rusqlite::Result<ModelVersion> {
    version_from_columns(name, &SqliteColumns(row), 0)
}

fn key_values(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<KeyValue>> {
    let mut statement = conn.prepare_cached(sql).map_err(db_error)?;
    let rows = statement
        .query_map(params, |row| Ok(KeyValue::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
        .map_err(db_error)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_error)
}

fn model_tags(conn: &Connection, model_pk: i64) -> Result<Vec<KeyValue>> {
    key_values(conn, "SELECT key, value FROM registered_model_tags WHERE model_pk = ?1 ORDER BY rowid", [model_pk])
}

fn version_tags(conn: &Connection, model_pk: i64, version: i64) -> Result<Vec<KeyValue>> {
    key_values(
        conn,
        "SELECT key, value FROM model_version_tags WHERE model_pk = ?1 AND version = ?2 ORDER BY rowid",
        params![model_pk, version],
    )
}

/// Every version tag of a model, by version.
fn all_version_tags(conn: &Connection, model_pk: i64) -> Result<HashMap<i64, Vec<KeyValue>>> {
    let mut statement = conn
        .prepare_cached("SELECT version, key, value FROM model_version_tags WHERE model_pk = ?1 ORDER BY rowid")
        .map_err(db_error)?;
    let rows = statement
        .query_map([model_pk], |row| {
            Ok((row.get::<_, i64>(0)?, KeyValue::new(row.get::<_, String>(1)?, row.get::<_, String>(2)?)))
        })
        .map_err(db_error)?;
    Ok(group_tags(rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)?))
}

fn model_aliases(conn: &Connection, model_pk: i64) -> Result<Vec<RegisteredModelAlias>> {
    let mut statement = conn
        .prepare_cached("SELECT alias, version FROM registered_model_aliases WHERE model_pk = ?1 ORDER BY alias")
        .map_err(db_error)?;
    let rows = statement
        .query_map([model_pk], |row| Ok(RegisteredModelAlias { alias: row.get(0)?, version: row.get(1)? }))
        .map_err(db_error)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_error)
}

/// The highest live version in each stage, with their tags.
fn latest_versions(conn: &Connection, model: &StoredModel) -> Result<Vec<ModelVersion>> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions WHERE model_pk = ?1 AND current_stage != '{DELETED_STAGE}' \
         ORDER BY version"
    );
    let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
    let rows = statement.query_map([model.pk], |row| version_from_row(&model.name, row)).map_err(db_error)?;
    let mut latest = latest_per_stage(rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)?);
    if !latest.is_empty() {
        attach_tags(&mut latest, &mut all_version_tags(conn, model.pk)?);
    }
    Ok(latest)
}

fn assemble_model(conn: &Connection, model: &StoredModel) -> Result<RegisteredModel> {
    Ok(model.assemble(latest_versions(conn, model)?, model_tags(conn, model.pk)?, model_aliases(conn, model.pk)?))
}

// ---------------------------------------------------------------- the trait

#[async_trait]
impl RegistryStore for SqliteStore {
    async fn create_registered_model(&self, request: CreateRegisteredModel) -> Result<RegisteredModel> {
        self.db.write(move |conn| models::create_registered_model(conn, request, now_millis())).await
    }

    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let name = name.to_string();
        self.db.read(move |conn| assemble_model(conn, &find_model(conn, &name)?)).await
    }

    async fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        let (name, new_name) = (name.to_string(), new_name.to_string());
        self.db.write(move |conn| models::rename_registered_model(conn, &name, &new_name, now_millis())).await
    }

    async fn update_registered_model(&self, name: &str, description: Option<String>) -> Result<RegisteredModel> {
        let name = name.to_string();
        self.db.write(move |conn| models::update_registered_model(conn, &name, description, now_millis())).await
    }

    async fn delete_registered_model(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        self.db.write(move |conn| models::delete_registered_model(conn, &name)).await
    }

    async fn search_registered_models(&self, request: RegistrySearch) -> Result<Page<RegisteredModel>> {
        self.db.read_within(move |conn, budget| search::search_registered_models(conn, request, budget)).await
    }

    async fn get_latest_versions(&self, name: &str, stages: Vec<Stage>) -> Result<Vec<ModelVersion>> {
        let name = name.to_string();
        self.db.read(move |conn| models::get_latest_versions(conn, &name, &stages)).await
    }

    async fn set_registered_model_tag(&self, name: &str, tag: KeyValue) -> Result<()> {
        let name = name.to_string();
        self.db.write(move |conn| models::upsert_model_tag(conn, find_model(conn, &name)?.pk, &tag)).await
    }

    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        let (name, key) = (name.to_string(), key.to_string());
        self.db.write(move |conn| models::delete_registered_model_tag(conn, &name, &key)).await
    }

    async fn create_model_version(&self, request: CreateModelVersion) -> Result<ModelVersion> {
        self.db.write(move |conn| versions::create_model_version(conn, request, now_millis())).await
    }

    async fn get_model_version(&self, name: &str, version: i64) -> Result<ModelVersion> {
        let name = name.to_string();
        self.db.read(move |conn| versions::get_model_version(conn, &name, version)).await
    }

    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: Option<String>,
    ) -> Result<ModelVersion> {
        let name = name.to_string();
        self.db.write(move |conn| versions::update_model_version(conn, &name, version, description, now_millis())).await
    }

    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        let name = name.to_string();
        self.db
            .write(move |conn| {
                versions::transition_stage(conn, &name, version, stage, archive_existing_versions, now_millis())
            })
            .await
    }

    async fn delete_model_version(&self, name: &str, version: i64) -> Result<()> {
        let name = name.to_string();
        self.db.write(move |conn| versions::delete_model_version(conn, &name, version, now_millis())).await
    }

    async fn get_model_version_download_uri(&self, name: &str, version: i64) -> Result<String> {
        let name = name.to_string();
        self.db.read(move |conn| versions::download_uri(conn, &name, version)).await
    }

    async fn search_model_versions(&self, request: RegistrySearch) -> Result<Page<ModelVersion>> {
        self.db.read_within(move |conn, budget| search::search_model_versions(conn, request, budget)).await
    }

    async fn set_model_version_tag(&self, name: &str, version: i64, tag: KeyValue) -> Result<()> {
        let name = name.to_string();
        self.db.write(move |conn| versions::set_model_version_tag(conn, &name, version, tag)).await
    }

    async fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()> {
        let (name, key) = (name.to_string(), key.to_string());
        self.db.write(move |conn| versions::delete_model_version_tag(conn, &name, version, &key)).await
    }

    async fn set_registered_model_alias(&self, name: &str, alias: &str, version: i64) -> Result<()> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.db.write(move |conn| versions::set_alias(conn, &name, &alias, version)).await
    }

    async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.db.write(move |conn| versions::delete_alias(conn, &name, &alias)).await
    }

    async fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.db.read(move |conn| versions::version_by_alias(conn, &name, &alias)).await
    }

    async fn create_webhook(&self, request: CreateWebhook) -> Result<Webhook> {
        self.db.write(move |conn| webhooks::create_webhook(conn, request, now_millis())).await
    }

    async fn get_webhook(&self, webhook_id: &str) -> Result<Webhook> {
        let id = webhook_id.to_string();
        self.db.read(move |conn| webhooks::with_events(conn, webhooks::find_webhook(conn, &id)?)).await
    }

    async fn list_webhooks(&self, max_results: usize, page_token: Option<String>) -> Result<Page<Webhook>> {
        self.db.read(move |conn| webhooks::list_webhooks(conn, max_results, page_token.as_deref())).await
    }

    async fn list_webhooks_by_event(&self, event: WebhookEvent) -> Result<Vec<Webhook>> {
        self.db.read(move |conn| webhooks::list_webhooks_by_event(conn, event)).await
    }

    async fn update_webhook(&self, request: UpdateWebhook) -> Result<Webhook> {
        self.db.write(move |conn| webhooks::update_webhook(conn, request, now_millis())).await
    }

    async fn delete_webhook(&self, webhook_id: &str) -> Result<()> {
        let id = webhook_id.to_string();
        self.db.write(move |conn| webhooks::delete_webhook(conn, &id, now_millis())).await
    }

    async fn enqueue_webhook_deliveries(&self, deliveries: Vec<OutboxDelivery>, now_ms: i64) -> Result<()> {
        self.db.write(move |conn| outbox::enqueue(conn, &deliveries, now_ms)).await
    }

    async fn claim_webhook_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        max: usize,
    ) -> Result<Vec<OutboxDelivery>> {
        self.db.write(move |conn| outbox::claim(conn, now_ms, lease_until_ms, max)).await
    }

    async fn reschedule_webhook_delivery(&self, delivery_id: &str, available_at_ms: i64) -> Result<()> {
        let id = delivery_id.to_string();
        self.db.write(move |conn| outbox::reschedule(conn, &id, available_at_ms)).await
    }

    async fn finish_webhook_delivery(&self, delivery_id: &str) -> Result<()> {
        let id = delivery_id.to_string();
        self.db.write(move |conn| outbox::finish(conn, &id)).await
    }
}
