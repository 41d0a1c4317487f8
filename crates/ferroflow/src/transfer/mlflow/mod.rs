//! A real MLflow tracking database (its SQLAlchemy schema, on SQLite or PostgreSQL) as an
//! import source, read-only. The schema's version is its `alembic_version` row; only
//! revisions this reader was checked against are accepted ([`SUPPORTED_REVISIONS`]), as
//! a newer MLflow may move data this reader does not know to look for. Columns and tables
//! that came in later revisions (aliases, datasets, logged models, input steps) are
//! looked up in the schema rather than assumed. The SQL is written once for both engines
//! ([`tables`]).

pub mod tables;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ferroflow_core::types::LoggedModelStatus;
use ferroflow_store::import::{
    AliasRecord, DatasetInputRecord, ExperimentRecord, LoggedModelMetricRecord, LoggedModelRecord, MetricRecord,
    ModelOutputRecord, ModelVersionRecord, Point, RegisteredModelRecord, RunRecord, Tag,
};

use self::tables::{error, Cell, MlflowTables, PostgresTables, Row, SqliteTables};
use super::{Batch, Counts, Result, Source, BATCH_POINTS, BATCH_RECORDS};

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

/// Whether `uri` names an MLflow database on PostgreSQL (as MLflow users write it,
/// `postgresql+psycopg2://` included).
pub fn is_postgres(uri: &str) -> bool {
    ferroflow_postgres::PgUri::is_postgres(uri)
}

pub struct MlflowDb {
    tables: Box<dyn MlflowTables>,
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

// Typed reads of a row's cells, with MLflow's defaults for the nullable ones.
fn text(row: &Row, i: usize) -> String {
    row[i].text().unwrap_or_default()
}
fn opt_text(row: &Row, i: usize) -> Option<String> {
    row[i].text()
}
fn text_or(row: &Row, i: usize, default: &str) -> String {
    row[i].text().unwrap_or_else(|| default.to_string())
}
fn int(row: &Row, i: usize) -> i64 {
    row[i].int().unwrap_or(0)
}
fn opt_int(row: &Row, i: usize) -> Option<i64> {
    row[i].int()
}

impl MlflowDb {
    /// An MLflow database file.
    pub fn open(file: &Path) -> Result<Self> {
        Self::over(Box::new(SqliteTables::open(file)?))
    }

    /// An MLflow database on PostgreSQL, by its URI.
    pub fn open_postgres(uri: &str) -> Result<Self> {
        Self::over(Box::new(PostgresTables::open(uri)?))
    }

    fn over(mut tables: Box<dyn MlflowTables>) -> Result<Self> {
        let name = tables.name().to_string();
        if !tables.has_table("alembic_version")? {
            return Err(error(&name, "no alembic_version table: not an MLflow tracking database"));
        }
        let revision = tables
            .rows("SELECT version_num FROM alembic_version", &[])?
            .first()
            .and_then(|row| row[0].text())
            .ok_or_else(|| error(&name, "alembic_version is empty: the MLflow schema was never created"))?;
        if !SUPPORTED_REVISIONS.contains(&revision.as_str()) {
            return Err(error(
                &name,
                format!(
                    "unsupported MLflow schema revision {revision}. Supported revisions (MLflow 2.0 to 3.17): {}. \
                     An older database: upgrade it with `mlflow db upgrade` first; a newer one needs a newer ferroflow.",
                    SUPPORTED_REVISIONS.join(", ")
                ),
            ));
        }
        let has_aliases = tables.has_table("registered_model_aliases")?;
        let has_datasets = tables.has_table("datasets")? && tables.has_table("inputs")?;
        let has_logged_models = tables.has_table("logged_models")?;
        let has_input_step = has_datasets && tables.has_column("inputs", "step")?;
        let has_storage_location = tables.has_column("model_versions", "storage_location")?;
        // Workspaces (1b5f0d9ad7c1) let names repeat across workspaces; ferroflow has one.
        if tables.has_column("experiments", "workspace")? {
            let others = tables.rows("SELECT count(*) FROM experiments WHERE workspace <> 'default'", &[])?;
            if others.first().map_or(0, |row| int(row, 0)) > 0 {
                return Err(error(
                    &name,
                    "experiments in workspaces other than 'default': ferroflow has no workspaces",
                ));
            }
        }
        Ok(MlflowDb {
            tables,
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

    fn rows(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Row>> {
        self.tables.rows(sql, params)
    }

    fn count(&mut self, sql: &str) -> Result<u64> {
        Ok(self.rows(sql, &[])?.first().map_or(0, |row| int(row, 0)) as u64)
    }

    /// Key/value pairs (tags, params) of one record, in the order they were written.
    fn pairs(&mut self, table: &str, columns: (&str, &str), owner: &[(&str, Cell)]) -> Result<Vec<Tag>> {
        let filter: Vec<String> =
            owner.iter().enumerate().map(|(i, (column, _))| format!("{column} = ?{}", i + 1)).collect();
        let sql = format!(
            "SELECT {}, {} FROM {table} WHERE {} ORDER BY {}",
            columns.0,
            columns.1,
            filter.join(" AND "),
            self.tables.insertion_order()
        );
        let params: Vec<Cell> = owner.iter().map(|(_, value)| value.clone()).collect();
        Ok(self.rows(&sql, &params)?.iter().map(|row| Tag::new(text(row, 0), text(row, 1))).collect())
    }

    fn experiments(&mut self) -> Result<Vec<ExperimentRecord>> {
        let after: i64 = if self.after.is_empty() { -1 } else { self.after.parse().unwrap_or(-1) };
        let rows = self.rows(
            "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time \
             FROM experiments WHERE experiment_id > ?1 ORDER BY experiment_id LIMIT ?2",
            &[Cell::Int(after), Cell::Int(BATCH_RECORDS as i64)],
        )?;
        let mut batch = Vec::with_capacity(rows.len());
        for row in rows {
            let id = int(&row, 0);
            batch.push(ExperimentRecord {
                experiment_id: id.to_string(),
                name: text(&row, 1),
                artifact_location: text(&row, 2),
                lifecycle_stage: text_or(&row, 3, "active"),
                creation_time: int(&row, 4),
                last_update_time: int(&row, 5),
                tags: self.pairs("experiment_tags", ("key", "value"), &[("experiment_id", Cell::Int(id))])?,
            });
        }
        if let Some(last) = batch.last() {
            self.after = last.experiment_id.clone();
        }
        Ok(batch)
    }

    fn runs(&mut self) -> Result<Vec<RunRecord>> {
        let rows = self.rows(
            "SELECT run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, \
             artifact_uri, deleted_time FROM runs WHERE run_uuid > ?1 ORDER BY run_uuid LIMIT ?2",
            &[Cell::Text(self.after.clone()), Cell::Int(BATCH_RECORDS as i64)],
        )?;
        let mut batch = Vec::with_capacity(rows.len());
        for row in rows {
            let run_id = text(&row, 0);
            let owner = [("run_uuid", Cell::Text(run_id.clone()))];
            let mut run = RunRecord {
                params: self.pairs("params", ("key", "value"), &owner)?,
                tags: self.pairs("tags", ("key", "value"), &owner)?,
                run_id,
                experiment_id: int(&row, 1).to_string(),
                name: text(&row, 2),
                user_id: text(&row, 3),
                status: text_or(&row, 4, "SCHEDULED"),
                start_time: int(&row, 5),
                end_time: opt_int(&row, 6),
                lifecycle_stage: text_or(&row, 7, "active"),
                artifact_uri: text(&row, 8),
                deleted_time: opt_int(&row, 9),
                dataset_inputs: Vec::new(),
                model_inputs: Vec::new(),
                model_outputs: Vec::new(),
            };
            if self.has_datasets {
                self.run_inputs(&mut run)?;
            }
            batch.push(run);
        }
        if let Some(last) = batch.last() {
            self.after = last.run_id.clone();
        }
        Ok(batch)
    }

    fn run_inputs(&mut self, run: &mut RunRecord) -> Result<()> {
        let order = self.tables.insertion_order();
        let run_id = Cell::Text(run.run_id.clone());
        let inputs = self.rows(
            &format!(
                "SELECT i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source, d.dataset_schema, \
                 d.dataset_profile FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id \
                 WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = ?1 \
                 ORDER BY i.{order}"
            ),
            std::slice::from_ref(&run_id),
        )?;
        // A dataset logged twice to a run (MLflow allows it across calls) is one input.
        let mut seen = HashSet::new();
        for row in inputs {
            let input = DatasetInputRecord {
                name: text(&row, 1),
                digest: text(&row, 2),
                source_type: text(&row, 3),
                source: text(&row, 4),
                schema: opt_text(&row, 5),
                profile: opt_text(&row, 6),
                tags: Vec::new(),
            };
            if !seen.insert((input.name.clone(), input.digest.clone())) {
                continue;
            }
            let tags = self.pairs("input_tags", ("name", "value"), &[("input_uuid", row[0].clone())])?;
            run.dataset_inputs.push(DatasetInputRecord { tags, ..input });
        }
        run.model_inputs = self
            .rows(
                &format!(
                    "SELECT destination_id FROM inputs WHERE source_type = 'RUN_INPUT' AND source_id = ?1 \
                     AND destination_type = 'MODEL_INPUT' ORDER BY {order}"
                ),
                std::slice::from_ref(&run_id),
            )?
            .iter()
            .map(|row| text(row, 0))
            .collect();
        let step = if self.has_input_step { "step" } else { "0" };
        run.model_outputs = self
            .rows(
                &format!(
                    "SELECT destination_id, {step} FROM inputs WHERE source_type = 'RUN_OUTPUT' AND source_id = ?1 \
                     AND destination_type = 'MODEL_OUTPUT' ORDER BY {order}"
                ),
                &[run_id],
            )?
            .iter()
            .map(|row| ModelOutputRecord { model_id: text(row, 0), step: int(row, 1) })
            .collect();
        Ok(())
    }

    fn metrics(&mut self) -> Result<Vec<MetricRecord>> {
        if self.series.is_none() {
            let series = self
                .rows("SELECT DISTINCT run_uuid, key FROM metrics ORDER BY run_uuid, key", &[])?
                .iter()
                .map(|row| (text(row, 0), text(row, 1)))
                .collect();
            self.series = Some(series);
        }
        let series = self.series.as_ref().map_or(0, Vec::len);
        let mut batch = Vec::new();
        let mut points = 0;
        while self.series_at < series && batch.len() < BATCH_RECORDS && points < BATCH_POINTS {
            let (run_id, key) = self.series.as_ref().map(|s| s[self.series_at].clone()).unwrap_or_default();
            self.series_at += 1;
            let history: Vec<Point> = self
                .rows(
                    "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_uuid = ?1 AND key = ?2 \
                     ORDER BY step, timestamp, value",
                    &[Cell::Text(run_id.clone()), Cell::Text(key.clone())],
                )?
                .iter()
                .map(|row| {
                    // MLflow stores NaN as 0 with is_nan set (and, before 181f10493468, NULL).
                    let is_nan = row[3].bool().unwrap_or(false);
                    Point {
                        step: int(row, 0),
                        timestamp: int(row, 1),
                        value: if is_nan { f64::NAN } else { row[2].real().unwrap_or(f64::NAN) },
                    }
                })
                .collect();
            points += history.len();
            batch.push(MetricRecord { run_id, key, points: history });
        }
        Ok(batch)
    }

    fn logged_models(&mut self) -> Result<Vec<LoggedModelRecord>> {
        if !self.has_logged_models {
            return Ok(Vec::new());
        }
        let rows = self.rows(
            "SELECT model_id, experiment_id, name, artifact_location, status, status_message, model_type, \
             source_run_id, creation_timestamp_ms, last_updated_timestamp_ms, lifecycle_stage \
             FROM logged_models WHERE model_id > ?1 ORDER BY model_id LIMIT ?2",
            &[Cell::Text(self.after.clone()), Cell::Int(BATCH_RECORDS as i64)],
        )?;
        let mut batch = Vec::with_capacity(rows.len());
        for row in rows {
            let model_id = text(&row, 0);
            let owner = [("model_id", Cell::Text(model_id.clone()))];
            let status = int(&row, 4);
            let metrics = self
                .rows(
                    "SELECT metric_name, metric_value, metric_timestamp_ms, metric_step, run_id, dataset_name, \
                     dataset_digest FROM logged_model_metrics WHERE model_id = ?1",
                    &[owner[0].1.clone()],
                )?
                .iter()
                .map(|m| LoggedModelMetricRecord {
                    key: text(m, 0),
                    value: m[1].real().unwrap_or(f64::NAN),
                    timestamp: int(m, 2),
                    step: int(m, 3),
                    run_id: text(m, 4),
                    dataset_name: text(m, 5),
                    dataset_digest: text(m, 6),
                })
                .collect();
            batch.push(LoggedModelRecord {
                tags: self.pairs("logged_model_tags", ("tag_key", "tag_value"), &owner)?,
                params: self.pairs("logged_model_params", ("param_key", "param_value"), &owner)?,
                metrics,
                model_id,
                experiment_id: int(&row, 1).to_string(),
                name: text(&row, 2),
                artifact_uri: text(&row, 3),
                status: LoggedModelStatus::from_number(status)
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| status.to_string()),
                status_message: opt_text(&row, 5),
                model_type: text(&row, 6),
                source_run_id: opt_text(&row, 7),
                creation_time: int(&row, 8),
                last_updated_time: int(&row, 9),
                lifecycle_stage: text_or(&row, 10, "active"),
            });
        }
        if let Some(last) = batch.last() {
            self.after = last.model_id.clone();
        }
        Ok(batch)
    }

    fn registered_models(&mut self) -> Result<Vec<RegisteredModelRecord>> {
        let rows = self.rows(
            "SELECT name, creation_time, last_updated_time, description FROM registered_models \
             WHERE name > ?1 ORDER BY name LIMIT ?2",
            &[Cell::Text(self.after.clone()), Cell::Int(BATCH_RECORDS as i64)],
        )?;
        let mut batch = Vec::with_capacity(rows.len());
        for row in rows {
            let name = text(&row, 0);
            let owner = [("name", Cell::Text(name.clone()))];
            let created = int(&row, 1);
            let aliases = if self.has_aliases {
                self.rows(
                    "SELECT alias, version FROM registered_model_aliases WHERE name = ?1 ORDER BY alias",
                    &[owner[0].1.clone()],
                )?
                .iter()
                .map(|a| AliasRecord { alias: text(a, 0), version: int(a, 1) })
                .collect()
            } else {
                Vec::new()
            };
            batch.push(RegisteredModelRecord {
                tags: self.pairs("registered_model_tags", ("key", "value"), &owner)?,
                aliases,
                name,
                creation_time: created,
                last_updated_time: opt_int(&row, 2).unwrap_or(created),
                description: opt_text(&row, 3),
            });
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
        let rows = self.rows(
            &format!(
                "SELECT name, version, creation_time, last_updated_time, description, user_id, current_stage, source, \
                 {storage}, run_id, run_link, status, status_message FROM model_versions \
                 WHERE name > ?1 OR (name = ?1 AND version > ?2) ORDER BY name, version LIMIT ?3"
            ),
            &[Cell::Text(after_name), Cell::Int(after_version), Cell::Int(BATCH_RECORDS as i64)],
        )?;
        let mut batch = Vec::with_capacity(rows.len());
        for row in rows {
            let (name, version) = (text(&row, 0), int(&row, 1));
            let created = int(&row, 2);
            batch.push(ModelVersionRecord {
                tags: self.pairs(
                    "model_version_tags",
                    ("key", "value"),
                    &[("name", Cell::Text(name.clone())), ("version", Cell::Int(version))],
                )?,
                name,
                version,
                creation_time: created,
                last_updated_time: opt_int(&row, 3).unwrap_or(created),
                description: opt_text(&row, 4),
                user_id: opt_text(&row, 5),
                current_stage: text_or(&row, 6, "None"),
                source: opt_text(&row, 7),
                storage_location: opt_text(&row, 8),
                run_id: opt_text(&row, 9),
                run_link: opt_text(&row, 10),
                status: text_or(&row, 11, "READY"),
                status_message: opt_text(&row, 12),
            });
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
            metric_histories: self
                .count("SELECT count(*) FROM (SELECT DISTINCT run_uuid, key FROM metrics) AS series")?,
            metric_points: self.count("SELECT count(*) FROM metrics")?,
            dataset_inputs: inputs,
            logged_models: if self.has_logged_models { self.count("SELECT count(*) FROM logged_models")? } else { 0 },
            registered_models: self.count("SELECT count(*) FROM registered_models")?,
            model_versions: self.count("SELECT count(*) FROM model_versions")?,
            webhooks: 0,
        })
    }

    fn identities(&mut self) -> Result<super::Identities> {
        let experiments = self
            .rows("SELECT experiment_id, name FROM experiments", &[])?
            .iter()
            .map(|row| (int(row, 0).to_string(), text(row, 1)))
            .collect();
        let models = self.rows("SELECT name FROM registered_models", &[])?.iter().map(|row| text(row, 0)).collect();
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
