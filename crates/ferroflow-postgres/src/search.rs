//! Searches: experiments, runs, and the bulk metric reads behind UI charts.
//!
//! Runs are searched by the SQL that `ferroflow-sql` compiles for both backends; RLIKE is
//! matched here, by ferroflow's own regex engine, against the distinct values its key
//! takes among the searched runs, and then searched as the list of matching values.
//! Experiments are filtered in memory by the core evaluator (`ferroflow_store::in_memory`).

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use ferroflow_core::downsample::{ChartPoint, Downsampler};
use ferroflow_core::paging::{decode_offset, page_from};
use ferroflow_core::search::{self, Entity, Filter, Value};
use ferroflow_core::types::{DatasetSummary, Experiment, Metric, Page, Run};
use ferroflow_core::validation::parse_experiment_id;
use ferroflow_core::{Error, Result};
use ferroflow_sql::run_search::{self, Scope};
use ferroflow_sql::{Dialect, Param, Sql};
use ferroflow_store::common::stages;
use ferroflow_store::in_memory::sample_indices;
use ferroflow_store::series::Shape;
use ferroflow_store::{BulkIntervalQuery, ChartSeries, SearchExperiments, SearchRuns, SeriesRange};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::db::{db_error, query, query_opt, CancelOnDrop};
use crate::{experiments, runs};

/// The most distinct values one RLIKE is matched against; past it the search is refused
/// with a request to narrow it, rather than shipping an unbounded list to the database.
const MAX_REGEX_CANDIDATES: usize = 1_000_000;

pub(crate) async fn experiments(client: &impl GenericClient, request: SearchExperiments) -> Result<Page<Experiment>> {
    ferroflow_store::in_memory::experiments(experiments::all(client).await?, request, || Ok(()))
}

fn boxed_params(params: &[Param]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    params
        .iter()
        .map(|param| -> Box<dyn ToSql + Sync + Send> {
            match param {
                Param::Int(n) => Box::new(*n),
                Param::Real(x) => Box::new(*x),
                Param::Text(t) => Box::new(t.clone()),
                Param::IntList(items) => Box::new(items.clone()),
                Param::TextList(items) => Box::new(items.clone()),
            }
        })
        .collect()
}

/// Runs a query built at run time. Not put in the prepared-statement cache: filters
/// vary without end, and the cache would grow with them.
async fn dynamic_query(client: &deadpool_postgres::Client, sql: &Sql) -> Result<Vec<Row>> {
    let params = boxed_params(&sql.params);
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    // If the caller leaves (its future is dropped), the server stops the query too.
    let guard = CancelOnDrop::new(client);
    let rows = client.query(sql.text.as_str(), &refs).await.map_err(db_error)?;
    guard.disarm();
    Ok(rows)
}

/// `filter` with each RLIKE replaced by the list of candidate values it matches.
async fn resolve_regexes(client: &deadpool_postgres::Client, scope: &Scope<'_>, filter: &Filter) -> Result<Filter> {
    let comparisons = run_search::regex_comparisons(filter);
    let mut matching = Vec::with_capacity(comparisons.len());
    for comparison in comparisons {
        let Value::Regex(regex) = &comparison.value else {
            matching.push(Vec::new());
            continue;
        };
        let Some(mut candidates) = run_search::candidate_values_sql(Dialect::Postgres, scope, comparison) else {
            matching.push(Vec::new());
            continue;
        };
        candidates.push(&format!(" LIMIT {}", MAX_REGEX_CANDIDATES + 1));
        let rows = dynamic_query(client, &candidates).await?;
        if rows.len() > MAX_REGEX_CANDIDATES {
            return Err(Error::invalid_parameter(format!(
                "The RLIKE on {} would test more than {MAX_REGEX_CANDIDATES} distinct values. Narrow the search \
                 with another condition or fewer experiments.",
                comparison.key
            )));
        }
        matching.push(rows.iter().map(|row| row.get::<_, String>(0)).filter(|value| regex.is_match(value)).collect());
    }
    Ok(run_search::resolve_regexes(filter, matching))
}

pub(crate) async fn runs(client: &deadpool_postgres::Client, request: SearchRuns) -> Result<Page<Run>> {
    let offset = decode_offset(request.page_token.as_deref())?;
    let experiment_pks: Vec<i64> =
        request.experiment_ids.iter().map(|id| parse_experiment_id(id)).collect::<Result<_>>()?;
    let filter = search::parse_run_filter(request.filter.as_deref().unwrap_or(""))?;
    let orders = search::parse_order_by_list(Entity::Run, &request.order_by)?;
    let stages = stages(request.run_view_type);
    if experiment_pks.is_empty() || stages.is_empty() {
        return Ok(Page { items: Vec::new(), next_page_token: None });
    }
    let filter = match filter {
        Some(filter) if !run_search::regex_comparisons(&filter).is_empty() => {
            let scope = Scope { experiment_pks: &experiment_pks, stages: &stages, filter: None };
            Some(resolve_regexes(client, &scope, &filter).await?)
        }
        other => other,
    };
    let scope = Scope { experiment_pks: &experiment_pks, stages: &stages, filter: filter.as_ref() };
    // One row past the page tells whether there is a next page. PostgreSQL's top-N sort
    // serves any order in one query, metric orders included.
    let sql = run_search::search_runs_sql(Dialect::Postgres, &scope, &orders, offset, request.max_results + 1);
    let pks: Vec<i64> = dynamic_query(client, &sql).await?.iter().map(|row| row.get(0)).collect();
    let fetched = runs::load_many(client, &pks).await?;
    Ok(page_from(fetched, offset, request.max_results))
}

fn point(row: &Row, key: &str, run_id: &str) -> Metric {
    let mut metric = Metric::new(key, row.get(2), row.get(1), row.get(0));
    metric.run_id = Some(run_id.to_string());
    metric
}

/// The sampled points of one run's series ([`sample_indices`]): the kept rows are picked
/// by their position in (step, timestamp, value) order. A regular series' positions map
/// to steps, so its rows are read by primary key; any other is numbered server-side.
async fn sample_series(
    client: &impl GenericClient,
    (run_pk, key_id): (i64, i32),
    shape: &Shape,
    steps: Option<(i64, i64)>,
    max_results: usize,
    (key, run_id): (&str, &str),
) -> Result<Vec<Metric>> {
    let (low, high) = steps.unwrap_or((i64::MIN, i64::MAX));
    let rows = if shape.regular {
        let Some((first, last)) = shape.index_range(low, high) else { return Ok(Vec::new()) };
        let kept = sample_indices((last - first + 1) as usize, max_results);
        let wanted: Vec<i64> = kept.iter().map(|i| shape.step_at(first + *i as i64)).collect();
        query(
            client,
            "SELECT step, timestamp, value FROM metrics WHERE run_pk = $1 AND key_id = $2 AND step = ANY($3) \
             ORDER BY step, timestamp, value",
            &[&run_pk, &key_id, &wanted],
        )
        .await?
    } else {
        let total: i64 = match steps {
            None => shape.point_count,
            Some(_) => query_opt(
                client,
                "SELECT count(*) FROM metrics WHERE run_pk = $1 AND key_id = $2 AND step BETWEEN $3 AND $4",
                &[&run_pk, &key_id, &low, &high],
            )
            .await?
            .map_or(0, |row| row.get(0)),
        };
        let kept: Vec<i64> = sample_indices(total as usize, max_results).into_iter().map(|i| i as i64).collect();
        query(
            client,
            "SELECT step, timestamp, value FROM (SELECT step, timestamp, value, \
             row_number() OVER (ORDER BY step, timestamp, value) - 1 AS position FROM metrics \
             WHERE run_pk = $1 AND key_id = $2 AND step BETWEEN $3 AND $4) numbered \
             WHERE position = ANY($5) ORDER BY position",
            &[&run_pk, &key_id, &low, &high, &kept],
        )
        .await?
    };
    Ok(rows.iter().map(|row| point(row, key, run_id)).collect())
}

pub(crate) async fn bulk_interval(client: &impl GenericClient, query: &BulkIntervalQuery) -> Result<Vec<Metric>> {
    let Some(key_id) = runs::existing_metric_key_id(client, &query.metric_key).await? else { return Ok(Vec::new()) };
    let mut result = Vec::new();
    for run_id in &query.run_ids {
        // Unknown runs, and runs without the key, contribute no rows, as in MLflow.
        let Ok(run) = runs::find(client, run_id).await else { continue };
        let Some(shape) = runs::shape(client, run.pk, key_id).await? else { continue };
        let names = (query.metric_key.as_str(), run_id.as_str());
        result.extend(sample_series(client, (run.pk, key_id), &shape, query.steps, query.max_results, names).await?);
    }
    Ok(result)
}

/// The chart read ([`ferroflow_store::TrackingStore::chart_series`]): the runs, keys and
/// last steps of every series in three statements (so a live chart's check for new
/// points is three round trips when there are none), then one range scan per series
/// whose last step reaches its range, fed through the downsampler.
pub(crate) async fn chart_series(
    client: &impl GenericClient,
    ranges: &[SeriesRange],
    buckets: usize,
) -> Result<Vec<ChartSeries>> {
    let mut run_ids: Vec<&str> = ranges.iter().map(|r| r.run_id.as_str()).collect();
    run_ids.sort_unstable();
    run_ids.dedup();
    let mut keys: Vec<&str> = ranges.iter().map(|r| r.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let run_pks: HashMap<String, i64> =
        query(client, "SELECT run_uuid, run_pk FROM runs WHERE run_uuid = ANY($1)", &[&run_ids])
            .await?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
    let key_ids: HashMap<String, i32> =
        query(client, "SELECT key, key_id FROM metric_keys WHERE key = ANY($1)", &[&keys])
            .await?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
    let pks: Vec<i64> = run_pks.values().copied().collect();
    let ids: Vec<i32> = key_ids.values().copied().collect();
    let last_steps: HashMap<(i64, i32), i64> = query(
        client,
        "SELECT run_pk, key_id, step FROM latest_metrics WHERE run_pk = ANY($1) AND key_id = ANY($2)",
        &[&pks, &ids],
    )
    .await?
    .iter()
    .map(|row| ((row.get(0), row.get(1)), row.get(2)))
    .collect();
    let mut answer = Vec::with_capacity(ranges.len());
    for range in ranges {
        let mut series = ChartSeries::empty(&range.run_id, &range.key);
        let ids = run_pks.get(&range.run_id).zip(key_ids.get(&range.key)).map(|(pk, id)| (*pk, *id));
        if let Some((run_pk, key_id)) = ids {
            series.last_step = last_steps.get(&(run_pk, key_id)).copied();
            let (low, high) = range.steps;
            if series.last_step.is_some_and(|last| last >= low) {
                let rows = query(
                    client,
                    "SELECT step, timestamp, value FROM metrics WHERE run_pk = $1 AND key_id = $2 \
                     AND step BETWEEN $3 AND $4 ORDER BY step, timestamp, value",
                    &[&run_pk, &key_id, &low, &high],
                )
                .await?;
                if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
                    let mut sampler = Downsampler::new(first.get(0), last.get(0), buckets);
                    for row in &rows {
                        sampler.push(ChartPoint { step: row.get(0), timestamp: row.get(1), value: row.get(2) });
                    }
                    series.total = sampler.count();
                    (series.points, series.sampled) = sampler.finish();
                }
            }
        }
        answer.push(series);
    }
    Ok(answer)
}

/// MLflow's `get_metric_history_bulk`: the runs by id in byte order (a run named twice
/// counts once), each run's points by (timestamp, step, value), `max_results` in all.
pub(crate) async fn history_bulk(
    client: &impl GenericClient,
    run_ids: &[String],
    metric_key: &str,
    max_results: usize,
) -> Result<Vec<Metric>> {
    let Some(key_id) = runs::existing_metric_key_id(client, metric_key).await? else { return Ok(Vec::new()) };
    let ids = run_ids.to_vec();
    let limit = i64::try_from(max_results).unwrap_or(i64::MAX);
    let rows = query(
        client,
        "SELECT m.step, m.timestamp, m.value, r.run_uuid FROM metrics m JOIN runs r ON r.run_pk = m.run_pk \
         WHERE r.run_uuid = ANY($1) AND m.key_id = $2 ORDER BY r.run_uuid, m.timestamp, m.step, m.value LIMIT $3",
        &[&ids, &key_id, &limit],
    )
    .await?;
    Ok(rows.iter().map(|row| point(row, metric_key, row.get(3))).collect())
}

/// The key MLflow reads a dataset input's context from.
const DATASET_CONTEXT_TAG: &str = "mlflow.data.context";

/// MLflow's `_search_datasets`: each distinct (experiment, dataset name, digest, context)
/// among the datasets linked to a run input, the context from the input's
/// `mlflow.data.context` tag, in the order the datasets were first logged.
pub(crate) async fn dataset_summaries(
    client: &impl GenericClient,
    experiment_ids: &[String],
    max_results: usize,
) -> Result<Vec<DatasetSummary>> {
    let ids = experiment_ids.iter().map(|id| parse_experiment_id(id)).collect::<Result<Vec<i64>>>()?;
    let limit = i64::try_from(max_results).unwrap_or(i64::MAX);
    let rows = query(
        client,
        "SELECT d.experiment_id, d.name, d.digest, t.value FROM datasets d \
         JOIN run_dataset_inputs i ON i.dataset_pk = d.dataset_pk \
         LEFT JOIN run_dataset_input_tags t ON t.run_pk = i.run_pk AND t.dataset_pk = i.dataset_pk AND t.key = $2 \
         WHERE d.experiment_id = ANY($1) GROUP BY d.experiment_id, d.name, d.digest, t.value \
         ORDER BY min(d.dataset_pk), min(i.run_pk) LIMIT $3",
        &[&ids, &DATASET_CONTEXT_TAG, &limit],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| DatasetSummary {
            experiment_id: row.get::<_, i64>(0).to_string(),
            name: row.get(1),
            digest: row.get(2),
            // MLflow leaves an empty context out of the answer.
            context: row.get::<_, Option<String>>(3).filter(|c| !c.is_empty()),
        })
        .collect())
}
