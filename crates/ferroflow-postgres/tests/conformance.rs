//! The shared storage conformance suite, run against a fresh PostgreSQL database per case
//! (on the server scripts/with-postgres.sh starts).

use ferroflow_postgres::testing::fresh_database;
use ferroflow_postgres::{PgOptions, PgStore, PgUri};

async fn fresh_store() -> (PgStore, ()) {
    let uri = PgUri::parse(&fresh_database().await).expect("test URI");
    let mut options = PgOptions::new(uri);
    // Many cases run at once: a few connections each.
    options.max_connections = 4;
    (PgStore::open(&options, "mlflow-artifacts:/").await.expect("open store"), ())
}

ferroflow_store::conformance_suite!(fresh_store().await);
