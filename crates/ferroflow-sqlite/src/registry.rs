//! Model registry operations on SQLite: registered models, versions, stages, aliases,
//! tags and webhooks.
//!
//! Registered models get an integer surrogate key, so a rename is one row update and
//! versions, tags and aliases never carry the name. A version's number is `max + 1` of its
//! model, computed inside the write job: the single writer thread makes that race-free,
//! and the `(model_pk, version)` primary key enforces uniqueness anyway. Deleted versions
//! stay as redacted rows in stage `Deleted_Internal` (as in MLflow), so numbers are never
//! reused.
//!
//! Registry searches are filtered and ordered in memory by [`filter`], a small evaluator
//! of MLflow's registry search language, after an SQL prefilter on `name = …` /
//! `run_id = …`; registries hold thousands of models, not millions.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use ferroflow_core::paging::{decode_offset, page_from};
use ferroflow_core::registry::{
    model_version_not_found, registered_model_exists, registered_model_not_found, ModelVersion, RegisteredModel,
    RegisteredModelAlias, Stage, Webhook, WebhookEvent, WebhookStatus, MODEL_VERSION_STATUS_READY, PROMPT_TAG_KEY,
};
use ferroflow_core::search::{self, eval, Comparison, Entity, Expr, Filter, KeyKind, Op, Record, Value as SearchValue};
use ferroflow_core::types::{KeyValue, Page};
use ferroflow_core::{Error, Result};
use ferroflow_store::registry::{
    CreateModelVersion, CreateRegisteredModel, CreateWebhook, RegistrySearch, UpdateWebhook,
};
use ferroflow_store::RegistryStore;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::db::db_error;
use crate::{now_millis, SqliteStore};

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

const DELETED_STAGE: &str = "Deleted_Internal";

// ---------------------------------------------------------------- rows

/// A registered model's own row.
struct ModelRow {
    pk: i64,
    name: String,
    creation_time: i64,
    last_updated_time: i64,
    description: Option<String>,
}

const MODEL_COLUMNS: &str = "model_pk, name, creation_time, last_updated_time, description";

fn model_from_row(row: &Row<'_>) -> rusqlite::Result<ModelRow> {
    Ok(ModelRow {
        pk: row.get(0)?,
        name: row.get(1)?,
        creation_time: row.get(2)?,
        last_updated_time: row.get(3)?,
        description: row.get(4)?,
    })
}

fn find_model_opt(conn: &Connection, name: &str) -> Result<Option<ModelRow>> {
    let sql = format!("SELECT {MODEL_COLUMNS} FROM registered_models WHERE name = ?1");
    conn.prepare_cached(&sql).map_err(db_error)?.query_row([name], model_from_row).optional().map_err(db_error)
}

fn find_model(conn: &Connection, name: &str) -> Result<ModelRow> {
    find_model_opt(conn, name)?.ok_or_else(|| registered_model_not_found(name))
}

const VERSION_COLUMNS: &str = "version, creation_time, last_updated_time, user_id, current_stage, description, \
     source, run_id, run_link, status_message";

fn version_from_row(name: &str, row: &Row<'_>) -> rusqlite::Result<ModelVersion> {
    let stage: String = row.get(4)?;
    Ok(ModelVersion {
        name: name.to_string(),
        version: row.get(0)?,
        creation_timestamp: row.get(1)?,
        last_updated_timestamp: row.get(2)?,
        user_id: row.get(3)?,
        current_stage: Stage::parse(&stage).unwrap_or(Stage::None),
        description: row.get(5)?,
        source: row.get(6)?,
        run_id: row.get(7)?,
        status: MODEL_VERSION_STATUS_READY,
        status_message: row.get(9)?,
        tags: Vec::new(),
        run_link: row.get(8)?,
        aliases: Vec::new(),
    })
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
    let mut tags: HashMap<i64, Vec<KeyValue>> = HashMap::new();
    for row in rows {
        let (version, tag) = row.map_err(db_error)?;
        tags.entry(version).or_default().push(tag);
    }
    Ok(tags)
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

fn aliases_of(aliases: &[RegisteredModelAlias], version: i64) -> Vec<String> {
    aliases.iter().filter(|a| a.version == version).map(|a| a.alias.clone()).collect()
}

/// A live (not deleted) version, with its tags but without aliases.
fn find_version_opt(conn: &Connection, model: &ModelRow, version: i64) -> Result<Option<ModelVersion>> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions WHERE model_pk = ?1 AND version = ?2 AND current_stage != '{DELETED_STAGE}'"
    );
    let found = conn
        .prepare_cached(&sql)
        .map_err(db_error)?
        .query_row(params![model.pk, version], |row| version_from_row(&model.name, row))
        .optional()
        .map_err(db_error)?;
    match found {
        Some(mut found) => {
            found.tags = version_tags(conn, model.pk, version)?;
            Ok(Some(found))
        }
        None => Ok(None),
    }
}

/// The model and one of its live versions; a missing model reads as a missing version,
/// as in MLflow.
fn find_version(conn: &Connection, name: &str, version: i64) -> Result<(ModelRow, ModelVersion)> {
    let Some(model) = find_model_opt(conn, name)? else {
        return Err(model_version_not_found(name, version));
    };
    let found = find_version_opt(conn, &model, version)?.ok_or_else(|| model_version_not_found(name, version))?;
    Ok((model, found))
}

fn with_aliases(conn: &Connection, model: &ModelRow, mut version: ModelVersion) -> Result<ModelVersion> {
    version.aliases = aliases_of(&model_aliases(conn, model.pk)?, version.version);
    Ok(version)
}

/// The highest live version in each stage, ordered as MLflow's SQL store builds the list:
/// stages in the order they first appear when walking versions upwards.
fn latest_versions(conn: &Connection, model: &ModelRow) -> Result<Vec<ModelVersion>> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions WHERE model_pk = ?1 AND current_stage != '{DELETED_STAGE}' \
         ORDER BY version"
    );
    let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
    let rows = statement.query_map([model.pk], |row| version_from_row(&model.name, row)).map_err(db_error)?;
    let mut latest: Vec<ModelVersion> = Vec::new();
    for row in rows {
        let version = row.map_err(db_error)?;
        match latest.iter_mut().find(|v| v.current_stage == version.current_stage) {
            Some(slot) => *slot = version,
            None => latest.push(version),
        }
    }
    if !latest.is_empty() {
        let mut tags = all_version_tags(conn, model.pk)?;
        for version in &mut latest {
            version.tags = tags.remove(&version.version).unwrap_or_default();
        }
    }
    Ok(latest)
}

fn assemble_model(conn: &Connection, model: &ModelRow) -> Result<RegisteredModel> {
    Ok(RegisteredModel {
        name: model.name.clone(),
        creation_timestamp: model.creation_time,
        last_updated_timestamp: model.last_updated_time,
        description: model.description.clone(),
        latest_versions: latest_versions(conn, model)?,
        tags: model_tags(conn, model.pk)?,
        aliases: model_aliases(conn, model.pk)?,
    })
}

fn has_prompt_tag_key(tags: &[KeyValue]) -> bool {
    tags.iter().any(|tag| tag.key == PROMPT_TAG_KEY)
}

/// Tags as a dict: the last value of a repeated key wins.
fn dedupe_tags(tags: Vec<KeyValue>) -> Vec<KeyValue> {
    let mut out: Vec<KeyValue> = Vec::with_capacity(tags.len());
    for tag in tags {
        match out.iter_mut().find(|existing| existing.key == tag.key) {
            Some(existing) => existing.value = tag.value,
            None => out.push(tag),
        }
    }
    out
}

fn touch_model(conn: &Connection, model_pk: i64, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE registered_models SET last_updated_time = ?1 WHERE model_pk = ?2")
        .map_err(db_error)?
        .execute(params![now, model_pk])
        .map_err(db_error)?;
    Ok(())
}

// ---------------------------------------------------------------- registered models

fn create_registered_model(conn: &Connection, request: CreateRegisteredModel, now: i64) -> Result<RegisteredModel> {
    if let Some(existing) = find_model_opt(conn, &request.name)? {
        let existing_tags = model_tags(conn, existing.pk)?;
        return Err(registered_model_exists(
            &request.name,
            has_prompt_tag_key(&existing_tags),
            has_prompt_tag_key(&request.tags),
        ));
    }
    conn.prepare_cached(
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?1, ?2, ?2, ?3)",
    )
    .map_err(db_error)?
    .execute(params![request.name, now, request.description])
    .map_err(db_error)?;
    let pk = conn.last_insert_rowid();
    for tag in dedupe_tags(request.tags) {
        upsert_model_tag(conn, pk, &tag)?;
    }
    assemble_model(conn, &find_model(conn, &request.name)?)
}

fn upsert_model_tag(conn: &Connection, model_pk: i64, tag: &KeyValue) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO registered_model_tags (model_pk, key, value) VALUES (?1, ?2, ?3) \
         ON CONFLICT (model_pk, key) DO UPDATE SET value = excluded.value",
    )
    .map_err(db_error)?
    .execute(params![model_pk, tag.key, tag.value])
    .map_err(db_error)?;
    Ok(())
}

fn rename_registered_model(conn: &Connection, name: &str, new_name: &str, now: i64) -> Result<RegisteredModel> {
    let model = find_model(conn, name)?;
    if new_name != name && find_model_opt(conn, new_name)?.is_some() {
        return Err(Error::already_exists(format!("Registered Model (name={new_name}) already exists.")));
    }
    conn.execute(
        "UPDATE registered_models SET name = ?1, last_updated_time = ?2 WHERE model_pk = ?3",
        params![new_name, now, model.pk],
    )
    .map_err(db_error)?;
    // MLflow renames every version row too, which bumps their update time.
    conn.execute("UPDATE model_versions SET last_updated_time = ?1 WHERE model_pk = ?2", params![now, model.pk])
        .map_err(db_error)?;
    assemble_model(conn, &find_model(conn, new_name)?)
}

fn update_registered_model(
    conn: &Connection,
    name: &str,
    description: Option<String>,
    now: i64,
) -> Result<RegisteredModel> {
    let model = find_model(conn, name)?;
    conn.execute(
        "UPDATE registered_models SET description = ?1, last_updated_time = ?2 WHERE model_pk = ?3",
        params![description, now, model.pk],
    )
    .map_err(db_error)?;
    assemble_model(conn, &find_model(conn, name)?)
}

fn delete_registered_model(conn: &Connection, name: &str) -> Result<()> {
    let model = find_model(conn, name)?;
    for table in [
        "registered_model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ] {
        conn.execute(&format!("DELETE FROM {table} WHERE model_pk = ?1"), [model.pk]).map_err(db_error)?;
    }
    Ok(())
}

fn get_latest_versions(conn: &Connection, name: &str, stages: &[Stage]) -> Result<Vec<ModelVersion>> {
    let model = find_model(conn, name)?;
    let aliases = model_aliases(conn, model.pk)?;
    let mut latest: Vec<ModelVersion> = latest_versions(conn, &model)?
        .into_iter()
        .filter(|version| stages.is_empty() || stages.contains(&version.current_stage))
        .collect();
    for version in &mut latest {
        version.aliases = aliases_of(&aliases, version.version);
    }
    Ok(latest)
}

// ---------------------------------------------------------------- model versions

fn create_model_version(conn: &Connection, request: CreateModelVersion, now: i64) -> Result<ModelVersion> {
    let model = find_model(conn, &request.name)?;
    touch_model(conn, model.pk, now)?;
    let version: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE model_pk = ?1")
        .map_err(db_error)?
        .query_row([model.pk], |row| row.get(0))
        .map_err(db_error)?;
    conn.prepare_cached(
        "INSERT INTO model_versions (model_pk, version, creation_time, last_updated_time, description, user_id, \
         current_stage, source, storage_location, run_id, run_link, status, status_message) \
         VALUES (?1, ?2, ?3, ?3, ?4, NULL, ?5, ?6, ?7, ?8, ?9, ?10, NULL)",
    )
    .map_err(db_error)?
    .execute(params![
        model.pk,
        version,
        now,
        request.description,
        Stage::None.as_str(),
        request.source,
        request.storage_location,
        request.run_id,
        request.run_link,
        MODEL_VERSION_STATUS_READY,
    ])
    .map_err(db_error)?;
    for tag in dedupe_tags(request.tags) {
        upsert_version_tag(conn, model.pk, version, &tag)?;
    }
    let created =
        find_version_opt(conn, &model, version)?.ok_or_else(|| model_version_not_found(&model.name, version))?;
    with_aliases(conn, &model, created)
}

fn upsert_version_tag(conn: &Connection, model_pk: i64, version: i64, tag: &KeyValue) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO model_version_tags (model_pk, version, key, value) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (model_pk, version, key) DO UPDATE SET value = excluded.value",
    )
    .map_err(db_error)?
    .execute(params![model_pk, version, tag.key, tag.value])
    .map_err(db_error)?;
    Ok(())
}

fn get_model_version(conn: &Connection, name: &str, version: i64) -> Result<ModelVersion> {
    let (model, found) = find_version(conn, name, version)?;
    with_aliases(conn, &model, found)
}

fn update_model_version(
    conn: &Connection,
    name: &str,
    version: i64,
    description: Option<String>,
    now: i64,
) -> Result<ModelVersion> {
    let (model, _) = find_version(conn, name, version)?;
    conn.execute(
        "UPDATE model_versions SET description = ?1, last_updated_time = ?2 WHERE model_pk = ?3 AND version = ?4",
        params![description, now, model.pk, version],
    )
    .map_err(db_error)?;
    get_model_version(conn, name, version)
}

fn transition_stage(
    conn: &Connection,
    name: &str,
    version: i64,
    stage: Stage,
    archive_existing: bool,
    now: i64,
) -> Result<ModelVersion> {
    if archive_existing && !stage.is_active() {
        return Err(archive_needs_active_stage(stage.as_str()));
    }
    let (model, _) = find_version(conn, name, version)?;
    if archive_existing {
        conn.execute(
            "UPDATE model_versions SET current_stage = ?1, last_updated_time = ?2 \
             WHERE model_pk = ?3 AND version != ?4 AND current_stage = ?5",
            params![Stage::Archived.as_str(), now, model.pk, version, stage.as_str()],
        )
        .map_err(db_error)?;
    }
    conn.execute(
        "UPDATE model_versions SET current_stage = ?1, last_updated_time = ?2 WHERE model_pk = ?3 AND version = ?4",
        params![stage.as_str(), now, model.pk, version],
    )
    .map_err(db_error)?;
    touch_model(conn, model.pk, now)?;
    get_model_version(conn, name, version)
}

/// MLflow's message when `archive_existing_versions` is used with a non-active stage;
/// `stage` is shown as the client spelled it.
pub fn archive_needs_active_stage(stage: &str) -> Error {
    Error::invalid_parameter(format!(
        "Model version transition cannot archive existing model versions because '{stage}' is not an Active \
         stage. Valid stages are ['Staging', 'Production']"
    ))
}

fn delete_model_version(conn: &Connection, name: &str, version: i64, now: i64) -> Result<()> {
    let (model, _) = find_version(conn, name, version)?;
    touch_model(conn, model.pk, now)?;
    conn.execute(
        "DELETE FROM registered_model_aliases WHERE model_pk = ?1 AND version = ?2",
        params![model.pk, version],
    )
    .map_err(db_error)?;
    // Redacted like MLflow's SQL store; tags stay with the hidden row.
    conn.execute(
        "UPDATE model_versions SET current_stage = ?1, last_updated_time = ?2, description = NULL, user_id = NULL, \
         source = 'REDACTED-SOURCE-PATH', storage_location = NULL, run_id = 'REDACTED-RUN-ID', \
         run_link = 'REDACTED-RUN-LINK', status_message = NULL WHERE model_pk = ?3 AND version = ?4",
        params![DELETED_STAGE, now, model.pk, version],
    )
    .map_err(db_error)?;
    Ok(())
}

fn download_uri(conn: &Connection, name: &str, version: i64) -> Result<String> {
    let (model, _) = find_version(conn, name, version)?;
    let (storage, source): (Option<String>, Option<String>) = conn
        .query_row(
            "SELECT storage_location, source FROM model_versions WHERE model_pk = ?1 AND version = ?2",
            params![model.pk, version],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(db_error)?;
    Ok(storage.filter(|s| !s.is_empty()).or(source).unwrap_or_default())
}

fn set_model_version_tag(conn: &Connection, name: &str, version: i64, tag: KeyValue) -> Result<()> {
    let (model, _) = find_version(conn, name, version)?;
    upsert_version_tag(conn, model.pk, version, &tag)
}

fn delete_model_version_tag(conn: &Connection, name: &str, version: i64, key: &str) -> Result<()> {
    let (model, _) = find_version(conn, name, version)?;
    conn.execute(
        "DELETE FROM model_version_tags WHERE model_pk = ?1 AND version = ?2 AND key = ?3",
        params![model.pk, version, key],
    )
    .map_err(db_error)?;
    Ok(())
}

// ---------------------------------------------------------------- aliases

fn set_alias(conn: &Connection, name: &str, alias: &str, version: i64) -> Result<()> {
    let (model, _) = find_version(conn, name, version)?;
    conn.execute(
        "INSERT INTO registered_model_aliases (model_pk, alias, version) VALUES (?1, ?2, ?3) \
         ON CONFLICT (model_pk, alias) DO UPDATE SET version = excluded.version",
        params![model.pk, alias, version],
    )
    .map_err(db_error)?;
    Ok(())
}

fn delete_alias(conn: &Connection, name: &str, alias: &str) -> Result<()> {
    let model = find_model(conn, name)?;
    conn.execute("DELETE FROM registered_model_aliases WHERE model_pk = ?1 AND alias = ?2", params![model.pk, alias])
        .map_err(db_error)?;
    Ok(())
}

fn version_by_alias(conn: &Connection, name: &str, alias: &str) -> Result<ModelVersion> {
    if alias.eq_ignore_ascii_case("latest") {
        let latest = get_latest_versions(conn, name, &[])?;
        return latest
            .into_iter()
            .max_by_key(|version| version.version)
            .ok_or_else(|| Error::not_found(format!("Latest version not found for model {name}.")));
    }
    let model = find_model(conn, name)?;
    let version: Option<i64> = conn
        .query_row(
            "SELECT version FROM registered_model_aliases WHERE model_pk = ?1 AND alias = ?2",
            params![model.pk, alias],
            |row| row.get(0),
        )
        .optional()
        .map_err(db_error)?;
    match version {
        Some(version) => get_model_version(conn, name, version),
        None => Err(Error::invalid_parameter(format!("Registered model alias {alias} not found."))),
    }
}

// ---------------------------------------------------------------- searches

/// The value of a top-level `<attribute> = '…'` comparison, usable as an SQL prefilter
/// (the evaluator still checks every candidate).
fn equality_on<'f>(filter: Option<&'f Filter>, attribute: &str) -> Option<&'f str> {
    let is_equality = |expr: &'f Expr| match expr {
        Expr::Compare(Comparison { key, op: Op::Eq, value: SearchValue::String(value) })
            if key.kind == KeyKind::Attribute && key.name == attribute =>
        {
            Some(value.as_str())
        }
        _ => None,
    };
    match &filter?.expr {
        Expr::And(items) => items.iter().find_map(is_equality),
        single => is_equality(single),
    }
}

fn search_registered_models(conn: &Connection, request: RegistrySearch) -> Result<Page<RegisteredModel>> {
    let filter = search::parse_registered_model_filter(request.filter.as_deref().unwrap_or(""))?;
    let order = order::parse_registered_model_order_by(&request.order_by)?;
    let offset = decode_offset(request.page_token.as_deref())?;

    let mut sql = format!("SELECT {MODEL_COLUMNS} FROM registered_models");
    let prefilter = equality_on(filter.as_ref(), "name").map(str::to_string);
    if prefilter.is_some() {
        sql.push_str(" WHERE name = ?1");
    }
    let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
    let rows = match &prefilter {
        Some(name) => statement.query_map([name], model_from_row),
        None => statement.query_map([], model_from_row),
    }
    .map_err(db_error)?;
    let models: Vec<ModelRow> = rows.collect::<rusqlite::Result<_>>().map_err(db_error)?;

    let mut tags_by_model: HashMap<i64, Vec<KeyValue>> = HashMap::new();
    if !models.is_empty() {
        let mut statement = conn
            .prepare_cached("SELECT model_pk, key, value FROM registered_model_tags ORDER BY rowid")
            .map_err(db_error)?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, i64>(0)?, KeyValue::new(row.get::<_, String>(1)?, row.get::<_, String>(2)?)))
            })
            .map_err(db_error)?;
        for row in rows {
            let (pk, tag) = row.map_err(db_error)?;
            tags_by_model.entry(pk).or_default().push(tag);
        }
    }

    let empty = Vec::new();
    let mut matching: Vec<&ModelRow> = models
        .iter()
        .filter(|model| {
            let tags = tags_by_model.get(&model.pk).unwrap_or(&empty);
            let mut record = Record::default().with_attr("name", model.name.as_str());
            for tag in tags {
                record = record.with_tag(&tag.key, &tag.value);
            }
            eval::matches(Entity::RegisteredModel, filter.as_ref(), &record)
        })
        .collect();
    matching.sort_by(|a, b| {
        for (key, ascending) in &order {
            let ordering = match key {
                order::ModelOrderKey::Name => a.name.cmp(&b.name),
                order::ModelOrderKey::LastUpdated => a.last_updated_time.cmp(&b.last_updated_time),
            };
            let ordering = if *ascending { ordering } else { ordering.reverse() };
            if ordering.is_ne() {
                return ordering;
            }
        }
        std::cmp::Ordering::Equal
    });
    let window: Vec<&ModelRow> = matching.into_iter().skip(offset as usize).take(request.max_results + 1).collect();
    let page = page_from(window, offset, request.max_results);
    let items = page.items.iter().map(|model| assemble_model(conn, model)).collect::<Result<Vec<_>>>()?;
    Ok(Page { items, next_page_token: page.next_page_token })
}

fn search_model_versions(conn: &Connection, request: RegistrySearch) -> Result<Page<ModelVersion>> {
    let filter = search::parse_model_version_filter(request.filter.as_deref().unwrap_or(""))?;
    let order = order::parse_model_version_order_by(&request.order_by)?;
    let offset = decode_offset(request.page_token.as_deref())?;

    let mut sql = format!(
        "SELECT m.model_pk, m.name, {} FROM model_versions v JOIN registered_models m ON m.model_pk = v.model_pk \
         WHERE v.current_stage != '{DELETED_STAGE}'",
        VERSION_COLUMNS.split(", ").map(|c| format!("v.{c}")).collect::<Vec<_>>().join(", ")
    );
    let mut values: Vec<String> = Vec::new();
    if let Some(name) = equality_on(filter.as_ref(), "name") {
        values.push(name.to_string());
        sql.push_str(&format!(" AND m.name = ?{}", values.len()));
    }
    if let Some(run_id) = equality_on(filter.as_ref(), "run_id") {
        values.push(run_id.to_string());
        sql.push_str(&format!(" AND v.run_id = ?{}", values.len()));
    }
    let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(values.iter()), |row| {
            let pk: i64 = row.get(0)?;
            let name: String = row.get(1)?;
            // The version columns start at index 2.
            let stage: String = row.get(6)?;
            Ok((
                pk,
                ModelVersion {
                    name,
                    version: row.get(2)?,
                    creation_timestamp: row.get(3)?,
                    last_updated_timestamp: row.get(4)?,
                    user_id: row.get(5)?,
                    current_stage: Stage::parse(&stage).unwrap_or(Stage::None),
                    description: row.get(7)?,
                    source: row.get(8)?,
                    run_id: row.get(9)?,
                    status: MODEL_VERSION_STATUS_READY,
                    status_message: row.get(11)?,
                    tags: Vec::new(),
                    run_link: row.get(10)?,
                    aliases: Vec::new(),
                },
            ))
        })
        .map_err(db_error)?;
    let mut versions: Vec<(i64, ModelVersion)> = rows.collect::<rusqlite::Result<_>>().map_err(db_error)?;

    // Tags of the candidates, and the models that are prompts (a version tagged as one).
    let model_pks: HashSet<i64> = versions.iter().map(|(pk, _)| *pk).collect();
    let mut tags: HashMap<(i64, i64), Vec<KeyValue>> = HashMap::new();
    let mut prompts: HashSet<i64> = HashSet::new();
    for pk in &model_pks {
        for (version, version_tags) in all_version_tags(conn, *pk)? {
            if version_tags.iter().any(|t| t.key == PROMPT_TAG_KEY && t.value == "true") {
                prompts.insert(*pk);
            }
            tags.insert((*pk, version), version_tags);
        }
    }
    for (pk, version) in &mut versions {
        version.tags = tags.remove(&(*pk, version.version)).unwrap_or_default();
    }

    let mut matching: Vec<ModelVersion> = versions
        .into_iter()
        .filter(|(pk, version)| {
            let mut record =
                Record::default().with_attr("name", version.name.as_str()).with_attr("version_number", version.version);
            if let Some(run_id) = &version.run_id {
                record = record.with_attr("run_id", run_id.as_str());
            }
            if let Some(source) = &version.source {
                record = record.with_attr("source_path", source.as_str());
            }
            for tag in &version.tags {
                record = record.with_tag(&tag.key, &tag.value);
            }
            // A version of a prompt is hidden like the prompt itself.
            if prompts.contains(pk) && !record.tags.contains_key(PROMPT_TAG_KEY) {
                record = record.with_tag(PROMPT_TAG_KEY, "true");
            }
            eval::matches(Entity::ModelVersion, filter.as_ref(), &record)
        })
        .map(|(_, version)| version)
        .collect();
    matching.sort_by(|a, b| {
        for (key, ascending) in &order {
            let ordering = match key {
                order::VersionOrderKey::Name => a.name.cmp(&b.name),
                order::VersionOrderKey::Version => a.version.cmp(&b.version),
                order::VersionOrderKey::CreationTimestamp => a.creation_timestamp.cmp(&b.creation_timestamp),
                order::VersionOrderKey::LastUpdatedTimestamp => a.last_updated_timestamp.cmp(&b.last_updated_timestamp),
            };
            let ordering = if *ascending { ordering } else { ordering.reverse() };
            if ordering.is_ne() {
                return ordering;
            }
        }
        std::cmp::Ordering::Equal
    });
    let window: Vec<ModelVersion> = matching.into_iter().skip(offset as usize).take(request.max_results + 1).collect();
    Ok(page_from(window, offset, request.max_results))
}

// ---------------------------------------------------------------- webhooks

const WEBHOOK_COLUMNS: &str = "webhook_pk, webhook_id, name, description, url, status, secret, creation_timestamp, \
     last_updated_timestamp";

fn webhook_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Webhook)> {
    let status: String = row.get(5)?;
    Ok((
        row.get(0)?,
        Webhook {
            webhook_id: row.get(1)?,
            name: row.get(2)?,
            description: row.get(3)?,
            url: row.get(4)?,
            events: Vec::new(),
            status: WebhookStatus::parse(&status).unwrap_or(WebhookStatus::Disabled),
            creation_timestamp: row.get(7)?,
            last_updated_timestamp: row.get(8)?,
            secret: row.get(6)?,
        },
    ))
}

fn webhook_events(conn: &Connection, webhook_pk: i64) -> Result<Vec<WebhookEvent>> {
    let mut statement = conn
        .prepare_cached("SELECT entity, action FROM webhook_events WHERE webhook_pk = ?1 ORDER BY entity, action")
        .map_err(db_error)?;
    let rows = statement
        .query_map([webhook_pk], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
        .map_err(db_error)?;
    let mut events = Vec::new();
    for row in rows {
        let (entity, action) = row.map_err(db_error)?;
        events.extend(WebhookEvent::from_stored(&entity, &action));
    }
    Ok(events)
}

fn with_events(conn: &Connection, (pk, mut webhook): (i64, Webhook)) -> Result<Webhook> {
    webhook.events = webhook_events(conn, pk)?;
    Ok(webhook)
}

fn find_webhook(conn: &Connection, webhook_id: &str) -> Result<(i64, Webhook)> {
    let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE webhook_id = ?1 AND deleted_timestamp IS NULL");
    conn.prepare_cached(&sql)
        .map_err(db_error)?
        .query_row([webhook_id], webhook_from_row)
        .optional()
        .map_err(db_error)?
        .ok_or_else(|| Error::not_found(format!("Webhook with ID {webhook_id} not found.")))
}

fn replace_events(conn: &Connection, webhook_pk: i64, events: &[WebhookEvent]) -> Result<()> {
    conn.execute("DELETE FROM webhook_events WHERE webhook_pk = ?1", [webhook_pk]).map_err(db_error)?;
    for event in events {
        conn.execute(
            "INSERT OR IGNORE INTO webhook_events (webhook_pk, entity, action) VALUES (?1, ?2, ?3)",
            params![webhook_pk, event.entity.as_str(), event.action.as_str()],
        )
        .map_err(db_error)?;
    }
    Ok(())
}

fn create_webhook(conn: &Connection, request: CreateWebhook, now: i64) -> Result<Webhook> {
    let webhook_id = uuid::Uuid::new_v4().to_string();
    conn.execute(
        "INSERT INTO webhooks (webhook_id, name, description, url, status, secret, creation_timestamp, \
         last_updated_timestamp) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            webhook_id,
            request.name,
            request.description,
            request.url,
            request.status.proto_name(),
            request.secret,
            now
        ],
    )
    .map_err(db_error)?;
    let pk = conn.last_insert_rowid();
    replace_events(conn, pk, &request.events)?;
    with_events(conn, find_webhook(conn, &webhook_id)?)
}

fn list_webhooks(conn: &Connection, max_results: usize, page_token: Option<&str>) -> Result<Page<Webhook>> {
    let offset = decode_offset(page_token)?;
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE deleted_timestamp IS NULL \
         ORDER BY creation_timestamp DESC, webhook_pk DESC LIMIT ?1 OFFSET ?2"
    );
    let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
    let rows =
        statement.query_map(params![max_results as i64 + 1, offset as i64], webhook_from_row).map_err(db_error)?;
    let rows: Vec<(i64, Webhook)> = rows.collect::<rusqlite::Result<_>>().map_err(db_error)?;
    let webhooks = rows.into_iter().map(|row| with_events(conn, row)).collect::<Result<Vec<_>>>()?;
    Ok(page_from(webhooks, offset, max_results))
}

fn list_webhooks_by_event(conn: &Connection, event: WebhookEvent) -> Result<Vec<Webhook>> {
    let sql = format!(
        "SELECT {} FROM webhooks w JOIN webhook_events e ON e.webhook_pk = w.webhook_pk \
         WHERE w.deleted_timestamp IS NULL AND e.entity = ?1 AND e.action = ?2 \
         ORDER BY w.creation_timestamp DESC, w.webhook_pk DESC",
        WEBHOOK_COLUMNS.split(", ").map(|c| format!("w.{c}")).collect::<Vec<_>>().join(", ")
    );
    let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
    let rows = statement
        .query_map(params![event.entity.as_str(), event.action.as_str()], webhook_from_row)
        .map_err(db_error)?;
    let rows: Vec<(i64, Webhook)> = rows.collect::<rusqlite::Result<_>>().map_err(db_error)?;
    rows.into_iter().map(|row| with_events(conn, row)).collect()
}

fn update_webhook(conn: &Connection, request: UpdateWebhook, now: i64) -> Result<Webhook> {
    let (pk, _) = find_webhook(conn, &request.webhook_id)?;
    if let Some(name) = &request.name {
        conn.execute("UPDATE webhooks SET name = ?1 WHERE webhook_pk = ?2", params![name, pk]).map_err(db_error)?;
    }
    if let Some(url) = &request.url {
        conn.execute("UPDATE webhooks SET url = ?1 WHERE webhook_pk = ?2", params![url, pk]).map_err(db_error)?;
    }
    if let Some(events) = &request.events {
        replace_events(conn, pk, events)?;
    }
    if let Some(description) = &request.description {
        conn.execute("UPDATE webhooks SET description = ?1 WHERE webhook_pk = ?2", params![description, pk])
            .map_err(db_error)?;
    }
    if let Some(secret) = &request.secret {
        conn.execute("UPDATE webhooks SET secret = ?1 WHERE webhook_pk = ?2", params![secret, pk]).map_err(db_error)?;
    }
    if let Some(status) = request.status {
        conn.execute("UPDATE webhooks SET status = ?1 WHERE webhook_pk = ?2", params![status.proto_name(), pk])
            .map_err(db_error)?;
    }
    conn.execute("UPDATE webhooks SET last_updated_timestamp = ?1 WHERE webhook_pk = ?2", params![now, pk])
        .map_err(db_error)?;
    with_events(conn, find_webhook(conn, &request.webhook_id)?)
}

fn delete_webhook(conn: &Connection, webhook_id: &str, now: i64) -> Result<()> {
    let (pk, _) = find_webhook(conn, webhook_id)?;
    conn.execute(
        "UPDATE webhooks SET deleted_timestamp = ?1, last_updated_timestamp = ?1 WHERE webhook_pk = ?2",
        params![now, pk],
    )
    .map_err(db_error)?;
    Ok(())
}

// ---------------------------------------------------------------- the trait

#[async_trait]
impl RegistryStore for SqliteStore {
    async fn create_registered_model(&self, request: CreateRegisteredModel) -> Result<RegisteredModel> {
        self.db.write(move |conn| create_registered_model(conn, request, now_millis())).await
    }

    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let name = name.to_string();
        self.db.read(move |conn| assemble_model(conn, &find_model(conn, &name)?)).await
    }

    async fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        let (name, new_name) = (name.to_string(), new_name.to_string());
        self.db.write(move |conn| rename_registered_model(conn, &name, &new_name, now_millis())).await
    }

    async fn update_registered_model(&self, name: &str, description: Option<String>) -> Result<RegisteredModel> {
        let name = name.to_string();
        self.db.write(move |conn| update_registered_model(conn, &name, description, now_millis())).await
    }

    async fn delete_registered_model(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        self.db.write(move |conn| delete_registered_model(conn, &name)).await
    }

    async fn search_registered_models(&self, request: RegistrySearch) -> Result<Page<RegisteredModel>> {
        self.db.read(move |conn| search_registered_models(conn, request)).await
    }

    async fn get_latest_versions(&self, name: &str, stages: Vec<Stage>) -> Result<Vec<ModelVersion>> {
        let name = name.to_string();
        self.db.read(move |conn| get_latest_versions(conn, &name, &stages)).await
    }

    async fn set_registered_model_tag(&self, name: &str, tag: KeyValue) -> Result<()> {
        let name = name.to_string();
        self.db.write(move |conn| upsert_model_tag(conn, find_model(conn, &name)?.pk, &tag)).await
    }

    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        let (name, key) = (name.to_string(), key.to_string());
        self.db
            .write(move |conn| {
                let model = find_model(conn, &name)?;
                conn.execute(
                    "DELETE FROM registered_model_tags WHERE model_pk = ?1 AND key = ?2",
                    params![model.pk, key],
                )
                .map_err(db_error)?;
                Ok(())
            })
            .await
    }

    async fn create_model_version(&self, request: CreateModelVersion) -> Result<ModelVersion> {
        self.db.write(move |conn| create_model_version(conn, request, now_millis())).await
    }

    async fn get_model_version(&self, name: &str, version: i64) -> Result<ModelVersion> {
        let name = name.to_string();
        self.db.read(move |conn| get_model_version(conn, &name, version)).await
    }

    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: Option<String>,
    ) -> Result<ModelVersion> {
        let name = name.to_string();
        self.db.write(move |conn| update_model_version(conn, &name, version, description, now_millis())).await
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
            .write(move |conn| transition_stage(conn, &name, version, stage, archive_existing_versions, now_millis()))
            .await
    }

    async fn delete_model_version(&self, name: &str, version: i64) -> Result<()> {
        let name = name.to_string();
        self.db.write(move |conn| delete_model_version(conn, &name, version, now_millis())).await
    }

    async fn get_model_version_download_uri(&self, name: &str, version: i64) -> Result<String> {
        let name = name.to_string();
        self.db.read(move |conn| download_uri(conn, &name, version)).await
    }

    async fn search_model_versions(&self, request: RegistrySearch) -> Result<Page<ModelVersion>> {
        self.db.read(move |conn| search_model_versions(conn, request)).await
    }

    async fn set_model_version_tag(&self, name: &str, version: i64, tag: KeyValue) -> Result<()> {
        let name = name.to_string();
        self.db.write(move |conn| set_model_version_tag(conn, &name, version, tag)).await
    }

    async fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()> {
        let (name, key) = (name.to_string(), key.to_string());
        self.db.write(move |conn| delete_model_version_tag(conn, &name, version, &key)).await
    }

    async fn set_registered_model_alias(&self, name: &str, alias: &str, version: i64) -> Result<()> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.db.write(move |conn| set_alias(conn, &name, &alias, version)).await
    }

    async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.db.write(move |conn| delete_alias(conn, &name, &alias)).await
    }

    async fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.db.read(move |conn| version_by_alias(conn, &name, &alias)).await
    }

    async fn create_webhook(&self, request: CreateWebhook) -> Result<Webhook> {
        self.db.write(move |conn| create_webhook(conn, request, now_millis())).await
    }

    async fn get_webhook(&self, webhook_id: &str) -> Result<Webhook> {
        let id = webhook_id.to_string();
        self.db.read(move |conn| with_events(conn, find_webhook(conn, &id)?)).await
    }

    async fn list_webhooks(&self, max_results: usize, page_token: Option<String>) -> Result<Page<Webhook>> {
        self.db.read(move |conn| list_webhooks(conn, max_results, page_token.as_deref())).await
    }

    async fn list_webhooks_by_event(&self, event: WebhookEvent) -> Result<Vec<Webhook>> {
        self.db.read(move |conn| list_webhooks_by_event(conn, event)).await
    }

    async fn update_webhook(&self, request: UpdateWebhook) -> Result<Webhook> {
        self.db.write(move |conn| update_webhook(conn, request, now_millis())).await
    }

    async fn delete_webhook(&self, webhook_id: &str) -> Result<()> {
        let id = webhook_id.to_string();
        self.db.write(move |conn| delete_webhook(conn, &id, now_millis())).await
    }
}

// ---------------------------------------------------------------- search language

/// order_by for registry searches: MLflow's keys, defaults and tie-breakers.
mod order {
    use ferroflow_core::{Error, Result};

    fn invalid(message: impl Into<String>) -> Error {
        Error::invalid_parameter(message)
    }

    fn strip_quotes(text: &str) -> &str {
        for quote in ['\'', '"', '`'] {
            if text.len() >= 2 && text.starts_with(quote) && text.ends_with(quote) {
                return &text[1..text.len() - 1];
            }
        }
        text
    }

    // ------------------------------------------------------------ order_by

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum ModelOrderKey {
        Name,
        LastUpdated,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum VersionOrderKey {
        Name,
        Version,
        CreationTimestamp,
        LastUpdatedTimestamp,
    }

    /// Python's repr of a list of strings.
    fn python_list(items: &[String]) -> String {
        let quoted: Vec<String> = items.iter().map(|item| format!("'{item}'")).collect();
        format!("[{}]", quoted.join(", "))
    }

    /// `_parse_order_by_string`: a key, optionally quoted, and an optional ASC/DESC.
    fn split_order_by(clause: &str) -> Result<(String, bool)> {
        let text = clause.replace('`', "\"");
        let mut tokens: Vec<String> = Vec::new();
        let mut current = String::new();
        let mut in_quotes = false;
        let mut has_token = false;
        for c in text.chars() {
            match c {
                '"' => {
                    in_quotes = !in_quotes;
                    has_token = true;
                }
                c if c.is_whitespace() && !in_quotes => {
                    if has_token {
                        tokens.push(std::mem::take(&mut current));
                        has_token = false;
                    }
                }
                c => {
                    current.push(c);
                    has_token = true;
                }
            }
        }
        if in_quotes {
            return Err(invalid(format!("Invalid order_by clause '{clause}'. Could not be parsed.")));
        }
        if has_token {
            tokens.push(current);
        }
        match tokens.as_slice() {
            [key] => Ok((key.clone(), true)),
            [key, direction] => match direction.to_ascii_lowercase().as_str() {
                "asc" => Ok((key.clone(), true)),
                "desc" => Ok((key.clone(), false)),
                _ => Err(invalid(format!("Invalid ordering key in order_by clause '{clause}'."))),
            },
            _ => Err(invalid(format!("Invalid order_by clause '{clause}'. Could not be parsed."))),
        }
    }

    /// MLflow's SQL store: `name`, or `timestamp` / `last_updated_timestamp` (both the
    /// update time); `name ASC` breaks ties.
    pub(crate) fn parse_registered_model_order_by(order_by: &[String]) -> Result<Vec<(ModelOrderKey, bool)>> {
        let mut clauses: Vec<(ModelOrderKey, bool)> = Vec::new();
        for clause in order_by {
            let (key, ascending) = split_order_by(clause)?;
            let field = match key.trim() {
                "name" => ModelOrderKey::Name,
                "timestamp" | "last_updated_timestamp" => ModelOrderKey::LastUpdated,
                other => {
                    return Err(invalid(format!(
                        "Invalid order by key '{other}' specified. Valid keys are '{{'name', 'timestamp'}}'"
                    )))
                }
            };
            if clauses.iter().any(|(seen, _)| *seen == field) {
                return Err(invalid(format!("`order_by` contains duplicate fields: {}", python_list(order_by))));
            }
            clauses.push((field, ascending));
        }
        if !clauses.iter().any(|(key, _)| *key == ModelOrderKey::Name) {
            clauses.push((ModelOrderKey::Name, true));
        }
        Ok(clauses)
    }

    const VERSION_ORDER_SET: &str = "{'name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'}";

    /// MLflow's SQL store: default `last_updated_timestamp DESC, name ASC, version_number
    /// DESC`; `name ASC` and `version_number DESC` break ties.
    pub(crate) fn parse_model_version_order_by(order_by: &[String]) -> Result<Vec<(VersionOrderKey, bool)>> {
        let default = ["last_updated_timestamp DESC".to_string(), "name ASC".into(), "version_number DESC".into()];
        let order_by = if order_by.is_empty() { &default[..] } else { order_by };
        let mut clauses: Vec<(VersionOrderKey, bool)> = Vec::new();
        for clause in order_by {
            let (identifier, ascending) = split_order_by(clause)?;
            let identifier = identifier.trim();
            let (entity_type, key) = match identifier.split_once('.') {
                Some((entity_type, key)) => (Some(entity_type), key),
                None => (None, identifier),
            };
            let key = strip_quotes(key);
            let is_tag = match entity_type {
                None | Some("attribute" | "attributes") => false,
                Some("tag" | "tags") => true,
                Some(other) => {
                    return Err(invalid(format!(
                    "Invalid entity type '{other}'. Valid entity types are ('attribute', 'attributes', 'tag', 'tags')"
                )))
                }
            };
            let field = match (is_tag, key) {
                (false, "name") => VersionOrderKey::Name,
                (false, "version_number") => VersionOrderKey::Version,
                (false, "creation_timestamp") => VersionOrderKey::CreationTimestamp,
                (false, "last_updated_timestamp") => VersionOrderKey::LastUpdatedTimestamp,
                (false, other) => {
                    return Err(invalid(format!(
                        "Invalid attribute key '{other}' specified. Valid keys are '{VERSION_ORDER_SET}'"
                    )))
                }
                (true, other) => {
                    return Err(invalid(format!(
                        "Invalid order by key '{other}' specified. Valid keys are {VERSION_ORDER_SET}"
                    )))
                }
            };
            if clauses.iter().any(|(seen, _)| *seen == field) {
                return Err(invalid(format!("`order_by` contains duplicate fields: {}", python_list(order_by))));
            }
            clauses.push((field, ascending));
        }
        if !clauses.iter().any(|(key, _)| *key == VersionOrderKey::Name) {
            clauses.push((VersionOrderKey::Name, true));
        }
        if !clauses.iter().any(|(key, _)| *key == VersionOrderKey::Version) {
            clauses.push((VersionOrderKey::Version, false));
        }
        Ok(clauses)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn order_by() {
            assert_eq!(
                parse_registered_model_order_by(&["timestamp DESC".into()]).unwrap(),
                vec![(ModelOrderKey::LastUpdated, false), (ModelOrderKey::Name, true)]
            );
            assert!(parse_registered_model_order_by(&["creation_timestamp".into()]).is_err());
            assert!(parse_registered_model_order_by(&["timestamp".into(), "last_updated_timestamp".into()])
                .unwrap_err()
                .message
                .starts_with("`order_by` contains duplicate fields"));
            assert!(parse_registered_model_order_by(&["name sideways".into()]).is_err());
            assert_eq!(
                parse_model_version_order_by(&[]).unwrap(),
                vec![
                    (VersionOrderKey::LastUpdatedTimestamp, false),
                    (VersionOrderKey::Name, true),
                    (VersionOrderKey::Version, false)
                ]
            );
            assert_eq!(
                parse_model_version_order_by(&["version_number ASC".into()]).unwrap(),
                vec![(VersionOrderKey::Version, true), (VersionOrderKey::Name, true)]
            );
            assert!(parse_model_version_order_by(&["tags.x".into()]).is_err());
        }
    }
}
