//! Experiment operations; writes run inside the caller's transaction.

use deadpool_postgres::GenericClient;
use ferroflow_core::types::{Experiment, ExperimentTag, LifecycleStage};
use ferroflow_core::validation::parse_experiment_id;
use ferroflow_core::Result;
use ferroflow_store::common::{
    experiment_name_not_found, experiment_name_taken, experiment_not_active, experiment_not_found,
    experiment_rename_not_active, experiment_rename_taken, experiment_tag_not_found, join_uri,
};
use ferroflow_store::CreateExperiment;
use tokio_postgres::Row;

use crate::db::{execute, execute_unique, query, query_opt};

const EXPERIMENT_COLUMNS: &str =
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time";

fn experiment_from_row(row: &Row) -> Experiment {
    Experiment {
        experiment_id: row.get::<_, i64>(0).to_string(),
        name: row.get(1),
        artifact_location: row.get(2),
        lifecycle_stage: LifecycleStage::parse(row.get(3)).unwrap_or(LifecycleStage::Active),
        creation_time: row.get(4),
        last_update_time: row.get(5),
        tags: Vec::new(),
    }
}

async fn load_tags(client: &impl GenericClient, pk: i64, experiment: &mut Experiment) -> Result<()> {
    let rows =
        query(client, "SELECT key, value FROM experiment_tags WHERE experiment_id = $1 ORDER BY key", &[&pk]).await?;
    experiment.tags =
        rows.iter().map(|row| ExperimentTag::new(row.get::<_, String>(0), row.get::<_, String>(1))).collect();
    Ok(())
}

/// Makes sure the default experiment "0" exists, as MLflow does at start.
pub(crate) async fn ensure_default_experiment(client: &impl GenericClient, default_root: &str, now: i64) -> Result<()> {
    execute(
        client,
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, \
         last_update_time) VALUES (0, 'Default', $1, 'active', $2, $2) ON CONFLICT DO NOTHING",
        &[&join_uri(default_root, "0"), &now],
    )
    .await?;
    Ok(())
}

pub(crate) async fn create(
    client: &impl GenericClient,
    request: CreateExperiment,
    default_root: &str,
    now: i64,
) -> Result<String> {
    // ON CONFLICT instead of a check first: two replicas creating one name at once get
    // one experiment and one RESOURCE_ALREADY_EXISTS, never a duplicate (mlflow#1811).
    let inserted = query_opt(
        client,
        "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
         VALUES ($1, '', 'active', $2, $2) ON CONFLICT (name) DO NOTHING RETURNING experiment_id",
        &[&request.name, &now],
    )
    .await?;
    let Some(row) = inserted else { return Err(experiment_name_taken(&request.name)) };
    let pk: i64 = row.get(0);
    let location = match request.artifact_location.filter(|l| !l.is_empty()) {
        Some(location) => location,
        None => join_uri(default_root, &pk.to_string()),
    };
    execute(client, "UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2", &[&location, &pk])
        .await?;
    for tag in &request.tags {
        upsert_tag(client, pk, tag).await?;
    }
    Ok(pk.to_string())
}

pub(crate) async fn get(client: &impl GenericClient, experiment_id: &str) -> Result<Experiment> {
    let pk = parse_experiment_id(experiment_id)?;
    let sql = format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = $1");
    let row = query_opt(client, &sql, &[&pk]).await?.ok_or_else(|| experiment_not_found(&pk.to_string()))?;
    let mut experiment = experiment_from_row(&row);
    load_tags(client, pk, &mut experiment).await?;
    Ok(experiment)
}

/// Like [`get`], with the experiment's row locked until the transaction ends.
pub(crate) async fn get_for_update(client: &impl GenericClient, experiment_id: &str) -> Result<Experiment> {
    let pk = parse_experiment_id(experiment_id)?;
    let sql = format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = $1 FOR UPDATE");
    let row = query_opt(client, &sql, &[&pk]).await?.ok_or_else(|| experiment_not_found(&pk.to_string()))?;
    Ok(experiment_from_row(&row))
}

/// Like [`get`] (with its tags), with the experiment's row share-locked until the
/// transaction ends: writers that lock it for update wait.
pub(crate) async fn get_for_share(client: &impl GenericClient, experiment_id: &str) -> Result<Experiment> {
    let pk = parse_experiment_id(experiment_id)?;
    let sql = format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = $1 FOR SHARE");
    let row = query_opt(client, &sql, &[&pk]).await?.ok_or_else(|| experiment_not_found(&pk.to_string()))?;
    Ok(experiment_from_row(&row))
}

pub(crate) async fn get_by_name(client: &impl GenericClient, name: &str) -> Result<Experiment> {
    let sql = format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE name = $1");
    let row = query_opt(client, &sql, &[&name]).await?.ok_or_else(|| experiment_name_not_found(name))?;
    let mut experiment = experiment_from_row(&row);
    let pk: i64 = row.get(0);
    load_tags(client, pk, &mut experiment).await?;
    Ok(experiment)
}

/// Every experiment with its tags; searches filter and order them in memory.
pub(crate) async fn all(client: &impl GenericClient) -> Result<Vec<Experiment>> {
    let sql = format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments");
    let mut experiments: Vec<Experiment> = query(client, &sql, &[]).await?.iter().map(experiment_from_row).collect();
    let mut by_id: std::collections::HashMap<i64, Vec<ExperimentTag>> = Default::default();
    for row in query(client, "SELECT experiment_id, key, value FROM experiment_tags ORDER BY key", &[]).await? {
        by_id.entry(row.get(0)).or_default().push(ExperimentTag::new(row.get::<_, String>(1), row.get::<_, String>(2)));
    }
    for experiment in &mut experiments {
        if let Some(tags) = by_id.remove(&experiment.experiment_id.parse().unwrap_or(-1)) {
            experiment.tags = tags;
        }
    }
    Ok(experiments)
}

pub(crate) async fn rename(client: &impl GenericClient, experiment_id: &str, new_name: &str, now: i64) -> Result<()> {
    let experiment = get_for_update(client, experiment_id).await?;
    if experiment.lifecycle_stage != LifecycleStage::Active {
        return Err(experiment_rename_not_active());
    }
    if experiment.name == new_name {
        return Ok(());
    }
    let pk = parse_experiment_id(experiment_id)?;
    // A name already taken leaves the row as it was; a concurrent rename (or create) onto
    // the same name, not yet committed, is invisible to NOT EXISTS: this one then waits on
    // the unique index and fails with a unique violation, which is the same answer.
    let renamed = execute_unique(
        client,
        "UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3 \
         AND NOT EXISTS (SELECT 1 FROM experiments WHERE name = $1)",
        &[&new_name, &now, &pk],
        || experiment_rename_taken(new_name),
    )
    .await?;
    if renamed == 0 {
        return Err(experiment_rename_taken(new_name));
    }
    Ok(())
}

/// Sets the lifecycle stage of an experiment and all of its runs.
pub(crate) async fn set_lifecycle(
    client: &impl GenericClient,
    experiment_id: &str,
    stage: LifecycleStage,
    now: i64,
) -> Result<()> {
    let experiment = get_for_update(client, experiment_id).await?;
    let pk = parse_experiment_id(experiment_id)?;
    // Deleting needs an active experiment and restoring a deleted one; MLflow looks the
    // experiment up in the other stage only, so the wrong one is "not found".
    if experiment.lifecycle_stage == stage {
        return Err(experiment_not_found(&pk.to_string()));
    }
    execute(
        client,
        "UPDATE experiments SET lifecycle_stage = $1, last_update_time = $2 WHERE experiment_id = $3",
        &[&stage.as_str(), &now, &pk],
    )
    .await?;
    let deleted_time = (stage == LifecycleStage::Deleted).then_some(now);
    execute(
        client,
        "UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE experiment_id = $3",
        &[&stage.as_str(), &deleted_time, &pk],
    )
    .await?;
    Ok(())
}

async fn upsert_tag(client: &impl GenericClient, pk: i64, tag: &ExperimentTag) -> Result<()> {
    execute(
        client,
        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
        &[&pk, &tag.key, &tag.value],
    )
    .await?;
    Ok(())
}

pub(crate) fn require_active(experiment: &Experiment) -> Result<()> {
    if experiment.lifecycle_stage != LifecycleStage::Active {
        return Err(experiment_not_active(&experiment.experiment_id, experiment.lifecycle_stage));
    }
    Ok(())
}

pub(crate) async fn set_tag(client: &impl GenericClient, experiment_id: &str, tag: &ExperimentTag) -> Result<()> {
    let experiment = get_for_update(client, experiment_id).await?;
    require_active(&experiment)?;
    upsert_tag(client, parse_experiment_id(experiment_id)?, tag).await
}

pub(crate) async fn delete_tag(client: &impl GenericClient, experiment_id: &str, key: &str) -> Result<()> {
    let experiment = get_for_update(client, experiment_id).await?;
    require_active(&experiment)?;
    let pk = parse_experiment_id(experiment_id)?;
    let removed =
        execute(client, "DELETE FROM experiment_tags WHERE experiment_id = $1 AND key = $2", &[&pk, &key]).await?;
    if removed == 0 {
        return Err(experiment_tag_not_found(experiment_id, key));
    }
    Ok(())
}
