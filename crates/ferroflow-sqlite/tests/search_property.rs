//! The shared run-search property test (ferroflow_store::conformance::search_property)
//! against a SQLite store.

use ferroflow_sqlite::{SqliteOptions, SqliteStore, SyncMode};

fn open_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions {
        path: dir.path().join("db.sqlite"),
        default_artifact_root: "mlflow-artifacts:/".into(),
        sync: SyncMode::Normal,
        query_timeout: ferroflow_sqlite::DEFAULT_QUERY_TIMEOUT,
    })
    .unwrap();
    (store, dir)
}

ferroflow_store::search_property_suite!(SqliteStore, open_store());
