//! The shared run-search property test (ferroflow_store::conformance::search_property)
//! against a PostgreSQL store (on the server scripts/with-postgres.sh starts).

use ferroflow_postgres::testing::fresh_database;
use ferroflow_postgres::{PgOptions, PgStore, PgUri};

async fn open_store() -> (PgStore, ()) {
    let options = PgOptions::new(PgUri::parse(&fresh_database().await).unwrap());
    (PgStore::open(&options, "mlflow-artifacts:/").await.unwrap(), ())
}

ferroflow_store::search_property_suite!(PgStore, open_store().await);
