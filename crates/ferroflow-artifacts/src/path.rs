//! Artifact paths from requests, checked before any storage call.
//!
//! MLflow's CVE history (CVE-2023-1177, CVE-2023-6831, CVE-2024-0520, CVE-2024-1558 and
//! kin) is mostly paths escaping the artifact root. Every path that comes from a request
//! is validated here after percent-decoding: no `..` or `.` segments, no absolute paths,
//! no drive letters, no `file:` URIs, no backslashes, no NUL bytes, no empty segments.
//! Like MLflow's `validate_path_is_safe`, the checks also apply to the path decoded again
//! until it stops changing, so a double-encoded `%252e%252e` is refused as a `..`.

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
        if trimmed.chars().any(char::is_control) || trimmed.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("file:")) {
            return Err(invalid());
        }
        let decoded = fully_decoded(trimmed);
        if decoded != trimmed && !is_safe_decoded(&decoded) {
            return Err(invalid());
        }
        // The staging area of multipart uploads is not addressable by users.
        if trimmed.split('/').next().is_some_and(|first| first.eq_ignore_ascii_case(crate::multipart::STAGING_DIR)) {
            return Err(invalid());
        }
        Ok(ArtifactPath(trimmed.to_string()))
    }

    /// Like [`parse`](Self::parse), but an absent or empty path means the root. (`/` is
    /// an absolute path, refused as MLflow does.)
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, ArtifactError> {
        match raw {
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

/// Percent-decodes `path` again and again until it stops changing (at most 10 times, as
/// MLflow's `_decode`); invalid UTF-8 becomes U+FFFD.
fn fully_decoded(path: &str) -> String {
    let mut current = path.to_string();
    for _ in 0..10 {
        let next = percent_decode(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// The checks MLflow applies to a decoded path: no `..`, nothing absolute, no backslash,
/// `#` or control character.
fn is_safe_decoded(path: &str) -> bool {
    !(path.starts_with('/')
        || path.contains('\\')
        || path.contains('#')
        || path.chars().any(char::is_control)
        || has_drive_letter(path)
        || path.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("file:"))
        || path.split('/').any(|segment| segment == ".."))
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
        for good in [
            "a",
            "1/abc/artifacts/model/MLmodel",
            "dir/",
            "with space/x.txt",
            "a..b/c",
            "100%",
            "50%25 off",
            "a%20b",
            "%zz",
        ] {
            assert!(ArtifactPath::parse(good).is_ok(), "{good:?} refused");
        }
        assert_eq!(ArtifactPath::parse("dir/").unwrap().as_str(), "dir");
        // The once-decoded form is what is stored.
        assert_eq!(ArtifactPath::parse("a%20b").unwrap().as_str(), "a%20b");
    }

    #[test]
    fn the_root_is_absent_or_empty_only() {
        assert_eq!(ArtifactPath::parse_optional(None).unwrap(), None);
        assert_eq!(ArtifactPath::parse_optional(Some("")).unwrap(), None);
        assert_eq!(ArtifactPath::parse_optional(Some("dir/")).unwrap().unwrap().as_str(), "dir");
        assert!(ArtifactPath::parse_optional(Some("/")).is_err());
        assert!(ArtifactPath::parse_optional(Some("//")).is_err());
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
            "%2e%2e",
            "a/%2E%2E/b",
            "%252e%252e/x",
            "%25252e%25252e%25252fx",
            "%2fetc/passwd",
            "a%5c..%5cb",
            "a%23b",
            "a%00b",
            "file:/etc/passwd",
            "FILE:///etc/passwd",
            "file:%2F%2Fetc",
        ] {
            assert!(ArtifactPath::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
