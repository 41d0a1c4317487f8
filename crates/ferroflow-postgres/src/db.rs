//! The connection pool, and the one place PostgreSQL errors become MLflow errors.

use std::time::Duration;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use ferroflow_core::{Error, ErrorCode, Result};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::uri::PgUri;

/// How the store connects and how long its work may take.
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub uri: PgUri,
    /// The most connections this process opens (each replica has its own pool; the
    /// server's `max_connections` must cover every replica's).
    pub max_connections: usize,
    /// How long opening one connection may take.
    pub connect_timeout: Duration,
    /// How long a request waits for a free connection before it is answered 503.
    pub acquire_timeout: Duration,
    /// The server-side `statement_timeout`: no statement runs longer.
    pub statement_timeout: Duration,
}

impl PgOptions {
    /// Sane defaults for one replica: a few connections per core, timeouts in seconds.
    pub fn new(uri: PgUri) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        PgOptions {
            uri,
            max_connections: (cores * 4).clamp(8, 32),
            connect_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(30),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// A pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct PgDatabase {
    pool: Pool,
    uri: PgUri,
    /// What the pool connects with, for connections outside it (the auth listener).
    pub(crate) config: tokio_postgres::Config,
    pub(crate) tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl PgDatabase {
    /// Builds the pool and checks that the database answers. Does not migrate.
    pub async fn connect(options: &PgOptions) -> Result<Self> {
        let mut config = options.uri.config().clone();
        config.connect_timeout(options.connect_timeout);
        config.application_name("ferroflow");
        // Bounded work on the server's side too: no statement, and no transaction left
        // idle by a vanished process, holds locks for longer than these.
        // Appended to the URI's own `options`, so a user's settings are kept (and a user's
        // own statement_timeout there, coming first, is overridden by the flag's).
        // Plans are made per execution (`force_custom_plan`): a pooled connection lives
        // for hours while its tables grow from empty, and the generic plan PostgreSQL
        // caches for a prepared statement after five runs was costed on the small table
        // (measured: sequential scans of latest_metrics and params on every run write,
        // 4-5x slower writes and 3x slower searches at 3,000 runs). JIT is off: these
        // statements are short, and compiling one costs more than it saves.
        let limits = format!(
            "-c plan_cache_mode=force_custom_plan -c jit=off \
             -c statement_timeout={} -c idle_in_transaction_session_timeout={}",
            options.statement_timeout.as_millis(),
            options.statement_timeout.as_millis().saturating_mul(2),
        );
        let combined = match config.get_options() {
            Some(own) if !own.trim().is_empty() => format!("{own} {limits}"),
            _ => limits,
        };
        config.options(combined);
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let tls = crate::tls::connector(options.uri.tls())?;
        let manager = match tls.clone() {
            Some(tls) => Manager::from_config(config.clone(), tls, manager_config),
            None => Manager::from_config(config.clone(), NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.acquire_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|error| Error::internal(format!("cannot build the PostgreSQL pool: {error}")))?;
        let database = PgDatabase { pool, uri: options.uri.clone(), config, tls };
        database.client().await?.simple_query("SELECT 1").await.map_err(db_error)?;
        Ok(database)
    }

    /// One pooled connection (public for readers of other schemas on PostgreSQL, such as
    /// `ferroflow import`'s reader of an MLflow database).
    pub async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|error| {
            // The pool's message can name the host, never the password; keep it in the log.
            tracing::error!(uri = %self.uri, %error, "cannot get a PostgreSQL connection");
            Error::new(
                ErrorCode::TemporarilyUnavailable,
                "The metadata database cannot be reached right now; retry shortly.",
            )
        })
    }

    /// Whether this pool's connections are encrypted, as the server reports it.
    pub async fn connection_is_encrypted(&self) -> Result<bool> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)", &[])
            .await
            .map_err(db_error)?;
        Ok(row.get(0))
    }

    pub fn uri(&self) -> &PgUri {
        &self.uri
    }
}

/// What a client hears when the database's disk is full (HTTP 507).
const STORAGE_FULL_MESSAGE: &str =
    "The server's database storage is full: the write was not saved. Retry once space has been freed.";

/// The one place PostgreSQL errors become MLflow errors. A full disk is a 507, a
/// statement stopped by `statement_timeout` a 400 asking to narrow the request (never a
/// 5xx, which clients retry for minutes); a lost connection is a 503, which they retry.
/// Anything else is a 500 named by its SQLSTATE only: the server's detail lines quote
/// row values, so the full error goes to the log instead.
pub(crate) fn db_error(error: tokio_postgres::Error) -> Error {
    let Some(state) = error.code() else {
        // No SQLSTATE: either the connection failed (worth a retry) or the driver refused
        // a value before sending it (a bug of ours, which retrying cannot fix).
        if error.is_closed() || std::error::Error::source(&error).is_some_and(|e| e.is::<std::io::Error>()) {
            tracing::error!(%error, "PostgreSQL connection error");
            return Error::new(
                ErrorCode::TemporarilyUnavailable,
                "The metadata database connection was lost; retry shortly.",
            );
        }
        tracing::error!(%error, "PostgreSQL driver error");
        return Error::internal("database driver error");
    };
    if *state == SqlState::CHARACTER_NOT_IN_REPERTOIRE || *state == SqlState::UNTRANSLATABLE_CHARACTER {
        // PostgreSQL's text cannot hold a NUL character, which SQLite's can.
        return Error::invalid_parameter(
            "A value contains a character this server's PostgreSQL store cannot hold (the NUL character \\u0000).",
        );
    }
    if *state == SqlState::DISK_FULL {
        tracing::error!(%error, "the database disk is full");
        return Error::storage_full(STORAGE_FULL_MESSAGE);
    }
    if *state == SqlState::QUERY_CANCELED {
        return Error::invalid_parameter(
            "The request took longer than the server's statement timeout and was stopped. Narrow the filter \
             or search fewer experiments.",
        );
    }
    if *state == SqlState::T_R_DEADLOCK_DETECTED || *state == SqlState::T_R_SERIALIZATION_FAILURE {
        // `transaction!` retries these; a caller hears of them only if retries run out.
        tracing::warn!(%error, "transaction conflict");
        return Error::new(ErrorCode::TemporarilyUnavailable, CONFLICT_MESSAGE);
    }
    tracing::error!(%error, "database error");
    Error::internal(format!("database error: SQLSTATE {}", state.code()))
}

const CONFLICT_MESSAGE: &str = "The write conflicted with a concurrent one and was rolled back; retry it.";

/// Whether `error` is [`db_error`]'s answer to a deadlock or serialization failure,
/// which [`transaction!`](crate::transaction) retries from the start.
pub(crate) fn is_conflict(error: &Error) -> bool {
    error.code == ErrorCode::TemporarilyUnavailable && error.message == CONFLICT_MESSAGE
}

/// How often a transaction that lost a deadlock or serialization conflict is re-run.
pub(crate) const CONFLICT_RETRIES: u32 = 5;

/// Runs `$body` inside one transaction on a pooled connection and commits it; an error
/// rolls everything back (the transaction is dropped uncommitted). A deadlock or
/// serialization failure re-runs the whole body, up to [`CONFLICT_RETRIES`] times.
#[macro_export]
#[doc(hidden)]
macro_rules! transaction {
    ($db:expr, |$tx:ident| $body:block) => {{
        let mut attempt = 0u32;
        loop {
            let mut client = $db.client().await?;
            let $tx = client.transaction().await.map_err($crate::db::db_error)?;
            let outcome: ferroflow_core::Result<_> = async { $body }.await;
            let outcome = match outcome {
                Ok(value) => $tx.commit().await.map(|()| value).map_err($crate::db::db_error),
                Err(error) => Err(error),
            };
            match outcome {
                Err(error) if $crate::db::is_conflict(&error) && attempt < $crate::db::CONFLICT_RETRIES => {
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}

/// A row-returning statement, prepared once per connection and cached.
pub(crate) async fn query(client: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
    let statement = client.prepare_cached(sql).await.map_err(db_error)?;
    client.query(&statement, params).await.map_err(db_error)
}

pub(crate) async fn query_opt(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let statement = client.prepare_cached(sql).await.map_err(db_error)?;
    client.query_opt(&statement, params).await.map_err(db_error)
}

/// A statement without rows; returns how many rows it changed.
pub(crate) async fn execute(client: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
    let statement = client.prepare_cached(sql).await.map_err(db_error)?;
    client.execute(&statement, params).await.map_err(db_error)
}

/// Cancels the statement a connection is running when dropped before [`disarm`]: a
/// search whose caller left (its request future dropped) stops on the server too,
/// instead of running on to `statement_timeout`.
///
/// [`disarm`]: CancelOnDrop::disarm
pub(crate) struct CancelOnDrop {
    token: Option<tokio_postgres::CancelToken>,
}

impl CancelOnDrop {
    pub(crate) fn new(client: &deadpool_postgres::Client) -> Self {
        CancelOnDrop { token: Some(client.cancel_token()) }
    }

    pub(crate) fn disarm(mut self) {
        self.token = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let (Some(token), Ok(runtime)) = (self.token.take(), tokio::runtime::Handle::try_current()) {
            // A cancel is a new, plain connection: a server that demands TLS of every
            // connection refuses it, and the query then runs on to statement_timeout.
            runtime.spawn(async move {
                if let Err(error) = token.cancel_query(NoTls).await {
                    tracing::debug!(%error, "could not cancel an abandoned query");
                }
            });
        }
    }
}

/// Like [`execute`], for a write that a unique constraint guards: a unique violation (the
/// name taken, perhaps by a concurrent writer on another replica a moment ago) is answered
/// with `taken()`, never a 500.
pub(crate) async fn execute_unique(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    taken: impl FnOnce() -> Error,
) -> Result<u64> {
    let statement = client.prepare_cached(sql).await.map_err(db_error)?;
    client.execute(&statement, params).await.map_err(|error| match error.code() {
        Some(state) if *state == SqlState::UNIQUE_VIOLATION => taken(),
        _ => db_error(error),
    })
}
