//! Permanent deletion of soft-deleted entities (`ferroflow gc`).

use async_trait::async_trait;
use ferroflow_core::types::LifecycleStage;
use ferroflow_core::{Error, Result};

/// What to collect. Empty id lists mean "every deleted entity old enough".
#[derive(Debug, Clone, Default)]
pub struct GcRequest {
    /// Only entities deleted at least this many milliseconds ago.
    pub older_than_ms: Option<i64>,
    pub run_ids: Vec<String>,
    pub experiment_ids: Vec<String>,
    pub logged_model_ids: Vec<String>,
}

/// An entity due for permanent deletion, with the artifact root to wipe alongside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcTarget {
    pub kind: GcKind,
    pub id: String,
    pub artifact_uri: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcKind {
    Run,
    LoggedModel,
    Experiment,
}

impl GcKind {
    /// The kinds in purge order: what an experiment holds before the experiment.
    pub const PURGE_ORDER: [GcKind; 3] = [GcKind::Run, GcKind::LoggedModel, GcKind::Experiment];

    /// How messages name the kind.
    pub fn label(self) -> &'static str {
        match self {
            GcKind::Run => "Run",
            GcKind::LoggedModel => "Logged model",
            GcKind::Experiment => "Experiment",
        }
    }
}

impl GcRequest {
    /// Entities deleted at or before this time (milliseconds) are old enough.
    pub fn cutoff(&self, now: i64) -> i64 {
        now - self.older_than_ms.unwrap_or(0)
    }

    /// The ids the request names, in purge order; none means every deleted entity.
    pub fn named(&self) -> Vec<(GcKind, &str)> {
        GcKind::PURGE_ORDER
            .into_iter()
            .flat_map(|kind| {
                let ids = match kind {
                    GcKind::Run => &self.run_ids,
                    GcKind::LoggedModel => &self.logged_model_ids,
                    GcKind::Experiment => &self.experiment_ids,
                };
                ids.iter().map(move |id| (kind, id.as_str()))
            })
            .collect()
    }
}

/// What a backend knows of one named entity: its artifact root, its lifecycle stage,
/// and when it was deleted (a run's `deleted_time`, else its last update; 0 if unset).
#[derive(Debug, Clone)]
pub struct GcCandidate {
    pub artifact_uri: String,
    pub lifecycle_stage: String,
    pub deleted_at: i64,
}

pub fn gc_not_deleted(kind: GcKind, id: &str) -> Error {
    let kind = kind.label();
    Error::invalid_parameter(format!(
        "{kind} {id} is not in `deleted` lifecycle stage. Only {kind}s in `deleted` lifecycle stage can be deleted."
    ))
}

/// The rule for one named entity: it must exist and be deleted; it is a target if it
/// was deleted before `cutoff`.
pub fn named_target(kind: GcKind, id: &str, found: Option<GcCandidate>, cutoff: i64) -> Result<Option<GcTarget>> {
    let Some(candidate) = found else {
        return Err(Error::not_found(format!("{} {id} not found", kind.label())));
    };
    if candidate.lifecycle_stage != LifecycleStage::Deleted.as_str() {
        return Err(gc_not_deleted(kind, id));
    }
    Ok((candidate.deleted_at <= cutoff).then(|| GcTarget {
        kind,
        id: id.to_string(),
        artifact_uri: candidate.artifact_uri,
    }))
}

#[async_trait]
pub trait GcStore: Send + Sync + 'static {
    /// Lists what `request` would delete: runs and logged models first, experiments last,
    /// so that a purge in this order never leaves orphans. Errors if a named entity is
    /// not in the `deleted` stage.
    async fn gc_targets(&self, request: GcRequest) -> Result<Vec<GcTarget>>;
    /// Permanently deletes one entity's metadata (an experiment takes its runs and models).
    async fn purge(&self, target: &GcTarget) -> Result<()>;
}
