//! ferroflow's embedded metadata store on SQLite.
//!
//! Writes go through one writer thread that commits concurrent requests together
//! (group commit); reads use pooled WAL connections and never block writes.

mod auth;
mod bulk_reads;
mod db;
mod experiments;
mod gc;
mod import;
mod logged_models;
mod registry;
mod runs;
mod schema;
mod search;
mod series;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferroflow_core::paging::{decode_offset, page_from};
use ferroflow_core::types::{
    DatasetInput, DatasetSummary, Experiment, ExperimentTag, LifecycleStage, Metric, ModelInput, ModelOutput, Page,
    Run, RunInfo,
};
use ferroflow_core::Result;
use ferroflow_store::{
    BulkIntervalQuery, ChartSeries, CreateExperiment, CreateRun, LogBatch, MetricHistoryQuery, SearchExperiments,
    SearchRuns, SeriesRange, TrackingStore, UpdateRun,
};

pub use db::{SyncMode, DEFAULT_QUERY_TIMEOUT};

use db::Database;

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub path: PathBuf,
    /// Root under which new experiments get their artifact location, e.g. `mlflow-artifacts:/`.
    pub default_artifact_root: String,
    pub sync: SyncMode,
    /// How long one read (a search, mostly) may run before it is stopped and answered
    /// with a 400 asking to narrow it; [`DEFAULT_QUERY_TIMEOUT`] unless configured.
    pub query_timeout: Duration,
}

#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Database>,
    default_artifact_root: Arc<str>,
}

pub(crate) use ferroflow_store::common::now_millis;

impl SqliteStore {
    /// Opens or creates the database at `options.path`, migrating it to the current schema.
    pub fn open(options: SqliteOptions) -> Result<Self> {
        let root = options.default_artifact_root.clone();
        let db = Database::open(&options.path, options.sync, options.query_timeout, |conn| {
            schema::migrate(conn)?;
            experiments::ensure_default_experiment(conn, &root, now_millis())
        })?;
        Ok(Self { db, default_artifact_root: root.into() })
    }

    pub fn path(&self) -> &Path {
        self.db.path()
    }
}

#[async_trait]
impl TrackingStore for SqliteStore {
    async fn create_experiment(&self, request: CreateExperiment) -> Result<String> {
        let root = Arc::clone(&self.default_artifact_root);
        self.db.write(move |conn| experiments::create(conn, request, &root, now_millis())).await
    }

    async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let id = experiment_id.to_string();
        self.db.read(move |conn| experiments::get(conn, &id)).await
    }

    async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        let name = name.to_string();
        self.db.read(move |conn| experiments::get_by_name(conn, &name)).await
    }

    async fn search_experiments(&self, request: SearchExperiments) -> Result<Page<Experiment>> {
        self.db.read_within(move |conn, budget| search::experiments(conn, request, budget)).await
    }

    async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        let (id, name) = (experiment_id.to_string(), new_name.to_string());
        self.db.write(move |conn| experiments::rename(conn, &id, &name, now_millis())).await
    }

    async fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        let id = experiment_id.to_string();
        self.db.write(move |conn| experiments::set_lifecycle(conn, &id, LifecycleStage::Deleted, now_millis())).await
    }

    async fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        let id = experiment_id.to_string();
        self.db.write(move |conn| experiments::set_lifecycle(conn, &id, LifecycleStage::Active, now_millis())).await
    }

    async fn set_experiment_tag(&self, experiment_id: &str, tag: ExperimentTag) -> Result<()> {
        let id = experiment_id.to_string();
        self.db.write(move |conn| experiments::set_tag(conn, &id, tag)).await
    }

    async fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        let (id, key) = (experiment_id.to_string(), key.to_string());
        self.db.write(move |conn| experiments::delete_tag(conn, &id, &key)).await
    }

    async fn create_run(&self, request: CreateRun) -> Result<Run> {
        self.db.write(move |conn| runs::create(conn, request)).await
    }

    async fn get_run(&self, run_id: &str) -> Result<Run> {
        let id = run_id.to_string();
        self.db.read(move |conn| runs::load(conn, &id)).await
    }

    async fn update_run(&self, request: UpdateRun) -> Result<RunInfo> {
        self.db.write(move |conn| runs::update(conn, request)).await
    }

    async fn delete_run(&self, run_id: &str) -> Result<()> {
        let id = run_id.to_string();
        self.db.write(move |conn| runs::set_lifecycle(conn, &id, LifecycleStage::Deleted, now_millis())).await
    }

    async fn restore_run(&self, run_id: &str) -> Result<()> {
        let id = run_id.to_string();
        self.db.write(move |conn| runs::set_lifecycle(conn, &id, LifecycleStage::Active, now_millis())).await
    }

    async fn search_runs(&self, request: SearchRuns) -> Result<Page<Run>> {
        self.db.read(move |conn| search::runs(conn, request)).await
    }

    async fn log_batch(&self, batch: LogBatch) -> Result<()> {
        self.db.write(move |conn| runs::log_batch(conn, batch)).await
    }

    async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        let (id, key) = (run_id.to_string(), key.to_string());
        self.db.write(move |conn| runs::delete_tag(conn, &id, &key)).await
    }

    async fn log_inputs(&self, run_id: &str, datasets: Vec<DatasetInput>, models: Vec<ModelInput>) -> Result<()> {
        let id = run_id.to_string();
        self.db.write(move |conn| runs::log_inputs(conn, &id, datasets, models)).await
    }

    async fn append_model_history(&self, run_id: &str, entry: String) -> Result<()> {
        let id = run_id.to_string();
        self.db.write(move |conn| runs::append_model_history(conn, &id, &entry)).await
    }

    async fn log_outputs(&self, run_id: &str, models: Vec<ModelOutput>) -> Result<()> {
        let id = run_id.to_string();
        self.db.write(move |conn| runs::log_outputs(conn, &id, models)).await
    }

    async fn get_metric_history(&self, query: MetricHistoryQuery) -> Result<Page<Metric>> {
        self.db
            .read(move |conn| {
                let offset = decode_offset(query.page_token.as_deref())?;
                let points = runs::metric_history(conn, &query.run_id, &query.metric_key, offset, query.max_results)?;
                Ok(match query.max_results {
                    Some(max_results) => page_from(points, offset, max_results),
                    None => Page { items: points, next_page_token: None },
                })
            })
            .await
    }

    async fn get_metric_history_bulk_interval(&self, query: BulkIntervalQuery) -> Result<Vec<Metric>> {
        // A chart of many runs is read on every core: each share of the runs on its own
        // reader connection (each run is still read from one snapshot).
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
        let share = query.run_ids.len().div_ceil(cores).max(16);
        // Polled together, not spawned: dropping the request's future cancels them all.
        let reads = query.run_ids.chunks(share).map(|run_ids| {
            let part = BulkIntervalQuery { run_ids: run_ids.to_vec(), ..query.clone() };
            self.db.read(move |conn| search::bulk_interval(conn, part))
        });
        let parts = futures_util::future::try_join_all(reads).await?;
        Ok(parts.into_iter().flatten().collect())
    }

    async fn get_metric_history_bulk(
        &self,
        run_ids: Vec<String>,
        metric_key: String,
        max_results: usize,
    ) -> Result<Vec<Metric>> {
        self.db.read(move |conn| bulk_reads::history_bulk(conn, run_ids, &metric_key, max_results)).await
    }

    async fn chart_series(&self, ranges: Vec<SeriesRange>, buckets: usize) -> Result<Vec<ChartSeries>> {
        // As for bulk-interval: the series split across the cores, polled together.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
        let share = ranges.len().div_ceil(cores).max(8);
        let reads = ranges.chunks(share).map(|part| {
            let part = part.to_vec();
            self.db.read(move |conn| bulk_reads::chart_series(conn, &part, buckets))
        });
        let parts = futures_util::future::try_join_all(reads).await?;
        Ok(parts.into_iter().flatten().collect())
    }

    async fn search_datasets(&self, experiment_ids: Vec<String>, max_results: usize) -> Result<Vec<DatasetSummary>> {
        self.db.read(move |conn| bulk_reads::dataset_summaries(conn, &experiment_ids, max_results)).await
    }
}
