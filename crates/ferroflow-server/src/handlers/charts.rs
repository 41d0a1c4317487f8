//! The web UI's own chart endpoints, under ferroflow's prefix `/ajax-api/ferroflow/v1`
//! (a path MLflow's server answers 404, so no MLflow call changes meaning):
//!
//! * `charts/series` (GET or POST): a whole chart in one call: every (run, metric key)
//!   series over an optional step range, downsampled on the server to at most two points
//!   (the min and the max) per bucket, or raw when the range has no more points than
//!   buckets.
//! * `charts/live` (GET, `text/event-stream`): new points of the same series, pushed.
//!   The stream checks the store every [`LIVE_INTERVAL`] (one read per subscription, so
//!   it works the same on replicas sharing PostgreSQL) for points past each series' last
//!   step and sends them as a `points` event; comments keep idle connections open (sent
//!   at a third of `--keep-alive-timeout`, at most every 15 s), and the stream ends when
//!   the client goes away.

use crate::auth::{Locate, Routes, Rule};
use ferroflow_core::auth::Action;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use ferroflow_core::downsample::{DEFAULT_BUCKETS, MAX_BUCKETS};
use ferroflow_core::Error;
use ferroflow_store::{ChartSeries, SeriesRange};
use futures_util::Stream;
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{ApiError, ApiResult};
use crate::wire::{lenient, Rpc};
use crate::AppState;

/// The prefix of ferroflow's own UI endpoints.
pub const PREFIX: &str = "/ajax-api/ferroflow/v1";
/// The most runs one chart (or live subscription) may name: MLflow's bulk-interval cap.
pub const MAX_RUNS: usize = 100;
/// The most metric keys one chart (or live subscription) may name.
pub const MAX_KEYS: usize = 10;
/// How often a live subscription checks the store for new points.
pub const LIVE_INTERVAL: Duration = Duration::from_millis(500);

pub fn routes() -> Routes {
    let read_runs = Rule::Experiment(Action::Read, Locate::Runs);
    Routes::new().get("/charts/series", read_runs, chart).post("/charts/series", read_runs, chart).get(
        "/charts/live",
        read_runs,
        live,
    )
}

#[derive(Deserialize)]
pub struct ChartMessage {
    #[serde(default, deserialize_with = "lenient::vec_string")]
    run_ids: Vec<String>,
    #[serde(default, deserialize_with = "lenient::vec_string")]
    metric_keys: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    start_step: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    end_step: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    buckets: Option<i64>,
}

/// One series in the answer, as columns (what uPlot draws from).
#[derive(Serialize)]
pub struct SeriesOut {
    run_id: String,
    key: String,
    /// Stored points in the requested range; `steps.len()` of them were sent.
    total_points: u64,
    sampled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_step: Option<i64>,
    steps: Vec<i64>,
    timestamps: Vec<i64>,
    #[serde(serialize_with = "doubles")]
    values: Vec<f64>,
}

fn doubles<S: Serializer>(values: &[f64], serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = serializer.serialize_seq(Some(values.len()))?;
    for value in values {
        seq.serialize_element(&Double(*value))?;
    }
    seq.end()
}

struct Double(f64);

impl Serialize for Double {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ferroflow_core::types::serialize_double(&self.0, serializer)
    }
}

impl From<ChartSeries> for SeriesOut {
    fn from(series: ChartSeries) -> Self {
        let steps = series.points.iter().map(|p| p.step).collect();
        let timestamps = series.points.iter().map(|p| p.timestamp).collect();
        let values = series.points.iter().map(|p| p.value).collect();
        SeriesOut {
            run_id: series.run_id,
            key: series.key,
            total_points: series.total,
            sampled: series.sampled,
            last_step: series.last_step,
            steps,
            timestamps,
            values,
        }
    }
}

#[derive(Serialize)]
pub struct ChartAnswer {
    buckets: usize,
    series: Vec<SeriesOut>,
}

/// The runs and keys of a chart, checked: present, within the caps, each named once
/// (in the order first given).
fn runs_and_keys(run_ids: Vec<String>, metric_keys: Vec<String>) -> ApiResult<(Vec<String>, Vec<String>)> {
    let dedup = |items: Vec<String>| {
        let mut seen = std::collections::HashSet::new();
        items.into_iter().filter(|item| seen.insert(item.clone())).collect::<Vec<_>>()
    };
    let (run_ids, metric_keys) = (dedup(run_ids), dedup(metric_keys));
    if run_ids.is_empty() {
        return Err(ApiError(Error::missing_parameter("run_ids")));
    }
    if metric_keys.is_empty() {
        return Err(ApiError(Error::missing_parameter("metric_keys")));
    }
    if run_ids.len() > MAX_RUNS {
        return Err(ApiError::invalid(format!("A chart may name at most {MAX_RUNS} runs; got {}.", run_ids.len())));
    }
    if metric_keys.len() > MAX_KEYS {
        return Err(ApiError::invalid(format!(
            "A chart may name at most {MAX_KEYS} metric keys; got {}.",
            metric_keys.len()
        )));
    }
    if run_ids.iter().chain(&metric_keys).any(String::is_empty) {
        return Err(ApiError::invalid("Run ids and metric keys must not be empty."));
    }
    Ok((run_ids, metric_keys))
}

fn ranges(run_ids: &[String], metric_keys: &[String], steps: (i64, i64)) -> Vec<SeriesRange> {
    run_ids
        .iter()
        .flat_map(|run_id| {
            metric_keys.iter().map(|key| SeriesRange { run_id: run_id.clone(), key: key.clone(), steps })
        })
        .collect()
}

/// `charts/series`: one answer per (run, key), runs in the order given, then keys.
pub async fn chart(State(app): State<AppState>, rpc: Rpc<ChartMessage>) -> ApiResult<Json<ChartAnswer>> {
    let message = rpc.message;
    let (run_ids, metric_keys) = runs_and_keys(message.run_ids, message.metric_keys)?;
    let steps = (message.start_step.unwrap_or(i64::MIN), message.end_step.unwrap_or(i64::MAX));
    if steps.0 > steps.1 {
        return Err(ApiError::invalid(format!(
            "end_step must not be less than start_step. Found start_step={} and end_step={}.",
            steps.0, steps.1
        )));
    }
    let buckets = match message.buckets {
        None => DEFAULT_BUCKETS,
        Some(n) if (1..=MAX_BUCKETS as i64).contains(&n) => n as usize,
        Some(n) => return Err(ApiError::invalid(format!("buckets must be between 1 and {MAX_BUCKETS}; got {n}."))),
    };
    let series = app.store.chart_series(ranges(&run_ids, &metric_keys, steps), buckets).await?;
    Ok(Json(ChartAnswer { buckets, series: series.into_iter().map(SeriesOut::from).collect() }))
}

#[derive(Deserialize)]
pub struct LiveMessage {
    #[serde(default, deserialize_with = "lenient::vec_string")]
    run_ids: Vec<String>,
    #[serde(default, deserialize_with = "lenient::vec_string")]
    metric_keys: Vec<String>,
}

#[derive(Serialize)]
struct LiveEvent {
    series: Vec<SeriesOut>,
}

/// What a live subscription remembers between checks: each series' last step sent.
struct Subscription {
    app: AppState,
    cursors: Vec<(SeriesRange, Option<i64>)>,
    started: bool,
    ticker: tokio::time::Interval,
}

impl Subscription {
    /// The next event: `ready` first (the series' last steps now), then `points` whenever
    /// a check finds new ones; `Err` is an `error` event, after which the stream ends.
    async fn next_event(&mut self) -> Result<Event, Event> {
        if !self.started {
            self.started = true;
            let probe =
                self.cursors.iter().map(|(range, _)| SeriesRange { steps: (i64::MAX, i64::MAX), ..range.clone() });
            let answer = match self.app.store.chart_series(probe.collect(), DEFAULT_BUCKETS).await {
                Ok(answer) => answer,
                Err(error) => return Err(error_event(error)),
            };
            for ((_, cursor), series) in self.cursors.iter_mut().zip(&answer) {
                *cursor = series.last_step;
            }
            let series = answer.into_iter().map(SeriesOut::from).collect();
            return Ok(json_event("ready", &LiveEvent { series }));
        }
        loop {
            self.ticker.tick().await;
            let ranges: Vec<SeriesRange> = self
                .cursors
                .iter()
                .map(|(range, cursor)| {
                    let low = cursor.map_or(i64::MIN, |last| last.saturating_add(1));
                    SeriesRange { steps: (low, i64::MAX), ..range.clone() }
                })
                .collect();
            let answer = match self.app.store.chart_series(ranges, DEFAULT_BUCKETS).await {
                Ok(answer) => answer,
                Err(error) => return Err(error_event(error)),
            };
            let mut fresh = Vec::new();
            for ((_, cursor), series) in self.cursors.iter_mut().zip(answer) {
                if let Some(last) = series.points.last() {
                    *cursor = Some(last.step.max(cursor.unwrap_or(i64::MIN)));
                    fresh.push(SeriesOut::from(series));
                }
            }
            if !fresh.is_empty() {
                return Ok(json_event("points", &LiveEvent { series: fresh }));
            }
        }
    }
}

fn json_event<T: Serialize>(name: &str, data: &T) -> Event {
    let text = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_string());
    Event::default().event(name).data(text)
}

fn error_event(error: Error) -> Event {
    tracing::warn!(error_code = %error.code, "live chart check failed");
    json_event("error", &serde_json::json!({ "error_code": error.code.to_string(), "message": error.message }))
}

/// `charts/live`: a `text/event-stream` of the chart's new points (see the module docs).
pub async fn live(
    State(app): State<AppState>,
    rpc: Rpc<LiveMessage>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let (run_ids, metric_keys) = runs_and_keys(rpc.message.run_ids, rpc.message.metric_keys)?;
    let app_keep_alive = app.config.connections.keep_alive_timeout;
    let cursors = ranges(&run_ids, &metric_keys, (i64::MIN, i64::MAX)).into_iter().map(|r| (r, None)).collect();
    let mut ticker = tokio::time::interval(LIVE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let subscription = Subscription { app, cursors, started: false, ticker };
    let stream = futures_util::stream::unfold(Some(subscription), |state| async move {
        let mut subscription: Subscription = state?;
        Some(match subscription.next_event().await {
            Ok(event) => (Ok::<Event, Infallible>(event), Some(subscription)),
            Err(event) => (Ok(event), None),
        })
    });
    // The connection loop (serve.rs) counts a connection whose handler has answered as
    // idle, and ends it after `--keep-alive-timeout` without a byte either way: the
    // comments are sent well within that, so a quiet chart's stream stays open.
    let quiet = (app_keep_alive / 3).clamp(Duration::from_secs(1), Duration::from_secs(15));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(quiet).text("keep-alive")))
}
