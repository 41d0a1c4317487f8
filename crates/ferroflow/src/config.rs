//! Server settings from flags and `FERROFLOW_*` variables, named like `mlflow server`'s.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use ferroflow_server::WebhookSecrets;
use ferroflow_sqlite::SyncMode;

const DEFAULT_DATA_DIR: &str = "ferroflow-data";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SyncArg {
    /// Durable across process crashes (`kill -9`); the default.
    Normal,
    /// Also durable across power loss: fsync on every group commit.
    Full,
}

/// Where metadata and artifacts live; shared by `server` and `gc`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Metadata store, as an SQLAlchemy-style URI: `sqlite:///relative.db`, `sqlite:////abs/path.db`,
    /// or `postgresql://user:password@host:port/database` (also `postgresql+psycopg2://…`).
    /// Default: `./ferroflow-data/ferroflow.db`.
    #[arg(long, env = "FERROFLOW_BACKEND_STORE_URI")]
    pub backend_store_uri: Option<String>,
    /// Where artifacts are stored: a local folder, `s3://bucket/prefix`, `gs://bucket/prefix`
    /// or `wasbs://container@account.blob.core.windows.net/prefix`.
    /// Default: `./ferroflow-data/artifacts`.
    #[arg(long, env = "FERROFLOW_ARTIFACTS_DESTINATION")]
    pub artifacts_destination: Option<String>,
    /// How hard each commit tries to reach the disk (SQLite; PostgreSQL commits durably).
    #[arg(long, env = "FERROFLOW_SYNC", value_enum, default_value = "normal")]
    pub sync: SyncArg,
    /// PostgreSQL: the most connections this process opens (every replica opens its own;
    /// the database's `max_connections` must cover them all). Default: 4 per core, 8 to 32.
    #[arg(long, env = "FERROFLOW_DB_POOL_SIZE", value_parser = clap::value_parser!(u64).range(1..))]
    pub db_pool_size: Option<u64>,
    /// PostgreSQL: seconds to open one connection before giving up.
    #[arg(long, env = "FERROFLOW_DB_CONNECT_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub db_connect_timeout: u64,
    /// PostgreSQL: seconds a request waits for a free pooled connection before it is
    /// answered 503 (which clients retry).
    #[arg(long, env = "FERROFLOW_DB_ACQUIRE_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub db_acquire_timeout: u64,
}

impl StoreArgs {
    pub fn backend(&self) -> Result<BackendStore, String> {
        match &self.backend_store_uri {
            Some(uri) => parse_backend_store_uri(uri),
            None => Ok(BackendStore::Sqlite(Path::new(DEFAULT_DATA_DIR).join("ferroflow.db"))),
        }
    }

    /// The destination as a URI, local paths made absolute.
    pub fn artifacts_destination(&self) -> String {
        match &self.artifacts_destination {
            Some(uri) if uri.contains("://") => uri.clone(),
            Some(path) => absolute(Path::new(path)).display().to_string(),
            None => absolute(&Path::new(DEFAULT_DATA_DIR).join("artifacts")).display().to_string(),
        }
    }

    /// The PostgreSQL pool's settings for `uri`; statements stop after `query_timeout`.
    pub fn pg_options(
        &self,
        uri: &ferroflow_postgres::PgUri,
        query_timeout: Duration,
    ) -> ferroflow_postgres::PgOptions {
        let mut options = ferroflow_postgres::PgOptions::new(uri.clone());
        if let Some(size) = self.db_pool_size {
            options.max_connections = usize::try_from(size).unwrap_or(usize::MAX);
        }
        options.connect_timeout = Duration::from_secs(self.db_connect_timeout);
        options.acquire_timeout = Duration::from_secs(self.db_acquire_timeout);
        options.statement_timeout = query_timeout;
        options
    }

    pub fn sync_mode(&self) -> SyncMode {
        match self.sync {
            SyncArg::Normal => SyncMode::Normal,
            SyncArg::Full => SyncMode::Full,
        }
    }
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "FERROFLOW_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, short, env = "FERROFLOW_PORT", default_value_t = 5000)]
    pub port: u16,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Artifact root handed to new experiments. Default: `mlflow-artifacts:/` when serving
    /// artifacts, else the artifacts destination.
    #[arg(long, env = "FERROFLOW_DEFAULT_ARTIFACT_ROOT")]
    pub default_artifact_root: Option<String>,
    /// Do not proxy artifacts; clients write to the artifact root directly.
    #[arg(long, env = "FERROFLOW_NO_SERVE_ARTIFACTS")]
    pub no_serve_artifacts: bool,
    /// Do not offer proxied multipart uploads (use behind a reverse proxy that does not
    /// pass `X-Forwarded-Host`/`X-Forwarded-Proto`).
    #[arg(long, env = "FERROFLOW_NO_MULTIPART_UPLOADS")]
    pub no_multipart_uploads: bool,
    /// The largest single artifact upload accepted, in bytes.
    #[arg(long, env = "FERROFLOW_MAX_ARTIFACT_BYTES", default_value_t = ferroflow_server::DEFAULT_MAX_ARTIFACT_BYTES)]
    pub max_artifact_bytes: u64,
    /// The most client connections open at once (also held under the open-file limit,
    /// less a reserve for the database and artifact files). At the cap the longest-idle
    /// keep-alive connection is closed to make room.
    #[arg(long, env = "FERROFLOW_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Seconds a client may take to send a request's head, from its first byte.
    #[arg(long, env = "FERROFLOW_HEADER_READ_TIMEOUT", default_value_t = 30)]
    pub header_read_timeout: u64,
    /// Seconds a request body may go without a byte arriving.
    #[arg(long, env = "FERROFLOW_BODY_READ_TIMEOUT", default_value_t = 60)]
    pub body_read_timeout: u64,
    /// Seconds a keep-alive connection may sit idle between requests.
    #[arg(long, env = "FERROFLOW_KEEP_ALIVE_TIMEOUT", default_value_t = 75)]
    pub keep_alive_timeout: u64,
    /// The longest one search (any read of the store) may run, in seconds, before it is
    /// stopped and answered with a 400 asking to narrow it.
    #[arg(
        long,
        env = "FERROFLOW_QUERY_TIMEOUT",
        default_value_t = ferroflow_sqlite::DEFAULT_QUERY_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub query_timeout: u64,
    /// The most root fields one `/graphql` query may select (MLflow's variable and default).
    #[arg(long, env = "MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS", default_value_t = 10)]
    pub graphql_max_root_fields: usize,
    /// The most aliases one `/graphql` selection set may hold (MLflow's variable and default).
    #[arg(long, env = "MLFLOW_SERVER_GRAPHQL_MAX_ALIASES", default_value_t = 10)]
    pub graphql_max_aliases: usize,
    /// `basic-auth` turns authentication and permissions on (MLflow's flag; the only app
    /// ferroflow has).
    #[arg(long, env = "FERROFLOW_APP_NAME", value_parser = ["basic-auth"])]
    pub app_name: Option<String>,
    /// The same as `--app-name basic-auth`.
    #[arg(long, env = "FERROFLOW_AUTH")]
    pub auth: bool,
    /// With auth on: the level users have where nobody granted them one (MLflow's
    /// `default_permission`): READ, USE, EDIT, MANAGE or NO_PERMISSIONS.
    #[arg(long, env = "FERROFLOW_AUTH_DEFAULT_PERMISSION", default_value = "READ")]
    pub auth_default_permission: String,
    /// With auth on: hours a web UI login lasts.
    #[arg(long, env = "FERROFLOW_SESSION_HOURS", default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=8760))]
    pub session_hours: u64,
}

#[derive(Debug, Clone)]
pub enum BackendStore {
    Sqlite(PathBuf),
    /// Shown and logged with its password redacted.
    Postgres(Box<ferroflow_postgres::PgUri>),
}

impl fmt::Display for BackendStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendStore::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            BackendStore::Postgres(uri) => write!(f, "{uri}"),
        }
    }
}

#[derive(Debug)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub store: StoreArgs,
    pub backend: BackendStore,
    pub artifacts_destination: String,
    pub default_artifact_root: String,
    pub serve_artifacts: bool,
    pub max_artifact_bytes: u64,
    pub multipart_uploads: bool,
    pub connections: ferroflow_server::ConnectionLimits,
    pub query_timeout: Duration,
    pub graphql: ferroflow_server::GraphqlLimits,
    /// `Some` with `--app-name basic-auth` (or `--auth`).
    pub auth: Option<ferroflow_server::auth::AuthSettings>,
}

/// Parses `sqlite:///relative.db` (relative) and `sqlite:////abs.db` (absolute).
pub fn parse_backend_store_uri(uri: &str) -> Result<BackendStore, String> {
    if let Some(rest) = uri.strip_prefix("sqlite:///") {
        if rest.is_empty() {
            return Err(format!("the store URI '{uri}' names no database file"));
        }
        return Ok(BackendStore::Sqlite(PathBuf::from(rest)));
    }
    if ferroflow_postgres::PgUri::is_postgres(uri) {
        // The parse error never echoes the URI: it may hold a password.
        return ferroflow_postgres::PgUri::parse(uri)
            .map(|uri| BackendStore::Postgres(Box::new(uri)))
            .map_err(|e| e.message);
    }
    if let Some((scheme, _)) = uri.split_once("://") {
        // Only the scheme is named: the rest may hold a password (mysql://user:pass@…).
        return Err(format!(
            "unsupported backend store URI scheme '{scheme}'; use sqlite:///relative.db, sqlite:////abs/path.db \
             or postgresql://user:password@host:port/database"
        ));
    }
    // A bare path, as `mlflow server` also accepts for its file store.
    Ok(BackendStore::Sqlite(PathBuf::from(uri)))
}

fn seconds(value: u64, flag: &str) -> Result<std::time::Duration, String> {
    if value == 0 {
        return Err(format!("{flag} must be at least 1 second"));
    }
    Ok(std::time::Duration::from_secs(value))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

impl ServerArgs {
    pub fn resolve(self) -> Result<ServerSettings, String> {
        let backend = self.store.backend()?;
        let artifacts_destination = self.store.artifacts_destination();
        let serve_artifacts = !self.no_serve_artifacts;
        let default_artifact_root = match self.default_artifact_root {
            Some(root) => root,
            None if serve_artifacts => "mlflow-artifacts:/".to_string(),
            None => artifacts_destination.clone(),
        };
        Ok(ServerSettings {
            host: self.host,
            port: self.port,
            backend,
            artifacts_destination,
            default_artifact_root,
            serve_artifacts,
            max_artifact_bytes: self.max_artifact_bytes,
            multipart_uploads: !self.no_multipart_uploads,
            store: self.store,
            connections: ferroflow_server::ConnectionLimits {
                max_connections: self.max_connections.max(1),
                header_read_timeout: seconds(self.header_read_timeout, "--header-read-timeout")?,
                body_read_timeout: seconds(self.body_read_timeout, "--body-read-timeout")?,
                keep_alive_timeout: seconds(self.keep_alive_timeout, "--keep-alive-timeout")?,
            },
            query_timeout: Duration::from_secs(self.query_timeout),
            graphql: ferroflow_server::GraphqlLimits {
                max_root_fields: self.graphql_max_root_fields,
                max_aliases: self.graphql_max_aliases,
            },
            auth: match self.auth || self.app_name.is_some() {
                false => None,
                true => Some(ferroflow_server::auth::AuthSettings {
                    default_permission: ferroflow_core::auth::Permission::parse(&self.auth_default_permission)
                        .map_err(|e| format!("--auth-default-permission: {}", e.message))?,
                    session_ttl: Duration::from_secs(self.session_hours * 3600),
                    ..Default::default()
                }),
            },
        })
    }
}

/// Where the key that encrypts webhook secrets at rest comes from.
pub const WEBHOOK_KEY_ENV: &str = "FERROFLOW_WEBHOOK_SECRET_KEY";

/// The webhook secret key from `FERROFLOW_WEBHOOK_SECRET_KEY` (32 bytes, base64; every
/// replica of a deployment needs the same one), if it is set. Never a command-line flag,
/// which `ps` would show.
pub fn webhook_key_from_env() -> Result<Option<WebhookSecrets>, String> {
    match std::env::var(WEBHOOK_KEY_ENV) {
        Ok(text) => {
            let key = WebhookSecrets::parse_key(&text).map_err(|e| format!("{WEBHOOK_KEY_ENV}: {e}"))?;
            Ok(Some(WebhookSecrets::new(&key)))
        }
        Err(_) => Ok(None),
    }
}

/// The webhook secret key of a SQLite deployment: `FERROFLOW_WEBHOOK_SECRET_KEY`, or else a
/// key file beside the database, created readable by its owner only when the first secret
/// is stored (so a start costs no fsync). Returns the secrets and where their key comes
/// from. (A PostgreSQL deployment's replicas share theirs through the database: see
/// `main::webhook_secrets_on_postgres`.)
pub fn webhook_secrets(database: &Path) -> Result<(WebhookSecrets, String), String> {
    if let Some(secrets) = webhook_key_from_env()? {
        return Ok((secrets, WEBHOOK_KEY_ENV.into()));
    }
    let mut name = database.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "ferroflow.db".into());
    name.push(".webhook-key");
    let path = database.with_file_name(name);
    let source = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = WebhookSecrets::parse_key(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((WebhookSecrets::new(&key), source))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let secrets = WebhookSecrets::made_on_first_use(move || {
                let key = WebhookSecrets::generate_key();
                write_private(&path, &WebhookSecrets::encode_key(&key)).map_err(|e| {
                    // The error reaches a client, so the path goes to the log only.
                    tracing::error!(path = %path.display(), error = %e, "cannot create the webhook key file");
                    ferroflow_core::Error::internal(format!("cannot create the webhook key file: {e}"))
                })?;
                Ok(key)
            });
            Ok((secrets, format!("{source} (created when the first secret is stored)")))
        }
        Err(error) => Err(format!("cannot read the webhook key file {}: {error}", path.display())),
    }
}

/// Creates `path` (which must not exist) readable and writable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlalchemy_style_uris() {
        let relative = parse_backend_store_uri("sqlite:///relative.db").unwrap();
        assert!(matches!(relative, BackendStore::Sqlite(p) if p == Path::new("relative.db")));
        let absolute = parse_backend_store_uri("sqlite:////data/ff/db.sqlite").unwrap();
        assert!(matches!(absolute, BackendStore::Sqlite(p) if p == Path::new("/data/ff/db.sqlite")));
        assert!(parse_backend_store_uri("sqlite:///").is_err());
        assert!(parse_backend_store_uri("mysql://x").is_err());
        let refused = parse_backend_store_uri("mysql://ff:hunter2secret@db/ferroflow").unwrap_err();
        assert!(refused.contains("'mysql'") && !refused.contains("hunter2secret"), "{refused}");
    }
}
