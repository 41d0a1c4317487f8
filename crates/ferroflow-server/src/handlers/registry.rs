//! Model registry RPCs: registered models, versions, stages, aliases, tags and searches,
//! with MLflow's request checks (including its model-version source rules) and the
//! webhook events each action announces.

use crate::auth::{grant_creator, model_key, visible_to, Caller};
use crate::auth::{Routes, Rule};
use axum::extract::Extension;
use ferroflow_core::auth::Action;
use ferroflow_store::auth::Resource;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use ferroflow_core::registry::{
    parse_version, tags_mark_prompt, validate_alias_name, validate_alias_not_reserved, validate_model_name,
    validate_model_version_tag, validate_new_model_name, validate_registered_model_tag, validate_tag_key, ModelUri,
    ModelVersion, RegisteredModel, Stage, WebhookAction, WebhookEntity, WebhookEvent,
    DEFAULT_MAX_RESULTS_SEARCH_REGISTERED_MODELS, MAX_RESULTS_SEARCH_MODEL_VERSIONS,
    MAX_RESULTS_SEARCH_REGISTERED_MODELS, PROMPT_SOURCE_PLACEHOLDERS, PROMPT_TAG_KEY, PROMPT_TEXT_TAG_KEY,
    PROMPT_TYPE_TAG_KEY,
};
use ferroflow_core::types::{KeyValue, Page};
use ferroflow_core::{Error, ErrorCode};
use ferroflow_store::registry::{CreateModelVersion, CreateRegisteredModel, RegistrySearch};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::handlers::tracking::required_text;
use crate::handlers::webhooks::delivery::{self, Payload, Trigger};
use crate::wire::{lenient, Keyed, Paged, Rpc};
use crate::AppState;

type JsonResult = ApiResult<Json<Value>>;

/// Registry calls are checked through their model (`name`), as MLflow's table has them;
/// searches answer only the models the caller may read.
pub fn routes() -> Routes {
    let (read, update, delete) = (Rule::Model(Action::Read), Rule::Model(Action::Update), Rule::Model(Action::Delete));
    Routes::new()
        .post("/registered-models/create", Rule::Authenticated, create_registered_model)
        .get("/registered-models/get", read, get_registered_model)
        .post("/registered-models/rename", update, rename_registered_model)
        .patch("/registered-models/update", update, update_registered_model)
        .delete("/registered-models/delete", delete, delete_registered_model)
        .get("/registered-models/search", Rule::Authenticated, search_registered_models)
        .post("/registered-models/get-latest-versions", read, get_latest_versions)
        .get("/registered-models/get-latest-versions", read, get_latest_versions)
        .post("/registered-models/set-tag", update, set_registered_model_tag)
        .delete("/registered-models/delete-tag", update, delete_registered_model_tag)
        .post("/registered-models/alias", update, set_alias)
        .delete("/registered-models/alias", delete, delete_alias)
        .get("/registered-models/alias", read, get_model_version_by_alias)
        .post("/model-versions/create", Rule::CreateModelVersion, create_model_version)
        .get("/model-versions/get", read, get_model_version)
        .patch("/model-versions/update", update, update_model_version)
        .delete("/model-versions/delete", delete, delete_model_version)
        .get("/model-versions/search", Rule::Authenticated, search_model_versions)
        .post("/model-versions/transition-stage", update, transition_stage)
        .get("/model-versions/get-download-uri", read, get_download_uri)
        .post("/model-versions/set-tag", update, set_model_version_tag)
        .delete("/model-versions/delete-tag", delete, delete_model_version_tag)
        .merge(super::webhooks::routes())
}

fn empty() -> JsonResult {
    Ok(Json(json!({})))
}

fn event(entity: WebhookEntity, action: WebhookAction) -> WebhookEvent {
    // Every pair used below is one of MLflow's valid combinations.
    WebhookEvent { entity, action }
}

async fn notify(app: &AppState, trigger: Trigger) {
    delivery::notify(Arc::clone(&app.store), trigger).await;
}

/// A registry tag as sent: a missing key or value reads as `""`, as protobuf does.
#[derive(Deserialize)]
pub struct RegistryTagMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    value: Option<String>,
}

fn tags_of(tags: Vec<RegistryTagMessage>) -> Vec<KeyValue> {
    tags.into_iter().map(|t| KeyValue::new(t.key.unwrap_or_default(), t.value.unwrap_or_default())).collect()
}

/// MLflow's message for a schema check without its own message (the "Hint" form).
fn hint(parameter: &str, raw: &Value) -> ApiError {
    let type_name = match raw {
        Value::String(_) => "str",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int",
        Value::Number(_) => "float",
        Value::Bool(_) => "bool",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Null => "NoneType",
    };
    ApiError::invalid(format!(
        "Invalid value {raw} for parameter '{parameter}' supplied:  Hint: Value was of type '{type_name}'. See the \
         API docs for more information about request parameters."
    ))
}

/// `max_results` of a search: the raw value (for MLflow's messages), its default and limit.
fn max_results(raw: Option<Value>, default: i64, limit: i64) -> Result<i64, ApiError> {
    let Some(raw) = raw.filter(|v| !v.is_null()) else {
        return Ok(default);
    };
    match lenient::parse_i64(&raw) {
        Some(n) if n <= limit => Ok(n),
        _ => Err(hint("max_results", &raw)),
    }
}

// ---------------------------------------------------------------- registered models

#[derive(Deserialize)]
pub struct CreateRegisteredModelMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::vec")]
    tags: Vec<RegistryTagMessage>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    description: Option<String>,
}

async fn create_registered_model(
    State(app): State<AppState>,
    caller: Option<Extension<Caller>>,
    rpc: Rpc<CreateRegisteredModelMessage>,
) -> JsonResult {
    let message = rpc.message;
    let name = required_text(message.name, "name")?;
    let tags = tags_of(message.tags);
    validate_model_name(&name)?;
    for tag in &tags {
        validate_registered_model_tag(tag)?;
    }
    let description = message.description.unwrap_or_default();
    let model = app
        .store
        .create_registered_model(CreateRegisteredModel {
            name: name.clone(),
            tags: tags.clone(),
            description: Some(description.clone()),
        })
        .await?;
    grant_creator(&app, caller.as_deref(), Resource::RegisteredModel(name.clone())).await?;
    let trigger = if tags_mark_prompt(&tags) {
        let tags = tags.into_iter().filter(|t| t.key != PROMPT_TAG_KEY && t.key != PROMPT_TYPE_TAG_KEY).collect();
        let payload = Payload::default().with("name", name).tags(tags).with("description", description);
        Trigger::Event(event(WebhookEntity::Prompt, WebhookAction::Created), payload)
    } else {
        let payload = Payload::default().with("name", name).tags(tags).with("description", description);
        Trigger::Event(event(WebhookEntity::RegisteredModel, WebhookAction::Created), payload)
    };
    notify(&app, trigger).await;
    Ok(Json(json!({ "registered_model": model })))
}

#[derive(Deserialize)]
pub struct NameMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
}

fn model_name(name: Option<String>) -> Result<String, ApiError> {
    let name = required_text(name, "name")?;
    validate_model_name(&name)?;
    Ok(name)
}

async fn get_registered_model(
    State(app): State<AppState>,
    rpc: Rpc<NameMessage>,
) -> ApiResult<Json<Keyed<RegisteredModel>>> {
    let name = model_name(rpc.message.name)?;
    let model = app.store.get_registered_model(&name).await?;
    Ok(Json(Keyed { key: "registered_model", value: model }))
}

#[derive(Deserialize)]
pub struct RenameMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    new_name: Option<String>,
}

async fn rename_registered_model(
    State(app): State<AppState>,
    rpc: Rpc<RenameMessage>,
) -> ApiResult<Json<Keyed<RegisteredModel>>> {
    let message = rpc.message;
    let name = required_text(message.name, "name")?;
    let new_name = required_text(message.new_name, "new_name")?;
    validate_new_model_name(&new_name)?;
    validate_model_name(&name)?;
    let model = app.store.rename_registered_model(&name, &new_name).await?;
    // Grants follow the model to its new name, as MLflow's auth app moves them.
    app.store.rename_model_grants(&name, &new_name).await?;
    if let Some(auth) = &app.auth {
        auth.changed();
    }
    Ok(Json(Keyed { key: "registered_model", value: model }))
}

#[derive(Deserialize)]
pub struct UpdateRegisteredModelMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    description: Option<String>,
}

async fn update_registered_model(
    State(app): State<AppState>,
    rpc: Rpc<UpdateRegisteredModelMessage>,
) -> ApiResult<Json<Keyed<RegisteredModel>>> {
    let message = rpc.message;
    let name = model_name(message.name)?;
    // MLflow stores the field as sent, so an absent description clears it.
    let model = app.store.update_registered_model(&name, Some(message.description.unwrap_or_default())).await?;
    Ok(Json(Keyed { key: "registered_model", value: model }))
}

async fn delete_registered_model(State(app): State<AppState>, rpc: Rpc<NameMessage>) -> JsonResult {
    let name = model_name(rpc.message.name)?;
    app.store.delete_registered_model(&name).await?;
    // A model created again under this name starts with no grants (MLflow drops them too).
    app.store.delete_resource_grants(&Resource::RegisteredModel(name)).await?;
    if let Some(auth) = &app.auth {
        auth.changed();
    }
    empty()
}

#[derive(Deserialize)]
pub struct SearchMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    filter: Option<String>,
    #[serde(default)]
    max_results: Option<Value>,
    #[serde(default, deserialize_with = "lenient::vec_string")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    page_token: Option<String>,
}

async fn search_registered_models(
    State(app): State<AppState>,
    caller: Option<Extension<Caller>>,
    rpc: Rpc<SearchMessage>,
) -> ApiResult<Json<Paged<RegisteredModel>>> {
    let message = rpc.message;
    let max_results = max_results(
        message.max_results,
        DEFAULT_MAX_RESULTS_SEARCH_REGISTERED_MODELS,
        MAX_RESULTS_SEARCH_REGISTERED_MODELS,
    )?;
    if max_results < 1 {
        // MLflow answers an empty page here.
        let page = ferroflow_core::types::Page { items: Vec::new(), next_page_token: None };
        return Ok(Json(Paged { key: "registered_models", page }));
    }
    let page = app
        .store
        .search_registered_models(RegistrySearch {
            filter: message.filter,
            max_results: max_results as usize,
            order_by: message.order_by,
            page_token: message.page_token.filter(|t| !t.is_empty()),
            visible: visible_to(&app, caller.as_deref(), model_key).await?,
        })
        .await?;
    Ok(Json(Paged { key: "registered_models", page }))
}

#[derive(Deserialize)]
pub struct LatestVersionsMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::vec_string")]
    stages: Vec<String>,
}

async fn get_latest_versions(State(app): State<AppState>, rpc: Rpc<LatestVersionsMessage>) -> JsonResult {
    let message = rpc.message;
    let name = model_name(message.name)?;
    let stages = match message.stages.iter().map(|s| Stage::parse(s)).collect::<Result<Vec<_>, _>>() {
        Ok(stages) => stages,
        Err(invalid_stage) => {
            // MLflow looks the model up before it reads the stages.
            app.store.get_registered_model(&name).await?;
            return Err(invalid_stage.into());
        }
    };
    let versions = app.store.get_latest_versions(&name, stages).await?;
    let mut body = json!({});
    if !versions.is_empty() {
        body["model_versions"] = json!(versions);
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct TagForModelMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    version: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    value: Option<String>,
}

async fn set_registered_model_tag(State(app): State<AppState>, rpc: Rpc<TagForModelMessage>) -> JsonResult {
    let message = rpc.message;
    let name = required_text(message.name, "name")?;
    let key = required_text(message.key, "key")?;
    let tag = KeyValue::new(key, message.value.unwrap_or_default());
    validate_model_name(&name)?;
    validate_registered_model_tag(&tag)?;
    app.store.set_registered_model_tag(&name, tag.clone()).await?;
    let payload = Payload::default().with("name", name.clone()).with("key", tag.key).with("value", tag.value);
    notify(&app, Trigger::PromptOnly { name, prompt: event(WebhookEntity::PromptTag, WebhookAction::Set), payload })
        .await;
    empty()
}

async fn delete_registered_model_tag(State(app): State<AppState>, rpc: Rpc<TagForModelMessage>) -> JsonResult {
    let message = rpc.message;
    let name = required_text(message.name, "name")?;
    let key = required_text(message.key, "key")?;
    validate_model_name(&name)?;
    validate_tag_key(&key)?;
    app.store.delete_registered_model_tag(&name, &key).await?;
    let payload = Payload::default().with("name", name.clone()).with("key", key);
    notify(
        &app,
        Trigger::PromptOnly { name, prompt: event(WebhookEntity::PromptTag, WebhookAction::Deleted), payload },
    )
    .await;
    empty()
}

// ---------------------------------------------------------------- model version sources

/// The scheme of a URI as Python's `urlparse` finds it (lower-cased), and the rest.
fn split_scheme(uri: &str) -> (String, &str) {
    match uri.split_once(':') {
        Some((scheme, rest))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            (scheme.to_ascii_lowercase(), rest)
        }
        _ => (String::new(), uri),
    }
}

/// `(scheme, netloc, path)` of a URI, split like `urlparse` (query and fragment dropped).
fn uri_parts(uri: &str) -> (String, &str, &str) {
    let (scheme, rest) = split_scheme(uri);
    let (netloc, rest) = match rest.strip_prefix("//") {
        Some(after) => after.split_at(after.find(['/', '?', '#']).unwrap_or(after.len())),
        None => ("", rest),
    };
    let path = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    (scheme, netloc, path)
}

/// `urllib.parse.unquote` (or `unquote_plus`), applied until the text stops changing.
fn unquote_fully(text: &str, plus: bool) -> String {
    let mut current = text.to_string();
    for _ in 0..16 {
        let mut next = crate::wire::percent_decode(&current.replace('+', "%2B"));
        if plus {
            next = next.replace('+', " ");
        }
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn invalid_source(source: &str, id_name: &str) -> ApiError {
    ApiError::invalid(format!(
        "Invalid model version source: '{source}'. The {id_name} request parameter must identify the resource that \
         contains the source."
    ))
}

/// `is_local_uri`: no scheme, or `file:` on this host.
fn is_local_uri(source: &str) -> Result<bool, ApiError> {
    let (scheme, netloc, _) = uri_parts(source);
    let host = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
    let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
    let remote = !(host.is_empty() || host == "." || host.starts_with("localhost") || host.starts_with("127.0.0.1"));
    if scheme.is_empty() {
        return Ok(true);
    }
    if scheme == "file" {
        if remote {
            return Err(ApiError::invalid(format!(
                "{source} is not a valid remote uri. For remote access on windows, please consider using a different \
                 scheme such as SMB (e.g. smb://<hostname>/<path>)."
            )));
        }
        return Ok(true);
    }
    Ok(false)
}

/// `_validate_non_local_source_contains_relative_paths`: no `..`, no NUL, an absolute and
/// already-normal path.
fn validate_no_relative_paths(source: &str) -> Result<(), ApiError> {
    let error = || {
        ApiError::invalid(format!(
            "Invalid model version source: '{source}'. If supplying a source as an http, https, local file path, ftp, \
             objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path \
             references present. Please provide an absolute path."
        ))
    };
    let decoded = unquote_fully(source, true);
    let (_, _, path) = uri_parts(&decoded);
    let mut collapsed = String::with_capacity(path.len());
    for c in path.trim_end_matches('/').chars() {
        if !(c == '/' && collapsed.ends_with('/')) {
            collapsed.push(c);
        }
    }
    if collapsed.contains('\0') || decoded.split('/').any(|part| part == "..") {
        return Err(error());
    }
    let normal = collapsed.starts_with('/') && !collapsed.split('/').skip(1).any(|part| part == "." || part == "..");
    if !normal {
        return Err(error());
    }
    Ok(())
}

/// Schemes whose artifact repositories connect to the host named in the URI
/// (`HOST_ADDRESSED_ARTIFACT_SCHEMES`); a client may not make the server do that.
const HOST_ADDRESSED_SCHEMES: &[&str] =
    &["ftp", "sftp", "hdfs", "viewfs", "http", "https", "mlflow-artifacts", "r2", "b2", "abfss"];

/// `rejected_host_addressed_scheme`: a source of a host-addressed scheme is refused unless
/// the scheme is allowed by `MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES` or the source
/// targets the host of one of the server's own artifact locations (`trusted`: its
/// `--default-artifact-root` and `--artifacts-destination`), as a run's artifacts do when
/// the default root is the proxy's `http://host:port/api/2.0/mlflow-artifacts/artifacts`.
fn validate_source_scheme(source: &str, trusted: &[String]) -> Result<(), ApiError> {
    let Some(targets) = host_targets(source) else { return Ok(()) };
    let (scheme, _, _) = uri_parts(source);
    let allowed = std::env::var("MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES").unwrap_or_default();
    if allowed.split(',').any(|s| s.trim().eq_ignore_ascii_case(&scheme)) {
        return Ok(());
    }
    let trusted: Vec<HostTarget> = trusted.iter().filter_map(|uri| host_targets(uri)).flatten().collect();
    if targets.iter().any(|target| target.0 != MALFORMED && trusted.contains(target)) {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "'source' cannot use the '{scheme}' scheme: the '{scheme}' scheme addresses a host other than the tracking \
         server's configured artifact storage, so the server would connect to the host named in the URI. Set the \
         MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES environment variable on the server to allow it."
    )))
}

/// `(scheme family, hostname, port)`: where a host-addressed URI makes the server connect.
type HostTarget = (&'static str, String, Option<u16>);

/// The family of a target whose authority cannot be read reliably: never trusted.
const MALFORMED: &str = "malformed";

/// `host_addressed_uri_targets`: the targets a URI may connect to (more than one when its
/// port is implied), or `None` when its scheme addresses no host.
fn host_targets(uri: &str) -> Option<Vec<HostTarget>> {
    let (scheme, netloc, _) = uri_parts(uri);
    let scheme = HOST_ADDRESSED_SCHEMES.iter().copied().find(|s| *s == scheme)?;
    if scheme == "mlflow-artifacts" && netloc.is_empty() {
        // `mlflow-artifacts:/path` resolves against the tracking server itself.
        return None;
    }
    if netloc.contains('\\') || netloc.chars().any(char::is_whitespace) {
        return Some(vec![(MALFORMED, netloc.to_string(), None)]);
    }
    // `urlparse`'s hostname and port: after any userinfo, a bracketed IPv6 address or up
    // to the last `:`.
    let host_port = netloc.rsplit_once('@').map_or(netloc, |(_, after)| after);
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        match rest.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => return Some(vec![(MALFORMED, netloc.to_string(), None)]),
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port.filter(|p| !p.is_empty()) {
        None => None,
        Some(port) => match port.parse::<u16>() {
            Ok(port) => Some(port),
            Err(_) => return Some(vec![(MALFORMED, netloc.to_string(), None)]),
        },
    };
    let family = match scheme {
        "viewfs" => "hdfs",
        "https" | "mlflow-artifacts" => "http",
        other => other,
    };
    let default_ports: &[u16] = match scheme {
        "ftp" => &[21],
        "sftp" => &[22],
        "http" => &[80],
        "https" | "r2" | "b2" | "abfss" => &[443],
        "mlflow-artifacts" => &[80, 443],
        _ => &[],
    };
    let host = host.to_ascii_lowercase();
    Some(match (port, default_ports) {
        (Some(port), _) => vec![(family, host, Some(port))],
        (None, []) => vec![(family, host, None)],
        (None, ports) => ports.iter().map(|port| (family, host.clone(), Some(*port))).collect(),
    })
}

fn is_mlflow_artifact_source(source: &str) -> bool {
    let (scheme, _, path) = uri_parts(source);
    if scheme == "mlflow-artifacts" {
        return true;
    }
    let parts: Vec<String> = path.split('/').filter(|p| !p.is_empty()).map(|p| unquote_fully(p, false)).collect();
    let route = ["api", "2.0", "mlflow-artifacts", "artifacts"];
    (scheme == "http" || scheme == "https") && parts.windows(route.len()).any(|w| w == route)
}

/// `_is_uri_within_root`: same scheme and authority, and the root's path segments prefix
/// the source's.
fn is_uri_within_root(source: &str, root: &str) -> bool {
    let split = |uri: &str| {
        let (scheme, netloc, path) = uri_parts(uri);
        let parts: Vec<String> = path.split('/').filter(|p| !p.is_empty()).map(|p| unquote_fully(p, false)).collect();
        (scheme, netloc.to_ascii_lowercase(), parts)
    };
    let (source_scheme, source_authority, source_parts) = split(source);
    let (root_scheme, root_authority, root_parts) = split(root);
    source_scheme == root_scheme
        && source_authority == root_authority
        && !root_parts.is_empty()
        && source_parts.starts_with(&root_parts)
}

fn parse_model_uri(source: &str, id_name: &str) -> Result<ModelUri, ApiError> {
    let (_, _, path) = uri_parts(source);
    ModelUri::parse_path(path).ok_or_else(|| invalid_source(source, id_name))
}

/// The run behind a source, or the source error when it does not exist.
async fn source_run_artifact_uri(app: &AppState, run_id: &str, source: &str) -> Result<String, ApiError> {
    match app.store.get_run(run_id).await {
        Ok(run) => Ok(run.info.artifact_uri),
        Err(e) if e.code == ErrorCode::ResourceDoesNotExist => Err(invalid_source(source, "run_id")),
        Err(e) => Err(e.into()),
    }
}

async fn source_model_artifact_uri(app: &AppState, model_id: &str, source: &str) -> Result<String, ApiError> {
    match app.store.get_logged_model(model_id, false).await {
        Ok(model) => Ok(model.info.artifact_uri),
        Err(e) if e.code == ErrorCode::ResourceDoesNotExist => Err(invalid_source(source, "model_id")),
        Err(e) => Err(e.into()),
    }
}

/// `_validate_source_run`.
async fn validate_source_run(app: &AppState, source: &str, run_id: &str) -> Result<(), ApiError> {
    if is_local_uri(source)? {
        // Runs keep their artifacts behind the server (`mlflow-artifacts:`), never in a
        // local folder a client could name, so a local source is never inside one.
        if !run_id.is_empty() {
            let root = source_run_artifact_uri(app, run_id, source).await?;
            if is_local_uri(&root)? && local_path_within(source, &root) {
                return Ok(());
            }
        }
        return Err(ApiError::invalid(format!(
            "Invalid model version source: '{source}'. To use a local path as a model version source, the run_id \
             request parameter has to be specified and the local path has to be contained within the artifact \
             directory of the run specified by the run_id."
        )));
    }
    validate_no_relative_paths(source)?;
    let (scheme, netloc, path) = uri_parts(source);
    if scheme == "runs" {
        if !netloc.is_empty() {
            return Err(invalid_source(source, "run_id"));
        }
        let source_run_id = path.strip_prefix('/').and_then(|p| p.split('/').next()).filter(|id| !id.is_empty());
        if !run_id.is_empty() && source_run_id == Some(run_id) {
            return Ok(());
        }
        return Err(invalid_source(source, "run_id"));
    }
    if scheme == "models" {
        if !netloc.is_empty() {
            return Err(invalid_source(source, "model_id"));
        }
        if let ModelUri::LoggedModel(_) = parse_model_uri(source, "model_id")? {
            return Err(invalid_source(source, "model_id"));
        }
    }
    if is_mlflow_artifact_source(source) {
        if !run_id.is_empty() {
            let root = source_run_artifact_uri(app, run_id, source).await?;
            if is_uri_within_root(source, &root) {
                return Ok(());
            }
        }
        return Err(invalid_source(source, "run_id"));
    }
    Ok(())
}

/// `_validate_source_model`.
async fn validate_source_model(app: &AppState, source: &str, model_id: &str) -> Result<(), ApiError> {
    if is_local_uri(source)? {
        let root = source_model_artifact_uri(app, model_id, source).await?;
        if is_local_uri(&root)? && local_path_within(source, &root) {
            return Ok(());
        }
        return Err(ApiError::invalid(format!(
            "Invalid model version source: '{source}'. To use a local path as a model version source, the model_id \
             request parameter has to be specified and the local path has to be contained within the artifact \
             directory of the run specified by the model_id."
        )));
    }
    validate_no_relative_paths(source)?;
    let (scheme, netloc, _) = uri_parts(source);
    if scheme == "models" {
        if !netloc.is_empty() {
            return Err(invalid_source(source, "model_id"));
        }
        if let ModelUri::LoggedModel(source_model_id) = parse_model_uri(source, "model_id")? {
            if source_model_id == model_id {
                return Ok(());
            }
            return Err(invalid_source(source, "model_id"));
        }
    }
    if scheme == "runs" {
        return Err(invalid_source(source, "model_id"));
    }
    if is_mlflow_artifact_source(source) {
        let root = source_model_artifact_uri(app, model_id, source).await?;
        if is_uri_within_root(source, &root) {
            return Ok(());
        }
        return Err(invalid_source(source, "model_id"));
    }
    Ok(())
}

/// Whether local path `source` lies inside local artifact root `root` (both normalised).
fn local_path_within(source: &str, root: &str) -> bool {
    let path = |uri: &str| {
        let (scheme, _, path) = uri_parts(uri);
        let path = if scheme.is_empty() { uri } else { path };
        let normal = ferroflow_core::validation::posix_normpath(&unquote_fully(path, false));
        normal.split('/').filter(|p| !p.is_empty()).map(str::to_string).collect::<Vec<_>>()
    };
    let (source, root) = (path(source), path(root));
    !root.is_empty() && source.starts_with(&root)
}

/// The version a `models:/<name>/…` URI points at.
async fn resolve_model_uri(app: &AppState, uri: &ModelUri) -> Result<(String, i64), ApiError> {
    match uri {
        ModelUri::Version { name, version } => Ok((name.clone(), parse_version(version)?)),
        ModelUri::Alias { name, alias } => {
            let version = app.store.get_model_version_by_alias(name, alias).await?;
            Ok((name.clone(), version.version))
        }
        ModelUri::Stage { name, stage } => {
            let stage = Stage::parse(stage)?;
            latest_version(app, name, vec![stage], Some(stage)).await
        }
        ModelUri::Latest { name } => latest_version(app, name, vec![], None).await,
        ModelUri::LoggedModel(_) => unreachable!("logged-model URIs name no registered version"),
    }
}

async fn latest_version(
    app: &AppState,
    name: &str,
    stages: Vec<Stage>,
    stage: Option<Stage>,
) -> Result<(String, i64), ApiError> {
    let latest = app.store.get_latest_versions(name, stages).await?;
    match latest.iter().map(|v| v.version).max() {
        Some(version) => Ok((name.to_string(), version)),
        None => {
            let stage = stage.map(|s| format!(" and stage '{s}'")).unwrap_or_default();
            Err(ApiError(Error::not_found(format!("No versions of model with name '{name}'{stage} found"))))
        }
    }
}

// ---------------------------------------------------------------- model versions

#[derive(Deserialize)]
pub struct CreateModelVersionMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    source: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::vec")]
    tags: Vec<RegistryTagMessage>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_link: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    description: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    model_id: Option<String>,
}

async fn create_model_version(State(app): State<AppState>, rpc: Rpc<CreateModelVersionMessage>) -> JsonResult {
    let message = rpc.message;
    let name = required_text(message.name, "name")?;
    let mut source = required_text(message.source, "source")?;
    let tags = tags_of(message.tags);
    let is_prompt = tags_mark_prompt(&tags);
    let (has_run_id, has_model_id) = (message.run_id.is_some(), message.model_id.is_some());
    let mut run_id = message.run_id.unwrap_or_default();
    let model_id = message.model_id.unwrap_or_default();

    if is_prompt && !PROMPT_SOURCE_PLACEHOLDERS.contains(&source.as_str()) {
        return Err(ApiError::invalid(format!(
            "Invalid prompt source: '{source}'. Prompt sources must use an MLflow placeholder."
        )));
    }
    validate_source_scheme(&source, &app.config.trusted_artifact_locations)?;
    if !is_prompt {
        // A `models:/<name>/<version|stage|alias>` source is normalised to the version it
        // names, whose run (and model) the new version inherits.
        let (scheme, netloc, _) = uri_parts(&source);
        if scheme == "models" {
            if !netloc.is_empty() {
                return Err(ApiError::invalid(format!(
                    "Invalid model version source: '{source}'. Registered model sources must use the active model \
                     registry."
                )));
            }
            let uri = parse_model_uri(&source, "model_id")?;
            if !matches!(uri, ModelUri::LoggedModel(_)) {
                let source_name = match &uri {
                    ModelUri::Version { name, .. }
                    | ModelUri::Stage { name, .. }
                    | ModelUri::Latest { name }
                    | ModelUri::Alias { name, .. } => name.clone(),
                    ModelUri::LoggedModel(_) => unreachable!(),
                };
                if app.store.get_registered_model(&source_name).await?.is_prompt() {
                    return Err(ApiError::invalid(format!(
                        "Invalid model version source: '{source}'. Prompt versions cannot be used as model version \
                         sources."
                    )));
                }
                let (source_name, version) = resolve_model_uri(&app, &uri).await?;
                let referenced = app.store.get_model_version(&source_name, version).await?;
                let referenced_run = referenced.run_id.clone().unwrap_or_default();
                if has_run_id && run_id != referenced_run || has_model_id && !model_id.is_empty() {
                    return Err(ApiError::invalid(format!(
                        "Invalid model version source: '{source}'. The run_id and model_id request parameters must \
                         match the referenced model version."
                    )));
                }
                source = format!("models:/{source_name}/{version}");
                if !has_run_id {
                    run_id = referenced_run;
                }
            }
        }
        if model_id.is_empty() {
            validate_source_run(&app, &source, &run_id).await?;
        } else {
            validate_source_model(&app, &source, &model_id).await?;
        }
    }
    validate_model_name(&name)?;
    for tag in &tags {
        validate_model_version_tag(tag)?;
    }

    // Where the artifacts are: a logged model's location, or the referenced version's.
    let mut storage_location = None;
    let (scheme, _, _) = uri_parts(&source);
    if scheme == "models" && !is_prompt {
        match parse_model_uri(&source, "model_id")? {
            ModelUri::LoggedModel(source_model_id) => {
                let model = app.store.get_logged_model(&source_model_id, false).await.map_err(|e| {
                    ApiError(Error::new(
                        if e.code == ErrorCode::ResourceDoesNotExist {
                            ErrorCode::InvalidParameterValue
                        } else {
                            e.code
                        },
                        format!(
                            "Unable to fetch model from model URI source artifact location '{source}'.Error: {}",
                            e.message
                        ),
                    ))
                })?;
                storage_location = Some(model.info.artifact_uri.clone());
                if run_id.is_empty() {
                    run_id = model.info.source_run_id.clone().unwrap_or_default();
                }
            }
            uri => {
                let (source_name, version) = resolve_model_uri(&app, &uri).await?;
                storage_location = Some(app.store.get_model_version_download_uri(&source_name, version).await?);
            }
        }
    }
    if run_id.is_empty() && !model_id.is_empty() {
        if let Ok(model) = app.store.get_logged_model(&model_id, false).await {
            run_id = model.info.source_run_id.unwrap_or_default();
        }
    }

    let description = message.description.unwrap_or_default();
    let version = app
        .store
        .create_model_version(CreateModelVersion {
            name: name.clone(),
            source: source.clone(),
            storage_location,
            run_id: Some(run_id.clone()),
            run_link: Some(message.run_link.unwrap_or_default()),
            description: Some(description.clone()),
            tags: tags.clone(),
        })
        .await?;

    if !is_prompt && !model_id.is_empty() {
        record_model_version_on_logged_model(&app, &model_id, &name, version.version).await?;
    }

    let number = version.version.to_string();
    let description = (!description.is_empty()).then_some(description);
    let trigger = if is_prompt {
        let mut tags = tags;
        let template = tags.iter().rev().find(|t| t.key == PROMPT_TEXT_TAG_KEY).map(|t| t.value.clone());
        tags.retain(|t| ![PROMPT_TEXT_TAG_KEY, PROMPT_TAG_KEY, PROMPT_TYPE_TAG_KEY].contains(&t.key.as_str()));
        let payload = Payload::default()
            .with("name", name)
            .with("version", number)
            .with("template", template)
            .tags(tags)
            .with("description", description);
        Trigger::Event(event(WebhookEntity::PromptVersion, WebhookAction::Created), payload)
    } else {
        let payload = Payload::default()
            .with("name", name)
            .with("version", number)
            .with("source", source)
            .with("run_id", (!run_id.is_empty()).then_some(run_id))
            .tags(tags)
            .with("description", description);
        Trigger::Event(event(WebhookEntity::ModelVersion, WebhookAction::Created), payload)
    };
    notify(&app, trigger).await;
    Ok(Json(json!({ "model_version": version })))
}

/// The logged-model tag listing the registered versions made from the model.
const MODEL_VERSIONS_TAG: &str = "mlflow.modelVersions";

/// As MLflow's `set_model_versions_tags`: appends `{"name": …, "version": n}` to the
/// logged model's `mlflow.modelVersions` tag (a JSON list, written as Python's
/// `json.dumps` writes it), unless the entry is there already. A tag that is not a JSON
/// list (MLflow would answer 500) is started afresh.
async fn record_model_version_on_logged_model(
    app: &AppState,
    model_id: &str,
    name: &str,
    version: i64,
) -> Result<(), ApiError> {
    let model = app.store.get_logged_model(model_id, false).await?;
    let entry = json!({ "name": name, "version": version });
    let mut entries = model
        .info
        .tags
        .iter()
        .rev()
        .find(|tag| tag.key == MODEL_VERSIONS_TAG)
        .and_then(|tag| serde_json::from_str::<Value>(&tag.value).ok())
        .and_then(|value| match value {
            Value::Array(items) => Some(items),
            _ => None,
        })
        .unwrap_or_default();
    if !entries.contains(&entry) {
        entries.push(entry);
    }
    let value = crate::wire::python_json_dumps(&Value::Array(entries));
    app.store.set_logged_model_tags(model_id, vec![KeyValue::new(MODEL_VERSIONS_TAG, value)]).await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct VersionMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    version: Option<String>,
}

/// `name` and `version`, both required, checked like MLflow's store.
fn name_and_version(name: Option<String>, version: Option<String>) -> Result<(String, i64), ApiError> {
    let name = required_text(name, "name")?;
    let version = required_text(version, "version")?;
    let version = parse_version(&version)?;
    validate_model_name(&name)?;
    Ok((name, version))
}

async fn get_model_version(
    State(app): State<AppState>,
    rpc: Rpc<VersionMessage>,
) -> ApiResult<Json<Keyed<ModelVersion>>> {
    let (name, version) = name_and_version(rpc.message.name, rpc.message.version)?;
    let found = app.store.get_model_version(&name, version).await?;
    Ok(Json(Keyed { key: "model_version", value: found }))
}

#[derive(Deserialize)]
pub struct UpdateModelVersionMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    version: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    description: Option<String>,
}

async fn update_model_version(
    State(app): State<AppState>,
    rpc: Rpc<UpdateModelVersionMessage>,
) -> ApiResult<Json<Keyed<ModelVersion>>> {
    let message = rpc.message;
    let (name, version) = name_and_version(message.name, message.version)?;
    let updated = app.store.update_model_version(&name, version, message.description).await?;
    Ok(Json(Keyed { key: "model_version", value: updated }))
}

#[derive(Deserialize)]
pub struct TransitionMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    version: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    stage: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    archive_existing_versions: Option<bool>,
}

async fn transition_stage(
    State(app): State<AppState>,
    rpc: Rpc<TransitionMessage>,
) -> ApiResult<Json<Keyed<ModelVersion>>> {
    let message = rpc.message;
    let name = required_text(message.name, "name")?;
    let version = required_text(message.version, "version")?;
    let stage_text = required_text(message.stage, "stage")?;
    let archive = message.archive_existing_versions.unwrap_or(false);
    let stage = Stage::parse(&stage_text)?;
    if archive && !stage.is_active() {
        // MLflow answers this one with a 500; a user mistake is a 400 here.
        return Err(ApiError::invalid(format!(
            "Model version transition cannot archive existing model versions because '{stage_text}' is not an \
             Active stage. Valid stages are ['Staging', 'Production']"
        )));
    }
    let (name, version) = name_and_version(Some(name), Some(version))?;
    let moved = app.store.transition_model_version_stage(&name, version, stage, archive).await?;
    Ok(Json(Keyed { key: "model_version", value: moved }))
}

async fn delete_model_version(State(app): State<AppState>, rpc: Rpc<VersionMessage>) -> JsonResult {
    let (name, version) = name_and_version(rpc.message.name, rpc.message.version)?;
    app.store.delete_model_version(&name, version).await?;
    empty()
}

async fn get_download_uri(State(app): State<AppState>, rpc: Rpc<VersionMessage>) -> JsonResult {
    // MLflow declares no required fields here: the store's checks speak.
    let name = rpc.message.name.unwrap_or_default();
    validate_model_name(&name)?;
    let version = parse_version(&rpc.message.version.unwrap_or_default())?;
    let uri = app.store.get_model_version_download_uri(&name, version).await?;
    Ok(Json(json!({ "artifact_uri": uri })))
}

async fn search_model_versions(
    State(app): State<AppState>,
    caller: Option<Extension<Caller>>,
    rpc: Rpc<SearchMessage>,
) -> ApiResult<Json<Paged<ModelVersion>>> {
    let visible = visible_to(&app, caller.as_deref(), model_key).await?;
    Ok(Json(Paged { key: "model_versions", page: model_version_page(&app, rpc.message, visible).await? }))
}

/// `model-versions/search`, shared with GraphQL's `mlflowSearchModelVersions` and a run's
/// `modelVersions`.
pub(crate) async fn model_version_page(
    app: &AppState,
    message: SearchMessage,
    visible: Option<ferroflow_core::auth::Visibility>,
) -> ApiResult<Page<ModelVersion>> {
    let max_results =
        max_results(message.max_results, MAX_RESULTS_SEARCH_MODEL_VERSIONS, MAX_RESULTS_SEARCH_MODEL_VERSIONS)?;
    if max_results < 1 {
        return Err(ApiError::invalid(format!(
            "Invalid value for max_results. It must be a positive integer, but got {max_results}"
        )));
    }
    let page = app
        .store
        .search_model_versions(RegistrySearch {
            filter: message.filter,
            max_results: max_results as usize,
            order_by: message.order_by,
            page_token: message.page_token.filter(|t| !t.is_empty()),
            visible,
        })
        .await?;
    Ok(page)
}

async fn set_model_version_tag(State(app): State<AppState>, rpc: Rpc<TagForModelMessage>) -> JsonResult {
    let message = rpc.message;
    let name = required_text(message.name, "name")?;
    let version_text = required_text(message.version, "version")?;
    let key = required_text(message.key, "key")?;
    let tag = KeyValue::new(key, message.value.unwrap_or_default());
    validate_model_name(&name)?;
    let version = parse_version(&version_text)?;
    validate_model_version_tag(&tag)?;
    app.store.set_model_version_tag(&name, version, tag.clone()).await?;
    let payload = Payload::default()
        .with("name", name.clone())
        .with("version", version_text)
        .with("key", tag.key)
        .with("value", tag.value);
    notify(
        &app,
        Trigger::ModelOrPrompt {
            name,
            model: event(WebhookEntity::ModelVersionTag, WebhookAction::Set),
            prompt: event(WebhookEntity::PromptVersionTag, WebhookAction::Set),
            payload,
        },
    )
    .await;
    empty()
}

async fn delete_model_version_tag(State(app): State<AppState>, rpc: Rpc<TagForModelMessage>) -> JsonResult {
    let message = rpc.message;
    let name = required_text(message.name, "name")?;
    let version_text = required_text(message.version, "version")?;
    let key = required_text(message.key, "key")?;
    validate_model_name(&name)?;
    let version = parse_version(&version_text)?;
    validate_tag_key(&key)?;
    app.store.delete_model_version_tag(&name, version, &key).await?;
    let payload = Payload::default().with("name", name.clone()).with("version", version_text).with("key", key);
    notify(
        &app,
        Trigger::ModelOrPrompt {
            name,
            model: event(WebhookEntity::ModelVersionTag, WebhookAction::Deleted),
            prompt: event(WebhookEntity::PromptVersionTag, WebhookAction::Deleted),
            payload,
        },
    )
    .await;
    empty()
}

// ---------------------------------------------------------------- aliases

#[derive(Deserialize)]
pub struct AliasMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    alias: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    version: Option<String>,
}

async fn set_alias(State(app): State<AppState>, rpc: Rpc<AliasMessage>) -> JsonResult {
    let message = rpc.message;
    let name = required_text(message.name, "name")?;
    let alias = required_text(message.alias, "alias")?;
    let version_text = required_text(message.version, "version")?;
    validate_model_name(&name)?;
    validate_alias_name(&alias)?;
    validate_alias_not_reserved(&alias)?;
    let version = parse_version(&version_text)?;
    app.store.set_registered_model_alias(&name, &alias, version).await?;
    let payload = Payload::default().with("name", name.clone()).with("alias", alias).with("version", version_text);
    notify(
        &app,
        Trigger::ModelOrPrompt {
            name,
            model: event(WebhookEntity::ModelVersionAlias, WebhookAction::Created),
            prompt: event(WebhookEntity::PromptAlias, WebhookAction::Created),
            payload,
        },
    )
    .await;
    empty()
}

async fn delete_alias(State(app): State<AppState>, rpc: Rpc<AliasMessage>) -> JsonResult {
    let message = rpc.message;
    let name = required_text(message.name, "name")?;
    let alias = required_text(message.alias, "alias")?;
    validate_model_name(&name)?;
    validate_alias_name(&alias)?;
    app.store.delete_registered_model_alias(&name, &alias).await?;
    let payload = Payload::default().with("name", name.clone()).with("alias", alias);
    notify(
        &app,
        Trigger::ModelOrPrompt {
            name,
            model: event(WebhookEntity::ModelVersionAlias, WebhookAction::Deleted),
            prompt: event(WebhookEntity::PromptAlias, WebhookAction::Deleted),
            payload,
        },
    )
    .await;
    empty()
}

async fn get_model_version_by_alias(
    State(app): State<AppState>,
    rpc: Rpc<AliasMessage>,
) -> ApiResult<Json<Keyed<ModelVersion>>> {
    let message = rpc.message;
    let name = required_text(message.name, "name")?;
    let alias = required_text(message.alias, "alias")?;
    validate_model_name(&name)?;
    validate_alias_name(&alias)?;
    let found = app.store.get_model_version_by_alias(&name, &alias).await?;
    Ok(Json(Keyed { key: "model_version", value: found }))
}
