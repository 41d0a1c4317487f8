//! Webhooks: rows, their subscribed events, and create / list / update / soft delete.

use ferroflow_core::paging::{decode_offset, page_from};
use ferroflow_core::registry::{Webhook, WebhookEvent};
use ferroflow_core::types::Page;
use ferroflow_core::Result;
use ferroflow_store::registry::{CreateWebhook, UpdateWebhook};
use ferroflow_store::registry_rules::{
    events_from_stored, qualified, webhook_from_columns, webhook_not_found, WEBHOOK_COLUMNS,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::SqliteColumns;
use crate::db::db_error;

fn webhook_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Webhook)> {
    webhook_from_columns(&SqliteColumns(row))
}

fn webhook_events(conn: &Connection, webhook_pk: i64) -> Result<Vec<WebhookEvent>> {
    let mut statement =
        conn.prepare_cached("SELECT entity, action FROM webhook_events WHERE webhook_pk = ?1").map_err(db_error)?;
    let rows = statement
        .query_map([webhook_pk], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
        .map_err(db_error)?;
    Ok(events_from_stored(rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)?))
}

pub(super) fn with_events(conn: &Connection, (pk, mut webhook): (i64, Webhook)) -> Result<Webhook> {
    webhook.events = webhook_events(conn, pk)?;
    Ok(webhook)
}

pub(super) fn find_webhook(conn: &Connection, webhook_id: &str) -> Result<(i64, Webhook)> {
    let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE webhook_id = ?1 AND deleted_timestamp IS NULL");
    conn.prepare_cached(&sql)
        .map_err(db_error)?
        .query_row([webhook_id], webhook_from_row)
        .optional()
        .map_err(db_error)?
        .ok_or_else(|| webhook_not_found(webhook_id))
}

fn replace_events(conn: &Connection, webhook_pk: i64, events: &[WebhookEvent]) -> Result<()> {
    conn.execute("DELETE FROM webhook_events WHERE webhook_pk = ?1", [webhook_pk]).map_err(db_error)?;
    for event in events {
        conn.execute(
            "INSERT OR IGNORE INTO webhook_events (webhook_pk, entity, action) VALUES (?1, ?2, ?3)",
            params![webhook_pk, event.entity.as_str(), event.action.as_str()],
        )
        .map_err(db_error)?;
    }
    Ok(())
}

pub(super) fn create_webhook(conn: &Connection, request: CreateWebhook, now: i64) -> Result<Webhook> {
    let webhook_id = uuid::Uuid::new_v4().to_string();
    conn.execute(
        "INSERT INTO webhooks (webhook_id, name, description, url, status, secret, creation_timestamp, \
         last_updated_timestamp) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            webhook_id,
            request.name,
            request.description,
            request.url,
            request.status.proto_name(),
            request.secret,
            now
        ],
    )
    .map_err(db_error)?;
    let pk = conn.last_insert_rowid();
    replace_events(conn, pk, &request.events)?;
    with_events(conn, find_webhook(conn, &webhook_id)?)
}

pub(super) fn list_webhooks(conn: &Connection, max_results: usize, page_token: Option<&str>) -> Result<Page<Webhook>> {
    let offset = decode_offset(page_token)?;
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE deleted_timestamp IS NULL \
         ORDER BY creation_timestamp DESC, webhook_pk DESC LIMIT ?1 OFFSET ?2"
    );
    let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
    let rows =
        statement.query_map(params![max_results as i64 + 1, offset as i64], webhook_from_row).map_err(db_error)?;
    let rows: Vec<(i64, Webhook)> = rows.collect::<rusqlite::Result<_>>().map_err(db_error)?;
    let webhooks = rows.into_iter().map(|row| with_events(conn, row)).collect::<Result<Vec<_>>>()?;
    Ok(page_from(webhooks, offset, max_results))
}

pub(super) fn list_webhooks_by_event(conn: &Connection, event: WebhookEvent) -> Result<Vec<Webhook>> {
    let sql = format!(
        "SELECT {} FROM webhooks w JOIN webhook_events e ON e.webhook_pk = w.webhook_pk \
         WHERE w.deleted_timestamp IS NULL AND e.entity = ?1 AND e.action = ?2 \
         ORDER BY w.creation_timestamp DESC, w.webhook_pk DESC",
        qualified(WEBHOOK_COLUMNS, "w")
    );
    let mut statement = conn.prepare_cached(&sql).map_err(db_error)?;
    let rows = statement
        .query_map(params![event.entity.as_str(), event.action.as_str()], webhook_from_row)
        .map_err(db_error)?;
    let rows: Vec<(i64, Webhook)> = rows.collect::<rusqlite::Result<_>>().map_err(db_error)?;
    rows.into_iter().map(|row| with_events(conn, row)).collect()
}

pub(super) fn update_webhook(conn: &Connection, request: UpdateWebhook, now: i64) -> Result<Webhook> {
    let (pk, _) = find_webhook(conn, &request.webhook_id)?;
    if let Some(name) = &request.name {
        conn.execute("UPDATE webhooks SET name = ?1 WHERE webhook_pk = ?2", params![name, pk]).map_err(db_error)?;
    }
    if let Some(url) = &request.url {
        conn.execute("UPDATE webhooks SET url = ?1 WHERE webhook_pk = ?2", params![url, pk]).map_err(db_error)?;
    }
    if let Some(events) = &request.events {
        replace_events(conn, pk, events)?;
    }
    if let Some(description) = &request.description {
        conn.execute("UPDATE webhooks SET description = ?1 WHERE webhook_pk = ?2", params![description, pk])
            .map_err(db_error)?;
    }
    if let Some(secret) = &request.secret {
        conn.execute("UPDATE webhooks SET secret = ?1 WHERE webhook_pk = ?2", params![secret, pk]).map_err(db_error)?;
    }
    if let Some(status) = request.status {
        conn.execute("UPDATE webhooks SET status = ?1 WHERE webhook_pk = ?2", params![status.proto_name(), pk])
            .map_err(db_error)?;
    }
    conn.execute("UPDATE webhooks SET last_updated_timestamp = ?1 WHERE webhook_pk = ?2", params![now, pk])
        .map_err(db_error)?;
    with_events(conn, find_webhook(conn, &request.webhook_id)?)
}

pub(super) fn delete_webhook(conn: &Connection, webhook_id: &str, now: i64) -> Result<()> {
    let (pk, _) = find_webhook(conn, webhook_id)?;
    conn.execute(
        "UPDATE webhooks SET deleted_timestamp = ?1, last_updated_timestamp = ?1 WHERE webhook_pk = ?2",
        params![now, pk],
    )
    .map_err(db_error)?;
    Ok(())
}
