//! Experiments, runs and metric histories.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    next_token, page_token_param, Client, Experiment, KeyValue, LoggedModel, Metric, Page, Result, Run, ViewType,
};

/// A `runs/search` request. `max_results` is the page size (MLflow's maximum is 50,000).
#[derive(Debug, Clone, Default)]
pub struct RunSearch {
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    pub order_by: Vec<String>,
    pub view_type: ViewType,
    pub max_results: Option<u32>,
}

#[derive(Deserialize)]
struct ExperimentAnswer {
    experiment: Experiment,
}

#[derive(Deserialize)]
struct RunAnswer {
    run: Run,
}

#[derive(Deserialize)]
struct RunsPage {
    #[serde(default)]
    runs: Vec<Run>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct MetricsPage {
    #[serde(default)]
    metrics: Vec<Metric>,
    next_page_token: Option<String>,
}

impl Client {
    pub async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let answer: ExperimentAnswer =
            self.call(Method::GET, "experiments/get", &[("experiment_id", experiment_id.into())], None).await?;
        Ok(answer.experiment)
    }

    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        let answer: ExperimentAnswer =
            self.call(Method::GET, "experiments/get-by-name", &[("experiment_name", name.into())], None).await?;
        Ok(answer.experiment)
    }

    /// Creates an experiment and returns its id.
    pub async fn create_experiment(&self, name: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Answer {
            experiment_id: String,
        }
        let answer: Answer = self.call(Method::POST, "experiments/create", &[], Some(json!({ "name": name }))).await?;
        Ok(answer.experiment_id)
    }

    pub async fn get_run(&self, run_id: &str) -> Result<Run> {
        let answer: RunAnswer = self.call(Method::GET, "runs/get", &[("run_id", run_id.into())], None).await?;
        Ok(answer.run)
    }

    /// Starts a run in `experiment_id`, with `tags`.
    pub async fn create_run(&self, experiment_id: &str, run_name: Option<&str>, tags: &[KeyValue]) -> Result<Run> {
        let mut body = json!({ "experiment_id": experiment_id, "tags": tags, "start_time": now_ms() });
        if let Some(name) = run_name {
            body["run_name"] = name.into();
        }
        let answer: RunAnswer = self.call(Method::POST, "runs/create", &[], Some(body)).await?;
        Ok(answer.run)
    }

    /// Logs metrics, params and tags to a run in one call (`runs/log-batch`).
    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[KeyValue],
        tags: &[KeyValue],
    ) -> Result<()> {
        let metrics: Vec<Value> = metrics
            .iter()
            .map(|m| json!({ "key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step }))
            .collect();
        let body = json!({ "run_id": run_id, "metrics": metrics, "params": params, "tags": tags });
        let _: Value = self.call(Method::POST, "runs/log-batch", &[], Some(body)).await?;
        Ok(())
    }

    /// Ends a run with `status` (`FINISHED`, `FAILED`, `KILLED`).
    pub async fn end_run(&self, run_id: &str, status: &str) -> Result<()> {
        let body = json!({ "run_id": run_id, "status": status, "end_time": now_ms() });
        let _: Value = self.call(Method::POST, "runs/update", &[], Some(body)).await?;
        Ok(())
    }

    /// One page of `runs/search`.
    pub async fn search_runs(&self, search: &RunSearch, page_token: Option<&str>) -> Result<Page<Run>> {
        let mut body = json!({
            "experiment_ids": search.experiment_ids,
            "run_view_type": search.view_type,
            "order_by": search.order_by,
        });
        if let Some(filter) = &search.filter {
            body["filter"] = filter.as_str().into();
        }
        if let Some(max) = search.max_results {
            body["max_results"] = max.into();
        }
        if let Some((_, token)) = page_token_param(page_token) {
            body["page_token"] = token.into();
        }
        let page: RunsPage = self.call(Method::POST, "runs/search", &[], Some(body)).await?;
        Ok(Page { items: page.runs, next_page_token: next_token(page.next_page_token) })
    }

    /// Every run `search` matches, up to `limit`, page after page.
    pub async fn search_runs_up_to(&self, search: &RunSearch, limit: usize) -> Result<Vec<Run>> {
        let mut search = search.clone();
        let mut runs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let left = limit - runs.len();
            search.max_results = Some(left.min(search.max_results.unwrap_or(1000) as usize).max(1) as u32);
            let page = self.search_runs(&search, token.as_deref()).await?;
            runs.extend(page.items);
            runs.truncate(limit);
            match page.next_page_token {
                Some(next) if runs.len() < limit => token = Some(next),
                _ => return Ok(runs),
            }
        }
    }

    /// A metric's whole history, every page of `metrics/get-history`.
    pub async fn metric_history(&self, run_id: &str, metric_key: &str) -> Result<Vec<Metric>> {
        let mut points = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("run_id", run_id.to_string()), ("metric_key", metric_key.to_string())];
            query.extend(page_token_param(token.as_deref()));
            let page: MetricsPage = self.call(Method::GET, "metrics/get-history", &query, None).await?;
            points.extend(page.metrics);
            match next_token(page.next_page_token) {
                Some(next) => token = Some(next),
                None => return Ok(points),
            }
        }
    }
}

#[derive(Deserialize)]
struct LoggedModelsPage {
    #[serde(default)]
    models: Vec<LoggedModel>,
    next_page_token: Option<String>,
}

impl Client {
    /// The logged models (MLflow 3) a run produced, from `logged-models/search`.
    pub async fn logged_models_of_run(&self, experiment_id: &str, run_id: &str) -> Result<Vec<LoggedModel>> {
        let mut models = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({
                "experiment_ids": [experiment_id],
                "filter": format!("source_run_id = '{}'", run_id.replace('\'', "")),
                "max_results": 100,
            });
            if let Some(token) = &token {
                body["page_token"] = token.as_str().into();
            }
            let page: LoggedModelsPage = self.call(Method::POST, "logged-models/search", &[], Some(body)).await?;
            models.extend(page.models);
            match next_token(page.next_page_token) {
                Some(next) => token = Some(next),
                None => return Ok(models),
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}
