//! An async client for MLflow's REST API: tracking (experiments, runs, metric histories),
//! the model registry (models, versions, aliases, tags, stages) and the artifact proxy
//! (`/api/2.0/mlflow-artifacts/artifacts/…`), for any MLflow-compatible server —
//! ferroflow or MLflow's own.
//!
//! It behaves as MLflow's Python client does on the wire: the tracking URI, credentials
//! and retry rules come from the same environment variables with the same defaults
//! ([`ClientConfig::from_env`]), and a server's refusal keeps MLflow's `error_code` and
//! `message` ([`Error::Api`]).
//!
//! ```no_run
//! # async fn example() -> ferroflow_client::Result<()> {
//! let client = ferroflow_client::Client::from_env(None)?;
//! let champion = client.get_model_version_by_alias("churn", "champion").await?;
//! let run = client.get_run(&champion.run_id).await?;
//! println!("f1 = {:?}", run.metric("f1"));
//! # Ok(()) }
//! ```

mod artifacts;
mod config;
mod error;
mod registry;
mod tracking;
mod types;

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use artifacts::{proxy_path, DownloadProgress};
pub use config::{Auth, ClientConfig, RetryPolicy};
pub use error::{Error, Result};
pub use tracking::RunSearch;
pub use types::*;

/// The REST API's prefix, as MLflow's client calls it.
const API: &str = "/api/2.0/mlflow";
/// The artifact proxy's prefix.
const ARTIFACTS_API: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// A client of one tracking server. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            .read_timeout(config.timeout)
            .user_agent(concat!("ferroflow-client/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(config.insecure_tls);
        if let Some(path) = &config.server_cert_path {
            let pem = std::fs::read(path).map_err(|e| Error::Config(format!("cannot read {path}: {e}")))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::Config(format!("{path} is not a PEM certificate bundle: {e}")))?;
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let Some(path) = &config.client_cert_path {
            let pem = std::fs::read(path).map_err(|e| Error::Config(format!("cannot read {path}: {e}")))?;
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|e| Error::Config(format!("{path} is not a PEM certificate and private key: {e}")))?;
            builder = builder.identity(identity);
        }
        let http =
            builder.build().map_err(|e| Error::Config(format!("cannot build the HTTP client: {}", causes(&e))))?;
        Ok(Self { http, config })
    }

    /// A client configured as MLflow's would be (see [`ClientConfig::from_env`]).
    pub fn from_env(tracking_uri: Option<&str>) -> Result<Self> {
        Self::new(ClientConfig::from_env(tracking_uri)?)
    }

    pub fn tracking_uri(&self) -> &str {
        &self.config.tracking_uri
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Calls `{API}/{endpoint}`: GET with `query`, other methods with `body` as JSON,
    /// and reads the answer as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        endpoint: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<T> {
        let url = format!("{}{API}/{endpoint}", self.config.tracking_uri);
        self.call_url(method, &url, query, body.as_ref()).await
    }

    /// [`Client::call`] for any URL of the server (the artifact proxy's, say).
    async fn call_url<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T> {
        let response = self.send(method, url, query, body).await?;
        let text = response.text().await.map_err(|e| transport(url, &e))?;
        // MLflow answers some writes with an empty body.
        let text = if text.trim().is_empty() { "{}" } else { &text };
        serde_json::from_str(text).map_err(|e| Error::Decode { url: url.to_string(), message: e.to_string() })
    }

    /// Sends one request with MLflow's retry rules and returns a successful answer;
    /// an error status becomes [`Error::Api`].
    async fn send(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<reqwest::Response> {
        let body = body.map(|b| (b.to_string().into_bytes(), "application/json"));
        self.send_with_retries(method, url, query, body).await
    }

    /// Sends raw bytes (an artifact upload) with the retry rules of [`Client::send`].
    async fn send_bytes(&self, method: Method, url: &str, bytes: Vec<u8>) -> Result<reqwest::Response> {
        self.send_with_retries(method, url, &[], Some((bytes, "application/octet-stream"))).await
    }

    async fn send_with_retries(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<(Vec<u8>, &'static str)>,
    ) -> Result<reqwest::Response> {
        let body = body.map(|(bytes, kind)| (bytes::Bytes::from(bytes), kind));
        let target = reqwest::Url::parse_with_params(url, query)
            .map_err(|e| Error::Config(format!("'{url}' is not a valid URL: {e}")))?;
        let policy = &self.config.retry;
        let mut retry = 0;
        loop {
            let mut request = self.http.request(method.clone(), target.clone());
            request = match &self.config.auth {
                Auth::None => request,
                Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
                Auth::Bearer(token) => request.bearer_auth(token),
            };
            if let Some((bytes, content_type)) = &body {
                request = request.header(reqwest::header::CONTENT_TYPE, *content_type).body(bytes.clone());
            }
            let may_retry = retry < policy.max_retries;
            retry += 1;
            match request.send().await {
                Err(_) if may_retry => {
                    tokio::time::sleep(policy.backoff(retry, rand::random())).await;
                }
                Err(error) => return Err(transport(url, &error)),
                Ok(response) if may_retry && policy.retries_status(response.status().as_u16()) => {
                    let wait = retry_after(policy, &response).unwrap_or_else(|| policy.backoff(retry, rand::random()));
                    tokio::time::sleep(wait).await;
                }
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => return Err(api_error(url, response).await),
            }
        }
    }
}

/// The wait a `Retry-After` header asks for, where urllib3 would honour it (seconds only;
/// an HTTP date falls back to the backoff).
fn retry_after(policy: &RetryPolicy, response: &reqwest::Response) -> Option<Duration> {
    if !policy.respect_retry_after || !RetryPolicy::RETRY_AFTER_CODES.contains(&response.status().as_u16()) {
        return None;
    }
    let seconds: f64 = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

fn transport(url: &str, error: &reqwest::Error) -> Error {
    Error::Transport { url: url.to_string(), message: causes(error) }
}

/// An error with its sources: reqwest's own message is vague ("error sending request",
/// "builder error"); the sources say why.
fn causes(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

async fn api_error(url: &str, response: reqwest::Response) -> Error {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if let Ok(Value::Object(body)) = serde_json::from_str::<Value>(&text) {
        if let Some(code) = body.get("error_code").and_then(Value::as_str) {
            let message = body.get("message").and_then(Value::as_str).unwrap_or_default();
            return Error::Api { status, error_code: code.to_string(), message: message.to_string() };
        }
    }
    let endpoint = url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).unwrap_or(url);
    Error::Api {
        status,
        error_code: error::error_code_for_status(status).to_string(),
        message: format!(
            "API request to endpoint {endpoint} failed with error code {} != 200. Response body: '{}'",
            status.as_u16(),
            text.chars().take(500).collect::<String>()
        ),
    }
}

/// A page token as a request parameter: absent on the first page.
fn page_token_param(token: Option<&str>) -> Option<(&'static str, String)> {
    token.filter(|t| !t.is_empty()).map(|t| ("page_token", t.to_string()))
}

/// The `next_page_token` of an answer, `None` when it is absent or empty.
fn next_token(token: Option<String>) -> Option<String> {
    token.filter(|t| !t.is_empty())
}
