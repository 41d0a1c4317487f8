//! Whole-record writes that keep the ids they are given, for `ferroflow import`.
//!
//! Every other write generates its ids (a run's uuid, an experiment's number, a version
//! number), but a team moving in keeps its ids, or every `runs:/<id>/…` and
//! `models:/<name>/<version>` URI it has written down would break. Each method upserts a
//! batch of whole records in one transaction: the record as given replaces what is
//! stored under its id, and metric points and tags already present are kept once. So an
//! import run twice, or interrupted and run again, converges to the same store.
//!
//! The records are also the lines of ferroflow's export format (one JSON object a line),
//! which is why they derive serde: the two cannot drift apart.

use async_trait::async_trait;
use ferroflow_core::registry::Stage;
use ferroflow_core::types::{LifecycleStage, LoggedModelStatus, Metric, RunStatus};
use ferroflow_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::series::Series;

/// A `{key, value}` pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag { key: key.into(), value: value.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentRecord {
    /// A decimal integer, as MLflow numbers experiments.
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    /// `active` or `deleted`.
    pub lifecycle_stage: String,
    pub creation_time: i64,
    pub last_update_time: i64,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInputRecord {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
    /// The input's tags (`mlflow.data.context`, …).
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelOutputRecord {
    pub model_id: String,
    pub step: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub experiment_id: String,
    pub name: String,
    pub user_id: String,
    /// `RUNNING`, `SCHEDULED`, `FINISHED`, `FAILED` or `KILLED`.
    pub status: String,
    pub start_time: i64,
    #[serde(default)]
    pub end_time: Option<i64>,
    pub lifecycle_stage: String,
    pub artifact_uri: String,
    #[serde(default)]
    pub deleted_time: Option<i64>,
    #[serde(default)]
    pub params: Vec<Tag>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// In the order they were logged.
    #[serde(default)]
    pub dataset_inputs: Vec<DatasetInputRecord>,
    #[serde(default)]
    pub model_inputs: Vec<String>,
    #[serde(default)]
    pub model_outputs: Vec<ModelOutputRecord>,
}

/// One point of a metric history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub step: i64,
    pub timestamp: i64,
    #[serde(with = "exact_double")]
    pub value: f64,
}

impl Point {
    /// Equality of the stored bits (NaN equals NaN), as the round-trip tests compare.
    pub fn same_as(&self, other: &Point) -> bool {
        self.step == other.step
            && self.timestamp == other.timestamp
            && (self.value.to_bits() == other.value.to_bits() || (self.value.is_nan() && other.value.is_nan()))
    }
}

/// The whole history of one run's metric key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRecord {
    pub run_id: String,
    pub key: String,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelMetricRecord {
    pub key: String,
    #[serde(with = "exact_double")]
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    pub run_id: String,
    #[serde(default)]
    pub dataset_name: String,
    #[serde(default)]
    pub dataset_digest: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelRecord {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub artifact_uri: String,
    /// `LoggedModelStatus`'s proto name, e.g. `LOGGED_MODEL_READY`.
    pub status: String,
    #[serde(default)]
    pub status_message: Option<String>,
    #[serde(default)]
    pub model_type: String,
    #[serde(default)]
    pub source_run_id: Option<String>,
    pub creation_time: i64,
    pub last_updated_time: i64,
    pub lifecycle_stage: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub params: Vec<Tag>,
    #[serde(default)]
    pub metrics: Vec<LoggedModelMetricRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRecord {
    pub alias: String,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredModelRecord {
    pub name: String,
    pub creation_time: i64,
    pub last_updated_time: i64,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Stored as given: an alias may name a version imported later in the same import.
    #[serde(default)]
    pub aliases: Vec<AliasRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersionRecord {
    pub name: String,
    pub version: i64,
    pub creation_time: i64,
    pub last_updated_time: i64,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    /// `None`, `Staging`, `Production` or `Archived`.
    pub current_stage: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub storage_location: Option<String>,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub run_link: Option<String>,
    #[serde(default = "ready")]
    pub status: String,
    #[serde(default)]
    pub status_message: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

fn ready() -> String {
    "READY".into()
}

/// How much a store holds, to tell an empty target from one in use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub experiments: u64,
    pub runs: u64,
    pub logged_models: u64,
    pub registered_models: u64,
}

impl StoreCounts {
    /// Nothing but the default experiment every store starts with.
    pub fn is_empty(&self) -> bool {
        self.experiments <= 1 && self.runs == 0 && self.logged_models == 0 && self.registered_models == 0
    }
}

/// Upserts of whole records under the ids they carry; see the module docs.
///
/// Records must arrive parents first (experiments, runs, metrics, logged models,
/// registered models, versions); a record whose parent is missing is refused with the
/// id it names. Every method validates its whole batch before writing any of it.
#[async_trait]
pub trait ImportStore: Send + Sync + 'static {
    async fn store_counts(&self) -> Result<StoreCounts>;
    async fn import_experiments(&self, batch: Vec<ExperimentRecord>) -> Result<()>;
    async fn import_runs(&self, batch: Vec<RunRecord>) -> Result<()>;
    /// Adds the points not already stored, then recomputes the key's latest value and
    /// history summary from the whole stored history.
    async fn import_metrics(&self, batch: Vec<MetricRecord>) -> Result<()>;
    async fn import_logged_models(&self, batch: Vec<LoggedModelRecord>) -> Result<()>;
    async fn import_registered_models(&self, batch: Vec<RegisteredModelRecord>) -> Result<()>;
    async fn import_model_versions(&self, batch: Vec<ModelVersionRecord>) -> Result<()>;
    /// The deleted versions (hidden from every read, kept so their numbers are never
    /// reused), by model name and version, for an export to carry their numbers.
    async fn deleted_model_versions(&self) -> Result<Vec<ModelVersionRecord>>;
    /// When each deleted run was deleted, by run id: no read shows it, and garbage
    /// collection's `--older-than` counts from it, so an export carries it.
    async fn run_deleted_times(&self) -> Result<Vec<(String, i64)>>;
}

/// [`ImportStore::run_deleted_times`]' query, the same on both SQL schemas.
pub const RUN_DELETED_TIMES_SQL: &str =
    "SELECT run_uuid, deleted_time FROM runs WHERE deleted_time IS NOT NULL ORDER BY run_uuid";

/// [`ImportStore::deleted_model_versions`]' query, the same on both SQL schemas; its
/// rows are (name, version, creation_time, last_updated_time).
pub const DELETED_VERSIONS_SQL: &str = "SELECT m.name, v.version, v.creation_time, v.last_updated_time \
     FROM model_versions v JOIN registered_models m ON m.model_pk = v.model_pk \
     WHERE v.current_stage = 'Deleted_Internal' ORDER BY m.name, v.version";

/// A deleted version as exported: its number and times only, as MLflow redacts the rest.
pub fn deleted_version_record(
    name: String,
    version: i64,
    creation_time: i64,
    last_updated_time: i64,
) -> ModelVersionRecord {
    ModelVersionRecord {
        name,
        version,
        creation_time,
        last_updated_time,
        description: None,
        user_id: None,
        current_stage: crate::registry_rules::DELETED_STAGE.to_string(),
        source: None,
        storage_location: None,
        run_id: None,
        run_link: None,
        status: ready(),
        status_message: None,
        tags: Vec::new(),
    }
}

// ---------------------------------------------------------------- shared rules

/// The experiment id as the integer both stores key experiments by.
pub fn experiment_number(experiment_id: &str) -> Result<i64> {
    experiment_id.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
        Error::invalid_parameter(format!("experiment id {experiment_id:?} is not a non-negative integer"))
    })
}

fn check_stage(what: &str, stage: &str) -> Result<()> {
    LifecycleStage::parse(stage)
        .map(|_| ())
        .ok_or_else(|| Error::invalid_parameter(format!("{what}: lifecycle stage {stage:?} is not active or deleted")))
}

pub fn check_experiment(record: &ExperimentRecord) -> Result<i64> {
    check_stage(&format!("experiment {}", record.experiment_id), &record.lifecycle_stage)?;
    if record.name.is_empty() {
        return Err(Error::invalid_parameter(format!("experiment {} has an empty name", record.experiment_id)));
    }
    experiment_number(&record.experiment_id)
}

/// The run's status number as stored, and its experiment's number.
pub fn check_run(record: &RunRecord) -> Result<(i32, i64)> {
    check_stage(&format!("run {}", record.run_id), &record.lifecycle_stage)?;
    if record.run_id.is_empty() {
        return Err(Error::invalid_parameter("a run has an empty id"));
    }
    let status = RunStatus::parse(&record.status).ok_or_else(|| {
        Error::invalid_parameter(format!("run {}: unknown status {:?}", record.run_id, record.status))
    })?;
    Ok((status.number(), experiment_number(&record.experiment_id)?))
}

/// The logged model's status number as stored, and its experiment's number.
pub fn check_logged_model(record: &LoggedModelRecord) -> Result<(i32, i64)> {
    check_stage(&format!("logged model {}", record.model_id), &record.lifecycle_stage)?;
    let status = LoggedModelStatus::parse(&record.status).ok_or_else(|| {
        Error::invalid_parameter(format!("logged model {}: unknown status {:?}", record.model_id, record.status))
    })?;
    Ok((status.number(), experiment_number(&record.experiment_id)?))
}

pub fn check_model_version(record: &ModelVersionRecord) -> Result<()> {
    if record.version < 1 {
        return Err(Error::invalid_parameter(format!("{} version {} is not positive", record.name, record.version)));
    }
    // A deleted version stays as a hidden row in both MLflow and ferroflow, so that its
    // number is never given out again; it is imported as such.
    if record.current_stage == crate::registry_rules::DELETED_STAGE {
        return Ok(());
    }
    Stage::parse(&record.current_stage).map(|_| ())
}

/// An import must not rename an experiment that is not its own: the same id under
/// another name in the target is a different experiment. The default experiment "0",
/// which every store starts with, is the exception.
pub fn check_experiment_id_free(record: &ExperimentRecord, id: i64, existing_name: Option<String>) -> Result<()> {
    match existing_name {
        Some(existing) if id != 0 && existing != record.name => Err(Error::already_exists(format!(
            "experiment id {id} is taken in the target by {existing:?}, not {:?}: the stores do not share ids",
            record.name
        ))),
        _ => Ok(()),
    }
}

pub fn missing_parent(kind: &str, id: &str, child: &str) -> Error {
    Error::invalid_parameter(format!("{child} names {kind} {id}, which is not in the store (import it first)"))
}

/// A point as the stores keep it: infinities clamped, as MLflow's SQL store does.
pub fn stored_point(point: &Point) -> Point {
    Point { value: crate::common::stored_metric_value(point.value), ..*point }
}

/// The latest value and history summary of a whole stored history, given in stored order
/// (step, timestamp, value): the same summary appending those points one by one gives.
pub fn summarize(key: &str, stored_history: &[Point]) -> Series {
    let mut series = Series::loaded(None);
    for point in stored_history {
        series.append(&Metric::new(key, point.value, point.timestamp, point.step));
    }
    series
}

/// Doubles as JSON numbers, and NaN and the infinities (which JSON lacks) as the strings
/// `"NaN"`, `"Infinity"` and `"-Infinity"`, MLflow's own spelling. Finite values
/// round-trip bit for bit (serde_json's `float_roundtrip`), negative zero included.
pub mod exact_double {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        ferroflow_core::types::serialize_double(value, serializer)
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        match Either::deserialize(deserializer)? {
            Either::Number(value) => Ok(value),
            Either::Text(text) => match text.as_str() {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!("{other:?} is not a number"))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_round_trip_through_json_bit_for_bit() {
        let values =
            [0.1, -0.0, f64::MIN_POSITIVE, 5e-324, 1.0 / 3.0, f64::MAX, f64::NAN, f64::INFINITY, -f64::INFINITY];
        for value in values {
            let point = Point { step: 1, timestamp: 2, value };
            let json = serde_json::to_string(&point).unwrap();
            let back: Point = serde_json::from_str(&json).unwrap();
            assert!(point.same_as(&back), "{value:?} came back as {:?} via {json}", back.value);
        }
        assert!(serde_json::from_str::<Point>(r#"{"step":0,"timestamp":0,"value":"1.5"}"#).is_err());
    }

    #[test]
    fn a_summary_matches_appending_in_order() {
        let points: Vec<Point> = (0..5).map(|i| Point { step: i, timestamp: 100 + i, value: i as f64 }).collect();
        let series = summarize("m", &points);
        assert_eq!(series.shape.point_count, 5);
        assert!(series.shape.regular && series.shape.time_ordered);
        assert_eq!(series.latest.unwrap().step, 4);
    }
}
