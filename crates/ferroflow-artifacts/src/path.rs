//! Artifact paths from requests, checked before any storage call.
//!
//! MLflow's CVE history (CVE-2023-1177, CVE-2023-6831, CVE-2024-0520, CVE-2024-1558 and
//! kin) is mostly paths escaping the artifact root. Every path that comes from a request
//! is validated here after percent-decoding: no `..` or `.` segments, no absolute paths,
//! no drive letters, no backslashes, no NUL bytes, no empty segments.

use crate::ArtifactError;

/// A relative path inside the artifact root, known to stay inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArtifactPath(String);

impl ArtifactPath {
    /// Validates a decoded request path. A single trailing slash is tolerated.
    pub fn parse(raw: &str) -> Result<Self, ArtifactError> {
        let invalid = || ArtifactError::InvalidPath(raw.to_string());
        let trimmed = raw.strip_suffix('/').unwrap_or(raw);
        if trimmed.is_empty()
            || trimmed.starts_with('/')
            || trimmed.contains('\\')
            || trimmed.contains('\0')
            || trimmed.contains('#')
            || has_drive_letter(trimmed)
        {
            return Err(invalid());
        }
        if trimmed.split('/').any(|segment| matches!(segment, "" | "." | "..")) {
            return Err(invalid());
        }
        if trimmed.chars().any(char::is_control) {
            return Err(invalid());
        }
        // The staging area of multipart uploads is not addressable by users.
        if trimmed.split('/').next().is_some_and(|first| first.eq_ignore_ascii_case(crate::multipart::STAGING_DIR)) {
            return Err(invalid());
        }
        Ok(ArtifactPath(trimmed.to_string()))
    }

    /// Like [`parse`](Self::parse), but an absent or empty path means the root.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, ArtifactError> {
        match raw.map(|r| r.strip_suffix('/').unwrap_or(r)) {
            None | Some("") => Ok(None),
            Some(path) => Self::parse(path).map(Some),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment: what a download is named.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    pub fn join(&self, child: &ArtifactPath) -> ArtifactPath {
        ArtifactPath(format!("{}/{}", self.0, child.0))
    }
}

fn has_drive_letter(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_nested_paths() {
        for good in ["a", "1/abc/artifacts/model/MLmodel", "dir/", "with space/x.txt", "%2e%2e", "a..b/c"] {
            assert!(ArtifactPath::parse(good).is_ok(), "{good:?} refused");
        }
        assert_eq!(ArtifactPath::parse("dir/").unwrap().as_str(), "dir");
    }

    #[test]
    fn refuses_every_escape() {
        for bad in [
            "",
            "/",
            "..",
            "../etc/passwd",
            "a/../../b",
            "a/./b",
            "./a",
            "/etc/passwd",
            "//host/share",
            "a\\..\\b",
            "..\\x",
            "C:/Windows",
            "c:x",
            "a\0b",
            "a//b",
            "a/b#frag",
            "line\nbreak",
        ] {
            assert!(ArtifactPath::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
