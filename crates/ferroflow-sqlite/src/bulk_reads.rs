//! Reads that span several runs or experiments for the web UI: the older multi-run metric
//! history (`metrics/get-history-bulk`) and the datasets of experiments
//! (`experiments/search-datasets`).

use std::collections::HashMap;

use ferroflow_core::downsample::{ChartPoint, Downsampler};
use ferroflow_core::types::{DatasetSummary, Metric};
use ferroflow_core::validation::parse_experiment_id;
use ferroflow_core::Result;
use ferroflow_store::{ChartSeries, SeriesRange};
use rusqlite::{params, Connection, OptionalExtension};

use crate::db::db_error;
use crate::runs;
use crate::series;

/// MLflow's `get_metric_history_bulk`: the runs by id in byte order, each run's points by
/// (timestamp, step, value), `max_results` points in all.
pub(crate) fn history_bulk(
    conn: &Connection,
    mut run_ids: Vec<String>,
    metric_key: &str,
    max_results: usize,
) -> Result<Vec<Metric>> {
    // `run_uuid IN (…)` in MLflow's query: a run named twice counts once.
    run_ids.sort();
    run_ids.dedup();
    let mut points = Vec::new();
    for run_id in run_ids {
        let remaining = max_results - points.len();
        if remaining == 0 {
            break;
        }
        // `usize::MAX` (no limit) stays out of SQL, whose LIMIT is an i64.
        let limit = Some(remaining).filter(|r| *r < i64::MAX as usize / 2);
        let mut history = runs::metric_history(conn, &run_id, metric_key, 0, limit)?;
        history.truncate(remaining);
        points.extend(history.into_iter().map(|mut point| {
            point.run_id = Some(run_id.clone());
            point
        }));
    }
    Ok(points)
}

/// The chart read ([`ferroflow_store::TrackingStore::chart_series`]): per series, its
/// last step from `latest_metrics`, its first step in range by the primary key, then one
/// scan of the range in primary-key order through the downsampler.
pub(crate) fn chart_series(conn: &Connection, ranges: &[SeriesRange], buckets: usize) -> Result<Vec<ChartSeries>> {
    let mut run_pks: HashMap<&str, Option<i64>> = HashMap::new();
    let mut key_ids: HashMap<&str, Option<i64>> = HashMap::new();
    let mut answer = Vec::with_capacity(ranges.len());
    for range in ranges {
        let mut series = ChartSeries::empty(&range.run_id, &range.key);
        let run_pk = match run_pks.get(range.run_id.as_str()) {
            Some(pk) => *pk,
            None => {
                let pk = runs::find(conn, &range.run_id).ok().map(|run| run.pk);
                run_pks.insert(&range.run_id, pk);
                pk
            }
        };
        let key_id = match key_ids.get(range.key.as_str()) {
            Some(id) => *id,
            None => {
                let id = runs::existing_metric_key_id(conn, &range.key)?;
                key_ids.insert(&range.key, id);
                id
            }
        };
        if let (Some(run_pk), Some(key_id)) = (run_pk, key_id) {
            read_series(conn, run_pk, key_id, range.steps, buckets, &mut series)?;
        }
        answer.push(series);
    }
    Ok(answer)
}

fn read_series(
    conn: &Connection,
    run_pk: i64,
    key_id: i64,
    (low, high): (i64, i64),
    buckets: usize,
    series: &mut ChartSeries,
) -> Result<()> {
    let last: Option<i64> = conn
        .prepare_cached("SELECT step FROM latest_metrics WHERE run_pk = ?1 AND key_id = ?2")
        .map_err(db_error)?
        .query_row(params![run_pk, key_id], |row| row.get(0))
        .optional()
        .map_err(db_error)?;
    series.last_step = last;
    let Some(last) = last.filter(|last| *last >= low) else { return Ok(()) };
    let first: Option<i64> = conn
        .prepare_cached(
            "SELECT step FROM metrics WHERE run_pk = ?1 AND key_id = ?2 AND step >= ?3 ORDER BY step LIMIT 1",
        )
        .map_err(db_error)?
        .query_row(params![run_pk, key_id, low], |row| row.get(0))
        .optional()
        .map_err(db_error)?;
    let Some(first) = first.filter(|first| *first <= high) else { return Ok(()) };
    let high = high.min(last);
    let mut sampler = Downsampler::new(first, high, buckets);
    let mut statement = conn.prepare_cached(series::STEP_RANGE_SQL).map_err(db_error)?;
    let mut rows = statement.query(params![run_pk, key_id, first, high]).map_err(db_error)?;
    while let Some(row) = rows.next().map_err(db_error)? {
        let is_nan: bool = row.get(3).map_err(db_error)?;
        let value: f64 = row.get(2).map_err(db_error)?;
        sampler.push(ChartPoint {
            step: row.get(0).map_err(db_error)?,
            timestamp: row.get(1).map_err(db_error)?,
            value: if is_nan { f64::NAN } else { value },
        });
    }
    series.total = sampler.count();
    (series.points, series.sampled) = sampler.finish();
    Ok(())
}

/// The key MLflow reads a dataset input's context from.
const DATASET_CONTEXT_TAG: &str = "mlflow.data.context";

/// MLflow's `_search_datasets`: each distinct (experiment, dataset name, digest, context)
/// among the datasets linked to a run input, the context from the input's
/// `mlflow.data.context` tag.
pub(crate) fn dataset_summaries(
    conn: &Connection,
    experiment_ids: &[String],
    max_results: usize,
) -> Result<Vec<DatasetSummary>> {
    let ids = experiment_ids.iter().map(|id| parse_experiment_id(id)).collect::<Result<Vec<i64>>>()?;
    let id_list = format!("[{}]", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
    let mut statement = conn
        .prepare_cached(
            "SELECT d.experiment_id, d.name, d.digest, t.value \
             FROM datasets d \
             JOIN run_dataset_inputs i ON i.dataset_pk = d.dataset_pk \
             LEFT JOIN run_dataset_input_tags t \
               ON t.run_pk = i.run_pk AND t.dataset_pk = i.dataset_pk AND t.key = ?2 \
             WHERE d.experiment_id IN (SELECT value FROM json_each(?1)) \
             GROUP BY d.experiment_id, d.name, d.digest, t.value \
             ORDER BY MIN(d.dataset_pk), MIN(i.run_pk) \
             LIMIT ?3",
        )
        .map_err(db_error)?;
    let rows = statement
        .query_map(params![id_list, DATASET_CONTEXT_TAG, max_results as i64], |row| {
            let context: Option<String> = row.get(3)?;
            Ok(DatasetSummary {
                experiment_id: row.get::<_, i64>(0)?.to_string(),
                name: row.get(1)?,
                digest: row.get(2)?,
                // MLflow leaves an empty context out of the answer.
                context: context.filter(|c| !c.is_empty()),
            })
        })
        .map_err(db_error)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_error)
}
