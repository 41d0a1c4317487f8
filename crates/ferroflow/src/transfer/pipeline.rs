//! The import loop: checks the target, then feeds it the source's batches in order.

use std::collections::{HashMap, HashSet};

use ferroflow_store::registry::RegistrySearch;
use ferroflow_store::Store;

use super::{Batch, Counts, Result, Source, TransferError};

/// Whether `store` may receive `source`: empty, or `merge`, or holding nothing but what
/// an earlier (perhaps interrupted) import of this same source wrote, which this import
/// then completes. Anything else is refused, naming what is in the way.
pub async fn check_target(store: &dyn Store, source: &mut dyn Source, merge: bool) -> Result<()> {
    let counts = store.store_counts().await?;
    if counts.is_empty() || merge {
        return Ok(());
    }
    let (experiments, models) = source.identities()?;
    let source_experiments: HashMap<String, String> = experiments.into_iter().collect();
    let source_models: HashSet<String> = models.into_iter().collect();
    let refuse = |what: String| {
        TransferError::Refused(format!(
            "the target store is not empty ({what}); import into an empty store, or pass --merge to add to it \
             (records with the same ids are overwritten)"
        ))
    };
    for experiment in super::export::all_experiments(store).await? {
        // The default experiment every store starts with is not in the way.
        let ours = source_experiments.get(&experiment.experiment_id) == Some(&experiment.name);
        if !ours && experiment.experiment_id != "0" {
            return Err(refuse(format!(
                "it has experiment {} {:?}, which the source does not",
                experiment.experiment_id, experiment.name
            )));
        }
    }
    let page = store
        .search_registered_models(RegistrySearch {
            filter: None,
            max_results: 1000,
            order_by: vec![],
            page_token: None,
            visible: None,
        })
        .await?;
    if let Some(model) = page.items.iter().find(|m| !source_models.contains(&m.name)) {
        return Err(refuse(format!("it has registered model {:?}, which the source does not", model.name)));
    }
    let total = source.counts()?;
    if counts.runs > total.runs {
        return Err(refuse(format!("it has {} runs, more than the source's {}", counts.runs, total.runs)));
    }
    tracing::info!("the target holds part of this source (an earlier import): completing it");
    Ok(())
}

/// Writes every batch of `source` into `store`; returns what was written.
pub async fn import(store: &dyn Store, source: &mut dyn Source, progress: &indicatif::ProgressBar) -> Result<Counts> {
    let mut done = Counts::default();
    while let Some(batch) = source.next_batch()? {
        let units = batch.units();
        done.add(&batch);
        let kind = match batch {
            Batch::Experiments(b) => store.import_experiments(b).await.map(|_| "experiments"),
            Batch::Runs(b) => store.import_runs(b).await.map(|_| "runs"),
            Batch::Metrics(b) => store.import_metrics(b).await.map(|_| "metrics"),
            Batch::LoggedModels(b) => store.import_logged_models(b).await.map(|_| "logged models"),
            Batch::RegisteredModels(b) => store.import_registered_models(b).await.map(|_| "registered models"),
            Batch::ModelVersions(b) => store.import_model_versions(b).await.map(|_| "model versions"),
        }?;
        progress.set_message(kind);
        progress.inc(units);
    }
    Ok(done)
}
