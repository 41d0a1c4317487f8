//! Staging files of interrupted uploads on a local artifact root.
//!
//! `object_store`'s `LocalFileSystem` writes every upload (single `PUT`s, multipart
//! parts and manifests alike) to a staging file `<destination>#<n>` beside its
//! destination, and renames it onto the destination once complete. A process killed in
//! between (`kill -9`, a crash, a power cut) leaves the staging file behind, with the
//! folders created for it. Such names never belong to a user: [`ArtifactPath`] refuses
//! `#` anywhere in a path (as MLflow does), so no request can write, read or list them.
//!
//! Leftovers are removed by [`ArtifactRepository::remove_staging_leftovers`]: the server
//! runs it in the background at start, and `ferroflow gc` runs it too. A staging file of
//! an upload that is still in progress must never go, so:
//! - this process registers every upload it writes ([`InFlight`]); a sweep skips the
//!   staging files of registered destinations, checked and removed under one lock;
//! - a sweep only removes staging files untouched (not written) for a minimum age: none
//!   at the start of an SQLite server, the only process on its root, where every upload
//!   in flight is its own (so the files idle since before the start go); an hour at the
//!   start of a PostgreSQL replica, which may share its root with live replicas whose
//!   uploads it cannot see, and in `ferroflow gc`, which may run beside a live server
//!   (an upload in progress writes its staging file every few MiB, so its mtime stays
//!   fresh).
//!
//! Object stores (S3, GCS, Azure) stage nothing under user paths: an interrupted
//! multipart upload there is the store's to expire (e.g. an S3 lifecycle rule).
//!
//! [`ArtifactPath`]: crate::ArtifactPath
//! [`ArtifactRepository::remove_staging_leftovers`]: crate::ArtifactRepository::remove_staging_leftovers

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// What a sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StagingSweep {
    /// Staging files removed.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// Folders removed because they held nothing else.
    pub folders: u64,
}

/// The destination a staging file name stands for: `model.bin` for `model.bin#3`.
/// `object_store` appends `#` and a decimal counter to the destination's name.
pub fn staged_destination(file_name: &str) -> Option<&str> {
    let (base, counter) = file_name.rsplit_once('#')?;
    let is_counter = !counter.is_empty() && counter.bytes().all(|b| b.is_ascii_digit());
    (is_counter && !base.is_empty()).then_some(base)
}

/// The destinations this process is writing right now, as local file paths.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    /// Destination → number of uploads writing it (two clients may race on one name).
    writing: Mutex<HashMap<PathBuf, usize>>,
}

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, HashMap<PathBuf, usize>> {
        // The map stays consistent whatever panicked while holding it.
        self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers an upload to `destination` until the returned guard is dropped. Call it
    /// before the staging file is created, and drop it once the upload has finished.
    pub(crate) fn begin(self: &Arc<Self>, destination: PathBuf) -> Writing {
        *self.lock().entry(destination.clone()).or_default() += 1;
        Writing { in_flight: Arc::clone(self), destination }
    }
}

/// An upload in progress; see [`InFlight::begin`].
pub(crate) struct Writing {
    in_flight: Arc<InFlight>,
    destination: PathBuf,
}

impl Drop for Writing {
    fn drop(&mut self) {
        let mut writing = self.in_flight.lock();
        if let Some(count) = writing.get_mut(&self.destination) {
            *count -= 1;
            if *count == 0 {
                writing.remove(&self.destination);
            }
        }
    }
}

/// What a sweep needs besides the folder it is in.
pub(crate) struct Sweep<'a> {
    /// Staging files modified at or after this are left alone.
    pub cutoff: SystemTime,
    pub in_flight: &'a InFlight,
    /// Set to stop early: a server shutting down does not wait for a walk of a big root.
    pub stop: &'a AtomicBool,
}

impl Sweep<'_> {
    /// Removes, below `root`, the staging files last modified before the cutoff whose
    /// destination is not being written, and the folders left empty by their removal.
    /// Links are never followed. A folder that cannot be read is skipped (and logged), so
    /// one bad folder does not stop the sweep; only an unreadable root is an error.
    pub(crate) fn run(&self, root: &Path) -> std::io::Result<StagingSweep> {
        let mut removed = StagingSweep::default();
        let entries = std::fs::read_dir(root)?;
        self.entries(entries, root, &mut removed);
        Ok(removed)
    }

    /// Sweeps one folder's entries; returns whether anything in or below it was removed.
    fn entries(&self, entries: std::fs::ReadDir, folder: &Path, removed: &mut StagingSweep) -> bool {
        let mut removed_here = false;
        for entry in entries {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            removed_here |= self.entry(entry, folder, removed);
        }
        removed_here
    }

    /// Sweeps one entry of `folder`; returns whether anything was removed.
    fn entry(&self, entry: std::io::Result<std::fs::DirEntry>, folder: &Path, removed: &mut StagingSweep) -> bool {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                tracing::warn!(folder = %folder.display(), %error, "cannot read a folder of the artifact root");
                return false;
            }
        };
        // The entry's own type: a link is neither a file nor a folder here.
        let Ok(kind) = entry.file_type() else { return false };
        let path = entry.path();
        if kind.is_dir() {
            let children = match std::fs::read_dir(&path) {
                Ok(children) => children,
                Err(error) => {
                    tracing::warn!(folder = %path.display(), %error, "cannot read a folder of the artifact root");
                    return false;
                }
            };
            if !self.entries(children, &path, removed) {
                return false;
            }
            // Left empty by the sweep: it was made for the interrupted upload.
            if std::fs::remove_dir(&path).is_ok() {
                removed.folders += 1;
            }
            return true;
        }
        if !kind.is_file() {
            return false;
        }
        let Some(destination) = entry.file_name().to_str().and_then(staged_destination).map(|d| folder.join(d)) else {
            return false;
        };
        let Ok(meta) = entry.metadata() else { return false };
        if meta.modified().map_or(true, |modified| modified >= self.cutoff) {
            return false;
        }
        // Checked and removed under the lock: an upload registers before it creates its
        // staging file, so none can start on this destination meanwhile.
        let writing = self.in_flight.lock();
        if writing.contains_key(&destination) || std::fs::remove_file(&path).is_err() {
            return false;
        }
        drop(writing);
        removed.files += 1;
        removed.bytes += meta.len();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sweep(root: &Path, cutoff: SystemTime, in_flight: &InFlight) -> std::io::Result<StagingSweep> {
        Sweep { cutoff, in_flight, stop: &AtomicBool::new(false) }.run(root)
    }

    #[test]
    fn staging_names_are_a_name_a_hash_and_digits() {
        assert_eq!(staged_destination("model.bin#1"), Some("model.bin"));
        assert_eq!(staged_destination("a#b#12"), Some("a#b"));
        for not_staging in ["model.bin", "notes#", "#1", "notes#1a", "notes#x", "a#1b"] {
            assert_eq!(staged_destination(not_staging), None, "{not_staging:?}");
        }
    }

    #[test]
    fn sweeps_leftovers_but_not_uploads_in_flight_nor_recent_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("1/run/artifacts/deep")).unwrap();
        std::fs::create_dir_all(root.join("2/kept")).unwrap();
        std::fs::write(root.join("1/run/artifacts/deep/model.bin#1"), vec![0u8; 100]).unwrap();
        std::fs::write(root.join("2/kept/real.txt"), "x").unwrap();
        std::fs::write(root.join("2/kept/old#1"), "12345").unwrap();
        std::fs::write(root.join("2/kept/busy#1"), "123").unwrap();
        let in_flight = Arc::new(InFlight::default());
        let busy = in_flight.begin(root.join("2/kept/busy"));

        // Nothing is older than a cutoff in the past.
        let past = SystemTime::now() - Duration::from_secs(3600);
        assert_eq!(sweep(root, past, &in_flight).unwrap(), StagingSweep::default());

        let future = SystemTime::now() + Duration::from_secs(3600);
        let removed = sweep(root, future, &in_flight).unwrap();
        assert_eq!(removed, StagingSweep { files: 2, bytes: 105, folders: 4 });
        assert!(!root.join("1").exists(), "folders made for the leftover go with it");
        assert!(root.join("2/kept/real.txt").exists());
        assert!(root.join("2/kept/busy#1").exists(), "an upload in flight keeps its staging file");

        drop(busy);
        assert_eq!(sweep(root, future, &in_flight).unwrap().files, 1);
        assert!(root.join("2/kept/real.txt").exists());
    }

    #[cfg(unix)]
    #[test]
    fn links_are_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("victim#1"), "x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let future = SystemTime::now() + Duration::from_secs(3600);
        assert_eq!(sweep(dir.path(), future, &InFlight::default()).unwrap().files, 0);
        assert!(outside.path().join("victim#1").exists());
    }
}
