//! ferroflow's PostgreSQL metadata store, for teams that run several stateless replicas
//! on one database.
//!
//! Laid out like `ferroflow-sqlite`: one module per area (experiments, runs, search,
//! registry, logged models, gc) behind the same `Store` traits, held to the same
//! conformance suite. Underneath: the store URI in the spellings MLflow users write
//! ([`PgUri`], which never shows its password), a bounded connection pool with connect,
//! acquire and statement timeouts ([`PgDatabase`]), the one mapping of PostgreSQL errors
//! to MLflow's, and versioned migrations that replicas run safely together under an
//! advisory lock ([`migrate`]).
//!
//! Every write is one transaction (the `transaction!` macro) that takes its row locks in
//! a fixed order, so concurrent writers on any number of replicas wait for each other
//! instead of deadlocking; a conflict PostgreSQL still reports is retried.

#[macro_use]
mod db;
mod auth;
mod experiments;
mod gc;
mod import;
mod logged_models;
mod registry;
mod runs;
mod schema;
mod search;
#[doc(hidden)]
pub mod testing;
mod tls;
mod uri;

use std::sync::Arc;

use async_trait::async_trait;
use ferroflow_core::types::{
    DatasetInput, DatasetSummary, Experiment, ExperimentTag, LifecycleStage, Metric, ModelInput, ModelOutput, Page,
    Run, RunInfo,
};
use ferroflow_core::Result;
use ferroflow_store::{
    BulkIntervalQuery, ChartSeries, CreateExperiment, CreateRun, LogBatch, MetricHistoryQuery, SearchExperiments,
    SearchRuns, SeriesRange, TrackingStore, UpdateRun,
};

pub use db::{PgDatabase, PgOptions};
pub use schema::{apply_for_tests, migrate, schema_version, SCHEMA_VERSION};
pub use tls::{SslMode, TlsSettings};
pub use uri::PgUri;

/// The PostgreSQL store: a connection pool and the root new experiments' artifacts go under.
#[derive(Clone)]
pub struct PgStore {
    db: PgDatabase,
    default_artifact_root: Arc<str>,
    /// Background tasks (the auth change listener) run while this lives.
    alive: Arc<()>,
}

impl PgStore {
    /// Connects, migrates the schema to the current version (under the advisory lock, so
    /// replicas may start together) and makes sure the default experiment exists.
    pub async fn open(options: &PgOptions, default_artifact_root: &str) -> Result<Self> {
        let db = PgDatabase::connect(options).await?;
        migrate(&db).await?;
        let store = PgStore { db, default_artifact_root: default_artifact_root.into(), alive: Arc::new(()) };
        let root = Arc::clone(&store.default_artifact_root);
        transaction!(store.db, |tx| { experiments::ensure_default_experiment(&tx, &root, now_millis()).await })?;
        Ok(store)
    }

    pub fn database(&self) -> &PgDatabase {
        &self.db
    }
}

pub(crate) use ferroflow_store::common::now_millis;

#[async_trait]
impl TrackingStore for PgStore {
    async fn create_experiment(&self, request: CreateExperiment) -> Result<String> {
        transaction!(self.db, |tx| {
            experiments::create(&tx, request.clone(), &self.default_artifact_root, now_millis()).await
        })
    }

    async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        experiments::get(&self.db.client().await?, experiment_id).await
    }

    async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        experiments::get_by_name(&self.db.client().await?, name).await
    }

    async fn search_experiments(&self, request: SearchExperiments) -> Result<Page<Experiment>> {
        search::experiments(&self.db.client().await?, request).await
    }

    async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        transaction!(self.db, |tx| { experiments::rename(&tx, experiment_id, new_name, now_millis()).await })
    }

    async fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        transaction!(self.db, |tx| {
            experiments::set_lifecycle(&tx, experiment_id, LifecycleStage::Deleted, now_millis()).await
        })
    }

    async fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        transaction!(self.db, |tx| {
            experiments::set_lifecycle(&tx, experiment_id, LifecycleStage::Active, now_millis()).await
        })
    }

    async fn set_experiment_tag(&self, experiment_id: &str, tag: ExperimentTag) -> Result<()> {
        transaction!(self.db, |tx| { experiments::set_tag(&tx, experiment_id, &tag).await })
    }

    async fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        transaction!(self.db, |tx| { experiments::delete_tag(&tx, experiment_id, key).await })
    }

    async fn create_run(&self, request: CreateRun) -> Result<Run> {
        transaction!(self.db, |tx| { runs::create(&tx, request.clone()).await })
    }

    async fn get_run(&self, run_id: &str) -> Result<Run> {
        runs::load(&self.db.client().await?, run_id).await
    }

    async fn update_run(&self, request: UpdateRun) -> Result<RunInfo> {
        transaction!(self.db, |tx| { runs::update(&tx, request.clone()).await })
    }

    async fn delete_run(&self, run_id: &str) -> Result<()> {
        transaction!(self.db, |tx| { runs::set_lifecycle(&tx, run_id, LifecycleStage::Deleted, now_millis()).await })
    }

    async fn restore_run(&self, run_id: &str) -> Result<()> {
        transaction!(self.db, |tx| { runs::set_lifecycle(&tx, run_id, LifecycleStage::Active, now_millis()).await })
    }

    async fn search_runs(&self, request: SearchRuns) -> Result<Page<Run>> {
        search::runs(&self.db.client().await?, request).await
    }

    async fn log_batch(&self, batch: LogBatch) -> Result<()> {
        transaction!(self.db, |tx| { runs::log_batch(&tx, &batch).await })
    }

    async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        transaction!(self.db, |tx| { runs::delete_tag(&tx, run_id, key).await })
    }

    async fn log_inputs(&self, run_id: &str, datasets: Vec<DatasetInput>, models: Vec<ModelInput>) -> Result<()> {
        transaction!(self.db, |tx| { runs::log_inputs(&tx, run_id, &datasets, &models).await })
    }

    async fn log_outputs(&self, run_id: &str, models: Vec<ModelOutput>) -> Result<()> {
        transaction!(self.db, |tx| { runs::log_outputs(&tx, run_id, &models).await })
    }

    async fn append_model_history(&self, run_id: &str, entry: String) -> Result<()> {
        transaction!(self.db, |tx| { runs::append_model_history(&tx, run_id, &entry).await })
    }

    async fn get_metric_history(&self, query: MetricHistoryQuery) -> Result<Page<Metric>> {
        runs::metric_history(&self.db.client().await?, &query).await
    }

    async fn get_metric_history_bulk_interval(&self, query: BulkIntervalQuery) -> Result<Vec<Metric>> {
        search::bulk_interval(&self.db.client().await?, &query).await
    }

    async fn get_metric_history_bulk(
        &self,
        run_ids: Vec<String>,
        metric_key: String,
        max_results: usize,
    ) -> Result<Vec<Metric>> {
        search::history_bulk(&self.db.client().await?, &run_ids, &metric_key, max_results).await
    }

    async fn chart_series(&self, ranges: Vec<SeriesRange>, buckets: usize) -> Result<Vec<ChartSeries>> {
        search::chart_series(&self.db.client().await?, &ranges, buckets).await
    }

    async fn search_datasets(&self, experiment_ids: Vec<String>, max_results: usize) -> Result<Vec<DatasetSummary>> {
        search::dataset_summaries(&self.db.client().await?, &experiment_ids, max_results).await
    }
}
