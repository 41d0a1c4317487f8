//! Artifact storage for ferroflow, through the `object_store` crate: a local folder (the
//! default), any S3-compatible store, Google Cloud Storage and Azure Blob Storage.
//!
//! Bodies stream in both directions, so a multi-gigabyte upload or download keeps the
//! server's memory flat.

pub mod multipart;
mod path;
pub mod roots;
pub mod staging;

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

pub use path::ArtifactPath;
pub use roots::{OpenedRoot, RootRepositories};
pub use staging::StagingSweep;

/// What a client hears when the artifact store's disk is full (HTTP 507).
pub const STORAGE_FULL_MESSAGE: &str =
    "The server's artifact storage is full: the artifact was not stored. Retry once space has been freed.";

/// Errors of the artifact store. Their `Display` is for the server log: it may name local
/// files. What clients hear is decided once, in the conversion to [`ferroflow_core::Error`].
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("Invalid path: '{0}'")]
    InvalidPath(String),
    #[error("Artifact '{0}' does not exist")]
    NotFound(String),
    #[error("Artifact is larger than the limit of {0} bytes")]
    TooLarge(u64),
    /// The path is taken by something of the other kind: a folder where a file should go,
    /// or a file where a folder should be.
    #[error("Invalid path: '{0}' {1}")]
    Conflict(String, &'static str),
    #[error("unsupported artifact destination '{0}'")]
    UnsupportedDestination(String),
    #[error("artifact storage error: {0}")]
    Store(#[from] object_store::Error),
    /// A file-system call on a local root failed; `path` is a server-side path.
    #[error("cannot {action} {}: {source}", path.display())]
    Local { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("artifact upload failed: {0}")]
    Upload(String),
}

impl ArtifactError {
    /// Whether the artifact asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ArtifactError::NotFound(_) | ArtifactError::Store(object_store::Error::NotFound { .. }))
    }

    /// Whether a file was asked for where a folder is.
    pub fn is_directory(&self) -> bool {
        matches!(self, ArtifactError::Conflict(_, IS_A_DIRECTORY))
    }

    /// Whether the store ran out of space (`ENOSPC`) or quota (`EDQUOT`).
    pub fn is_storage_full(&self) -> bool {
        self.io_cause_is(|kind| matches!(kind, std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded))
    }

    /// Whether a local file system refused a name (`ENAMETOOLONG`): the client's path.
    fn is_name_refused(&self) -> bool {
        self.io_cause_is(|kind| kind == std::io::ErrorKind::InvalidFilename)
    }

    fn io_cause_is(&self, wanted: impl Fn(std::io::ErrorKind) -> bool) -> bool {
        self.io_cause().is_some_and(|io| wanted(io.kind()))
    }

    /// The `io::Error` among the causes, at any depth: the local store wraps the ones it
    /// meets in its own errors.
    fn io_cause(&self) -> Option<&std::io::Error> {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(error) = cause {
            if let Some(io) = error.downcast_ref::<std::io::Error>() {
                return Some(io);
            }
            cause = error.source();
        }
        None
    }

    /// A short, path-free description of a server fault, for the client's message: the
    /// kind of the underlying `io::Error` when there is one (e.g. "read-only filesystem
    /// or storage medium"), else what failed.
    fn kind(&self) -> String {
        if let Some(io) = self.io_cause() {
            return io.kind().to_string();
        }
        match self {
            ArtifactError::Store(object_store::Error::Generic { store, .. }) => format!("{store} failed"),
            ArtifactError::Store(object_store::Error::PermissionDenied { .. }) => "permission denied".into(),
            ArtifactError::Store(object_store::Error::Unauthenticated { .. }) => "unauthenticated".into(),
            ArtifactError::UnsupportedDestination(_) => "unsupported destination".into(),
            _ => "the store failed".into(),
        }
    }
}

/// The one place artifact errors become MLflow errors. A full disk is a 507, which clients
/// do not retry; other server faults are 500s whose message names no server-side path
/// (local store errors name the files they failed on): the detail goes to the log, once.
impl From<ArtifactError> for ferroflow_core::Error {
    fn from(error: ArtifactError) -> Self {
        use ferroflow_core::Error;
        match &error {
            // MLflow's fixed text (`validate_path_is_safe`), without the path.
            ArtifactError::InvalidPath(_) => Error::invalid_parameter("Invalid path"),
            ArtifactError::Conflict(..) | ArtifactError::Upload(_) => Error::invalid_parameter(error.to_string()),
            ArtifactError::TooLarge(_) => Error::too_large(error.to_string()),
            ArtifactError::NotFound(_) => Error::not_found(error.to_string()),
            ArtifactError::Store(object_store::Error::NotFound { .. }) => Error::not_found("Artifact does not exist"),
            _ if error.is_storage_full() => {
                tracing::error!(%error, "artifact storage is full");
                Error::storage_full(STORAGE_FULL_MESSAGE)
            }
            _ if error.is_name_refused() => {
                Error::invalid_parameter("Invalid path: a file or folder name is too long for the artifact store")
            }
            ArtifactError::UnsupportedDestination(_) | ArtifactError::Store(_) | ArtifactError::Local { .. } => {
                tracing::error!(%error, "artifact storage error");
                Error::internal(format!("Artifact storage error: {}; the server log has the details", error.kind()))
            }
        }
    }
}

/// What [`ArtifactError::Conflict`] says of a file asked for where a folder is.
const IS_A_DIRECTORY: &str = "is a directory";

pub type Result<T, E = ArtifactError> = std::result::Result<T, E>;

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The entry's name within the listed directory.
    pub name: String,
    pub is_dir: bool,
    pub file_size: Option<u64>,
}

/// A downloadable artifact: its size and a stream of its bytes.
pub struct Download {
    pub size: u64,
    pub body: BoxStream<'static, Result<Bytes, ArtifactError>>,
}

/// The artifact root this server proxies, and the store behind it.
#[derive(Clone)]
pub struct ArtifactRepository {
    store: Arc<dyn ObjectStore>,
    root_uri: String,
    /// The canonical local root, when the store is a local folder: symlinks are checked
    /// against it so that a link planted inside the root cannot lead outside it.
    local_root: Option<PathBuf>,
    /// Local uploads in progress, shared by every clone, so that a sweep of staging
    /// leftovers never removes the staging file of one of them.
    in_flight: Arc<staging::InFlight>,
}

impl std::fmt::Debug for ArtifactRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactRepository").field("root_uri", &self.root_uri).finish()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Where a destination URI points: a bucket (or container) of an object store and the
/// prefix inside it, or a local folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// `bucket` names the store without a prefix (`s3://b`, `gs://b`,
    /// `wasbs://container@account.blob.core.windows.net`, `az://container`): what an
    /// opened store is cached by.
    Bucket {
        bucket: String,
        prefix: String,
    },
    Local(PathBuf),
}

/// The schemes of the object stores ferroflow opens.
const BUCKET_SCHEMES: &[&str] = &["s3", "gs", "wasbs", "wasb", "az", "abfss", "azure"];

impl Location {
    /// A destination as the operator configures it: an object-store URI, or a local path
    /// (`file://` prefixed or not). `None` for any other scheme.
    fn of_destination(destination: &str) -> Option<Location> {
        if let Some(bucket) = Location::of_bucket(destination) {
            return Some(bucket);
        }
        let local = destination.strip_prefix("file://").unwrap_or(destination);
        (!local.contains("://")).then(|| Location::Local(PathBuf::from(local)))
    }

    /// `scheme://bucket/prefix` of one of [`BUCKET_SCHEMES`], with a bucket.
    pub(crate) fn of_bucket(uri: &str) -> Option<Location> {
        let (scheme, rest) = uri.split_once("://")?;
        if !BUCKET_SCHEMES.contains(&scheme) {
            return None;
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        Some(Location::Bucket { bucket: format!("{scheme}://{bucket}"), prefix: prefix.trim_matches('/').to_string() })
    }
}

fn with_prefix(store: Arc<dyn ObjectStore>, prefix: &str) -> Arc<dyn ObjectStore> {
    if prefix.is_empty() {
        store
    } else {
        Arc::new(PrefixStore::new(store, prefix))
    }
}

/// Builds the client of one bucket or container (see [`Location::Bucket`]), credentials
/// from each cloud's usual environment variables. Does no I/O.
pub(crate) fn open_bucket(bucket: &str) -> Result<Arc<dyn ObjectStore>> {
    let unsupported = || ArtifactError::UnsupportedDestination(bucket.into());
    let (scheme, authority) = bucket.split_once("://").ok_or_else(unsupported)?;
    let store: Arc<dyn ObjectStore> = match scheme {
        "s3" => {
            let mut builder = AmazonS3Builder::from_env().with_url(bucket);
            if let Some(endpoint) = env("MLFLOW_S3_ENDPOINT_URL").or_else(|| env("AWS_ENDPOINT_URL")) {
                builder = builder.with_allow_http(endpoint.starts_with("http://")).with_endpoint(endpoint);
            }
            if env("AWS_REGION").is_none() && env("AWS_DEFAULT_REGION").is_none() {
                builder = builder.with_region("us-east-1");
            }
            Arc::new(builder.build()?)
        }
        "gs" => Arc::new(GoogleCloudStorageBuilder::from_env().with_url(bucket).build()?),
        "wasbs" | "wasb" => {
            // MLflow's form: wasbs://<container>@<account>.blob.core.windows.net/<prefix>
            let (container, host) = authority.split_once('@').ok_or_else(unsupported)?;
            let account = host.split('.').next().unwrap_or(host);
            let mut builder = MicrosoftAzureBuilder::from_env().with_account(account).with_container_name(container);
            if let Some(key) = env("AZURE_STORAGE_ACCESS_KEY") {
                builder = builder.with_access_key(key);
            }
            if let Some(connection) = env("AZURE_STORAGE_CONNECTION_STRING") {
                for part in connection.split(';') {
                    if let Some(key) = part.strip_prefix("AccountKey=") {
                        builder = builder.with_access_key(key);
                    }
                }
            }
            Arc::new(builder.build()?)
        }
        "az" | "abfss" | "azure" => Arc::new(MicrosoftAzureBuilder::from_env().with_url(bucket).build()?),
        _ => return Err(unsupported()),
    };
    Ok(store)
}

impl ArtifactRepository {
    /// Opens the destination the way MLflow users configure it: a local path or
    /// `file://` URI, `s3://bucket/prefix` (with `MLFLOW_S3_ENDPOINT_URL` or
    /// `AWS_ENDPOINT_URL` for S3-compatible stores), `gs://bucket/prefix`, or
    /// `wasbs://container@account.blob.core.windows.net/prefix` / `az://container/prefix`.
    /// Credentials come from the usual environment variables of each cloud.
    pub fn open(destination: &str) -> Result<Self> {
        match Location::of_destination(destination) {
            Some(Location::Bucket { bucket, prefix }) => {
                Ok(Self::in_bucket(open_bucket(&bucket)?, &prefix, destination))
            }
            Some(Location::Local(path)) => Self::open_local(&path),
            None => Err(ArtifactError::UnsupportedDestination(destination.into())),
        }
    }

    /// The repository under `prefix` of an opened bucket; `uri` is what it is known as.
    pub(crate) fn in_bucket(store: Arc<dyn ObjectStore>, prefix: &str, uri: &str) -> Self {
        Self {
            store: with_prefix(store, prefix),
            root_uri: uri.trim_end_matches('/').into(),
            local_root: None,
            in_flight: Arc::default(),
        }
    }

    /// A local folder, created if missing.
    pub fn open_local(root: &FsPath) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| local_error("create", root, e))?;
        let canonical = std::fs::canonicalize(root).map_err(|e| local_error("resolve", root, e))?;
        Self::local_at(canonical)
    }

    /// A local folder if it exists (`None` if not), for reading: nothing is created.
    pub fn open_existing_local(root: &FsPath) -> Result<Option<Self>> {
        match std::fs::canonicalize(root) {
            Ok(canonical) => Self::local_at(canonical).map(Some),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => Ok(None),
            Err(e) => Err(local_error("resolve", root, e)),
        }
    }

    fn local_at(canonical: PathBuf) -> Result<Self> {
        let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&canonical)?);
        Ok(Self {
            store,
            root_uri: canonical.display().to_string(),
            local_root: Some(canonical),
            in_flight: Arc::default(),
        })
    }

    /// Registers a write to `location` of a local root for as long as the guard lives; see
    /// [`staging`].
    pub(crate) fn writing(&self, location: &StorePath) -> Option<staging::Writing> {
        let root = self.local_root.as_ref()?;
        Some(self.in_flight.begin(root.join(location.as_ref())))
    }

    /// Removes the staging files interrupted uploads left in a local root (see
    /// [`staging`]): those not written for at least `untouched_for`, never one of an
    /// upload this process is writing, and the folders left empty by their removal.
    /// Other stores have none. Walks the whole root once, on a blocking thread.
    pub async fn remove_staging_leftovers(&self, untouched_for: Duration) -> Result<StagingSweep> {
        let Some(root) = self.local_root.clone() else { return Ok(StagingSweep::default()) };
        let in_flight = Arc::clone(&self.in_flight);
        let cutoff = SystemTime::now().checked_sub(untouched_for).unwrap_or(SystemTime::UNIX_EPOCH);
        // Dropping this future (a server shutting down) stops the walk: the runtime would
        // otherwise wait for it to finish.
        let stop = StopOnDrop(Arc::default());
        let stopped = Arc::clone(&stop.0);
        let walk = tokio::task::spawn_blocking(move || {
            let sweep = staging::Sweep { cutoff, in_flight: &in_flight, stop: &stopped };
            sweep.run(&root).map_err(|e| local_error("sweep", &root, e))
        });
        let removed = walk.await.map_err(|e| unfinished("sweep", e))?;
        drop(stop);
        removed
    }

    /// The root as a URI clients can use directly (no-proxy mode hands this out).
    pub fn root_uri(&self) -> &str {
        &self.root_uri
    }

    fn store_path(&self, path: &ArtifactPath) -> Result<StorePath> {
        self.refuse_symlinks(path)?;
        StorePath::parse(path.as_str()).map_err(|_| ArtifactError::InvalidPath(path.as_str().into()))
    }

    /// Refuses a path that passes through a symlink inside a local root.
    fn refuse_symlinks(&self, path: &ArtifactPath) -> Result<()> {
        let Some(root) = &self.local_root else { return Ok(()) };
        let mut current = root.clone();
        for segment in path.as_str().split('/') {
            current.push(segment);
            match std::fs::symlink_metadata(&current) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(ArtifactError::InvalidPath(path.as_str().into()));
                }
                Ok(_) => {}
                // Nothing exists from here on, so nothing below can be a link.
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// Streams `body` into `path`, refusing more than `max_bytes`. Returns the size written.
    pub async fn put_stream<S, E>(&self, path: &ArtifactPath, body: S, max_bytes: u64) -> Result<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let location = self.store_path(path)?;
        self.refuse_kind_conflicts(path)?;
        let new_folders = self.missing_local_folders(path);
        let written = self.put_stream_at(&location, body, max_bytes).await;
        if written.is_err() {
            // A refused or broken upload leaves no empty folder behind to be listed.
            for folder in new_folders.iter().rev() {
                if std::fs::remove_dir(folder).is_err() {
                    break;
                }
            }
        }
        written
    }

    /// On a local root, the folders above `path` that do not exist yet, outermost first.
    fn missing_local_folders(&self, path: &ArtifactPath) -> Vec<PathBuf> {
        let Some(root) = &self.local_root else { return Vec::new() };
        let mut missing = Vec::new();
        let mut current = root.clone();
        let segments: Vec<&str> = path.as_str().split('/').collect();
        for segment in &segments[..segments.len() - 1] {
            current.push(segment);
            if !missing.is_empty() || std::fs::symlink_metadata(&current).is_err() {
                missing.push(current.clone());
            }
        }
        missing
    }

    /// On a local root, a file cannot be written where a folder is, nor below a file: the
    /// store would fail half-way through the upload (a 500); this is the client's mistake.
    fn refuse_kind_conflicts(&self, path: &ArtifactPath) -> Result<()> {
        let Some(root) = &self.local_root else { return Ok(()) };
        let segments: Vec<&str> = path.as_str().split('/').collect();
        let mut current = root.clone();
        for (i, segment) in segments.iter().enumerate() {
            current.push(segment);
            let Ok(meta) = std::fs::symlink_metadata(&current) else { break };
            let last = i + 1 == segments.len();
            if last && meta.is_dir() {
                return Err(ArtifactError::Conflict(path.as_str().into(), IS_A_DIRECTORY));
            }
            if !last && !meta.is_dir() {
                return Err(ArtifactError::Conflict(path.as_str().into(), "is below a file"));
            }
        }
        Ok(())
    }

    /// [`put_stream`](Self::put_stream) to a location already checked.
    async fn put_stream_at<S, E>(&self, location: &StorePath, body: S, max_bytes: u64) -> Result<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let _writing = self.writing(location);
        let upload = self.store.put_multipart(location).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut written: u64 = 0;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(ArtifactError::Upload(format!("the upload was interrupted: {e}")));
                }
            };
            written += chunk.len() as u64;
            if written > max_bytes {
                let _ = writer.abort().await;
                return Err(ArtifactError::TooLarge(max_bytes));
            }
            // Bounds buffered parts so memory stays flat on slow stores.
            if let Err(e) = writer.wait_for_capacity(4).await {
                // A part failed (a full disk, say): the staging file goes now, not later.
                let _ = writer.abort().await;
                return Err(e.into());
            }
            writer.write(&chunk);
        }
        writer.finish().await?;
        Ok(written)
    }

    pub async fn get(&self, path: &ArtifactPath) -> Result<Download> {
        let location = self.store_path(path)?;
        if let Some(root) = &self.local_root {
            // Links are refused above, so this looks at the very file the store would open.
            match std::fs::metadata(root.join(path.as_str())) {
                Ok(meta) if meta.is_dir() => return Err(ArtifactError::Conflict(path.as_str().into(), IS_A_DIRECTORY)),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
                    return Err(ArtifactError::NotFound(path.as_str().into()))
                }
                _ => {}
            }
        }
        let result = self.store.get(&location).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => ArtifactError::NotFound(path.as_str().into()),
            other => ArtifactError::Store(other),
        })?;
        let size = result.meta.size;
        let body = result.into_stream().map_err(ArtifactError::Store).boxed();
        Ok(Download { size, body })
    }

    /// The immediate children of `dir` (the root when `None`), sorted by name.
    /// A missing directory lists as empty.
    pub async fn list(&self, dir: Option<&ArtifactPath>) -> Result<Vec<FileInfo>> {
        let prefix = match dir {
            Some(dir) => Some(self.store_path(dir)?),
            None => None,
        };
        let mut entries = if let Some(root) = &self.local_root {
            // Read locally rather than through the store, which follows links (and fails on
            // a link loop): a link planted in the root is unreachable through this server,
            // so it is not listed, nor is its target's size.
            let folder = match dir {
                Some(dir) => root.join(dir.as_str()),
                None => root.clone(),
            };
            tokio::task::spawn_blocking(move || list_local(&folder)).await.map_err(|e| unfinished("list", e))??
        } else {
            let listing = match self.store.list_with_delimiter(prefix.as_ref()).await {
                Ok(listing) => listing,
                Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            listing
                .common_prefixes
                .iter()
                .filter_map(|p| {
                    p.filename().map(|name| FileInfo { name: name.to_string(), is_dir: true, file_size: None })
                })
                .chain(listing.objects.iter().filter_map(|o| {
                    o.location.filename().map(|name| FileInfo {
                        name: name.to_string(),
                        is_dir: false,
                        file_size: Some(o.size),
                    })
                }))
                .collect()
        };
        if dir.is_none() {
            // Multipart uploads in progress are nobody's artifacts.
            entries.retain(|entry| entry.name != multipart::STAGING_DIR);
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Deletes a file, or everything under a directory. Returns the number of files removed.
    pub async fn delete(&self, path: &ArtifactPath) -> Result<u64> {
        let location = self.store_path(path)?;
        if let Some(root) = self.local_root.clone() {
            let target = root.join(path.as_str());
            let removed = tokio::task::spawn_blocking(move || {
                let removed = delete_local(&target)?;
                // Local folders emptied by a delete are removed too, up to the root, so
                // listings stay truthful and deleted runs leave no trace.
                let mut parent = target;
                while parent.pop() && parent.starts_with(&root) && parent != root {
                    if std::fs::remove_dir(&parent).is_err() {
                        break;
                    }
                }
                Ok::<_, ArtifactError>(removed)
            })
            .await
            .map_err(|e| unfinished("delete", e))??;
            return Ok(removed);
        }
        let removed = self.delete_under(Some(&location)).await?;
        if removed == 0 {
            match self.store.delete(&location).await {
                Ok(()) => return Ok(1),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(removed)
    }

    /// Deletes everything under this repository's root. Returns the number of files removed.
    pub async fn delete_all(&self) -> Result<u64> {
        if let Some(root) = self.local_root.clone() {
            return tokio::task::spawn_blocking(move || {
                let mut removed = 0;
                let entries = match std::fs::read_dir(&root) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                    Err(e) => return Err(local_error("delete", &root, e)),
                };
                for entry in entries {
                    let entry = entry.map_err(|e| local_error("delete", &root, e))?;
                    removed += delete_local(&entry.path())?;
                }
                Ok(removed)
            })
            .await
            .map_err(|e| unfinished("delete", e))?;
        }
        self.delete_under(None).await
    }

    async fn delete_under(&self, prefix: Option<&StorePath>) -> Result<u64> {
        Ok(delete_objects_under(self.store.as_ref(), prefix).await?)
    }

    /// Maps an artifact URI that lives in this repository to its path inside the
    /// repository: `mlflow-artifacts:/…`, a proxy URL `http(s)://host/…/api/2.0/mlflow-artifacts/artifacts/…`
    /// (any host, as MLflow's server takes any: the URL names the proxy's route, and the
    /// path after the route is the path in the destination), or a URI under
    /// [`root_uri`](Self::root_uri).
    pub fn path_of_uri(&self, uri: &str) -> Option<ArtifactPath> {
        let relative = if let Some(rest) = uri.strip_prefix("mlflow-artifacts:") {
            // `mlflow-artifacts:/p`, or `mlflow-artifacts://host/p` naming a server.
            match rest.strip_prefix("//") {
                Some(with_host) => with_host.split_once('/').map(|(_, p)| p).unwrap_or(""),
                None => rest,
            }
        } else if let Some(path) = proxy_url_path(uri) {
            path
        } else {
            let local = uri.strip_prefix("file://").unwrap_or(uri);
            let rest = local.strip_prefix(self.root_uri.as_str())?;
            // `<root>X/…` only shares a prefix with the root: it is not inside it.
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            rest
        };
        ArtifactPath::parse(relative.trim_start_matches('/')).ok()
    }
}

/// The route every proxy URL is anchored at (MLflow's `_get_proxied_run_artifact_destination_path`).
const PROXY_ROUTE: &str = "/api/2.0/mlflow-artifacts/artifacts/";

/// Whether `uri` is a proxy URL, `http(s)://host[:port][/prefix]/api/2.0/mlflow-artifacts/artifacts/…`.
pub fn is_proxy_url(uri: &str) -> bool {
    proxy_url_path(uri).is_some()
}

/// The path after the proxy route in an `http(s)` URL (its query and fragment dropped).
fn proxy_url_path(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("http://").or_else(|| uri.strip_prefix("https://"))?;
    // The authority ends at the first `/`, `?` or `#`; the path at the first `?` or `#`.
    let path = &rest[rest.find(['/', '?', '#'])?..];
    let path = path.split(['?', '#']).next().unwrap_or(path);
    path.split_once(PROXY_ROUTE).map(|(_, after)| after)
}

/// Sets its flag when dropped.
struct StopOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A blocking file-system task that panicked or was cancelled: a server fault.
fn unfinished(action: &str, error: tokio::task::JoinError) -> ArtifactError {
    ArtifactError::Store(object_store::Error::Generic {
        store: "LocalFileSystem",
        source: format!("the {action} did not finish: {error}").into(),
    })
}

fn local_error(action: &'static str, path: &FsPath, source: std::io::Error) -> ArtifactError {
    ArtifactError::Local { action, path: path.to_path_buf(), source }
}

/// The entries of a local folder, links not followed and not listed. A missing folder, or
/// a file, lists as empty. Names a request could not address (staging files of uploads are
/// `name#n`, see [`staging`]) are left out, and so are folders holding nothing else: an
/// upload in progress, or one killed, must not show as a folder. Empty folders are listed.
fn list_local(folder: &FsPath) -> Result<Vec<FileInfo>> {
    match std::fs::symlink_metadata(folder) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Ok(Vec::new()),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
            return Ok(Vec::new())
        }
        Err(e) => return Err(local_error("list", folder, e)),
    }
    let entries = std::fs::read_dir(folder).map_err(|e| local_error("list", folder, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| local_error("list", folder, e))?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        if name.contains('#') {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            if folder_content(&entry.path()) != FolderContent::OnlyHidden {
                out.push(FileInfo { name, is_dir: true, file_size: None });
            }
        } else if meta.is_file() {
            out.push(FileInfo { name, is_dir: false, file_size: Some(meta.len()) });
        }
    }
    Ok(out)
}

/// What a local folder holds, as far as listings go.
#[derive(PartialEq)]
enum FolderContent {
    /// Something a listing shows: a file, or a folder that is itself empty.
    Listed,
    /// Nothing but what listings hide (staging files of uploads, other `#` names), at any
    /// depth: the trace of an upload in progress or killed, not a folder of artifacts.
    OnlyHidden,
    /// Nothing at all (links aside): an empty folder, listed as such.
    Nothing,
}

/// Classifies a local folder, links not followed. Looks at a folder's own entries before
/// descending, so a folder of artifacts answers at once.
fn folder_content(folder: &FsPath) -> FolderContent {
    let Ok(entries) = std::fs::read_dir(folder) else { return FolderContent::Nothing };
    let mut hidden = false;
    let mut subfolders = Vec::new();
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else { continue };
        let addressable = entry.file_name().to_str().is_some_and(|name| !name.contains('#'));
        if !addressable {
            hidden = true;
        } else if kind.is_file() {
            return FolderContent::Listed;
        } else if kind.is_dir() {
            subfolders.push(entry.path());
        }
    }
    for subfolder in subfolders {
        match folder_content(&subfolder) {
            // An empty subfolder is listed, so its parent must be too.
            FolderContent::Listed | FolderContent::Nothing => return FolderContent::Listed,
            FolderContent::OnlyHidden => hidden = true,
        }
    }
    if hidden {
        FolderContent::OnlyHidden
    } else {
        FolderContent::Nothing
    }
}

/// Removes a local file, link or folder without ever following a link: a link planted in
/// the root is removed itself, never what it points at. Returns the number of regular
/// files removed.
fn delete_local(target: &FsPath) -> Result<u64> {
    let meta = match std::fs::symlink_metadata(target) {
        Ok(meta) => meta,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => return Ok(0),
        Err(e) => return Err(local_error("delete", target, e)),
    };
    if !meta.is_dir() {
        std::fs::remove_file(target).map_err(|e| local_error("delete", target, e))?;
        return Ok(u64::from(meta.is_file()));
    }
    let files = count_files(target);
    // `remove_dir_all` does not follow links (and is safe against swapping one in).
    std::fs::remove_dir_all(target).map_err(|e| local_error("delete", target, e))?;
    Ok(files)
}

/// Regular files below `dir`, links not followed.
fn count_files(dir: &FsPath) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => count_files(&entry.path()),
            Ok(kind) if kind.is_file() => 1,
            _ => 0,
        })
        .sum()
}

/// Deletes every object under `prefix` (the whole store for `None`); returns how many went.
/// Objects (or the prefix) already gone count as deleted by someone else, not as errors.
pub(crate) async fn delete_objects_under(
    store: &dyn ObjectStore,
    prefix: Option<&StorePath>,
) -> object_store::Result<u64> {
    let objects: Vec<_> = match store.list(prefix).try_collect().await {
        Ok(objects) => objects,
        Err(object_store::Error::NotFound { .. }) => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for object in objects {
        match store.delete(&object.location).await {
            Ok(()) => removed += 1,
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    async fn read_all(download: Download) -> Vec<u8> {
        let chunks: Vec<Bytes> = download.body.try_collect().await.unwrap();
        chunks.concat()
    }

    #[tokio::test]
    async fn local_round_trip_list_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ArtifactRepository::open(dir.path().to_str().unwrap()).unwrap();
        let path = ArtifactPath::parse("1/run/artifacts/dir/a.txt").unwrap();
        let chunks = stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from("hel")), Ok(Bytes::from("lo"))]);
        assert_eq!(repo.put_stream(&path, chunks, 1024).await.unwrap(), 5);
        assert_eq!(read_all(repo.get(&path).await.unwrap()).await, b"hello");

        let listing = repo.list(Some(&ArtifactPath::parse("1/run/artifacts").unwrap())).await.unwrap();
        assert_eq!(listing, vec![FileInfo { name: "dir".into(), is_dir: true, file_size: None }]);
        let missing = repo.list(Some(&ArtifactPath::parse("nope").unwrap())).await.unwrap();
        assert!(missing.is_empty());

        assert_eq!(repo.delete(&ArtifactPath::parse("1/run").unwrap()).await.unwrap(), 1);
        assert!(matches!(repo.get(&path).await, Err(ArtifactError::NotFound(_))));
    }

    #[tokio::test]
    async fn size_limit_is_enforced_and_nothing_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ArtifactRepository::open_local(dir.path()).unwrap();
        let path = ArtifactPath::parse("big.bin").unwrap();
        let chunks =
            stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 600])), Ok(Bytes::from(vec![0u8; 600]))]);
        assert!(matches!(repo.put_stream(&path, chunks, 1000).await, Err(ArtifactError::TooLarge(1000))));
        assert!(repo.get(&path).await.is_err());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symlinks_out_of_the_root_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s3cr3t").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        let repo = ArtifactRepository::open_local(dir.path()).unwrap();
        let path = ArtifactPath::parse("escape/secret").unwrap();
        assert!(matches!(repo.get(&path).await, Err(ArtifactError::InvalidPath(_))));
        let listing = repo.list(Some(&ArtifactPath::parse("escape").unwrap())).await;
        assert!(matches!(listing, Err(ArtifactError::InvalidPath(_))));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn deletes_remove_links_never_their_targets() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s3cr3t").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let repo = ArtifactRepository::open_local(dir.path()).unwrap();
        let file = ArtifactPath::parse("run/artifacts/a.txt").unwrap();
        repo.put_stream(&file, stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from("a"))]), 10).await.unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("run/artifacts/escape")).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("run/loop")).unwrap();
        // The listing neither follows nor shows the links.
        let listing = repo.list(Some(&ArtifactPath::parse("run/artifacts").unwrap())).await.unwrap();
        assert_eq!(listing, vec![FileInfo { name: "a.txt".into(), is_dir: false, file_size: Some(1) }]);
        assert_eq!(repo.delete(&ArtifactPath::parse("run").unwrap()).await.unwrap(), 1);
        assert!(!dir.path().join("run").exists());
        assert_eq!(std::fs::read_to_string(outside.path().join("secret")).unwrap(), "s3cr3t");

        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        repo.delete_all().await.unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert_eq!(std::fs::read_to_string(outside.path().join("secret")).unwrap(), "s3cr3t");
    }

    #[tokio::test]
    async fn files_and_folders_do_not_stand_in_for_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ArtifactRepository::open_local(dir.path()).unwrap();
        let body = || stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from("x"))]);
        repo.put_stream(&ArtifactPath::parse("d/f").unwrap(), body(), 10).await.unwrap();
        let on_folder = repo.put_stream(&ArtifactPath::parse("d").unwrap(), body(), 10).await;
        assert!(matches!(on_folder, Err(ArtifactError::Conflict(..))));
        let below_file = repo.put_stream(&ArtifactPath::parse("d/f/g").unwrap(), body(), 10).await;
        assert!(matches!(below_file, Err(ArtifactError::Conflict(..))));
        assert!(matches!(repo.get(&ArtifactPath::parse("d").unwrap()).await, Err(ArtifactError::Conflict(..))));
        assert!(matches!(repo.get(&ArtifactPath::parse("d/f/g").unwrap()).await, Err(ArtifactError::NotFound(_))));
        // A refused upload into new folders leaves none of them behind.
        let big = stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 20]))]);
        assert!(repo.put_stream(&ArtifactPath::parse("n/e/w").unwrap(), big, 10).await.is_err());
        assert!(!dir.path().join("n").exists());
    }

    #[tokio::test]
    async fn staging_files_and_folders_holding_only_them_are_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ArtifactRepository::open_local(dir.path()).unwrap();
        let body = || stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from("x"))]);
        repo.put_stream(&ArtifactPath::parse("1/r/artifacts/kept.txt").unwrap(), body(), 10).await.unwrap();
        // What a `kill -9` mid-upload leaves: a staging file in folders made for it.
        let killed = dir.path().join("1/r/artifacts/model/data");
        std::fs::create_dir_all(&killed).unwrap();
        std::fs::write(killed.join("model.bin#1"), vec![0u8; 64]).unwrap();
        std::fs::write(dir.path().join("1/r/artifacts/kept.txt#2"), "x").unwrap();
        std::fs::create_dir_all(dir.path().join("1/r/artifacts/empty")).unwrap();

        let artifacts = ArtifactPath::parse("1/r/artifacts").unwrap();
        let listing = repo.list(Some(&artifacts)).await.unwrap();
        assert_eq!(
            listing,
            vec![
                // An empty folder is listed, as MLflow lists it.
                FileInfo { name: "empty".into(), is_dir: true, file_size: None },
                FileInfo { name: "kept.txt".into(), is_dir: false, file_size: Some(1) },
            ]
        );
        assert!(repo.list(Some(&ArtifactPath::parse("1/r/artifacts/model").unwrap())).await.unwrap().is_empty());

        let removed = repo.remove_staging_leftovers(Duration::ZERO).await.unwrap();
        assert_eq!((removed.files, removed.bytes, removed.folders), (2, 65, 2));
        assert!(!dir.path().join("1/r/artifacts/model").exists());
        assert_eq!(
            read_all(repo.get(&artifacts.join(&ArtifactPath::parse("kept.txt").unwrap())).await.unwrap()).await,
            b"x"
        );
    }

    #[test]
    fn client_answers_name_no_server_path() {
        let root = "/srv/secret-root/artifacts";
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let error: ferroflow_core::Error = local_error("write", FsPath::new(root), full).into();
        assert_eq!(
            (error.code, error.message.as_str()),
            (ferroflow_core::ErrorCode::ResourceExhausted, STORAGE_FULL_MESSAGE)
        );
        // The local store wraps its io errors; a full disk is found among the causes.
        let wrapped = ArtifactError::Store(object_store::Error::Generic {
            store: "LocalFileSystem",
            source: Box::new(local_error("write", FsPath::new(root), std::io::Error::from_raw_os_error(28))),
        });
        assert!(wrapped.is_storage_full());
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let error: ferroflow_core::Error = local_error("list", FsPath::new(root), denied).into();
        assert_eq!(error.code, ferroflow_core::ErrorCode::InternalError);
        assert!(!error.message.contains(root), "{}", error.message);
        assert!(error.message.contains("permission denied"), "{}", error.message);
    }

    #[test]
    fn uris_map_into_the_repository() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ArtifactRepository::open_local(dir.path()).unwrap();
        assert_eq!(repo.path_of_uri("mlflow-artifacts:/1/abc/artifacts").unwrap().as_str(), "1/abc/artifacts");
        assert_eq!(repo.path_of_uri("mlflow-artifacts://host:5000/1/x").unwrap().as_str(), "1/x");
        // The proxy's own URL, as `--default-artifact-root http://host/api/2.0/mlflow-artifacts/artifacts` makes them.
        let http = "http://tracking:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts";
        assert_eq!(repo.path_of_uri(http).unwrap().as_str(), "1/abc/artifacts");
        let behind_prefix = "https://example.com/mlflow/api/2.0/mlflow-artifacts/artifacts/2/r/artifacts?x=1";
        assert_eq!(repo.path_of_uri(behind_prefix).unwrap().as_str(), "2/r/artifacts");
        assert!(is_proxy_url(http));
        for not_proxied in [
            "http://host/api/2.0/mlflow-artifacts/artifacts",
            "http://host/ajax-api/2.0/mlflow-artifacts/artifacts/1/r",
            "http://host/other/1/r",
            "http://host?/api/2.0/mlflow-artifacts/artifacts/1/r",
            "http://host/api/2.0/mlflow-artifacts/artifacts/../../etc",
            "http://host/api/2.0/mlflow-artifacts/artifacts/1/%2e%2e/x",
            "ftp://host/api/2.0/mlflow-artifacts/artifacts/1/r",
        ] {
            assert!(repo.path_of_uri(not_proxied).is_none(), "{not_proxied}");
        }
        let local = format!("{}/2/r/artifacts", repo.root_uri());
        assert_eq!(repo.path_of_uri(&local).unwrap().as_str(), "2/r/artifacts");
        assert!(repo.path_of_uri("s3://elsewhere/x").is_none());
        assert!(repo.path_of_uri("mlflow-artifacts:/../etc").is_none());
        // Sharing a prefix with the root is not being inside it.
        assert!(repo.path_of_uri(&format!("{}X/1/r", repo.root_uri())).is_none());
        assert!(repo.path_of_uri(&format!("{}-other/1/r", repo.root_uri())).is_none());
        assert!(repo.path_of_uri(&format!("{}/../x", repo.root_uri())).is_none());
    }
}
