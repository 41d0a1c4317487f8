//! ferroflow's PostgreSQL metadata store, for teams that run several stateless replicas
//! on one database.
//!
//! This crate holds the parts every PostgreSQL operation stands on: the store URI in the
//! spellings MLflow users write ([`PgUri`], which never shows its password), a bounded
//! connection pool with connect, acquire and statement timeouts ([`PgDatabase`]), the
//! mapping of PostgreSQL errors to MLflow's, and versioned migrations that replicas run
//! safely together under an advisory lock ([`migrate`]). The `Store` traits are
//! implemented on top of it next (issue 13); until then the server refuses a
//! `postgresql://` store and `ferroflow db upgrade` prepares one.

mod db;
mod schema;
#[doc(hidden)]
pub mod testing;
mod uri;

pub use db::{PgDatabase, PgOptions};
pub use schema::{apply_for_tests, migrate, schema_version, SCHEMA_VERSION};
pub use uri::PgUri;
