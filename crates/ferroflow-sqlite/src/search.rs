//! Searches: experiments, runs, and the sampled bulk metric read behind UI charts.

use std::collections::BTreeSet;

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
    // Experiment ids that are not integers name no experiment, so match nothing.
    let experiment_pks: Vec<i64> =
        request.experiment_ids.iter().filter_map(|id| ferroflow_core::validation::parse_experiment_id(id)).collect();
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

/// Picks at most `max_results` of the sorted, distinct `steps`, spread evenly and always
/// keeping the first and the last, so a chart keeps its ends.
pub(crate) fn sample_steps(steps: &[i64], max_results: usize) -> BTreeSet<i64> {
    if steps.len() <= max_results {
        return steps.iter().copied().collect();
    }
    if max_results <= 1 {
        return steps.first().copied().into_iter().collect();
    }
    let last = steps.len() - 1;
    (0..max_results)
        .map(|i| steps[(i * last + (max_results - 1) / 2) / (max_results - 1)])
        .chain([steps[last]])
        .collect()
}

pub(crate) fn bulk_interval(conn: &Connection, query: BulkIntervalQuery) -> Result<Vec<Metric>> {
    let mut result = Vec::new();
    for run_id in &query.run_ids {
        let run = runs::find(conn, run_id)?;
        let points = runs::metric_points_in_steps(conn, run.pk, &query.metric_key, query.steps)?;
        let mut steps: Vec<i64> = points.iter().map(|m| m.step).collect();
        steps.dedup();
        let chosen = sample_steps(&steps, query.max_results);
        result.extend(points.into_iter().filter(|m| chosen.contains(&m.step)).map(|mut m| {
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
    fn sampling_keeps_ends_and_bounds_count() {
        let steps: Vec<i64> = (0..1000).collect();
        let chosen = sample_steps(&steps, 10);
        assert!(chosen.len() <= 10, "{chosen:?}");
        assert!(chosen.contains(&0) && chosen.contains(&999));
        let few: Vec<i64> = vec![1, 5, 9];
        assert_eq!(sample_steps(&few, 10).len(), 3);
    }
}
