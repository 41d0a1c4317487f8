//! `ferroflow db upgrade`: migrates a metadata store by hand, for teams that keep schema
//! changes out of server starts. Servers migrate on start anyway, so this is never
//! required (mlflow#6703: MLflow refuses to start until someone runs `mlflow db upgrade`).

use clap::{Args, Subcommand};

use crate::config::{parse_backend_store_uri, BackendStore};

#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    pub command: DbCommand,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Bring a metadata store's schema up to this ferroflow's version. Safe to run while
    /// replicas start: they and it migrate one at a time under a lock, and a migration that
    /// fails leaves the schema as it was.
    Upgrade {
        /// `sqlite:///path.db`, or `postgresql://user:password@host:port/database` (also
        /// spelled `postgresql+psycopg2://…`, as MLflow users write it).
        #[arg(env = "FERROFLOW_BACKEND_STORE_URI")]
        backend_store_uri: String,
    },
}

pub fn run(args: DbArgs) -> Result<(), String> {
    match args.command {
        DbCommand::Upgrade { backend_store_uri } => upgrade(&backend_store_uri),
    }
}

fn upgrade(uri: &str) -> Result<(), String> {
    let path = match parse_backend_store_uri(uri)? {
        BackendStore::Postgres(uri) => {
            let shown = uri.to_string();
            return crate::runtime()?.block_on(async move {
                let database = ferroflow_postgres::PgDatabase::connect(&ferroflow_postgres::PgOptions::new(*uri))
                    .await
                    .map_err(|e| format!("cannot connect to {shown}: {}", e.message))?;
                let before = ferroflow_postgres::schema_version(&database).await.map_err(|e| e.message)?;
                let applied = ferroflow_postgres::migrate(&database).await.map_err(|e| e.message)?;
                report(&shown, before, applied.len(), ferroflow_postgres::SCHEMA_VERSION);
                Ok(())
            });
        }
        BackendStore::Sqlite(path) => path,
    };
    // Opening the store migrates it, in one transaction per version.
    ferroflow_sqlite::SqliteStore::open(ferroflow_sqlite::SqliteOptions {
        path: path.clone(),
        default_artifact_root: "mlflow-artifacts:/".into(),
        sync: ferroflow_sqlite::SyncMode::Normal,
        query_timeout: ferroflow_sqlite::DEFAULT_QUERY_TIMEOUT,
    })
    .map_err(|e| format!("cannot upgrade {}: {}", path.display(), e.message))?;
    println!("{}: schema is current", path.display());
    Ok(())
}

fn report(store: &str, before: i64, applied: usize, current: i64) {
    if applied == 0 {
        println!("{store}: schema version {current} is current; nothing to do");
    } else {
        println!("{store}: schema upgraded from version {before} to {current} ({applied} migrations)");
    }
}
