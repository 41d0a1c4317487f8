//! Users, their permissions and their credentials (access tokens and UI sessions), kept
//! in the metadata store so that every replica sees one truth: a deleted user or a
//! revoked token is refused by all of them at once.

use async_trait::async_trait;
use ferroflow_core::auth::Permission;
use ferroflow_core::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// A PHC string (argon2id); never leaves the server.
    pub password_hash: String,
    pub is_admin: bool,
}

/// What a permission is granted on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    Experiment(String),
    RegisteredModel(String),
}

impl Resource {
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Experiment(_) => "experiment",
            Resource::RegisteredModel(_) => "registered_model",
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Resource::Experiment(key) | Resource::RegisteredModel(key) => key,
        }
    }

    /// Rebuilds a resource from its stored kind and key.
    pub fn from_parts(kind: &str, key: String) -> Option<Self> {
        match kind {
            "experiment" => Some(Resource::Experiment(key)),
            "registered_model" => Some(Resource::RegisteredModel(key)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub user_id: i64,
    pub resource: Resource,
    pub permission: Permission,
}

/// How [`AuthStore::put_grant`] treats an existing grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantWrite {
    /// Only a new grant; an existing one is left alone (answer `false`).
    Create,
    /// Only an existing grant (answer `false` when there is none).
    Update,
    /// Either.
    Upsert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A bearer token for scripts and CI, named by its owner.
    Token,
    /// The web UI's login session, behind an HttpOnly cookie.
    Session,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Token => "token",
            CredentialKind::Session => "session",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "token" => Some(CredentialKind::Token),
            "session" => Some(CredentialKind::Session),
            _ => None,
        }
    }
}

/// A token or session. Only a hash of its secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: String,
    pub user_id: i64,
    pub kind: CredentialKind,
    pub name: String,
    pub secret_hash: String,
    pub created_at: i64,
    /// Milliseconds since the epoch; `None` never expires.
    pub expires_at: Option<i64>,
}

/// Something whose experiment decides who may touch it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExperimentOf {
    Run(String),
    LoggedModel(String),
    ExperimentName(String),
}

#[async_trait]
pub trait AuthStore: Send + Sync {
    /// Fails with `RESOURCE_ALREADY_EXISTS` when the name is taken.
    async fn create_user(&self, username: &str, password_hash: &str, is_admin: bool) -> Result<User>;
    async fn get_user(&self, username: &str) -> Result<Option<User>>;
    async fn list_users(&self) -> Result<Vec<User>>;
    /// Changes what is given; `false` when there is no such user.
    async fn update_user(&self, username: &str, password_hash: Option<&str>, is_admin: Option<bool>) -> Result<bool>;
    /// Removes the user with its grants and credentials; `false` when there is none.
    async fn delete_user(&self, username: &str) -> Result<bool>;
    async fn count_admins(&self) -> Result<u64>;

    /// Writes a grant as `mode` says; `false` when `mode` left nothing to do.
    async fn put_grant(&self, grant: Grant, mode: GrantWrite) -> Result<bool>;
    async fn get_grant(&self, user_id: i64, resource: &Resource) -> Result<Option<Permission>>;
    async fn delete_grant(&self, user_id: i64, resource: &Resource) -> Result<bool>;
    /// Every grant of one user, in no particular order.
    async fn user_grants(&self, user_id: i64) -> Result<Vec<Grant>>;
    /// Moves every grant on a registered model to its new name (a rename).
    async fn rename_model_grants(&self, old_name: &str, new_name: &str) -> Result<()>;
    /// Drops every grant on a resource (it was deleted for good).
    async fn delete_resource_grants(&self, resource: &Resource) -> Result<()>;

    async fn create_credential(&self, credential: Credential) -> Result<()>;
    /// The credential with this secret hash and its user, unless it has expired by `now_ms`.
    async fn credential_user(&self, secret_hash: &str, now_ms: i64) -> Result<Option<(Credential, User)>>;
    async fn list_credentials(&self, user_id: i64, kind: CredentialKind) -> Result<Vec<Credential>>;
    /// Revokes one of a user's credentials; `false` when it has none by that id.
    async fn delete_credential(&self, user_id: i64, credential_id: &str) -> Result<bool>;

    /// The id of the experiment that holds a run, logged model or name, if it exists.
    async fn experiment_of(&self, of: &ExperimentOf) -> Result<Option<String>>;

    /// Calls `on_change` whenever another process (a replica) may have changed a user,
    /// credential or grant, so that caches of them can be dropped at once. The default
    /// never calls it: one SQLite database has one server.
    fn watch_auth_changes(&self, on_change: std::sync::Arc<dyn Fn() + Send + Sync>) {
        let _ = on_change;
    }
}
