//! For tests of this crate and of the binary: a new, empty database on the PostgreSQL
//! server that `scripts/with-postgres.sh` started (its address in
//! `FERROFLOW_TEST_POSTGRES_URL`).

/// Creates a database with a unique name and returns its URI.
pub async fn fresh_database() -> String {
    let server = std::env::var("FERROFLOW_TEST_POSTGRES_URL")
        .expect("FERROFLOW_TEST_POSTGRES_URL is unset: run these tests through scripts/with-postgres.sh");
    let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    let name = format!("ff_{}", uuid::Uuid::new_v4().simple());
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
    let (base, _) = server.rsplit_once('/').expect("a database path");
    format!("{base}/{name}")
}
