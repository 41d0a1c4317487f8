//! Model versions: create, update, stage transitions, deletion, tags, download URIs and aliases.

use deadpool_postgres::GenericClient;
use ferroflow_core::registry::{
    model_version_not_found, registered_model_not_found, ModelVersion, Stage, MODEL_VERSION_STATUS_READY,
};
use ferroflow_core::types::KeyValue;
use ferroflow_core::Result;
use ferroflow_store::registry::CreateModelVersion;
use ferroflow_store::registry_rules::{
    alias_not_found, aliases_of, check_transition, dedupe_tags, download_uri as preferred_download_uri,
    highest_version, is_latest_alias, version_from_columns, Columns, StoredModel, DELETED_STAGE, MODEL_COLUMNS,
    REDACTED_RUN_ID, REDACTED_RUN_LINK, REDACTED_SOURCE, VERSION_COLUMNS,
};

use super::models::get_latest_versions;
use super::{find_model, find_model_opt, key_value, lock_model, lock_model_opt, model_aliases, PgColumns};
use crate::db::{execute, query, query_opt};

/// A live (not deleted) version, with its tags but without aliases.
async fn find_version_opt(
    client: &impl GenericClient,
    model: &StoredModel,
    version: i64,
) -> Result<Option<ModelVersion>> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions WHERE model_pk = $1 AND version = $2 \
         AND current_stage != '{DELETED_STAGE}'"
    );
    let Some(row) = query_opt(client, &sql, &[&model.pk, &version]).await? else { return Ok(None) };
    let mut found = version_from_columns(&model.name, &PgColumns(&row), 0)?;
    let rows = query(
        client,
        "SELECT key, value FROM model_version_tags WHERE model_pk = $1 AND version = $2 ORDER BY position",
        &[&model.pk, &version],
    )
    .await?;
    found.tags = rows.iter().map(|row| key_value(row, 0)).collect::<Result<_>>()?;
    Ok(Some(found))
}

/// One of `model`'s live versions; a missing model reads as a missing version, as in MLflow.
async fn version_of(
    client: &impl GenericClient,
    model: Option<StoredModel>,
    name: &str,
    version: i64,
) -> Result<(StoredModel, ModelVersion)> {
    let Some(model) = model else { return Err(model_version_not_found(name, version)) };
    let found =
        find_version_opt(client, &model, version).await?.ok_or_else(|| model_version_not_found(name, version))?;
    Ok((model, found))
}

/// The model and one of its live versions.
async fn find_version(client: &impl GenericClient, name: &str, version: i64) -> Result<(StoredModel, ModelVersion)> {
    version_of(client, find_model_opt(client, name).await?, name, version).await
}

/// Like [`find_version`], for a write: the model's row stays locked until the
/// transaction ends.
async fn lock_version(client: &impl GenericClient, name: &str, version: i64) -> Result<(StoredModel, ModelVersion)> {
    version_of(client, lock_model_opt(client, name).await?, name, version).await
}

async fn with_aliases(
    client: &impl GenericClient,
    model: &StoredModel,
    mut version: ModelVersion,
) -> Result<ModelVersion> {
    version.aliases = aliases_of(&model_aliases(client, model.pk).await?, version.version);
    Ok(version)
}

async fn touch_model(client: &impl GenericClient, model_pk: i64, now: i64) -> Result<()> {
    execute(client, "UPDATE registered_models SET last_updated_time = $1 WHERE model_pk = $2", &[&now, &model_pk])
        .await?;
    Ok(())
}

pub(super) async fn create(client: &impl GenericClient, request: CreateModelVersion, now: i64) -> Result<ModelVersion> {
    // Takes the model's next number under its row lock, which concurrent creates wait
    // for: numbers are gap-free across replicas, and a rolled-back create returns its own.
    let sql = format!(
        "UPDATE registered_models SET next_version = next_version + 1, last_updated_time = $2 WHERE name = $1 \
         RETURNING {MODEL_COLUMNS}, next_version - 1"
    );
    let Some(row) = query_opt(client, &sql, &[&request.name, &now]).await? else {
        return Err(registered_model_not_found(&request.name));
    };
    let model = StoredModel::from_columns(&PgColumns(&row))?;
    let version = PgColumns(&row).int(5)?;
    execute(
        client,
        "INSERT INTO model_versions (model_pk, version, creation_time, last_updated_time, description, user_id, \
         current_stage, source, storage_location, run_id, run_link, status, status_message) \
         VALUES ($1, $2, $3, $3, $4, NULL, $5, $6, $7, $8, $9, $10, NULL)",
        &[
            &model.pk,
            &version,
            &now,
            &request.description,
            &Stage::None.as_str(),
            &request.source,
            &request.storage_location,
            &request.run_id,
            &request.run_link,
            &MODEL_VERSION_STATUS_READY,
        ],
    )
    .await?;
    for tag in dedupe_tags(request.tags) {
        upsert_tag(client, model.pk, version, &tag).await?;
    }
    let created = find_version_opt(client, &model, version)
        .await?
        .ok_or_else(|| model_version_not_found(&model.name, version))?;
    with_aliases(client, &model, created).await
}

/// Sets a tag; a tag set again keeps its place in the insertion order.
pub(crate) async fn upsert_tag(client: &impl GenericClient, model_pk: i64, version: i64, tag: &KeyValue) -> Result<()> {
    execute(
        client,
        "INSERT INTO model_version_tags (model_pk, version, key, value) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (model_pk, version, key) DO UPDATE SET value = excluded.value",
        &[&model_pk, &version, &tag.key, &tag.value],
    )
    .await?;
    Ok(())
}

pub(super) async fn get(client: &impl GenericClient, name: &str, version: i64) -> Result<ModelVersion> {
    let (model, found) = find_version(client, name, version).await?;
    with_aliases(client, &model, found).await
}

pub(super) async fn update(
    client: &impl GenericClient,
    name: &str,
    version: i64,
    description: Option<&str>,
    now: i64,
) -> Result<ModelVersion> {
    let (model, _) = lock_version(client, name, version).await?;
    execute(
        client,
        "UPDATE model_versions SET description = $1, last_updated_time = $2 WHERE model_pk = $3 AND version = $4",
        &[&description, &now, &model.pk, &version],
    )
    .await?;
    get(client, name, version).await
}

pub(super) async fn transition_stage(
    client: &impl GenericClient,
    name: &str,
    version: i64,
    stage: Stage,
    archive_existing: bool,
    now: i64,
) -> Result<ModelVersion> {
    check_transition(stage, archive_existing)?;
    let (model, _) = lock_version(client, name, version).await?;
    if archive_existing {
        execute(
            client,
            "UPDATE model_versions SET current_stage = $1, last_updated_time = $2 \
             WHERE model_pk = $3 AND version != $4 AND current_stage = $5",
            &[&Stage::Archived.as_str(), &now, &model.pk, &version, &stage.as_str()],
        )
        .await?;
    }
    execute(
        client,
        "UPDATE model_versions SET current_stage = $1, last_updated_time = $2 WHERE model_pk = $3 AND version = $4",
        &[&stage.as_str(), &now, &model.pk, &version],
    )
    .await?;
    touch_model(client, model.pk, now).await?;
    get(client, name, version).await
}

pub(super) async fn delete(client: &impl GenericClient, name: &str, version: i64, now: i64) -> Result<()> {
    let (model, _) = lock_version(client, name, version).await?;
    touch_model(client, model.pk, now).await?;
    execute(
        client,
        "DELETE FROM registered_model_aliases WHERE model_pk = $1 AND version = $2",
        &[&model.pk, &version],
    )
    .await?;
    // Redacted like MLflow's SQL store; tags stay with the hidden row.
    execute(
        client,
        "UPDATE model_versions SET current_stage = $1, last_updated_time = $2, description = NULL, user_id = NULL, \
         source = $3, storage_location = NULL, run_id = $4, run_link = $5, status_message = NULL \
         WHERE model_pk = $6 AND version = $7",
        &[&DELETED_STAGE, &now, &REDACTED_SOURCE, &REDACTED_RUN_ID, &REDACTED_RUN_LINK, &model.pk, &version],
    )
    .await?;
    Ok(())
}

pub(super) async fn download_uri(client: &impl GenericClient, name: &str, version: i64) -> Result<String> {
    let (model, _) = find_version(client, name, version).await?;
    let row = query_opt(
        client,
        "SELECT storage_location, source FROM model_versions WHERE model_pk = $1 AND version = $2",
        &[&model.pk, &version],
    )
    .await?
    .ok_or_else(|| model_version_not_found(name, version))?;
    let columns = PgColumns(&row);
    Ok(preferred_download_uri(columns.optional_text(0)?, columns.optional_text(1)?))
}

pub(super) async fn set_tag(client: &impl GenericClient, name: &str, version: i64, tag: &KeyValue) -> Result<()> {
    let (model, _) = lock_version(client, name, version).await?;
    upsert_tag(client, model.pk, version, tag).await
}

pub(super) async fn delete_tag(client: &impl GenericClient, name: &str, version: i64, key: &str) -> Result<()> {
    let (model, _) = lock_version(client, name, version).await?;
    execute(
        client,
        "DELETE FROM model_version_tags WHERE model_pk = $1 AND version = $2 AND key = $3",
        &[&model.pk, &version, &key],
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- aliases

pub(super) async fn set_alias(client: &impl GenericClient, name: &str, alias: &str, version: i64) -> Result<()> {
    let (model, _) = lock_version(client, name, version).await?;
    execute(
        client,
        "INSERT INTO registered_model_aliases (model_pk, alias, version) VALUES ($1, $2, $3) \
         ON CONFLICT (model_pk, alias) DO UPDATE SET version = excluded.version",
        &[&model.pk, &alias, &version],
    )
    .await?;
    Ok(())
}

pub(super) async fn delete_alias(client: &impl GenericClient, name: &str, alias: &str) -> Result<()> {
    let model = lock_model(client, name).await?;
    execute(client, "DELETE FROM registered_model_aliases WHERE model_pk = $1 AND alias = $2", &[&model.pk, &alias])
        .await?;
    Ok(())
}

pub(super) async fn by_alias(client: &impl GenericClient, name: &str, alias: &str) -> Result<ModelVersion> {
    if is_latest_alias(alias) {
        return highest_version(get_latest_versions(client, name, &[]).await?, name);
    }
    let model = find_model(client, name).await?;
    let row = query_opt(
        client,
        "SELECT version FROM registered_model_aliases WHERE model_pk = $1 AND alias = $2",
        &[&model.pk, &alias],
    )
    .await?;
    match row {
        Some(row) => get(client, name, PgColumns(&row).int(0)?).await,
        None => Err(alias_not_found(alias)),
    }
}
