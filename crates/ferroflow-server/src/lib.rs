//! ferroflow's HTTP layer: MLflow's REST API on axum. Handlers decode requests
//! ([`wire`]), validate them with the core rules, call the [`TrackingStore`] once, and
//! encode the answer; every error leaves through [`error::ApiError`].
//! Each handler module owns its routes.

pub mod error;
pub mod handlers;
pub mod serve;
pub mod ui;
pub mod wire;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ferroflow_artifacts::{ArtifactRepository, RootRepositories};
use ferroflow_store::Store;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use handlers::graphql::GraphqlLimits;
pub use handlers::webhooks::secrets::WebhookSecrets;
use handlers::{service, tracking};
pub use serve::ConnectionLimits;

/// The default cap on one artifact upload: explicit, and large enough for big models.
pub const DEFAULT_MAX_ARTIFACT_BYTES: u64 = 64 * 1024 * 1024 * 1024;

/// Settings the handlers need besides the stores.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The largest single artifact upload accepted, in bytes.
    pub max_artifact_bytes: u64,
    /// Whether large uploads may use the proxied multipart protocol (`mpu/*`). Part URLs
    /// point back at this server, so a reverse proxy that hides the public host (no
    /// `X-Forwarded-Host`) needs this off.
    pub multipart_uploads: bool,
    /// Encrypts webhook secrets at rest; the default holds a key of this process only
    /// (`ferroflow server` reads a persistent one, see `FERROFLOW_WEBHOOK_SECRET_KEY`).
    pub webhook_secrets: Arc<WebhookSecrets>,
    /// Connection cap and timeouts.
    pub connections: ConnectionLimits,
    /// The server's own artifact locations (`--default-artifact-root`,
    /// `--artifacts-destination`). A model-version source on one of their hosts is not
    /// refused as host-addressed, as MLflow trusts them (its `_MLFLOW_SERVER_ARTIFACT_ROOT`).
    pub trusted_artifact_locations: Vec<String>,
    /// MLflow's raisable `/graphql` limits (root fields and aliases per query).
    pub graphql: GraphqlLimits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_artifact_bytes: DEFAULT_MAX_ARTIFACT_BYTES,
            multipart_uploads: true,
            webhook_secrets: Arc::new(WebhookSecrets::new(&WebhookSecrets::generate_key())),
            connections: ConnectionLimits::default(),
            trusted_artifact_locations: Vec::new(),
            graphql: GraphqlLimits::default(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The proxied artifact store; `None` when artifacts are not served (no-proxy mode).
    pub artifacts: Option<Arc<ArtifactRepository>>,
    /// The other artifact roots of runs and models (local folders, object stores), read
    /// for listings and downloads as MLflow's server reads them.
    pub roots: Arc<RootRepositories>,
    pub config: Arc<ServerConfig>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, artifacts: Option<ArtifactRepository>, config: ServerConfig) -> Self {
        Self {
            store,
            artifacts: artifacts.map(Arc::new),
            roots: Arc::new(RootRepositories::default()),
            config: Arc::new(config),
        }
    }
}

/// The RPCs under `/api/2.0/mlflow/` (and `/ajax-api/2.0/mlflow/` for the web UI).
fn mlflow_api() -> Router<AppState> {
    Router::new()
        .route("/experiments/create", post(tracking::create_experiment))
        .route("/experiments/get", get(tracking::get_experiment))
        .route("/experiments/get-by-name", get(tracking::get_experiment_by_name))
        .route("/experiments/search", post(tracking::search_experiments).get(tracking::search_experiments))
        .route("/experiments/update", post(tracking::update_experiment))
        .route("/experiments/delete", post(tracking::delete_experiment))
        .route("/experiments/restore", post(tracking::restore_experiment))
        .route("/experiments/set-experiment-tag", post(tracking::set_experiment_tag))
        .route("/experiments/delete-experiment-tag", post(tracking::delete_experiment_tag))
        .route("/runs/create", post(tracking::create_run))
        .route("/runs/get", get(tracking::get_run))
        .route("/runs/update", post(tracking::update_run))
        .route("/runs/delete", post(tracking::delete_run))
        .route("/runs/restore", post(tracking::restore_run))
        .route("/runs/search", post(tracking::search_runs))
        .route("/runs/log-metric", post(tracking::log_metric))
        .route("/runs/log-parameter", post(tracking::log_param))
        .route("/runs/log-batch", post(tracking::log_batch))
        .route("/runs/set-tag", post(tracking::set_tag))
        .route("/runs/delete-tag", post(tracking::delete_tag))
        .route("/runs/log-inputs", post(tracking::log_inputs))
        .route("/runs/outputs", post(tracking::log_outputs))
        .route("/runs/log-model", post(tracking::log_model))
        .route("/metrics/get-history", get(tracking::get_metric_history))
        .route("/metrics/get-history-bulk-interval", get(tracking::get_metric_history_bulk_interval))
        .merge(handlers::logged_models::routes())
        .merge(handlers::artifacts::api_routes())
        .merge(handlers::registry::routes())
}

/// The whole application: API routes under both prefixes, service endpoints, logging.
pub fn router(state: AppState) -> Router {
    let server_info = Router::new().route("/server-info", get(service::server_info));
    let rpc_limit = wire::MAX_REQUEST_BYTES as u64;
    let artifact_limit = state.config.max_artifact_bytes;
    let rpcs = || mlflow_api().layer(middleware::from_fn(move |r, n| refuse_declared_over(rpc_limit, r, n)));
    // Artifact bytes arrive by PUT (whole files and multipart parts); the proxy's other
    // requests are JSON messages under the RPC limit.
    let proxy = || {
        handlers::artifacts::proxy_routes().layer(middleware::from_fn(move |r: Request, n| {
            let limit = if r.method() == axum::http::Method::PUT { artifact_limit } else { rpc_limit };
            refuse_declared_over(limit, r, n)
        }))
    };
    Router::new()
        .nest("/api/2.0/mlflow", rpcs())
        .nest("/ajax-api/2.0/mlflow", rpcs().merge(tracking::ajax_routes()))
        // ferroflow's own UI endpoints (whole charts, live points, parameter importance),
        // under a prefix MLflow's server 404s.
        .nest(
            handlers::charts::PREFIX,
            handlers::charts::routes()
                .merge(handlers::insights::routes())
                .layer(middleware::from_fn(move |r, n| refuse_declared_over(rpc_limit, r, n))),
        )
        .nest("/api/2.0/mlflow-artifacts", proxy())
        .nest("/ajax-api/2.0/mlflow-artifacts", proxy())
        // The web UI's artifact downloads and upload, at MLflow's paths; the upload checks
        // its own 10 MB limit with MLflow's answer (see `artifacts_ui`).
        .merge(handlers::artifacts_ui::routes())
        .nest("/api/3.0/mlflow", server_info.clone())
        .nest("/ajax-api/3.0/mlflow", server_info)
        // `/graphql` only at the root, as MLflow serves it (with its own body limit).
        .merge(handlers::graphql::routes())
        .route("/health", get(service::health))
        .route("/version", get(service::version))
        .fallback(ui::fallback)
        .layer(DefaultBodyLimit::max(wire::MAX_REQUEST_BYTES))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<_>| {
                    // Path only: query strings are the client's business and stay out of logs.
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(tower_http::LatencyUnit::Micros)),
        )
        .with_state(state)
}

/// Refuses a request whose declared `Content-Length` is over `limit` before reading any
/// of its body, so at once and without the `100 Continue` that would invite the upload
/// (hyper sends it only when the body is first read).
async fn refuse_declared_over(limit: u64, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit => error::ApiError(ferroflow_core::Error::too_large(format!(
            "The request body of {length} bytes is larger than this server accepts ({limit} bytes)."
        )))
        .into_response(),
        _ => next.run(request).await,
    }
}

/// How long in-flight requests may take to finish once shutdown begins.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves until `shutdown` resolves, then finishes in-flight requests (at most 30 s),
/// within the connection cap and timeouts of the state's [`ServerConfig::connections`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config.connections.clone();
    // Webhook deliveries queued by this or any other replica; stops with the server.
    let _outbox =
        handlers::webhooks::delivery::spawn_outbox(Arc::clone(&state.store), Arc::clone(&state.config.webhook_secrets));
    serve::serve_with_limits(listener, router(state), limits, shutdown, SHUTDOWN_GRACE).await
}
