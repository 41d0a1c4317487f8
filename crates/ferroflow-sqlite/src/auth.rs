//! Users, grants and credentials on SQLite ([`AuthStore`]).

use async_trait::async_trait;
use ferroflow_core::auth::Permission;
use ferroflow_core::{Error, Result};
use ferroflow_store::auth::{AuthStore, Credential, CredentialKind, ExperimentOf, Grant, GrantWrite, Resource, User};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::db::db_error;
use crate::SqliteStore;

/// Schema v7: users, their grants (keyed by resource kind and key, so that a grant on a
/// model survives as text like MLflow's), and hashed credentials.
pub(crate) const SCHEMA: &str = r#"
    CREATE TABLE users (
        user_id       INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: a new user inherits nothing cached
        username      TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        is_admin      INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE grants (
        user_id       INTEGER NOT NULL,
        resource_kind TEXT NOT NULL,
        resource_key  TEXT NOT NULL,
        permission    TEXT NOT NULL,
        PRIMARY KEY (user_id, resource_kind, resource_key)
    ) WITHOUT ROWID;
    CREATE INDEX grants_by_resource ON grants (resource_kind, resource_key);
    CREATE TABLE credentials (
        credential_id TEXT PRIMARY KEY,
        user_id       INTEGER NOT NULL,
        kind          TEXT NOT NULL,
        name          TEXT NOT NULL,
        secret_hash   TEXT NOT NULL UNIQUE,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER
    );
    CREATE INDEX credentials_by_user ON credentials (user_id, kind);
"#;

const USER_COLUMNS: &str = "user_id, username, password_hash, is_admin";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User { id: row.get(0)?, username: row.get(1)?, password_hash: row.get(2)?, is_admin: row.get(3)? })
}

fn find_user(conn: &Connection, username: &str) -> Result<Option<User>> {
    conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"))
        .and_then(|mut statement| statement.query_row([username], user_from_row).optional())
        .map_err(db_error)
}

fn stored_permission(text: String) -> rusqlite::Result<Permission> {
    Permission::parse(&text).map_err(|_| rusqlite::Error::InvalidColumnType(0, text, rusqlite::types::Type::Text))
}

const CREDENTIAL_COLUMNS: &str = "credential_id, user_id, kind, name, secret_hash, created_at, expires_at";

fn credential_from_row(row: &Row<'_>) -> rusqlite::Result<Credential> {
    let kind: String = row.get(2)?;
    Ok(Credential {
        id: row.get(0)?,
        user_id: row.get(1)?,
        kind: CredentialKind::parse(&kind).ok_or(rusqlite::Error::InvalidColumnType(
            2,
            kind,
            rusqlite::types::Type::Text,
        ))?,
        name: row.get(3)?,
        secret_hash: row.get(4)?,
        created_at: row.get(5)?,
        expires_at: row.get(6)?,
    })
}

#[async_trait]
impl AuthStore for SqliteStore {
    async fn create_user(&self, username: &str, password_hash: &str, is_admin: bool) -> Result<User> {
        let (username, hash) = (username.to_string(), password_hash.to_string());
        self.db
            .write(move |conn| {
                if find_user(conn, &username)?.is_some() {
                    return Err(Error::already_exists(format!("User (username={username}) already exists.")));
                }
                conn.execute(
                    "INSERT INTO users (username, password_hash, is_admin) VALUES (?1, ?2, ?3)",
                    params![username, hash, is_admin],
                )
                .map_err(db_error)?;
                Ok(User { id: conn.last_insert_rowid(), username, password_hash: hash, is_admin })
            })
            .await
    }

    async fn get_user(&self, username: &str) -> Result<Option<User>> {
        let username = username.to_string();
        self.db.point_read(move |conn| find_user(conn, &username)).await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.db
            .read(|conn| {
                let mut statement = conn
                    .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"))
                    .map_err(db_error)?;
                let rows = statement.query_map([], user_from_row).map_err(db_error)?;
                rows.collect::<rusqlite::Result<_>>().map_err(db_error)
            })
            .await
    }

    async fn update_user(&self, username: &str, password_hash: Option<&str>, is_admin: Option<bool>) -> Result<bool> {
        let (username, hash) = (username.to_string(), password_hash.map(str::to_string));
        self.db
            .write(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE users SET password_hash = coalesce(?2, password_hash), is_admin = coalesce(?3, is_admin) \
                         WHERE username = ?1",
                        params![username, hash, is_admin],
                    )
                    .map_err(db_error)?;
                Ok(changed > 0)
            })
            .await
    }

    async fn delete_user(&self, username: &str) -> Result<bool> {
        let username = username.to_string();
        self.db
            .write(move |conn| {
                let Some(user) = find_user(conn, &username)? else { return Ok(false) };
                for table in ["grants", "credentials", "users"] {
                    conn.execute(&format!("DELETE FROM {table} WHERE user_id = ?1"), [user.id]).map_err(db_error)?;
                }
                Ok(true)
            })
            .await
    }

    async fn count_admins(&self) -> Result<u64> {
        self.db
            .read(|conn| {
                conn.query_row("SELECT count(*) FROM users WHERE is_admin", [], |row| row.get::<_, i64>(0))
                    .map(|n| n as u64)
                    .map_err(db_error)
            })
            .await
    }

    async fn put_grant(&self, grant: Grant, mode: GrantWrite) -> Result<bool> {
        self.db
            .write(move |conn| {
                let sql = match mode {
                    GrantWrite::Create => {
                        "INSERT INTO grants (user_id, resource_kind, resource_key, permission) VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT DO NOTHING"
                    }
                    GrantWrite::Update => {
                        "UPDATE grants SET permission = ?4 WHERE user_id = ?1 AND resource_kind = ?2 AND resource_key = ?3"
                    }
                    GrantWrite::Upsert => {
                        "INSERT INTO grants (user_id, resource_kind, resource_key, permission) VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT DO UPDATE SET permission = excluded.permission"
                    }
                };
                let resource = &grant.resource;
                let changed = conn
                    .execute(sql, params![grant.user_id, resource.kind(), resource.key(), grant.permission.as_str()])
                    .map_err(db_error)?;
                Ok(changed > 0)
            })
            .await
    }

    async fn get_grant(&self, user_id: i64, resource: &Resource) -> Result<Option<Permission>> {
        let resource = resource.clone();
        self.db
            .point_read(move |conn| {
                conn.prepare_cached(
                    "SELECT permission FROM grants WHERE user_id = ?1 AND resource_kind = ?2 AND resource_key = ?3",
                )
                .and_then(|mut statement| {
                    statement
                        .query_row(params![user_id, resource.kind(), resource.key()], |row| {
                            stored_permission(row.get(0)?)
                        })
                        .optional()
                })
                .map_err(db_error)
            })
            .await
    }

    async fn delete_grant(&self, user_id: i64, resource: &Resource) -> Result<bool> {
        let resource = resource.clone();
        self.db
            .write(move |conn| {
                let changed = conn
                    .execute(
                        "DELETE FROM grants WHERE user_id = ?1 AND resource_kind = ?2 AND resource_key = ?3",
                        params![user_id, resource.kind(), resource.key()],
                    )
                    .map_err(db_error)?;
                Ok(changed > 0)
            })
            .await
    }

    async fn user_grants(&self, user_id: i64) -> Result<Vec<Grant>> {
        self.db
            .read(move |conn| {
                let mut statement = conn
                    .prepare_cached("SELECT resource_kind, resource_key, permission FROM grants WHERE user_id = ?1")
                    .map_err(db_error)?;
                let rows = statement
                    .query_map([user_id], |row| {
                        let kind: String = row.get(0)?;
                        let resource = Resource::from_parts(&kind, row.get(1)?)
                            .ok_or(rusqlite::Error::InvalidColumnType(0, kind, rusqlite::types::Type::Text))?;
                        Ok(Grant { user_id, resource, permission: stored_permission(row.get(2)?)? })
                    })
                    .map_err(db_error)?;
                rows.collect::<rusqlite::Result<_>>().map_err(db_error)
            })
            .await
    }

    async fn rename_model_grants(&self, old_name: &str, new_name: &str) -> Result<()> {
        let (old, new) = (old_name.to_string(), new_name.to_string());
        self.db
            .write(move |conn| {
                conn.execute(
                    "UPDATE grants SET resource_key = ?2 WHERE resource_kind = 'registered_model' AND resource_key = ?1",
                    params![old, new],
                )
                .map(|_| ())
                .map_err(db_error)
            })
            .await
    }

    async fn delete_resource_grants(&self, resource: &Resource) -> Result<()> {
        let resource = resource.clone();
        self.db
            .write(move |conn| {
                conn.execute(
                    "DELETE FROM grants WHERE resource_kind = ?1 AND resource_key = ?2",
                    params![resource.kind(), resource.key()],
                )
                .map(|_| ())
                .map_err(db_error)
            })
            .await
    }

    async fn create_credential(&self, credential: Credential) -> Result<()> {
        self.db
            .write(move |conn| {
                let taken: bool = conn
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM credentials WHERE credential_id = ?1 OR secret_hash = ?2)",
                        params![credential.id, credential.secret_hash],
                        |row| row.get(0),
                    )
                    .map_err(db_error)?;
                if taken {
                    return Err(Error::already_exists("A credential with this id already exists."));
                }
                conn.execute(
                    &format!("INSERT INTO credentials ({CREDENTIAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                    params![
                        credential.id,
                        credential.user_id,
                        credential.kind.as_str(),
                        credential.name,
                        credential.secret_hash,
                        credential.created_at,
                        credential.expires_at
                    ],
                )
                .map(|_| ())
                .map_err(db_error)
            })
            .await
    }

    async fn credential_user(&self, secret_hash: &str, now_ms: i64) -> Result<Option<(Credential, User)>> {
        let hash = secret_hash.to_string();
        self.db
            .point_read(move |conn| {
                let columns = CREDENTIAL_COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
                let sql = format!(
                    "SELECT {columns}, u.username, u.password_hash, u.is_admin FROM credentials c \
                     JOIN users u ON u.user_id = c.user_id \
                     WHERE c.secret_hash = ?1 AND (c.expires_at IS NULL OR c.expires_at > ?2)"
                );
                conn.prepare_cached(&sql)
                    .and_then(|mut statement| {
                        statement
                            .query_row(params![hash, now_ms], |row| {
                                let credential = credential_from_row(row)?;
                                let user = User {
                                    id: credential.user_id,
                                    username: row.get(7)?,
                                    password_hash: row.get(8)?,
                                    is_admin: row.get(9)?,
                                };
                                Ok((credential, user))
                            })
                            .optional()
                    })
                    .map_err(db_error)
            })
            .await
    }

    async fn list_credentials(&self, user_id: i64, kind: CredentialKind) -> Result<Vec<Credential>> {
        self.db
            .read(move |conn| {
                let mut statement = conn
                    .prepare_cached(&format!(
                        "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE user_id = ?1 AND kind = ?2 \
                         ORDER BY created_at, credential_id"
                    ))
                    .map_err(db_error)?;
                let rows =
                    statement.query_map(params![user_id, kind.as_str()], credential_from_row).map_err(db_error)?;
                rows.collect::<rusqlite::Result<_>>().map_err(db_error)
            })
            .await
    }

    async fn delete_credential(&self, user_id: i64, credential_id: &str) -> Result<bool> {
        let id = credential_id.to_string();
        self.db
            .write(move |conn| {
                let changed = conn
                    .execute("DELETE FROM credentials WHERE user_id = ?1 AND credential_id = ?2", params![user_id, id])
                    .map_err(db_error)?;
                Ok(changed > 0)
            })
            .await
    }

    async fn experiment_of(&self, of: &ExperimentOf) -> Result<Option<String>> {
        let of = of.clone();
        self.db
            .point_read(move |conn| {
                let (sql, key) = match &of {
                    ExperimentOf::Run(id) => ("SELECT experiment_id FROM runs WHERE run_uuid = ?1", id),
                    ExperimentOf::LoggedModel(id) => {
                        ("SELECT experiment_id FROM logged_models WHERE model_id = ?1", id)
                    }
                    ExperimentOf::ExperimentName(name) => {
                        ("SELECT experiment_id FROM experiments WHERE name = ?1", name)
                    }
                };
                conn.prepare_cached(sql)
                    .and_then(|mut statement| statement.query_row([key], |row| row.get::<_, i64>(0)).optional())
                    .map(|id| id.map(|id| id.to_string()))
                    .map_err(db_error)
            })
            .await
    }
}
