//! [`ImportStore`] on SQLite: the SQL and row mapping only; the rules (validation, the
//! history summary) are `ferroflow_store::import`'s.

use async_trait::async_trait;
use ferroflow_core::{Error, Result};
use ferroflow_store::import::{
    check_experiment, check_experiment_id_free, check_logged_model, check_model_version, check_run,
    deleted_version_record, missing_parent, stored_point, summarize, ExperimentRecord, ImportStore, LoggedModelRecord,
    MetricRecord, ModelVersionRecord, Point, RegisteredModelRecord, RunRecord, StoreCounts, DELETED_VERSIONS_SQL,
    RUN_DELETED_TIMES_SQL,
};
use ferroflow_store::logged_models::LoggedModelMetricRow;
use rusqlite::{params, Connection, OptionalExtension};

use crate::db::db_error;
use crate::series::{stored_value, StoredSeries};
use crate::SqliteStore;

fn optional_pk(conn: &Connection, sql: &str, key: impl rusqlite::ToSql) -> Result<Option<i64>> {
    conn.prepare_cached(sql).map_err(db_error)?.query_row([key], |row| row.get(0)).optional().map_err(db_error)
}

fn require_experiment(conn: &Connection, experiment: i64, child: &str) -> Result<()> {
    optional_pk(conn, "SELECT experiment_id FROM experiments WHERE experiment_id = ?1", experiment)?
        .map(|_| ())
        .ok_or_else(|| missing_parent("experiment", &experiment.to_string(), child))
}

fn count(conn: &Connection, table: &str) -> Result<u64> {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get::<_, i64>(0))
        .map(|n| n as u64)
        .map_err(db_error)
}

fn experiments(conn: &Connection, batch: &[ExperimentRecord]) -> Result<()> {
    for record in batch {
        let id = check_experiment(record)?;
        // Another experiment holding the name means the target is not this source's copy.
        if let Some(other) = optional_pk(conn, "SELECT experiment_id FROM experiments WHERE name = ?1", &record.name)? {
            if other != id {
                return Err(Error::already_exists(format!(
                    "experiment {id} is named {:?}, which experiment {other} of the target already has",
                    record.name
                )));
            }
        }
        let existing = conn
            .prepare_cached("SELECT name FROM experiments WHERE experiment_id = ?1")
            .map_err(db_error)?
            .query_row([id], |row| row.get::<_, String>(0))
            .optional()
            .map_err(db_error)?;
        check_experiment_id_free(record, id, existing)?;
        conn.prepare_cached(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, \
             last_update_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (experiment_id) DO UPDATE SET \
             name = excluded.name, artifact_location = excluded.artifact_location, \
             lifecycle_stage = excluded.lifecycle_stage, creation_time = excluded.creation_time, \
             last_update_time = excluded.last_update_time",
        )
        .map_err(db_error)?
        .execute(params![
            id,
            record.name,
            record.artifact_location,
            record.lifecycle_stage,
            record.creation_time,
            record.last_update_time
        ])
        .map_err(db_error)?;
        for tag in &record.tags {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?1, ?2, ?3)",
            )
            .map_err(db_error)?
            .execute(params![id, tag.key, tag.value])
            .map_err(db_error)?;
        }
    }
    Ok(())
}

fn runs(conn: &Connection, batch: &[RunRecord]) -> Result<()> {
    for record in batch {
        let (status, experiment) = check_run(record)?;
        require_experiment(conn, experiment, &format!("run {}", record.run_id))?;
        conn.prepare_cached(
            "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, \
             lifecycle_stage, artifact_uri, deleted_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (run_uuid) DO UPDATE SET experiment_id = excluded.experiment_id, name = excluded.name, \
             user_id = excluded.user_id, status = excluded.status, start_time = excluded.start_time, \
             end_time = excluded.end_time, lifecycle_stage = excluded.lifecycle_stage, \
             artifact_uri = excluded.artifact_uri, deleted_time = excluded.deleted_time",
        )
        .map_err(db_error)?
        .execute(params![
            record.run_id,
            experiment,
            record.name,
            record.user_id,
            status,
            record.start_time,
            record.end_time,
            record.lifecycle_stage,
            record.artifact_uri,
            record.deleted_time
        ])
        .map_err(db_error)?;
        let run_pk = optional_pk(conn, "SELECT run_pk FROM runs WHERE run_uuid = ?1", &record.run_id)?
            .ok_or_else(|| Error::internal("an upserted run is missing"))?;
        for (table, entries) in [("params", &record.params), ("tags", &record.tags)] {
            let sql = format!("INSERT OR REPLACE INTO {table} (run_pk, key, value) VALUES (?1, ?2, ?3)");
            for entry in entries {
                conn.prepare_cached(&sql)
                    .map_err(db_error)?
                    .execute(params![run_pk, entry.key, entry.value])
                    .map_err(db_error)?;
            }
        }
        for input in &record.dataset_inputs {
            conn.prepare_cached(
                "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, profile) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (experiment_id, name, digest) DO UPDATE SET \
                 source_type = excluded.source_type, source = excluded.source, schema = excluded.schema, \
                 profile = excluded.profile",
            )
            .map_err(db_error)?
            .execute(params![
                experiment,
                input.name,
                input.digest,
                input.source_type,
                input.source,
                input.schema,
                input.profile
            ])
            .map_err(db_error)?;
            let dataset_pk: i64 = conn
                .prepare_cached(
                    "SELECT dataset_pk FROM datasets WHERE experiment_id = ?1 AND name = ?2 AND digest = ?3",
                )
                .map_err(db_error)?
                .query_row(params![experiment, input.name, input.digest], |row| row.get(0))
                .map_err(db_error)?;
            conn.prepare_cached(
                "INSERT OR IGNORE INTO run_dataset_inputs (run_pk, dataset_pk, position) \
                 VALUES (?1, ?2, (SELECT COUNT(*) FROM run_dataset_inputs WHERE run_pk = ?1))",
            )
            .map_err(db_error)?
            .execute(params![run_pk, dataset_pk])
            .map_err(db_error)?;
            for tag in &input.tags {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO run_dataset_input_tags (run_pk, dataset_pk, key, value) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(db_error)?
                .execute(params![run_pk, dataset_pk, tag.key, tag.value])
                .map_err(db_error)?;
            }
        }
        for model_id in &record.model_inputs {
            conn.prepare_cached("INSERT OR IGNORE INTO run_model_inputs (run_pk, model_id) VALUES (?1, ?2)")
                .map_err(db_error)?
                .execute(params![run_pk, model_id])
                .map_err(db_error)?;
        }
        for output in &record.model_outputs {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO run_model_outputs (run_pk, model_id, step) VALUES (?1, ?2, ?3)",
            )
            .map_err(db_error)?
            .execute(params![run_pk, output.model_id, output.step])
            .map_err(db_error)?;
        }
    }
    Ok(())
}

fn metrics(conn: &Connection, batch: &[MetricRecord]) -> Result<()> {
    for record in batch {
        let run_pk = optional_pk(conn, "SELECT run_pk FROM runs WHERE run_uuid = ?1", &record.run_id)?
            .ok_or_else(|| missing_parent("run", &record.run_id, &format!("metric {}", record.key)))?;
        if record.points.is_empty() {
            continue;
        }
        let key_id = crate::runs::metric_key_id(conn, &record.key)?;
        let mut insert = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO metrics (run_pk, key_id, step, timestamp, value, is_nan) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(db_error)?;
        for point in &record.points {
            let point = stored_point(point);
            let (value, is_nan) = stored_value(point.value);
            insert.execute(params![run_pk, key_id, point.step, point.timestamp, value, is_nan]).map_err(db_error)?;
        }
        // The primary key's order is the stored order the summary is defined over.
        let mut read = conn
            .prepare_cached(
                "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_pk = ?1 AND key_id = ?2 \
                 ORDER BY step, timestamp, value, is_nan",
            )
            .map_err(db_error)?;
        let history = read
            .query_map(params![run_pk, key_id], |row| {
                let is_nan: bool = row.get(3)?;
                Ok(Point {
                    step: row.get(0)?,
                    timestamp: row.get(1)?,
                    value: if is_nan { f64::NAN } else { row.get(2)? },
                })
            })
            .map_err(db_error)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db_error)?;
        StoredSeries::computed(run_pk, key_id, summarize(&record.key, &history)).save(conn)?;
    }
    Ok(())
}

fn logged_models(conn: &Connection, batch: &[LoggedModelRecord]) -> Result<()> {
    for record in batch {
        let (status, experiment) = check_logged_model(record)?;
        require_experiment(conn, experiment, &format!("logged model {}", record.model_id))?;
        conn.prepare_cached(
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_uri, status, status_message, \
             model_type, source_run_id, creation_time, last_updated_time, lifecycle_stage) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (model_id) DO UPDATE SET \
             experiment_id = excluded.experiment_id, name = excluded.name, artifact_uri = excluded.artifact_uri, \
             status = excluded.status, status_message = excluded.status_message, model_type = excluded.model_type, \
             source_run_id = excluded.source_run_id, creation_time = excluded.creation_time, \
             last_updated_time = excluded.last_updated_time, lifecycle_stage = excluded.lifecycle_stage",
        )
        .map_err(db_error)?
        .execute(params![
            record.model_id,
            experiment,
            record.name,
            record.artifact_uri,
            status,
            record.status_message,
            record.model_type,
            record.source_run_id,
            record.creation_time,
            record.last_updated_time,
            record.lifecycle_stage
        ])
        .map_err(db_error)?;
        let model_pk = optional_pk(conn, "SELECT model_pk FROM logged_models WHERE model_id = ?1", &record.model_id)?
            .ok_or_else(|| Error::internal("an upserted logged model is missing"))?;
        for (table, entries) in [("logged_model_tags", &record.tags), ("logged_model_params", &record.params)] {
            let sql = format!("INSERT OR REPLACE INTO {table} (model_pk, key, value) VALUES (?1, ?2, ?3)");
            for entry in entries {
                conn.prepare_cached(&sql)
                    .map_err(db_error)?
                    .execute(params![model_pk, entry.key, entry.value])
                    .map_err(db_error)?;
            }
        }
        for metric in &record.metrics {
            let row = LoggedModelMetricRow {
                key: metric.key.clone(),
                value: ferroflow_store::common::stored_metric_value(metric.value),
                timestamp: metric.timestamp,
                step: metric.step,
                run_id: metric.run_id.clone(),
                dataset_name: metric.dataset_name.clone(),
                dataset_digest: metric.dataset_digest.clone(),
            };
            crate::logged_models::insert_metric_row(conn, model_pk, &row)?;
        }
    }
    Ok(())
}

fn registered_model_pk(conn: &Connection, name: &str) -> Result<Option<i64>> {
    optional_pk(conn, "SELECT model_pk FROM registered_models WHERE name = ?1", name)
}

fn registered_models(conn: &Connection, batch: &[RegisteredModelRecord]) -> Result<()> {
    for record in batch {
        conn.prepare_cached(
            "INSERT INTO registered_models (name, creation_time, last_updated_time, description) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET creation_time = excluded.creation_time, \
             last_updated_time = excluded.last_updated_time, description = excluded.description",
        )
        .map_err(db_error)?
        .execute(params![record.name, record.creation_time, record.last_updated_time, record.description])
        .map_err(db_error)?;
        let model_pk =
            registered_model_pk(conn, &record.name)?.ok_or_else(|| Error::internal("an upserted model is missing"))?;
        for tag in &record.tags {
            // An upsert, not a replace: the tag keeps its rowid, which is its listing order.
            conn.prepare_cached(
                "INSERT INTO registered_model_tags (model_pk, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (model_pk, key) DO UPDATE SET value = excluded.value",
            )
            .map_err(db_error)?
            .execute(params![model_pk, tag.key, tag.value])
            .map_err(db_error)?;
        }
        for alias in &record.aliases {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO registered_model_aliases (model_pk, alias, version) VALUES (?1, ?2, ?3)",
            )
            .map_err(db_error)?
            .execute(params![model_pk, alias.alias, alias.version])
            .map_err(db_error)?;
        }
    }
    Ok(())
}

fn model_versions(conn: &Connection, batch: &[ModelVersionRecord]) -> Result<()> {
    for record in batch {
        check_model_version(record)?;
        let child = format!("version {} of {}", record.version, record.name);
        let model_pk = registered_model_pk(conn, &record.name)?
            .ok_or_else(|| missing_parent("registered model", &record.name, &child))?;
        conn.prepare_cached(
            "INSERT INTO model_versions (model_pk, version, creation_time, last_updated_time, description, user_id, \
             current_stage, source, storage_location, run_id, run_link, status, status_message) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
             ON CONFLICT (model_pk, version) DO UPDATE SET creation_time = excluded.creation_time, \
             last_updated_time = excluded.last_updated_time, description = excluded.description, \
             user_id = excluded.user_id, current_stage = excluded.current_stage, source = excluded.source, \
             storage_location = excluded.storage_location, run_id = excluded.run_id, run_link = excluded.run_link, \
             status = excluded.status, status_message = excluded.status_message",
        )
        .map_err(db_error)?
        .execute(params![
            model_pk,
            record.version,
            record.creation_time,
            record.last_updated_time,
            record.description,
            record.user_id,
            record.current_stage,
            record.source,
            record.storage_location,
            record.run_id,
            record.run_link,
            record.status,
            record.status_message
        ])
        .map_err(db_error)?;
        for tag in &record.tags {
            conn.prepare_cached(
                "INSERT INTO model_version_tags (model_pk, version, key, value) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (model_pk, version, key) DO UPDATE SET value = excluded.value",
            )
            .map_err(db_error)?
            .execute(params![model_pk, record.version, tag.key, tag.value])
            .map_err(db_error)?;
        }
    }
    Ok(())
}

#[async_trait]
impl ImportStore for SqliteStore {
    async fn store_counts(&self) -> Result<StoreCounts> {
        self.db
            .read(|conn| {
                Ok(StoreCounts {
                    experiments: count(conn, "experiments")?,
                    runs: count(conn, "runs")?,
                    logged_models: count(conn, "logged_models")?,
                    registered_models: count(conn, "registered_models")?,
                })
            })
            .await
    }

    async fn import_experiments(&self, batch: Vec<ExperimentRecord>) -> Result<()> {
        self.db.write(move |conn| experiments(conn, &batch)).await
    }

    async fn deleted_model_versions(&self) -> Result<Vec<ModelVersionRecord>> {
        self.db
            .read(|conn| {
                let mut statement = conn.prepare_cached(DELETED_VERSIONS_SQL).map_err(db_error)?;
                let rows = statement
                    .query_map([], |row| Ok(deleted_version_record(row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
                    .map_err(db_error)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)
            })
            .await
    }

    async fn run_deleted_times(&self) -> Result<Vec<(String, i64)>> {
        self.db
            .read(|conn| {
                let mut statement = conn.prepare_cached(RUN_DELETED_TIMES_SQL).map_err(db_error)?;
                let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).map_err(db_error)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)
            })
            .await
    }

    async fn import_runs(&self, batch: Vec<RunRecord>) -> Result<()> {
        self.db.write(move |conn| runs(conn, &batch)).await
    }

    async fn import_metrics(&self, batch: Vec<MetricRecord>) -> Result<()> {
        self.db.write(move |conn| metrics(conn, &batch)).await
    }

    async fn import_logged_models(&self, batch: Vec<LoggedModelRecord>) -> Result<()> {
        self.db.write(move |conn| logged_models(conn, &batch)).await
    }

    async fn import_registered_models(&self, batch: Vec<RegisteredModelRecord>) -> Result<()> {
        self.db.write(move |conn| registered_models(conn, &batch)).await
    }

    async fn import_model_versions(&self, batch: Vec<ModelVersionRecord>) -> Result<()> {
        self.db.write(move |conn| model_versions(conn, &batch)).await
    }
}
