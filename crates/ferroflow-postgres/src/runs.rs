//! Run operations: create, read, update, lifecycle, and everything logged to a run.

use deadpool_postgres::GenericClient;
use ferroflow_core::types::{DatasetInput, LifecycleStage, Metric, ModelInput, ModelOutput, Page, Run, RunInfo};
use ferroflow_core::{Error, ErrorCode, Result};
use ferroflow_store::{CreateRun, LogBatch, MetricHistoryQuery, UpdateRun};

fn not_yet() -> Error {
    Error::new(ErrorCode::NotImplemented, "not yet on PostgreSQL")
}

pub(crate) async fn create(_client: &impl GenericClient, _request: CreateRun) -> Result<Run> {
    Err(not_yet())
}

pub(crate) async fn load(_client: &impl GenericClient, _run_id: &str) -> Result<Run> {
    Err(not_yet())
}

pub(crate) async fn update(_client: &impl GenericClient, _request: UpdateRun) -> Result<RunInfo> {
    Err(not_yet())
}

pub(crate) async fn set_lifecycle(
    _client: &impl GenericClient,
    _run_id: &str,
    _stage: LifecycleStage,
    _now: i64,
) -> Result<()> {
    Err(not_yet())
}

pub(crate) async fn log_batch(_client: &impl GenericClient, _batch: &LogBatch) -> Result<()> {
    Err(not_yet())
}

pub(crate) async fn delete_tag(_client: &impl GenericClient, _run_id: &str, _key: &str) -> Result<()> {
    Err(not_yet())
}

pub(crate) async fn log_inputs(
    _client: &impl GenericClient,
    _run_id: &str,
    _datasets: &[DatasetInput],
    _models: &[ModelInput],
) -> Result<()> {
    Err(not_yet())
}

pub(crate) async fn log_outputs(_client: &impl GenericClient, _run_id: &str, _models: &[ModelOutput]) -> Result<()> {
    Err(not_yet())
}

pub(crate) async fn append_model_history(_client: &impl GenericClient, _run_id: &str, _entry: &str) -> Result<()> {
    Err(not_yet())
}

pub(crate) async fn metric_history(_client: &impl GenericClient, _query: &MetricHistoryQuery) -> Result<Page<Metric>> {
    Err(not_yet())
}
