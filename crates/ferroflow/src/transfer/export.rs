//! `ferroflow export`: a store's contents, read through the ordinary store traits (so
//! one reader serves every backend), written in the [`format`](super::format).
//!
//! Read through the public operations, an export holds what MLflow's API shows:
//! deleted runs and experiments are included (with their stage, and a run's
//! `deleted_time` from [`ImportStore::run_deleted_times`]); deleted logged models are not,
//! and webhooks are written without their secrets.
//! Deleted (hidden) model versions, which no read shows, are exported as their numbers
//! only ([`ImportStore::deleted_model_versions`]), so the target never reuses them.
//!
//! [`ImportStore::deleted_model_versions`]: ferroflow_store::import::ImportStore::deleted_model_versions
//! [`ImportStore::run_deleted_times`]: ferroflow_store::import::ImportStore::run_deleted_times

use std::path::Path;

use ferroflow_core::types::{Experiment, LifecycleStage, ViewType};
use ferroflow_store::import::{
    AliasRecord, DatasetInputRecord, ExperimentRecord, LoggedModelMetricRecord, LoggedModelRecord, MetricRecord,
    ModelOutputRecord, ModelVersionRecord, Point, RegisteredModelRecord, RunRecord, Tag,
};
use ferroflow_store::logged_models::SearchLoggedModels;
use ferroflow_store::registry::RegistrySearch;
use ferroflow_store::{MetricHistoryQuery, SearchExperiments, SearchRuns, Store};

use super::format::{self, LineWriter, Manifest, WebhookRecord};
use super::{Batch, Counts, Result, TransferError};

fn tags(pairs: &[ferroflow_core::types::KeyValue]) -> Vec<Tag> {
    pairs.iter().map(|kv| Tag::new(kv.key.clone(), kv.value.clone())).collect()
}

fn stage(stage: LifecycleStage) -> String {
    stage.as_str().to_string()
}

/// Every experiment in `store`, active and deleted, page by page.
pub(super) async fn all_experiments(store: &dyn Store) -> Result<Vec<Experiment>> {
    let mut experiments = Vec::new();
    let mut token = None;
    loop {
        let request = SearchExperiments {
            visible: None,
            filter: None,
            order_by: vec![],
            view_type: ViewType::All,
            max_results: 1000,
            page_token: token,
        };
        let page = store.search_experiments(request).await?;
        experiments.extend(page.items);
        token = page.next_page_token;
        if token.is_none() {
            return Ok(experiments);
        }
    }
}

/// Writes everything in `store` to `dir` (which must be empty or absent), and the
/// manifest last; with `artifacts`, copies that local artifact folder to `dir/artifacts`.
pub async fn export(
    store: &dyn Store,
    dir: &Path,
    artifacts: Option<&Path>,
    progress: &indicatif::ProgressBar,
) -> Result<Counts> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|e| TransferError::io(dir.display(), e))?;
        if entries.next().is_some() {
            return Err(TransferError::Refused(format!(
                "{} is not empty: export into a new or empty folder",
                dir.display()
            )));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| TransferError::io(dir.display(), e))?;
    let mut counts = Counts::default();

    let mut experiments = all_experiments(store).await?;
    experiments.sort_by_key(|e| e.experiment_id.parse::<i64>().unwrap_or(i64::MAX));
    let mut out = LineWriter::create(dir, format::EXPERIMENTS)?;
    let records: Vec<ExperimentRecord> = experiments
        .iter()
        .map(|e| ExperimentRecord {
            experiment_id: e.experiment_id.clone(),
            name: e.name.clone(),
            artifact_location: e.artifact_location.clone(),
            lifecycle_stage: stage(e.lifecycle_stage),
            creation_time: e.creation_time,
            last_update_time: e.last_update_time,
            tags: tags(&e.tags),
        })
        .collect();
    for record in &records {
        out.write(record)?;
    }
    out.finish()?;
    let batch = Batch::Experiments(records);
    progress.inc(batch.units());
    counts.add(&batch);

    let mut runs_out = LineWriter::create(dir, format::RUNS)?;
    let mut metrics_out = LineWriter::create(dir, format::METRICS)?;
    let experiment_ids: Vec<String> = experiments.iter().map(|e| e.experiment_id.clone()).collect();
    let deleted_times: std::collections::HashMap<String, i64> = store.run_deleted_times().await?.into_iter().collect();
    for experiment_id in &experiment_ids {
        let mut token = None;
        loop {
            let request = SearchRuns {
                experiment_ids: vec![experiment_id.clone()],
                filter: None,
                run_view_type: ViewType::All,
                max_results: 1000,
                order_by: vec![],
                page_token: token,
            };
            let page = store.search_runs(request).await?;
            for run in page.items {
                let info = &run.info;
                let record = RunRecord {
                    run_id: info.run_id.clone(),
                    experiment_id: info.experiment_id.clone(),
                    name: info.run_name.clone(),
                    user_id: info.user_id.clone(),
                    status: info.status.as_str().to_string(),
                    start_time: info.start_time,
                    end_time: info.end_time,
                    lifecycle_stage: stage(info.lifecycle_stage),
                    artifact_uri: info.artifact_uri.clone(),
                    deleted_time: deleted_times.get(&info.run_id).copied(),
                    params: tags(&run.data.params),
                    tags: tags(&run.data.tags),
                    dataset_inputs: run
                        .inputs
                        .dataset_inputs
                        .iter()
                        .map(|input| DatasetInputRecord {
                            name: input.dataset.name.clone(),
                            digest: input.dataset.digest.clone(),
                            source_type: input.dataset.source_type.clone(),
                            source: input.dataset.source.clone(),
                            schema: input.dataset.schema.clone(),
                            profile: input.dataset.profile.clone(),
                            tags: tags(&input.tags),
                        })
                        .collect(),
                    model_inputs: run.inputs.model_inputs.iter().map(|m| m.model_id.clone()).collect(),
                    model_outputs: run
                        .outputs
                        .model_outputs
                        .iter()
                        .map(|m| ModelOutputRecord { model_id: m.model_id.clone(), step: m.step })
                        .collect(),
                };
                runs_out.write(&record)?;
                let batch = Batch::Runs(vec![record]);
                progress.inc(batch.units());
                counts.add(&batch);
                let mut keys: Vec<String> = run.data.metrics.iter().map(|m| m.key.clone()).collect();
                keys.sort();
                keys.dedup();
                for key in keys {
                    let query = MetricHistoryQuery {
                        run_id: info.run_id.clone(),
                        metric_key: key.clone(),
                        max_results: None,
                        page_token: None,
                    };
                    let history = store.get_metric_history(query).await?;
                    let points = history
                        .items
                        .iter()
                        .map(|m| Point { step: m.step, timestamp: m.timestamp, value: m.value })
                        .collect();
                    let record = MetricRecord { run_id: info.run_id.clone(), key, points };
                    metrics_out.write(&record)?;
                    let batch = Batch::Metrics(vec![record]);
                    progress.inc(batch.units());
                    counts.add(&batch);
                }
            }
            token = page.next_page_token;
            if token.is_none() {
                break;
            }
        }
    }
    runs_out.finish()?;
    metrics_out.finish()?;

    let mut out = LineWriter::create(dir, format::LOGGED_MODELS)?;
    let mut token = None;
    loop {
        let request = SearchLoggedModels {
            experiment_ids: experiment_ids.clone(),
            filter: None,
            datasets: vec![],
            max_results: 100,
            order_by: vec![],
            page_token: token,
        };
        let page = store.search_logged_models(request).await?;
        for model in page.items {
            let info = &model.info;
            let record = LoggedModelRecord {
                model_id: info.model_id.clone(),
                experiment_id: info.experiment_id.clone(),
                name: info.name.clone(),
                artifact_uri: info.artifact_uri.clone(),
                status: info.status.as_str().to_string(),
                status_message: info.status_message.clone(),
                model_type: info.model_type.clone(),
                source_run_id: info.source_run_id.clone(),
                creation_time: info.creation_timestamp_ms,
                last_updated_time: info.last_updated_timestamp_ms,
                lifecycle_stage: stage(info.lifecycle_stage),
                tags: tags(&info.tags),
                params: tags(&model.data.params),
                metrics: model
                    .data
                    .metrics
                    .iter()
                    .map(|m| LoggedModelMetricRecord {
                        key: m.key.clone(),
                        value: m.value,
                        timestamp: m.timestamp,
                        step: m.step,
                        run_id: m.run_id.clone().unwrap_or_default(),
                        dataset_name: m.dataset_name.clone().unwrap_or_default(),
                        dataset_digest: m.dataset_digest.clone().unwrap_or_default(),
                    })
                    .collect(),
            };
            out.write(&record)?;
            let batch = Batch::LoggedModels(vec![record]);
            progress.inc(batch.units());
            counts.add(&batch);
        }
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    out.finish()?;

    let mut models_out = LineWriter::create(dir, format::REGISTERED_MODELS)?;
    let mut token = None;
    let mut names = Vec::new();
    loop {
        let request =
            RegistrySearch { filter: None, max_results: 1000, order_by: vec![], page_token: token, visible: None };
        let page = store.search_registered_models(request).await?;
        for model in page.items {
            let record = RegisteredModelRecord {
                name: model.name.clone(),
                creation_time: model.creation_timestamp,
                last_updated_time: model.last_updated_timestamp,
                description: model.description.clone(),
                tags: tags(&model.tags),
                aliases: model
                    .aliases
                    .iter()
                    .map(|a| AliasRecord { alias: a.alias.clone(), version: a.version })
                    .collect(),
            };
            models_out.write(&record)?;
            names.push(model.name);
            let batch = Batch::RegisteredModels(vec![record]);
            progress.inc(batch.units());
            counts.add(&batch);
        }
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    models_out.finish()?;

    let mut versions = Vec::new();
    let mut token = None;
    loop {
        let request =
            RegistrySearch { filter: None, max_results: 1000, order_by: vec![], page_token: token, visible: None };
        let page = store.search_model_versions(request).await?;
        versions.extend(page.items);
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    versions.sort_by(|a, b| (&a.name, a.version).cmp(&(&b.name, b.version)));
    let mut out = LineWriter::create(dir, format::MODEL_VERSIONS)?;
    for version in versions {
        // `get-download-uri` is the stored location, or the source when there is none.
        let download = store.get_model_version_download_uri(&version.name, version.version).await?;
        let record = ModelVersionRecord {
            name: version.name.clone(),
            version: version.version,
            creation_time: version.creation_timestamp,
            last_updated_time: version.last_updated_timestamp,
            description: version.description.clone(),
            user_id: version.user_id.clone(),
            current_stage: version.current_stage.as_str().to_string(),
            storage_location: (Some(&download) != version.source.as_ref()).then_some(download),
            source: version.source.clone(),
            run_id: version.run_id.clone(),
            run_link: version.run_link.clone(),
            status: version.status.to_string(),
            status_message: version.status_message.clone(),
            tags: tags(&version.tags),
        };
        out.write(&record)?;
        let batch = Batch::ModelVersions(vec![record]);
        progress.inc(batch.units());
        counts.add(&batch);
    }
    // Deleted versions travel as numbers only, so the target never hands them out again.
    for record in store.deleted_model_versions().await? {
        out.write(&record)?;
        counts.add(&Batch::ModelVersions(vec![record]));
    }
    out.finish()?;

    let mut out = LineWriter::create(dir, format::WEBHOOKS)?;
    let mut token = None;
    loop {
        let page = store.list_webhooks(100, token).await?;
        for webhook in page.items {
            out.write(&WebhookRecord {
                webhook_id: webhook.webhook_id,
                name: webhook.name,
                description: webhook.description,
                url: webhook.url,
                status: webhook.status.proto_name().to_string(),
                events: webhook.events.iter().map(|e| e.to_string()).collect(),
                creation_timestamp: webhook.creation_timestamp,
                last_updated_timestamp: webhook.last_updated_timestamp,
            })?;
            counts.webhooks += 1;
        }
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    out.finish()?;

    if let Some(from) = artifacts {
        super::artifacts::copy_tree(from, &dir.join(format::ARTIFACTS))?;
    }
    let manifest = Manifest {
        format: format::FORMAT_NAME.into(),
        format_version: format::FORMAT_VERSION,
        ferroflow_version: env!("CARGO_PKG_VERSION").into(),
        created_at: ferroflow_store::common::now_millis(),
        counts: counts.clone(),
        artifacts: artifacts.is_some(),
    };
    format::write_manifest(dir, &manifest)?;
    Ok(counts)
}
