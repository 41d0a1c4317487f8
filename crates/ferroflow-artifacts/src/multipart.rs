//! Proxied multipart uploads (MLflow's `mpu/create|complete|abort`) for every store.
//!
//! MLflow clients upload the parts of a large file in parallel and out of order, while an
//! `object_store` multipart writer needs its parts in order. So each part is staged as an
//! object of its own under a hidden prefix of the artifact root,
//!
//! ```text
//! .ferroflow-mpu/<upload_id>/upload                 the manifest: destination and part count
//! .ferroflow-mpu/<upload_id>/parts/<n>.<token>      one object per part upload
//! ```
//!
//! and completing the upload streams the parts, in part-number order, into the final
//! object through [`ArtifactRepository::put_stream`]: memory stays flat whatever the size.
//!
//! Every part upload is stored under a fresh token, and the token is the part's ETag. The
//! part list of `complete` names, by ETag, exactly the uploads the client saw succeed, so a
//! retried or duplicated part can never be assembled by mistake.
//!
//! The staging prefix is invisible to users: [`ArtifactPath`] refuses it as a first segment
//! and root listings leave it out.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{stream, FutureExt, Stream, StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};

use crate::{ArtifactError, ArtifactPath, ArtifactRepository, Download};

/// The hidden folder, at the artifact root, where parts wait for their upload to complete.
pub const STAGING_DIR: &str = ".ferroflow-mpu";

/// The most parts one upload may have (S3's limit, and MLflow's clients stay under it).
pub const MAX_PARTS: u32 = 10_000;

/// The largest single part (S3's limit). The repository's artifact size cap also applies.
pub const MAX_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;

const MANIFEST: &str = "upload";
const MANIFEST_HEADER: &str = "ferroflow-mpu 1";

#[derive(Debug, thiserror::Error)]
pub enum MultipartError {
    #[error("Multipart upload '{0}' does not exist: it was completed, aborted or never created")]
    NoSuchUpload(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
}

impl From<object_store::Error> for MultipartError {
    fn from(error: object_store::Error) -> Self {
        MultipartError::Artifact(ArtifactError::Store(error))
    }
}

impl From<MultipartError> for ferroflow_core::Error {
    fn from(error: MultipartError) -> Self {
        match error {
            MultipartError::NoSuchUpload(_) => ferroflow_core::Error::not_found(error.to_string()),
            MultipartError::Invalid(message) => ferroflow_core::Error::invalid_parameter(message),
            MultipartError::Artifact(inner) => inner.into(),
        }
    }
}

pub type MultipartResult<T> = std::result::Result<T, MultipartError>;

/// A 32-hex-digit identifier (an upload id or a part token), as the server mints them.
fn is_token(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An upload id: 32 lowercase hex digits (a random UUID v4, minted by the server).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadId(String);

impl UploadId {
    /// Anything but exactly 32 lowercase hex digits is refused, so an id can never
    /// address anything outside its own staging folder.
    pub fn parse(raw: &str) -> MultipartResult<Self> {
        if is_token(raw) {
            Ok(UploadId(raw.to_string()))
        } else {
            Err(MultipartError::Invalid(format!("Invalid multipart upload id '{}'", truncated(raw))))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn truncated(text: &str) -> String {
    text.chars().take(64).collect()
}

/// A part token, the part's ETag: 32 lowercase hex digits minted by the caller.
fn check_token(token: &str) -> MultipartResult<()> {
    if is_token(token) {
        Ok(())
    } else {
        Err(MultipartError::Invalid(format!("Invalid part token '{}'", truncated(token))))
    }
}

/// What an upload was created for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadManifest {
    pub destination: ArtifactPath,
    pub num_parts: u32,
}

impl UploadManifest {
    fn encode(&self) -> String {
        format!("{MANIFEST_HEADER}\n{}\n{}\n", self.num_parts, self.destination.as_str())
    }

    fn decode(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()? != MANIFEST_HEADER {
            return None;
        }
        let num_parts = lines.next()?.parse().ok()?;
        let destination = ArtifactPath::parse(lines.next()?).ok()?;
        Some(UploadManifest { destination, num_parts })
    }
}

/// One part of a `complete` request: its number and the ETag its upload returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    pub part_number: i64,
    pub etag: String,
}

/// The token inside an ETag as HTTP clients hand it back: quotes and a weak prefix removed.
pub fn etag_token(etag: &str) -> &str {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.trim_matches('"')
}

/// Checks a part number against the protocol's range.
pub fn check_part_number(part_number: i64, num_parts: u32) -> MultipartResult<u32> {
    match u32::try_from(part_number) {
        Ok(n) if (1..=num_parts).contains(&n) => Ok(n),
        _ => Err(MultipartError::Invalid(format!(
            "Invalid part number {part_number}: this upload has parts 1 to {num_parts}"
        ))),
    }
}

fn staging_root() -> StorePath {
    StorePath::from(STAGING_DIR)
}

fn upload_dir(id: &UploadId) -> StorePath {
    staging_root().join(id.as_str())
}

fn manifest_path(id: &UploadId) -> StorePath {
    upload_dir(id).join(MANIFEST)
}

fn parts_dir(id: &UploadId) -> StorePath {
    upload_dir(id).join("parts")
}

fn part_path(id: &UploadId, part_number: u32, token: &str) -> StorePath {
    parts_dir(id).join(format!("{part_number}.{token}"))
}

/// A part staged for an upload, as found by listing.
struct StagedPart {
    part_number: u32,
    token: String,
    size: u64,
    location: StorePath,
}

fn now_seconds() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl ArtifactRepository {
    /// Starts an upload of `num_parts` parts into `destination`, under an id the caller
    /// minted at random.
    pub async fn create_multipart_upload(
        &self,
        id: &UploadId,
        destination: &ArtifactPath,
        num_parts: u32,
    ) -> MultipartResult<()> {
        if num_parts > MAX_PARTS {
            return Err(MultipartError::Invalid(format!(
                "An upload may have at most {MAX_PARTS} parts, not {num_parts}: raise \
                 MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE"
            )));
        }
        // The destination must be writable now (e.g. not through a symlink) rather than
        // fail only once every part has been sent.
        self.store_path(destination)?;
        let manifest = UploadManifest { destination: destination.clone(), num_parts };
        let location = manifest_path(id);
        // A put stages its bytes too (see `crate::staging`).
        let _writing = self.writing(&location);
        self.store.put(&location, PutPayload::from(manifest.encode())).await?;
        Ok(())
    }

    /// The manifest of a live upload.
    pub async fn multipart_upload(&self, id: &UploadId) -> MultipartResult<UploadManifest> {
        let result = match self.store.get(&manifest_path(id)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Err(MultipartError::NoSuchUpload(id.as_str().into())),
            Err(e) => return Err(e.into()),
        };
        if result.meta.size > 64 * 1024 {
            return Err(MultipartError::NoSuchUpload(id.as_str().into()));
        }
        let bytes = result.bytes().await?;
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(UploadManifest::decode)
            .ok_or_else(|| MultipartError::NoSuchUpload(id.as_str().into()))
    }

    /// Checks that a live upload goes to `destination`; returns its manifest.
    async fn upload_to(&self, id: &UploadId, destination: &ArtifactPath) -> MultipartResult<UploadManifest> {
        let manifest = self.multipart_upload(id).await?;
        if manifest.destination != *destination {
            return Err(MultipartError::Invalid(format!(
                "Multipart upload '{}' is for '{}', not '{}'",
                id.as_str(),
                manifest.destination.as_str(),
                destination.as_str()
            )));
        }
        Ok(manifest)
    }

    /// Stages one part, streamed, under `token` (the ETag the caller returns for it).
    /// Returns the part's size. A part of an unknown upload, or outside the upload's part
    /// range, is refused before any byte is stored.
    pub async fn put_multipart_part<S, E>(
        &self,
        id: &UploadId,
        part_number: i64,
        token: &str,
        body: S,
        max_artifact_bytes: u64,
    ) -> MultipartResult<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        check_token(token)?;
        let manifest = self.multipart_upload(id).await?;
        let part_number = check_part_number(part_number, manifest.num_parts)?;
        let limit = MAX_PART_BYTES.min(max_artifact_bytes);
        let location = part_path(id, part_number, token);
        Ok(self.put_stream_at(&location, body, limit).await?)
    }

    async fn staged_parts(&self, id: &UploadId) -> MultipartResult<Vec<StagedPart>> {
        let prefix = parts_dir(id);
        let objects: Vec<_> = match self.store.list(Some(&prefix)).try_collect().await {
            Ok(objects) => objects,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(objects
            .into_iter()
            .filter_map(|object| {
                let name = object.location.filename()?;
                let (number, token) = name.split_once('.')?;
                let part_number = number.parse().ok()?;
                is_token(token).then(|| StagedPart {
                    part_number,
                    token: token.to_string(),
                    size: object.size,
                    location: object.location.clone(),
                })
            })
            .collect())
    }

    /// Assembles the upload into its destination: the parts named by `parts` (all of
    /// `1..=num_parts`, each with the ETag its upload returned) are streamed in order into
    /// the final object, then the staging area is removed. Returns the object's size.
    pub async fn complete_multipart_upload(
        &self,
        id: &UploadId,
        destination: &ArtifactPath,
        parts: &[CompletedPart],
        max_artifact_bytes: u64,
    ) -> MultipartResult<u64> {
        let manifest = self.upload_to(id, destination).await?;
        let mut wanted: BTreeMap<u32, &str> = BTreeMap::new();
        for part in parts {
            let number = check_part_number(part.part_number, manifest.num_parts)?;
            if wanted.insert(number, etag_token(&part.etag)).is_some() {
                return Err(MultipartError::Invalid(format!("Part {number} is listed more than once")));
            }
        }
        if let Some(missing) = (1..=manifest.num_parts).find(|n| !wanted.contains_key(n)) {
            return Err(MultipartError::Invalid(format!(
                "Part {missing} of {} is missing from the completion request",
                manifest.num_parts
            )));
        }
        let mut staged: HashMap<(u32, String), StagedPart> = HashMap::new();
        for part in self.staged_parts(id).await? {
            staged.insert((part.part_number, part.token.clone()), part);
        }
        let mut ordered = Vec::with_capacity(wanted.len());
        let mut total: u64 = 0;
        for (number, token) in wanted {
            let part = staged.remove(&(number, token.to_string())).ok_or_else(|| {
                MultipartError::Invalid(format!(
                    "Part {number} was not uploaded with ETag '{}': upload it again",
                    truncated(token)
                ))
            })?;
            total = total.saturating_add(part.size);
            ordered.push(part.location);
        }
        if total > max_artifact_bytes {
            return Err(ArtifactError::TooLarge(max_artifact_bytes).into());
        }
        let store = self.store.clone();
        let body = stream::iter(ordered)
            .then(move |location| {
                let store = store.clone();
                async move { store.get(&location).await.map(|result| result.into_stream()) }.boxed()
            })
            .try_flatten()
            .boxed();
        let written = self.put_stream(destination, body, max_artifact_bytes).await?;
        if let Err(e) = self.remove_upload(id).await {
            // The object is complete; leftovers are removed by the stale-upload sweep.
            tracing::warn!(upload_id = id.as_str(), error = %e, "could not remove a completed upload's parts");
        }
        Ok(written)
    }

    /// Abandons an upload: its staged parts are deleted. Aborting an upload that no longer
    /// exists succeeds, so that a retried abort is harmless.
    pub async fn abort_multipart_upload(&self, id: &UploadId, destination: &ArtifactPath) -> MultipartResult<()> {
        match self.upload_to(id, destination).await {
            Ok(_) | Err(MultipartError::NoSuchUpload(_)) => {}
            Err(e) => return Err(e),
        }
        self.remove_upload(id).await
    }

    /// Deletes everything staged for `id`: parts first, the manifest last, so that a part
    /// arriving meanwhile is refused rather than orphaned whenever possible.
    async fn remove_upload(&self, id: &UploadId) -> MultipartResult<()> {
        self.delete_objects(Some(&parts_dir(id))).await?;
        match self.store.delete(&manifest_path(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        // Stray parts written while the manifest was still there.
        self.delete_objects(Some(&upload_dir(id))).await?;
        if let Some(root) = &self.local_root {
            // Local stores keep emptied folders.
            let _ = std::fs::remove_dir_all(root.join(STAGING_DIR).join(id.as_str()));
        }
        Ok(())
    }

    async fn delete_objects(&self, prefix: Option<&StorePath>) -> MultipartResult<u64> {
        Ok(crate::delete_objects_under(self.store.as_ref(), prefix).await?)
    }

    /// Removes uploads abandoned for longer than `max_age` (no manifest or part written
    /// since): clients that crashed between `create` and `complete`/`abort`. Returns the
    /// number of uploads removed.
    pub async fn purge_stale_multipart_uploads(&self, max_age: Duration) -> MultipartResult<u64> {
        let root = staging_root();
        let objects: Vec<_> = match self.store.list(Some(&root)).try_collect().await {
            Ok(objects) => objects,
            Err(object_store::Error::NotFound { .. }) => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        // An upload is stale when its newest object is.
        let mut newest: HashMap<String, i64> = HashMap::new();
        for object in &objects {
            let Some(id) = object.location.prefix_match(&root).and_then(|mut parts| parts.next()) else { continue };
            let modified = object.last_modified.timestamp();
            let entry = newest.entry(id.as_ref().to_string()).or_insert(modified);
            *entry = (*entry).max(modified);
        }
        let cutoff = now_seconds() - i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        let mut removed = 0;
        for (id, modified) in newest {
            if modified >= cutoff {
                continue;
            }
            match UploadId::parse(&id) {
                Ok(id) => self.remove_upload(&id).await?,
                // Not ours (nothing else should be there): left alone.
                Err(_) => continue,
            }
            removed += 1;
        }
        Ok(removed)
    }
}

/// Ranged reads, for MLflow's proxied "multipart download": the client fetches byte ranges
/// of one file in parallel.
impl ArtifactRepository {
    /// The size of a file.
    pub async fn artifact_size(&self, path: &ArtifactPath) -> Result<u64, ArtifactError> {
        let location = self.store_path(path)?;
        match self.store.head(&location).await {
            Ok(meta) => Ok(meta.size),
            Err(object_store::Error::NotFound { .. }) => Err(ArtifactError::NotFound(path.as_str().into())),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams `range` of a file (which must lie within it); `size` is the range's length.
    pub async fn get_range(&self, path: &ArtifactPath, range: Range<u64>) -> Result<Download, ArtifactError> {
        let location = self.store_path(path)?;
        let options = GetOptions { range: Some(GetRange::Bounded(range)), ..Default::default() };
        let result = self.store.get_opts(&location, options).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => ArtifactError::NotFound(path.as_str().into()),
            other => ArtifactError::Store(other),
        })?;
        let size = result.range.end - result.range.start;
        Ok(Download { size, body: result.into_stream().map_err(ArtifactError::Store).boxed() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> UploadId {
        UploadId::parse(&format!("{n:02x}").repeat(16)).unwrap()
    }

    fn token(n: u8) -> String {
        format!("{:02x}", n).repeat(16)
    }

    fn body(data: &[u8]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
        // Several chunks per part, to exercise streaming.
        let chunks: Vec<_> = data.chunks(3).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        stream::iter(chunks)
    }

    async fn read(repo: &ArtifactRepository, path: &ArtifactPath) -> Vec<u8> {
        let download = repo.get(path).await.unwrap();
        let chunks: Vec<Bytes> = download.body.try_collect().await.unwrap();
        chunks.concat()
    }

    #[test]
    fn ids_and_tokens_are_strict() {
        assert!(UploadId::parse(&"a".repeat(32)).is_ok());
        for bad in ["", "../etc", &"A".repeat(32), &"a".repeat(31), &"a".repeat(33), &format!("{}/", "a".repeat(31))] {
            assert!(UploadId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(etag_token("\"abc\""), "abc");
        assert_eq!(etag_token("W/\"abc\""), "abc");
        assert_eq!(etag_token("abc"), "abc");
    }

    #[test]
    fn manifests_round_trip() {
        let manifest =
            UploadManifest { destination: ArtifactPath::parse("1/r/artifacts/x y.bin").unwrap(), num_parts: 7 };
        assert_eq!(UploadManifest::decode(&manifest.encode()), Some(manifest));
        assert_eq!(UploadManifest::decode("garbage"), None);
    }

    #[tokio::test]
    async fn parts_out_of_order_assemble_in_order_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ArtifactRepository::open_local(dir.path()).unwrap();
        let dest = ArtifactPath::parse("1/run/artifacts/big.bin").unwrap();
        let upload = id(1);
        repo.create_multipart_upload(&upload, &dest, 3).await.unwrap();
        // The root listing never shows the staging folder.
        assert!(repo.list(None).await.unwrap().iter().all(|e| e.name != STAGING_DIR));
        for (number, data, t) in [(3, &b"ghi!"[..], token(3)), (1, b"abcdefg", token(1)), (2, b"h", token(2))] {
            repo.put_multipart_part(&upload, number, &t, body(data), 1 << 20).await.unwrap();
        }
        // A retried part 2 under a new token: the completion names which one counts.
        repo.put_multipart_part(&upload, 2, &token(9), body(b"WRONG"), 1 << 20).await.unwrap();
        let parts: Vec<_> = [(1, token(1)), (2, format!("\"{}\"", token(2))), (3, token(3))]
            .into_iter()
            .map(|(part_number, etag)| CompletedPart { part_number, etag })
            .collect();
        let size = repo.complete_multipart_upload(&upload, &dest, &parts, 1 << 20).await.unwrap();
        assert_eq!(size, 12);
        assert_eq!(read(&repo, &dest).await, b"abcdefghghi!");
        assert!(!dir.path().join(STAGING_DIR).join(upload.as_str()).exists());
        assert!(matches!(repo.multipart_upload(&upload).await, Err(MultipartError::NoSuchUpload(_))));
        // A late part of a finished upload is refused.
        let late = repo.put_multipart_part(&upload, 1, &token(1), body(b"x"), 1 << 20).await;
        assert!(matches!(late, Err(MultipartError::NoSuchUpload(_))));
    }

    #[tokio::test]
    async fn completion_is_checked_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ArtifactRepository::open_local(dir.path()).unwrap();
        let dest = ArtifactPath::parse("a/b.bin").unwrap();
        let upload = id(2);
        repo.create_multipart_upload(&upload, &dest, 2).await.unwrap();
        repo.put_multipart_part(&upload, 1, &token(1), body(b"12345"), 1 << 20).await.unwrap();
        repo.put_multipart_part(&upload, 2, &token(2), body(b"678"), 1 << 20).await.unwrap();
        let part = |part_number, etag: &str| CompletedPart { part_number, etag: etag.into() };
        for bad in [
            vec![part(1, &token(1))],
            vec![part(1, &token(1)), part(2, &token(7))],
            vec![part(1, &token(1)), part(1, &token(1)), part(2, &token(2))],
            vec![part(1, &token(1)), part(2, &token(2)), part(3, &token(2))],
        ] {
            let outcome = repo.complete_multipart_upload(&upload, &dest, &bad, 1 << 20).await;
            assert!(matches!(outcome, Err(MultipartError::Invalid(_))), "{bad:?}: {outcome:?}");
        }
        let good = [part(1, &token(1)), part(2, &token(2))];
        let elsewhere = ArtifactPath::parse("a/c.bin").unwrap();
        assert!(matches!(
            repo.complete_multipart_upload(&upload, &elsewhere, &good, 1 << 20).await,
            Err(MultipartError::Invalid(_))
        ));
        assert!(matches!(
            repo.complete_multipart_upload(&upload, &dest, &good, 7).await,
            Err(MultipartError::Artifact(ArtifactError::TooLarge(7)))
        ));
        assert!(repo.get(&dest).await.is_err());
        // Out-of-range part numbers and oversized parts are refused at upload time.
        assert!(matches!(
            repo.put_multipart_part(&upload, 3, &token(3), body(b"x"), 1 << 20).await,
            Err(MultipartError::Invalid(_))
        ));
        assert!(matches!(
            repo.put_multipart_part(&upload, 0, &token(3), body(b"x"), 1 << 20).await,
            Err(MultipartError::Invalid(_))
        ));
        assert!(matches!(
            repo.put_multipart_part(&upload, 1, &token(3), body(b"too long"), 4).await,
            Err(MultipartError::Artifact(ArtifactError::TooLarge(4)))
        ));
        repo.abort_multipart_upload(&upload, &dest).await.unwrap();
        assert!(!dir.path().join(STAGING_DIR).join(upload.as_str()).exists());
        // Aborting again is harmless; completing after an abort is not possible.
        repo.abort_multipart_upload(&upload, &dest).await.unwrap();
        assert!(matches!(
            repo.complete_multipart_upload(&upload, &dest, &good, 1 << 20).await,
            Err(MultipartError::NoSuchUpload(_))
        ));
        assert!(repo.get(&dest).await.is_err());
    }

    #[tokio::test]
    async fn zero_parts_make_an_empty_file_and_limits_hold() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ArtifactRepository::open_local(dir.path()).unwrap();
        let dest = ArtifactPath::parse("empty.bin").unwrap();
        repo.create_multipart_upload(&id(3), &dest, 0).await.unwrap();
        assert_eq!(repo.complete_multipart_upload(&id(3), &dest, &[], 10).await.unwrap(), 0);
        assert_eq!(read(&repo, &dest).await, b"");
        assert!(matches!(
            repo.create_multipart_upload(&id(4), &dest, MAX_PARTS + 1).await,
            Err(MultipartError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn stale_uploads_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ArtifactRepository::open_local(dir.path()).unwrap();
        let dest = ArtifactPath::parse("x.bin").unwrap();
        repo.create_multipart_upload(&id(5), &dest, 1).await.unwrap();
        repo.put_multipart_part(&id(5), 1, &token(1), body(b"abc"), 100).await.unwrap();
        assert_eq!(repo.purge_stale_multipart_uploads(Duration::from_secs(3600)).await.unwrap(), 0);
        assert!(repo.multipart_upload(&id(5)).await.is_ok());
        // With a zero age, anything last written in an earlier second is stale.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(repo.purge_stale_multipart_uploads(Duration::ZERO).await.unwrap(), 1);
        assert!(matches!(repo.multipart_upload(&id(5)).await, Err(MultipartError::NoSuchUpload(_))));
    }

    #[tokio::test]
    async fn ranges_stream_part_of_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ArtifactRepository::open_local(dir.path()).unwrap();
        let path = ArtifactPath::parse("d/f.bin").unwrap();
        repo.put_stream(&path, body(b"0123456789"), 100).await.unwrap();
        assert_eq!(repo.artifact_size(&path).await.unwrap(), 10);
        let part = repo.get_range(&path, 3..7).await.unwrap();
        assert_eq!(part.size, 4);
        let chunks: Vec<Bytes> = part.body.try_collect().await.unwrap();
        assert_eq!(chunks.concat(), b"3456");
        let missing = ArtifactPath::parse("d/nope").unwrap();
        assert!(matches!(repo.artifact_size(&missing).await, Err(ArtifactError::NotFound(_))));
    }

    #[test]
    fn user_paths_cannot_reach_the_staging_area() {
        for bad in [".ferroflow-mpu", ".ferroflow-mpu/x/upload", ".FERROFLOW-MPU/x"] {
            assert!(ArtifactPath::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ArtifactPath::parse("a/.ferroflow-mpu/x").is_ok());
    }
}
