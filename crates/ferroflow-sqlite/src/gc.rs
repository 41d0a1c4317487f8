//! Permanent deletion for `ferroflow gc`.

use async_trait::async_trait;
use ferroflow_core::Result;
use ferroflow_store::gc::{self, GcCandidate, GcKind, GcRequest, GcTarget};
use ferroflow_store::GcStore;
use rusqlite::{params, Connection, OptionalExtension};

use crate::db::db_error;
use crate::{experiments, now_millis, SqliteStore};

/// One named entity, judged by the shared rule.
fn named_target(conn: &Connection, kind: GcKind, id: &str, cutoff: i64) -> Result<Option<GcTarget>> {
    let sql = match kind {
        GcKind::Run => "SELECT artifact_uri, lifecycle_stage, COALESCE(deleted_time, 0) FROM runs WHERE run_uuid = ?1",
        GcKind::LoggedModel => {
            "SELECT artifact_uri, lifecycle_stage, last_updated_time FROM logged_models WHERE model_id = ?1"
        }
        GcKind::Experiment => {
            "SELECT artifact_location, lifecycle_stage, last_update_time FROM experiments WHERE experiment_id = ?1"
        }
    };
    let key: rusqlite::types::Value = match kind {
        GcKind::Experiment => experiments::experiment_pk(id)?.into(),
        _ => id.to_string().into(),
    };
    let found = conn
        .query_row(sql, [key], |row| {
            Ok(GcCandidate { artifact_uri: row.get(0)?, lifecycle_stage: row.get(1)?, deleted_at: row.get(2)? })
        })
        .optional()
        .map_err(db_error)?;
    gc::named_target(kind, id, found, cutoff)
}

fn all_deleted(conn: &Connection, sql: &str, kind: GcKind, cutoff: i64) -> Result<Vec<GcTarget>> {
    let mut statement = conn.prepare(sql).map_err(db_error)?;
    let rows = statement
        .query_map([cutoff], |row| {
            Ok(GcTarget {
                kind,
                id: row.get::<_, rusqlite::types::Value>(0).map(|v| match v {
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    _ => String::new(),
                })?,
                artifact_uri: row.get(1)?,
            })
        })
        .map_err(db_error)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_error)
}

fn targets(conn: &Connection, request: &GcRequest, now: i64) -> Result<Vec<GcTarget>> {
    let cutoff = request.cutoff(now);
    let named = request.named();
    let mut found = Vec::new();
    if !named.is_empty() {
        for (kind, id) in named {
            found.extend(named_target(conn, kind, id, cutoff)?);
        }
    } else {
        // Runs of deleted experiments are marked deleted too, so they are listed here.
        found.extend(all_deleted(
            conn,
            "SELECT run_uuid, artifact_uri FROM runs WHERE lifecycle_stage = 'deleted' \
             AND COALESCE(deleted_time, 0) <= ?1 ORDER BY run_pk",
            GcKind::Run,
            cutoff,
        )?);
        found.extend(all_deleted(
            conn,
            "SELECT model_id, artifact_uri FROM logged_models WHERE lifecycle_stage = 'deleted' \
             AND last_updated_time <= ?1 ORDER BY model_pk",
            GcKind::LoggedModel,
            cutoff,
        )?);
        found.extend(all_deleted(
            conn,
            "SELECT experiment_id, artifact_location FROM experiments WHERE lifecycle_stage = 'deleted' \
             AND last_update_time <= ?1 ORDER BY experiment_id",
            GcKind::Experiment,
            cutoff,
        )?);
    }
    Ok(found)
}

fn purge_run_rows(conn: &Connection, run_pk: i64) -> Result<()> {
    for table in [
        "metrics",
        "latest_metrics",
        "params",
        "tags",
        "run_dataset_inputs",
        "run_dataset_input_tags",
        "run_model_inputs",
        "run_model_outputs",
        "runs",
    ] {
        // Table names are fixed literals.
        conn.execute(&format!("DELETE FROM {table} WHERE run_pk = ?1"), [run_pk]).map_err(db_error)?;
    }
    Ok(())
}

fn purge_model_rows(conn: &Connection, model_pk: i64) -> Result<()> {
    for table in ["logged_model_tags", "logged_model_params", "logged_model_metrics", "logged_models"] {
        conn.execute(&format!("DELETE FROM {table} WHERE model_pk = ?1"), [model_pk]).map_err(db_error)?;
    }
    Ok(())
}

fn pks(conn: &Connection, sql: &str, key: impl rusqlite::ToSql) -> Result<Vec<i64>> {
    let mut statement = conn.prepare(sql).map_err(db_error)?;
    let rows = statement.query_map([key], |row| row.get(0)).map_err(db_error)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_error)
}

fn purge(conn: &Connection, target: &GcTarget) -> Result<()> {
    match target.kind {
        GcKind::Run => {
            for pk in pks(conn, "SELECT run_pk FROM runs WHERE run_uuid = ?1", &target.id)? {
                purge_run_rows(conn, pk)?;
            }
        }
        GcKind::LoggedModel => {
            for pk in pks(conn, "SELECT model_pk FROM logged_models WHERE model_id = ?1", &target.id)? {
                purge_model_rows(conn, pk)?;
            }
        }
        GcKind::Experiment => {
            let experiment_pk = experiments::experiment_pk(&target.id)?;
            for pk in pks(conn, "SELECT run_pk FROM runs WHERE experiment_id = ?1", experiment_pk)? {
                purge_run_rows(conn, pk)?;
            }
            for pk in pks(conn, "SELECT model_pk FROM logged_models WHERE experiment_id = ?1", experiment_pk)? {
                purge_model_rows(conn, pk)?;
            }
            conn.execute("DELETE FROM experiment_tags WHERE experiment_id = ?1", [experiment_pk]).map_err(db_error)?;
            conn.execute("DELETE FROM datasets WHERE experiment_id = ?1", [experiment_pk]).map_err(db_error)?;
            conn.execute("DELETE FROM experiments WHERE experiment_id = ?1", params![experiment_pk])
                .map_err(db_error)?;
        }
    }
    Ok(())
}

#[async_trait]
impl GcStore for SqliteStore {
    async fn gc_targets(&self, request: GcRequest) -> Result<Vec<GcTarget>> {
        self.db.read(move |conn| targets(conn, &request, now_millis())).await
    }

    async fn purge(&self, target: &GcTarget) -> Result<()> {
        let target = target.clone();
        self.db.write(move |conn| purge(conn, &target)).await
    }
}
