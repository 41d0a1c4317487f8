//! Registered models: create, rename, update, delete, tags and latest versions per stage.

use ferroflow_core::registry::{ModelVersion, RegisteredModel, Stage};
use ferroflow_core::types::KeyValue;
use ferroflow_core::Result;
use ferroflow_store::registry::CreateRegisteredModel;
use ferroflow_store::registry_rules::{dedupe_tags, latest_in_stages, model_name_taken, rename_target_taken};
use rusqlite::{params, Connection};

use super::{assemble_model, find_model, find_model_opt, latest_versions, model_aliases, model_tags};
use crate::db::db_error;

pub(super) fn create_registered_model(
    conn: &Connection,
    request: CreateRegisteredModel,
    now: i64,
) -> Result<RegisteredModel> {
    if let Some(existing) = find_model_opt(conn, &request.name)? {
        return Err(model_name_taken(&request.name, &model_tags(conn, existing.pk)?, &request.tags));
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

pub(super) fn upsert_model_tag(conn: &Connection, model_pk: i64, tag: &KeyValue) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO registered_model_tags (model_pk, key, value) VALUES (?1, ?2, ?3) \
         ON CONFLICT (model_pk, key) DO UPDATE SET value = excluded.value",
    )
    .map_err(db_error)?
    .execute(params![model_pk, tag.key, tag.value])
    .map_err(db_error)?;
    Ok(())
}

pub(super) fn delete_registered_model_tag(conn: &Connection, name: &str, key: &str) -> Result<()> {
    let model = find_model(conn, name)?;
    conn.execute("DELETE FROM registered_model_tags WHERE model_pk = ?1 AND key = ?2", params![model.pk, key])
        .map_err(db_error)?;
    Ok(())
}

pub(super) fn rename_registered_model(
    conn: &Connection,
    name: &str,
    new_name: &str,
    now: i64,
) -> Result<RegisteredModel> {
    let model = find_model(conn, name)?;
    if new_name != name && find_model_opt(conn, new_name)?.is_some() {
        return Err(rename_target_taken(new_name));
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

pub(super) fn update_registered_model(
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

pub(super) fn delete_registered_model(conn: &Connection, name: &str) -> Result<()> {
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

pub(super) fn get_latest_versions(conn: &Connection, name: &str, stages: &[Stage]) -> Result<Vec<ModelVersion>> {
    let model = find_model(conn, name)?;
    Ok(latest_in_stages(latest_versions(conn, &model)?, stages, &model_aliases(conn, model.pk)?))
}
