//! Permanent deletion for `ferroflow gc` on PostgreSQL.
//!
//! Children go by the schema's `ON DELETE CASCADE`: deleting a run's row takes its
//! metrics, params, tags and inputs, a logged model's its tags, params and metrics, an
//! experiment's its tags and datasets. An experiment's purge locks the experiment first,
//! then its runs and models in key order, as writers do.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use ferroflow_core::validation::parse_experiment_id;
use ferroflow_core::Result;
use ferroflow_store::gc::{self, GcCandidate, GcKind, GcRequest, GcTarget};
use ferroflow_store::GcStore;

use crate::db::{execute, query, query_opt};
use crate::{now_millis, PgStore};

/// One named entity, judged by the shared rule.
async fn named_target(client: &impl GenericClient, kind: GcKind, id: &str, cutoff: i64) -> Result<Option<GcTarget>> {
    let row = match kind {
        GcKind::Run => {
            let sql = "SELECT artifact_uri, lifecycle_stage, coalesce(deleted_time, 0) FROM runs WHERE run_uuid = $1";
            query_opt(client, sql, &[&id]).await?
        }
        GcKind::LoggedModel => {
            let sql = "SELECT artifact_uri, lifecycle_stage, last_updated_time FROM logged_models WHERE model_id = $1";
            query_opt(client, sql, &[&id]).await?
        }
        GcKind::Experiment => {
            let sql = "SELECT artifact_location, lifecycle_stage, last_update_time FROM experiments \
                       WHERE experiment_id = $1";
            query_opt(client, sql, &[&parse_experiment_id(id)?]).await?
        }
    };
    let found =
        row.map(|row| GcCandidate { artifact_uri: row.get(0), lifecycle_stage: row.get(1), deleted_at: row.get(2) });
    gc::named_target(kind, id, found, cutoff)
}

/// Every deleted entity of one kind deleted by the cutoff, in key order.
async fn all_deleted(client: &impl GenericClient, kind: GcKind, cutoff: i64) -> Result<Vec<GcTarget>> {
    let sql = match kind {
        // Runs of deleted experiments are marked deleted too, so they are listed here.
        GcKind::Run => {
            "SELECT run_uuid, artifact_uri FROM runs WHERE lifecycle_stage = 'deleted' \
             AND coalesce(deleted_time, 0) <= $1 ORDER BY run_pk"
        }
        GcKind::LoggedModel => {
            "SELECT model_id, artifact_uri FROM logged_models WHERE lifecycle_stage = 'deleted' \
             AND last_updated_time <= $1 ORDER BY model_pk"
        }
        GcKind::Experiment => {
            "SELECT experiment_id::text, artifact_location FROM experiments WHERE lifecycle_stage = 'deleted' \
             AND last_update_time <= $1 ORDER BY experiment_id"
        }
    };
    let rows = query(client, sql, &[&cutoff]).await?;
    Ok(rows.iter().map(|row| GcTarget { kind, id: row.get(0), artifact_uri: row.get(1) }).collect())
}

async fn targets(client: &impl GenericClient, request: &GcRequest, now: i64) -> Result<Vec<GcTarget>> {
    let cutoff = request.cutoff(now);
    let named = request.named();
    let mut found = Vec::new();
    if named.is_empty() {
        for kind in GcKind::PURGE_ORDER {
            found.extend(all_deleted(client, kind, cutoff).await?);
        }
    } else {
        for (kind, id) in named {
            found.extend(named_target(client, kind, id, cutoff).await?);
        }
    }
    Ok(found)
}

async fn purge(client: &impl GenericClient, target: &GcTarget) -> Result<()> {
    match target.kind {
        GcKind::Run => {
            execute(client, "DELETE FROM runs WHERE run_uuid = $1", &[&target.id]).await?;
        }
        GcKind::LoggedModel => {
            execute(client, "DELETE FROM logged_models WHERE model_id = $1", &[&target.id]).await?;
        }
        GcKind::Experiment => {
            let pk = parse_experiment_id(&target.id)?;
            let locked =
                query_opt(client, "SELECT 1 FROM experiments WHERE experiment_id = $1 FOR UPDATE", &[&pk]).await?;
            if locked.is_none() {
                return Ok(());
            }
            // Runs before models, each locked in key order. Both names are fixed literals.
            for (table, key) in [("runs", "run_pk"), ("logged_models", "model_pk")] {
                let sql = format!(
                    "DELETE FROM {table} WHERE {key} IN \
                     (SELECT {key} FROM {table} WHERE experiment_id = $1 ORDER BY {key} FOR UPDATE)"
                );
                execute(client, &sql, &[&pk]).await?;
            }
            execute(client, "DELETE FROM experiments WHERE experiment_id = $1", &[&pk]).await?;
        }
    }
    Ok(())
}

#[async_trait]
impl GcStore for PgStore {
    async fn gc_targets(&self, request: GcRequest) -> Result<Vec<GcTarget>> {
        targets(&self.db.client().await?, &request, now_millis()).await
    }

    async fn purge(&self, target: &GcTarget) -> Result<()> {
        transaction!(self.db, |tx| { purge(&tx, target).await })
    }
}
