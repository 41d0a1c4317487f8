//! Experiment operations on one connection; each runs inside the caller's transaction.

use ferroflow_core::types::{Experiment, ExperimentTag, LifecycleStage};
use ferroflow_core::validation::parse_experiment_id;
use ferroflow_core::Result;
use ferroflow_store::CreateExperiment;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::db::db_error;

use ferroflow_store::common::{
    experiment_name_not_found, experiment_name_taken, experiment_not_active, experiment_tag_not_found,
};
pub(crate) use ferroflow_store::common::{experiment_not_found, join_uri};

/// Parses an experiment id; a non-integer id is a 400, as in MLflow's SQL store.
pub(crate) fn experiment_pk(experiment_id: &str) -> Result<i64> {
    parse_experiment_id(experiment_id)
}

const EXPERIMENT_COLUMNS: &str =
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time";

fn experiment_from_row(row: &Row<'_>) -> rusqlite::Result<Experiment> {
    let stage: String = row.get(3)?;
    Ok(Experiment {
        experiment_id: row.get::<_, i64>(0)?.to_string(),
        name: row.get(1)?,
        artifact_location: row.get(2)?,
        lifecycle_stage: LifecycleStage::parse(&stage).unwrap_or(LifecycleStage::Active),
        creation_time: row.get(4)?,
        last_update_time: row.get(5)?,
        tags: Vec::new(),
    })
}

fn load_tags(conn: &Connection, experiment: &mut Experiment) -> Result<()> {
    let mut statement = conn
        .prepare_cached("SELECT key, value FROM experiment_tags WHERE experiment_id = ?1 ORDER BY key")
        .map_err(db_error)?;
    let pk: i64 = experiment.experiment_id.parse().unwrap_or(-1);
    experiment.tags = statement
        .query_map([pk], |row| Ok(ExperimentTag::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
        .map_err(db_error)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_error)?;
    Ok(())
}

/// Makes sure the default experiment "0" exists, as MLflow does at start.
pub(crate) fn ensure_default_experiment(conn: &Connection, default_root: &str, now: i64) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, \
         creation_time, last_update_time) VALUES (0, 'Default', ?1, 'active', ?2, ?2)",
        params![join_uri(default_root, "0"), now],
    )
    .map_err(db_error)?;
    Ok(())
}

pub(crate) fn create(conn: &Connection, request: CreateExperiment, default_root: &str, now: i64) -> Result<String> {
    let taken: Option<i64> = conn
        .query_row("SELECT experiment_id FROM experiments WHERE name = ?1", [&request.name], |row| row.get(0))
        .optional()
        .map_err(db_error)?;
    if taken.is_some() {
        return Err(experiment_name_taken(&request.name));
    }
    conn.execute(
        "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
         VALUES (?1, '', 'active', ?2, ?2)",
        params![request.name, now],
    )
    .map_err(db_error)?;
    let pk = conn.last_insert_rowid();
    let location = match request.artifact_location.filter(|l| !l.is_empty()) {
        Some(location) => location,
        None => join_uri(default_root, &pk.to_string()),
    };
    conn.execute("UPDATE experiments SET artifact_location = ?1 WHERE experiment_id = ?2", params![location, pk])
        .map_err(db_error)?;
    for tag in request.tags {
        upsert_tag(conn, pk, &tag)?;
    }
    Ok(pk.to_string())
}

pub(crate) fn get(conn: &Connection, experiment_id: &str) -> Result<Experiment> {
    let pk = experiment_pk(experiment_id)?;
    let sql = format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = ?1");
    let mut experiment = conn
        .query_row(&sql, [pk], experiment_from_row)
        .optional()
        .map_err(db_error)?
        .ok_or_else(|| experiment_not_found(&pk.to_string()))?;
    load_tags(conn, &mut experiment)?;
    Ok(experiment)
}

pub(crate) fn get_by_name(conn: &Connection, name: &str) -> Result<Experiment> {
    let sql = format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE name = ?1");
    let mut experiment = conn
        .query_row(&sql, [name], experiment_from_row)
        .optional()
        .map_err(db_error)?
        .ok_or_else(|| experiment_name_not_found(name))?;
    load_tags(conn, &mut experiment)?;
    Ok(experiment)
}

/// Every experiment with its tags; searches filter and order them in memory.
pub(crate) fn all(conn: &Connection) -> Result<Vec<Experiment>> {
    let sql = format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments");
    let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
    let mut experiments: Vec<Experiment> = statement
        .query_map([], experiment_from_row)
        .map_err(db_error)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_error)?;
    let mut tags = conn.prepare_cached("SELECT experiment_id, key, value FROM experiment_tags").map_err(db_error)?;
    let mut by_id: std::collections::HashMap<i64, Vec<ExperimentTag>> = Default::default();
    let rows = tags
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, ExperimentTag::new(row.get::<_, String>(1)?, row.get::<_, String>(2)?)))
        })
        .map_err(db_error)?;
    for row in rows {
        let (id, tag) = row.map_err(db_error)?;
        by_id.entry(id).or_default().push(tag);
    }
    for experiment in &mut experiments {
        if let Some(mut tags) = by_id.remove(&experiment.experiment_id.parse().unwrap_or(-1)) {
            tags.sort_by(|a, b| a.key.cmp(&b.key));
            experiment.tags = tags;
        }
    }
    Ok(experiments)
}

pub(crate) fn rename(conn: &Connection, experiment_id: &str, new_name: &str, now: i64) -> Result<()> {
    let experiment = get(conn, experiment_id)?;
    if experiment.lifecycle_stage != LifecycleStage::Active {
        return Err(ferroflow_store::common::experiment_rename_not_active());
    }
    if experiment.name == new_name {
        return Ok(());
    }
    let taken: Option<i64> = conn
        .query_row("SELECT experiment_id FROM experiments WHERE name = ?1", [new_name], |row| row.get(0))
        .optional()
        .map_err(db_error)?;
    if taken.is_some() {
        return Err(ferroflow_store::common::experiment_rename_taken(new_name));
    }
    conn.execute(
        "UPDATE experiments SET name = ?1, last_update_time = ?2 WHERE experiment_id = ?3",
        params![new_name, now, experiment_pk(experiment_id)?],
    )
    .map_err(db_error)?;
    Ok(())
}

/// Sets the lifecycle stage of an experiment and all of its runs.
pub(crate) fn set_lifecycle(conn: &Connection, experiment_id: &str, stage: LifecycleStage, now: i64) -> Result<()> {
    let experiment = get(conn, experiment_id)?;
    let pk = experiment_pk(experiment_id)?;
    // Deleting needs an active experiment and restoring a deleted one; MLflow looks the
    // experiment up in the other stage only, so the wrong one is "not found".
    if experiment.lifecycle_stage == stage {
        return Err(experiment_not_found(&pk.to_string()));
    }
    conn.execute(
        "UPDATE experiments SET lifecycle_stage = ?1, last_update_time = ?2 WHERE experiment_id = ?3",
        params![stage.as_str(), now, pk],
    )
    .map_err(db_error)?;
    let deleted_time = (stage == LifecycleStage::Deleted).then_some(now);
    conn.execute(
        "UPDATE runs SET lifecycle_stage = ?1, deleted_time = ?2 WHERE experiment_id = ?3",
        params![stage.as_str(), deleted_time, pk],
    )
    .map_err(db_error)?;
    Ok(())
}

fn upsert_tag(conn: &Connection, pk: i64, tag: &ExperimentTag) -> Result<()> {
    conn.execute(
        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?1, ?2, ?3) \
         ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
        params![pk, tag.key, tag.value],
    )
    .map_err(db_error)?;
    Ok(())
}

pub(crate) fn require_active(experiment: &Experiment) -> Result<()> {
    if experiment.lifecycle_stage != LifecycleStage::Active {
        return Err(experiment_not_active(&experiment.experiment_id, experiment.lifecycle_stage));
    }
    Ok(())
}

pub(crate) fn set_tag(conn: &Connection, experiment_id: &str, tag: ExperimentTag) -> Result<()> {
    let experiment = get(conn, experiment_id)?;
    require_active(&experiment)?;
    upsert_tag(conn, experiment_pk(experiment_id)?, &tag)
}

pub(crate) fn delete_tag(conn: &Connection, experiment_id: &str, key: &str) -> Result<()> {
    let experiment = get(conn, experiment_id)?;
    require_active(&experiment)?;
    let removed = conn
        .execute(
            "DELETE FROM experiment_tags WHERE experiment_id = ?1 AND key = ?2",
            params![experiment_pk(experiment_id)?, key],
        )
        .map_err(db_error)?;
    if removed == 0 {
        return Err(experiment_tag_not_found(experiment_id, key));
    }
    Ok(())
}
