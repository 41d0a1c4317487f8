//! Webhook delivery, as MLflow 3 does it (`mlflow/webhooks/delivery.py`, which follows
//! the Standard Webhooks conventions):
//!
//! * a `POST` of `{"entity", "action", "timestamp", "data"}` as Python's `json.dumps`
//!   writes it, with `Content-Type: application/json`, `X-MLflow-Delivery-Id` (a uuid4)
//!   and `X-MLflow-Timestamp` (Unix seconds);
//! * with a secret, `X-MLflow-Signature: v1,<base64 HMAC-SHA256 of
//!   "<delivery id>.<timestamp>.<body>">`;
//! * retried on 429/500/502/503/504 and connection errors, with exponential backoff and
//!   `Retry-After`, a bounded number of times; each attempt has a timeout.
//!
//! Deliveries go through the store's outbox (`RegistryStore::enqueue_webhook_deliveries`):
//! [`notify`] queues one per subscribed webhook before the registry call answers, and
//! every server process runs one [`spawn_outbox`] loop that claims due deliveries under
//! a lease, sends them, and reschedules a retryable failure with backoff. So a delivery
//! survives a crash or a restart, several replicas on one database send each one once (a
//! claim is exclusive while its lease runs; a dead replica's claims expire and are taken
//! over), and a receiver sees the same `X-MLflow-Delivery-Id` on every attempt. A
//! delivery never fails the registry call: a failure to queue is logged. Secrets are never
//! logged; URLs are logged by host only.
//!
//! Like MLflow, webhook URLs must use an allowed scheme (default `https`) and resolve to
//! public addresses only, checked when a webhook is saved and again at connect time (a DNS
//! resolver that drops non-public addresses, so DNS rebinding cannot get around it).
//! MLflow's environment variables configure this: `MLFLOW_WEBHOOK_ALLOWED_SCHEMES`,
//! `MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS`, `MLFLOW_WEBHOOK_REQUEST_TIMEOUT`,
//! `MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES`, `MLFLOW_WEBHOOK_DELIVERY_MAX_WORKERS`; embedders
//! and tests can also call [`set_policy`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::secrets::WebhookSecrets;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ferroflow_core::registry::{Webhook, WebhookAction, WebhookEntity, WebhookEvent};
use ferroflow_core::types::KeyValue;
use ferroflow_core::{Error, Result};
use ferroflow_store::registry::OutboxDelivery;
use ferroflow_store::Store;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use tokio::sync::{Notify, Semaphore};

pub const SIGNATURE_HEADER: &str = "X-MLflow-Signature";
pub const TIMESTAMP_HEADER: &str = "X-MLflow-Timestamp";
pub const DELIVERY_ID_HEADER: &str = "X-MLflow-Delivery-Id";
pub const SIGNATURE_VERSION: &str = "v1";

/// How often the outbox loop looks for deliveries it was not woken for: another
/// replica's expired claims, and retries whose timer was in a process that died.
const OUTBOX_POLL: Duration = Duration::from_secs(1);
/// The most of a receiver's answer `webhooks/{id}/test` reads back.
const MAX_TEST_RESPONSE_BYTES: usize = 64 * 1024;

// ---------------------------------------------------------------- policy

/// Where and how webhooks may be delivered.
#[derive(Debug, Clone)]
pub struct WebhookPolicy {
    /// URL schemes a webhook may use; MLflow's default is `https` only.
    pub allowed_schemes: Vec<String>,
    /// Whether URLs may point at loopback, private, link-local… addresses (SSRF guard off).
    pub allow_private_ips: bool,
    /// Per attempt.
    pub request_timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first retry is immediate, then `backoff_factor × 2^(n-1)`, capped at 60 s.
    pub backoff_factor: Duration,
    /// Deliveries in flight at once.
    pub max_workers: usize,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        Self {
            allowed_schemes: vec!["https".into()],
            allow_private_ips: false,
            request_timeout: Duration::from_secs(30),
            max_retries: 3,
            backoff_factor: Duration::from_secs(1),
            max_workers: 10,
        }
    }
}

impl WebhookPolicy {
    /// MLflow's environment variables over MLflow's defaults.
    pub fn from_env() -> Self {
        let mut policy = Self::default();
        let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        if let Some(schemes) = var("MLFLOW_WEBHOOK_ALLOWED_SCHEMES") {
            policy.allowed_schemes =
                schemes.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        }
        if let Some(allow) = var("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS") {
            policy.allow_private_ips = matches!(allow.to_ascii_lowercase().as_str(), "true" | "1");
        }
        if let Some(seconds) = var("MLFLOW_WEBHOOK_REQUEST_TIMEOUT").and_then(|v| v.parse::<u64>().ok()) {
            policy.request_timeout = Duration::from_secs(seconds.max(1));
        }
        if let Some(retries) = var("MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES").and_then(|v| v.parse::<u32>().ok()) {
            policy.max_retries = retries.min(10);
        }
        if let Some(workers) = var("MLFLOW_WEBHOOK_DELIVERY_MAX_WORKERS").and_then(|v| v.parse::<usize>().ok()) {
            policy.max_workers = workers.clamp(1, 256);
        }
        policy
    }
}

/// The policy in force, its HTTP client and its worker permits.
struct Runtime {
    policy: WebhookPolicy,
    client: reqwest::Client,
    workers: Arc<Semaphore>,
}

static RUNTIME: RwLock<Option<Arc<Runtime>>> = RwLock::new(None);
/// Wakes this process's outbox loops when a delivery is queued or a retry falls due.
static OUTBOX_WAKE: Notify = Notify::const_new();

fn build_runtime(policy: WebhookPolicy) -> Arc<Runtime> {
    let mut builder = reqwest::Client::builder()
        // A proxy would make the checked peer the proxy, not the receiver.
        .no_proxy()
        // A redirect could lead anywhere; MLflow's receivers answer directly.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(policy.request_timeout)
        .user_agent(concat!("ferroflow-webhooks/", env!("CARGO_PKG_VERSION")));
    if !policy.allow_private_ips {
        builder = builder.dns_resolver(PublicOnlyResolver);
    }
    let client = builder.build().unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot build the webhook HTTP client; using defaults");
        reqwest::Client::new()
    });
    let workers = Arc::new(Semaphore::new(policy.max_workers.max(1)));
    Arc::new(Runtime { policy, client, workers })
}

/// Replaces the delivery policy (the default comes from MLflow's environment variables).
pub fn set_policy(policy: WebhookPolicy) {
    let runtime = build_runtime(policy);
    *RUNTIME.write().unwrap_or_else(|e| e.into_inner()) = Some(runtime);
}

fn runtime() -> Arc<Runtime> {
    if let Some(runtime) = RUNTIME.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Arc::clone(runtime);
    }
    let mut slot = RUNTIME.write().unwrap_or_else(|e| e.into_inner());
    Arc::clone(slot.get_or_insert_with(|| build_runtime(WebhookPolicy::from_env())))
}

/// The policy in force.
pub fn policy() -> WebhookPolicy {
    runtime().policy.clone()
}

// ---------------------------------------------------------------- URL checks

/// Python's `repr` of a string, as MLflow's messages show URLs.
fn repr(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The parts of a URL MLflow looks at, split like Python's `urlparse`.
struct UrlParts<'a> {
    scheme: String,
    host: &'a str,
}

fn url_parts(url: &str) -> UrlParts<'_> {
    let (scheme, rest) = match url.split_once(':') {
        Some((scheme, rest))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            (scheme.to_ascii_lowercase(), rest)
        }
        _ => (String::new(), url),
    };
    let host = match rest.strip_prefix("//") {
        Some(after) => {
            let authority = &after[..after.find(['/', '?', '#']).unwrap_or(after.len())];
            let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if let Some(bracketed) = host_port.strip_prefix('[') {
                bracketed.split_once(']').map_or("", |(h, _)| h)
            } else {
                host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
            }
        }
        None => "",
    };
    UrlParts { scheme, host }
}

/// MLflow's `is_global`, also looking through IPv6 forms that embed an IPv4 address.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard
                || (s[0] == 0x2001 && s[1] < 0x0200)) // IETF protocol assignments
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

/// IPv4-mapped, 6to4 and NAT64 addresses carry an IPv4 address that is what gets reached.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[0] == 0x2002 {
        return Some(from(s[1], s[2]));
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0) {
        return Some(from(s[6], s[7]));
    }
    None
}

async fn resolve(host: &str) -> std::io::Result<Vec<IpAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let lookup = tokio::net::lookup_host((host, 0));
    match tokio::time::timeout(Duration::from_secs(5), lookup).await {
        Ok(addrs) => Ok(addrs?.map(|a| a.ip()).collect()),
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out")),
    }
}

/// MLflow's `_validate_webhook_url`: an allowed scheme, a host, and (unless private
/// addresses are allowed) a host that resolves to public addresses only.
pub async fn validate_url(url: &str) -> Result<()> {
    validate_url_with(url, &policy()).await
}

async fn validate_url_with(url: &str, policy: &WebhookPolicy) -> Result<()> {
    if url.trim().is_empty() {
        return Err(Error::invalid_parameter(format!("Webhook URL cannot be empty or just whitespace: {}", repr(url))));
    }
    let parts = url_parts(url);
    if !policy.allowed_schemes.iter().any(|s| s.eq_ignore_ascii_case(&parts.scheme)) {
        return Err(Error::invalid_parameter(format!(
            "Invalid webhook URL scheme: {}. Allowed schemes are: {}.",
            repr(&parts.scheme),
            policy.allowed_schemes.join(", ")
        )));
    }
    if parts.host.is_empty() {
        return Err(Error::invalid_parameter(format!("Webhook URL must include a hostname: {}", repr(url))));
    }
    if let Err(e) = reqwest::Url::parse(url) {
        return Err(Error::invalid_parameter(format!("Invalid webhook URL {}: {e}", repr(url))));
    }
    if policy.allow_private_ips {
        return Ok(());
    }
    let host = parts.host.to_ascii_lowercase();
    let addresses = resolve(&host)
        .await
        .map_err(|e| Error::invalid_parameter(format!("Cannot resolve Webhook URL hostname {}: {e}", repr(&host))))?;
    if let Some(ip) = addresses.into_iter().find(|ip| !is_public_ip(*ip)) {
        return Err(Error::invalid_parameter(format!(
            "Webhook URL must not resolve to a non-public IP address. {} resolves to {ip}.",
            repr(&host)
        )));
    }
    Ok(())
}

/// A resolver that only hands out public addresses, so a name cannot be re-pointed at an
/// internal address between the check and the connection.
struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses = resolve(&host).await?;
            let public: Vec<SocketAddr> =
                addresses.into_iter().filter(|ip| is_public_ip(*ip)).map(|ip| SocketAddr::new(ip, 0)).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

// ---------------------------------------------------------------- payloads

/// One value of a payload field.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Str(String),
    Null,
    Int(i64),
    Float(f64),
    /// A `{key: value}` object, in the given order.
    Tags(Vec<KeyValue>),
}

impl From<&str> for Field {
    fn from(value: &str) -> Self {
        Field::Str(value.to_string())
    }
}

impl From<String> for Field {
    fn from(value: String) -> Self {
        Field::Str(value)
    }
}

impl From<Option<String>> for Field {
    fn from(value: Option<String>) -> Self {
        value.map_or(Field::Null, Field::Str)
    }
}

/// A payload: named fields in MLflow's order (its `TypedDict`s).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Payload(pub Vec<(&'static str, Field)>);

impl Payload {
    pub fn with(mut self, name: &'static str, value: impl Into<Field>) -> Self {
        self.0.push((name, value.into()));
        self
    }

    pub fn tags(mut self, tags: Vec<KeyValue>) -> Self {
        self.0.push(("tags", Field::Tags(tags)));
        self
    }
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Field::Str(s) => serializer.serialize_str(s),
            Field::Null => serializer.serialize_none(),
            Field::Int(n) => serializer.serialize_i64(*n),
            Field::Float(f) => serializer.serialize_f64(*f),
            Field::Tags(tags) => {
                let mut map = serializer.serialize_map(Some(tags.len()))?;
                for tag in tags {
                    map.serialize_entry(&tag.key, &tag.value)?;
                }
                map.end()
            }
        }
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The example payload MLflow sends for `webhooks/{id}/test` (`get_example_payload_for_event`).
pub fn example_payload(event: WebhookEvent) -> Payload {
    use WebhookAction as A;
    use WebhookEntity as E;
    let example_tags = || vec![KeyValue::new("example_key", "example_value")];
    let p = Payload::default();
    match (event.entity, event.action) {
        (E::RegisteredModel, _) => {
            p.with("name", "example_model").tags(example_tags()).with("description", "An example registered model")
        }
        (E::ModelVersion, _) => p
            .with("name", "example_model")
            .with("version", "1")
            .with("source", "models:/123")
            .with("run_id", "abcd1234abcd5678")
            .tags(example_tags())
            .with("description", "An example model version"),
        (E::ModelVersionTag, A::Set) => p
            .with("name", "example_model")
            .with("version", "1")
            .with("key", "example_key")
            .with("value", "example_value"),
        (E::ModelVersionTag, _) => p.with("name", "example_model").with("version", "1").with("key", "example_key"),
        (E::ModelVersionAlias, A::Created) => {
            p.with("name", "example_model").with("alias", "example_alias").with("version", "1")
        }
        (E::ModelVersionAlias, _) => p.with("name", "example_model").with("alias", "example_alias"),
        (E::Prompt, _) => {
            p.with("name", "example_prompt").tags(example_tags()).with("description", "An example prompt")
        }
        (E::PromptVersion, _) => p
            .with("name", "example_prompt")
            .with("version", "1")
            .with("template", "Hello {{name}}!")
            .tags(example_tags())
            .with("description", "An example prompt version"),
        (E::PromptTag, A::Set) => {
            p.with("name", "example_prompt").with("key", "example_key").with("value", "example_value")
        }
        (E::PromptTag, _) => p.with("name", "example_prompt").with("key", "example_key"),
        (E::PromptVersionTag, A::Set) => p
            .with("name", "example_prompt")
            .with("version", "1")
            .with("key", "example_key")
            .with("value", "example_value"),
        (E::PromptVersionTag, _) => p.with("name", "example_prompt").with("version", "1").with("key", "example_key"),
        (E::PromptAlias, A::Created) => {
            p.with("name", "example_prompt").with("alias", "example_alias").with("version", "1")
        }
        (E::PromptAlias, _) => p.with("name", "example_prompt").with("alias", "example_alias"),
        (E::BudgetPolicy, _) => p
            .with("budget_policy_id", "bp-abc123")
            .with("budget_unit", "USD")
            .with("budget_amount", Field::Float(100.0))
            .with("current_spend", Field::Float(105.5))
            .with("duration_unit", "MONTHS")
            .with("duration_value", Field::Int(1))
            .with("target_scope", "ENDPOINT")
            .with("workspace", "default")
            .with("target_value", "ep-abc123")
            .with("window_start", Field::Int(1_704_067_200_000)),
    }
}

/// `json.dumps` output: `", "` and `": "` separators, non-ASCII escaped as `\uXXXX`.
pub fn python_json<T: Serialize>(value: &T) -> String {
    struct PythonFormatter;

    impl serde_json::ser::Formatter for PythonFormatter {
        fn begin_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                writer.write_all(b", ")
            }
        }

        fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, writer: &mut W, first: bool) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                writer.write_all(b", ")
            }
        }

        fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
            writer.write_all(b": ")
        }

        fn write_string_fragment<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            fragment: &str,
        ) -> std::io::Result<()> {
            for c in fragment.chars() {
                if c.is_ascii() && c != '\u{7f}' {
                    writer.write_all(&[c as u8])?;
                } else {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        write!(writer, "\\u{unit:04x}")?;
                    }
                }
            }
            Ok(())
        }
    }

    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    // Serializing plain strings, numbers and maps into memory cannot fail.
    let _ = value.serialize(&mut serializer);
    String::from_utf8(out).unwrap_or_default()
}

/// `datetime.now(timezone.utc).isoformat()`, e.g. `2026-01-02T03:04:05.678901+00:00`.
pub fn iso_timestamp(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs() as i64;
    let (days, rem) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let micros = since.subsec_micros();
    let fraction = if micros == 0 { String::new() } else { format!(".{micros:06}") };
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}+00:00")
}

/// `v1,<base64 HMAC-SHA256(secret, "<delivery id>.<timestamp>.<body>")>`.
pub fn signature(secret: &str, delivery_id: &str, timestamp: &str, body: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let signed = format!("{delivery_id}.{timestamp}.{body}");
    let tag = aws_lc_rs::hmac::sign(&key, signed.as_bytes());
    format!("{SIGNATURE_VERSION},{}", STANDARD.encode(tag.as_ref()))
}

// ---------------------------------------------------------------- sending

/// A webhook's host, for logs: never the path or query (they may hold tokens).
fn host_of(url: &str) -> &str {
    url_parts(url).host
}

/// The outcome of one delivery (after retries).
#[derive(Debug)]
pub struct Delivered {
    pub status: u16,
    pub body: String,
}

fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

fn backoff(policy: &WebhookPolicy, retry: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = if retry <= 1 { Duration::ZERO } else { policy.backoff_factor * 2u32.pow((retry - 1).min(16)) };
    let jitter = Duration::from_millis(u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 250);
    retry_after.unwrap_or(exponential + jitter).min(Duration::from_secs(60))
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The request body of `event` with `payload`, as MLflow writes it; its timestamp is now.
fn envelope(event: WebhookEvent, payload: &Payload) -> String {
    #[derive(Serialize)]
    struct Envelope<'a> {
        entity: &'static str,
        action: &'static str,
        timestamp: String,
        data: &'a Payload,
    }
    python_json(&Envelope {
        entity: event.entity.as_str(),
        action: event.action.as_str(),
        timestamp: iso_timestamp(SystemTime::now()),
        data: payload,
    })
}

/// What one attempt came to.
enum Attempt {
    Answered {
        delivered: Delivered,
        retry_after: Option<Duration>,
    },
    /// No answer: the connection failed or timed out (`retryable`), or the request could
    /// not be sent at all.
    Failed {
        message: String,
        retryable: bool,
    },
}

/// One POST of `body` to `webhook`, signed (when it has a secret) with the delivery id and
/// this moment's timestamp; reads at most `read_limit` bytes of the answer.
async fn attempt(
    runtime: &Runtime,
    secrets: &WebhookSecrets,
    webhook: &Webhook,
    delivery_id: &str,
    body: &str,
    read_limit: usize,
) -> Result<Attempt> {
    validate_url(&webhook.url).await?;
    let unix_timestamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs().to_string();
    let mut request = runtime
        .client
        .post(&webhook.url)
        .timeout(runtime.policy.request_timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(DELIVERY_ID_HEADER, delivery_id)
        .header(TIMESTAMP_HEADER, &unix_timestamp)
        .body(body.to_string());
    // A secret that cannot be opened fails the delivery rather than sending it unsigned.
    if let Some(stored) = webhook.secret.as_deref().filter(|s| !s.is_empty()) {
        request =
            request.header(SIGNATURE_HEADER, signature(&secrets.open(stored)?, delivery_id, &unix_timestamp, body));
    }
    Ok(match request.send().await {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let retry_after = retry_after(&response);
            let mut bytes = Vec::new();
            while bytes.len() < read_limit {
                match response.chunk().await {
                    Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            bytes.truncate(read_limit);
            Attempt::Answered {
                delivered: Delivered { status, body: String::from_utf8_lossy(&bytes).into_owned() },
                retry_after,
            }
        }
        Err(e) => Attempt::Failed {
            retryable: e.is_connect() || e.is_timeout() || e.is_request(),
            message: e.without_url().to_string(),
        },
    })
}

/// Sends one event to one webhook now, retrying in place as MLflow's session does (the
/// `test` endpoint's path, which answers with the outcome).
async fn send(
    runtime: &Runtime,
    secrets: &WebhookSecrets,
    webhook: &Webhook,
    event: WebhookEvent,
    payload: &Payload,
    read_limit: usize,
) -> Result<Delivered> {
    let body = envelope(event, payload);
    let delivery_id = uuid::Uuid::new_v4().to_string();
    let policy = &runtime.policy;
    let mut retry = 0;
    loop {
        let can_retry = retry < policy.max_retries;
        match attempt(runtime, secrets, webhook, &delivery_id, &body, read_limit).await? {
            Attempt::Answered { delivered, retry_after } if can_retry && retryable_status(delivered.status) => {
                retry += 1;
                tokio::time::sleep(backoff(policy, retry, retry_after)).await;
            }
            Attempt::Answered { delivered, .. } => return Ok(delivered),
            Attempt::Failed { retryable: true, .. } if can_retry => {
                retry += 1;
                tokio::time::sleep(backoff(policy, retry, None)).await;
            }
            Attempt::Failed { message, .. } => {
                return Err(Error::internal(format!("webhook request failed after {retry} retries: {message}")))
            }
        }
    }
}

/// `webhooks/{id}/test`: sends the example payload of `event` (or of the webhook's first
/// event) now and reports what happened.
pub async fn test(webhook: &Webhook, event: Option<WebhookEvent>, secrets: &WebhookSecrets) -> TestResult {
    let Some(event) = event.or_else(|| webhook.events.first().copied()) else {
        return TestResult::failed("Failed to test webhook: the webhook has no events".into());
    };
    let runtime = runtime();
    match send(&runtime, secrets, webhook, event, &example_payload(event), MAX_TEST_RESPONSE_BYTES).await {
        Ok(delivered) => TestResult {
            success: delivered.status < 400,
            response_status: Some(delivered.status),
            response_body: Some(delivered.body),
            error_message: None,
        },
        Err(e) => TestResult::failed(format!("Failed to test webhook: {}", e.message)),
    }
}

/// `mlflow.WebhookTestResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl TestResult {
    fn failed(message: String) -> Self {
        Self { success: false, response_status: None, response_body: None, error_message: Some(message) }
    }
}

// ---------------------------------------------------------------- triggering

/// What a registry action announces.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// An event decided by the request itself (creates: the request's tags say prompt or not).
    Event(WebhookEvent, Payload),
    /// A model event, or the prompt event when the named registered model is a prompt.
    ModelOrPrompt { name: String, model: WebhookEvent, prompt: WebhookEvent, payload: Payload },
    /// Only announced when the named registered model is a prompt (prompt tags).
    PromptOnly { name: String, prompt: WebhookEvent, payload: Payload },
}

/// Queues a registry action's deliveries, one per subscribed webhook, in the store's
/// outbox, and wakes the outbox loop. Never fails the caller: a failure is logged.
pub async fn notify(store: Arc<dyn Store>, trigger: Trigger) {
    match queue(&store, trigger).await {
        Ok(true) => OUTBOX_WAKE.notify_one(),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e.message, "webhook deliveries could not be queued"),
    }
}

async fn subscribers(store: &Arc<dyn Store>, event: WebhookEvent) -> Result<Vec<Webhook>> {
    Ok(store.list_webhooks_by_event(event).await?.into_iter().filter(Webhook::is_active).collect())
}

/// Queues the deliveries of `trigger`; whether there were any.
async fn queue(store: &Arc<dyn Store>, trigger: Trigger) -> Result<bool> {
    let (event, payload, webhooks) = match trigger {
        Trigger::Event(event, payload) => {
            let webhooks = subscribers(store, event).await?;
            (event, payload, webhooks)
        }
        Trigger::ModelOrPrompt { name, model, prompt, payload } => {
            let for_model = subscribers(store, model).await?;
            let for_prompt = subscribers(store, prompt).await?;
            if for_model.is_empty() && for_prompt.is_empty() {
                return Ok(false);
            }
            let is_prompt = store.get_registered_model(&name).await.is_ok_and(|m| m.is_prompt());
            if is_prompt {
                (prompt, payload, for_prompt)
            } else {
                (model, payload, for_model)
            }
        }
        Trigger::PromptOnly { name, prompt, payload } => {
            let webhooks = subscribers(store, prompt).await?;
            if webhooks.is_empty() || !store.get_registered_model(&name).await.is_ok_and(|m| m.is_prompt()) {
                return Ok(false);
            }
            (prompt, payload, webhooks)
        }
    };
    if webhooks.is_empty() {
        return Ok(false);
    }
    let body = envelope(event, &payload);
    let deliveries = webhooks
        .into_iter()
        .map(|webhook| OutboxDelivery {
            delivery_id: uuid::Uuid::new_v4().to_string(),
            webhook_id: webhook.webhook_id,
            body: body.clone(),
            attempts: 0,
        })
        .collect();
    store.enqueue_webhook_deliveries(deliveries, now_ms()).await?;
    Ok(true)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Stops its outbox loop when dropped.
pub struct OutboxLoop(tokio::task::JoinHandle<()>);

impl Drop for OutboxLoop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts this process's outbox loop over `store`: it claims due deliveries (as many as
/// there are free delivery workers), sends each on its own task, and sleeps until woken
/// by a new delivery or a retry falling due, or for [`OUTBOX_POLL`] at most.
pub fn spawn_outbox(store: Arc<dyn Store>, secrets: Arc<WebhookSecrets>) -> OutboxLoop {
    OutboxLoop(tokio::spawn(async move {
        loop {
            let runtime = runtime();
            let free = runtime.workers.available_permits();
            let mut claimed_all = false;
            if free > 0 {
                // Long enough for every attempt to end, timeout included, before another
                // replica may take the delivery over.
                let lease = runtime.policy.request_timeout * 2 + Duration::from_secs(10);
                let now = now_ms();
                match store.claim_webhook_deliveries(now, now + lease.as_millis() as i64, free).await {
                    Ok(claimed) => {
                        claimed_all = claimed.len() == free;
                        for delivery in claimed {
                            let Ok(permit) = Arc::clone(&runtime.workers).try_acquire_owned() else { break };
                            let (store, secrets, runtime) =
                                (Arc::clone(&store), Arc::clone(&secrets), Arc::clone(&runtime));
                            tokio::spawn(async move {
                                deliver(&store, &secrets, &runtime, delivery).await;
                                drop(permit);
                                // A worker is free again: there may be more to claim.
                                OUTBOX_WAKE.notify_one();
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e.message, "cannot claim webhook deliveries"),
                }
            }
            if claimed_all {
                continue;
            }
            let _ = tokio::time::timeout(OUTBOX_POLL, OUTBOX_WAKE.notified()).await;
        }
    }))
}

/// One attempt at a claimed delivery, then its fate: done (sent, refused for good, or its
/// webhook gone or disabled), or rescheduled with backoff while retries remain.
async fn deliver(store: &Arc<dyn Store>, secrets: &WebhookSecrets, runtime: &Runtime, delivery: OutboxDelivery) {
    let policy = &runtime.policy;
    let webhook = match store.get_webhook(&delivery.webhook_id).await {
        Ok(webhook) if webhook.is_active() => webhook,
        Ok(_) => return finish(store, &delivery).await,
        Err(e) if e.code == ferroflow_core::ErrorCode::ResourceDoesNotExist => return finish(store, &delivery).await,
        Err(e) => {
            tracing::warn!(webhook_id = %delivery.webhook_id, error = %e.message, "cannot read a webhook to deliver to");
            return reschedule(store, &delivery, backoff(policy, delivery.attempts, None)).await;
        }
    };
    let host = host_of(&webhook.url);
    let retries_left = delivery.attempts <= policy.max_retries;
    match attempt(runtime, secrets, &webhook, &delivery.delivery_id, &delivery.body, 0).await {
        Ok(Attempt::Answered { delivered, retry_after }) if retries_left && retryable_status(delivered.status) => {
            reschedule(store, &delivery, backoff(policy, delivery.attempts, retry_after)).await
        }
        Ok(Attempt::Answered { delivered, .. }) => {
            if delivered.status < 400 {
                tracing::debug!(webhook_id = %webhook.webhook_id, status = delivered.status, "webhook delivered");
            } else {
                tracing::warn!(webhook_id = %webhook.webhook_id, host, status = delivered.status, "webhook receiver refused the delivery");
            }
            finish(store, &delivery).await
        }
        Ok(Attempt::Failed { retryable: true, .. }) if retries_left => {
            reschedule(store, &delivery, backoff(policy, delivery.attempts, None)).await
        }
        Ok(Attempt::Failed { message, .. }) => {
            tracing::warn!(webhook_id = %webhook.webhook_id, host, error = %message, attempts = delivery.attempts, "webhook delivery failed");
            finish(store, &delivery).await
        }
        Err(e) => {
            tracing::warn!(webhook_id = %webhook.webhook_id, host, error = %e.message, "webhook delivery failed");
            finish(store, &delivery).await
        }
    }
}

async fn finish(store: &Arc<dyn Store>, delivery: &OutboxDelivery) {
    if let Err(e) = store.finish_webhook_delivery(&delivery.delivery_id).await {
        // Its lease runs out and it is sent again: at least once, never lost.
        tracing::warn!(error = %e.message, "cannot mark a webhook delivery done");
    }
}

async fn reschedule(store: &Arc<dyn Store>, delivery: &OutboxDelivery, after: Duration) {
    let at = now_ms() + after.as_millis() as i64;
    match store.reschedule_webhook_delivery(&delivery.delivery_id, at).await {
        Ok(()) => {
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                OUTBOX_WAKE.notify_one();
            });
        }
        Err(e) => tracing::warn!(error = %e.message, "cannot reschedule a webhook delivery"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_written_like_python() {
        let payload = Payload::default()
            .with("name", "m\u{e9}\u{1F600}")
            .tags(vec![KeyValue::new("b", "1"), KeyValue::new("a", "\"q\"\n")])
            .with("description", Field::Null);
        assert_eq!(
            python_json(&payload),
            r#"{"name": "m\u00e9\ud83d\ude00", "tags": {"b": "1", "a": "\"q\"\n"}, "description": null}"#
        );
    }

    #[test]
    fn timestamps_are_python_isoformat() {
        let at = UNIX_EPOCH + Duration::from_micros(1_767_323_045_678_901);
        assert_eq!(iso_timestamp(at), "2026-01-02T03:04:05.678901+00:00");
        assert_eq!(iso_timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00+00:00");
    }

    #[test]
    fn signatures_match_the_standard_webhooks_reference() {
        // HMAC-SHA256("key", "id.1.{}") computed with Python's hmac module.
        assert_eq!(signature("key", "id", "1", "{}"), "v1,5PVmP2AfJGwnp9flV+flrzfukNWA9zyUdqvI+IQalVs=");
    }

    #[test]
    fn public_and_private_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public_ip(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public_ip(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn the_default_policy_refuses_internal_targets() {
        let policy = WebhookPolicy::default();
        let check = |url: &'static str| {
            let policy = policy.clone();
            async move { validate_url_with(url, &policy).await.map_err(|e| e.message) }
        };
        assert_eq!(
            check("http://example.com/h").await.unwrap_err(),
            "Invalid webhook URL scheme: 'http'. Allowed schemes are: https."
        );
        for internal in
            ["https://127.0.0.1/h", "https://[::1]:8443/h", "https://169.254.169.254/latest", "https://localhost/h"]
        {
            let message = check(internal).await.unwrap_err();
            assert!(message.contains("must not resolve to a non-public IP address"), "{internal}: {message}");
        }
        assert!(check("https://8.8.8.8/hook").await.is_ok());
        let open = WebhookPolicy { allowed_schemes: vec!["http".into()], allow_private_ips: true, ..policy.clone() };
        assert!(validate_url_with("http://127.0.0.1:9/h", &open).await.is_ok());
    }

    #[test]
    fn url_parts_like_urlparse() {
        let parts = url_parts("HTTPS://user:pw@Example.com:8443/x?y#z");
        assert_eq!((parts.scheme.as_str(), parts.host), ("https", "Example.com"));
        assert_eq!(url_parts("http://[::1]:80/").host, "::1");
        assert_eq!(url_parts("http:///hook").host, "");
        assert_eq!(url_parts("ftp://h/x").scheme, "ftp");
    }
}
