//! Model versions: create, update, stage transitions, deletion, tags, download URIs and aliases.

use ferroflow_core::registry::{model_version_not_found, ModelVersion, Stage, MODEL_VERSION_STATUS_READY};
use ferroflow_core::types::KeyValue;
use ferroflow_core::Result;
use ferroflow_store::registry::CreateModelVersion;
use ferroflow_store::registry_rules::{
    alias_not_found, aliases_of, check_transition, dedupe_tags, download_uri as preferred_download_uri,
    highest_version, is_latest_alias, StoredModel, DELETED_STAGE, REDACTED_RUN_ID, REDACTED_RUN_LINK, REDACTED_SOURCE,
    VERSION_COLUMNS,
};
use rusqlite::{params, Connection, OptionalExtension};

use super::models::get_latest_versions;
use super::{find_model, find_model_opt, model_aliases, version_from_row, version_tags};
use crate::db::db_error;

/// A live (not deleted) version, with its tags but without aliases.
fn find_version_opt(conn: &Connection, model: &StoredModel, version: i64) -> Result<Option<ModelVersion>> {
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
fn find_version(conn: &Connection, name: &str, version: i64) -> Result<(StoredModel, ModelVersion)> {
    let Some(model) = find_model_opt(conn, name)? else {
        return Err(model_version_not_found(name, version));
    };
    let found = find_version_opt(conn, &model, version)?.ok_or_else(|| model_version_not_found(name, version))?;
    Ok((model, found))
}

fn with_aliases(conn: &Connection, model: &StoredModel, mut version: ModelVersion) -> Result<ModelVersion> {
    version.aliases = aliases_of(&model_aliases(conn, model.pk)?, version.version);
    Ok(version)
}

fn touch_model(conn: &Connection, model_pk: i64, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE registered_models SET last_updated_time = ?1 WHERE model_pk = ?2")
        .map_err(db_error)?
        .execute(params![now, model_pk])
        .map_err(db_error)?;
    Ok(())
}

pub(super) fn create_model_version(conn: &Connection, request: CreateModelVersion, now: i64) -> Result<ModelVersion> {
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

pub(super) fn get_model_version(conn: &Connection, name: &str, version: i64) -> Result<ModelVersion> {
    let (model, found) = find_version(conn, name, version)?;
    with_aliases(conn, &model, found)
}

pub(super) fn update_model_version(
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

pub(super) fn transition_stage(
    conn: &Connection,
    name: &str,
    version: i64,
    stage: Stage,
    archive_existing: bool,
    now: i64,
) -> Result<ModelVersion> {
    check_transition(stage, archive_existing)?;
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

pub(super) fn delete_model_version(conn: &Connection, name: &str, version: i64, now: i64) -> Result<()> {
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
         source = ?3, storage_location = NULL, run_id = ?4, run_link = ?5, status_message = NULL \
         WHERE model_pk = ?6 AND version = ?7",
        params![DELETED_STAGE, now, REDACTED_SOURCE, REDACTED_RUN_ID, REDACTED_RUN_LINK, model.pk, version],
    )
    .map_err(db_error)?;
    Ok(())
}

pub(super) fn download_uri(conn: &Connection, name: &str, version: i64) -> Result<String> {
    let (model, _) = find_version(conn, name, version)?;
    let (storage, source): (Option<String>, Option<String>) = conn
        .query_row(
            "SELECT storage_location, source FROM model_versions WHERE model_pk = ?1 AND version = ?2",
            params![model.pk, version],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(db_error)?;
    Ok(preferred_download_uri(storage, source))
}

pub(super) fn set_model_version_tag(conn: &Connection, name: &str, version: i64, tag: KeyValue) -> Result<()> {
    let (model, _) = find_version(conn, name, version)?;
    upsert_version_tag(conn, model.pk, version, &tag)
}

pub(super) fn delete_model_version_tag(conn: &Connection, name: &str, version: i64, key: &str) -> Result<()> {
    let (model, _) = find_version(conn, name, version)?;
    conn.execute(
        "DELETE FROM model_version_tags WHERE model_pk = ?1 AND version = ?2 AND key = ?3",
        params![model.pk, version, key],
    )
    .map_err(db_error)?;
    Ok(())
}

// ---------------------------------------------------------------- aliases

pub(super) fn set_alias(conn: &Connection, name: &str, alias: &str, version: i64) -> Result<()> {
    let (model, _) = find_version(conn, name, version)?;
    conn.execute(
        "INSERT INTO registered_model_aliases (model_pk, alias, version) VALUES (?1, ?2, ?3) \
         ON CONFLICT (model_pk, alias) DO UPDATE SET version = excluded.version",
        params![model.pk, alias, version],
    )
    .map_err(db_error)?;
    Ok(())
}

pub(super) fn delete_alias(conn: &Connection, name: &str, alias: &str) -> Result<()> {
    let model = find_model(conn, name)?;
    conn.execute("DELETE FROM registered_model_aliases WHERE model_pk = ?1 AND alias = ?2", params![model.pk, alias])
        .map_err(db_error)?;
    Ok(())
}

pub(super) fn version_by_alias(conn: &Connection, name: &str, alias: &str) -> Result<ModelVersion> {
    if is_latest_alias(alias) {
        return highest_version(get_latest_versions(conn, name, &[])?, name);
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
        None => Err(alias_not_found(alias)),
    }
}
