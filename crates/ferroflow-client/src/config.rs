//! Where the server is, how to authenticate, and how to retry: read from the same
//! environment variables, with the same defaults and limits, as MLflow's Python client
//! (`mlflow/environment_variables.py`, `mlflow/utils/rest_utils.py`).

use std::time::Duration;

use crate::error::{Error, Result};

/// How requests authenticate, as MLflow's client chooses: username and password first
/// (HTTP Basic), else a token (Bearer).
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic { username: String, password: String },
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    // Never print a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// MLflow's retry rules (urllib3's `Retry` as `mlflow.utils.request_utils` builds it):
/// connection errors, read errors and the [`RetryPolicy::RETRY_CODES`] are retried up to
/// `max_retries` times, for every method; before retry *n* the client sleeps
/// `backoff_factor * 2^(n-1) + jitter * random()` seconds, capped at 120 — except before
/// the first retry, which is immediate — or what a `Retry-After` header asks for on a
/// 413, 429 or 503.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub backoff_factor: f64,
    pub backoff_jitter: f64,
    pub respect_retry_after: bool,
}

impl RetryPolicy {
    /// `_TRANSIENT_FAILURE_RESPONSE_CODES` in `mlflow/utils/request_utils.py`.
    pub const RETRY_CODES: [u16; 6] = [408, 429, 500, 502, 503, 504];
    /// urllib3's `Retry.RETRY_AFTER_STATUS_CODES`.
    pub const RETRY_AFTER_CODES: [u16; 3] = [413, 429, 503];
    /// urllib3's `Retry.DEFAULT_BACKOFF_MAX`.
    pub const BACKOFF_MAX: Duration = Duration::from_secs(120);

    /// No retries at all.
    pub fn none() -> Self {
        Self { max_retries: 0, backoff_factor: 0.0, backoff_jitter: 0.0, respect_retry_after: false }
    }

    /// The sleep before retry `retry` (1 for the first), `random` in `[0, 1)`.
    pub fn backoff(&self, retry: u32, random: f64) -> Duration {
        if retry <= 1 {
            return Duration::ZERO;
        }
        let exponent = i32::try_from(retry - 1).unwrap_or(i32::MAX);
        let seconds = self.backoff_factor * 2f64.powi(exponent) + self.backoff_jitter * random;
        Duration::from_secs_f64(seconds.clamp(0.0, Self::BACKOFF_MAX.as_secs_f64()))
    }

    pub fn retries_status(&self, status: u16) -> bool {
        Self::RETRY_CODES.contains(&status)
    }
}

impl Default for RetryPolicy {
    /// MLflow's defaults: 7 retries, factor 2, jitter 1.0, `Retry-After` respected.
    fn default() -> Self {
        Self { max_retries: 7, backoff_factor: 2.0, backoff_jitter: 1.0, respect_retry_after: true }
    }
}

/// Everything a [`Client`](crate::Client) needs to reach a server.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http(s)://host:port[/prefix]`, without a trailing slash.
    pub tracking_uri: String,
    pub auth: Auth,
    pub retry: RetryPolicy,
    /// One request's connect-and-read timeout (`MLFLOW_HTTP_REQUEST_TIMEOUT`, 120 s).
    pub timeout: Duration,
    /// `MLFLOW_TRACKING_INSECURE_TLS`: accept any server certificate.
    pub insecure_tls: bool,
    /// `MLFLOW_TRACKING_SERVER_CERT_PATH`: a PEM CA bundle to trust.
    pub server_cert_path: Option<String>,
    /// `MLFLOW_TRACKING_CLIENT_CERT_PATH`: a PEM file with this client's certificate and
    /// private key, for servers that ask for one (mutual TLS).
    pub client_cert_path: Option<String>,
}

impl ClientConfig {
    /// A configuration for `tracking_uri` with MLflow's defaults and no credentials.
    pub fn new(tracking_uri: &str) -> Result<Self> {
        Ok(Self {
            tracking_uri: normalize_tracking_uri(tracking_uri)?,
            auth: Auth::None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(120),
            insecure_tls: false,
            server_cert_path: None,
            client_cert_path: None,
        })
    }

    /// The configuration MLflow's client would use: the tracking URI given (else
    /// `MLFLOW_TRACKING_URI`), credentials and retry settings from the environment.
    pub fn from_env(tracking_uri: Option<&str>) -> Result<Self> {
        Self::from_lookup(tracking_uri, |name| std::env::var(name).ok())
    }

    /// [`ClientConfig::from_env`] over any variable lookup (tests pass a map).
    pub fn from_lookup(tracking_uri: Option<&str>, var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let uri = match tracking_uri.map(str::to_string).or_else(|| var("MLFLOW_TRACKING_URI")) {
            Some(uri) => uri,
            None => {
                return Err(Error::Config("no tracking server: pass --tracking-uri or set MLFLOW_TRACKING_URI".into()))
            }
        };
        let mut config = Self::new(&uri)?;
        config.auth = match (var("MLFLOW_TRACKING_USERNAME"), var("MLFLOW_TRACKING_PASSWORD")) {
            (Some(username), Some(password)) => Auth::Basic { username, password },
            _ => var("MLFLOW_TRACKING_TOKEN").map_or(Auth::None, Auth::Bearer),
        };
        let max_retries: i64 = parse_var(&var, "MLFLOW_HTTP_REQUEST_MAX_RETRIES", 7)?;
        let retry_limit: i64 = parse_var(&var, "_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT", 10)?;
        if !(0..=retry_limit).contains(&max_retries) {
            return Err(Error::Config(format!(
                "MLFLOW_HTTP_REQUEST_MAX_RETRIES must be between 0 and {retry_limit}, not {max_retries}"
            )));
        }
        let backoff_factor: i64 = parse_var(&var, "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 2)?;
        let factor_limit: i64 = parse_var(&var, "_MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT", 120)?;
        if !(0..=factor_limit).contains(&backoff_factor) {
            return Err(Error::Config(format!(
                "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR must be between 0 and {factor_limit}, not {backoff_factor}"
            )));
        }
        let backoff_jitter: f64 = parse_var(&var, "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 1.0)?;
        if !backoff_jitter.is_finite() || backoff_jitter < 0.0 {
            return Err(Error::Config(format!(
                "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER must be a number >= 0, not {backoff_jitter}"
            )));
        }
        config.retry = RetryPolicy {
            max_retries: max_retries as u32,
            backoff_factor: backoff_factor as f64,
            backoff_jitter,
            respect_retry_after: parse_bool(&var, "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", true)?,
        };
        let timeout: u64 = parse_var(&var, "MLFLOW_HTTP_REQUEST_TIMEOUT", 120)?;
        config.timeout = Duration::from_secs(timeout);
        config.insecure_tls = parse_bool(&var, "MLFLOW_TRACKING_INSECURE_TLS", false)?;
        config.server_cert_path = var("MLFLOW_TRACKING_SERVER_CERT_PATH");
        config.client_cert_path = var("MLFLOW_TRACKING_CLIENT_CERT_PATH");
        Ok(config)
    }
}

fn parse_var<T: std::str::FromStr>(var: &impl Fn(&str) -> Option<String>, name: &str, default: T) -> Result<T> {
    match var(name) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| Error::Config(format!("{name} must be a number, not '{text}'"))),
    }
}

/// MLflow's `_BooleanEnvironmentVariable`: `true`/`false`/`1`/`0`, any case.
fn parse_bool(var: &impl Fn(&str) -> Option<String>, name: &str, default: bool) -> Result<bool> {
    match var(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" || v == "1" => Ok(true),
        Some(v) if v == "false" || v == "0" => Ok(false),
        Some(v) => Err(Error::Config(format!("{name} must be one of true, false, 1, 0; not '{v}'"))),
    }
}

/// Checks that `uri` is an `http(s)` server address and drops any trailing slash.
fn normalize_tracking_uri(uri: &str) -> Result<String> {
    let trimmed = uri.trim().trim_end_matches('/');
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
        return Err(Error::Config(format!(
            "tracking URI '{uri}' is not a server address: an http:// or https:// URI is needed \
             (file stores and databases are read by `ferroflow server`, not by the client)"
        )));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<ClientConfig> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ClientConfig::from_lookup(None, |name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_are_mlflows() {
        let c = config(&[("MLFLOW_TRACKING_URI", "http://h:5000/")]).unwrap();
        assert_eq!(c.tracking_uri, "http://h:5000");
        assert_eq!(c.retry, RetryPolicy::default());
        assert_eq!(c.timeout, Duration::from_secs(120));
        assert_eq!(c.auth, Auth::None);
    }

    #[test]
    fn basic_auth_wins_over_a_token_and_a_token_alone_is_bearer() {
        let both = config(&[
            ("MLFLOW_TRACKING_URI", "http://h"),
            ("MLFLOW_TRACKING_USERNAME", "u"),
            ("MLFLOW_TRACKING_PASSWORD", "p"),
            ("MLFLOW_TRACKING_TOKEN", "t"),
        ])
        .unwrap();
        assert_eq!(both.auth, Auth::Basic { username: "u".into(), password: "p".into() });
        assert_eq!(format!("{:?}", both.auth), "Basic(u, ***)");
        let token = config(&[("MLFLOW_TRACKING_URI", "http://h"), ("MLFLOW_TRACKING_TOKEN", "t")]).unwrap();
        assert_eq!(token.auth, Auth::Bearer("t".into()));
        let user_only = config(&[("MLFLOW_TRACKING_URI", "http://h"), ("MLFLOW_TRACKING_USERNAME", "u")]).unwrap();
        assert_eq!(user_only.auth, Auth::None);
    }

    #[test]
    fn retry_variables_are_read_and_bounded_like_mlflows() {
        let c = config(&[
            ("MLFLOW_TRACKING_URI", "http://h"),
            ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3"),
            ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "5"),
            ("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0.5"),
            ("MLFLOW_HTTP_REQUEST_TIMEOUT", "7"),
            ("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", "false"),
        ])
        .unwrap();
        assert_eq!(
            c.retry,
            RetryPolicy { max_retries: 3, backoff_factor: 5.0, backoff_jitter: 0.5, respect_retry_after: false }
        );
        assert_eq!(c.timeout, Duration::from_secs(7));
        let too_many = config(&[("MLFLOW_TRACKING_URI", "http://h"), ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "11")]);
        assert!(matches!(too_many, Err(Error::Config(m)) if m.contains("between 0 and 10")));
        let factor = config(&[("MLFLOW_TRACKING_URI", "http://h"), ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "121")]);
        assert!(factor.is_err());
        let garbled = config(&[("MLFLOW_TRACKING_URI", "http://h"), ("MLFLOW_HTTP_REQUEST_TIMEOUT", "soon")]);
        assert!(garbled.is_err());
    }

    #[test]
    fn a_missing_or_non_http_uri_is_a_config_error() {
        assert!(matches!(config(&[]), Err(Error::Config(m)) if m.contains("MLFLOW_TRACKING_URI")));
        assert!(config(&[("MLFLOW_TRACKING_URI", "sqlite:///x.db")]).is_err());
        assert!(config(&[("MLFLOW_TRACKING_URI", "file:///tmp/mlruns")]).is_err());
    }

    #[test]
    fn backoff_follows_urllib3() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1, 0.9), Duration::ZERO);
        assert_eq!(p.backoff(2, 0.0), Duration::from_secs(4));
        assert_eq!(p.backoff(3, 0.5), Duration::from_secs_f64(8.5));
        assert_eq!(p.backoff(10, 0.0), RetryPolicy::BACKOFF_MAX);
        assert!(p.retries_status(503) && p.retries_status(408) && !p.retries_status(404));
    }
}
