//! Dataset summaries of experiments (`experiments/search-datasets`, the UI's dataset
//! filter): which datasets the runs of some experiments were logged with, and in what
//! context.

use ferroflow_core::types::DatasetSummary;
use ferroflow_core::validation::parse_experiment_id;
use ferroflow_core::Result;
use ferroflow_store::MAX_DATASET_SUMMARIES;
use rusqlite::Connection;

use crate::db::db_error;

/// MLflow's `_search_datasets`: each distinct (experiment, name, digest, context) of an
/// input of a run, where the context is the input's `mlflow.data.context` tag (absent when
/// the input has none). Inputs of deleted runs count, as in MLflow. In logging order.
pub(crate) fn search(conn: &Connection, experiment_ids: &[String]) -> Result<Vec<DatasetSummary>> {
    let ids = experiment_ids.iter().map(|id| parse_experiment_id(id)).collect::<Result<Vec<i64>>>()?;
    let ids = crate::runs::pk_list(&ids);
    // (experiment, name, digest) is unique per dataset row, so a dataset and a context
    // name one summary.
    let mut statement = conn
        .prepare_cached(
            "SELECT d.experiment_id, d.name, d.digest, t.value
             FROM datasets d
             JOIN run_dataset_inputs i ON i.dataset_pk = d.dataset_pk
             LEFT JOIN run_dataset_input_tags t
               ON t.run_pk = i.run_pk AND t.dataset_pk = i.dataset_pk AND t.key = 'mlflow.data.context'
             WHERE d.experiment_id IN (SELECT value FROM json_each(?1))
             GROUP BY d.dataset_pk, t.value
             ORDER BY d.dataset_pk, t.value
             LIMIT ?2",
        )
        .map_err(db_error)?;
    let rows = statement
        .query_map(rusqlite::params![ids, MAX_DATASET_SUMMARIES as i64], |row| {
            Ok(DatasetSummary {
                experiment_id: row.get::<_, i64>(0)?.to_string(),
                name: row.get(1)?,
                digest: row.get(2)?,
                context: row.get(3)?,
            })
        })
        .map_err(db_error)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)
}
