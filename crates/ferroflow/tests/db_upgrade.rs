//! `ferroflow db upgrade` as a user runs it, against a real PostgreSQL server
//! (scripts/with-postgres.sh) and an SQLite file.

use std::process::Command;

fn ferroflow(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ferroflow")).args(args).output().expect("run ferroflow");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A new, empty database on the test server, in MLflow's SQLAlchemy spelling.
async fn fresh_database() -> String {
    ferroflow_postgres::testing::fresh_database().await.replacen("postgresql://", "postgresql+psycopg2://", 1)
}

#[tokio::test]
async fn upgrade_migrates_a_postgres_database_once() {
    let uri = fresh_database().await;
    let (ok, stdout, stderr) = ferroflow(&["db", "upgrade", &uri]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("schema upgraded from version 0 to"), "{stdout}");
    let (ok, stdout, stderr) = ferroflow(&["db", "upgrade", &uri]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("is current; nothing to do"), "{stdout}");
}

#[test]
fn upgrade_never_prints_the_password() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let uri = format!("postgresql://ff:hunter2secret@127.0.0.1:{port}/ferroflow");
    let (ok, stdout, stderr) = ferroflow(&["db", "upgrade", &uri]);
    assert!(!ok);
    assert!(stderr.contains("cannot connect to postgresql://ff:***@127.0.0.1"), "{stderr}");
    assert!(!stdout.contains("hunter2secret") && !stderr.contains("hunter2secret"), "{stdout}{stderr}");
    // The server, which serves PostgreSQL stores now, fails to reach it without echoing it either.
    let (ok, _, stderr) = ferroflow(&["server", "--backend-store-uri", &uri, "--port", "0"]);
    assert!(!ok);
    assert!(stderr.contains("cannot open postgresql://ff:***@127.0.0.1"), "{stderr}");
    assert!(!stderr.contains("hunter2secret"), "{stderr}");
}

#[test]
fn upgrade_migrates_an_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let (ok, stdout, stderr) = ferroflow(&["db", "upgrade", &format!("sqlite:///{}", path.display())]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("schema is current"), "{stdout}");
    assert!(path.exists());
}
