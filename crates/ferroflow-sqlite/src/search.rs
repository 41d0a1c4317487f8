//! Searches: experiments, runs, logged models, and the sampled bulk metric read behind
//! UI charts.
//!
//! Filters and orders follow the core search language's reference semantics
//! ([`ferroflow_core::search::eval`]). Runs, the large table, are searched in SQL
//! ([`run_query`]); experiments and logged models, which number in the hundreds, are
//! filtered in memory by the evaluator itself.

use ferroflow_core::paging::{decode_offset, page_from};
use ferroflow_core::search::{self, Entity, KeyKind, OrderBy};
use ferroflow_core::types::{Experiment, Metric, Page, Run};
use ferroflow_core::Result;
use ferroflow_store::{BulkIntervalQuery, SearchExperiments, SearchRuns};
use rusqlite::{params, Connection};

use crate::db::{db_error, Budget};
use crate::experiments;
use crate::runs;
use crate::series;
use ferroflow_sql::run_search as run_query;
use ferroflow_sql::{Dialect, Param};
use ferroflow_store::in_memory::{self, sample_indices};

use ferroflow_store::common::stages;

pub(crate) fn experiments(conn: &Connection, request: SearchExperiments, budget: &Budget) -> Result<Page<Experiment>> {
    in_memory::experiments(experiments::all(conn)?, request, || budget.check())
}

/// A shared query's parameters as SQLite values (lists arrive expanded on SQLite).
fn sqlite_params(params: &[Param]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value;
    params
        .iter()
        .map(|param| match param {
            Param::Int(n) => Value::Integer(*n),
            Param::Real(x) => Value::Real(*x),
            Param::Text(t) => Value::Text(t.clone()),
            Param::IntList(_) | Param::TextList(_) => Value::Null,
        })
        .collect()
}

fn run_pks(conn: &Connection, query: ferroflow_sql::Sql) -> Result<Vec<i64>> {
    let mut statement = conn.prepare_cached(&query.text).map_err(db_error)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(sqlite_params(&query.params)), |row| row.get::<_, i64>(0))
        .map_err(db_error)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)
}

/// A page of a search ordered first by a metric, read segment by segment
/// ([`run_query::MetricSegment`]): a later segment is queried only when the page reaches
/// it, and a skipped segment is counted to carry the offset past it.
fn metric_led_page(
    conn: &Connection,
    scope: &run_query::Scope<'_>,
    leading: &run_query::LeadingMetric,
    rest: &[OrderBy],
    offset: u64,
    wanted: usize,
) -> Result<Vec<i64>> {
    let mut pks = Vec::with_capacity(wanted.min(1024));
    let mut skip = offset;
    for segment in run_query::MetricSegment::ALL {
        let still_wanted = wanted - pks.len();
        if still_wanted == 0 {
            break;
        }
        let found = run_pks(
            conn,
            run_query::metric_segment_sql(Dialect::Sqlite, scope, leading, segment, rest, Some((still_wanted, skip))),
        )?;
        if found.is_empty() && skip > 0 {
            let query = run_query::metric_segment_sql(Dialect::Sqlite, scope, leading, segment, rest, None);
            let total: i64 = conn
                .prepare_cached(&query.text)
                .map_err(db_error)?
                .query_row(rusqlite::params_from_iter(sqlite_params(&query.params)), |row| row.get(0))
                .map_err(db_error)?;
            skip = skip.saturating_sub(total as u64);
        } else {
            skip = 0;
        }
        pks.extend(found);
    }
    Ok(pks)
}

pub(crate) fn runs(conn: &Connection, request: SearchRuns) -> Result<Page<Run>> {
    let offset = decode_offset(request.page_token.as_deref())?;
    let experiment_pks: Vec<i64> = request
        .experiment_ids
        .iter()
        .map(|id| ferroflow_core::validation::parse_experiment_id(id))
        .collect::<Result<_>>()?;
    let filter = search::parse_run_filter(request.filter.as_deref().unwrap_or(""))?;
    let orders = search::parse_order_by_list(Entity::Run, &request.order_by)?;
    let stages = stages(request.run_view_type);
    if experiment_pks.is_empty() || stages.is_empty() {
        return Ok(Page { items: Vec::new(), next_page_token: None });
    }
    let scope = run_query::Scope { experiment_pks: &experiment_pks, stages: &stages, filter: filter.as_ref() };
    // One row past the page tells whether there is a next page.
    let wanted = request.max_results + 1;
    let leading = match orders.first() {
        Some(first) if first.key.kind == KeyKind::Metric => runs::existing_metric_key_id(conn, &first.key.name)?
            .map(|key_id| run_query::LeadingMetric { key_id, ascending: first.ascending }),
        _ => None,
    };
    let pks = match leading {
        Some(leading) => metric_led_page(conn, &scope, &leading, &orders[1..], offset, wanted)?,
        None => run_pks(conn, run_query::search_runs_sql(Dialect::Sqlite, &scope, &orders, offset, wanted))?,
    };
    let fetched = runs::load_many(conn, &pks)?;
    Ok(page_from(fetched, offset, request.max_results))
}

fn point_from_row(row: &rusqlite::Row<'_>, key: &str, run_id: &str) -> rusqlite::Result<Metric> {
    let is_nan: bool = row.get(3)?;
    let value: f64 = row.get(2)?;
    let mut metric = Metric::new(key, if is_nan { f64::NAN } else { value }, row.get(1)?, row.get(0)?);
    metric.run_id = Some(run_id.to_string());
    Ok(metric)
}

/// The sampled points of a regular series: their steps are known, so only the kept rows
/// are read, each by primary key.
fn sample_regular(
    conn: &Connection,
    run_pk: i64,
    key_id: i64,
    shape: &series::Shape,
    steps: (i64, i64),
    max_results: usize,
    (key, run_id): (&str, &str),
) -> Result<Vec<Metric>> {
    let Some((first, last)) = shape.index_range(steps.0, steps.1) else { return Ok(Vec::new()) };
    let kept = sample_indices((last - first + 1) as usize, max_results);
    let wanted: Vec<String> = kept.iter().map(|i| shape.step_at(first + *i as i64).to_string()).collect();
    let mut statement = conn
        .prepare_cached(
            "SELECT step, timestamp, value, is_nan FROM metrics \
             WHERE run_pk = ?1 AND key_id = ?2 AND step IN (SELECT value FROM json_each(?3)) \
             ORDER BY step, timestamp, value, is_nan",
        )
        .map_err(db_error)?;
    let rows = statement
        .query_map(params![run_pk, key_id, format!("[{}]", wanted.join(","))], |row| point_from_row(row, key, run_id))
        .map_err(db_error)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_error)
}

/// The sampled points of any series: one ordered scan of the step range, building only
/// the kept rows.
fn sample_by_scan(
    conn: &Connection,
    run_pk: i64,
    key_id: i64,
    shape: &series::Shape,
    steps: Option<(i64, i64)>,
    max_results: usize,
    (key, run_id): (&str, &str),
) -> Result<Vec<Metric>> {
    let (low, high) = steps.unwrap_or((i64::MIN, i64::MAX));
    let total = match steps {
        None => shape.point_count,
        Some(_) => conn
            .prepare_cached("SELECT count(*) FROM metrics WHERE run_pk = ?1 AND key_id = ?2 AND step BETWEEN ?3 AND ?4")
            .map_err(db_error)?
            .query_row(params![run_pk, key_id, low, high], |row| row.get(0))
            .map_err(db_error)?,
    };
    let kept = sample_indices(total as usize, max_results);
    let mut statement = conn.prepare_cached(series::STEP_RANGE_SQL).map_err(db_error)?;
    let mut rows = statement.query(params![run_pk, key_id, low, high]).map_err(db_error)?;
    let mut points = Vec::with_capacity(kept.len());
    let mut next = kept.iter().peekable();
    let mut index = 0usize;
    while let Some(&&wanted) = next.peek() {
        let Some(row) = rows.next().map_err(db_error)? else { break };
        if index == wanted {
            points.push(point_from_row(row, key, run_id).map_err(db_error)?);
            next.next();
        }
        index += 1;
    }
    Ok(points)
}

pub(crate) fn bulk_interval(conn: &Connection, query: BulkIntervalQuery) -> Result<Vec<Metric>> {
    let Some(key_id) = runs::existing_metric_key_id(conn, &query.metric_key)? else { return Ok(Vec::new()) };
    let mut result = Vec::new();
    for run_id in &query.run_ids {
        // Unknown runs, and runs without the key, contribute no rows, as in MLflow.
        let Ok(run) = runs::find(conn, run_id) else { continue };
        let Some(shape) = series::shape(conn, run.pk, key_id)? else { continue };
        let names = (query.metric_key.as_str(), run_id.as_str());
        let points = if shape.regular {
            let steps = query.steps.unwrap_or((i64::MIN, i64::MAX));
            sample_regular(conn, run.pk, key_id, &shape, steps, query.max_results, names)?
        } else {
            sample_by_scan(conn, run.pk, key_id, &shape, query.steps, query.max_results, names)?
        };
        result.extend(points);
    }
    Ok(result)
}
