//! `ferroflow export` and `ferroflow import`: moving a team's history in and out.
//!
//! Everything travels as [`ferroflow_store::import`] records, in dependency order
//! (experiments, runs, metric histories, logged models, registered models, versions):
//! a [`Source`] yields them in batches (an export directory, a real MLflow database),
//! and the target store upserts each batch under the ids it carries, so a second
//! import, or one restarted after a crash, converges to the same store.

pub mod artifacts;
pub mod export;
pub mod format;
pub mod mlflow;
pub mod pipeline;

use ferroflow_store::import::{
    ExperimentRecord, LoggedModelRecord, MetricRecord, ModelVersionRecord, RegisteredModelRecord, RunRecord,
};

/// What went wrong moving data; every message names the file, table or id concerned.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}, line {line}: {message}")]
    Format { path: String, line: usize, message: String },
    #[error("{0}")]
    Source(String),
    #[error("MLflow database {path}: {message}")]
    Mlflow { path: String, message: String },
    #[error("{0}")]
    Refused(String),
    #[error("the store refused a batch: {0}")]
    Store(String),
}

impl TransferError {
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        TransferError::Io { path: path.to_string(), source }
    }
}

impl From<ferroflow_core::Error> for TransferError {
    fn from(error: ferroflow_core::Error) -> Self {
        TransferError::Store(error.message)
    }
}

pub type Result<T> = std::result::Result<T, TransferError>;

/// One batch of records of one kind.
pub enum Batch {
    Experiments(Vec<ExperimentRecord>),
    Runs(Vec<RunRecord>),
    Metrics(Vec<MetricRecord>),
    LoggedModels(Vec<LoggedModelRecord>),
    RegisteredModels(Vec<RegisteredModelRecord>),
    ModelVersions(Vec<ModelVersionRecord>),
}

impl Batch {
    /// Progress units: one per record, and one per metric point (histories dominate).
    pub fn units(&self) -> u64 {
        match self {
            Batch::Experiments(b) => b.len() as u64,
            Batch::Runs(b) => b.len() as u64,
            Batch::Metrics(b) => b.iter().map(|m| m.points.len() as u64).sum(),
            Batch::LoggedModels(b) => b.len() as u64,
            Batch::RegisteredModels(b) => b.len() as u64,
            Batch::ModelVersions(b) => b.len() as u64,
        }
    }
}

/// Counts of every kind, for the manifest, the progress bar and the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub experiments: u64,
    pub runs: u64,
    pub metric_histories: u64,
    pub metric_points: u64,
    pub dataset_inputs: u64,
    pub logged_models: u64,
    pub registered_models: u64,
    pub model_versions: u64,
    #[serde(default)]
    pub webhooks: u64,
}

impl Counts {
    pub fn units(&self) -> u64 {
        self.experiments
            + self.runs
            + self.metric_points
            + self.logged_models
            + self.registered_models
            + self.model_versions
    }

    pub fn add(&mut self, batch: &Batch) {
        match batch {
            Batch::Experiments(b) => self.experiments += b.len() as u64,
            Batch::Runs(b) => {
                self.runs += b.len() as u64;
                self.dataset_inputs += b.iter().map(|r| r.dataset_inputs.len() as u64).sum::<u64>();
            }
            Batch::Metrics(b) => {
                self.metric_histories += b.len() as u64;
                self.metric_points += b.iter().map(|m| m.points.len() as u64).sum::<u64>();
            }
            Batch::LoggedModels(b) => self.logged_models += b.len() as u64,
            Batch::RegisteredModels(b) => self.registered_models += b.len() as u64,
            Batch::ModelVersions(b) => self.model_versions += b.len() as u64,
        }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} experiments, {} runs, {} metric histories ({} points), {} dataset inputs, {} logged models, \
             {} registered models, {} model versions",
            self.experiments,
            self.runs,
            self.metric_histories,
            self.metric_points,
            self.dataset_inputs,
            self.logged_models,
            self.registered_models,
            self.model_versions
        )?;
        if self.webhooks > 0 {
            write!(f, ", {} webhooks", self.webhooks)?;
        }
        Ok(())
    }
}

/// A source's experiments as (id, name), and its registered model names.
pub type Identities = (Vec<(String, String)>, Vec<String>);

/// Where an import reads from.
pub trait Source {
    /// What the source holds, counted before anything is read (for the progress bar).
    fn counts(&mut self) -> Result<Counts>;
    /// The source's experiments (id, name) and registered model names, to recognise a
    /// target that an earlier run of this same import filled.
    fn identities(&mut self) -> Result<Identities>;
    /// The next batch, parents before children; `None` once everything was read.
    fn next_batch(&mut self) -> Result<Option<Batch>>;
    /// Where the source's artifacts are, if it knows.
    fn artifacts_root(&self) -> Option<std::path::PathBuf> {
        None
    }
}

/// How many records of one kind go into one batch (one transaction).
pub const BATCH_RECORDS: usize = 200;
/// A metric batch closes once it holds this many points.
pub const BATCH_POINTS: usize = 20_000;
