//! ferroflow's HTTP layer: MLflow's REST API on axum. Handlers decode requests
//! ([`wire`]), validate them with the core rules, call the [`TrackingStore`] once, and
//! encode the answer; every error leaves through [`error::ApiError`].
//! Each handler module owns its routes.

pub mod auth;
pub mod error;
pub mod handlers;
pub mod serve;
pub mod ui;
pub mod wire;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ferroflow_artifacts::{ArtifactRepository, RootRepositories};
use ferroflow_store::Store;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use auth::{Locate, Routes, Rule};
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
    /// `--app-name basic-auth`: users, permissions and the guard; `None` serves everyone.
    pub auth: Option<Arc<auth::Auth>>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, artifacts: Option<ArtifactRepository>, config: ServerConfig) -> Self {
        Self {
            store,
            artifacts: artifacts.map(Arc::new),
            roots: Arc::new(RootRepositories::default()),
            config: Arc::new(config),
            auth: None,
        }
    }
}

/// The RPCs under `/api/2.0/mlflow/` (and `/ajax-api/2.0/mlflow/` for the web UI), each
/// with the permission it needs (MLflow's basic-auth table; searches filter themselves).
fn mlflow_api() -> Routes {
    use ferroflow_core::auth::Action::{Delete, Read, Update};
    let experiment = |action| Rule::Experiment(action, Locate::ExperimentId);
    let run = |action| Rule::Experiment(action, Locate::Run);
    Routes::new()
        .post("/experiments/create", Rule::Authenticated, tracking::create_experiment)
        .get("/experiments/get", experiment(Read), tracking::get_experiment)
        .get(
            "/experiments/get-by-name",
            Rule::Experiment(Read, Locate::ExperimentName),
            tracking::get_experiment_by_name,
        )
        .post("/experiments/search", Rule::Authenticated, tracking::search_experiments)
        .get("/experiments/search", Rule::Authenticated, tracking::search_experiments)
        .post("/experiments/update", experiment(Update), tracking::update_experiment)
        .post("/experiments/delete", experiment(Delete), tracking::delete_experiment)
        .post("/experiments/restore", experiment(Delete), tracking::restore_experiment)
        .post("/experiments/set-experiment-tag", experiment(Update), tracking::set_experiment_tag)
        .post("/experiments/delete-experiment-tag", experiment(Update), tracking::delete_experiment_tag)
        .post("/runs/create", experiment(Update), tracking::create_run)
        .get("/runs/get", run(Read), tracking::get_run)
        .post("/runs/update", run(Update), tracking::update_run)
        .post("/runs/delete", run(Delete), tracking::delete_run)
        .post("/runs/restore", run(Delete), tracking::restore_run)
        .post("/runs/search", Rule::Authenticated, tracking::search_runs)
        .post("/runs/log-metric", run(Update), tracking::log_metric)
        .post("/runs/log-parameter", run(Update), tracking::log_param)
        .post("/runs/log-batch", run(Update), tracking::log_batch)
        .post("/runs/set-tag", run(Update), tracking::set_tag)
        .post("/runs/delete-tag", run(Update), tracking::delete_tag)
        .post("/runs/log-inputs", run(Update), tracking::log_inputs)
        .post("/runs/outputs", run(Update), tracking::log_outputs)
        .post("/runs/log-model", run(Update), tracking::log_model)
        .get("/metrics/get-history", run(Read), tracking::get_metric_history)
        .get(
            "/metrics/get-history-bulk-interval",
            Rule::Experiment(Read, Locate::Runs),
            tracking::get_metric_history_bulk_interval,
        )
        .merge(handlers::logged_models::routes())
        .merge(handlers::artifacts::api_routes())
        .merge(handlers::registry::routes())
}

/// Every route of the application with its rule (the users API only with auth on, as
/// MLflow serves it only from its auth app).
pub fn routes(state: &AppState) -> Routes {
    let server_info = || Routes::new().get("/server-info", Rule::Public, service::server_info);
    let rpc_limit = wire::MAX_REQUEST_BYTES as u64;
    let artifact_limit = state.config.max_artifact_bytes;
    let auth_on = state.auth.is_some();
    let rpcs = |ajax: bool| {
        let mut api = mlflow_api();
        if ajax {
            api = api.merge(tracking::ajax_routes());
        }
        if auth_on {
            api = api.merge(handlers::users::routes());
        }
        api.with_router(|router| router.layer(middleware::from_fn(move |r, n| refuse_declared_over(rpc_limit, r, n))))
    };
    // Artifact bytes arrive by PUT (whole files and multipart parts); the proxy's other
    // requests are JSON messages under the RPC limit.
    let proxy = || {
        handlers::artifacts::proxy_routes().with_router(|router| {
            router.layer(middleware::from_fn(move |r: Request, n| {
                let limit = if r.method() == axum::http::Method::PUT { artifact_limit } else { rpc_limit };
                refuse_declared_over(limit, r, n)
            }))
        })
    };
    let v3 = || {
        let mut v3 = server_info();
        if auth_on {
            v3 = v3.merge(handlers::users::v3_routes());
        }
        v3
    };
    let mut own = handlers::charts::routes().merge(handlers::insights::routes());
    if auth_on {
        own = own.merge(handlers::users::own_routes());
    }
    let mut routes = Routes::new()
        .nest("/api/2.0/mlflow", rpcs(false))
        .nest("/ajax-api/2.0/mlflow", rpcs(true))
        // ferroflow's own UI endpoints (whole charts, live points, parameter importance,
        // login and tokens), under a prefix MLflow's server 404s.
        .nest(
            handlers::charts::PREFIX,
            own.with_router(|router| {
                router.layer(middleware::from_fn(move |r, n| refuse_declared_over(rpc_limit, r, n)))
            }),
        )
        .nest("/api/2.0/mlflow-artifacts", proxy())
        .nest("/ajax-api/2.0/mlflow-artifacts", proxy())
        // The web UI's artifact downloads and upload, at MLflow's paths; the upload checks
        // its own 10 MB limit with MLflow's answer (see `artifacts_ui`).
        .merge(handlers::artifacts_ui::routes())
        .nest("/api/3.0/mlflow", v3())
        .nest("/ajax-api/3.0/mlflow", v3())
        // `/graphql` only at the root, as MLflow serves it (with its own body limit).
        .merge(handlers::graphql::routes())
        .get("/health", Rule::Public, service::health)
        .get("/version", Rule::Public, service::version);
    if auth_on {
        // Tokens for scripts and CI, under ferroflow's own REST prefix.
        routes = routes.nest(handlers::users::API_PREFIX, handlers::users::token_routes());
    }
    routes
}

/// The whole application: API routes under both prefixes, service endpoints, logging,
/// and, with auth on, the guard that checks every route's rule.
pub fn router(state: AppState) -> Router {
    let routes = routes(&state);
    router_with(state, routes)
}

/// [`router`] over a given route set (tests add a route without a rule through it).
pub fn router_with(state: AppState, routes: Routes) -> Router {
    let (mut router, table) = routes.into_parts();
    if let Some(auth) = &state.auth {
        let guard = auth::rules::Guard { app: state.clone(), auth: Arc::clone(auth), table: Arc::new(table) };
        router = router.route_layer(middleware::from_fn_with_state(guard, auth::rules::guard));
    }
    router
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
