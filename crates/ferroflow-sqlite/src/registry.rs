//! Model registry operations on SQLite.

use async_trait::async_trait;
use ferroflow_store::RegistryStore;

use crate::SqliteStore;

/// Registry tables (schema version 3).
pub(crate) const SCHEMA: &str = "CREATE TABLE registry_placeholder (id INTEGER PRIMARY KEY);";

#[async_trait]
impl RegistryStore for SqliteStore {}
