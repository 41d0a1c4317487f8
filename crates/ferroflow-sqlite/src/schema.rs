//! Versioned schema migrations, tracked in `PRAGMA user_version`.
//!
//! Layout choices (see ARCHITECTURE.md): runs get an integer surrogate key and metric
//! keys are interned, so a metric point is a short integer-keyed row in a WITHOUT ROWID
//! table clustered by (run, key, step): history reads are one range scan and a point
//! costs a few dozen bytes instead of MLflow's 32-char uuid and key text per row.

use ferroflow_core::{Error, Result};
use rusqlite::Connection;

use crate::db::db_error;

/// Each entry upgrades the schema by one version; never edit a released entry.
const MIGRATIONS: &[&str] = &[
    V1_TRACKING,
    crate::logged_models::SCHEMA,
    crate::registry::SCHEMA,
    crate::series::SCHEMA,
    crate::series::SCHEMA_TIME_ORDERED,
    crate::registry::outbox::SCHEMA,
    crate::auth::SCHEMA,
];

/// v1: the tracking core.
const V1_TRACKING: &str = r#"
    CREATE TABLE experiments (
        experiment_id     INTEGER PRIMARY KEY,
        name              TEXT NOT NULL UNIQUE,
        artifact_location TEXT NOT NULL,
        lifecycle_stage   TEXT NOT NULL,
        creation_time     INTEGER NOT NULL,
        last_update_time  INTEGER NOT NULL
    );
    CREATE TABLE experiment_tags (
        experiment_id INTEGER NOT NULL,
        key           TEXT NOT NULL,
        value         TEXT NOT NULL,
        PRIMARY KEY (experiment_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE runs (
        run_pk          INTEGER PRIMARY KEY,
        run_uuid        TEXT NOT NULL UNIQUE,
        experiment_id   INTEGER NOT NULL,
        name            TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        status          INTEGER NOT NULL,
        start_time      INTEGER NOT NULL,
        end_time        INTEGER,
        lifecycle_stage TEXT NOT NULL,
        artifact_uri    TEXT NOT NULL,
        deleted_time    INTEGER
    );
    CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time DESC, run_uuid);
    CREATE TABLE metric_keys (
        key_id INTEGER PRIMARY KEY,
        key    TEXT NOT NULL UNIQUE
    );
    -- NaN is stored as value 0 with is_nan 1: SQLite turns NaN into NULL.
    CREATE TABLE metrics (
        run_pk    INTEGER NOT NULL,
        key_id    INTEGER NOT NULL,
        step      INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        value     REAL NOT NULL,
        is_nan    INTEGER NOT NULL,
        PRIMARY KEY (run_pk, key_id, step, timestamp, value, is_nan)
    ) WITHOUT ROWID;
    CREATE TABLE latest_metrics (
        run_pk    INTEGER NOT NULL,
        key_id    INTEGER NOT NULL,
        step      INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        value     REAL NOT NULL,
        is_nan    INTEGER NOT NULL,
        PRIMARY KEY (run_pk, key_id)
    ) WITHOUT ROWID;
    CREATE INDEX latest_metrics_by_key ON latest_metrics (key_id, is_nan, value);
    CREATE TABLE params (
        run_pk INTEGER NOT NULL,
        key    TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (run_pk, key)
    ) WITHOUT ROWID;
    CREATE TABLE tags (
        run_pk INTEGER NOT NULL,
        key    TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (run_pk, key)
    ) WITHOUT ROWID;
    CREATE TABLE datasets (
        dataset_pk    INTEGER PRIMARY KEY,
        experiment_id INTEGER NOT NULL,
        name          TEXT NOT NULL,
        digest        TEXT NOT NULL,
        source_type   TEXT NOT NULL,
        source        TEXT NOT NULL,
        schema        TEXT,
        profile       TEXT,
        UNIQUE (experiment_id, name, digest)
    );
    CREATE TABLE run_dataset_inputs (
        run_pk     INTEGER NOT NULL,
        dataset_pk INTEGER NOT NULL,
        position   INTEGER NOT NULL,
        PRIMARY KEY (run_pk, dataset_pk)
    ) WITHOUT ROWID;
    CREATE TABLE run_dataset_input_tags (
        run_pk     INTEGER NOT NULL,
        dataset_pk INTEGER NOT NULL,
        key        TEXT NOT NULL,
        value      TEXT NOT NULL,
        PRIMARY KEY (run_pk, dataset_pk, key)
    ) WITHOUT ROWID;
    CREATE TABLE run_model_inputs (
        run_pk   INTEGER NOT NULL,
        model_id TEXT NOT NULL,
        PRIMARY KEY (run_pk, model_id)
    ) WITHOUT ROWID;
    CREATE TABLE run_model_outputs (
        run_pk   INTEGER NOT NULL,
        model_id TEXT NOT NULL,
        step     INTEGER NOT NULL,
        PRIMARY KEY (run_pk, model_id)
    ) WITHOUT ROWID;
"#;

pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`SCHEMA_VERSION`], one transaction per migration.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(db_error)?;
    if current > SCHEMA_VERSION {
        return Err(Error::internal(format!(
            "the database has schema version {current}, newer than this ferroflow ({SCHEMA_VERSION}); upgrade ferroflow"
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction().map_err(db_error)?;
        tx.execute_batch(sql).map_err(db_error)?;
        tx.pragma_update(None, "user_version", version).map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        tracing::info!(version, "applied schema migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |row| row.get(0)).unwrap()
    }

    #[test]
    fn a_fresh_database_reaches_the_current_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(count(&conn, "PRAGMA user_version"), SCHEMA_VERSION);
        // Idempotent: a second start applies nothing.
        migrate(&mut conn).unwrap();
        assert_eq!(count(&conn, "PRAGMA user_version"), SCHEMA_VERSION);
    }

    #[test]
    fn the_series_migration_counts_existing_history_and_marks_it_irregular() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(
            "INSERT INTO metrics VALUES (1, 1, 0, 5, 0.5, 0), (1, 1, 1, 6, 0.25, 0), (1, 1, 2, 7, 0.1, 0), \
             (1, 2, 0, 5, 3.0, 0), (2, 1, 0, 5, 1.0, 0);
             INSERT INTO latest_metrics VALUES (1, 1, 2, 7, 0.1, 0), (1, 2, 0, 5, 3.0, 0), (2, 1, 0, 5, 1.0, 0);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let shape =
            |run: i64, key: i64| crate::series::shape(&conn, run, key).unwrap().map(|s| (s.point_count, s.regular));
        assert_eq!(shape(1, 1), Some((3, false)));
        assert_eq!(shape(1, 2), Some((1, false)));
        assert_eq!(shape(2, 1), Some((1, false)));
        assert_eq!(shape(2, 2), None);
    }
}
