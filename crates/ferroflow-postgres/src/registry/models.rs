//! Registered models: create, rename, update, delete, tags and latest versions per stage.

use deadpool_postgres::GenericClient;
use ferroflow_core::registry::{registered_model_not_found, ModelVersion, RegisteredModel, Stage};
use ferroflow_core::types::KeyValue;
use ferroflow_core::Result;
use ferroflow_store::registry::CreateRegisteredModel;
use ferroflow_store::registry_rules::{dedupe_tags, latest_in_stages, model_name_taken, rename_target_taken, Columns};

use super::{
    assemble_model, find_model, find_model_opt, latest_versions, lock_model, model_aliases, model_tags, PgColumns,
};
use crate::db::{execute, execute_unique, query_opt};

pub(super) async fn create(
    client: &impl GenericClient,
    request: CreateRegisteredModel,
    now: i64,
) -> Result<RegisteredModel> {
    // ON CONFLICT instead of a check first: of two replicas creating one name at once,
    // one creates it and the other waits for it, then hears RESOURCE_ALREADY_EXISTS.
    let inserted = query_opt(
        client,
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description) \
         VALUES ($1, $2, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING model_pk",
        &[&request.name, &now, &request.description],
    )
    .await?;
    let Some(row) = inserted else {
        // Whose the name is (a model's or a prompt's) decides the message; the holder may
        // have been deleted since, which reads as a model without tags.
        let existing_tags = match find_model_opt(client, &request.name).await? {
            Some(existing) => model_tags(client, existing.pk).await?,
            None => Vec::new(),
        };
        return Err(model_name_taken(&request.name, &existing_tags, &request.tags));
    };
    let model_pk = PgColumns(&row).int(0)?;
    for tag in dedupe_tags(request.tags) {
        upsert_tag(client, model_pk, &tag).await?;
    }
    assemble_model(client, &find_model(client, &request.name).await?).await
}

/// Sets a tag; a tag set again keeps its place in the insertion order.
pub(crate) async fn upsert_tag(client: &impl GenericClient, model_pk: i64, tag: &KeyValue) -> Result<()> {
    execute(
        client,
        "INSERT INTO registered_model_tags (model_pk, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (model_pk, key) DO UPDATE SET value = excluded.value",
        &[&model_pk, &tag.key, &tag.value],
    )
    .await?;
    Ok(())
}

pub(super) async fn set_tag(client: &impl GenericClient, name: &str, tag: &KeyValue) -> Result<()> {
    let model = lock_model(client, name).await?;
    upsert_tag(client, model.pk, tag).await
}

pub(super) async fn delete_tag(client: &impl GenericClient, name: &str, key: &str) -> Result<()> {
    let model = lock_model(client, name).await?;
    execute(client, "DELETE FROM registered_model_tags WHERE model_pk = $1 AND key = $2", &[&model.pk, &key]).await?;
    Ok(())
}

pub(super) async fn rename(
    client: &impl GenericClient,
    name: &str,
    new_name: &str,
    now: i64,
) -> Result<RegisteredModel> {
    let model = lock_model(client, name).await?;
    // The unique index decides, also against a concurrent create or rename onto the
    // same name; renaming a model to its own name only bumps its update time.
    execute_unique(
        client,
        "UPDATE registered_models SET name = $1, last_updated_time = $2 WHERE model_pk = $3",
        &[&new_name, &now, &model.pk],
        || rename_target_taken(new_name),
    )
    .await?;
    // MLflow renames every version row too, which bumps their update time.
    execute(client, "UPDATE model_versions SET last_updated_time = $1 WHERE model_pk = $2", &[&now, &model.pk]).await?;
    assemble_model(client, &find_model(client, new_name).await?).await
}

pub(super) async fn update(
    client: &impl GenericClient,
    name: &str,
    description: Option<&str>,
    now: i64,
) -> Result<RegisteredModel> {
    let model = lock_model(client, name).await?;
    execute(
        client,
        "UPDATE registered_models SET description = $1, last_updated_time = $2 WHERE model_pk = $3",
        &[&description, &now, &model.pk],
    )
    .await?;
    assemble_model(client, &find_model(client, name).await?).await
}

/// Deletes the model; its versions, tags and aliases go with it (ON DELETE CASCADE),
/// after the model's row is locked, as every other write locks it first.
pub(super) async fn delete(client: &impl GenericClient, name: &str) -> Result<()> {
    let removed = execute(client, "DELETE FROM registered_models WHERE name = $1", &[&name]).await?;
    if removed == 0 {
        return Err(registered_model_not_found(name));
    }
    Ok(())
}

pub(super) async fn get_latest_versions(
    client: &impl GenericClient,
    name: &str,
    stages: &[Stage],
) -> Result<Vec<ModelVersion>> {
    let model = find_model(client, name).await?;
    let latest = latest_versions(client, &model).await?;
    Ok(latest_in_stages(latest, stages, &model_aliases(client, model.pk).await?))
}
