//! The one storage interface ferroflow's HTTP layer talks to.
//!
//! Each method is one MLflow operation and is atomic: it either applies completely or,
//! on error, changes nothing. Backends (SQLite, PostgreSQL) implement [`TrackingStore`]
//! and must all pass the shared [`conformance`] suite.

pub mod auth;
pub mod common;
pub mod conformance;
pub mod gc;
pub mod import;
pub mod in_memory;
pub mod logged_models;
pub mod registry;
pub mod registry_rules;
pub mod series;

pub use auth::AuthStore;
pub use gc::GcStore;
pub use import::ImportStore;
pub use logged_models::LoggedModelStore;
pub use registry::RegistryStore;

use async_trait::async_trait;
use ferroflow_core::downsample::ChartPoint;
use ferroflow_core::types::{
    DatasetInput, DatasetSummary, Experiment, ExperimentTag, Metric, ModelInput, ModelOutput, Page, Param, Run,
    RunInfo, RunStatus, RunTag, ViewType,
};
use ferroflow_core::Result;

#[derive(Debug, Clone, Default)]
pub struct CreateExperiment {
    pub name: String,
    /// Where the experiment's artifacts go; `None` means `<default root>/<experiment id>`.
    pub artifact_location: Option<String>,
    pub tags: Vec<ExperimentTag>,
}

#[derive(Debug, Clone)]
pub struct SearchExperiments {
    pub filter: Option<String>,
    pub order_by: Vec<String>,
    pub view_type: ViewType,
    pub max_results: usize,
    pub page_token: Option<String>,
    /// Only what this caller may read (`--app-name basic-auth`); `None` is everything.
    pub visible: Option<ferroflow_core::auth::Visibility>,
}

#[derive(Debug, Clone, Default)]
pub struct CreateRun {
    /// `None` means the default experiment, "0".
    pub experiment_id: Option<String>,
    pub user_id: Option<String>,
    pub run_name: Option<String>,
    /// `None` means now.
    pub start_time: Option<i64>,
    pub tags: Vec<RunTag>,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateRun {
    pub run_id: String,
    pub status: Option<RunStatus>,
    pub end_time: Option<i64>,
    pub run_name: Option<String>,
}

/// A validated log-batch. Single log-metric/log-parameter/set-tag calls are batches of one.
#[derive(Debug, Clone, Default)]
pub struct LogBatch {
    pub run_id: String,
    pub metrics: Vec<Metric>,
    pub params: Vec<Param>,
    pub tags: Vec<RunTag>,
}

#[derive(Debug, Clone)]
pub struct SearchRuns {
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    pub run_view_type: ViewType,
    pub max_results: usize,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct MetricHistoryQuery {
    pub run_id: String,
    pub metric_key: String,
    /// `None` returns the whole history in one page.
    pub max_results: Option<usize>,
    pub page_token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BulkIntervalQuery {
    pub run_ids: Vec<String>,
    pub metric_key: String,
    /// Inclusive step range; both or neither.
    pub steps: Option<(i64, i64)>,
    pub max_results: usize,
}

/// One series of a chart read: a run's metric key over an inclusive step range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRange {
    pub run_id: String,
    pub key: String,
    pub steps: (i64, i64),
}

/// One series of a chart answer ([`TrackingStore::chart_series`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSeries {
    pub run_id: String,
    pub key: String,
    /// How many stored points lie in the requested range.
    pub total: u64,
    /// Whether `points` are the range's per-bucket extremes rather than all its points.
    pub sampled: bool,
    pub points: Vec<ChartPoint>,
    /// The highest step of the whole series (whatever the range); `None` when it has no
    /// points (or the run is unknown).
    pub last_step: Option<i64>,
}

impl ChartSeries {
    /// The answer for a series before (or without) any stored points.
    pub fn empty(run_id: &str, key: &str) -> Self {
        Self {
            run_id: run_id.to_owned(),
            key: key.to_owned(),
            total: 0,
            sampled: false,
            points: Vec::new(),
            last_step: None,
        }
    }
}

#[async_trait]
pub trait TrackingStore: Send + Sync + 'static {
    /// Returns the new experiment's id.
    async fn create_experiment(&self, request: CreateExperiment) -> Result<String>;
    async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment>;
    async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment>;
    async fn search_experiments(&self, request: SearchExperiments) -> Result<Page<Experiment>>;
    async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()>;
    /// Soft-deletes the experiment and its runs.
    async fn delete_experiment(&self, experiment_id: &str) -> Result<()>;
    async fn restore_experiment(&self, experiment_id: &str) -> Result<()>;
    async fn set_experiment_tag(&self, experiment_id: &str, tag: ExperimentTag) -> Result<()>;
    async fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()>;

    async fn create_run(&self, request: CreateRun) -> Result<Run>;
    async fn get_run(&self, run_id: &str) -> Result<Run>;
    async fn update_run(&self, request: UpdateRun) -> Result<RunInfo>;
    async fn delete_run(&self, run_id: &str) -> Result<()>;
    async fn restore_run(&self, run_id: &str) -> Result<()>;
    async fn search_runs(&self, request: SearchRuns) -> Result<Page<Run>>;

    async fn log_batch(&self, batch: LogBatch) -> Result<()>;
    async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()>;
    async fn log_inputs(&self, run_id: &str, datasets: Vec<DatasetInput>, models: Vec<ModelInput>) -> Result<()>;
    async fn log_outputs(&self, run_id: &str, models: Vec<ModelOutput>) -> Result<()>;
    /// The legacy `runs/log-model` record: appends `entry` (a JSON object, see
    /// `ferroflow_core::model_history`) to the active run's `mlflow.log-model.history` tag
    /// in one write, so concurrent appends are never lost.
    async fn append_model_history(&self, run_id: &str, entry: String) -> Result<()>;

    async fn get_metric_history(&self, query: MetricHistoryQuery) -> Result<Page<Metric>>;
    /// Metric points of several runs, each run sampled down to `max_results` points;
    /// every returned metric carries its `run_id`.
    async fn get_metric_history_bulk_interval(&self, query: BulkIntervalQuery) -> Result<Vec<Metric>>;
    /// The points of `metric_key` in each of `run_ids` (unknown runs give none), each
    /// carrying its `run_id`, in MLflow's `get-history-bulk` order: by run id (byte
    /// order), then timestamp, step and value; at most `max_results` points in all.
    async fn get_metric_history_bulk(
        &self,
        run_ids: Vec<String>,
        metric_key: String,
        max_results: usize,
    ) -> Result<Vec<Metric>>;
    /// Each series' points in its step range, in (step, timestamp, value) order, reduced
    /// by [`ferroflow_core::downsample::Downsampler`] to at most two points per bucket
    /// when it has more than `buckets`; buckets span the steps from the range's first
    /// point to its last. One answer per range, in order; an unknown run or key gives an
    /// empty series. Values are what the store returns elsewhere (±∞ as stored).
    async fn chart_series(&self, ranges: Vec<SeriesRange>, buckets: usize) -> Result<Vec<ChartSeries>>;
    /// The distinct (dataset, input context) pairs that runs of `experiment_ids` took as
    /// inputs, at most `max_results`, in the order the datasets were first logged.
    async fn search_datasets(&self, experiment_ids: Vec<String>, max_results: usize) -> Result<Vec<DatasetSummary>>;
}

/// MLflow's cap on one dataset search's answer.
pub const MAX_DATASET_SUMMARIES: usize = 1000;

/// Everything a metadata backend provides; the HTTP layer holds one `Arc<dyn Store>`.
pub trait Store: TrackingStore + RegistryStore + LoggedModelStore + GcStore + ImportStore + AuthStore {}

impl<T: TrackingStore + RegistryStore + LoggedModelStore + GcStore + ImportStore + AuthStore> Store for T {}
