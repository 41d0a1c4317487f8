//! The artifact roots of runs and models that are not in the proxied destination: a
//! folder clients wrote into directly (`/data/mlruns/1/<run>/artifacts`,
//! `file:///data/...`), or a prefix in an object store (`s3://bucket/1/<run>/artifacts`,
//! `gs://…`, `wasbs://…`). The server lists and serves them as MLflow's server does
//! (`_get_artifact_repo`), and writes the web UI's small uploads into them.
//!
//! Opening an object store builds a client (an HTTP connection pool, a credential chain),
//! so opened stores are kept by bucket, a bounded number of them, and a root is only a
//! prefix inside one. A local root is opened afresh each time (a `canonicalize`), which
//! also finds one created since.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use object_store::ObjectStore;

use crate::{open_bucket, ArtifactRepository, Location, Result};

/// What an artifact root URI opens to.
#[derive(Debug)]
pub enum OpenedRoot {
    Repository(ArtifactRepository),
    /// A local root that does not exist: nothing was written there yet. It lists as empty
    /// and has no files.
    Missing,
    /// A root this server does not read: another scheme (`hdfs`, `dbfs`, `ftp`, `http`
    /// that is not a proxy URL, …), or a `file:` URI naming another host.
    Unsupported,
}

/// Opens artifact roots, keeping up to `capacity` object-store clients.
pub struct RootRepositories {
    /// Opened buckets, least recently used first.
    stores: Mutex<VecDeque<(String, Arc<dyn ObjectStore>)>>,
    capacity: usize,
}

impl std::fmt::Debug for RootRepositories {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootRepositories").field("capacity", &self.capacity).finish()
    }
}

impl Default for RootRepositories {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl RootRepositories {
    /// Object-store clients kept open: a server rarely sees more buckets than this.
    pub const DEFAULT_CAPACITY: usize = 32;

    pub fn new(capacity: usize) -> Self {
        Self { stores: Mutex::new(VecDeque::new()), capacity: capacity.max(1) }
    }

    /// Opens the root `uri`. For reading (`create` false) a missing local root is
    /// [`OpenedRoot::Missing`]; for writing it is created.
    pub fn open(&self, uri: &str, create: bool) -> Result<OpenedRoot> {
        Ok(match root_location(uri) {
            None => OpenedRoot::Unsupported,
            Some(Location::Local(path)) if create => OpenedRoot::Repository(ArtifactRepository::open_local(&path)?),
            Some(Location::Local(path)) => match ArtifactRepository::open_existing_local(&path)? {
                Some(repository) => OpenedRoot::Repository(repository),
                None => OpenedRoot::Missing,
            },
            Some(Location::Bucket { bucket, prefix }) => {
                OpenedRoot::Repository(ArtifactRepository::in_bucket(self.bucket(&bucket)?, &prefix, uri))
            }
        })
    }

    /// The client of `bucket`, opened once and then kept while it is among the
    /// `capacity` most recently used.
    fn bucket(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
        let mut stores = self.stores.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(at) = stores.iter().position(|(key, _)| key == bucket) {
            let entry = stores.remove(at).expect("present");
            let store = Arc::clone(&entry.1);
            stores.push_back(entry);
            return Ok(store);
        }
        // Building a client does no I/O, so it is done under the lock: two requests for a
        // new bucket never build two.
        let store = open_bucket(bucket)?;
        if stores.len() >= self.capacity {
            stores.pop_front();
        }
        stores.push_back((bucket.to_string(), Arc::clone(&store)));
        Ok(store)
    }

    /// How many clients are open (for tests).
    pub fn open_stores(&self) -> usize {
        self.stores.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }
}

/// Reads a stored artifact root: an object-store URI, a local path (absolute, or
/// relative to the server's working directory as MLflow resolves it), or a `file:` URI
/// (`file:///p`, `file:/p`, `file://localhost/p`; its path percent-decoded, as MLflow's
/// `local_file_uri_to_path`). `None` for every other form.
fn root_location(uri: &str) -> Option<Location> {
    if uri.is_empty() || uri.contains('\0') {
        return None;
    }
    if let Some(bucket) = Location::of_bucket(uri) {
        return Some(bucket);
    }
    match scheme(uri) {
        None => Some(Location::Local(PathBuf::from(uri))),
        Some(scheme) if scheme.eq_ignore_ascii_case("file") => {
            let rest = &uri[scheme.len() + 1..];
            let path = match rest.strip_prefix("//") {
                Some(with_host) => {
                    let (host, path) = with_host.find('/').map_or((with_host, ""), |at| with_host.split_at(at));
                    if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
                        return None;
                    }
                    path
                }
                None => rest,
            };
            let path = percent_decode(path)?;
            (!path.is_empty() && !path.contains('\0')).then(|| Location::Local(PathBuf::from(path)))
        }
        Some(_) => None,
    }
}

/// The scheme of a URI (`s3`, `file`, `dbfs`, …), as `urlparse` finds one: letters,
/// digits, `+`, `-`, `.`, starting with a letter, before the first `:`. A one-letter
/// "scheme" is a Windows drive, not a scheme.
fn scheme(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let valid = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// `%XX` escapes decoded; `None` if the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text).decode_utf8().ok().map(|decoded| decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ArtifactPath;
    use bytes::Bytes;
    use futures_util::{stream, StreamExt};

    fn local(path: &str) -> Option<Location> {
        Some(Location::Local(PathBuf::from(path)))
    }

    #[test]
    fn roots_are_read_as_mlflow_reads_them() {
        assert_eq!(root_location("/data/1/r/artifacts"), local("/data/1/r/artifacts"));
        assert_eq!(root_location("mlruns/1/r/artifacts"), local("mlruns/1/r/artifacts"));
        assert_eq!(root_location("file:///data/a%20b/r"), local("/data/a b/r"));
        assert_eq!(root_location("file:/data/r"), local("/data/r"));
        assert_eq!(root_location("file://localhost/data/r"), local("/data/r"));
        assert_eq!(root_location("FILE:///data/r"), local("/data/r"));
        assert_eq!(
            root_location("s3://bucket/a/b/"),
            Some(Location::Bucket { bucket: "s3://bucket".into(), prefix: "a/b".into() })
        );
        assert_eq!(
            root_location("wasbs://c@acct.blob.core.windows.net/p"),
            Some(Location::Bucket { bucket: "wasbs://c@acct.blob.core.windows.net".into(), prefix: "p".into() })
        );
        for unsupported in [
            "",
            "file://otherhost/data/r",
            "file:///data/%FF",
            "file:///a%00b",
            "file://",
            "hdfs://namenode/x",
            "dbfs:/databricks/mlflow",
            "ftp://host/x",
            "http://host/x",
            "mlflow-artifacts:/1/r/artifacts",
            "runs:/abc/model",
            "s3:///no-bucket",
        ] {
            assert!(root_location(unsupported).is_none(), "{unsupported:?} read as {:?}", root_location(unsupported));
        }
    }

    #[test]
    fn percent_decoding_stops_at_the_end() {
        assert_eq!(percent_decode("a%2").as_deref(), Some("a%2"));
        assert_eq!(percent_decode("%41%").as_deref(), Some("A%"));
        assert_eq!(percent_decode("%41").as_deref(), Some("A"));
        assert_eq!(percent_decode("%zz").as_deref(), Some("%zz"));
    }

    #[tokio::test]
    async fn local_roots_are_created_only_for_writing() {
        let dir = tempfile::tempdir().unwrap();
        let roots = RootRepositories::default();
        let root = dir.path().join("1/r/artifacts");
        let uri = format!("file://{}", root.display());
        assert!(matches!(roots.open(&uri, false).unwrap(), OpenedRoot::Missing));
        assert!(!root.exists());
        let OpenedRoot::Repository(repo) = roots.open(&uri, true).unwrap() else { panic!("not opened") };
        let file = ArtifactPath::parse("images/a.png").unwrap();
        repo.put_stream(&file, stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from("png"))]), 10).await.unwrap();
        let OpenedRoot::Repository(repo) = roots.open(&root.display().to_string(), false).unwrap() else {
            panic!("not opened")
        };
        let listing = repo.list(Some(&ArtifactPath::parse("images").unwrap())).await.unwrap();
        assert_eq!(listing.len(), 1);
        let body: Vec<u8> = repo.get(&file).await.unwrap().body.map(|c| c.unwrap().to_vec()).concat().await;
        assert_eq!(body, b"png");
        assert!(matches!(roots.open("hdfs://nn/x", false).unwrap(), OpenedRoot::Unsupported));
    }

    #[test]
    fn object_store_clients_are_kept_per_bucket_and_bounded() {
        let roots = RootRepositories::new(2);
        let open = |uri: &str| match roots.open(uri, false).unwrap() {
            OpenedRoot::Repository(repo) => repo,
            other => panic!("{uri}: {other:?}"),
        };
        let a1 = open("s3://bucket-a/1/r1/artifacts");
        let a2 = open("s3://bucket-a/1/r2/artifacts");
        assert_eq!(a1.root_uri(), "s3://bucket-a/1/r1/artifacts");
        assert_eq!(roots.open_stores(), 1);
        let first = Arc::clone(&roots.stores.lock().unwrap()[0].1);
        open("s3://bucket-b/x");
        // bucket-a was used last but one; a third bucket evicts the least recently used.
        open("s3://bucket-a/again");
        open("s3://bucket-c/x");
        assert_eq!(roots.open_stores(), 2);
        let kept: Vec<String> = roots.stores.lock().unwrap().iter().map(|(key, _)| key.clone()).collect();
        assert_eq!(kept, ["s3://bucket-a", "s3://bucket-c"]);
        assert!(Arc::ptr_eq(&first, &roots.stores.lock().unwrap()[0].1), "bucket-a's client was rebuilt");
        drop((a1, a2));
    }
}
