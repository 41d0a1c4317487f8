//! MLflow 3 logged-model operations on SQLite.

use async_trait::async_trait;
use ferroflow_store::LoggedModelStore;

use crate::SqliteStore;

/// Logged-model tables (schema version 2).
pub(crate) const SCHEMA: &str = "CREATE TABLE logged_models_placeholder (id INTEGER PRIMARY KEY);";

#[async_trait]
impl LoggedModelStore for SqliteStore {}
