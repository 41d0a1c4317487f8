//! Deny by default: each route is added with the [`Rule`] it needs ([`Routes`]), and the
//! [`guard`] middleware checks it before the handler runs. A route without a rule in the
//! table is refused to everyone, admins included, so a forgotten rule fails closed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, MatchedPath, Path, Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::{RequestExt, Router};
use ferroflow_core::auth::Action;
use ferroflow_core::{Error, ErrorCode};
use ferroflow_store::auth::{ExperimentOf, Resource};
use serde_json::Value;

use super::credentials::{same_token, CSRF_HEADER};
use super::{permission_denied, Auth, Caller, Via};
use crate::error::ApiError;
use crate::{wire, AppState};

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, signed in or not: health checks, the server's version, the login form.
    Public,
    /// Any signed-in user. Searches with this rule filter their answers themselves.
    Authenticated,
    Admin,
    /// The user named by the `username` field, or an admin.
    SelfOrAdmin,
    /// `Action` on the experiment that [`Locate`] finds.
    Experiment(Action, Locate),
    /// `Action` on the registered model named by the `name` field.
    Model(Action),
    /// EDIT on the model (`name`) and READ on the run or logged model the version's
    /// `run_id` and `source` point at, so nobody registers what they cannot read.
    CreateModelVersion,
    /// MANAGE on the resource named by `resource_type` and `resource_id` (MLflow 3's
    /// `users/permissions/*`).
    ManageResource,
}

/// Where a rule finds its experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locate {
    /// The `experiment_id` field; the default experiment "0" when absent.
    ExperimentId,
    /// Every id of the `experiment_ids` field.
    ExperimentIds,
    /// The `experiment_name` field.
    ExperimentName,
    /// The run of the `run_id` (or `run_uuid`) field.
    Run,
    /// The run of the query string's `run_uuid`, whatever the body holds (the UI's
    /// upload, whose body is the file).
    RunInQuery,
    /// Every run of the `run_ids` and `run_id` fields.
    Runs,
    /// The logged model of the path's `{model_id}`.
    LoggedModelInPath,
    /// The logged model of the `model_id` field.
    LoggedModelField,
    /// An artifact path's first segment (the proxy's `{*path}`): ferroflow lays artifacts
    /// out as `<experiment id>/…`.
    ArtifactPath,
    /// The same, from the `path` field (the proxy's listing).
    ArtifactPathField,
}

impl Rule {
    fn needs_fields(self) -> bool {
        !matches!(
            self,
            Rule::Public
                | Rule::Authenticated
                | Rule::Admin
                | Rule::Experiment(_, Locate::LoggedModelInPath | Locate::ArtifactPath)
        )
    }
}

/// An axum router that records each route's rule as the route is added.
pub struct Routes {
    router: Router<AppState>,
    rules: Vec<(Method, String, Rule)>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

/// Each (method, full path) a route serves, and its rule.
pub type RuleTable = HashMap<(Method, String), Rule>;

macro_rules! method_adders {
    ($($name:ident => $method:ident),*) => {$(
        pub fn $name<H, T>(self, path: &str, rule: Rule, handler: H) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.on(Method::$method, MethodFilter::$method, path, rule, handler)
        }
    )*};
}

impl Routes {
    pub fn new() -> Self {
        Routes { router: Router::new(), rules: Vec::new() }
    }

    method_adders!(get => GET, post => POST, put => PUT, patch => PATCH, delete => DELETE);

    fn on<H, T>(mut self, method: Method, filter: MethodFilter, path: &str, rule: Rule, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(path, on(filter, handler));
        self.rules.push((method, path.to_string(), rule));
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.rules.extend(other.rules);
        self
    }

    pub fn nest(mut self, prefix: &str, other: Routes) -> Self {
        self.router = self.router.nest(prefix, other.router);
        self.rules
            .extend(other.rules.into_iter().map(|(method, path, rule)| (method, format!("{prefix}{path}"), rule)));
        self
    }

    /// Applies layers (body limits, size checks) to the routes added so far.
    pub fn with_router(mut self, wrap: impl FnOnce(Router<AppState>) -> Router<AppState>) -> Self {
        self.router = wrap(self.router);
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, RuleTable) {
        let mut table = RuleTable::new();
        for (method, path, rule) in self.rules {
            table.insert((method, path), rule);
        }
        (self.router, table)
    }

    /// Every (method, path, rule), for tests and documentation.
    pub fn rules(&self) -> &[(Method, String, Rule)] {
        &self.rules
    }
}

/// The guard's state: the app, the auth settings and the rule table.
#[derive(Clone)]
pub struct Guard {
    pub app: AppState,
    pub auth: Arc<Auth>,
    pub table: Arc<RuleTable>,
}

/// Authenticates, checks the route's rule, and hands the handler a [`Caller`].
pub async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let api_path = request.uri().path().starts_with("/api/");
    match admit(&guard, request).await {
        Ok(request) => next.run(request).await,
        Err(error) => {
            let challenge = error.0.code == ErrorCode::Unauthenticated && api_path;
            let mut response = error.into_response();
            // Browsers would pop up their own login dialog for the UI's calls; only the
            // REST API asks for Basic credentials.
            if challenge {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"mlflow\""));
            }
            response
        }
    }
}

async fn admit(guard: &Guard, request: Request) -> Result<Request, ApiError> {
    let method = if request.method() == Method::HEAD { Method::GET } else { request.method().clone() };
    let matched = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_string());
    let rule = matched.as_ref().and_then(|path| guard.table.get(&(method.clone(), path.clone()))).copied();
    let Some(rule) = rule else {
        tracing::error!(%method, path = matched.as_deref().unwrap_or("?"), "a route declares no permission rule");
        return Err(ApiError(Error::new(
            ErrorCode::PermissionDenied,
            "This endpoint declares no permission rule, so it is refused to everyone.",
        )));
    };
    if rule == Rule::Public {
        return Ok(request);
    }
    let store = guard.app.store.as_ref();
    let address = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let caller = guard.auth.authenticate(store, request.headers(), address).await?;
    if let Via::Session { csrf } = &caller.via {
        let safe = matches!(method, Method::GET | Method::OPTIONS);
        let sent = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !safe && !same_token(sent, csrf) {
            return Err(ApiError(Error::new(ErrorCode::PermissionDenied, "The CSRF token is missing or wrong.")));
        }
    }
    let (mut request, fields) =
        if rule.needs_fields() { read_fields(request, rule).await? } else { (request, Fields::default()) };
    if !caller.is_admin {
        let path_params = match rule {
            Rule::Experiment(_, Locate::LoggedModelInPath | Locate::ArtifactPath) => request
                .extract_parts::<Path<HashMap<String, String>>>()
                .await
                .map(|Path(params)| params)
                .unwrap_or_default(),
            _ => HashMap::new(),
        };
        authorize(guard, &caller, rule, &fields, &path_params).await?;
    }
    request.extensions_mut().insert(caller);
    Ok(request)
}

/// The fields rules read, from a GET's query string or any other request's JSON body.
#[derive(Debug, Default, serde::Deserialize)]
struct Fields {
    experiment_id: Option<Value>,
    experiment_ids: Option<Value>,
    experiment_name: Option<Value>,
    run_id: Option<Value>,
    run_uuid: Option<Value>,
    run_ids: Option<Value>,
    model_id: Option<Value>,
    name: Option<Value>,
    username: Option<Value>,
    path: Option<Value>,
    source: Option<Value>,
    resource_type: Option<Value>,
    resource_id: Option<Value>,
}

/// A field's text: a string, or a number written as one. An empty string is no value,
/// as the handlers read it.
fn text(value: &Option<Value>) -> Option<String> {
    match value.as_ref()? {
        Value::String(text) if text.is_empty() => None,
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Array(items) if items.len() == 1 => text(&Some(items[0].clone())),
        _ => None,
    }
}

/// A repeated field's texts (a query string may hold one value or several).
fn texts(value: &Option<Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(|item| text(&Some(item.clone()))).collect(),
        Some(_) => text(value).into_iter().collect(),
        None => Vec::new(),
    }
}

fn required(value: &Option<Value>, name: &str) -> Result<String, ApiError> {
    text(value).ok_or_else(|| ApiError::invalid(format!("Missing value for required parameter '{name}'.")))
}

async fn read_fields(request: Request, rule: Rule) -> Result<(Request, Fields), ApiError> {
    let query = request.uri().query().unwrap_or("").to_string();
    if matches!(rule, Rule::Experiment(_, Locate::RunInQuery)) {
        let value = wire::request_fields(true, &query, request.uri().path(), &[])?;
        return Ok((request, serde_json::from_value(value).unwrap_or_default()));
    }
    let is_get = request.method() == Method::GET;
    let path = request.uri().path().to_string();
    let (parts, body) = request.into_parts();
    let bytes: Bytes = if is_get {
        Bytes::new()
    } else {
        axum::body::to_bytes(body, wire::MAX_REQUEST_BYTES).await.map_err(|_| {
            ApiError(Error::too_large(format!(
                "The request body is larger than this server accepts ({} bytes).",
                wire::MAX_REQUEST_BYTES
            )))
        })?
    };
    // The fast path: a JSON object whose keys need no renaming (as `Rpc` takes it), whose
    // other fields are skipped unread.
    let fast =
        (!is_get && wire::is_plain_object(&bytes)).then(|| serde_json::from_slice::<Fields>(&bytes).ok()).flatten();
    let fields = match fast {
        Some(fields) => fields,
        None => {
            let value = wire::request_fields(is_get, &query, &path, &bytes)?;
            serde_json::from_value(value).unwrap_or_default()
        }
    };
    Ok((Request::from_parts(parts, Body::from(bytes)), fields))
}

async fn authorize(
    guard: &Guard,
    caller: &Caller,
    rule: Rule,
    fields: &Fields,
    path_params: &HashMap<String, String>,
) -> Result<(), ApiError> {
    let store = guard.app.store.as_ref();
    let auth = &guard.auth;
    match rule {
        Rule::Public | Rule::Authenticated => Ok(()),
        Rule::Admin => Err(permission_denied()),
        Rule::SelfOrAdmin => match text(&fields.username) {
            Some(name) if name == caller.username => Ok(()),
            _ => Err(permission_denied()),
        },
        Rule::Experiment(action, locate) => {
            for experiment_id in experiments(guard, locate, fields, path_params).await? {
                auth.require(store, caller, &Resource::Experiment(experiment_id), action).await?;
            }
            Ok(())
        }
        Rule::Model(action) => {
            let name = required(&fields.name, "name")?;
            auth.require(store, caller, &Resource::RegisteredModel(name), action).await
        }
        Rule::CreateModelVersion => {
            let name = required(&fields.name, "name")?;
            auth.require(store, caller, &Resource::RegisteredModel(name), Action::Update).await?;
            let mut owners: Vec<ExperimentOf> = text(&fields.run_id).map(ExperimentOf::Run).into_iter().collect();
            let mut direct = Vec::new();
            if let Some(source) = text(&fields.source) {
                match source_owner(&source) {
                    Some(SourceOwner::Of(of)) => owners.push(of),
                    Some(SourceOwner::Experiment(id)) => direct.push(id),
                    None => {}
                }
            }
            for of in owners {
                // A source that names nothing on this server is refused, as elsewhere.
                direct.push(auth.experiment_of(store, of).await?.ok_or_else(permission_denied)?);
            }
            for experiment_id in direct {
                auth.require(store, caller, &Resource::Experiment(experiment_id), Action::Read).await?;
            }
            Ok(())
        }
        Rule::ManageResource => {
            let kind = required(&fields.resource_type, "resource_type")?;
            let key = required(&fields.resource_id, "resource_id")?;
            let resource = Resource::from_parts(&kind, key).ok_or_else(|| {
                ApiError::invalid(format!(
                    "Unsupported resource_type '{kind}'. Supported types are: experiment, registered_model."
                ))
            })?;
            auth.require(store, caller, &resource, Action::Manage).await
        }
    }
}

/// Where a model version's `source` lives, when it names something on this server.
enum SourceOwner {
    Of(ExperimentOf),
    Experiment(String),
}

fn source_owner(source: &str) -> Option<SourceOwner> {
    if let Some(rest) = source.strip_prefix("runs:/") {
        let run_id = rest.trim_start_matches('/').split('/').next()?;
        return Some(SourceOwner::Of(ExperimentOf::Run(run_id.to_string())));
    }
    if let Some(rest) = source.strip_prefix("models:/") {
        let model_id = rest.trim_start_matches('/').split('/').next()?;
        // `models:/<name>/<version>` names a registered version, not a logged model.
        return model_id.starts_with("m-").then(|| SourceOwner::Of(ExperimentOf::LoggedModel(model_id.to_string())));
    }
    let rest = source.strip_prefix("mlflow-artifacts:")?;
    let rest = rest.trim_start_matches('/');
    // `mlflow-artifacts://host/<path>` carries a host first.
    let rest = if source.starts_with("mlflow-artifacts://") { rest.split_once('/')?.1 } else { rest };
    rest.split('/').next().filter(|id| !id.is_empty()).map(|id| SourceOwner::Experiment(id.to_string()))
}

/// The experiments a request touches. A run, logged model or experiment name that
/// names nothing is refused (403) rather than passed on: the guard then never waves
/// through a request whose handler might read its target another way.
async fn experiments(
    guard: &Guard,
    locate: Locate,
    fields: &Fields,
    path_params: &HashMap<String, String>,
) -> Result<Vec<String>, ApiError> {
    let store = guard.app.store.as_ref();
    let auth = &guard.auth;
    let found = |of| async { auth.experiment_of(store, of).await?.ok_or_else(permission_denied) };
    Ok(match locate {
        Locate::ExperimentId => vec![text(&fields.experiment_id).unwrap_or_else(|| "0".to_string())],
        Locate::ExperimentIds => texts(&fields.experiment_ids),
        Locate::ExperimentName => {
            let name = required(&fields.experiment_name, "experiment_name")?;
            vec![found(ExperimentOf::ExperimentName(name)).await?]
        }
        Locate::Run => {
            let run_id = text(&fields.run_id)
                .or_else(|| text(&fields.run_uuid))
                .ok_or_else(|| ApiError::invalid("Missing value for required parameter 'run_id'."))?;
            vec![found(ExperimentOf::Run(run_id)).await?]
        }
        Locate::RunInQuery => {
            let run_id = required(&fields.run_uuid, "run_uuid")?;
            vec![found(ExperimentOf::Run(run_id)).await?]
        }
        Locate::Runs => {
            let mut ids = Vec::new();
            for run_id in texts(&fields.run_ids).into_iter().chain(texts(&fields.run_id)) {
                ids.push(found(ExperimentOf::Run(run_id)).await?);
            }
            ids.sort();
            ids.dedup();
            ids
        }
        Locate::LoggedModelInPath | Locate::LoggedModelField => {
            let model_id = match locate {
                Locate::LoggedModelInPath => path_params.get("model_id").cloned(),
                _ => text(&fields.model_id),
            }
            .ok_or_else(|| ApiError::invalid("Missing value for required parameter 'model_id'."))?;
            vec![found(ExperimentOf::LoggedModel(model_id)).await?]
        }
        Locate::ArtifactPath | Locate::ArtifactPathField => {
            let raw = match locate {
                Locate::ArtifactPath => path_params.get("path").cloned(),
                _ => text(&fields.path),
            };
            vec![artifact_experiment(raw.as_deref())?]
        }
    })
}

/// The experiment id an artifact path starts with, after the same validation the
/// handlers apply; the root (no path) and anything not under an experiment is for admins.
fn artifact_experiment(raw: Option<&str>) -> Result<String, ApiError> {
    let raw = raw.filter(|raw| !raw.is_empty()).ok_or_else(permission_denied)?;
    let path = ferroflow_artifacts::ArtifactPath::parse(raw).map_err(|error| ApiError(error.into()))?;
    let first = path.as_str().split('/').next().unwrap_or_default();
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
        return Err(permission_denied());
    }
    Ok(first.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_name_their_owner() {
        let owner = |s| match source_owner(s) {
            Some(SourceOwner::Of(ExperimentOf::Run(id))) => format!("run {id}"),
            Some(SourceOwner::Of(ExperimentOf::LoggedModel(id))) => format!("model {id}"),
            Some(SourceOwner::Experiment(id)) => format!("experiment {id}"),
            Some(SourceOwner::Of(other)) => format!("{other:?}"),
            None => "none".into(),
        };
        assert_eq!(owner("runs:/abc/model"), "run abc");
        assert_eq!(owner("models:/m-123"), "model m-123");
        assert_eq!(owner("models:/churn/3"), "none");
        assert_eq!(owner("mlflow-artifacts:/7/abc/artifacts/model"), "experiment 7");
        assert_eq!(owner("mlflow-artifacts://host:5000/7/abc"), "experiment 7");
        assert_eq!(owner("s3://bucket/x"), "none");
    }

    #[test]
    fn artifact_paths_are_validated_before_their_experiment_is_read() {
        assert_eq!(artifact_experiment(Some("12/run/artifacts/a.txt")).unwrap(), "12");
        for refused in [None, Some(""), Some("x/run"), Some("1/../2/run"), Some("/1/run"), Some("%2e%2e/1")] {
            assert!(artifact_experiment(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn fields_read_strings_numbers_and_lists() {
        assert_eq!(text(&Some(Value::from(5))), Some("5".into()));
        assert_eq!(texts(&Some(serde_json::json!(["a", "b"]))), ["a", "b"]);
        assert_eq!(texts(&Some(Value::from("a"))), ["a"]);
        assert!(required(&None, "name").unwrap_err().0.message.contains("'name'"));
    }
}
