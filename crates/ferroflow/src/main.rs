//! The `ferroflow` binary: a thin command line over the server and store crates.

mod cli;
mod config;
mod db;
mod gc;
mod transfer;
mod transfer_cli;
mod users;

use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};
use ferroflow_artifacts::ArtifactRepository;
use ferroflow_postgres::PgStore;
use ferroflow_server::{AppState, ServerConfig};
use ferroflow_sqlite::{SqliteOptions, SqliteStore};
use ferroflow_store::Store;
use tracing_subscriber::EnvFilter;

use config::{BackendStore, ServerArgs};

#[derive(Parser)]
#[command(
    name = "ferroflow",
    version,
    about = "An MLflow-compatible experiment tracker and model registry in one binary",
    after_help = "Examples:
  ferroflow server --port 5000
  export MLFLOW_TRACKING_URI=http://127.0.0.1:5000
  ferroflow runs list --experiment churn --order-by 'metrics.f1 DESC'
  ferroflow gate --experiment churn --order-by 'metrics.f1 DESC' --require 'metrics.f1 >= 0.9' \\
      --baseline models:/churn@champion --min-improvement f1=0.01 --register churn --alias champion
  ferroflow completions bash > /etc/bash_completion.d/ferroflow"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the tracking server (MLflow REST API).
    Server(ServerArgs),
    /// Permanently delete runs, experiments and logged models in the `deleted` stage,
    /// with their artifacts.
    Gc(gc::GcArgs),
    /// Manage a metadata store's schema (`ferroflow db upgrade <uri>`).
    Db(db::DbArgs),
    /// Write everything in a store to a folder of JSON Lines files (and, optionally, its artifacts).
    Export(transfer_cli::ExportArgs),
    /// Copy an export folder or a real MLflow database into a store, keeping every id.
    Import(transfer_cli::ImportArgs),
    /// Manage the users of `--app-name basic-auth` from the shell (`users create-admin`).
    Users(users::UsersArgs),
    /// Inspect runs on a tracking server: list, show, compare, diff.
    Runs(cli::RunsArgs),
    /// Decide whether a run is good enough (thresholds, a baseline to beat) and, on a
    /// pass, register and promote its model. Exit 0 pass, 1 fail, 2 error.
    Gate(cli::GateArgs),
    /// The model registry: list, show, promote, alias, tag.
    Models(cli::ModelsArgs),
    /// What a run recorded for a re-run (git commit, environment, params, seed, data), and
    /// what it did not.
    Reproduce(cli::ReproduceArgs),
    /// List and download a run's artifacts.
    Artifacts(cli::ArtifactsArgs),
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  ferroflow completions bash > ~/.local/share/bash-completion/completions/ferroflow
  ferroflow completions zsh > \"${fpath[1]}/_ferroflow\"
  ferroflow completions fish > ~/.config/fish/completions/ferroflow.fish")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("FERROFLOW_LOG").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let outcome = match cli.command {
        Command::Server(args) => run_server(args),
        Command::Gc(args) => run_gc(args),
        Command::Db(args) => db::run(args),
        Command::Export(args) => transfer_cli::export(args),
        Command::Import(args) => transfer_cli::import(args),
        Command::Users(args) => users::run(args),
        Command::Runs(args) => return cli::run(cli::runs(args)),
        Command::Gate(args) => return cli::run(cli::gate(args)),
        Command::Models(args) => return cli::run(cli::models(args)),
        Command::Reproduce(args) => return cli::run(cli::reproduce(args)),
        Command::Artifacts(args) => return cli::run(cli::artifacts(args)),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "ferroflow", &mut std::io::stdout());
            return std::process::ExitCode::SUCCESS;
        }
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ferroflow: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Opens `store`'s backend, migrated to the current schema; PostgreSQL's pool is built
/// on the calling runtime.
pub(crate) async fn open_store(
    store: &config::StoreArgs,
    default_artifact_root: &str,
    query_timeout: std::time::Duration,
) -> Result<Arc<dyn Store>, String> {
    match store.backend()? {
        BackendStore::Sqlite(path) => SqliteStore::open(SqliteOptions {
            path: path.clone(),
            default_artifact_root: default_artifact_root.to_string(),
            sync: store.sync_mode(),
            query_timeout,
        })
        .map(|store| Arc::new(store) as Arc<dyn Store>)
        .map_err(|e| format!("cannot open {}: {}", path.display(), e.message)),
        BackendStore::Postgres(uri) => PgStore::open(&store.pg_options(&uri, query_timeout), default_artifact_root)
            .await
            .map(|store| Arc::new(store) as Arc<dyn Store>)
            .map_err(|e| format!("cannot open {uri}: {}", e.message)),
    }
}

/// The webhook secret key of a PostgreSQL deployment. Every replica must seal and open
/// secrets with the same key, and keeping it in the database would let a copy of the
/// database alone open them all; so it comes from `FERROFLOW_WEBHOOK_SECRET_KEY`, and
/// without it a webhook with a secret is refused, with the reason, when it is created (a
/// 501, which clients do not retry: no retry can help until the server is configured).
fn webhook_secrets_on_postgres() -> Result<(ferroflow_server::WebhookSecrets, String), String> {
    if let Some(secrets) = config::webhook_key_from_env()? {
        return Ok((secrets, config::WEBHOOK_KEY_ENV.into()));
    }
    let secrets = ferroflow_server::WebhookSecrets::made_on_first_use(|| {
        Err(ferroflow_core::Error::new(
            ferroflow_core::ErrorCode::NotImplemented,
            format!(
                "webhook secrets on a PostgreSQL store need {} (the same 32-byte base64 key on every replica); \
                 it is not set on this server",
                config::WEBHOOK_KEY_ENV
            ),
        ))
    });
    Ok((secrets, format!("{} (unset: webhook secrets are refused)", config::WEBHOOK_KEY_ENV)))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn run_gc(args: gc::GcArgs) -> Result<(), String> {
    let destination_uri = args.store.artifacts_destination();
    let destination = ArtifactRepository::open(&destination_uri)
        .map_err(|e| format!("cannot open the artifact destination {destination_uri}: {e}"))?;
    runtime()?.block_on(async move {
        let store = open_store(&args.store, "mlflow-artifacts:/", ferroflow_sqlite::DEFAULT_QUERY_TIMEOUT).await?;
        gc::run(args, store.as_ref(), Some(destination)).await
    })
}

/// Descriptors kept out of the connection cap's reach: SQLite's files and reader
/// connections, artifact files in transfer, the listener, logs.
const RESERVED_FILE_DESCRIPTORS: u64 = 256;

/// Raises the soft open-file limit to the hard one (many systems start processes at
/// 1024), and holds the connection cap under it, less a reserve, so that a crowd of
/// clients can never leave the database unable to open a file.
fn fit_connections_to_file_limit(connections: &mut ferroflow_server::ConnectionLimits) {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot read or raise the open-file limit");
            return;
        }
    };
    let room = usize::try_from(limit.saturating_sub(RESERVED_FILE_DESCRIPTORS).max(16)).unwrap_or(usize::MAX);
    if connections.max_connections > room {
        tracing::info!(
            open_file_limit = limit,
            max_connections = room,
            "connection cap lowered to fit the open-file limit"
        );
        connections.max_connections = room;
    }
}

fn run_server(args: ServerArgs) -> Result<(), String> {
    let mut settings = args.resolve()?;
    fit_connections_to_file_limit(&mut settings.connections);
    let runtime = runtime()?;
    let store =
        runtime.block_on(open_store(&settings.store, &settings.default_artifact_root, settings.query_timeout))?;
    let artifacts = if settings.serve_artifacts {
        Some(
            ArtifactRepository::open(&settings.artifacts_destination)
                .map_err(|e| format!("cannot open the artifact destination {}: {e}", settings.artifacts_destination))?,
        )
    } else {
        None
    };
    let (webhook_secrets, webhook_key_source) = match &settings.backend {
        BackendStore::Sqlite(database) => config::webhook_secrets(database)?,
        BackendStore::Postgres(_) => webhook_secrets_on_postgres()?,
    };
    let config = ServerConfig {
        max_artifact_bytes: settings.max_artifact_bytes,
        multipart_uploads: settings.multipart_uploads,
        webhook_secrets: Arc::new(webhook_secrets),
        connections: settings.connections.clone(),
        trusted_artifact_locations: vec![
            settings.default_artifact_root.clone(),
            settings.artifacts_destination.clone(),
        ],
        graphql: settings.graphql.clone(),
    };
    let mut state = AppState::new(store, artifacts, config);
    if let Some(auth) = settings.auth.clone() {
        let username = std::env::var("FERROFLOW_ADMIN_USERNAME").ok();
        let password = std::env::var("FERROFLOW_ADMIN_PASSWORD").ok();
        let created = runtime.block_on(ferroflow_server::auth::bootstrap_admin(
            state.store.as_ref(),
            username.as_deref(),
            password.as_deref(),
        ))?;
        if let Some(admin) = created {
            tracing::info!(%admin, "created the first admin from FERROFLOW_ADMIN_PASSWORD");
        }
        let auth = Arc::new(ferroflow_server::auth::Auth::new(auth));
        {
            // The store's change listener is a task on this runtime.
            let _entered = runtime.enter();
            auth.follow_changes(state.store.as_ref());
        }
        state.auth = Some(auth);
    }
    runtime.block_on(async move {
        let address = format!("{}:{}", settings.host, settings.port);
        let listener =
            tokio::net::TcpListener::bind(&address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
        // Only once listening: a second server started by mistake on a busy port stops
        // above, before touching the first one's uploads.
        if let Some(artifacts) = state.artifacts.clone() {
            tokio::spawn(remove_staging_leftovers(artifacts, staging_leftover_age(&settings.backend)));
        }
        tracing::info!(
            address = %listener.local_addr().map(|a| a.to_string()).unwrap_or(address),
            backend = %settings.backend,
            default_artifact_root = %settings.default_artifact_root,
            artifacts_destination = %settings.artifacts_destination,
            serve_artifacts = settings.serve_artifacts,
            max_connections = settings.connections.max_connections,
            webhook_secret_key = %webhook_key_source,
            auth = state.auth.is_some(),
            "ferroflow {} listening",
            env!("CARGO_PKG_VERSION")
        );
        ferroflow_server::serve(listener, state, shutdown_signal()).await.map_err(|e| format!("server error: {e}"))?;
        tracing::info!("ferroflow stopped");
        Ok(())
    })
}

/// How long a staging file must have been idle before the start-up sweep takes it.
/// SQLite's server is the only process on its artifact folder: every upload in flight
/// then is this process's own, which the repository keeps the sweep off, so the cutoff
/// is now. PostgreSQL's replicas may share one folder, and a replica starting cannot see
/// the others' uploads: only files idle as long as `ferroflow gc` requires can go.
fn staging_leftover_age(backend: &BackendStore) -> std::time::Duration {
    match backend {
        BackendStore::Sqlite(_) => std::time::Duration::ZERO,
        BackendStore::Postgres(_) => gc::SHARED_STAGING_AGE,
    }
}

/// Removes what uploads interrupted by a crash or `kill -9` left in a local artifact root
/// (see `ferroflow_artifacts::staging`), in the background so that start stays fast: the
/// staging files idle for `untouched_for` (see [`staging_leftover_age`]).
async fn remove_staging_leftovers(artifacts: Arc<ArtifactRepository>, untouched_for: std::time::Duration) {
    let started = std::time::Instant::now();
    match artifacts.remove_staging_leftovers(untouched_for).await {
        Ok(removed) if removed.files > 0 => tracing::info!(
            files = removed.files,
            bytes = removed.bytes,
            folders = removed.folders,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "removed the staging files of interrupted uploads"
        ),
        Ok(_) => tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "no staging files to remove"),
        Err(error) => tracing::warn!(%error, "could not look for the staging files of interrupted uploads"),
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
