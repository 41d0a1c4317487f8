//! ferroflow's own analysis endpoints for the web UI, under [`super::charts::PREFIX`]
//! (a prefix MLflow's server answers 404, so no MLflow call changes meaning).
//!
//! `POST /ajax-api/ferroflow/v1/param-importance`: which params matter for a metric over
//! the runs of a search (see [`ferroflow_core::importance`]).

use crate::auth::{Locate, Routes, Rule};
use ferroflow_core::auth::Action;
use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use ferroflow_core::importance::{self, ForestLimits, Observation, ParamImportance};
use ferroflow_core::types::ViewType;
use ferroflow_store::SearchRuns;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::wire::{lenient, Rpc};
use crate::AppState;

pub fn routes() -> Routes {
    Routes::new().post("/param-importance", Rule::Experiment(Action::Read, Locate::ExperimentIds), param_importance)
}

/// The most runs one analysis reads (the newest first, as the runs table orders them).
pub const MAX_IMPORTANCE_RUNS: usize = 10_000;
/// The most params it ranks; past that, the params logged by the most runs.
pub const MAX_IMPORTANCE_PARAMS: usize = 200;
const MAX_EXPERIMENTS: usize = 20;
const PAGE: usize = 1_000;

#[derive(Deserialize)]
pub struct ParamImportanceMessage {
    #[serde(default, deserialize_with = "lenient::vec_string")]
    experiment_ids: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    metric_key: Option<String>,
}

#[derive(Serialize)]
pub struct ParamImportanceAnswer {
    metric_key: String,
    /// Runs the search matched (up to the cap).
    runs_matched: usize,
    /// Runs with a finite value of the metric: what the numbers rest on.
    runs_used: usize,
    /// Whether more runs matched than were read.
    truncated: bool,
    params: Vec<ParamImportance>,
}

pub async fn param_importance(
    State(app): State<AppState>,
    rpc: Rpc<ParamImportanceMessage>,
) -> ApiResult<Json<ParamImportanceAnswer>> {
    let message = rpc.message;
    let metric_key = message
        .metric_key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::invalid("Missing value for required parameter 'metric_key'."))?;
    if message.experiment_ids.is_empty() || message.experiment_ids.len() > MAX_EXPERIMENTS {
        return Err(ApiError::invalid(format!(
            "A parameter importance request names between 1 and {MAX_EXPERIMENTS} experiment_ids; it named {}.",
            message.experiment_ids.len()
        )));
    }

    let mut observations = Vec::new();
    let (mut runs_matched, mut page_token, mut truncated) = (0, None, false);
    loop {
        let page = app
            .store
            .search_runs(SearchRuns {
                experiment_ids: message.experiment_ids.clone(),
                filter: message.filter.clone(),
                run_view_type: ViewType::ActiveOnly,
                max_results: PAGE.min(MAX_IMPORTANCE_RUNS - runs_matched),
                order_by: Vec::new(),
                page_token,
            })
            .await?;
        runs_matched += page.items.len();
        for run in page.items {
            let Some(metric) = run.data.metrics.iter().find(|m| m.key == metric_key) else { continue };
            let params = run.data.params.into_iter().map(|p| (p.key, p.value)).collect();
            observations.push(Observation { params, target: metric.value });
        }
        match page.next_page_token {
            Some(token) if runs_matched < MAX_IMPORTANCE_RUNS => page_token = Some(token),
            Some(_) => {
                truncated = true;
                break;
            }
            None => break,
        }
    }
    keep_most_logged_params(&mut observations, MAX_IMPORTANCE_PARAMS);
    let runs_used = observations.iter().filter(|o| o.target.is_finite()).count();
    // Bounded CPU (the forest's caps), off the async workers.
    let params =
        tokio::task::spawn_blocking(move || importance::param_importance(&observations, ForestLimits::default()))
            .await
            .map_err(|e| ApiError(ferroflow_core::Error::internal(format!("parameter importance failed: {e}"))))?;
    Ok(Json(ParamImportanceAnswer { metric_key, runs_matched, runs_used, truncated, params }))
}

/// Drops all but the `cap` params logged by the most runs (ties by key), so a search
/// over runs with thousands of distinct params stays bounded.
fn keep_most_logged_params(observations: &mut [Observation], cap: usize) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for o in observations.iter() {
        for key in o.params.keys() {
            *counts.entry(key).or_default() += 1;
        }
    }
    if counts.len() <= cap {
        return;
    }
    let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let kept: std::collections::HashSet<String> = ranked.into_iter().take(cap).map(|(k, _)| k.to_owned()).collect();
    for o in observations.iter_mut() {
        o.params.retain(|k, _| kept.contains(k));
    }
}
