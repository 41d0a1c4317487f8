//! MLflow 3 logged models on PostgreSQL.
//!
//! Writes lock the model's row first (`FOR NO KEY UPDATE`, which leaves the key share
//! that children's foreign keys take free), so two writers of one model queue; a create
//! shares the experiment's row, so a concurrent delete or purge of the experiment waits.
//! Reads of a whole model (its row and three child tables) run in one snapshot.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use ferroflow_core::paging::decode_offset;
use ferroflow_core::types::{KeyValue, LifecycleStage, LoggedModel, LoggedModelInfo, LoggedModelStatus, Metric, Page};
use ferroflow_core::validation::parse_experiment_id;
use ferroflow_core::{Error, Result};
use ferroflow_store::common::{experiment_not_active, experiment_not_found, logged_model_not_found};
use ferroflow_store::logged_models::{
    self, logged_model_tag_not_found, CreateLoggedModel, LoggedModelMetricRow, LoggedModelRow, NewLoggedModel,
    SearchLoggedModels,
};
use ferroflow_store::LoggedModelStore;
use tokio_postgres::{IsolationLevel, Row};

use crate::db::{db_error, execute, query, query_opt};
use crate::{now_millis, PgStore};

const INFO_COLUMNS: &str = "model_pk, model_id, experiment_id, name, artifact_uri, status, status_message, \
     model_type, source_run_id, creation_time, last_updated_time, lifecycle_stage";

fn info_from_row(row: &Row) -> (i64, LoggedModelInfo) {
    let stored = LoggedModelRow {
        model_id: row.get(1),
        experiment_id: row.get(2),
        name: row.get(3),
        artifact_uri: row.get(4),
        status: row.get::<_, i16>(5).into(),
        status_message: row.get(6),
        model_type: row.get(7),
        source_run_id: row.get(8),
        creation_time: row.get(9),
        last_updated_time: row.get(10),
        lifecycle_stage: row.get(11),
    };
    (row.get(0), stored.into_info())
}

/// The model's surrogate key, whatever its lifecycle stage, its row locked for a write.
async fn lock_model(client: &impl GenericClient, model_id: &str) -> Result<i64> {
    let row =
        query_opt(client, "SELECT model_pk FROM logged_models WHERE model_id = $1 FOR NO KEY UPDATE", &[&model_id])
            .await?;
    row.map(|row| row.get(0)).ok_or_else(|| logged_model_not_found(model_id))
}

/// Tags or params of several models, by model, each in key (byte) order.
async fn key_values_of(client: &impl GenericClient, sql: &str, pks: &[i64]) -> Result<HashMap<i64, Vec<KeyValue>>> {
    let mut by_model: HashMap<i64, Vec<KeyValue>> = HashMap::new();
    for row in query(client, sql, &[&pks]).await? {
        by_model.entry(row.get(0)).or_default().push(KeyValue::new(row.get::<_, String>(1), row.get::<_, String>(2)));
    }
    Ok(by_model)
}

/// Whole models from their rows: children are read in three statements for all of them.
async fn assemble_all(client: &impl GenericClient, rows: Vec<(i64, LoggedModelInfo)>) -> Result<Vec<LoggedModel>> {
    let pks: Vec<i64> = rows.iter().map(|(pk, _)| *pk).collect();
    // COLLATE "C": byte order whatever the database's collation, as SQLite sorts.
    let mut tags = key_values_of(
        client,
        "SELECT model_pk, key, value FROM logged_model_tags WHERE model_pk = ANY($1) ORDER BY key COLLATE \"C\"",
        &pks,
    )
    .await?;
    let mut params = key_values_of(
        client,
        "SELECT model_pk, key, value FROM logged_model_params WHERE model_pk = ANY($1) ORDER BY key COLLATE \"C\"",
        &pks,
    )
    .await?;
    let mut metrics: HashMap<i64, Vec<LoggedModelMetricRow>> = HashMap::new();
    let metric_rows = query(
        client,
        "SELECT model_pk, key, value, timestamp, step, run_id, dataset_name, dataset_digest \
         FROM logged_model_metrics WHERE model_pk = ANY($1) \
         ORDER BY key COLLATE \"C\", step, timestamp, value, run_id COLLATE \"C\", dataset_name COLLATE \"C\", \
         dataset_digest COLLATE \"C\"",
        &[&pks],
    )
    .await?;
    for row in metric_rows {
        metrics.entry(row.get(0)).or_default().push(LoggedModelMetricRow {
            key: row.get(1),
            value: row.get(2),
            timestamp: row.get(3),
            step: row.get(4),
            run_id: row.get(5),
            dataset_name: row.get(6),
            dataset_digest: row.get(7),
        });
    }
    Ok(rows
        .into_iter()
        .map(|(pk, info)| {
            let take = |map: &mut HashMap<i64, Vec<KeyValue>>| map.remove(&pk).unwrap_or_default();
            let (model_tags, model_params) = (take(&mut tags), take(&mut params));
            logged_models::assemble(info, model_tags, model_params, metrics.remove(&pk).unwrap_or_default())
        })
        .collect())
}

async fn load(client: &impl GenericClient, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
    let sql = format!("SELECT {INFO_COLUMNS} FROM logged_models WHERE model_id = $1");
    let row = query_opt(client, &sql, &[&model_id])
        .await?
        .map(|row| info_from_row(&row))
        .filter(|(_, info)| allow_deleted || info.lifecycle_stage == LifecycleStage::Active)
        .ok_or_else(|| logged_model_not_found(model_id))?;
    let mut models = assemble_all(client, vec![row]).await?;
    models.pop().ok_or_else(|| logged_model_not_found(model_id))
}

/// `table` is one of the two fixed child tables, never request text.
async fn upsert(client: &impl GenericClient, table: &str, model_pk: i64, entries: &[KeyValue]) -> Result<()> {
    let sql = format!(
        "INSERT INTO {table} (model_pk, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (model_pk, key) DO UPDATE SET value = excluded.value"
    );
    for entry in entries {
        execute(client, &sql, &[&model_pk, &entry.key, &entry.value]).await?;
    }
    Ok(())
}

async fn create(client: &impl GenericClient, request: &CreateLoggedModel, now: i64) -> Result<LoggedModel> {
    let experiment_pk = parse_experiment_id(&request.experiment_id)?;
    let experiment = query_opt(
        client,
        "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = $1 FOR SHARE",
        &[&experiment_pk],
    )
    .await?
    .ok_or_else(|| experiment_not_found(&experiment_pk.to_string()))?;
    let (location, stage): (String, String) = (experiment.get(0), experiment.get(1));
    let stage = LifecycleStage::parse(&stage).unwrap_or(LifecycleStage::Active);
    if stage != LifecycleStage::Active {
        return Err(experiment_not_active(&experiment_pk.to_string(), stage));
    }
    let new = NewLoggedModel::new(request, &location);
    let status = new.status.number() as i16;
    let inserted = query_opt(
        client,
        "INSERT INTO logged_models (model_id, experiment_id, name, artifact_uri, status, model_type, \
         source_run_id, creation_time, last_updated_time, lifecycle_stage) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 'active') RETURNING model_pk",
        &[
            &new.model_id,
            &experiment_pk,
            &new.name,
            &new.artifact_uri,
            &status,
            &request.model_type,
            &new.source_run_id,
            &now,
        ],
    )
    .await?;
    let pk: i64 =
        inserted.map(|row| row.get(0)).ok_or_else(|| Error::internal("the new logged model's row was not returned"))?;
    upsert(client, "logged_model_params", pk, &request.params).await?;
    upsert(client, "logged_model_tags", pk, &request.tags).await?;
    load(client, &new.model_id, false).await
}

/// Records a run metric that names a model, so it shows in the model's `data.metrics`;
/// runs' log-batch calls it inside its own transaction. A key share on the model's row
/// keeps a purge out without making batches on one model wait for each other.
pub(crate) async fn record_metric(
    client: &impl GenericClient,
    model_id: &str,
    run_id: &str,
    metric: &Metric,
) -> Result<()> {
    let pk: i64 =
        query_opt(client, "SELECT model_pk FROM logged_models WHERE model_id = $1 FOR KEY SHARE", &[&model_id])
            .await?
            .map(|row| row.get(0))
            .ok_or_else(|| logged_model_not_found(model_id))?;
    let row = LoggedModelMetricRow::recorded(metric, run_id);
    execute(
        client,
        "INSERT INTO logged_model_metrics (model_pk, key, step, timestamp, value, run_id, dataset_name, \
         dataset_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        &[&pk, &row.key, &row.step, &row.timestamp, &row.value, &row.run_id, &row.dataset_name, &row.dataset_digest],
    )
    .await?;
    Ok(())
}

/// Active models of the given experiments in MLflow's default order (newest first).
async fn all_in(client: &impl GenericClient, experiment_pks: &[i64]) -> Result<Vec<LoggedModel>> {
    let sql = format!(
        "SELECT {INFO_COLUMNS} FROM logged_models WHERE experiment_id = ANY($1) AND lifecycle_stage = 'active'"
    );
    let rows = query(client, &sql, &[&experiment_pks]).await?.iter().map(info_from_row).collect();
    let mut models = assemble_all(client, rows).await?;
    logged_models::sort_newest_first(&mut models);
    Ok(models)
}

/// Runs `$body` in one read-only snapshot, so that a model and its children agree.
macro_rules! snapshot {
    ($db:expr, |$tx:ident| $body:block) => {{
        let mut client = $db.client().await?;
        let $tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(db_error)?;
        let value = async { $body }.await?;
        $tx.commit().await.map_err(db_error)?;
        Ok::<_, ferroflow_core::Error>(value)
    }};
}

#[async_trait]
impl LoggedModelStore for PgStore {
    async fn create_logged_model(&self, request: CreateLoggedModel) -> Result<LoggedModel> {
        transaction!(self.db, |tx| { create(&tx, &request, now_millis()).await })
    }

    async fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
        snapshot!(self.db, |tx| { load(&tx, model_id, allow_deleted).await })
    }

    async fn finalize_logged_model(&self, model_id: &str, status: LoggedModelStatus) -> Result<LoggedModel> {
        let status = status.number() as i16;
        transaction!(self.db, |tx| {
            let pk = lock_model(&tx, model_id).await?;
            execute(
                &tx,
                "UPDATE logged_models SET status = $1, last_updated_time = $2 WHERE model_pk = $3",
                &[&status, &now_millis(), &pk],
            )
            .await?;
            load(&tx, model_id, true).await
        })
    }

    async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        transaction!(self.db, |tx| {
            let pk = lock_model(&tx, model_id).await?;
            execute(
                &tx,
                "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_time = $1 WHERE model_pk = $2",
                &[&now_millis(), &pk],
            )
            .await?;
            Ok(())
        })
    }

    async fn set_logged_model_tags(&self, model_id: &str, tags: Vec<KeyValue>) -> Result<()> {
        transaction!(self.db, |tx| {
            let pk = lock_model(&tx, model_id).await?;
            upsert(&tx, "logged_model_tags", pk, &tags).await
        })
    }

    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        transaction!(self.db, |tx| {
            let pk = lock_model(&tx, model_id).await?;
            let removed =
                execute(&tx, "DELETE FROM logged_model_tags WHERE model_pk = $1 AND key = $2", &[&pk, &key]).await?;
            if removed == 0 {
                return Err(logged_model_tag_not_found(model_id, key));
            }
            Ok(())
        })
    }

    async fn log_logged_model_params(&self, model_id: &str, params: Vec<KeyValue>) -> Result<()> {
        transaction!(self.db, |tx| {
            let pk = lock_model(&tx, model_id).await?;
            upsert(&tx, "logged_model_params", pk, &params).await
        })
    }

    async fn search_logged_models(&self, request: SearchLoggedModels) -> Result<Page<LoggedModel>> {
        let offset = decode_offset(request.page_token.as_deref())?;
        let experiment_pks =
            request.experiment_ids.iter().map(|id| parse_experiment_id(id)).collect::<Result<Vec<_>>>()?;
        let models: Vec<LoggedModel> = snapshot!(self.db, |tx| { all_in(&tx, &experiment_pks).await })?;
        ferroflow_store::in_memory::logged_models(models, &request, offset, || Ok(()))
    }
}
