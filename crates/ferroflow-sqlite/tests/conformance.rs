//! The shared storage conformance suite, run against a fresh SQLite file per case.

use ferroflow_sqlite::{SqliteOptions, SqliteStore, SyncMode};

fn fresh_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(SqliteOptions {
        path: dir.path().join("ferroflow.db"),
        default_artifact_root: "mlflow-artifacts:/".into(),
        sync: SyncMode::Normal,
        query_timeout: ferroflow_sqlite::DEFAULT_QUERY_TIMEOUT,
    })
    .expect("open store");
    (store, dir)
}

ferroflow_store::conformance_suite!(fresh_store());
