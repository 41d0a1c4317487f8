//! Artifacts through the server's proxy (`/api/2.0/mlflow-artifacts/artifacts/…`), the
//! way MLflow's client reads a `mlflow-artifacts:` root: listings one level at a time,
//! downloads streamed to disk.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use reqwest::Method;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::{Client, Error, FileInfo, Result, ARTIFACTS_API};

/// What a download reports as it goes (a progress bar, or nothing: `()`).
pub trait DownloadProgress {
    /// A file starts (`path` relative to the root being downloaded); `total` is its size
    /// when the server says it.
    fn start_file(&mut self, _path: &str, _total: Option<u64>) {}
    fn advance(&mut self, _bytes: u64) {}
    fn finish_file(&mut self) {}
}

impl DownloadProgress for () {}

/// Characters escaped in one path segment of the proxy's URL.
const SEGMENT: &AsciiSet =
    &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'?').add(b'<').add(b'>').add(b'`').add(b'{').add(b'}');

/// The path inside the proxy's destination that an artifact URI names:
/// `mlflow-artifacts:/1/abc/artifacts` and the proxy's own URL
/// `http(s)://host/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts` both give
/// `1/abc/artifacts`. Roots the proxy does not serve (`s3://…`, a local folder) are an error.
pub fn proxy_path(artifact_uri: &str) -> Result<String> {
    let path = if let Some(rest) = artifact_uri.strip_prefix("mlflow-artifacts:") {
        // `mlflow-artifacts://host:port/path` carries a host; `mlflow-artifacts:/path` does not.
        match rest.strip_prefix("//") {
            Some(with_host) => with_host.split_once('/').map_or("", |(_, path)| path),
            None => rest,
        }
    } else if artifact_uri.starts_with("http://") || artifact_uri.starts_with("https://") {
        match artifact_uri.split_once(ARTIFACTS_API) {
            Some((_, path)) => path,
            None => return Err(not_proxied(artifact_uri)),
        }
    } else {
        return Err(not_proxied(artifact_uri));
    };
    Ok(path.trim_matches('/').to_string())
}

fn not_proxied(uri: &str) -> Error {
    Error::Config(format!(
        "artifact root '{uri}' is not served by the tracking server's artifact proxy \
         (mlflow-artifacts:/…); read it with its own store's tools"
    ))
}

/// `root/relative`, as the proxy addresses it.
fn join(root: &str, relative: &str) -> String {
    match (root.trim_matches('/'), relative.trim_matches('/')) {
        ("", r) => r.to_string(),
        (a, "") => a.to_string(),
        (a, r) => format!("{a}/{r}"),
    }
}

/// Refuses a listed path that would land outside the download folder.
fn local_relative(path: &str) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(Error::Config(format!("refusing artifact path '{path}': it leaves the destination"))),
            p if p.contains('\\') || p.contains('\0') => {
                return Err(Error::Config(format!("refusing artifact path '{path}'")))
            }
            p => out.push(p),
        }
    }
    Ok(out)
}

impl Client {
    /// The proxy's URL of `path` in its destination, each segment percent-encoded.
    fn proxy_url(&self, path: &str) -> String {
        let encoded: Vec<String> = path.split('/').map(|s| utf8_percent_encode(s, SEGMENT).to_string()).collect();
        format!("{}{ARTIFACTS_API}/{}", self.config.tracking_uri, encoded.join("/"))
    }

    /// The entries directly under `path` in the proxy's destination (one level).
    pub async fn list_proxied_artifacts(&self, path: &str) -> Result<Vec<FileInfo>> {
        #[derive(Deserialize)]
        struct Listing {
            #[serde(default)]
            files: Vec<FileInfo>,
        }
        let url = format!("{}{ARTIFACTS_API}", self.config.tracking_uri);
        let listing: Listing = self.call_url(Method::GET, &url, &[("path", path.to_string())], None).await?;
        Ok(listing.files)
    }

    /// The entries under `relative` in the artifact root `artifact_uri` (one level);
    /// paths are relative to the root.
    pub async fn list_artifacts(&self, artifact_uri: &str, relative: &str) -> Result<Vec<FileInfo>> {
        let root = proxy_path(artifact_uri)?;
        let mut files = self.list_proxied_artifacts(&join(&root, relative)).await?;
        for file in &mut files {
            file.path = join(relative, &file.path);
        }
        Ok(files)
    }

    /// Streams one file of the proxy's destination to `destination` (written beside it
    /// first and renamed, so an interrupted download leaves no partial file). Returns its size.
    pub async fn download_proxied_file(
        &self,
        path: &str,
        destination: &Path,
        progress: &mut dyn DownloadProgress,
    ) -> Result<u64> {
        self.download_file(path, path, destination, progress).await
    }

    /// [`Client::download_proxied_file`], reporting the file to `progress` as `shown`.
    async fn download_file(
        &self,
        path: &str,
        shown: &str,
        destination: &Path,
        progress: &mut dyn DownloadProgress,
    ) -> Result<u64> {
        let url = self.proxy_url(path);
        let response = self.send(Method::GET, &url, &[], None).await?;
        let io = |source| Error::Io { path: destination.display().to_string(), source };
        if let Some(parent) = destination.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let partial = destination.with_file_name(format!(
            ".{}.part",
            destination.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ));
        progress.start_file(shown, response.content_length());
        let mut file = tokio::fs::File::create(&partial).await.map_err(io)?;
        let mut body = response.bytes_stream();
        let mut written = 0u64;
        let copied: Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| crate::transport(&url, &e))?;
                file.write_all(&chunk).await.map_err(io)?;
                written += chunk.len() as u64;
                progress.advance(chunk.len() as u64);
            }
            file.flush().await.map_err(io)?;
            Ok(())
        }
        .await;
        drop(file);
        if let Err(error) = copied {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(error);
        }
        tokio::fs::rename(&partial, destination).await.map_err(io)?;
        progress.finish_file();
        Ok(written)
    }

    /// Downloads `relative` (a file, or a folder with everything under it; `""` for the
    /// whole root) of the artifact root `artifact_uri` into `destination`, keeping the
    /// paths below the root. Returns the files written.
    pub async fn download_artifacts(
        &self,
        artifact_uri: &str,
        relative: &str,
        destination: &Path,
        progress: &mut dyn DownloadProgress,
    ) -> Result<Vec<PathBuf>> {
        let root = proxy_path(artifact_uri)?;
        let relative = relative.trim_matches('/').to_string();
        let mut written = Vec::new();
        // A folder lists its entries; a file lists as nothing (or as itself), so a path
        // with no entries is fetched as a file.
        let mut folders = vec![relative.clone()];
        let mut first = true;
        while let Some(folder) = folders.pop() {
            let entries = self.list_artifacts(artifact_uri, &folder).await?;
            let is_file = entries.is_empty() || (entries.len() == 1 && entries[0].path == folder && !entries[0].is_dir);
            if first && is_file && !folder.is_empty() {
                let target = destination.join(local_relative(&folder)?);
                self.download_file(&join(&root, &folder), &folder, &target, progress).await?;
                written.push(target);
                return Ok(written);
            }
            first = false;
            for entry in entries {
                if entry.is_dir {
                    folders.push(entry.path);
                } else {
                    let target = destination.join(local_relative(&entry.path)?);
                    self.download_file(&join(&root, &entry.path), &entry.path, &target, progress).await?;
                    written.push(target);
                }
            }
        }
        Ok(written)
    }

    /// Uploads `bytes` as `relative` under the artifact root `artifact_uri` (PUT to the proxy).
    pub async fn upload_artifact(&self, artifact_uri: &str, relative: &str, bytes: Vec<u8>) -> Result<()> {
        let url = self.proxy_url(&join(&proxy_path(artifact_uri)?, relative));
        self.send_bytes(Method::PUT, &url, bytes).await.map(drop)
    }

    /// A small text file of an artifact root, or `None` when it does not exist.
    pub async fn read_artifact_text(&self, artifact_uri: &str, relative: &str) -> Result<Option<String>> {
        let url = self.proxy_url(&join(&proxy_path(artifact_uri)?, relative));
        match self.send(Method::GET, &url, &[], None).await {
            Ok(response) => Ok(Some(response.text().await.map_err(|e| crate::transport(&url, &e))?)),
            Err(error) if error.is_not_found() || error.error_code() == Some("ENDPOINT_NOT_FOUND") => Ok(None),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_paths_of_every_proxied_form() {
        assert_eq!(proxy_path("mlflow-artifacts:/1/abc/artifacts").unwrap(), "1/abc/artifacts");
        assert_eq!(proxy_path("mlflow-artifacts://host:5000/1/abc/artifacts").unwrap(), "1/abc/artifacts");
        assert_eq!(
            proxy_path("http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts").unwrap(),
            "1/abc/artifacts"
        );
        assert!(proxy_path("s3://bucket/1/abc").is_err());
        assert!(proxy_path("/tmp/mlruns/1").is_err());
    }

    #[test]
    fn listed_paths_stay_inside_the_destination() {
        assert_eq!(local_relative("model/MLmodel").unwrap(), PathBuf::from("model/MLmodel"));
        assert!(local_relative("../etc/passwd").is_err());
        assert!(local_relative("a/../../b").is_err());
    }
}
