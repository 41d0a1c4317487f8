//! Searches done in memory by the core search language's own evaluator
//! ([`ferroflow_core::search::eval`]), shared by every backend: experiments and logged
//! models, which number in the hundreds, are loaded and filtered here rather than
//! compiled to SQL. Also MLflow's chart sampling, which both stores apply to the rows
//! they read.

use std::cmp::Ordering;

use ferroflow_core::paging::{decode_offset, page_from};
use ferroflow_core::search::{self, eval, AttrValue, Entity, Filter, Key, KeyKind, OrderBy, Record};
use ferroflow_core::types::{Experiment, LoggedModel, Metric, Page};
use ferroflow_core::Result;

use crate::logged_models::{LoggedModelOrder, SearchLoggedModels};
use crate::SearchExperiments;

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

/// Filters, sorts and pages records in memory, calling `check` before each record.
fn filter_sort_page<T>(
    items: Vec<(T, Record)>,
    entity: Entity,
    filter: Option<&Filter>,
    orders: &[OrderBy],
    (offset, max_results): (u64, usize),
    mut check: impl FnMut() -> Result<()>,
) -> Result<Page<T>> {
    let mut matching = Vec::new();
    for (item, record) in items {
        check()?;
        if eval::matches(entity, filter, &record) {
            matching.push((item, record));
        }
    }
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

/// The value MLflow orders a logged model by for `metrics.<key>`: the point logged last
/// (by timestamp, then step) among that key's points on the clause's own dataset (name
/// and digest each when given), whatever the search's `datasets` clause says.
fn metric_order_value(model: &LoggedModel, key: &str, order: &LoggedModelOrder) -> Option<f64> {
    let on = |wanted: &Option<String>, logged: &Option<String>| wanted.is_none() || wanted == logged;
    model
        .data
        .metrics
        .iter()
        .filter(|m| {
            m.key == key && on(&order.dataset_name, &m.dataset_name) && on(&order.dataset_digest, &m.dataset_digest)
        })
        .max_by_key(|m| (m.timestamp, m.step))
        .map(|m| m.value)
}

/// Applies a logged-model search's filter, order and paging to `models`.
pub fn logged_models(
    models: Vec<LoggedModel>,
    request: &SearchLoggedModels,
    offset: u64,
    check: impl FnMut() -> Result<()>,
) -> Result<Page<LoggedModel>> {
    let filter = search::parse_logged_model_filter(request.filter.as_deref().unwrap_or(""))?;
    let mut orders = Vec::new();
    // Each metric clause sorts on a value of its own (see `metric_order_value`), kept in
    // the record under a key that no filter can name.
    let mut metric_orders: Vec<(String, String, &LoggedModelOrder)> = Vec::new();
    for clause in &request.order_by {
        let mut order = search::parse_logged_model_order_by(&clause.field_name, clause.ascending)?;
        if order.key.kind == KeyKind::Metric {
            let slot = format!("\u{0}order-{}", metric_orders.len());
            metric_orders.push((slot.clone(), std::mem::replace(&mut order.key.name, slot), clause));
        }
        orders.push(order);
    }
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
            let mut record = logged_model_record(&model, &request.datasets);
            for (slot, key, clause) in &metric_orders {
                if let Some(value) = metric_order_value(&model, key, clause) {
                    record = record.with_metric(slot, value);
                }
            }
            (model, record)
        })
        .collect();
    filter_sort_page(items, Entity::LoggedModel, filter.as_ref(), &orders, (offset, request.max_results), check)
}

/// MLflow 3.18's chart sampling over one run's rows (in (step, timestamp, value) order):
/// split them into `max_results` NTILE buckets, keep each bucket's first row, and make sure
/// the very last row is kept, replacing the last pick when there is no room. Returns the
/// kept rows' indices, ascending.
pub fn sample_indices(total: usize, max_results: usize) -> Vec<usize> {
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

/// A page of an experiment search over `all` experiments; `check` is called between
/// records and stops the search when it errs (a deadline, a vanished caller).
pub fn experiments(
    all: Vec<Experiment>,
    request: SearchExperiments,
    check: impl FnMut() -> Result<()>,
) -> Result<Page<Experiment>> {
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
    let items: Vec<(Experiment, Record)> = all
        .into_iter()
        .filter(|e| request.view_type.includes(e.lifecycle_stage))
        .filter(|e| ferroflow_core::auth::visible(request.visible.as_ref(), &e.experiment_id))
        .map(|e| {
            let record = experiment_record(&e);
            (e, record)
        })
        .collect();
    filter_sort_page(items, Entity::Experiment, filter.as_ref(), &orders, (offset, request.max_results), check)
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
