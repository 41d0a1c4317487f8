//! Authentication and permissions (`--app-name basic-auth`): who is calling, and may they.
//!
//! Every route declares its [`Rule`] where it is defined ([`Routes`]); one middleware
//! ([`rules::guard`]) authenticates the caller and checks the rule before the handler
//! runs, and a route whose rule is missing is refused to everyone. Users, grants, tokens
//! and sessions live in the metadata store, so every replica sees a change at once; the
//! only process memory is a short-lived cache of verified passwords (checked against the
//! stored hash on every request), a failed-login counter and the immutable map from runs
//! and logged models to their experiment.

pub mod credentials;
pub mod rules;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferroflow_core::auth::{Action, Permission, Visibility};
use ferroflow_core::{Error, ErrorCode};
use ferroflow_store::auth::{CredentialKind, ExperimentOf, Resource, User};
use ferroflow_store::Store;

pub use credentials::{csrf_token_for, hash_password, new_secret, secret_hash};
pub use rules::{Locate, Routes, Rule};

use crate::error::ApiError;

/// How `--app-name basic-auth` behaves.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The level of a user on an experiment or model nobody granted them anything on
    /// (MLflow's `default_permission`, READ by default).
    pub default_permission: Permission,
    /// How long a UI login lasts.
    pub session_ttl: Duration,
    /// How long a verified password is trusted without re-hashing it (while the stored
    /// hash stays the same).
    pub verified_ttl: Duration,
    /// Failed logins allowed per user within [`FAILURE_WINDOW`] (ten times as many per address).
    pub max_failures: u32,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            default_permission: Permission::Read,
            session_ttl: Duration::from_secs(12 * 3600),
            verified_ttl: Duration::from_secs(300),
            max_failures: 10,
        }
    }
}

/// One address may fail this many times more than one user: many users may share an
/// address (a NAT, a proxy), and guessing across users is what it stops.
const ADDRESS_FACTOR: usize = 10;
/// The window over which failed logins are counted.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Bounds on the in-process maps; past them a map is cleared (it is only a cache).
const MAX_CACHED: usize = 10_000;

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Password,
    Token,
    /// A UI session; writes must carry its CSRF token.
    Session {
        csrf: String,
    },
}

/// The authenticated caller, put in the request's extensions for handlers that filter
/// what they answer (searches) or record who created something.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub is_admin: bool,
    pub via: Via,
}

impl Caller {
    fn from_user(user: &User, via: Via) -> Self {
        Caller { user_id: user.id, username: user.username.clone(), is_admin: user.is_admin, via }
    }
}

struct Verified {
    password_hash: String,
    at: Instant,
}

#[derive(Default)]
struct Failures {
    by_user: HashMap<String, Vec<Instant>>,
    by_address: HashMap<IpAddr, Vec<Instant>>,
}

/// The auth app's state, shared by every request.
pub struct Auth {
    pub settings: AuthSettings,
    /// Keyed by a SHA-256 of the username and password: a hit skips argon2 only while the
    /// user's stored hash is still the one verified, so a changed password or a deleted
    /// user is refused at once, on every replica.
    verified: Mutex<HashMap<[u8; 32], Verified>>,
    failures: Mutex<Failures>,
    /// A run's or logged model's experiment never changes, so it is looked up once.
    owners: Mutex<HashMap<ExperimentOf, String>>,
    /// Users, tokens and sessions, and grants, as read from the store within
    /// [`STORE_TTL`]. A change made through this replica clears them at once
    /// ([`Auth::changed`]); another replica's is seen when the store's change feed
    /// (PostgreSQL's NOTIFY) says so, or within the TTL at most.
    users: TtlCache<String, User>,
    secrets: TtlCache<String, (ferroflow_store::auth::Credential, User)>,
    grants: TtlCache<(i64, Resource), Option<Permission>>,
    /// Each user's grants, for what a listing shows them.
    user_grants: TtlCache<i64, Vec<ferroflow_store::auth::Grant>>,
    /// argon2 takes 19 MiB and tens of milliseconds per check: at most one per core run
    /// at once, so a burst of logins (or of guesses) cannot exhaust memory or threads.
    hashing: tokio::sync::Semaphore,
}

/// How long a user, token, session or grant read from the store is trusted without a
/// change notice: a store read per request would cost as much as the request itself.
pub const STORE_TTL: Duration = Duration::from_secs(1);

/// A bounded map whose entries expire; cleared whole when full (it is only a cache).
struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: std::hash::Hash + Eq, V: Clone> TtlCache<K, V> {
    fn new() -> Self {
        TtlCache { entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().expect("auth cache");
        entries.get(key).filter(|(_, at)| at.elapsed() < STORE_TTL).map(|(value, _)| value.clone())
    }

    fn put(&self, key: K, value: V) {
        let mut entries = self.entries.lock().expect("auth cache");
        if entries.len() >= MAX_CACHED {
            entries.clear();
        }
        entries.insert(key, (value, Instant::now()));
    }

    fn clear(&self) {
        self.entries.lock().expect("auth cache").clear();
    }
}

impl Auth {
    pub fn new(settings: AuthSettings) -> Self {
        Auth {
            settings,
            verified: Mutex::new(HashMap::new()),
            failures: Mutex::new(Failures::default()),
            owners: Mutex::new(HashMap::new()),
            users: TtlCache::new(),
            secrets: TtlCache::new(),
            grants: TtlCache::new(),
            user_grants: TtlCache::new(),
            hashing: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map(std::num::NonZeroUsize::get).unwrap_or(2),
            ),
        }
    }

    /// Forgets every cached user, credential and grant: after this replica changed one,
    /// or when the store says another did.
    pub fn changed(&self) {
        self.users.clear();
        self.secrets.clear();
        self.grants.clear();
        self.user_grants.clear();
    }

    /// Records the experiment of a run or logged model just created.
    pub fn remember_owner(&self, of: ExperimentOf, experiment_id: String) {
        let mut owners = self.owners.lock().expect("owner cache");
        if owners.len() >= MAX_CACHED {
            owners.clear();
        }
        owners.insert(of, experiment_id);
    }

    /// Drops the caches whenever the store reports another replica's change.
    pub fn follow_changes(self: &std::sync::Arc<Self>, store: &dyn Store) {
        let auth = std::sync::Arc::downgrade(self);
        store.watch_auth_changes(std::sync::Arc::new(move || {
            if let Some(auth) = auth.upgrade() {
                auth.changed();
            }
        }));
    }

    /// The user, from the cache or the store.
    async fn user(&self, store: &dyn Store, username: &str) -> Result<Option<User>, ApiError> {
        if let Some(user) = self.users.get(&username.to_string()) {
            return Ok(Some(user));
        }
        let user = store.get_user(username).await?;
        if let Some(user) = &user {
            self.users.put(username.to_string(), user.clone());
        }
        Ok(user)
    }

    /// Who sent `headers`: HTTP Basic, a bearer token, or the UI's session cookie.
    pub async fn authenticate(
        &self,
        store: &dyn Store,
        headers: &axum::http::HeaderMap,
        address: Option<IpAddr>,
    ) -> Result<Caller, ApiError> {
        let authorization = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if let Some(value) = authorization {
            let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
            if scheme.eq_ignore_ascii_case("basic") {
                let (username, password) = credentials::decode_basic(rest.trim()).ok_or_else(unauthenticated)?;
                return self.password_login(store, &username, &password, address).await;
            }
            if scheme.eq_ignore_ascii_case("bearer") {
                return self.secret_login(store, rest.trim(), CredentialKind::Token, address).await;
            }
            return Err(unauthenticated());
        }
        if let Some(secret) = credentials::session_cookie(headers) {
            return self.secret_login(store, &secret, CredentialKind::Session, address).await;
        }
        Err(unauthenticated())
    }

    /// Checks a username and password (Basic auth and the UI's login form).
    pub async fn password_login(
        &self,
        store: &dyn Store,
        username: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<Caller, ApiError> {
        self.refuse_if_limited(Some(username), address)?;
        let user = self.user(store, username).await?;
        let key = credentials::cache_key(username, password);
        if let Some(user) = &user {
            let cached = self.verified.lock().expect("verified cache").get(&key).is_some_and(|entry| {
                entry.password_hash == user.password_hash && entry.at.elapsed() < self.settings.verified_ttl
            });
            if cached {
                return Ok(Caller::from_user(user, Via::Password));
            }
        }
        // Hash even for an unknown user, so that timing does not tell which names exist.
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let password = password.to_string();
        let permit = self.hashing.acquire().await.map_err(|_| ApiError(Error::internal("password check failed")))?;
        let matches = tokio::task::spawn_blocking(move || credentials::verify_password(&password, stored.as_deref()))
            .await
            .map_err(|_| ApiError(Error::internal("password check failed")))?;
        drop(permit);
        match user {
            Some(user) if matches => {
                let mut verified = self.verified.lock().expect("verified cache");
                if verified.len() >= MAX_CACHED {
                    verified.clear();
                }
                verified.insert(key, Verified { password_hash: user.password_hash.clone(), at: Instant::now() });
                Ok(Caller::from_user(&user, Via::Password))
            }
            _ => {
                self.record_failure(Some(username), address);
                Err(unauthenticated())
            }
        }
    }

    /// An argon2id hash of a new password, under the same bound as checks.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let permit = self.hashing.acquire().await.map_err(|_| ApiError(Error::internal("password hashing failed")))?;
        let hashed = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|_| ApiError(Error::internal("password hashing failed")))?;
        drop(permit);
        hashed.map_err(ApiError)
    }

    async fn secret_login(
        &self,
        store: &dyn Store,
        secret: &str,
        kind: CredentialKind,
        address: Option<IpAddr>,
    ) -> Result<Caller, ApiError> {
        self.refuse_if_limited(None, address)?;
        let hash = secret_hash(secret);
        let now = ferroflow_store::common::now_millis();
        let found = match self.secrets.get(&hash) {
            // A cached credential still expires on time.
            Some(found) => Some(found).filter(|(credential, _)| credential.expires_at.is_none_or(|at| at > now)),
            None => {
                let found = store.credential_user(&hash, now).await?;
                if let Some(found) = &found {
                    self.secrets.put(hash, found.clone());
                }
                found
            }
        };
        match found {
            Some((credential, user)) if credential.kind == kind => {
                let via = match kind {
                    CredentialKind::Token => Via::Token,
                    CredentialKind::Session => Via::Session { csrf: csrf_token_for(secret) },
                };
                Ok(Caller::from_user(&user, via))
            }
            _ => {
                self.record_failure(None, address);
                Err(unauthenticated())
            }
        }
    }

    fn refuse_if_limited(&self, username: Option<&str>, address: Option<IpAddr>) -> Result<(), ApiError> {
        let mut failures = self.failures.lock().expect("failure log");
        let max = self.settings.max_failures as usize;
        let over = |times: Option<&mut Vec<Instant>>, max: usize| {
            times.is_some_and(|times| {
                times.retain(|at| at.elapsed() < FAILURE_WINDOW);
                times.len() >= max
            })
        };
        let limited = username.is_some_and(|name| over(failures.by_user.get_mut(name), max))
            || address.is_some_and(|address| over(failures.by_address.get_mut(&address), max * ADDRESS_FACTOR));
        if limited {
            return Err(ApiError(Error::new(
                ErrorCode::RequestLimitExceeded,
                "Too many failed logins; try again in a few minutes.",
            )));
        }
        Ok(())
    }

    fn record_failure(&self, username: Option<&str>, address: Option<IpAddr>) {
        let mut failures = self.failures.lock().expect("failure log");
        let now = Instant::now();
        if failures.by_user.len() >= MAX_CACHED {
            failures.by_user.clear();
        }
        if failures.by_address.len() >= MAX_CACHED {
            failures.by_address.clear();
        }
        if let Some(name) = username {
            failures.by_user.entry(name.to_string()).or_default().push(now);
        }
        if let Some(address) = address {
            failures.by_address.entry(address).or_default().push(now);
        }
    }

    /// The caller's level on a resource: MANAGE for admins, else their grant, else the default.
    pub async fn permission(
        &self,
        store: &dyn Store,
        caller: &Caller,
        resource: &Resource,
    ) -> Result<Permission, ApiError> {
        if caller.is_admin {
            return Ok(Permission::Manage);
        }
        let key = (caller.user_id, resource.clone());
        let grant = match self.grants.get(&key) {
            Some(grant) => grant,
            None => {
                let grant = store.get_grant(caller.user_id, resource).await?;
                self.grants.put(key, grant);
                grant
            }
        };
        Ok(grant.unwrap_or(self.settings.default_permission))
    }

    /// Refuses unless the caller may do `action` on `resource`.
    pub async fn require(
        &self,
        store: &dyn Store,
        caller: &Caller,
        resource: &Resource,
        action: Action,
    ) -> Result<(), ApiError> {
        if self.permission(store, caller, resource).await?.allows(action) {
            Ok(())
        } else {
            Err(permission_denied())
        }
    }

    /// The experiment that holds a run, logged model or experiment name, cached for
    /// runs and logged models (whose experiment never changes).
    pub async fn experiment_of(&self, store: &dyn Store, of: ExperimentOf) -> Result<Option<String>, ApiError> {
        let immutable = !matches!(of, ExperimentOf::ExperimentName(_));
        if immutable {
            if let Some(found) = self.owners.lock().expect("owner cache").get(&of) {
                return Ok(Some(found.clone()));
            }
        }
        let found = store.experiment_of(&of).await?;
        if let (true, Some(experiment_id)) = (immutable, &found) {
            let mut owners = self.owners.lock().expect("owner cache");
            if owners.len() >= MAX_CACHED {
                owners.clear();
            }
            owners.insert(of, experiment_id.clone());
        }
        Ok(found)
    }

    /// What a caller may see in a listing of one kind of resource; `None` sees everything.
    pub async fn visibility(
        &self,
        store: &dyn Store,
        caller: &Caller,
        kind: fn(&Resource) -> Option<&str>,
    ) -> Result<Option<Visibility>, ApiError> {
        if caller.is_admin {
            return Ok(None);
        }
        let grants = match self.user_grants.get(&caller.user_id) {
            Some(grants) => grants,
            None => {
                let grants = store.user_grants(caller.user_id).await?;
                self.user_grants.put(caller.user_id, grants.clone());
                grants
            }
        };
        let keyed = grants.iter().filter_map(|grant| kind(&grant.resource).map(|key| (key, grant.permission)));
        Ok(Some(Visibility::from_grants(self.settings.default_permission, keyed)))
    }
}

/// `Resource::Experiment`'s id, for [`Auth::visibility`].
pub fn experiment_key(resource: &Resource) -> Option<&str> {
    match resource {
        Resource::Experiment(id) => Some(id),
        Resource::RegisteredModel(_) => None,
    }
}

/// `Resource::RegisteredModel`'s name, for [`Auth::visibility`].
pub fn model_key(resource: &Resource) -> Option<&str> {
    match resource {
        Resource::RegisteredModel(name) => Some(name),
        Resource::Experiment(_) => None,
    }
}

/// MLflow's 401 text, as JSON in its error format.
pub fn unauthenticated() -> ApiError {
    ApiError(Error::new(
        ErrorCode::Unauthenticated,
        "You are not authenticated. Please see \
         https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.",
    ))
}

pub fn permission_denied() -> ApiError {
    ApiError(Error::new(ErrorCode::PermissionDenied, "Permission denied"))
}

/// The first admin, as `ferroflow server` bootstraps it: refuses to run with auth on and
/// no admin, unless `FERROFLOW_ADMIN_PASSWORD` names the first admin's password.
pub async fn bootstrap_admin(
    store: &dyn Store,
    username: Option<&str>,
    password: Option<&str>,
) -> Result<Option<String>, String> {
    if store.count_admins().await.map_err(|e| e.message)? > 0 {
        return Ok(None);
    }
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return Err("authentication is on (--app-name basic-auth) but there is no admin user. Create one with \
                    `ferroflow users create-admin --backend-store-uri …` (the password is read from a prompt or \
                    stdin), or start the server once with FERROFLOW_ADMIN_PASSWORD set (and FERROFLOW_ADMIN_USERNAME, \
                    default `admin`). There is no default password."
            .to_string());
    };
    let username = username.filter(|u| !u.is_empty()).unwrap_or("admin");
    credentials::validate_new_password(password).map_err(|e| e.message)?;
    let hash = hash_password(password).map_err(|e| e.message)?;
    match store.get_user(username).await.map_err(|e| e.message)? {
        // An existing non-admin of that name is promoted, with the given password.
        Some(_) => {
            store.update_user(username, Some(&hash), Some(true)).await.map_err(|e| e.message)?;
        }
        None => {
            store.create_user(username, &hash, true).await.map_err(|e| e.message)?;
        }
    }
    Ok(Some(username.to_string()))
}

/// What the caller of a listing may see; `None` (everything) with auth off or for admins.
pub async fn visible_to(
    app: &crate::AppState,
    caller: Option<&Caller>,
    kind: fn(&Resource) -> Option<&str>,
) -> Result<Option<Visibility>, ApiError> {
    match (&app.auth, caller) {
        (Some(auth), Some(caller)) => auth.visibility(app.store.as_ref(), caller, kind).await,
        _ => Ok(None),
    }
}

/// MLflow's rule: whoever creates an experiment or registered model MANAGEs it.
pub async fn grant_creator(app: &crate::AppState, caller: Option<&Caller>, resource: Resource) -> Result<(), ApiError> {
    if let (Some(_), Some(caller)) = (&app.auth, caller) {
        let grant = ferroflow_store::auth::Grant { user_id: caller.user_id, resource, permission: Permission::Manage };
        app.store.put_grant(grant, ferroflow_store::auth::GrantWrite::Upsert).await?;
        if let Some(auth) = &app.auth {
            auth.changed();
        }
    }
    Ok(())
}
