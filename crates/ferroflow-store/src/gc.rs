//! Permanent deletion of soft-deleted entities (`ferroflow gc`).

use async_trait::async_trait;
use ferroflow_core::Result;

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

#[async_trait]
pub trait GcStore: Send + Sync + 'static {
    /// Lists what `request` would delete: runs and logged models first, experiments last,
    /// so that a purge in this order never leaves orphans. Errors if a named entity is
    /// not in the `deleted` stage.
    async fn gc_targets(&self, request: GcRequest) -> Result<Vec<GcTarget>>;
    /// Permanently deletes one entity's metadata (an experiment takes its runs and models).
    async fn purge(&self, target: &GcTarget) -> Result<()>;
}
