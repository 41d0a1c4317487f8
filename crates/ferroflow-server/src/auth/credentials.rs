//! Secrets: argon2id password hashes, random tokens stored as SHA-256 hashes, the UI's
//! session cookie and its CSRF token. Nothing here logs or returns a secret.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use ferroflow_core::{Error, Result};

/// The UI's session cookie.
pub const SESSION_COOKIE: &str = "ferroflow_session";
/// The header a UI session's writes carry its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Prefix of the secrets ferroflow mints, so that a leaked one is recognisable.
const SECRET_PREFIX: &str = "ffp_";
const MAX_PASSWORD_BYTES: usize = 1024;

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    SystemRandom::new().fill(&mut bytes).map_err(|_| Error::internal("the system random generator failed"))?;
    Ok(bytes)
}

/// argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: OWASP's recommendation),
/// as a PHC string that carries its own parameters and salt.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?).map_err(|_| Error::internal("salt encoding failed"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| Error::internal("password hashing failed"))
}

/// Whether `password` matches `stored`; with no stored hash, a dummy one is checked so
/// that an unknown user costs the same time as a wrong password.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
    let Ok(parsed) = PasswordHash::new(stored.unwrap_or(dummy)) else { return false };
    let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
    matches && stored.is_some()
}

/// MLflow's rule (not empty), plus a bound so that hashing stays cheap.
pub fn validate_new_password(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(Error::invalid_parameter("Username and password cannot be empty."));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid_parameter(format!("A password is at most {MAX_PASSWORD_BYTES} bytes long.")));
    }
    Ok(())
}

/// A new token or session secret: 32 random bytes, URL-safe base64, with a prefix.
pub fn new_secret() -> Result<String> {
    let bytes = random_bytes::<32>()?;
    Ok(format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

/// A short random id for a token or session (shown, unlike its secret).
pub fn new_credential_id() -> Result<String> {
    Ok(hex(&random_bytes::<12>()?))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What is stored for a secret: its SHA-256 (a 256-bit random secret needs no slow hash).
pub fn secret_hash(secret: &str) -> String {
    hex(digest(&SHA256, secret.as_bytes()).as_ref())
}

/// The CSRF token of a session: derived from its secret, so it needs no storage and
/// cannot be computed by a page that cannot read the HttpOnly cookie.
pub fn csrf_token_for(session_secret: &str) -> String {
    hex(digest(&SHA256, format!("csrf\0{session_secret}").as_bytes()).as_ref())
}

/// Compares two tokens in time that does not depend on where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The cache key of a verified username and password.
pub(super) fn cache_key(username: &str, password: &str) -> [u8; 32] {
    let sum = digest(&SHA256, format!("{username}\0{password}").as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(sum.as_ref());
    key
}

/// `user:password` from a Basic header's base64 (RFC 7617).
pub(super) fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (username, password) = text.split_once(':')?;
    Some((username.to_string(), password.to_string()))
}

/// The session secret from the request's cookies.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("correct horsE", Some(&hash)));
        assert!(!verify_password("correct horse", None));
        assert!(!verify_password("x", Some("not a phc string")));
        assert_ne!(hash, hash_password("correct horse").unwrap(), "salted");
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(SECRET_PREFIX) && a.len() > 40);
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_ne!(secret_hash(&a), secret_hash(&b));
        assert_ne!(csrf_token_for(&a), secret_hash(&a));
        assert!(same_token(&csrf_token_for(&a), &csrf_token_for(&a)));
        assert!(!same_token(&csrf_token_for(&a), &csrf_token_for(&b)));
    }

    #[test]
    fn basic_headers_and_cookies_decode() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("ann:pa:ss");
        assert_eq!(decode_basic(&encoded), Some(("ann".into(), "pa:ss".into())));
        assert_eq!(decode_basic("%%%"), None);
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("cookie", "a=1; ferroflow_session=ffp_x; b=2".parse().unwrap());
        assert_eq!(session_cookie(&headers).as_deref(), Some("ffp_x"));
    }
}
