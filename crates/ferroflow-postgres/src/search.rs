//! Searches: experiments, runs, and the bulk metric reads behind UI charts.

use deadpool_postgres::GenericClient;
use ferroflow_core::types::{DatasetSummary, Experiment, Metric, Page, Run};
use ferroflow_core::{Error, ErrorCode, Result};
use ferroflow_store::{BulkIntervalQuery, SearchExperiments, SearchRuns};

use crate::experiments;

fn not_yet() -> Error {
    Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL")
}

pub(crate) async fn experiments(client: &impl GenericClient, request: SearchExperiments) -> Result<Page<Experiment>> {
    ferroflow_store::in_memory::experiments(experiments::all(client).await?, request, || Ok(()))
}

pub(crate) async fn runs(_client: &impl GenericClient, _request: SearchRuns) -> Result<Page<Run>> {
    Err(not_yet())
}

pub(crate) async fn bulk_interval(_client: &impl GenericClient, _query: &BulkIntervalQuery) -> Result<Vec<Metric>> {
    Err(not_yet())
}

pub(crate) async fn history_bulk(
    _client: &impl GenericClient,
    _run_ids: &[String],
    _metric_key: &str,
    _max_results: usize,
) -> Result<Vec<Metric>> {
    Err(not_yet())
}

pub(crate) async fn dataset_summaries(
    _client: &impl GenericClient,
    _experiment_ids: &[String],
    _max_results: usize,
) -> Result<Vec<DatasetSummary>> {
    Err(not_yet())
}
