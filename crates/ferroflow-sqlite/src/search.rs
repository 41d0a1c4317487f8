//! Searches: experiments, runs, and the sampled bulk metric read behind UI charts.

use ferroflow_core::paging::{decode_offset, page_from};
use ferroflow_core::types::{Experiment, LifecycleStage, Metric, Page, Run, ViewType};
use ferroflow_core::{Error, Result};
use ferroflow_store::{BulkIntervalQuery, SearchExperiments, SearchRuns};
use rusqlite::Connection;

use crate::experiments;
use crate::runs;

fn stages(view_type: ViewType) -> Vec<LifecycleStage> {
    [LifecycleStage::Active, LifecycleStage::Deleted].into_iter().filter(|s| view_type.includes(*s)).collect()
}

fn no_filter(filter: &Option<String>) -> bool {
    filter.as_deref().map(str::trim).unwrap_or("").is_empty()
}

pub(crate) fn experiments(conn: &Connection, request: SearchExperiments) -> Result<Page<Experiment>> {
    let offset = decode_offset(request.page_token.as_deref())?;
    if !no_filter(&request.filter) || !request.order_by.is_empty() {
        return Err(Error::invalid_parameter("filters and order_by are not supported yet"));
    }
    let mut matching: Vec<Experiment> = experiments::all(conn)?
        .into_iter()
        .filter(|e| request.view_type.includes(e.lifecycle_stage))
        .collect();
    // MLflow's default order: newest first, ties by id.
    matching.sort_by(|a, b| {
        b.creation_time.cmp(&a.creation_time).then_with(|| {
            let id = |e: &Experiment| e.experiment_id.parse::<i64>().unwrap_or(i64::MAX);
            id(a).cmp(&id(b))
        })
    });
    let window: Vec<Experiment> =
        matching.into_iter().skip(offset as usize).take(request.max_results + 1).collect();
    Ok(page_from(window, offset, request.max_results))
}

pub(crate) fn runs(conn: &Connection, request: SearchRuns) -> Result<Page<Run>> {
    let offset = decode_offset(request.page_token.as_deref())?;
    let experiment_pks: Vec<i64> = request
        .experiment_ids
        .iter()
        .map(|id| ferroflow_core::validation::parse_experiment_id(id))
        .collect::<Result<_>>()?;
    if !no_filter(&request.filter) || !request.order_by.is_empty() {
        return Err(Error::invalid_parameter("filters and order_by are not supported yet"));
    }
    let fetched = runs::page_in_default_order(
        conn,
        &experiment_pks,
        &stages(request.run_view_type),
        offset,
        request.max_results,
    )?;
    Ok(page_from(fetched, offset, request.max_results))
}

/// MLflow 3.18's chart sampling over one run's rows (already in (step, timestamp, value)
/// order): split them into `max_results` NTILE buckets, keep each bucket's first row, and
/// make sure the very last row is kept, replacing the last pick when there is no room.
pub(crate) fn sample_rows<T: Clone + PartialEq>(rows: &[T], max_results: usize) -> Vec<T> {
    let buckets = max_results.max(1);
    let total = rows.len();
    if total == 0 {
        return Vec::new();
    }
    let mut kept: Vec<T> = if total <= buckets {
        rows.to_vec()
    } else {
        let (quotient, remainder) = (total / buckets, total % buckets);
        (0..buckets).map(|b| rows[b * quotient + b.min(remainder)].clone()).collect()
    };
    let last = &rows[total - 1];
    if kept.last() != Some(last) {
        if kept.len() >= buckets {
            kept.pop();
        }
        kept.push(last.clone());
    }
    kept
}

pub(crate) fn bulk_interval(conn: &Connection, query: BulkIntervalQuery) -> Result<Vec<Metric>> {
    let mut result = Vec::new();
    for run_id in &query.run_ids {
        // Unknown runs contribute no rows, as in MLflow.
        let Ok(run) = runs::find(conn, run_id) else { continue };
        let points = runs::metric_points_in_steps(conn, run.pk, &query.metric_key, query.steps)?;
        result.extend(sample_rows(&points, query.max_results).into_iter().map(|mut m| {
            m.run_id = Some(run_id.clone());
            m
        }));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_matches_ntile_and_keeps_the_last_row() {
        let rows: Vec<i64> = (0..10).collect();
        // NTILE(4) over 10 rows: buckets of 3,3,2,2 start at 0,3,6,8; the last row replaces 8.
        assert_eq!(sample_rows(&rows, 4), vec![0, 3, 6, 9]);
        assert_eq!(sample_rows(&rows, 1), vec![9]);
        assert_eq!(sample_rows(&rows, 20), rows);
        let many: Vec<i64> = (0..1000).collect();
        let kept = sample_rows(&many, 10);
        assert_eq!(kept.len(), 10);
        assert_eq!((kept[0], kept[9]), (0, 999));
    }
}
