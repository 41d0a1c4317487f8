//! Searches: experiments, runs, logged models, and the sampled bulk metric read behind
//! UI charts.
//!
//! Filters and orders follow the core search language's reference semantics
//! ([`ferroflow_core::search::eval`]). Runs, the large table, are searched in SQL
//! ([`run_query`]); experiments and logged models, which number in the hundreds, are
//! filtered in memory by the evaluator itself.

use std::cmp::Ordering;

use ferroflow_core::paging::{decode_offset, page_from};
use ferroflow_core::search::{self, eval, AttrValue, Entity, Filter, Key, KeyKind, OrderBy, Record};
use ferroflow_core::types::{Experiment, LifecycleStage, LoggedModel, Metric, Page, Run, ViewType};
use ferroflow_core::Result;
use ferroflow_store::logged_models::SearchLoggedModels;
use ferroflow_store::{BulkIntervalQuery, SearchExperiments, SearchRuns};
use rusqlite::{params, Connection};

use crate::db::{db_error, Budget};
use crate::experiments;
use crate::run_query;
use crate::runs;
use crate::series;

fn stages(view_type: ViewType) -> Vec<LifecycleStage> {
    [LifecycleStage::Active, LifecycleStage::Deleted].into_iter().filter(|s| view_type.includes(*s)).collect()
}

/// A value an order_by clause sorts on. Within one clause all values share a variant.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum SortValue {
    Int(i64),
    Num(f64),
    Str(String),
}

/// One clause's sort key: MLflow sorts missing (and NaN) values last in both directions,
/// then by value.
#[derive(Debug, Clone)]
struct SortKey {
    absent_rank: u8,
    value: Option<SortValue>,
    ascending: bool,
}

fn compare_keys(a: &[SortKey], b: &[SortKey]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let by_presence = x.absent_rank.cmp(&y.absent_rank);
        if by_presence != Ordering::Equal {
            return by_presence;
        }
        let by_value = x.value.partial_cmp(&y.value).unwrap_or(Ordering::Equal);
        let by_value = if x.ascending { by_value } else { by_value.reverse() };
        if by_value != Ordering::Equal {
            return by_value;
        }
    }
    Ordering::Equal
}

fn attr_sort_value(record: &Record, name: &str) -> Option<SortValue> {
    record.attributes.get(name).map(|value| match value {
        AttrValue::Int(n) => SortValue::Int(*n),
        AttrValue::Str(s) => SortValue::Str(s.clone()),
    })
}

/// The sort key of `record` for one order_by clause.
fn sort_key(record: &Record, order: &OrderBy) -> SortKey {
    let name = order.key.name.as_str();
    let (absent_rank, value) = match order.key.kind {
        KeyKind::Metric => match record.metrics.get(name).and_then(|values| values.first()) {
            // NaN is stored as 0 with is_nan set: it sorts after numbers, as value 0.
            Some(v) if v.is_nan() => (1, Some(SortValue::Num(0.0))),
            Some(v) => (0, Some(SortValue::Num(*v))),
            None => (2, None),
        },
        KeyKind::Param => match record.params.get(name) {
            Some(v) => (0, Some(SortValue::Str(v.clone()))),
            None => (1, None),
        },
        KeyKind::Tag => match record.tags.get(name) {
            Some(v) => (0, Some(SortValue::Str(v.clone()))),
            None => (1, None),
        },
        KeyKind::Attribute | KeyKind::Dataset => match attr_sort_value(record, name) {
            Some(v) => (0, Some(v)),
            None => (1, None),
        },
    };
    SortKey { absent_rank, value, ascending: order.ascending }
}

/// Filters (within the read's budget), sorts and pages records in memory.
fn filter_sort_page<T>(
    items: Vec<(T, Record)>,
    entity: Entity,
    filter: Option<&Filter>,
    orders: &[OrderBy],
    (offset, max_results): (u64, usize),
    budget: &Budget,
) -> Result<Page<T>> {
    let matching = budget.filter(items, |(_, record)| eval::matches(entity, filter, record))?;
    let mut keyed: Vec<(Vec<SortKey>, T)> = matching
        .into_iter()
        .map(|(item, record)| (orders.iter().map(|o| sort_key(&record, o)).collect(), item))
        .collect();
    keyed.sort_by(|a, b| compare_keys(&a.0, &b.0));
    let window: Vec<T> = keyed.into_iter().skip(offset as usize).take(max_results + 1).map(|(_, item)| item).collect();
    Ok(page_from(window, offset, max_results))
}

fn attribute_order(name: &str, ascending: bool) -> OrderBy {
    OrderBy { key: Key::new(KeyKind::Attribute, name), ascending }
}

fn experiment_record(experiment: &Experiment) -> Record {
    let mut record = Record::default()
        .with_attr("name", experiment.name.as_str())
        .with_attr("experiment_id", experiment.experiment_id.parse::<i64>().unwrap_or(-1))
        .with_attr("creation_time", experiment.creation_time)
        .with_attr("last_update_time", experiment.last_update_time);
    for tag in &experiment.tags {
        record = record.with_tag(&tag.key, &tag.value);
    }
    record
}

pub(crate) fn experiments(conn: &Connection, request: SearchExperiments, budget: &Budget) -> Result<Page<Experiment>> {
    let offset = decode_offset(request.page_token.as_deref())?;
    let filter = search::parse_experiment_filter(request.filter.as_deref().unwrap_or(""))?;
    let mut orders = search::parse_order_by_list(Entity::Experiment, &request.order_by)?;
    // MLflow's tie-breakers: newest first by default; with a custom order, id descending.
    if orders.is_empty() {
        orders.push(attribute_order("creation_time", false));
        orders.push(attribute_order("experiment_id", true));
    } else if !orders.iter().any(|o| o.key.name == "experiment_id") {
        orders.push(attribute_order("experiment_id", false));
    }
    let items: Vec<(Experiment, Record)> = experiments::all(conn)?
        .into_iter()
        .filter(|e| request.view_type.includes(e.lifecycle_stage))
        .map(|e| {
            let record = experiment_record(&e);
            (e, record)
        })
        .collect();
    filter_sort_page(items, Entity::Experiment, filter.as_ref(), &orders, (offset, request.max_results), budget)
}

fn run_pks(conn: &Connection, query: run_query::Sql) -> Result<Vec<i64>> {
    let mut statement = conn.prepare_cached(&query.text).map_err(db_error)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(query.params.iter()), |row| row.get::<_, i64>(0))
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
        let found =
            run_pks(conn, run_query::metric_segment_sql(scope, leading, segment, rest, Some((still_wanted, skip))))?;
        if found.is_empty() && skip > 0 {
            let query = run_query::metric_segment_sql(scope, leading, segment, rest, None);
            let total: i64 = conn
                .prepare_cached(&query.text)
                .map_err(db_error)?
                .query_row(rusqlite::params_from_iter(query.params.iter()), |row| row.get(0))
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
        None => run_pks(conn, run_query::search_runs_sql(&scope, &orders, offset, wanted))?,
    };
    let fetched = runs::load_many(conn, &pks)?;
    Ok(page_from(fetched, offset, request.max_results))
}

fn logged_model_record(model: &LoggedModel, datasets: &[(String, Option<String>)]) -> Record {
    let info = &model.info;
    let mut record = Record::default()
        .with_attr("model_id", info.model_id.as_str())
        .with_attr("name", info.name.as_str())
        .with_attr("model_type", info.model_type.as_str())
        .with_attr("status", info.status.as_str())
        .with_attr("creation_timestamp", info.creation_timestamp_ms)
        .with_attr("last_updated_timestamp", info.last_updated_timestamp_ms);
    if let Some(run_id) = &info.source_run_id {
        record = record.with_attr("source_run_id", run_id.as_str());
    }
    for metric in &model.data.metrics {
        if metric_in_dataset_scope(metric, datasets) {
            record = record.with_metric(&metric.key, metric.value);
        }
    }
    for param in &model.data.params {
        record = record.with_param(&param.key, &param.value);
    }
    for tag in &info.tags {
        record = record.with_tag(&tag.key, &tag.value);
    }
    record
}

/// Whether a logged model's metric is one that a search's `datasets` clause keeps: any
/// metric when there is no clause, else one on a listed dataset. As in MLflow, whose
/// handler passes an absent digest as `None` (SQL `IS NULL`), a dataset given without a
/// digest matches only metrics logged without one.
fn metric_in_dataset_scope(metric: &Metric, datasets: &[(String, Option<String>)]) -> bool {
    fn digest_of(digest: Option<&str>) -> Option<&str> {
        digest.filter(|d| !d.is_empty())
    }
    datasets.is_empty()
        || datasets.iter().any(|(name, digest)| {
            metric.dataset_name.as_deref() == Some(name.as_str())
                && digest_of(digest.as_deref()) == digest_of(metric.dataset_digest.as_deref())
        })
}

/// Applies a logged-model search's filter, order and paging to `models`.
pub(crate) fn logged_models(
    models: Vec<LoggedModel>,
    request: &SearchLoggedModels,
    offset: u64,
    budget: &Budget,
) -> Result<Page<LoggedModel>> {
    let filter = search::parse_logged_model_filter(request.filter.as_deref().unwrap_or(""))?;
    let mut orders = request
        .order_by
        .iter()
        .map(|o| search::parse_logged_model_order_by(&o.field_name, o.ascending))
        .collect::<Result<Vec<_>>>()?;
    if !orders.iter().any(|o| o.key.kind == KeyKind::Attribute && o.key.name == "creation_timestamp") {
        orders.push(attribute_order("creation_timestamp", false));
    }
    if !orders.iter().any(|o| o.key.kind == KeyKind::Attribute && o.key.name == "model_id") {
        orders.push(attribute_order("model_id", true));
    }
    let items: Vec<(LoggedModel, Record)> = models
        .into_iter()
        // A `datasets` clause keeps only the models with a metric on one of its datasets.
        .filter(|model| {
            request.datasets.is_empty()
                || model.data.metrics.iter().any(|metric| metric_in_dataset_scope(metric, &request.datasets))
        })
        .map(|model| {
            let record = logged_model_record(&model, &request.datasets);
            (model, record)
        })
        .collect();
    filter_sort_page(items, Entity::LoggedModel, filter.as_ref(), &orders, (offset, request.max_results), budget)
}

/// MLflow 3.18's chart sampling over one run's rows (in (step, timestamp, value) order):
/// split them into `max_results` NTILE buckets, keep each bucket's first row, and make sure
/// the very last row is kept, replacing the last pick when there is no room. Returns the
/// kept rows' indices, ascending.
pub(crate) fn sample_indices(total: usize, max_results: usize) -> Vec<usize> {
    let buckets = max_results.max(1);
    if total == 0 {
        return Vec::new();
    }
    let mut kept: Vec<usize> = if total <= buckets {
        (0..total).collect()
    } else {
        let (quotient, remainder) = (total / buckets, total % buckets);
        (0..buckets).map(|b| b * quotient + b.min(remainder)).collect()
    };
    if kept.last() != Some(&(total - 1)) {
        if kept.len() >= buckets {
            kept.pop();
        }
        kept.push(total - 1);
    }
    kept
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
    let mut statement = conn
        .prepare_cached(
            "SELECT step, timestamp, value, is_nan FROM metrics \
             WHERE run_pk = ?1 AND key_id = ?2 AND step BETWEEN ?3 AND ?4 ORDER BY step, timestamp, value, is_nan",
        )
        .map_err(db_error)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_matches_ntile_and_keeps_the_last_row() {
        // NTILE(4) over 10 rows: buckets of 3,3,2,2 start at 0,3,6,8; the last row replaces 8.
        assert_eq!(sample_indices(10, 4), vec![0, 3, 6, 9]);
        assert_eq!(sample_indices(10, 1), vec![9]);
        assert_eq!(sample_indices(10, 20), (0..10).collect::<Vec<_>>());
        assert_eq!(sample_indices(0, 20), Vec::<usize>::new());
        let kept = sample_indices(1000, 10);
        assert_eq!(kept.len(), 10);
        assert_eq!((kept[0], kept[9]), (0, 999));
    }
}
