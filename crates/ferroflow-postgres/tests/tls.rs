//! `sslmode` against a real PostgreSQL server with TLS on (scripts/with-postgres.sh starts
//! one, with a throwaway CA in FERROFLOW_TEST_POSTGRES_CA).

use ferroflow_postgres::testing::fresh_database;
use ferroflow_postgres::{PgDatabase, PgOptions, PgUri};

/// The test database's URI with `query` appended and the host spelled `host`.
async fn uri_with(host: &str, query: &str) -> String {
    let uri = fresh_database().await.replace("127.0.0.1", host);
    format!("{uri}?{query}")
}

fn ca() -> String {
    std::env::var("FERROFLOW_TEST_POSTGRES_CA").expect("run through scripts/with-postgres.sh")
}

/// Whether the pool's connection to `uri` is encrypted, as the server sees it.
async fn encrypted(uri: &str) -> ferroflow_core::Result<bool> {
    let database = PgDatabase::connect(&PgOptions::new(PgUri::parse(uri)?)).await?;
    database.connection_is_encrypted().await
}

#[tokio::test]
async fn verify_full_checks_the_chain_and_the_name() {
    let ca = ca();
    let good = uri_with("localhost", &format!("sslmode=verify-full&sslrootcert={ca}")).await;
    assert!(encrypted(&good).await.unwrap());
    // 127.0.0.1 is in the certificate too.
    let by_ip = uri_with("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}")).await;
    assert!(encrypted(&by_ip).await.unwrap());
    // The throwaway CA is not among the system's roots: the certificate is not trusted.
    let untrusted = uri_with("localhost", "sslmode=verify-full").await;
    let error = encrypted(&untrusted).await.unwrap_err();
    assert_eq!(error.code.http_status(), 503, "{error:?}");
}

#[tokio::test]
async fn require_encrypts_and_disable_does_not() {
    assert!(encrypted(&uri_with("127.0.0.1", "sslmode=require").await).await.unwrap());
    assert!(encrypted(&uri_with("127.0.0.1", "sslmode=prefer").await).await.unwrap());
    assert!(!encrypted(&uri_with("127.0.0.1", "sslmode=disable").await).await.unwrap());
}

#[tokio::test]
async fn a_missing_root_file_is_a_clear_error() {
    let uri = uri_with("localhost", "sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem").await;
    let error = encrypted(&uri).await.unwrap_err();
    assert!(error.message.contains("sslrootcert"), "{}", error.message);
}
