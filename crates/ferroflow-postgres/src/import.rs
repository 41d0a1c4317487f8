//! [`ImportStore`] on PostgreSQL: the SQL and row mapping only; the rules (validation,
//! the history summary) are `ferroflow_store::import`'s. Ids are written as given, so the
//! identity and version counters are moved past them afterwards, or the next experiment
//! or version created would collide with an imported one.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use ferroflow_core::types::KeyValue;
use ferroflow_core::{Error, Result};
use ferroflow_store::import::{
    check_experiment, check_experiment_id_free, check_logged_model, check_model_version, check_run,
    deleted_version_record, missing_parent, stored_point, summarize, ExperimentRecord, ImportStore, LoggedModelRecord,
    MetricRecord, ModelVersionRecord, Point, RegisteredModelRecord, RunRecord, StoreCounts, DELETED_VERSIONS_SQL,
    RUN_DELETED_TIMES_SQL,
};

use crate::db::{execute, query, query_opt};
use crate::PgStore;

async fn optional_pk(
    client: &impl GenericClient,
    sql: &str,
    key: &(dyn tokio_postgres::types::ToSql + Sync),
) -> Result<Option<i64>> {
    Ok(query_opt(client, sql, &[key]).await?.map(|row| row.get(0)))
}

async fn require_experiment(client: &impl GenericClient, experiment: i64, child: &str) -> Result<()> {
    optional_pk(client, "SELECT experiment_id FROM experiments WHERE experiment_id = $1", &experiment)
        .await?
        .map(|_| ())
        .ok_or_else(|| missing_parent("experiment", &experiment.to_string(), child))
}

async fn experiments(client: &impl GenericClient, batch: &[ExperimentRecord]) -> Result<()> {
    for record in batch {
        let id = check_experiment(record)?;
        let holder = optional_pk(client, "SELECT experiment_id FROM experiments WHERE name = $1", &record.name).await?;
        if let Some(other) = holder.filter(|other| *other != id) {
            return Err(Error::already_exists(format!(
                "experiment {id} is named {:?}, which experiment {other} of the target already has",
                record.name
            )));
        }
        let existing = query_opt(client, "SELECT name FROM experiments WHERE experiment_id = $1", &[&id]).await?;
        check_experiment_id_free(record, id, existing.map(|row| row.get(0)))?;
        execute(
            client,
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, \
             last_update_time) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (experiment_id) DO UPDATE SET \
             name = excluded.name, artifact_location = excluded.artifact_location, \
             lifecycle_stage = excluded.lifecycle_stage, creation_time = excluded.creation_time, \
             last_update_time = excluded.last_update_time",
            &[
                &id,
                &record.name,
                &record.artifact_location,
                &record.lifecycle_stage,
                &record.creation_time,
                &record.last_update_time,
            ],
        )
        .await?;
        for tag in &record.tags {
            execute(
                client,
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                &[&id, &tag.key, &tag.value],
            )
            .await?;
        }
    }
    // The identity must hand out ids past every imported one.
    execute(
        client,
        "SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), greatest(max(experiment_id), 1), \
         max(experiment_id) >= 1) FROM experiments",
        &[],
    )
    .await?;
    Ok(())
}

async fn runs(client: &impl GenericClient, batch: &[RunRecord]) -> Result<()> {
    for record in batch {
        let (status, experiment) = check_run(record)?;
        require_experiment(client, experiment, &format!("run {}", record.run_id)).await?;
        let row = query(
            client,
            "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, \
             lifecycle_stage, artifact_uri, deleted_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (run_uuid) DO UPDATE SET experiment_id = excluded.experiment_id, name = excluded.name, \
             user_id = excluded.user_id, status = excluded.status, start_time = excluded.start_time, \
             end_time = excluded.end_time, lifecycle_stage = excluded.lifecycle_stage, \
             artifact_uri = excluded.artifact_uri, deleted_time = excluded.deleted_time RETURNING run_pk",
            &[
                &record.run_id,
                &experiment,
                &record.name,
                &record.user_id,
                &(status as i16),
                &record.start_time,
                &record.end_time,
                &record.lifecycle_stage,
                &record.artifact_uri,
                &record.deleted_time,
            ],
        )
        .await?;
        let run_pk: i64 = row.first().ok_or_else(|| Error::internal("an upserted run is missing"))?.get(0);
        for (table, entries) in [("params", &record.params), ("tags", &record.tags)] {
            let sql = format!(
                "INSERT INTO {table} (run_pk, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (run_pk, key) DO UPDATE SET value = excluded.value"
            );
            for entry in entries {
                execute(client, &sql, &[&run_pk, &entry.key, &entry.value]).await?;
            }
        }
        for input in &record.dataset_inputs {
            let dataset_pk: i64 = query(
                client,
                "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, profile) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (experiment_id, name, digest) DO UPDATE SET \
                 source_type = excluded.source_type, source = excluded.source, schema = excluded.schema, \
                 profile = excluded.profile RETURNING dataset_pk",
                &[
                    &experiment,
                    &input.name,
                    &input.digest,
                    &input.source_type,
                    &input.source,
                    &input.schema,
                    &input.profile,
                ],
            )
            .await?
            .first()
            .ok_or_else(|| Error::internal("an upserted dataset is missing"))?
            .get(0);
            execute(
                client,
                "INSERT INTO run_dataset_inputs (run_pk, dataset_pk, position) \
                 VALUES ($1, $2, (SELECT count(*) FROM run_dataset_inputs WHERE run_pk = $1)) ON CONFLICT DO NOTHING",
                &[&run_pk, &dataset_pk],
            )
            .await?;
            for tag in &input.tags {
                execute(
                    client,
                    "INSERT INTO run_dataset_input_tags (run_pk, dataset_pk, key, value) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (run_pk, dataset_pk, key) DO UPDATE SET value = excluded.value",
                    &[&run_pk, &dataset_pk, &tag.key, &tag.value],
                )
                .await?;
            }
        }
        for model_id in &record.model_inputs {
            execute(
                client,
                "INSERT INTO run_model_inputs (run_pk, model_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&run_pk, model_id],
            )
            .await?;
        }
        for output in &record.model_outputs {
            execute(
                client,
                "INSERT INTO run_model_outputs (run_pk, model_id, step) VALUES ($1, $2, $3) \
                 ON CONFLICT (run_pk, model_id) DO UPDATE SET step = excluded.step",
                &[&run_pk, &output.model_id, &output.step],
            )
            .await?;
        }
    }
    Ok(())
}

async fn metrics(client: &impl GenericClient, batch: &[MetricRecord]) -> Result<()> {
    for record in batch {
        let run_pk = optional_pk(client, "SELECT run_pk FROM runs WHERE run_uuid = $1", &record.run_id)
            .await?
            .ok_or_else(|| missing_parent("run", &record.run_id, &format!("metric {}", record.key)))?;
        if record.points.is_empty() {
            continue;
        }
        let key_id = crate::runs::metric_key_id(client, &record.key).await?;
        let points: Vec<Point> = record.points.iter().map(stored_point).collect();
        let steps: Vec<i64> = points.iter().map(|p| p.step).collect();
        let timestamps: Vec<i64> = points.iter().map(|p| p.timestamp).collect();
        let values: Vec<f64> = points.iter().map(|p| p.value).collect();
        crate::runs::insert_points(client, (run_pk, key_id), &steps, &timestamps, &values).await?;
        let mut history: Vec<Point> = query(
            client,
            "SELECT step, timestamp, value FROM metrics WHERE run_pk = $1 AND key_id = $2",
            &[&run_pk, &key_id],
        )
        .await?
        .iter()
        .map(|row| Point { step: row.get(0), timestamp: row.get(1), value: row.get(2) })
        .collect();
        // The stored order both stores summarize over: NaN counts as 0, as SQLite keeps it.
        let order = |p: &Point| {
            let (value, is_nan) = if p.value.is_nan() { (0.0, true) } else { (p.value, false) };
            (p.step, p.timestamp, value, is_nan)
        };
        history.sort_by(|a, b| order(a).partial_cmp(&order(b)).unwrap_or(std::cmp::Ordering::Equal));
        let mut series = summarize(&record.key, &history);
        crate::runs::save_series(client, run_pk, key_id, &mut series).await?;
    }
    Ok(())
}

async fn logged_models(client: &impl GenericClient, batch: &[LoggedModelRecord]) -> Result<()> {
    for record in batch {
        let (status, experiment) = check_logged_model(record)?;
        require_experiment(client, experiment, &format!("logged model {}", record.model_id)).await?;
        let model_pk: i64 = query(
            client,
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_uri, status, status_message, \
             model_type, source_run_id, creation_time, last_updated_time, lifecycle_stage) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (model_id) DO UPDATE SET \
             experiment_id = excluded.experiment_id, name = excluded.name, artifact_uri = excluded.artifact_uri, \
             status = excluded.status, status_message = excluded.status_message, model_type = excluded.model_type, \
             source_run_id = excluded.source_run_id, creation_time = excluded.creation_time, \
             last_updated_time = excluded.last_updated_time, lifecycle_stage = excluded.lifecycle_stage \
             RETURNING model_pk",
            &[
                &record.model_id,
                &experiment,
                &record.name,
                &record.artifact_uri,
                &(status as i16),
                &record.status_message,
                &record.model_type,
                &record.source_run_id,
                &record.creation_time,
                &record.last_updated_time,
                &record.lifecycle_stage,
            ],
        )
        .await?
        .first()
        .ok_or_else(|| Error::internal("an upserted logged model is missing"))?
        .get(0);
        for (table, entries) in [("logged_model_tags", &record.tags), ("logged_model_params", &record.params)] {
            let sql = format!(
                "INSERT INTO {table} (model_pk, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (model_pk, key) DO UPDATE SET value = excluded.value"
            );
            for entry in entries {
                execute(client, &sql, &[&model_pk, &entry.key, &entry.value]).await?;
            }
        }
        for metric in &record.metrics {
            let value = ferroflow_store::common::stored_metric_value(metric.value);
            execute(
                client,
                "INSERT INTO logged_model_metrics (model_pk, key, step, timestamp, value, run_id, dataset_name, \
                 dataset_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                &[
                    &model_pk,
                    &metric.key,
                    &metric.step,
                    &metric.timestamp,
                    &value,
                    &metric.run_id,
                    &metric.dataset_name,
                    &metric.dataset_digest,
                ],
            )
            .await?;
        }
    }
    Ok(())
}

async fn registered_model_pk(client: &impl GenericClient, name: &str) -> Result<Option<i64>> {
    optional_pk(client, "SELECT model_pk FROM registered_models WHERE name = $1", &name).await
}

async fn registered_models(client: &impl GenericClient, batch: &[RegisteredModelRecord]) -> Result<()> {
    for record in batch {
        let model_pk: i64 = query(
            client,
            "INSERT INTO registered_models (name, creation_time, last_updated_time, description) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET creation_time = excluded.creation_time, \
             last_updated_time = excluded.last_updated_time, description = excluded.description RETURNING model_pk",
            &[&record.name, &record.creation_time, &record.last_updated_time, &record.description],
        )
        .await?
        .first()
        .ok_or_else(|| Error::internal("an upserted registered model is missing"))?
        .get(0);
        for tag in &record.tags {
            crate::registry::upsert_model_tag(client, model_pk, &KeyValue::new(&tag.key, &tag.value)).await?;
        }
        for alias in &record.aliases {
            execute(
                client,
                "INSERT INTO registered_model_aliases (model_pk, alias, version) VALUES ($1, $2, $3) \
                 ON CONFLICT (model_pk, alias) DO UPDATE SET version = excluded.version",
                &[&model_pk, &alias.alias, &alias.version],
            )
            .await?;
        }
    }
    Ok(())
}

async fn model_versions(client: &impl GenericClient, batch: &[ModelVersionRecord]) -> Result<()> {
    for record in batch {
        check_model_version(record)?;
        let child = format!("version {} of {}", record.version, record.name);
        let model_pk = registered_model_pk(client, &record.name)
            .await?
            .ok_or_else(|| missing_parent("registered model", &record.name, &child))?;
        execute(
            client,
            "INSERT INTO model_versions (model_pk, version, creation_time, last_updated_time, description, user_id, \
             current_stage, source, storage_location, run_id, run_link, status, status_message) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (model_pk, version) DO UPDATE SET creation_time = excluded.creation_time, \
             last_updated_time = excluded.last_updated_time, description = excluded.description, \
             user_id = excluded.user_id, current_stage = excluded.current_stage, source = excluded.source, \
             storage_location = excluded.storage_location, run_id = excluded.run_id, run_link = excluded.run_link, \
             status = excluded.status, status_message = excluded.status_message",
            &[
                &model_pk,
                &record.version,
                &record.creation_time,
                &record.last_updated_time,
                &record.description,
                &record.user_id,
                &record.current_stage,
                &record.source,
                &record.storage_location,
                &record.run_id,
                &record.run_link,
                &record.status,
                &record.status_message,
            ],
        )
        .await?;
        // Numbers are taken from this counter: it must pass every imported version.
        execute(
            client,
            "UPDATE registered_models SET next_version = greatest(next_version, $2::bigint + 1) WHERE model_pk = $1",
            &[&model_pk, &record.version],
        )
        .await?;
        for tag in &record.tags {
            crate::registry::upsert_version_tag(client, model_pk, record.version, &KeyValue::new(&tag.key, &tag.value))
                .await?;
        }
    }
    Ok(())
}

#[async_trait]
impl ImportStore for PgStore {
    async fn store_counts(&self) -> Result<StoreCounts> {
        let client = self.db.client().await?;
        let row = query(
            &client,
            "SELECT (SELECT count(*) FROM experiments), (SELECT count(*) FROM runs), \
             (SELECT count(*) FROM logged_models), (SELECT count(*) FROM registered_models)",
            &[],
        )
        .await?;
        let row = row.first().ok_or_else(|| Error::internal("no counts"))?;
        let get = |i: usize| row.get::<_, i64>(i) as u64;
        Ok(StoreCounts { experiments: get(0), runs: get(1), logged_models: get(2), registered_models: get(3) })
    }

    async fn deleted_model_versions(&self) -> Result<Vec<ModelVersionRecord>> {
        let rows = query(&self.db.client().await?, DELETED_VERSIONS_SQL, &[]).await?;
        Ok(rows.iter().map(|row| deleted_version_record(row.get(0), row.get(1), row.get(2), row.get(3))).collect())
    }

    async fn run_deleted_times(&self) -> Result<Vec<(String, i64)>> {
        let rows = query(&self.db.client().await?, RUN_DELETED_TIMES_SQL, &[]).await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    async fn import_experiments(&self, batch: Vec<ExperimentRecord>) -> Result<()> {
        transaction!(self.db, |tx| { experiments(&tx, &batch).await })
    }

    async fn import_runs(&self, batch: Vec<RunRecord>) -> Result<()> {
        transaction!(self.db, |tx| { runs(&tx, &batch).await })
    }

    async fn import_metrics(&self, batch: Vec<MetricRecord>) -> Result<()> {
        transaction!(self.db, |tx| { metrics(&tx, &batch).await })
    }

    async fn import_logged_models(&self, batch: Vec<LoggedModelRecord>) -> Result<()> {
        transaction!(self.db, |tx| { logged_models(&tx, &batch).await })
    }

    async fn import_registered_models(&self, batch: Vec<RegisteredModelRecord>) -> Result<()> {
        transaction!(self.db, |tx| { registered_models(&tx, &batch).await })
    }

    async fn import_model_versions(&self, batch: Vec<ModelVersionRecord>) -> Result<()> {
        transaction!(self.db, |tx| { model_versions(&tx, &batch).await })
    }
}
