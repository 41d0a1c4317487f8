//! Users, grants and credentials on PostgreSQL ([`AuthStore`]).

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use ferroflow_core::auth::Permission;
use ferroflow_core::{Error, Result};
use ferroflow_store::auth::{AuthStore, Credential, CredentialKind, ExperimentOf, Grant, GrantWrite, Resource, User};
use tokio_postgres::Row;

use crate::db::{execute, execute_unique, query, query_opt, PgDatabase};
use crate::PgStore;

/// Replicas announce auth changes (users, credentials, grants) on one channel.
const LISTEN: &str = "LISTEN ferroflow_auth";

/// Tells every replica's listener that auth data changed (after the change committed:
/// a listener that clears its caches then reads the new rows).
async fn announce(client: &impl deadpool_postgres::GenericClient) -> Result<()> {
    execute(client, "SELECT pg_notify('ferroflow_auth', '')", &[]).await.map(|_| ())
}

/// Holds one connection outside the pool that LISTENs on the auth channel, calling
/// `on_change` for each notice, and once more after each reconnection (notices sent while
/// it was away are lost). Stops when the store is gone.
fn spawn_listener(database: &PgDatabase, alive: std::sync::Weak<()>, on_change: Arc<dyn Fn() + Send + Sync>) {
    let (config, tls) = (database.config.clone(), database.tls.clone());
    tokio::spawn(async move {
        while alive.upgrade().is_some() {
            let outcome = match tls.clone() {
                Some(tls) => listen(&config, tls, &alive, &on_change).await,
                None => listen(&config, tokio_postgres::NoTls, &alive, &on_change).await,
            };
            if let Err(error) = outcome {
                tracing::warn!(%error, "the auth change listener lost its connection; reconnecting");
            }
            on_change();
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
}

async fn listen<T>(
    config: &tokio_postgres::Config,
    tls: T,
    alive: &std::sync::Weak<()>,
    on_change: &Arc<dyn Fn() + Send + Sync>,
) -> std::result::Result<(), tokio_postgres::Error>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let (client, mut connection) = config.connect(tls).await?;
    let mut listening = Some(Box::pin(client.batch_execute(LISTEN)));
    loop {
        let message = std::future::poll_fn(|cx| {
            // Drive the LISTEN to completion while reading the connection's messages.
            if let Some(pending) = listening.as_mut() {
                if let std::task::Poll::Ready(done) = pending.as_mut().poll(cx) {
                    listening = None;
                    if let Err(error) = done {
                        return std::task::Poll::Ready(Some(Err(error)));
                    }
                }
            }
            connection.poll_message(cx)
        });
        let ticked = tokio::time::timeout(std::time::Duration::from_secs(5), message).await;
        if alive.upgrade().is_none() {
            return Ok(());
        }
        match ticked {
            Err(_) => continue,
            Ok(Some(Ok(tokio_postgres::AsyncMessage::Notification(_)))) => on_change(),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(error))) => return Err(error),
            Ok(None) => return Ok(()),
        }
    }
}

/// Schema v2: users, their grants (keyed by resource kind and key, as text like
/// MLflow's, so that a grant can name a model before it exists), hashed credentials.
/// Grants and credentials go with their user (`ON DELETE CASCADE`).
pub(crate) const SCHEMA: &str = r#"
    CREATE TABLE users (
        user_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        username      text COLLATE "C" NOT NULL UNIQUE,
        password_hash text NOT NULL,
        is_admin      boolean NOT NULL DEFAULT false
    );
    CREATE TABLE grants (
        user_id       bigint NOT NULL REFERENCES users ON DELETE CASCADE,
        resource_kind text COLLATE "C" NOT NULL,
        resource_key  text COLLATE "C" NOT NULL,
        permission    text NOT NULL,
        PRIMARY KEY (user_id, resource_kind, resource_key)
    );
    CREATE INDEX grants_by_resource ON grants (resource_kind, resource_key);
    CREATE TABLE credentials (
        credential_id text COLLATE "C" PRIMARY KEY,
        user_id       bigint NOT NULL REFERENCES users ON DELETE CASCADE,
        kind          text NOT NULL,
        name          text NOT NULL,
        secret_hash   text COLLATE "C" NOT NULL UNIQUE,
        created_at    bigint NOT NULL,
        expires_at    bigint
    );
    CREATE INDEX credentials_by_user ON credentials (user_id, kind);
"#;

const USER_COLUMNS: &str = "user_id, username, password_hash, is_admin";

fn user_from_row(row: &Row) -> User {
    User { id: row.get(0), username: row.get(1), password_hash: row.get(2), is_admin: row.get(3) }
}

fn stored_permission(text: &str) -> Result<Permission> {
    Permission::parse(text).map_err(|_| Error::internal("a stored permission is unreadable"))
}

const CREDENTIAL_COLUMNS: &str = "credential_id, user_id, kind, name, secret_hash, created_at, expires_at";

fn credential_from_row(row: &Row) -> Result<Credential> {
    let kind: &str = row.get(2);
    Ok(Credential {
        id: row.get(0),
        user_id: row.get(1),
        kind: CredentialKind::parse(kind).ok_or_else(|| Error::internal("a stored credential kind is unreadable"))?,
        name: row.get(3),
        secret_hash: row.get(4),
        created_at: row.get(5),
        expires_at: row.get(6),
    })
}

#[async_trait]
impl AuthStore for PgStore {
    async fn create_user(&self, username: &str, password_hash: &str, is_admin: bool) -> Result<User> {
        let client = self.db.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "INSERT INTO users (username, password_hash, is_admin) VALUES ($1, $2, $3) \
                 ON CONFLICT (username) DO NOTHING RETURNING {USER_COLUMNS}"
            ))
            .await
            .map_err(crate::db::db_error)?;
        let row =
            client.query_opt(&statement, &[&username, &password_hash, &is_admin]).await.map_err(crate::db::db_error)?;
        row.map(|row| user_from_row(&row))
            .ok_or_else(|| Error::already_exists(format!("User (username={username}) already exists.")))
    }

    async fn get_user(&self, username: &str) -> Result<Option<User>> {
        let client = self.db.client().await?;
        let row =
            query_opt(&client, &format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"), &[&username]).await?;
        Ok(row.map(|row| user_from_row(&row)))
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let client = self.db.client().await?;
        let rows = query(&client, &format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"), &[]).await?;
        Ok(rows.iter().map(user_from_row).collect())
    }

    async fn update_user(&self, username: &str, password_hash: Option<&str>, is_admin: Option<bool>) -> Result<bool> {
        let client = self.db.client().await?;
        let changed = execute(
            &client,
            "UPDATE users SET password_hash = coalesce($2, password_hash), is_admin = coalesce($3, is_admin) \
             WHERE username = $1",
            &[&username, &password_hash, &is_admin],
        )
        .await?;
        announce(&client).await?;
        Ok(changed > 0)
    }

    async fn delete_user(&self, username: &str) -> Result<bool> {
        let client = self.db.client().await?;
        let deleted = execute(&client, "DELETE FROM users WHERE username = $1", &[&username]).await? > 0;
        announce(&client).await?;
        Ok(deleted)
    }

    async fn count_admins(&self) -> Result<u64> {
        let client = self.db.client().await?;
        let rows = query(&client, "SELECT count(*) FROM users WHERE is_admin", &[]).await?;
        Ok(rows[0].get::<_, i64>(0) as u64)
    }

    async fn put_grant(&self, grant: Grant, mode: GrantWrite) -> Result<bool> {
        let sql = match mode {
            GrantWrite::Create => {
                "INSERT INTO grants (user_id, resource_kind, resource_key, permission) \
                 SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM users WHERE user_id = $1) ON CONFLICT DO NOTHING"
            }
            GrantWrite::Update => {
                "UPDATE grants SET permission = $4 WHERE user_id = $1 AND resource_kind = $2 AND resource_key = $3"
            }
            GrantWrite::Upsert => {
                "INSERT INTO grants (user_id, resource_kind, resource_key, permission) \
                 SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM users WHERE user_id = $1) \
                 ON CONFLICT (user_id, resource_kind, resource_key) DO UPDATE SET permission = excluded.permission"
            }
        };
        let client = self.db.client().await?;
        let resource = &grant.resource;
        let changed =
            execute(&client, sql, &[&grant.user_id, &resource.kind(), &resource.key(), &grant.permission.as_str()])
                .await?;
        announce(&client).await?;
        Ok(changed > 0)
    }

    async fn get_grant(&self, user_id: i64, resource: &Resource) -> Result<Option<Permission>> {
        let client = self.db.client().await?;
        let row = query_opt(
            &client,
            "SELECT permission FROM grants WHERE user_id = $1 AND resource_kind = $2 AND resource_key = $3",
            &[&user_id, &resource.kind(), &resource.key()],
        )
        .await?;
        row.map(|row| stored_permission(row.get(0))).transpose()
    }

    async fn delete_grant(&self, user_id: i64, resource: &Resource) -> Result<bool> {
        let client = self.db.client().await?;
        let changed = execute(
            &client,
            "DELETE FROM grants WHERE user_id = $1 AND resource_kind = $2 AND resource_key = $3",
            &[&user_id, &resource.kind(), &resource.key()],
        )
        .await?;
        announce(&client).await?;
        Ok(changed > 0)
    }

    async fn user_grants(&self, user_id: i64) -> Result<Vec<Grant>> {
        let client = self.db.client().await?;
        let rows = query(
            &client,
            "SELECT resource_kind, resource_key, permission FROM grants WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
        rows.iter()
            .map(|row| {
                let resource = Resource::from_parts(row.get(0), row.get(1))
                    .ok_or_else(|| Error::internal("a stored grant kind is unreadable"))?;
                Ok(Grant { user_id, resource, permission: stored_permission(row.get(2))? })
            })
            .collect()
    }

    async fn rename_model_grants(&self, old_name: &str, new_name: &str) -> Result<()> {
        let client = self.db.client().await?;
        execute(
            &client,
            "UPDATE grants SET resource_key = $2 WHERE resource_kind = 'registered_model' AND resource_key = $1",
            &[&old_name, &new_name],
        )
        .await?;
        announce(&client).await
    }

    async fn delete_resource_grants(&self, resource: &Resource) -> Result<()> {
        let client = self.db.client().await?;
        execute(
            &client,
            "DELETE FROM grants WHERE resource_kind = $1 AND resource_key = $2",
            &[&resource.kind(), &resource.key()],
        )
        .await?;
        announce(&client).await
    }

    async fn create_credential(&self, credential: Credential) -> Result<()> {
        let client = self.db.client().await?;
        execute_unique(
            &client,
            &format!("INSERT INTO credentials ({CREDENTIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            &[
                &credential.id,
                &credential.user_id,
                &credential.kind.as_str(),
                &credential.name,
                &credential.secret_hash,
                &credential.created_at,
                &credential.expires_at,
            ],
            || Error::already_exists("A credential with this id already exists."),
        )
        .await
        .map(|_| ())
    }

    async fn credential_user(&self, secret_hash: &str, now_ms: i64) -> Result<Option<(Credential, User)>> {
        let client = self.db.client().await?;
        let columns = CREDENTIAL_COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {columns}, u.username, u.password_hash, u.is_admin FROM credentials c \
             JOIN users u ON u.user_id = c.user_id \
             WHERE c.secret_hash = $1 AND (c.expires_at IS NULL OR c.expires_at > $2)"
        );
        let Some(row) = query_opt(&client, &sql, &[&secret_hash, &now_ms]).await? else { return Ok(None) };
        let credential = credential_from_row(&row)?;
        let user =
            User { id: credential.user_id, username: row.get(7), password_hash: row.get(8), is_admin: row.get(9) };
        Ok(Some((credential, user)))
    }

    async fn list_credentials(&self, user_id: i64, kind: CredentialKind) -> Result<Vec<Credential>> {
        let client = self.db.client().await?;
        let rows = query(
            &client,
            &format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE user_id = $1 AND kind = $2 \
                 ORDER BY created_at, credential_id"
            ),
            &[&user_id, &kind.as_str()],
        )
        .await?;
        rows.iter().map(credential_from_row).collect()
    }

    async fn delete_credential(&self, user_id: i64, credential_id: &str) -> Result<bool> {
        let client = self.db.client().await?;
        let changed = execute(
            &client,
            "DELETE FROM credentials WHERE user_id = $1 AND credential_id = $2",
            &[&user_id, &credential_id],
        )
        .await?;
        announce(&client).await?;
        Ok(changed > 0)
    }

    async fn experiment_of(&self, of: &ExperimentOf) -> Result<Option<String>> {
        let (sql, key) = match of {
            ExperimentOf::Run(id) => ("SELECT experiment_id FROM runs WHERE run_uuid = $1", id),
            ExperimentOf::LoggedModel(id) => ("SELECT experiment_id FROM logged_models WHERE model_id = $1", id),
            ExperimentOf::ExperimentName(name) => ("SELECT experiment_id FROM experiments WHERE name = $1", name),
        };
        let client = self.db.client().await?;
        let row = query_opt(&client, sql, &[key]).await?;
        Ok(row.map(|row| row.get::<_, i64>(0).to_string()))
    }

    fn watch_auth_changes(&self, on_change: Arc<dyn Fn() + Send + Sync>) {
        spawn_listener(&self.db, Arc::downgrade(&self.alive), on_change);
    }
}
