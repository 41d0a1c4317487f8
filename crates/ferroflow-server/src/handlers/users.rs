//! MLflow's auth REST API (users, experiment and registered-model permissions, MLflow 3's
//! `users/permissions/*`), and ferroflow's own: the UI's login and logout, and access
//! tokens for CI. Mounted only with `--app-name basic-auth`, as MLflow serves these only
//! from its auth app.

use std::sync::Arc;

use axum::extract::{ConnectInfo, Extension, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferroflow_core::auth::{Action, Permission};
use ferroflow_core::{Error, ErrorCode};
use ferroflow_store::auth::{Credential, CredentialKind, Grant, GrantWrite, Resource, User};
use ferroflow_store::common::now_millis;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::credentials::{new_credential_id, validate_new_password, SESSION_COOKIE};
use crate::auth::{csrf_token_for, new_secret, secret_hash, Auth, Caller, Locate, Routes, Rule, Via};
use crate::error::{ApiError, ApiResult};
use crate::handlers::tracking::required_text;
use crate::wire::{lenient, Rpc};
use crate::AppState;

type JsonResult = ApiResult<Json<Value>>;

/// ferroflow's own REST prefix (tokens for scripts and CI); MLflow's server 404s it.
pub const API_PREFIX: &str = "/api/ferroflow/v1";
/// The longest a token may be asked to live, in days.
const MAX_TOKEN_DAYS: i64 = 3650;
const MAX_NAME_CHARS: usize = 256;

/// Under `/api/2.0/mlflow` and `/ajax-api/2.0/mlflow`.
pub fn routes() -> Routes {
    let experiment = Rule::Experiment(Action::Manage, Locate::ExperimentId);
    let model = Rule::Model(Action::Manage);
    Routes::new()
        .post("/users/create", Rule::Admin, create_user)
        .get("/users/get", Rule::SelfOrAdmin, get_user)
        .get("/users/current", Rule::Authenticated, current_user)
        .get("/users/list", Rule::Admin, list_users)
        .patch("/users/update-password", Rule::SelfOrAdmin, update_password)
        .patch("/users/update-admin", Rule::Admin, update_admin)
        .delete("/users/delete", Rule::Admin, delete_user)
        .post("/experiments/permissions/create", experiment, create_experiment_permission)
        .get("/experiments/permissions/get", experiment, get_experiment_permission)
        .patch("/experiments/permissions/update", experiment, update_experiment_permission)
        .delete("/experiments/permissions/delete", experiment, delete_experiment_permission)
        .post("/registered-models/permissions/create", model, create_model_permission)
        .get("/registered-models/permissions/get", model, get_model_permission)
        .patch("/registered-models/permissions/update", model, update_model_permission)
        .delete("/registered-models/permissions/delete", model, delete_model_permission)
}

/// MLflow 3's per-user grants, under `/api/3.0/mlflow` and `/ajax-api/3.0/mlflow`.
pub fn v3_routes() -> Routes {
    Routes::new()
        .post("/users/permissions/grant", Rule::ManageResource, grant_permission)
        .post("/users/permissions/revoke", Rule::ManageResource, revoke_permission)
        .get("/users/permissions/get", Rule::ManageResource, get_permission)
}

/// The UI's session endpoints and tokens, under `/ajax-api/ferroflow/v1`.
pub fn own_routes() -> Routes {
    Routes::new()
        .post("/login", Rule::Public, login)
        .post("/logout", Rule::Authenticated, logout)
        .get("/session", Rule::Authenticated, session)
        .get("/permissions/mine", Rule::Authenticated, my_permission)
        .merge(token_routes())
}

/// Tokens, under [`API_PREFIX`] (and the UI's prefix): each user manages their own; an
/// admin may name another user.
pub fn token_routes() -> Routes {
    Routes::new()
        .post("/tokens", Rule::Authenticated, create_token)
        .get("/tokens", Rule::Authenticated, list_tokens)
        .post("/tokens/revoke", Rule::Authenticated, revoke_token)
}

fn auth_of(app: &AppState) -> ApiResult<&Arc<Auth>> {
    app.auth.as_ref().ok_or_else(|| ApiError(Error::internal("authentication is not configured")))
}

/// A user, credential or grant changed here: this replica stops trusting what it cached.
fn forget_cached(app: &AppState) {
    if let Some(auth) = &app.auth {
        auth.changed();
    }
}

fn user_not_found(username: &str) -> ApiError {
    ApiError(Error::not_found(format!("User with username={username} not found")))
}

async fn find_user(app: &AppState, username: &str) -> ApiResult<User> {
    app.store.get_user(username).await?.ok_or_else(|| user_not_found(username))
}

/// MLflow's user JSON, with the grants MLflow 2's client expects beside it; never the hash.
async fn user_json(app: &AppState, user: &User) -> ApiResult<Value> {
    let grants = app.store.user_grants(user.id).await?;
    let of_kind = |kind: &str, key_name: &str| {
        grants
            .iter()
            .filter(|grant| grant.resource.kind() == kind)
            .map(|grant| json!({key_name: grant.resource.key(), "user_id": user.id, "permission": grant.permission.as_str()}))
            .collect::<Vec<_>>()
    };
    Ok(json!({
        "id": user.id,
        "username": user.username,
        "is_admin": user.is_admin,
        "experiment_permissions": of_kind("experiment", "experiment_id"),
        "registered_model_permissions": of_kind("registered_model", "name"),
    }))
}

#[derive(Deserialize)]
struct UserMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    username: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    password: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    is_admin: Option<bool>,
}

/// Names as MLflow takes them, bounded; no control characters (they would forge log lines).
fn validate_username(username: &str) -> ApiResult<()> {
    if username.is_empty() {
        return Err(ApiError::invalid("Username and password cannot be empty."));
    }
    if username.chars().count() > MAX_NAME_CHARS || username.chars().any(char::is_control) || username.contains(':') {
        return Err(ApiError::invalid(format!(
            "A username is at most {MAX_NAME_CHARS} characters, without ':' or control characters."
        )));
    }
    Ok(())
}

async fn create_user(
    State(app): State<AppState>,
    headers: HeaderMap,
    Rpc { message, .. }: Rpc<UserMessage>,
) -> JsonResult {
    crate::wire::require_json_content_type(&headers)?;
    let username = message.username.unwrap_or_default();
    let password = message.password.unwrap_or_default();
    validate_username(&username)?;
    validate_new_password(&password)?;
    let hash = hash_blocking(&app, password).await?;
    let user = app.store.create_user(&username, &hash, false).await?;
    Ok(Json(json!({ "user": user_json(&app, &user).await? })))
}

async fn hash_blocking(app: &AppState, password: String) -> ApiResult<String> {
    auth_of(app)?.hash(password).await
}

async fn get_user(State(app): State<AppState>, Rpc { message, .. }: Rpc<UserMessage>) -> JsonResult {
    let username = required_text(message.username, "username")?;
    let user = find_user(&app, &username).await?;
    Ok(Json(json!({ "user": user_json(&app, &user).await? })))
}

async fn current_user(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> JsonResult {
    let user = find_user(&app, &caller.username).await?;
    Ok(Json(json!({ "user": user_json(&app, &user).await? })))
}

async fn list_users(State(app): State<AppState>) -> JsonResult {
    let users = app.store.list_users().await?;
    let listed: Vec<Value> =
        users.iter().map(|u| json!({"id": u.id, "username": u.username, "is_admin": u.is_admin})).collect();
    Ok(Json(json!({ "users": listed })))
}

async fn update_password(State(app): State<AppState>, Rpc { message, .. }: Rpc<UserMessage>) -> JsonResult {
    let username = required_text(message.username, "username")?;
    let password = message.password.unwrap_or_default();
    validate_new_password(&password)?;
    let hash = hash_blocking(&app, password).await?;
    let updated = app.store.update_user(&username, Some(&hash), None).await?;
    forget_cached(&app);
    if !updated {
        return Err(user_not_found(&username));
    }
    Ok(Json(json!({})))
}

async fn update_admin(State(app): State<AppState>, Rpc { message, .. }: Rpc<UserMessage>) -> JsonResult {
    let username = required_text(message.username, "username")?;
    let is_admin =
        message.is_admin.ok_or_else(|| ApiError::invalid("Missing value for required parameter 'is_admin'."))?;
    if !is_admin {
        refuse_removing_last_admin(&app, &username).await?;
    }
    let updated = app.store.update_user(&username, None, Some(is_admin)).await?;
    forget_cached(&app);
    if !updated {
        return Err(user_not_found(&username));
    }
    Ok(Json(json!({})))
}

/// Keeps one admin: without one, nobody could manage users short of the command line.
async fn refuse_removing_last_admin(app: &AppState, username: &str) -> ApiResult<()> {
    let target = app.store.get_user(username).await?;
    if target.is_some_and(|user| user.is_admin) && app.store.count_admins().await? <= 1 {
        return Err(ApiError(Error::new(ErrorCode::InvalidState, "The last admin cannot be removed or demoted.")));
    }
    Ok(())
}

async fn delete_user(State(app): State<AppState>, Rpc { message, .. }: Rpc<UserMessage>) -> JsonResult {
    let username = required_text(message.username, "username")?;
    refuse_removing_last_admin(&app, &username).await?;
    if !app.store.delete_user(&username).await? {
        return Err(user_not_found(&username));
    }
    forget_cached(&app);
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct PermissionMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    experiment_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    username: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    permission: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    resource_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    resource_id: Option<String>,
}

/// Which kind of resource a legacy permission call is about.
#[derive(Clone, Copy)]
enum Kind {
    Experiment,
    Model,
}

impl Kind {
    fn resource(self, message: &PermissionMessage) -> ApiResult<Resource> {
        Ok(match self {
            Kind::Experiment => Resource::Experiment(required_text(message.experiment_id.clone(), "experiment_id")?),
            Kind::Model => Resource::RegisteredModel(required_text(message.name.clone(), "name")?),
        })
    }

    fn describe(self, resource: &Resource, username: &str) -> (String, String) {
        match self {
            Kind::Experiment => (
                format!("Experiment permission (experiment_id={}, username={username})", resource.key()),
                format!("Experiment permission with experiment_id={} and username={username}", resource.key()),
            ),
            Kind::Model => (
                format!("Registered model permission (name={}, username={username})", resource.key()),
                format!("Registered model permission with name={} and username={username}", resource.key()),
            ),
        }
    }

    fn answer(self, resource: &Resource, user_id: i64, permission: Permission) -> Value {
        match self {
            Kind::Experiment => json!({"experiment_permission": {
                "experiment_id": resource.key(), "user_id": user_id, "permission": permission.as_str()}}),
            Kind::Model => json!({"registered_model_permission": {
                "name": resource.key(), "user_id": user_id, "permission": permission.as_str()}}),
        }
    }
}

fn permission_of(message: &PermissionMessage) -> ApiResult<Permission> {
    Permission::parse(&required_text(message.permission.clone(), "permission")?).map_err(ApiError)
}

async fn write_permission(app: &AppState, kind: Kind, message: PermissionMessage, mode: GrantWrite) -> JsonResult {
    let resource = kind.resource(&message)?;
    let username = required_text(message.username.clone(), "username")?;
    let permission = permission_of(&message)?;
    let user = find_user(app, &username).await?;
    let grant = Grant { user_id: user.id, resource: resource.clone(), permission };
    let written = app.store.put_grant(grant, mode).await?;
    forget_cached(app);
    if !written {
        let (existing, missing) = kind.describe(&resource, &username);
        return Err(ApiError(match mode {
            GrantWrite::Create => Error::already_exists(format!("{existing} already exists.")),
            _ => Error::not_found(format!("{missing} not found")),
        }));
    }
    Ok(Json(match mode {
        GrantWrite::Create => kind.answer(&resource, user.id, permission),
        _ => json!({}),
    }))
}

async fn read_permission(app: &AppState, kind: Kind, message: PermissionMessage) -> JsonResult {
    let resource = kind.resource(&message)?;
    let username = required_text(message.username.clone(), "username")?;
    let user = find_user(app, &username).await?;
    match app.store.get_grant(user.id, &resource).await? {
        Some(permission) => Ok(Json(kind.answer(&resource, user.id, permission))),
        None => Err(ApiError(Error::not_found(format!("{} not found", kind.describe(&resource, &username).1)))),
    }
}

async fn remove_permission(app: &AppState, kind: Kind, message: PermissionMessage) -> JsonResult {
    let resource = kind.resource(&message)?;
    let username = required_text(message.username.clone(), "username")?;
    let user = find_user(app, &username).await?;
    let deleted = app.store.delete_grant(user.id, &resource).await?;
    forget_cached(app);
    if !deleted {
        return Err(ApiError(Error::not_found(format!("{} not found", kind.describe(&resource, &username).1))));
    }
    Ok(Json(json!({})))
}

macro_rules! permission_handlers {
    ($($name:ident => $body:expr;)*) => {$(
        async fn $name(State(app): State<AppState>, Rpc { message, .. }: Rpc<PermissionMessage>) -> JsonResult {
            let run: fn(AppState, PermissionMessage) -> _ = $body;
            run(app, message).await
        }
    )*};
}

permission_handlers! {
    create_experiment_permission => |app, m| async move { write_permission(&app, Kind::Experiment, m, GrantWrite::Create).await };
    update_experiment_permission => |app, m| async move { write_permission(&app, Kind::Experiment, m, GrantWrite::Update).await };
    get_experiment_permission => |app, m| async move { read_permission(&app, Kind::Experiment, m).await };
    delete_experiment_permission => |app, m| async move { remove_permission(&app, Kind::Experiment, m).await };
    create_model_permission => |app, m| async move { write_permission(&app, Kind::Model, m, GrantWrite::Create).await };
    update_model_permission => |app, m| async move { write_permission(&app, Kind::Model, m, GrantWrite::Update).await };
    get_model_permission => |app, m| async move { read_permission(&app, Kind::Model, m).await };
    delete_model_permission => |app, m| async move { remove_permission(&app, Kind::Model, m).await };
}

fn v3_resource(message: &PermissionMessage) -> ApiResult<Resource> {
    let kind = required_text(message.resource_type.clone(), "resource_type")?;
    let key = required_text(message.resource_id.clone(), "resource_id")?;
    Resource::from_parts(&kind, key).ok_or_else(|| {
        ApiError::invalid(format!(
            "Unsupported resource_type '{kind}'. Supported types are: experiment, registered_model."
        ))
    })
}

async fn grant_permission(State(app): State<AppState>, Rpc { message, .. }: Rpc<PermissionMessage>) -> JsonResult {
    let resource = v3_resource(&message)?;
    let permission = permission_of(&message)?;
    let user = find_user(&app, &required_text(message.username, "username")?).await?;
    app.store.put_grant(Grant { user_id: user.id, resource, permission }, GrantWrite::Upsert).await?;
    forget_cached(&app);
    Ok(Json(json!({})))
}

async fn revoke_permission(State(app): State<AppState>, Rpc { message, .. }: Rpc<PermissionMessage>) -> JsonResult {
    let resource = v3_resource(&message)?;
    let user = find_user(&app, &required_text(message.username, "username")?).await?;
    app.store.delete_grant(user.id, &resource).await?;
    forget_cached(&app);
    Ok(Json(json!({})))
}

/// The user's effective level (their grant, else the default; MANAGE for admins), as a
/// request of theirs would meet it.
async fn get_permission(State(app): State<AppState>, Rpc { message, .. }: Rpc<PermissionMessage>) -> JsonResult {
    let resource = v3_resource(&message)?;
    let user = find_user(&app, &required_text(message.username, "username")?).await?;
    let as_caller = Caller { user_id: user.id, username: user.username, is_admin: user.is_admin, via: Via::Password };
    let permission = auth_of(&app)?.permission(app.store.as_ref(), &as_caller, &resource).await?;
    Ok(Json(json!({"allowed": permission.allows(Action::Use), "permission": permission.as_str()})))
}

// ---------------------------------------------------------------- the UI's session

/// `Secure` when the browser reached us over TLS (through a proxy that says so).
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

fn session_cookie_header(value: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .expect("a cookie of URL-safe characters is a valid header")
}

async fn login(
    State(app): State<AppState>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    Rpc { message, .. }: Rpc<UserMessage>,
) -> ApiResult<Response> {
    let auth = auth_of(&app)?;
    let username = message.username.unwrap_or_default();
    let password = message.password.unwrap_or_default();
    let address = connect.map(|Extension(ConnectInfo(address))| address.ip());
    let caller = auth.password_login(app.store.as_ref(), &username, &password, address).await?;
    let secret = new_secret()?;
    let now = now_millis();
    let ttl = auth.settings.session_ttl;
    app.store
        .create_credential(Credential {
            id: new_credential_id()?,
            user_id: caller.user_id,
            kind: CredentialKind::Session,
            name: "web UI".into(),
            secret_hash: secret_hash(&secret),
            created_at: now,
            expires_at: Some(now + ttl.as_millis() as i64),
        })
        .await?;
    let user = find_user(&app, &caller.username).await?;
    let body = json!({"user": user_json(&app, &user).await?, "csrf_token": csrf_token_for(&secret)});
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie_header(&secret, ttl.as_secs(), over_tls(&headers)));
    Ok(response)
}

async fn logout(
    State(app): State<AppState>,
    headers: HeaderMap,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Response> {
    if let Some(secret) = crate::auth::credentials::session_cookie(&headers) {
        if let Some((credential, _)) = app.store.credential_user(&secret_hash(&secret), now_millis()).await? {
            app.store.delete_credential(caller.user_id, &credential.id).await?;
            forget_cached(&app);
        }
    }
    let mut response = Json(json!({})).into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie_header("", 0, over_tls(&headers)));
    Ok(response)
}

/// Who is signed in, and the CSRF token the UI's writes carry.
async fn session(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> JsonResult {
    let user = find_user(&app, &caller.username).await?;
    let csrf = match &caller.via {
        Via::Session { csrf } => Some(csrf.clone()),
        _ => None,
    };
    Ok(Json(json!({"user": user_json(&app, &user).await?, "csrf_token": csrf})))
}

/// The caller's own level on one experiment (`experiment_id`) or model (`name`), so that
/// the UI can hide what the caller may not do.
async fn my_permission(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Rpc { message, .. }: Rpc<PermissionMessage>,
) -> JsonResult {
    let resource = match (message.experiment_id, message.name) {
        (Some(id), None) => Resource::Experiment(id),
        (None, Some(name)) => Resource::RegisteredModel(name),
        _ => return Err(ApiError::invalid("Give exactly one of 'experiment_id' and 'name'.")),
    };
    let permission = auth_of(&app)?.permission(app.store.as_ref(), &caller, &resource).await?;
    Ok(Json(json!({
        "permission": permission.as_str(),
        "can_read": permission.allows(Action::Read),
        "can_update": permission.allows(Action::Update),
        "can_delete": permission.allows(Action::Delete),
        "can_manage": permission.allows(Action::Manage),
        "is_admin": caller.is_admin,
    })))
}

// ---------------------------------------------------------------- tokens

#[derive(Deserialize)]
struct TokenMessage {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    username: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    expires_in_days: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    id: Option<String>,
}

/// The caller, or the user an admin names.
async fn token_owner(app: &AppState, caller: &Caller, username: Option<String>) -> ApiResult<User> {
    match username.filter(|name| *name != caller.username) {
        None => find_user(app, &caller.username).await,
        Some(_) if !caller.is_admin => Err(crate::auth::permission_denied()),
        Some(name) => find_user(app, &name).await,
    }
}

fn token_json(credential: &Credential) -> Value {
    json!({
        "id": credential.id,
        "name": credential.name,
        "created_at": credential.created_at,
        "expires_at": credential.expires_at,
    })
}

async fn create_token(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Rpc { message, .. }: Rpc<TokenMessage>,
) -> JsonResult {
    let name = message.name.unwrap_or_default();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!("A token needs a name of 1 to {MAX_NAME_CHARS} characters.")));
    }
    let expires_at = match message.expires_in_days {
        None => None,
        Some(days) if (1..=MAX_TOKEN_DAYS).contains(&days) => Some(now_millis() + days * 86_400_000),
        Some(days) => {
            return Err(ApiError::invalid(format!(
                "expires_in_days must be between 1 and {MAX_TOKEN_DAYS}; got {days}."
            )))
        }
    };
    let owner = token_owner(&app, &caller, message.username).await?;
    let secret = new_secret()?;
    let credential = Credential {
        id: new_credential_id()?,
        user_id: owner.id,
        kind: CredentialKind::Token,
        name,
        secret_hash: secret_hash(&secret),
        created_at: now_millis(),
        expires_at,
    };
    app.store.create_credential(credential.clone()).await?;
    // The only time the secret is shown.
    Ok(Json(json!({"token": token_json(&credential), "secret": secret})))
}

async fn list_tokens(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Rpc { message, .. }: Rpc<TokenMessage>,
) -> JsonResult {
    let owner = token_owner(&app, &caller, message.username).await?;
    let tokens = app.store.list_credentials(owner.id, CredentialKind::Token).await?;
    Ok(Json(json!({"tokens": tokens.iter().map(token_json).collect::<Vec<_>>()})))
}

async fn revoke_token(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Rpc { message, .. }: Rpc<TokenMessage>,
) -> JsonResult {
    let id = required_text(message.id, "id")?;
    let owner = token_owner(&app, &caller, message.username).await?;
    let listed = app.store.list_credentials(owner.id, CredentialKind::Token).await?;
    let revoked = listed.iter().any(|token| token.id == id) && app.store.delete_credential(owner.id, &id).await?;
    forget_cached(&app);
    if !revoked {
        return Err(ApiError(Error::not_found(format!("No token with id={id}"))));
    }
    Ok(Json(json!({})))
}
