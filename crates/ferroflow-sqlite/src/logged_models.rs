//! MLflow 3 logged models on SQLite.

use async_trait::async_trait;
use ferroflow_core::paging::decode_offset;
use ferroflow_core::types::{KeyValue, LifecycleStage, LoggedModel, LoggedModelInfo, LoggedModelStatus, Metric, Page};
use ferroflow_core::Result;
use ferroflow_store::logged_models::{
    self, logged_model_tag_not_found, CreateLoggedModel, LoggedModelMetricRow, LoggedModelRow, NewLoggedModel,
    SearchLoggedModels,
};
use ferroflow_store::LoggedModelStore;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::db::db_error;
use crate::{experiments, now_millis, SqliteStore};

/// Logged-model tables (schema version 2).
pub(crate) const SCHEMA: &str = r#"
    CREATE TABLE logged_models (
        model_pk          INTEGER PRIMARY KEY,
        model_id          TEXT NOT NULL UNIQUE,
        experiment_id     INTEGER NOT NULL,
        name              TEXT NOT NULL,
        artifact_uri      TEXT NOT NULL,
        status            INTEGER NOT NULL,
        status_message    TEXT,
        model_type        TEXT NOT NULL,
        source_run_id     TEXT,
        creation_time     INTEGER NOT NULL,
        last_updated_time INTEGER NOT NULL,
        lifecycle_stage   TEXT NOT NULL
    );
    CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, creation_time DESC);
    CREATE TABLE logged_model_tags (
        model_pk INTEGER NOT NULL,
        key      TEXT NOT NULL,
        value    TEXT NOT NULL,
        PRIMARY KEY (model_pk, key)
    ) WITHOUT ROWID;
    CREATE TABLE logged_model_params (
        model_pk INTEGER NOT NULL,
        key      TEXT NOT NULL,
        value    TEXT NOT NULL,
        PRIMARY KEY (model_pk, key)
    ) WITHOUT ROWID;
    CREATE TABLE logged_model_metrics (
        model_pk       INTEGER NOT NULL,
        key            TEXT NOT NULL,
        step           INTEGER NOT NULL,
        timestamp      INTEGER NOT NULL,
        value          REAL NOT NULL,
        is_nan         INTEGER NOT NULL,
        run_id         TEXT NOT NULL,
        dataset_name   TEXT NOT NULL,
        dataset_digest TEXT NOT NULL,
        PRIMARY KEY (model_pk, key, step, timestamp, value, is_nan, run_id, dataset_name, dataset_digest)
    ) WITHOUT ROWID;
"#;

use ferroflow_store::common::logged_model_not_found as not_found;

const INFO_COLUMNS: &str = "model_pk, model_id, experiment_id, name, artifact_uri, status, status_message, \
     model_type, source_run_id, creation_time, last_updated_time, lifecycle_stage";

fn info_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, LoggedModelInfo)> {
    let stored = LoggedModelRow {
        model_id: row.get(1)?,
        experiment_id: row.get(2)?,
        name: row.get(3)?,
        artifact_uri: row.get(4)?,
        status: row.get(5)?,
        status_message: row.get(6)?,
        model_type: row.get(7)?,
        source_run_id: row.get(8)?,
        creation_time: row.get(9)?,
        last_updated_time: row.get(10)?,
        lifecycle_stage: row.get(11)?,
    };
    Ok((row.get(0)?, stored.into_info()))
}

/// The model's surrogate key, whatever its lifecycle stage.
fn model_pk(conn: &Connection, model_id: &str) -> Result<i64> {
    conn.prepare_cached("SELECT model_pk FROM logged_models WHERE model_id = ?1")
        .map_err(db_error)?
        .query_row([model_id], |row| row.get(0))
        .optional()
        .map_err(db_error)?
        .ok_or_else(|| not_found(model_id))
}

fn key_values(conn: &Connection, sql: &str, model_pk: i64) -> Result<Vec<KeyValue>> {
    let mut statement = conn.prepare_cached(sql).map_err(db_error)?;
    let rows = statement
        .query_map([model_pk], |row| Ok(KeyValue::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
        .map_err(db_error)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_error)
}

fn assemble(conn: &Connection, model_pk: i64, info: LoggedModelInfo) -> Result<LoggedModel> {
    let tags = key_values(conn, "SELECT key, value FROM logged_model_tags WHERE model_pk = ?1 ORDER BY key", model_pk)?;
    let params =
        key_values(conn, "SELECT key, value FROM logged_model_params WHERE model_pk = ?1 ORDER BY key", model_pk)?;
    let mut statement = conn
        .prepare_cached(
            "SELECT key, value, is_nan, timestamp, step, run_id, dataset_name, dataset_digest \
             FROM logged_model_metrics WHERE model_pk = ?1 ORDER BY key, step, timestamp",
        )
        .map_err(db_error)?;
    let metrics = statement
        .query_map([model_pk], |row| {
            let is_nan: bool = row.get(2)?;
            Ok(LoggedModelMetricRow {
                key: row.get(0)?,
                value: if is_nan { f64::NAN } else { row.get(1)? },
                timestamp: row.get(3)?,
                step: row.get(4)?,
                run_id: row.get(5)?,
                dataset_name: row.get(6)?,
                dataset_digest: row.get(7)?,
            })
        })
        .map_err(db_error)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error)?;
    Ok(logged_models::assemble(info, tags, params, metrics))
}

pub(crate) fn load(conn: &Connection, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
    let (pk, info) = conn
        .prepare_cached(&format!("SELECT {INFO_COLUMNS} FROM logged_models WHERE model_id = ?1"))
        .map_err(db_error)?
        .query_row([model_id], info_from_row)
        .optional()
        .map_err(db_error)?
        .filter(|(_, info)| allow_deleted || info.lifecycle_stage == LifecycleStage::Active)
        .ok_or_else(|| not_found(model_id))?;
    assemble(conn, pk, info)
}

fn upsert(conn: &Connection, table: &str, model_pk: i64, entry: &KeyValue) -> Result<()> {
    // `table` is one of two fixed names, never request text.
    conn.prepare_cached(&format!(
        "INSERT INTO {table} (model_pk, key, value) VALUES (?1, ?2, ?3) \
         ON CONFLICT (model_pk, key) DO UPDATE SET value = excluded.value"
    ))
    .map_err(db_error)?
    .execute(params![model_pk, entry.key, entry.value])
    .map_err(db_error)?;
    Ok(())
}

fn create(conn: &Connection, request: CreateLoggedModel, now: i64) -> Result<LoggedModel> {
    let experiment = experiments::get(conn, &request.experiment_id)?;
    experiments::require_active(&experiment)?;
    let new = NewLoggedModel::new(&request, &experiment.artifact_location);
    conn.execute(
        "INSERT INTO logged_models (model_id, experiment_id, name, artifact_uri, status, model_type, \
         source_run_id, creation_time, last_updated_time, lifecycle_stage) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 'active')",
        params![
            new.model_id,
            experiments::experiment_pk(&request.experiment_id)?,
            new.name,
            new.artifact_uri,
            new.status.number(),
            request.model_type,
            new.source_run_id,
            now
        ],
    )
    .map_err(db_error)?;
    let pk = conn.last_insert_rowid();
    for param in &request.params {
        upsert(conn, "logged_model_params", pk, param)?;
    }
    for tag in &request.tags {
        upsert(conn, "logged_model_tags", pk, tag)?;
    }
    load(conn, &new.model_id, false)
}

/// Records a run metric that names a model, so it shows in the model's `data.metrics`.
pub(crate) fn record_metric(conn: &Connection, model_id: &str, run_id: &str, metric: &Metric) -> Result<()> {
    let pk = model_pk(conn, model_id)?;
    insert_metric_row(conn, pk, &LoggedModelMetricRow::recorded(metric, run_id))
}

/// Adds one row to a model's metrics (an identical row already there is left alone).
pub(crate) fn insert_metric_row(conn: &Connection, model_pk: i64, row: &LoggedModelMetricRow) -> Result<()> {
    // NaN is kept as 0 with is_nan set, as in the run's own metrics.
    let (value, is_nan) = crate::series::stored_value(row.value);
    conn.prepare_cached(
        "INSERT OR IGNORE INTO logged_model_metrics (model_pk, key, step, timestamp, value, is_nan, run_id, \
         dataset_name, dataset_digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .map_err(db_error)?
    .execute(params![
        model_pk,
        row.key,
        row.step,
        row.timestamp,
        value,
        is_nan,
        row.run_id,
        row.dataset_name,
        row.dataset_digest
    ])
    .map_err(db_error)?;
    Ok(())
}

/// Active models of the given experiments in MLflow's default order (newest first).
pub(crate) fn all_in(conn: &Connection, experiment_pks: &[i64]) -> Result<Vec<LoggedModel>> {
    let mut models = Vec::new();
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {INFO_COLUMNS} FROM logged_models WHERE experiment_id = ?1 AND lifecycle_stage = 'active'"
        ))
        .map_err(db_error)?;
    for experiment_pk in experiment_pks {
        let rows = statement
            .query_map([experiment_pk], info_from_row)
            .map_err(db_error)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db_error)?;
        for (pk, info) in rows {
            models.push(assemble(conn, pk, info)?);
        }
    }
    logged_models::sort_newest_first(&mut models);
    Ok(models)
}

#[async_trait]
impl LoggedModelStore for SqliteStore {
    async fn create_logged_model(&self, request: CreateLoggedModel) -> Result<LoggedModel> {
        self.db.write(move |conn| create(conn, request, now_millis())).await
    }

    async fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
        let model_id = model_id.to_string();
        self.db.read(move |conn| load(conn, &model_id, allow_deleted)).await
    }

    async fn finalize_logged_model(&self, model_id: &str, status: LoggedModelStatus) -> Result<LoggedModel> {
        let model_id = model_id.to_string();
        self.db
            .write(move |conn| {
                let pk = model_pk(conn, &model_id)?;
                conn.execute(
                    "UPDATE logged_models SET status = ?1, last_updated_time = ?2 WHERE model_pk = ?3",
                    params![status.number(), now_millis(), pk],
                )
                .map_err(db_error)?;
                load(conn, &model_id, true)
            })
            .await
    }

    async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        let model_id = model_id.to_string();
        self.db
            .write(move |conn| {
                let pk = model_pk(conn, &model_id)?;
                conn.execute(
                    "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_time = ?1 WHERE model_pk = ?2",
                    params![now_millis(), pk],
                )
                .map_err(db_error)?;
                Ok(())
            })
            .await
    }

    async fn set_logged_model_tags(&self, model_id: &str, tags: Vec<KeyValue>) -> Result<()> {
        let model_id = model_id.to_string();
        self.db
            .write(move |conn| {
                let pk = model_pk(conn, &model_id)?;
                tags.iter().try_for_each(|tag| upsert(conn, "logged_model_tags", pk, tag))
            })
            .await
    }

    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        let (model_id, key) = (model_id.to_string(), key.to_string());
        self.db
            .write(move |conn| {
                let pk = model_pk(conn, &model_id)?;
                let removed = conn
                    .execute("DELETE FROM logged_model_tags WHERE model_pk = ?1 AND key = ?2", params![pk, key])
                    .map_err(db_error)?;
                if removed == 0 {
                    return Err(logged_model_tag_not_found(&model_id, &key));
                }
                Ok(())
            })
            .await
    }

    async fn log_logged_model_params(&self, model_id: &str, params: Vec<KeyValue>) -> Result<()> {
        let model_id = model_id.to_string();
        self.db
            .write(move |conn| {
                let pk = model_pk(conn, &model_id)?;
                params.iter().try_for_each(|param| upsert(conn, "logged_model_params", pk, param))
            })
            .await
    }

    async fn search_logged_models(&self, request: SearchLoggedModels) -> Result<Page<LoggedModel>> {
        self.db
            .read_within(move |conn, budget| {
                let offset = decode_offset(request.page_token.as_deref())?;
                let experiment_pks = request
                    .experiment_ids
                    .iter()
                    .map(|id| experiments::experiment_pk(id))
                    .collect::<Result<Vec<_>>>()?;
                let models = all_in(conn, &experiment_pks)?;
                ferroflow_store::in_memory::logged_models(models, &request, offset, || budget.check())
            })
            .await
    }
}
