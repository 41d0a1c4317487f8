//! Run, metric, param, tag and input/output operations on one connection.

use std::cmp::Ordering::Equal;
use std::collections::HashMap;

use ferroflow_core::names::generate_run_name;
use ferroflow_core::types::{
    Dataset, DatasetInput, InputTag, KeyValue, LifecycleStage, Metric, ModelInput, ModelOutput, Run, RunData, RunInfo,
    RunInputs, RunOutputs, RunStatus, RunTag,
};
use ferroflow_core::{Error, Result};
use ferroflow_store::{CreateRun, LogBatch, UpdateRun};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::db::db_error;
use crate::experiments;
use crate::series::{stored_value, Series};

pub(crate) const RUN_NAME_TAG: &str = "mlflow.runName";

/// The id columns of a run that writes need: its surrogate key and its lifecycle.
pub(crate) struct RunRef {
    pub pk: i64,
    pub experiment_id: i64,
    pub lifecycle_stage: LifecycleStage,
}

pub(crate) use ferroflow_store::common::run_not_found;

pub(crate) fn find(conn: &Connection, run_id: &str) -> Result<RunRef> {
    conn.prepare_cached("SELECT run_pk, experiment_id, lifecycle_stage FROM runs WHERE run_uuid = ?1")
        .map_err(db_error)?
        .query_row([run_id], |row| {
            let stage: String = row.get(2)?;
            Ok(RunRef {
                pk: row.get(0)?,
                experiment_id: row.get(1)?,
                lifecycle_stage: LifecycleStage::parse(&stage).unwrap_or(LifecycleStage::Active),
            })
        })
        .optional()
        .map_err(db_error)?
        .ok_or_else(|| run_not_found(run_id))
}

/// Finds a run that writes may change: it must exist and be active.
pub(crate) fn find_active(conn: &Connection, run_id: &str) -> Result<RunRef> {
    let run = find(conn, run_id)?;
    if run.lifecycle_stage != LifecycleStage::Active {
        return Err(ferroflow_store::common::run_not_active(run_id, run.lifecycle_stage));
    }
    Ok(run)
}

pub(crate) use ferroflow_store::common::clamp_infinity;

pub(crate) fn create(conn: &Connection, request: CreateRun) -> Result<Run> {
    let experiment_id = request.experiment_id.filter(|id| !id.is_empty()).unwrap_or_else(|| "0".to_string());
    let experiment = experiments::get(conn, &experiment_id)?;
    experiments::require_active(&experiment)?;

    let tag_name =
        request.tags.iter().find(|t| t.key == RUN_NAME_TAG).map(|t| t.value.clone()).filter(|v| !v.is_empty());
    let requested_name = request.run_name.filter(|n| !n.is_empty());
    let run_name = match (requested_name, tag_name) {
        (Some(name), Some(tag)) if name != tag => {
            return Err(Error::invalid_parameter(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different \
                 values (run_name='{name}', mlflow.runName='{tag}')."
            )));
        }
        (Some(name), _) | (None, Some(name)) if !name.is_empty() => name,
        _ => generate_run_name(&mut rand::rng()),
    };

    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let artifact_uri = experiments::join_uri(&experiment.artifact_location, &format!("{run_id}/artifacts"));
    // Like MLflow, an absent start time is stored as 0, not as "now".
    let start_time = request.start_time.unwrap_or(0);
    let user_id = request.user_id.unwrap_or_default();
    conn.prepare_cached(
        "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, lifecycle_stage, artifact_uri) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7)",
    )
    .map_err(db_error)?
    .execute(params![
        run_id,
        experiments::experiment_pk(&experiment_id)?,
        run_name,
        user_id,
        RunStatus::Running.number(),
        start_time,
        artifact_uri
    ])
    .map_err(db_error)?;
    let pk = conn.last_insert_rowid();
    let mut tags = request.tags;
    if !tags.iter().any(|t| t.key == RUN_NAME_TAG && t.value == run_name) {
        tags.retain(|t| t.key != RUN_NAME_TAG);
        tags.push(RunTag::new(RUN_NAME_TAG, run_name.clone()));
    }
    for tag in &tags {
        upsert_tag(conn, pk, tag)?;
    }
    load(conn, &run_id)
}

fn upsert_tag(conn: &Connection, run_pk: i64, tag: &RunTag) -> Result<()> {
    if tag.key == RUN_NAME_TAG && tag.value.is_empty() {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO tags (run_pk, key, value) VALUES (?1, ?2, ?3) \
         ON CONFLICT (run_pk, key) DO UPDATE SET value = excluded.value",
    )
    .map_err(db_error)?
    .execute(params![run_pk, tag.key, tag.value])
    .map_err(db_error)?;
    if tag.key == RUN_NAME_TAG {
        conn.prepare_cached("UPDATE runs SET name = ?1 WHERE run_pk = ?2")
            .map_err(db_error)?
            .execute(params![tag.value, run_pk])
            .map_err(db_error)?;
    }
    Ok(())
}

const INFO_COLUMNS: &str = "run_pk, run_uuid, experiment_id, name, user_id, status, start_time, end_time, \
     artifact_uri, lifecycle_stage";

fn info_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, RunInfo)> {
    let run_id: String = row.get(1)?;
    let stage: String = row.get(9)?;
    let status: i64 = row.get(5)?;
    Ok((
        row.get(0)?,
        RunInfo {
            run_uuid: run_id.clone(),
            experiment_id: row.get::<_, i64>(2)?.to_string(),
            run_name: row.get(3)?,
            user_id: row.get(4)?,
            status: RunStatus::from_number(status).unwrap_or(RunStatus::Running),
            start_time: row.get(6)?,
            end_time: row.get(7)?,
            artifact_uri: row.get(8)?,
            lifecycle_stage: LifecycleStage::parse(&stage).unwrap_or(LifecycleStage::Active),
            run_id,
        },
    ))
}

pub(crate) fn load_info(conn: &Connection, run_id: &str) -> Result<(i64, RunInfo)> {
    conn.prepare_cached(&format!("SELECT {INFO_COLUMNS} FROM runs WHERE run_uuid = ?1"))
        .map_err(db_error)?
        .query_row([run_id], info_from_row)
        .optional()
        .map_err(db_error)?
        .ok_or_else(|| run_not_found(run_id))
}

fn metric_from_row(row: &Row<'_>) -> rusqlite::Result<Metric> {
    let is_nan: bool = row.get(4)?;
    let value: f64 = row.get(3)?;
    Ok(Metric::new(row.get::<_, String>(0)?, if is_nan { f64::NAN } else { value }, row.get(2)?, row.get(1)?))
}

/// `run_pks` as the JSON array that `json_each(?)` turns back into a set: one bound
/// parameter however long the page is.
pub(crate) fn pk_list(run_pks: &[i64]) -> String {
    let mut list = String::with_capacity(run_pks.len() * 8 + 2);
    list.push('[');
    for (i, pk) in run_pks.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        list.push_str(&pk.to_string());
    }
    list.push(']');
    list
}

/// Runs `sql` (whose first column is a run_pk and whose only parameter is the pk list) and
/// hands each row to `visit` with the slot of its run.
fn for_each_row(
    conn: &Connection,
    sql: &str,
    list: &str,
    slots: &HashMap<i64, usize>,
    mut visit: impl FnMut(usize, &Row<'_>) -> rusqlite::Result<()>,
) -> Result<()> {
    let mut statement = conn.prepare_cached(sql).map_err(db_error)?;
    let mut rows = statement.query([list]).map_err(db_error)?;
    while let Some(row) = rows.next().map_err(db_error)? {
        let pk: i64 = row.get(0).map_err(db_error)?;
        if let Some(slot) = slots.get(&pk) {
            visit(*slot, row).map_err(db_error)?;
        }
    }
    Ok(())
}

/// Loads whole runs (info, latest metrics, params, tags, inputs, outputs), in the order of
/// `run_pks`, with one query per table whatever the number of runs: a search page of 100
/// runs costs seven queries, not six per run. Unknown pks are skipped.
pub(crate) fn load_many(conn: &Connection, run_pks: &[i64]) -> Result<Vec<Run>> {
    let list = pk_list(run_pks);
    let slots: HashMap<i64, usize> = run_pks.iter().enumerate().map(|(i, pk)| (*pk, i)).collect();
    let mut loaded: Vec<Option<Run>> = (0..run_pks.len()).map(|_| None).collect();
    for_each_row(
        conn,
        &format!("SELECT {INFO_COLUMNS} FROM runs WHERE run_pk IN (SELECT value FROM json_each(?1))"),
        &list,
        &slots,
        |slot, row| {
            let (_, info) = info_from_row(row)?;
            loaded[slot] = Some(Run {
                info,
                data: RunData::default(),
                inputs: RunInputs::default(),
                outputs: RunOutputs::default(),
            });
            Ok(())
        },
    )?;
    let mut with_run = |sql: &str, visit: &mut dyn FnMut(&mut Run, &Row<'_>) -> rusqlite::Result<()>| {
        for_each_row(conn, sql, &list, &slots, |slot, row| match loaded[slot].as_mut() {
            Some(run) => visit(run, row),
            None => Ok(()),
        })
    };
    with_run(
        "SELECT l.run_pk, k.key, l.step, l.timestamp, l.value, l.is_nan FROM latest_metrics l \
         JOIN metric_keys k ON k.key_id = l.key_id \
         WHERE l.run_pk IN (SELECT value FROM json_each(?1)) ORDER BY l.run_pk, k.key",
        &mut |run, row| {
            let is_nan: bool = row.get(5)?;
            let value: f64 = row.get(4)?;
            let value = if is_nan { f64::NAN } else { value };
            run.data.metrics.push(Metric::new(row.get::<_, String>(1)?, value, row.get(3)?, row.get(2)?));
            Ok(())
        },
    )?;
    with_run(
        "SELECT run_pk, key, value FROM params WHERE run_pk IN (SELECT value FROM json_each(?1)) ORDER BY run_pk, key",
        &mut |run, row| {
            run.data.params.push(KeyValue::new(row.get::<_, String>(1)?, row.get::<_, String>(2)?));
            Ok(())
        },
    )?;
    // MLflow's tag order is unspecified; key order keeps answers stable.
    with_run(
        "SELECT run_pk, key, value FROM tags WHERE run_pk IN (SELECT value FROM json_each(?1)) ORDER BY run_pk, key",
        &mut |run, row| {
            run.data.tags.push(KeyValue::new(row.get::<_, String>(1)?, row.get::<_, String>(2)?));
            Ok(())
        },
    )?;
    // Dataset inputs first, then their tags, matched by dataset_pk within the run.
    let mut dataset_slots: HashMap<(i64, i64), usize> = HashMap::new();
    with_run(
        "SELECT i.run_pk, d.dataset_pk, d.name, d.digest, d.source_type, d.source, d.schema, d.profile \
         FROM run_dataset_inputs i JOIN datasets d ON d.dataset_pk = i.dataset_pk \
         WHERE i.run_pk IN (SELECT value FROM json_each(?1)) ORDER BY i.run_pk, i.position",
        &mut |run, row| {
            let key = (row.get::<_, i64>(0)?, row.get::<_, i64>(1)?);
            dataset_slots.insert(key, run.inputs.dataset_inputs.len());
            run.inputs.dataset_inputs.push(DatasetInput {
                tags: Vec::new(),
                dataset: Dataset {
                    name: row.get(2)?,
                    digest: row.get(3)?,
                    source_type: row.get(4)?,
                    source: row.get(5)?,
                    schema: row.get(6)?,
                    profile: row.get(7)?,
                },
            });
            Ok(())
        },
    )?;
    if !dataset_slots.is_empty() {
        with_run(
            "SELECT run_pk, dataset_pk, key, value FROM run_dataset_input_tags \
             WHERE run_pk IN (SELECT value FROM json_each(?1)) ORDER BY run_pk, dataset_pk, key",
            &mut |run, row| {
                let key = (row.get::<_, i64>(0)?, row.get::<_, i64>(1)?);
                if let Some(input) = dataset_slots.get(&key).and_then(|i| run.inputs.dataset_inputs.get_mut(*i)) {
                    input.tags.push(InputTag::new(row.get::<_, String>(2)?, row.get::<_, String>(3)?));
                }
                Ok(())
            },
        )?;
    }
    with_run(
        "SELECT run_pk, model_id FROM run_model_inputs WHERE run_pk IN (SELECT value FROM json_each(?1)) \
         ORDER BY run_pk, model_id",
        &mut |run, row| {
            run.inputs.model_inputs.push(ModelInput { model_id: row.get(1)? });
            Ok(())
        },
    )?;
    with_run(
        "SELECT run_pk, model_id, step FROM run_model_outputs WHERE run_pk IN (SELECT value FROM json_each(?1)) \
         ORDER BY run_pk, step, model_id",
        &mut |run, row| {
            run.outputs.model_outputs.push(ModelOutput { model_id: row.get(1)?, step: row.get(2)? });
            Ok(())
        },
    )?;
    Ok(loaded.into_iter().flatten().collect())
}

pub(crate) fn load(conn: &Connection, run_id: &str) -> Result<Run> {
    let (pk, _) = load_info(conn, run_id)?;
    load_many(conn, &[pk])?.pop().ok_or_else(|| run_not_found(run_id))
}

pub(crate) fn update(conn: &Connection, request: UpdateRun) -> Result<RunInfo> {
    let run = find_active(conn, &request.run_id)?;
    if let Some(status) = request.status {
        conn.execute("UPDATE runs SET status = ?1 WHERE run_pk = ?2", params![status.number(), run.pk])
            .map_err(db_error)?;
    }
    if let Some(end_time) = request.end_time {
        conn.execute("UPDATE runs SET end_time = ?1 WHERE run_pk = ?2", params![end_time, run.pk]).map_err(db_error)?;
    }
    if let Some(name) = request.run_name.filter(|n| !n.is_empty()) {
        upsert_tag(conn, run.pk, &RunTag::new(RUN_NAME_TAG, name))?;
    }
    Ok(load_info(conn, &request.run_id)?.1)
}

pub(crate) fn set_lifecycle(conn: &Connection, run_id: &str, stage: LifecycleStage, now: i64) -> Result<()> {
    let run = find(conn, run_id)?;
    let deleted_time = (stage == LifecycleStage::Deleted).then_some(now);
    conn.execute(
        "UPDATE runs SET lifecycle_stage = ?1, deleted_time = ?2 WHERE run_pk = ?3",
        params![stage.as_str(), deleted_time, run.pk],
    )
    .map_err(db_error)?;
    Ok(())
}

/// Interns a metric key, returning its integer id.
/// The interned id of a metric key, if any run ever logged it (never creates one).
pub(crate) fn existing_metric_key_id(conn: &Connection, key: &str) -> Result<Option<i64>> {
    conn.prepare_cached("SELECT key_id FROM metric_keys WHERE key = ?1")
        .map_err(db_error)?
        .query_row([key], |row| row.get(0))
        .optional()
        .map_err(db_error)
}

pub(crate) fn metric_key_id(conn: &Connection, key: &str) -> Result<i64> {
    if let Some(id) = existing_metric_key_id(conn, key)? {
        return Ok(id);
    }
    conn.prepare_cached("INSERT INTO metric_keys (key) VALUES (?1)")
        .map_err(db_error)?
        .execute([key])
        .map_err(db_error)?;
    Ok(conn.last_insert_rowid())
}

/// Python's `repr` of a string, as MLflow's messages print them.
fn python_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

pub(crate) fn log_batch(conn: &Connection, batch: LogBatch) -> Result<()> {
    let run = find_active(conn, &batch.run_id)?;
    // All params are checked before any is written; a changed value refuses the batch.
    let mut conflicts = Vec::new();
    for param in &batch.params {
        let existing: Option<String> = conn
            .prepare_cached("SELECT value FROM params WHERE run_pk = ?1 AND key = ?2")
            .map_err(db_error)?
            .query_row(params![run.pk, param.key], |row| row.get(0))
            .optional()
            .map_err(db_error)?;
        match existing {
            Some(value) if value == param.value => {}
            Some(value) => conflicts.push((param, value)),
            None => {
                conn.prepare_cached("INSERT INTO params (run_pk, key, value) VALUES (?1, ?2, ?3)")
                    .map_err(db_error)?
                    .execute(params![run.pk, param.key, param.value])
                    .map_err(db_error)?;
            }
        }
    }
    match conflicts.as_slice() {
        [] => {}
        // A lone param is how log-parameter arrives; MLflow words that case differently.
        [(param, old)] if batch.params.len() == 1 && batch.metrics.is_empty() && batch.tags.is_empty() => {
            return Err(Error::invalid_parameter(format!(
                "Changing param values is not allowed. Param with key='{}' was already logged with \
                 value='{}' for run ID='{}'. Attempted logging new value '{}'.",
                param.key, old, batch.run_id, param.value
            )));
        }
        conflicts => {
            let listed = conflicts
                .iter()
                .map(|(param, old)| {
                    format!(
                        "{{'key': {}, 'old_value': {}, 'new_value': {}}}",
                        python_repr(&param.key),
                        python_repr(old),
                        python_repr(&param.value)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::invalid_parameter(format!(
                "Changing param values is not allowed. Params were already logged='[{listed}]' for run ID='{}'.",
                batch.run_id
            )));
        }
    }
    // Points go in key by key in stored order (step, timestamp, value), so a series that
    // arrives in order in one batch stays regular (crate::series), and each key's latest
    // value and shape cost one read and one upsert per batch, not one per point.
    let mut key_ids: HashMap<&str, i64> = HashMap::new();
    let mut points: Vec<(i64, usize)> = Vec::with_capacity(batch.metrics.len());
    for (index, metric) in batch.metrics.iter().enumerate() {
        let key_id = match key_ids.get(metric.key.as_str()) {
            Some(id) => *id,
            None => {
                let id = metric_key_id(conn, &metric.key)?;
                key_ids.insert(&metric.key, id);
                id
            }
        };
        points.push((key_id, index));
    }
    let stored: Vec<Metric> = batch
        .metrics
        .iter()
        .map(|metric| {
            let mut stored = metric.clone();
            stored.value = clamp_infinity(stored.value);
            stored
        })
        .collect();
    let order_key = |point: &Metric| {
        let (value, is_nan) = stored_value(point.value);
        (point.step, point.timestamp, value, is_nan)
    };
    points.sort_by(|(key_a, a), (key_b, b)| {
        key_a.cmp(key_b).then_with(|| order_key(&stored[*a]).partial_cmp(&order_key(&stored[*b])).unwrap_or(Equal))
    });
    for group in points.chunk_by(|(a, _), (b, _)| a == b) {
        let key_id = group[0].0;
        let group: Vec<&Metric> = group.iter().map(|(_, index)| &stored[*index]).collect();
        let mut series = Series::load(conn, run.pk, key_id)?;
        let mut chunks = group.chunks_exact(INSERT_CHUNK);
        for chunk in &mut chunks {
            if insert_history_chunk(conn, run.pk, key_id, chunk)? == chunk.len() {
                chunk.iter().for_each(|point| series.append(point));
            } else {
                // Some points were already stored (a retried request): which ones is unknown.
                series.append_some_of(chunk);
            }
        }
        for point in chunks.remainder() {
            if insert_history_point(conn, run.pk, key_id, point)? {
                series.append(point);
            }
        }
        series.save(conn)?;
    }
    for metric in &batch.metrics {
        if let Some(model_id) = &metric.model_id {
            crate::logged_models::record_metric(conn, model_id, &batch.run_id, metric)?;
        }
    }
    for tag in &batch.tags {
        upsert_tag(conn, run.pk, tag)?;
    }
    Ok(())
}

/// Rows per multi-row history INSERT: binding and stepping one statement per point was a
/// third of log-batch's write time.
const INSERT_CHUNK: usize = 50;

/// Adds `INSERT_CHUNK` points to the history in one statement; returns how many were new.
fn insert_history_chunk(conn: &Connection, run_pk: i64, key_id: i64, points: &[&Metric]) -> Result<usize> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        let rows = vec!["(?, ?, ?, ?, ?, ?)"; INSERT_CHUNK].join(", ");
        format!("INSERT OR IGNORE INTO metrics (run_pk, key_id, step, timestamp, value, is_nan) VALUES {rows}")
    });
    let mut statement = conn.prepare_cached(sql).map_err(db_error)?;
    for (i, point) in points.iter().enumerate() {
        let (value, is_nan) = stored_value(point.value);
        let at = i * 6;
        statement.raw_bind_parameter(at + 1, run_pk).map_err(db_error)?;
        statement.raw_bind_parameter(at + 2, key_id).map_err(db_error)?;
        statement.raw_bind_parameter(at + 3, point.step).map_err(db_error)?;
        statement.raw_bind_parameter(at + 4, point.timestamp).map_err(db_error)?;
        statement.raw_bind_parameter(at + 5, value).map_err(db_error)?;
        statement.raw_bind_parameter(at + 6, is_nan).map_err(db_error)?;
    }
    statement.raw_execute().map_err(db_error)
}

/// Adds a point to the history; false when the identical point was already there.
fn insert_history_point(conn: &Connection, run_pk: i64, key_id: i64, metric: &Metric) -> Result<bool> {
    let (value, is_nan) = stored_value(metric.value);
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO metrics (run_pk, key_id, step, timestamp, value, is_nan) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(db_error)?
        .execute(params![run_pk, key_id, metric.step, metric.timestamp, value, is_nan])
        .map_err(db_error)?;
    Ok(inserted == 1)
}

pub(crate) fn delete_tag(conn: &Connection, run_id: &str, key: &str) -> Result<()> {
    let run = find_active(conn, run_id)?;
    let removed =
        conn.execute("DELETE FROM tags WHERE run_pk = ?1 AND key = ?2", params![run.pk, key]).map_err(db_error)?;
    if removed == 0 {
        return Err(ferroflow_store::common::run_tag_not_found(run_id, key));
    }
    Ok(())
}

pub(crate) fn log_inputs(
    conn: &Connection,
    run_id: &str,
    datasets: Vec<DatasetInput>,
    models: Vec<ModelInput>,
) -> Result<()> {
    let run = find_active(conn, run_id)?;
    for input in datasets {
        let dataset = &input.dataset;
        conn.prepare_cached(
            "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, profile) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (experiment_id, name, digest) DO NOTHING",
        )
        .map_err(db_error)?
        .execute(params![
            run.experiment_id,
            dataset.name,
            dataset.digest,
            dataset.source_type,
            dataset.source,
            dataset.schema,
            dataset.profile
        ])
        .map_err(db_error)?;
        let dataset_pk: i64 = conn
            .prepare_cached("SELECT dataset_pk FROM datasets WHERE experiment_id = ?1 AND name = ?2 AND digest = ?3")
            .map_err(db_error)?
            .query_row(params![run.experiment_id, dataset.name, dataset.digest], |row| row.get(0))
            .map_err(db_error)?;
        let inserted = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO run_dataset_inputs (run_pk, dataset_pk, position) \
                 VALUES (?1, ?2, (SELECT COUNT(*) FROM run_dataset_inputs WHERE run_pk = ?1))",
            )
            .map_err(db_error)?
            .execute(params![run.pk, dataset_pk])
            .map_err(db_error)?;
        // Like MLflow, a dataset already logged to this run keeps its original tags.
        if inserted > 0 {
            for tag in &input.tags {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO run_dataset_input_tags (run_pk, dataset_pk, key, value) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(db_error)?
                .execute(params![run.pk, dataset_pk, tag.key, tag.value])
                .map_err(db_error)?;
            }
        }
    }
    for model in models {
        conn.prepare_cached("INSERT OR IGNORE INTO run_model_inputs (run_pk, model_id) VALUES (?1, ?2)")
            .map_err(db_error)?
            .execute(params![run.pk, model.model_id])
            .map_err(db_error)?;
    }
    Ok(())
}

pub(crate) fn append_model_history(conn: &Connection, run_id: &str, entry: &str) -> Result<()> {
    use ferroflow_core::model_history::{append_entry, HISTORY_TAG};
    let run = find_active(conn, run_id)?;
    let current: Option<String> = conn
        .prepare_cached("SELECT value FROM tags WHERE run_pk = ?1 AND key = ?2")
        .map_err(db_error)?
        .query_row(params![run.pk, HISTORY_TAG], |row| row.get(0))
        .optional()
        .map_err(db_error)?;
    let mut value = append_entry(current.as_deref(), entry)?;
    // Like any tag value, the list is cut at MLflow's limit (after which, as in MLflow,
    // it no longer parses and further appends are refused).
    ferroflow_core::validation::truncate_chars(&mut value, ferroflow_core::validation::MAX_TAG_VAL_LENGTH);
    upsert_tag(conn, run.pk, &RunTag::new(HISTORY_TAG, value))
}

pub(crate) fn log_outputs(conn: &Connection, run_id: &str, models: Vec<ModelOutput>) -> Result<()> {
    let run = find_active(conn, run_id)?;
    for model in models {
        conn.prepare_cached("INSERT OR REPLACE INTO run_model_outputs (run_pk, model_id, step) VALUES (?1, ?2, ?3)")
            .map_err(db_error)?
            .execute(params![run.pk, model.model_id, model.step])
            .map_err(db_error)?;
    }
    Ok(())
}

/// A metric's history in MLflow's order (timestamp, step, value). An unknown run has
/// no history rather than being an error, as in MLflow.
pub(crate) fn metric_history(
    conn: &Connection,
    run_id: &str,
    key: &str,
    offset: u64,
    limit: Option<usize>,
) -> Result<Vec<Metric>> {
    let run_pk = match find(conn, run_id) {
        Ok(run) => run.pk,
        Err(error) if error.code == ferroflow_core::ErrorCode::ResourceDoesNotExist => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let Some(key_id) = existing_metric_key_id(conn, key)? else { return Ok(Vec::new()) };
    // When the series is known to be in that order already, it streams in primary-key
    // order; otherwise every page sorts the whole series.
    let in_key_order = crate::series::shape(conn, run_pk, key_id)?.is_some_and(|s| s.regular && s.time_ordered);
    let sql = if in_key_order {
        "SELECT ?3, step, timestamp, value, is_nan FROM metrics WHERE run_pk = ?1 AND key_id = ?2 \
         ORDER BY step, timestamp, value, is_nan LIMIT ?4 OFFSET ?5"
    } else {
        "SELECT ?3, step, timestamp, value, is_nan FROM metrics WHERE run_pk = ?1 AND key_id = ?2 \
         ORDER BY timestamp, step, value LIMIT ?4 OFFSET ?5"
    };
    let mut statement = conn.prepare_cached(sql).map_err(db_error)?;
    let limit = limit.map(|l| l as i64 + 1).unwrap_or(-1);
    let rows =
        statement.query_map(params![run_pk, key_id, key, limit, offset as i64], metric_from_row).map_err(db_error)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_error)
}
