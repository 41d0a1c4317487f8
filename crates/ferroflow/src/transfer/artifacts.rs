//! Copying an artifact tree between local folders, resumably: a file already at the
//! destination with the same size is taken as copied; others are written to a temporary
//! name and renamed, so a killed copy never leaves a half file under the real name.

use std::path::Path;

use super::{Result, TransferError};

#[derive(Debug, Default, Clone, Copy)]
pub struct Copied {
    pub files: u64,
    pub bytes: u64,
    pub skipped: u64,
}

pub fn copy_tree(from: &Path, to: &Path) -> Result<Copied> {
    let mut copied = Copied::default();
    if !from.exists() {
        return Err(TransferError::Source(format!("artifact folder {} does not exist", from.display())));
    }
    copy_into(from, to, &mut copied)?;
    Ok(copied)
}

fn copy_into(from: &Path, to: &Path, copied: &mut Copied) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| TransferError::io(to.display(), e))?;
    let entries = std::fs::read_dir(from).map_err(|e| TransferError::io(from.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TransferError::io(from.display(), e))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(|e| TransferError::io(source.display(), e))?;
        if kind.is_dir() {
            copy_into(&source, &target, copied)?;
        } else if kind.is_file() {
            let size = entry.metadata().map_err(|e| TransferError::io(source.display(), e))?.len();
            if std::fs::metadata(&target).is_ok_and(|m| m.is_file() && m.len() == size) {
                copied.skipped += 1;
                continue;
            }
            let partial = to.join(format!(".{}.ferroflow-partial", entry.file_name().to_string_lossy()));
            std::fs::copy(&source, &partial).map_err(|e| TransferError::io(partial.display(), e))?;
            std::fs::rename(&partial, &target).map_err(|e| TransferError::io(target.display(), e))?;
            copied.files += 1;
            copied.bytes += size;
        }
    }
    Ok(())
}

/// A local artifact destination as a folder: a path or a `file://` URI.
pub fn local_folder(uri: &str) -> Result<std::path::PathBuf> {
    if let Some(path) = uri.strip_prefix("file://") {
        return Ok(path.into());
    }
    if uri.contains("://") {
        return Err(TransferError::Refused(format!(
            "artifacts can be copied between local folders only; {uri} is not one \
             (copy object-store artifacts with the store's own tools, and keep their URIs)"
        )));
    }
    Ok(uri.into())
}
