//! Migrations against a real PostgreSQL server (scripts/with-postgres.sh starts one).

use ferroflow_core::ErrorCode;
use ferroflow_postgres::testing::fresh_database;
use ferroflow_postgres::{apply_for_tests, migrate, schema_version, PgDatabase, PgOptions, PgUri, SCHEMA_VERSION};

async fn open(uri: &str) -> PgDatabase {
    PgDatabase::connect(&PgOptions::new(PgUri::parse(uri).unwrap())).await.expect("connect")
}

async fn tables(database: &PgDatabase, names: &[&str]) -> Vec<bool> {
    let mut present = Vec::new();
    for name in names {
        let uri = database.uri().to_string();
        let (client, connection) = tokio_postgres::connect(&uri, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        let row = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[name]).await.unwrap();
        present.push(row.get(0));
    }
    present
}

#[tokio::test]
async fn a_fresh_database_reaches_the_current_version_once() {
    let database = open(&fresh_database().await).await;
    assert_eq!(schema_version(&database).await.unwrap(), 0);
    let applied = migrate(&database).await.unwrap();
    assert_eq!(applied, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    assert_eq!(schema_version(&database).await.unwrap(), SCHEMA_VERSION);
    assert_eq!(tables(&database, &["experiments", "runs", "model_versions", "webhook_outbox"]).await, [true; 4]);
    // Idempotent: a second start applies nothing.
    assert!(migrate(&database).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_together_migrate_once_and_all_succeed() {
    let uri = fresh_database().await;
    let mut starts = Vec::new();
    for _ in 0..6 {
        let uri = uri.clone();
        starts.push(tokio::spawn(async move { migrate(&open(&uri).await).await }));
    }
    let mut applied = Vec::new();
    for start in starts {
        applied.push(start.await.unwrap().expect("every replica starts"));
    }
    let migrated: Vec<_> = applied.iter().filter(|versions| !versions.is_empty()).collect();
    assert_eq!(migrated.len(), 1, "exactly one replica applies the migrations: {applied:?}");
    assert_eq!(schema_version(&open(&uri).await).await.unwrap(), SCHEMA_VERSION);
}

#[tokio::test]
async fn a_failing_migration_leaves_the_schema_as_it_was() {
    let database = open(&fresh_database().await).await;
    apply_for_tests(&database, &["CREATE TABLE first_table (x integer)"]).await.unwrap();
    let broken = [
        "CREATE TABLE first_table (x integer)",
        "CREATE TABLE second_table (x integer); ALTER TABLE first_table ADD COLUMN y integer",
        "CREATE TABLE third_table (x integer); SELECT no_such_function()",
    ];
    let error = apply_for_tests(&database, &broken).await.unwrap_err();
    assert!(error.message.contains("schema migration 3 failed and was rolled back"), "{}", error.message);
    // Version 2 ran in the same upgrade and is undone with it.
    assert_eq!(schema_version(&database).await.unwrap(), 1);
    assert_eq!(tables(&database, &["first_table", "second_table", "third_table"]).await, [true, false, false]);
}

#[tokio::test]
async fn a_database_newer_than_this_build_is_refused() {
    let database = open(&fresh_database().await).await;
    apply_for_tests(&database, &["SELECT 1", "SELECT 1", "SELECT 1"]).await.unwrap();
    let error = apply_for_tests(&database, &["SELECT 1"]).await.unwrap_err();
    assert!(error.message.contains("schema version 3, newer than this ferroflow (1)"), "{}", error.message);
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_error_that_shows_no_password() {
    // A closed port on loopback: refused at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let uri = PgUri::parse(&format!("postgresql://ff:hunter2secret@127.0.0.1:{port}/db")).unwrap();
    let error = match PgDatabase::connect(&PgOptions::new(uri)).await {
        Ok(_) => panic!("connected to a closed port"),
        Err(error) => error,
    };
    assert_eq!(error.code, ErrorCode::TemporarilyUnavailable);
    assert!(!error.message.contains("hunter2secret"), "{}", error.message);
}

#[tokio::test]
async fn a_statement_past_the_timeout_is_stopped_by_the_server() {
    let uri = fresh_database().await;
    let mut options = PgOptions::new(PgUri::parse(&uri).unwrap());
    options.statement_timeout = std::time::Duration::from_millis(200);
    let database = PgDatabase::connect(&options).await.unwrap();
    let started = std::time::Instant::now();
    let error = apply_for_tests(&database, &["SELECT pg_sleep(5)"]).await.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(error.message.contains("SQLSTATE 57014"), "{}", error.message);
}

#[tokio::test]
async fn the_uris_own_session_options_are_kept_beside_the_servers_limits() {
    let uri = format!("{}?options=-c%20work_mem%3D7MB", fresh_database().await);
    let database = open(&uri).await;
    // Raises (and so fails the migration) unless both settings reached the session.
    let check = "DO $$ BEGIN \
        IF current_setting('work_mem') <> '7MB' OR current_setting('statement_timeout') <> '30s' \
           OR current_setting('plan_cache_mode') <> 'force_custom_plan' OR current_setting('jit') <> 'off' THEN \
            RAISE EXCEPTION 'work_mem %, statement_timeout %, plan_cache_mode %, jit %', \
                current_setting('work_mem'), current_setting('statement_timeout'), \
                current_setting('plan_cache_mode'), current_setting('jit'); \
        END IF; END $$";
    apply_for_tests(&database, &[check]).await.expect("both settings are in effect");
}
