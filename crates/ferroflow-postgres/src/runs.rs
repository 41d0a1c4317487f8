//! Run operations: create, read, update, lifecycle, and everything logged to a run.
//!
//! Every write to a run first locks its `runs` row (`FOR NO KEY UPDATE`, which still lets
//! other transactions insert rows that reference it). Writers of one run therefore take
//! turns, so a batch's read-modify-write of a metric's summary row cannot lose a
//! concurrent batch's points; writers of different runs never wait for each other, and a
//! transaction holds at most one run's lock, so they cannot deadlock (mlflow#24923).

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use ferroflow_core::types::{
    Dataset, DatasetInput, InputTag, KeyValue, LifecycleStage, Metric, ModelInput, ModelOutput, Page, Run, RunData,
    RunInfo, RunInputs, RunOutputs, RunStatus, RunTag,
};
use ferroflow_core::{ErrorCode, Result};
use ferroflow_store::common::RUN_NAME_TAG;
use ferroflow_store::common::{param_conflict_error, run_not_active, run_not_found, run_tag_not_found, NewRun};
use ferroflow_store::series::{points_by_key, Series, Shape};
use ferroflow_store::{CreateRun, LogBatch, MetricHistoryQuery, UpdateRun};
use tokio_postgres::Row;

use crate::db::{execute, query, query_opt};
use crate::experiments;

/// The columns of a run that writes need: its surrogate key and its lifecycle.
pub(crate) struct RunRef {
    pub pk: i64,
    pub experiment_id: i64,
    pub lifecycle_stage: LifecycleStage,
}

fn run_ref(row: &Row) -> RunRef {
    RunRef {
        pk: row.get(0),
        experiment_id: row.get(1),
        lifecycle_stage: LifecycleStage::parse(row.get(2)).unwrap_or(LifecycleStage::Active),
    }
}

pub(crate) async fn find(client: &impl GenericClient, run_id: &str) -> Result<RunRef> {
    let row =
        query_opt(client, "SELECT run_pk, experiment_id, lifecycle_stage FROM runs WHERE run_uuid = $1", &[&run_id])
            .await?
            .ok_or_else(|| run_not_found(run_id))?;
    Ok(run_ref(&row))
}

/// Finds a run that a write may change, and locks it until the transaction ends: it must
/// exist and be active.
pub(crate) async fn find_active_for_update(client: &impl GenericClient, run_id: &str) -> Result<RunRef> {
    let row = query_opt(
        client,
        "SELECT run_pk, experiment_id, lifecycle_stage FROM runs WHERE run_uuid = $1 FOR NO KEY UPDATE",
        &[&run_id],
    )
    .await?
    .ok_or_else(|| run_not_found(run_id))?;
    let run = run_ref(&row);
    if run.lifecycle_stage != LifecycleStage::Active {
        return Err(run_not_active(run_id, run.lifecycle_stage));
    }
    Ok(run)
}

fn returned_row(row: Option<Row>) -> Result<Row> {
    row.ok_or_else(|| ferroflow_core::Error::internal("INSERT … RETURNING returned no row"))
}

pub(crate) async fn create(client: &impl GenericClient, request: CreateRun) -> Result<Run> {
    let experiment_id = request.experiment_id.clone().filter(|id| !id.is_empty()).unwrap_or_else(|| "0".to_string());
    // Share-locked until the run is in: a concurrent delete of the experiment (which
    // locks it for update, then deletes its runs) waits, and cannot miss this run.
    let experiment = experiments::get_for_share(client, &experiment_id).await?;
    experiments::require_active(&experiment)?;
    let NewRun { run_id, run_name, artifact_uri, start_time, user_id, tags } = NewRun::plan(request, &experiment)?;
    let experiment_pk: i64 = experiment.experiment_id.parse().unwrap_or(0);
    let row = returned_row(
        query_opt(
            client,
            "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, lifecycle_stage, \
             artifact_uri) VALUES ($1, $2, $3, $4, $5, $6, 'active', $7) RETURNING run_pk",
            &[
                &run_id,
                &experiment_pk,
                &run_name,
                &user_id,
                &(RunStatus::Running.number() as i16),
                &start_time,
                &artifact_uri,
            ],
        )
        .await?,
    )?;
    let pk: i64 = row.get(0);
    log_tags(client, pk, &tags).await?;
    load(client, &run_id).await
}

const INFO_COLUMNS: &str = "run_pk, run_uuid, experiment_id, name, user_id, status, start_time, end_time, \
     artifact_uri, lifecycle_stage";

fn info_from_row(row: &Row) -> (i64, RunInfo) {
    let run_id: String = row.get(1);
    let status: i16 = row.get(5);
    (
        row.get(0),
        RunInfo {
            run_uuid: run_id.clone(),
            experiment_id: row.get::<_, i64>(2).to_string(),
            run_name: row.get(3),
            user_id: row.get(4),
            status: RunStatus::from_number(status as i64).unwrap_or(RunStatus::Running),
            start_time: row.get(6),
            end_time: row.get(7),
            artifact_uri: row.get(8),
            lifecycle_stage: LifecycleStage::parse(row.get(9)).unwrap_or(LifecycleStage::Active),
            run_id,
        },
    )
}

pub(crate) async fn load_info(client: &impl GenericClient, run_id: &str) -> Result<(i64, RunInfo)> {
    let sql = format!("SELECT {INFO_COLUMNS} FROM runs WHERE run_uuid = $1");
    let row = query_opt(client, &sql, &[&run_id]).await?.ok_or_else(|| run_not_found(run_id))?;
    Ok(info_from_row(&row))
}

/// Loads whole runs (info, latest metrics, params, tags, inputs, outputs), in the order of
/// `run_pks`, with one query per table whatever the number of runs. Unknown pks are skipped.
pub(crate) async fn load_many(client: &impl GenericClient, run_pks: &[i64]) -> Result<Vec<Run>> {
    let pks = run_pks.to_vec();
    let slots: HashMap<i64, usize> = run_pks.iter().enumerate().map(|(i, pk)| (*pk, i)).collect();
    let mut loaded: Vec<Option<Run>> = (0..run_pks.len()).map(|_| None).collect();
    let rows = query(client, &format!("SELECT {INFO_COLUMNS} FROM runs WHERE run_pk = ANY($1)"), &[&pks]).await?;
    for row in &rows {
        let (pk, info) = info_from_row(row);
        if let Some(slot) = slots.get(&pk) {
            loaded[*slot] = Some(Run {
                info,
                data: RunData::default(),
                inputs: RunInputs::default(),
                outputs: RunOutputs::default(),
            });
        }
    }
    let run_of = |loaded: &mut Vec<Option<Run>>, row: &Row| -> Option<usize> {
        let pk: i64 = row.get(0);
        slots.get(&pk).copied().filter(|slot| loaded[*slot].is_some())
    };
    macro_rules! each_row {
        ($sql:expr, |$run:ident, $row:ident| $body:block) => {
            for $row in &query(client, $sql, &[&pks]).await? {
                if let Some(slot) = run_of(&mut loaded, $row) {
                    if let Some($run) = loaded[slot].as_mut() {
                        $body
                    }
                }
            }
        };
    }
    each_row!(
        "SELECT l.run_pk, k.key, l.step, l.timestamp, l.value FROM latest_metrics l \
         JOIN metric_keys k ON k.key_id = l.key_id WHERE l.run_pk = ANY($1) ORDER BY l.run_pk, k.key",
        |run, row| {
            run.data.metrics.push(Metric::new(row.get::<_, String>(1), row.get(4), row.get(3), row.get(2)));
        }
    );
    each_row!("SELECT run_pk, key, value FROM params WHERE run_pk = ANY($1) ORDER BY run_pk, key", |run, row| {
        run.data.params.push(KeyValue::new(row.get::<_, String>(1), row.get::<_, String>(2)));
    });
    // MLflow's tag order is unspecified; key order keeps answers stable.
    each_row!("SELECT run_pk, key, value FROM tags WHERE run_pk = ANY($1) ORDER BY run_pk, key", |run, row| {
        run.data.tags.push(KeyValue::new(row.get::<_, String>(1), row.get::<_, String>(2)));
    });
    // Dataset inputs first, then their tags, matched by dataset_pk within the run.
    let mut dataset_slots: HashMap<(i64, i64), usize> = HashMap::new();
    each_row!(
        "SELECT i.run_pk, d.dataset_pk, d.name, d.digest, d.source_type, d.source, d.schema, d.profile \
         FROM run_dataset_inputs i JOIN datasets d ON d.dataset_pk = i.dataset_pk \
         WHERE i.run_pk = ANY($1) ORDER BY i.run_pk, i.position",
        |run, row| {
            dataset_slots.insert((row.get(0), row.get(1)), run.inputs.dataset_inputs.len());
            run.inputs.dataset_inputs.push(DatasetInput {
                tags: Vec::new(),
                dataset: Dataset {
                    name: row.get(2),
                    digest: row.get(3),
                    source_type: row.get(4),
                    source: row.get(5),
                    schema: row.get(6),
                    profile: row.get(7),
                },
            });
        }
    );
    if !dataset_slots.is_empty() {
        each_row!(
            "SELECT run_pk, dataset_pk, key, value FROM run_dataset_input_tags \
             WHERE run_pk = ANY($1) ORDER BY run_pk, dataset_pk, key",
            |run, row| {
                let key: (i64, i64) = (row.get(0), row.get(1));
                if let Some(input) = dataset_slots.get(&key).and_then(|i| run.inputs.dataset_inputs.get_mut(*i)) {
                    input.tags.push(InputTag::new(row.get::<_, String>(2), row.get::<_, String>(3)));
                }
            }
        );
    }
    each_row!(
        "SELECT run_pk, model_id FROM run_model_inputs WHERE run_pk = ANY($1) ORDER BY run_pk, model_id",
        |run, row| {
            run.inputs.model_inputs.push(ModelInput { model_id: row.get(1) });
        }
    );
    each_row!(
        "SELECT run_pk, model_id, step FROM run_model_outputs WHERE run_pk = ANY($1) ORDER BY run_pk, step, model_id",
        |run, row| {
            run.outputs.model_outputs.push(ModelOutput { model_id: row.get(1), step: row.get(2) });
        }
    );
    Ok(loaded.into_iter().flatten().collect())
}

pub(crate) async fn load(client: &impl GenericClient, run_id: &str) -> Result<Run> {
    let (pk, _) = load_info(client, run_id).await?;
    load_many(client, &[pk]).await?.pop().ok_or_else(|| run_not_found(run_id))
}

pub(crate) async fn update(client: &impl GenericClient, request: UpdateRun) -> Result<RunInfo> {
    let run = find_active_for_update(client, &request.run_id).await?;
    if let Some(status) = request.status {
        execute(client, "UPDATE runs SET status = $1 WHERE run_pk = $2", &[&(status.number() as i16), &run.pk]).await?;
    }
    if let Some(end_time) = request.end_time {
        execute(client, "UPDATE runs SET end_time = $1 WHERE run_pk = $2", &[&end_time, &run.pk]).await?;
    }
    if let Some(name) = request.run_name.filter(|n| !n.is_empty()) {
        log_tags(client, run.pk, &[RunTag::new(RUN_NAME_TAG, name)]).await?;
    }
    Ok(load_info(client, &request.run_id).await?.1)
}

pub(crate) async fn set_lifecycle(
    client: &impl GenericClient,
    run_id: &str,
    stage: LifecycleStage,
    now: i64,
) -> Result<()> {
    let run = find(client, run_id).await?;
    let deleted_time = (stage == LifecycleStage::Deleted).then_some(now);
    execute(
        client,
        "UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE run_pk = $3",
        &[&stage.as_str(), &deleted_time, &run.pk],
    )
    .await?;
    Ok(())
}

/// The interned id of a metric key, if any run ever logged it (never creates one).
pub(crate) async fn existing_metric_key_id(client: &impl GenericClient, key: &str) -> Result<Option<i32>> {
    Ok(query_opt(client, "SELECT key_id FROM metric_keys WHERE key = $1", &[&key]).await?.map(|row| row.get(0)))
}

/// Interns a metric key. A concurrent first use of the same key waits on the unique
/// index and then reads the winner's id.
pub(crate) async fn metric_key_id(client: &impl GenericClient, key: &str) -> Result<i32> {
    if let Some(id) = existing_metric_key_id(client, key).await? {
        return Ok(id);
    }
    let inserted = query_opt(
        client,
        "INSERT INTO metric_keys (key) VALUES ($1) ON CONFLICT (key) DO NOTHING RETURNING key_id",
        &[&key],
    )
    .await?;
    match inserted {
        Some(row) => Ok(row.get(0)),
        None => existing_metric_key_id(client, key)
            .await?
            .ok_or_else(|| ferroflow_core::Error::internal("a metric key vanished while it was interned")),
    }
}

fn shape_from_row(row: &Row, first: usize) -> Shape {
    Shape {
        point_count: row.get(first),
        first_step: row.get(first + 1),
        step_stride: row.get(first + 2),
        regular: row.get(first + 3),
        time_ordered: row.get(first + 4),
    }
}

pub(crate) async fn save_series(
    client: &impl GenericClient,
    run_pk: i64,
    key_id: i32,
    series: &mut Series,
) -> Result<()> {
    if series.recount {
        series.shape.point_count =
            query_opt(client, "SELECT count(*) FROM metrics WHERE run_pk = $1 AND key_id = $2", &[&run_pk, &key_id])
                .await?
                .map_or(0, |row| row.get(0));
    }
    let Some(latest) = series.to_save() else { return Ok(()) };
    let shape = &series.shape;
    execute(
        client,
        "INSERT INTO latest_metrics (run_pk, key_id, step, timestamp, value, point_count, first_step, step_stride, \
         regular, time_ordered) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (run_pk, key_id) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, \
         value = excluded.value, point_count = excluded.point_count, first_step = excluded.first_step, \
         step_stride = excluded.step_stride, regular = excluded.regular, time_ordered = excluded.time_ordered",
        &[
            &run_pk,
            &key_id,
            &latest.step,
            &latest.timestamp,
            &latest.value,
            &shape.point_count,
            &shape.first_step,
            &shape.step_stride,
            &shape.regular,
            &shape.time_ordered,
        ],
    )
    .await?;
    Ok(())
}

/// The shape of one run's key, if it has any point.
pub(crate) async fn shape(client: &impl GenericClient, run_pk: i64, key_id: i32) -> Result<Option<Shape>> {
    let row = query_opt(
        client,
        "SELECT point_count, first_step, step_stride, regular, time_ordered FROM latest_metrics \
         WHERE run_pk = $1 AND key_id = $2",
        &[&run_pk, &key_id],
    )
    .await?;
    Ok(row.map(|row| shape_from_row(&row, 0)))
}

/// Adds points given as columns to one series' history; returns how many were new.
pub(crate) async fn insert_points(
    client: &impl GenericClient,
    (run_pk, key_id): (i64, i32),
    steps: &[i64],
    timestamps: &[i64],
    values: &[f64],
) -> Result<u64> {
    execute(
        client,
        "INSERT INTO metrics (run_pk, key_id, step, timestamp, value) \
         SELECT $1, $2, p.step, p.timestamp, p.value \
         FROM unnest($3::bigint[], $4::bigint[], $5::double precision[]) AS p(step, timestamp, value) \
         ON CONFLICT DO NOTHING",
        &[&run_pk, &key_id, &steps, &timestamps, &values],
    )
    .await
}

/// Logs a batch in a few round trips whatever its size (log-metric is a batch of one):
/// one statement locks the run, one reads its batch keys' summaries, one adds the params
/// and reports conflicts, one adds every key's points and saves the summaries computed
/// here, one writes the tags. Only a key some of whose points were already stored (a
/// retried request) takes a second, slower pass.
pub(crate) async fn log_batch(client: &impl GenericClient, batch: &LogBatch) -> Result<()> {
    let grouped = points_by_key(&batch.metrics);
    let keys: Vec<&str> = grouped.iter().map(|(key, _)| key.as_str()).collect();
    let (run, mut known) = lock_run_with_series(client, &batch.run_id, &keys).await?;
    log_params(client, run.pk, batch).await?;
    let mut series_of = Vec::with_capacity(grouped.len());
    for (key, points) in &grouped {
        let (key_id, stored) = match known.remove(key.as_str()) {
            Some(found) => found,
            None => (metric_key_id(client, key).await?, Series::loaded(None)),
        };
        series_of.push((key_id, stored, points));
    }
    if !series_of.is_empty() {
        append_points(client, run.pk, &mut series_of).await?;
    }
    for metric in &batch.metrics {
        if let Some(model_id) = &metric.model_id {
            crate::logged_models::record_metric(client, model_id, &batch.run_id, metric).await?;
        }
    }
    log_tags(client, run.pk, &batch.tags).await
}

/// Locks an active run (as [`find_active_for_update`]), then reads the interned id and
/// stored summary of each of `keys` that has one.
///
/// Two statements, not one joined `SELECT … FOR NO KEY UPDATE OF r`: a statement that
/// waits for the run's lock re-reads only the locked row once it gets it (READ COMMITTED's
/// recheck); joined summaries would come from the snapshot taken before the wait, missing
/// the points the writer it waited for had just added. The read after the lock starts a
/// new snapshot that sees them (caught by tests/replicas.rs' concurrent batches).
async fn lock_run_with_series<'k>(
    client: &impl GenericClient,
    run_id: &str,
    keys: &[&'k str],
) -> Result<(RunRef, HashMap<&'k str, (i32, Series)>)> {
    let run = find_active_for_update(client, run_id).await?;
    let mut known = HashMap::new();
    if keys.is_empty() {
        return Ok((run, known));
    }
    let rows = query(
        client,
        "SELECT k.key, k.key_id, s.step, s.timestamp, s.value, s.point_count, s.first_step, s.step_stride, \
         s.regular, s.time_ordered \
         FROM metric_keys k LEFT JOIN latest_metrics s ON s.run_pk = $1 AND s.key_id = k.key_id \
         WHERE k.key = ANY($2::text[])",
        &[&run.pk, &keys],
    )
    .await?;
    for row in &rows {
        let key: &str = row.get(0);
        let Some(&key) = keys.iter().find(|k| **k == key) else { continue };
        let stored = row
            .get::<_, Option<i64>>(2)
            .map(|step| (Metric::new("", row.get(4), row.get(3), step), shape_from_row(row, 5)));
        known.insert(key, (row.get(1), Series::loaded(stored)));
    }
    Ok((run, known))
}

/// Adds a batch's params in one statement. All are checked before any is kept: a key
/// already logged with another value refuses the batch (and the transaction rolls back).
async fn log_params(client: &impl GenericClient, run_pk: i64, batch: &LogBatch) -> Result<()> {
    if batch.params.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = batch.params.iter().map(|p| p.key.as_str()).collect();
    let values: Vec<&str> = batch.params.iter().map(|p| p.value.as_str()).collect();
    // The outer SELECT sees the params as they were before this statement's insert, so it
    // finds exactly the keys that were already there with another value.
    let changed = query(
        client,
        "WITH given AS (SELECT * FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS g(key, value, position)), \
         added AS (INSERT INTO params (run_pk, key, value) SELECT $1, key, value FROM given \
                   ON CONFLICT (run_pk, key) DO NOTHING) \
         SELECT g.position, p.value FROM given g JOIN params p ON p.run_pk = $1 AND p.key = g.key \
         WHERE p.value <> g.value ORDER BY g.position",
        &[&run_pk, &keys, &values],
    )
    .await?;
    let conflicts: Vec<_> =
        changed.iter().map(|row| (&batch.params[row.get::<_, i64>(0) as usize - 1], row.get::<_, String>(1))).collect();
    match param_conflict_error(batch, &conflicts) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Adds every key's points to the history and, for each key whose points were all new,
/// saves the summary computed here, in one statement. A key some of whose points were
/// already stored comes back, and is summarised again from what the history holds.
async fn append_points(
    client: &impl GenericClient,
    run_pk: i64,
    series_of: &mut [(i32, Series, &Vec<Metric>)],
) -> Result<()> {
    let mut point_keys = Vec::new();
    let (mut steps, mut timestamps, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let mut summaries = Summaries::default();
    for (key_id, stored, points) in series_of.iter() {
        for point in points.iter() {
            point_keys.push(*key_id);
            steps.push(point.step);
            timestamps.push(point.timestamp);
            values.push(point.value);
        }
        let mut appended = stored.clone();
        points.iter().for_each(|point| appended.append(point));
        summaries.push(*key_id, points.len() as i64, &appended);
    }
    let partial = query(
        client,
        "WITH added AS (INSERT INTO metrics (run_pk, key_id, step, timestamp, value) \
                        SELECT $1, p.key_id, p.step, p.timestamp, p.value \
                        FROM unnest($2::integer[], $3::bigint[], $4::bigint[], $5::double precision[]) \
                             AS p(key_id, step, timestamp, value) \
                        ON CONFLICT DO NOTHING RETURNING key_id), \
         counts AS (SELECT key_id, count(*) AS added FROM added GROUP BY key_id), \
         summaries AS (SELECT * FROM unnest($6::integer[], $7::bigint[], $8::bigint[], $9::bigint[], \
                       $10::double precision[], $11::bigint[], $12::bigint[], $13::bigint[], $14::boolean[], \
                       $15::boolean[]) AS s(key_id, sent, step, timestamp, value, point_count, first_step, \
                       step_stride, regular, time_ordered)), \
         saved AS (INSERT INTO latest_metrics (run_pk, key_id, step, timestamp, value, point_count, first_step, \
                   step_stride, regular, time_ordered) \
                   SELECT $1, s.key_id, s.step, s.timestamp, s.value, s.point_count, s.first_step, s.step_stride, \
                          s.regular, s.time_ordered \
                   FROM summaries s JOIN counts c ON c.key_id = s.key_id AND c.added = s.sent \
                   ON CONFLICT (run_pk, key_id) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, \
                   value = excluded.value, point_count = excluded.point_count, first_step = excluded.first_step, \
                   step_stride = excluded.step_stride, regular = excluded.regular, \
                   time_ordered = excluded.time_ordered) \
         SELECT s.key_id FROM summaries s LEFT JOIN counts c ON c.key_id = s.key_id \
         WHERE coalesce(c.added, 0) <> s.sent",
        &[
            &run_pk,
            &point_keys,
            &steps,
            &timestamps,
            &values,
            &summaries.key_ids,
            &summaries.sent,
            &summaries.steps,
            &summaries.timestamps,
            &summaries.values,
            &summaries.point_counts,
            &summaries.first_steps,
            &summaries.step_strides,
            &summaries.regular,
            &summaries.time_ordered,
        ],
    )
    .await?;
    for row in partial {
        let key_id: i32 = row.get(0);
        if let Some((_, stored, points)) = series_of.iter_mut().find(|(id, _, _)| *id == key_id) {
            let refs: Vec<&Metric> = points.iter().collect();
            stored.append_some_of(&refs);
            save_series(client, run_pk, key_id, stored).await?;
        }
    }
    Ok(())
}

/// Summary rows as columns, for [`append_points`]' unnest.
#[derive(Default)]
struct Summaries {
    key_ids: Vec<i32>,
    sent: Vec<i64>,
    steps: Vec<i64>,
    timestamps: Vec<i64>,
    values: Vec<f64>,
    point_counts: Vec<i64>,
    first_steps: Vec<i64>,
    step_strides: Vec<i64>,
    regular: Vec<bool>,
    time_ordered: Vec<bool>,
}

impl Summaries {
    fn push(&mut self, key_id: i32, sent: i64, series: &Series) {
        // A batch key always has points, so its series always has a latest one.
        let Some(latest) = series.to_save() else { return };
        self.key_ids.push(key_id);
        self.sent.push(sent);
        self.steps.push(latest.step);
        self.timestamps.push(latest.timestamp);
        self.values.push(latest.value);
        self.point_counts.push(series.shape.point_count);
        self.first_steps.push(series.shape.first_step);
        self.step_strides.push(series.shape.step_stride);
        self.regular.push(series.shape.regular);
        self.time_ordered.push(series.shape.time_ordered);
    }
}

/// Sets a batch's tags in one statement; when a key comes twice the last value wins, as
/// if they had been set one after the other.
async fn log_tags(client: &impl GenericClient, run_pk: i64, tags: &[RunTag]) -> Result<()> {
    let mut last: Vec<&RunTag> = Vec::new();
    for tag in tags.iter().rev() {
        // An empty run name is ignored, as MLflow does.
        if (tag.key == RUN_NAME_TAG && tag.value.is_empty()) || last.iter().any(|kept| kept.key == tag.key) {
            continue;
        }
        last.push(tag);
    }
    if last.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = last.iter().map(|t| t.key.as_str()).collect();
    let values: Vec<&str> = last.iter().map(|t| t.value.as_str()).collect();
    execute(
        client,
        "INSERT INTO tags (run_pk, key, value) SELECT $1, t.key, t.value FROM unnest($2::text[], $3::text[]) AS t(key, value) \
         ON CONFLICT (run_pk, key) DO UPDATE SET value = excluded.value",
        &[&run_pk, &keys, &values],
    )
    .await?;
    if let Some(name) = last.iter().find(|t| t.key == RUN_NAME_TAG) {
        execute(client, "UPDATE runs SET name = $1 WHERE run_pk = $2", &[&name.value, &run_pk]).await?;
    }
    Ok(())
}

pub(crate) async fn delete_tag(client: &impl GenericClient, run_id: &str, key: &str) -> Result<()> {
    let run = find_active_for_update(client, run_id).await?;
    let removed = execute(client, "DELETE FROM tags WHERE run_pk = $1 AND key = $2", &[&run.pk, &key]).await?;
    if removed == 0 {
        return Err(run_tag_not_found(run_id, key));
    }
    Ok(())
}

pub(crate) async fn log_inputs(
    client: &impl GenericClient,
    run_id: &str,
    datasets: &[DatasetInput],
    models: &[ModelInput],
) -> Result<()> {
    let run = find_active_for_update(client, run_id).await?;
    for input in datasets {
        let dataset = &input.dataset;
        // A concurrent first log of the same dataset waits on the unique key, then reads it.
        execute(
            client,
            "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, profile) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (experiment_id, name, digest) DO NOTHING",
            &[
                &run.experiment_id,
                &dataset.name,
                &dataset.digest,
                &dataset.source_type,
                &dataset.source,
                &dataset.schema,
                &dataset.profile,
            ],
        )
        .await?;
        let dataset_pk: i64 = query_opt(
            client,
            "SELECT dataset_pk FROM datasets WHERE experiment_id = $1 AND name = $2 AND digest = $3",
            &[&run.experiment_id, &dataset.name, &dataset.digest],
        )
        .await?
        .map(|row| row.get(0))
        .ok_or_else(|| ferroflow_core::Error::internal("a dataset vanished while it was logged"))?;
        let inserted = execute(
            client,
            "INSERT INTO run_dataset_inputs (run_pk, dataset_pk, position) \
             VALUES ($1, $2, (SELECT count(*) FROM run_dataset_inputs WHERE run_pk = $1)) ON CONFLICT DO NOTHING",
            &[&run.pk, &dataset_pk],
        )
        .await?;
        // Like MLflow, a dataset already logged to this run keeps its original tags.
        if inserted > 0 {
            for tag in &input.tags {
                execute(
                    client,
                    "INSERT INTO run_dataset_input_tags (run_pk, dataset_pk, key, value) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (run_pk, dataset_pk, key) DO UPDATE SET value = excluded.value",
                    &[&run.pk, &dataset_pk, &tag.key, &tag.value],
                )
                .await?;
            }
        }
    }
    for model in models {
        execute(
            client,
            "INSERT INTO run_model_inputs (run_pk, model_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&run.pk, &model.model_id],
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn append_model_history(client: &impl GenericClient, run_id: &str, entry: &str) -> Result<()> {
    use ferroflow_core::model_history::{append_entry, HISTORY_TAG};
    let run = find_active_for_update(client, run_id).await?;
    let current: Option<String> =
        query_opt(client, "SELECT value FROM tags WHERE run_pk = $1 AND key = $2", &[&run.pk, &HISTORY_TAG])
            .await?
            .map(|row| row.get(0));
    let mut value = append_entry(current.as_deref(), entry)?;
    // Like any tag value, the list is cut at MLflow's limit (after which, as in MLflow,
    // it no longer parses and further appends are refused).
    ferroflow_core::validation::truncate_chars(&mut value, ferroflow_core::validation::MAX_TAG_VAL_LENGTH);
    log_tags(client, run.pk, &[RunTag::new(HISTORY_TAG, value)]).await
}

pub(crate) async fn log_outputs(client: &impl GenericClient, run_id: &str, models: &[ModelOutput]) -> Result<()> {
    let run = find_active_for_update(client, run_id).await?;
    for model in models {
        execute(
            client,
            "INSERT INTO run_model_outputs (run_pk, model_id, step) VALUES ($1, $2, $3) \
             ON CONFLICT (run_pk, model_id) DO UPDATE SET step = excluded.step",
            &[&run.pk, &model.model_id, &model.step],
        )
        .await?;
    }
    Ok(())
}

/// A metric's history in MLflow's order (timestamp, step, value), `limit` points from
/// `offset`. An unknown run has no history rather than being an error, as in MLflow.
pub(crate) async fn metric_history_points(
    client: &impl GenericClient,
    run_id: &str,
    key: &str,
    offset: u64,
    limit: Option<usize>,
) -> Result<Vec<Metric>> {
    let run_pk = match find(client, run_id).await {
        Ok(run) => run.pk,
        Err(error) if error.code == ErrorCode::ResourceDoesNotExist => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let Some(key_id) = existing_metric_key_id(client, key).await? else { return Ok(Vec::new()) };
    // When the series is known to be in that order already, it streams in primary-key
    // order; otherwise every page sorts the whole series.
    let in_key_order = shape(client, run_pk, key_id).await?.is_some_and(|s| s.regular && s.time_ordered);
    let sql = if in_key_order {
        "SELECT step, timestamp, value FROM metrics WHERE run_pk = $1 AND key_id = $2 \
         ORDER BY step, timestamp, value LIMIT $3 OFFSET $4"
    } else {
        "SELECT step, timestamp, value FROM metrics WHERE run_pk = $1 AND key_id = $2 \
         ORDER BY timestamp, step, value LIMIT $3 OFFSET $4"
    };
    // LIMIT NULL is no limit.
    let limit = limit.map(|l| (l as i64).saturating_add(1));
    let rows = query(client, sql, &[&run_pk, &key_id, &limit, &(offset as i64)]).await?;
    Ok(rows.iter().map(|row| Metric::new(key, row.get(2), row.get(1), row.get(0))).collect())
}

pub(crate) async fn metric_history(client: &impl GenericClient, query: &MetricHistoryQuery) -> Result<Page<Metric>> {
    let offset = ferroflow_core::paging::decode_offset(query.page_token.as_deref())?;
    let points = metric_history_points(client, &query.run_id, &query.metric_key, offset, query.max_results).await?;
    Ok(match query.max_results {
        Some(max_results) => ferroflow_core::paging::page_from(points, offset, max_results),
        None => Page { items: points, next_page_token: None },
    })
}
