//! A real MLflow tracking database (its SQLAlchemy schema, on SQLite) as an import
//! source, read-only. The schema's version is its `alembic_version` row; only revisions
//! this reader was checked against are accepted ([`SUPPORTED_REVISIONS`]), as a newer
//! MLflow may move data this reader does not know to look for. Columns and tables that
//! came in later revisions (aliases, datasets, logged models, input steps) are looked up
//! in the schema rather than assumed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ferroflow_core::types::LoggedModelStatus;
use ferroflow_store::import::{
    AliasRecord, DatasetInputRecord, ExperimentRecord, LoggedModelMetricRecord, LoggedModelRecord, MetricRecord,
    ModelOutputRecord, ModelVersionRecord, Point, RegisteredModelRecord, RunRecord, Tag,
};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::{Batch, Counts, Result, Source, TransferError, BATCH_POINTS, BATCH_RECORDS};

/// MLflow's Alembic revisions, oldest first, from MLflow 2.0's head (97727af70f4d,
/// 2022-08) to MLflow 3.17's (dc11669786a5). Older databases: run `mlflow db upgrade`
/// with any MLflow 2.x first.
pub const SUPPORTED_REVISIONS: &[&str] = &[
    "97727af70f4d",
    "3500859a5d39",
    "7f2a7d5fae7d",
    "2d6e25af4d3e",
    "acf3f17fdcc7",
    "867495a8f9d4",
    "5b0e9adcef9c",
    "4465047574b1",
    "f5a4f2784254",
    "0584bdc529eb",
    "400f98739977",
    "6953534de441",
    "bda7b8c39065",
    "cbc13b556ace",
    "770bee3ae1dd",
    "a1b2c3d4e5f6",
    "de4033877273",
    "1a0cddfcaa16",
    "534353b11cbc",
    "71994744cf8e",
    "3da73c924c2f",
    "bf29a5ff90ea",
    "1bd49d398cd23",
    "b7c8d9e0f1a2",
    "5d2d30f0abce",
    "c9d4e5f6a7b8",
    "2c33131f4dae",
    "d3e4f5a6b7c8",
    "d0e1f2a3b4c5",
    "c8d9e0f1a2b3",
    "1b5f0d9ad7c1",
    "e1f2a3b4c5d6",
    "76601a5f987d",
    "c3d6457b6d8a",
    "a5b4c3d2e1f0",
    "ae8bbe7743c9",
    "7d34483879f0",
    "da6fb0208061",
    "89d3d66ed43f",
    "b7e4c1a90f23",
    "a8b9c0d1e2f3",
    "c1d2e3f4a5b6",
    "c3d9e7f1a2b4",
    "6f8d9c3b2a1e",
    "1971f2d9a75b",
    "17e22815139b",
    "b7e2c1a4d9f3",
    "75868b020152",
    "dc11669786a5",
];

/// The path in `sqlite:///path` (three slashes, then the path; four for an absolute one).
pub fn sqlite_path(uri: &str) -> Option<PathBuf> {
    uri.strip_prefix("sqlite:///").map(PathBuf::from)
}

pub struct MlflowDb {
    path: String,
    conn: Connection,
    pub revision: String,
    has_aliases: bool,
    has_datasets: bool,
    has_logged_models: bool,
    has_input_step: bool,
    has_storage_location: bool,
    stage: usize,
    after: String,
    series: Option<Vec<(String, String)>>,
    series_at: usize,
}

fn err(path: &str, message: impl Into<String>) -> TransferError {
    TransferError::Mlflow { path: path.to_string(), message: message.into() }
}

impl MlflowDb {
    pub fn open(file: &Path) -> Result<Self> {
        let path = file.display().to_string();
        if !file.is_file() {
            return Err(err(&path, "no such file"));
        }
        let conn =
            Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| err(&path, e.to_string()))?;
        let table = |name: &str| -> Result<bool> {
            conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
            .map_err(|e| err(&path, e.to_string()))
        };
        if !table("alembic_version")? {
            return Err(err(&path, "no alembic_version table: not an MLflow tracking database"));
        }
        let revision: String = conn
            .query_row("SELECT version_num FROM alembic_version", [], |r| r.get(0))
            .optional()
            .map_err(|e| err(&path, e.to_string()))?
            .ok_or_else(|| err(&path, "alembic_version is empty: the MLflow schema was never created"))?;
        if !SUPPORTED_REVISIONS.contains(&revision.as_str()) {
            return Err(err(
                &path,
                format!(
                    "unsupported MLflow schema revision {revision}. Supported revisions (MLflow 2.0 to 3.17): {}. \
                     An older database: upgrade it with `mlflow db upgrade` first; a newer one needs a newer ferroflow.",
                    SUPPORTED_REVISIONS.join(", ")
                ),
            ));
        }
        let column = |table: &str, column: &str| -> Result<bool> {
            let mut statement =
                conn.prepare(&format!("PRAGMA table_info({table})")).map_err(|e| err(&path, e.to_string()))?;
            let names = statement
                .query_map([], |r| r.get::<_, String>(1))
                .map_err(|e| err(&path, e.to_string()))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| err(&path, e.to_string()))?;
            Ok(names.iter().any(|n| n == column))
        };
        let has_aliases = table("registered_model_aliases")?;
        let has_datasets = table("datasets")? && table("inputs")?;
        let has_logged_models = table("logged_models")?;
        let has_input_step = has_datasets && column("inputs", "step")?;
        let has_storage_location = column("model_versions", "storage_location")?;
        // Workspaces (1b5f0d9ad7c1) let names repeat across workspaces; ferroflow has one.
        if column("experiments", "workspace")? {
            let others: i64 = conn
                .query_row("SELECT count(*) FROM experiments WHERE workspace <> 'default'", [], |r| r.get(0))
                .map_err(|e| err(&path, e.to_string()))?;
            if others > 0 {
                return Err(err(&path, "experiments in workspaces other than 'default': ferroflow has no workspaces"));
            }
        }
        Ok(MlflowDb {
            path,
            conn,
            revision,
            has_aliases,
            has_datasets,
            has_logged_models,
            has_input_step,
            has_storage_location,
            stage: 0,
            after: String::new(),
            series: None,
            series_at: 0,
        })
    }

    fn e(&self, error: rusqlite::Error) -> TransferError {
        err(&self.path, error.to_string())
    }

    fn count(&self, sql: &str) -> Result<u64> {
        self.conn.query_row(sql, [], |r| r.get::<_, i64>(0)).map(|n| n as u64).map_err(|e| self.e(e))
    }

    fn pairs(&self, sql: &str, key: &dyn rusqlite::ToSql) -> Result<Vec<Tag>> {
        let mut statement = self.conn.prepare_cached(sql).map_err(|e| self.e(e))?;
        let rows = statement
            .query_map([key], |r| {
                Ok(Tag::new(r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?.unwrap_or_default()))
            })
            .map_err(|e| self.e(e))?;
        rows.collect::<rusqlite::Result<_>>().map_err(|e| self.e(e))
    }

    fn experiments(&mut self) -> Result<Vec<ExperimentRecord>> {
        let after: i64 = if self.after.is_empty() { -1 } else { self.after.parse().unwrap_or(-1) };
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time \
                 FROM experiments WHERE experiment_id > ?1 ORDER BY experiment_id LIMIT ?2",
            )
            .map_err(|e| self.e(e))?;
        let rows = statement
            .query_map(params![after, BATCH_RECORDS as i64], |r| {
                Ok(ExperimentRecord {
                    experiment_id: r.get::<_, i64>(0)?.to_string(),
                    name: r.get(1)?,
                    artifact_location: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    lifecycle_stage: r.get::<_, Option<String>>(3)?.unwrap_or_else(|| "active".into()),
                    creation_time: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                    last_update_time: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
                    tags: Vec::new(),
                })
            })
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        drop(statement);
        let mut batch = rows;
        for experiment in &mut batch {
            let id: i64 = experiment.experiment_id.parse().unwrap_or(0);
            experiment.tags = self.pairs("SELECT key, value FROM experiment_tags WHERE experiment_id = ?1", &id)?;
        }
        if let Some(last) = batch.last() {
            self.after = last.experiment_id.clone();
        }
        Ok(batch)
    }

    fn runs(&mut self) -> Result<Vec<RunRecord>> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, \
                 artifact_uri, deleted_time FROM runs WHERE run_uuid > ?1 ORDER BY run_uuid LIMIT ?2",
            )
            .map_err(|e| self.e(e))?;
        let mut batch = statement
            .query_map(params![self.after, BATCH_RECORDS as i64], |r| {
                Ok(RunRecord {
                    run_id: r.get(0)?,
                    experiment_id: r.get::<_, i64>(1)?.to_string(),
                    name: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    user_id: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    status: r.get::<_, Option<String>>(4)?.unwrap_or_else(|| "SCHEDULED".into()),
                    start_time: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
                    end_time: r.get(6)?,
                    lifecycle_stage: r.get::<_, Option<String>>(7)?.unwrap_or_else(|| "active".into()),
                    artifact_uri: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                    deleted_time: r.get(9)?,
                    params: Vec::new(),
                    tags: Vec::new(),
                    dataset_inputs: Vec::new(),
                    model_inputs: Vec::new(),
                    model_outputs: Vec::new(),
                })
            })
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        drop(statement);
        for run in &mut batch {
            run.params = self.pairs("SELECT key, value FROM params WHERE run_uuid = ?1", &run.run_id)?;
            run.tags = self.pairs("SELECT key, value FROM tags WHERE run_uuid = ?1", &run.run_id)?;
            if self.has_datasets {
                self.run_inputs(run)?;
            }
        }
        if let Some(last) = batch.last() {
            self.after = last.run_id.clone();
        }
        Ok(batch)
    }

    fn run_inputs(&self, run: &mut RunRecord) -> Result<()> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source, d.dataset_schema, \
                 d.dataset_profile FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id \
                 WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = ?1 \
                 ORDER BY i.rowid",
            )
            .map_err(|e| self.e(e))?;
        let inputs = statement
            .query_map([&run.run_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    DatasetInputRecord {
                        name: r.get(1)?,
                        digest: r.get(2)?,
                        source_type: r.get(3)?,
                        source: r.get(4)?,
                        schema: r.get(5)?,
                        profile: r.get(6)?,
                        tags: Vec::new(),
                    },
                ))
            })
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        drop(statement);
        // A dataset logged twice to a run (MLflow allows it across calls) is one input.
        let mut seen = HashSet::new();
        for (input_uuid, mut input) in inputs {
            if !seen.insert((input.name.clone(), input.digest.clone())) {
                continue;
            }
            input.tags = self.pairs("SELECT name, value FROM input_tags WHERE input_uuid = ?1", &input_uuid)?;
            run.dataset_inputs.push(input);
        }
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT destination_id FROM inputs WHERE source_type = 'RUN_INPUT' AND source_id = ?1 \
                 AND destination_type = 'MODEL_INPUT' ORDER BY rowid",
            )
            .map_err(|e| self.e(e))?;
        run.model_inputs = statement
            .query_map([&run.run_id], |r| r.get(0))
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        drop(statement);
        let step = if self.has_input_step { "step" } else { "0" };
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT destination_id, {step} FROM inputs WHERE source_type = 'RUN_OUTPUT' AND source_id = ?1 \
                 AND destination_type = 'MODEL_OUTPUT' ORDER BY rowid"
            ))
            .map_err(|e| self.e(e))?;
        run.model_outputs = statement
            .query_map([&run.run_id], |r| Ok(ModelOutputRecord { model_id: r.get(0)?, step: r.get(1)? }))
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        Ok(())
    }

    fn metrics(&mut self) -> Result<Vec<MetricRecord>> {
        if self.series.is_none() {
            let mut statement = self
                .conn
                .prepare("SELECT DISTINCT run_uuid, key FROM metrics ORDER BY run_uuid, key")
                .map_err(|e| self.e(e))?;
            let series = statement
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(|e| self.e(e))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.e(e))?;
            drop(statement);
            self.series = Some(series);
        }
        let series = self.series.as_ref().map(|s| s.len()).unwrap_or(0);
        let mut batch = Vec::new();
        let mut points = 0;
        while self.series_at < series && batch.len() < BATCH_RECORDS && points < BATCH_POINTS {
            let (run_id, key) = self.series.as_ref().map(|s| s[self.series_at].clone()).unwrap_or_default();
            self.series_at += 1;
            let mut statement = self
                .conn
                .prepare_cached(
                    "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_uuid = ?1 AND key = ?2 \
                     ORDER BY step, timestamp, value",
                )
                .map_err(|e| self.e(e))?;
            let history = statement
                .query_map(params![run_id, key], |r| {
                    // MLflow stores NaN as 0 with is_nan set (and, before 181f10493468, NULL).
                    let is_nan: bool = r.get::<_, Option<bool>>(3)?.unwrap_or(false);
                    let value: Option<f64> = r.get(2)?;
                    Ok(Point {
                        step: r.get::<_, Option<i64>>(0)?.unwrap_or(0),
                        timestamp: r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                        value: if is_nan { f64::NAN } else { value.unwrap_or(f64::NAN) },
                    })
                })
                .map_err(|e| self.e(e))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.e(e))?;
            points += history.len();
            batch.push(MetricRecord { run_id, key, points: history });
        }
        Ok(batch)
    }

    fn logged_models(&mut self) -> Result<Vec<LoggedModelRecord>> {
        if !self.has_logged_models {
            return Ok(Vec::new());
        }
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT model_id, experiment_id, name, artifact_location, status, status_message, model_type, \
                 source_run_id, creation_timestamp_ms, last_updated_timestamp_ms, lifecycle_stage \
                 FROM logged_models WHERE model_id > ?1 ORDER BY model_id LIMIT ?2",
            )
            .map_err(|e| self.e(e))?;
        let mut batch = statement
            .query_map(params![self.after, BATCH_RECORDS as i64], |r| {
                let status = r.get::<_, i64>(4)?;
                Ok(LoggedModelRecord {
                    model_id: r.get(0)?,
                    experiment_id: r.get::<_, i64>(1)?.to_string(),
                    name: r.get(2)?,
                    artifact_uri: r.get(3)?,
                    status: LoggedModelStatus::from_number(status)
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| status.to_string()),
                    status_message: r.get(5)?,
                    model_type: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                    source_run_id: r.get(7)?,
                    creation_time: r.get(8)?,
                    last_updated_time: r.get(9)?,
                    lifecycle_stage: r.get::<_, Option<String>>(10)?.unwrap_or_else(|| "active".into()),
                    tags: Vec::new(),
                    params: Vec::new(),
                    metrics: Vec::new(),
                })
            })
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        drop(statement);
        for model in &mut batch {
            model.tags =
                self.pairs("SELECT tag_key, tag_value FROM logged_model_tags WHERE model_id = ?1", &model.model_id)?;
            model.params = self
                .pairs("SELECT param_key, param_value FROM logged_model_params WHERE model_id = ?1", &model.model_id)?;
            let mut statement = self
                .conn
                .prepare_cached(
                    "SELECT metric_name, metric_value, metric_timestamp_ms, metric_step, run_id, dataset_name, \
                     dataset_digest FROM logged_model_metrics WHERE model_id = ?1",
                )
                .map_err(|e| self.e(e))?;
            model.metrics = statement
                .query_map([&model.model_id], |r| {
                    Ok(LoggedModelMetricRecord {
                        key: r.get(0)?,
                        value: r.get::<_, Option<f64>>(1)?.unwrap_or(f64::NAN),
                        timestamp: r.get(2)?,
                        step: r.get(3)?,
                        run_id: r.get(4)?,
                        dataset_name: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                        dataset_digest: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                    })
                })
                .map_err(|e| self.e(e))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.e(e))?;
        }
        if let Some(last) = batch.last() {
            self.after = last.model_id.clone();
        }
        Ok(batch)
    }

    fn registered_models(&mut self) -> Result<Vec<RegisteredModelRecord>> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT name, creation_time, last_updated_time, description FROM registered_models \
                 WHERE name > ?1 ORDER BY name LIMIT ?2",
            )
            .map_err(|e| self.e(e))?;
        let mut batch = statement
            .query_map(params![self.after, BATCH_RECORDS as i64], |r| {
                let created = r.get::<_, Option<i64>>(1)?.unwrap_or(0);
                Ok(RegisteredModelRecord {
                    name: r.get(0)?,
                    creation_time: created,
                    last_updated_time: r.get::<_, Option<i64>>(2)?.unwrap_or(created),
                    description: r.get(3)?,
                    tags: Vec::new(),
                    aliases: Vec::new(),
                })
            })
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        drop(statement);
        for model in &mut batch {
            model.tags =
                self.pairs("SELECT key, value FROM registered_model_tags WHERE name = ?1 ORDER BY rowid", &model.name)?;
            if self.has_aliases {
                let mut statement = self
                    .conn
                    .prepare_cached(
                        "SELECT alias, version FROM registered_model_aliases WHERE name = ?1 ORDER BY alias",
                    )
                    .map_err(|e| self.e(e))?;
                model.aliases = statement
                    .query_map([&model.name], |r| Ok(AliasRecord { alias: r.get(0)?, version: r.get(1)? }))
                    .map_err(|e| self.e(e))?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(|e| self.e(e))?;
            }
        }
        if let Some(last) = batch.last() {
            self.after = last.name.clone();
        }
        Ok(batch)
    }

    fn model_versions(&mut self) -> Result<Vec<ModelVersionRecord>> {
        // Keyset over (name, version), encoded in `after` as "<version>\0<name>".
        let (after_name, after_version) = match self.after.split_once('\0') {
            Some((version, name)) => (name.to_string(), version.parse::<i64>().unwrap_or(0)),
            None => (String::new(), 0),
        };
        let storage = if self.has_storage_location { "storage_location" } else { "NULL" };
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT name, version, creation_time, last_updated_time, description, user_id, current_stage, source, \
                 {storage}, run_id, run_link, status, status_message FROM model_versions \
                 WHERE name > ?1 OR (name = ?1 AND version > ?2) ORDER BY name, version LIMIT ?3"
            ))
            .map_err(|e| self.e(e))?;
        let mut batch = statement
            .query_map(params![after_name, after_version, BATCH_RECORDS as i64], |r| {
                let created = r.get::<_, Option<i64>>(2)?.unwrap_or(0);
                Ok(ModelVersionRecord {
                    name: r.get(0)?,
                    version: r.get(1)?,
                    creation_time: created,
                    last_updated_time: r.get::<_, Option<i64>>(3)?.unwrap_or(created),
                    description: r.get(4)?,
                    user_id: r.get(5)?,
                    current_stage: r.get::<_, Option<String>>(6)?.unwrap_or_else(|| "None".into()),
                    source: r.get(7)?,
                    storage_location: r.get(8)?,
                    run_id: r.get(9)?,
                    run_link: r.get(10)?,
                    status: r.get::<_, Option<String>>(11)?.unwrap_or_else(|| "READY".into()),
                    status_message: r.get(12)?,
                    tags: Vec::new(),
                })
            })
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        drop(statement);
        for version in &mut batch {
            let mut statement = self
                .conn
                .prepare_cached(
                    "SELECT key, value FROM model_version_tags WHERE name = ?1 AND version = ?2 ORDER BY rowid",
                )
                .map_err(|e| self.e(e))?;
            version.tags = statement
                .query_map(params![version.name, version.version], |r| {
                    Ok(Tag::new(r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?.unwrap_or_default()))
                })
                .map_err(|e| self.e(e))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.e(e))?;
        }
        if let Some(last) = batch.last() {
            self.after = format!("{}\0{}", last.version, last.name);
        }
        Ok(batch)
    }
}

impl Source for MlflowDb {
    fn counts(&mut self) -> Result<Counts> {
        let inputs = if self.has_datasets {
            self.count("SELECT count(*) FROM inputs WHERE source_type = 'DATASET' AND destination_type = 'RUN'")?
        } else {
            0
        };
        Ok(Counts {
            experiments: self.count("SELECT count(*) FROM experiments")?,
            runs: self.count("SELECT count(*) FROM runs")?,
            metric_histories: self.count("SELECT count(*) FROM (SELECT DISTINCT run_uuid, key FROM metrics)")?,
            metric_points: self.count("SELECT count(*) FROM metrics")?,
            dataset_inputs: inputs,
            logged_models: if self.has_logged_models { self.count("SELECT count(*) FROM logged_models")? } else { 0 },
            registered_models: self.count("SELECT count(*) FROM registered_models")?,
            model_versions: self.count("SELECT count(*) FROM model_versions")?,
            webhooks: 0,
        })
    }

    fn identities(&mut self) -> Result<super::Identities> {
        let mut statement = self.conn.prepare("SELECT experiment_id, name FROM experiments").map_err(|e| self.e(e))?;
        let experiments = statement
            .query_map([], |r| Ok((r.get::<_, i64>(0)?.to_string(), r.get::<_, String>(1)?)))
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        let mut statement = self.conn.prepare("SELECT name FROM registered_models").map_err(|e| self.e(e))?;
        let models = statement
            .query_map([], |r| r.get(0))
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        Ok((experiments, models))
    }

    fn next_batch(&mut self) -> Result<Option<Batch>> {
        loop {
            let batch = match self.stage {
                0 => Batch::Experiments(self.experiments()?),
                1 => Batch::Runs(self.runs()?),
                2 => Batch::Metrics(self.metrics()?),
                3 => Batch::LoggedModels(self.logged_models()?),
                4 => Batch::RegisteredModels(self.registered_models()?),
                5 => Batch::ModelVersions(self.model_versions()?),
                _ => return Ok(None),
            };
            if batch.units() == 0 && !matches!(&batch, Batch::Metrics(b) if !b.is_empty()) {
                self.stage += 1;
                self.after.clear();
                continue;
            }
            return Ok(Some(batch));
        }
    }
}
