//! Webhooks: rows, their subscribed events, and create / list / update / soft delete.
//!
//! A secret is stored as the server hands it over: sealed with the deployment's webhook
//! key (the server's `WebhookSecrets`), so the database alone does not reveal it. It is
//! never logged: `Webhook` and the requests print it redacted.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use ferroflow_core::paging::{decode_offset, page_from};
use ferroflow_core::registry::{Webhook, WebhookEvent};
use ferroflow_core::types::Page;
use ferroflow_core::Result;
use ferroflow_store::registry::{CreateWebhook, UpdateWebhook};
use ferroflow_store::registry_rules::{
    events_from_stored, qualified, webhook_from_columns, webhook_not_found, Columns, WEBHOOK_COLUMNS,
};
use tokio_postgres::Row;

use super::PgColumns;
use crate::db::{execute, query, query_opt};

fn webhook_from_row(row: &Row) -> Result<(i64, Webhook)> {
    webhook_from_columns(&PgColumns(row))
}

/// The webhooks with their events, in the order given; one query for all their events.
async fn with_events(client: &impl GenericClient, webhooks: Vec<(i64, Webhook)>) -> Result<Vec<Webhook>> {
    let webhook_pks: Vec<i64> = webhooks.iter().map(|(pk, _)| *pk).collect();
    let rows = query(
        client,
        "SELECT webhook_pk, entity, action FROM webhook_events WHERE webhook_pk = ANY($1)",
        &[&webhook_pks],
    )
    .await?;
    let mut stored: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for row in &rows {
        let columns = PgColumns(row);
        stored.entry(columns.int(0)?).or_default().push((columns.text(1)?, columns.text(2)?));
    }
    Ok(webhooks
        .into_iter()
        .map(|(pk, mut webhook)| {
            webhook.events = events_from_stored(stored.remove(&pk).unwrap_or_default());
            webhook
        })
        .collect())
}

async fn with_events_one(client: &impl GenericClient, webhook: (i64, Webhook)) -> Result<Webhook> {
    let id = webhook.1.webhook_id.clone();
    with_events(client, vec![webhook]).await?.pop().ok_or_else(|| webhook_not_found(&id))
}

async fn select_webhook(client: &impl GenericClient, webhook_id: &str, lock: bool) -> Result<(i64, Webhook)> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE webhook_id = $1 AND deleted_timestamp IS NULL{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = query_opt(client, &sql, &[&webhook_id]).await?.ok_or_else(|| webhook_not_found(webhook_id))?;
    webhook_from_row(&row)
}

/// A live (not deleted) webhook.
async fn find_webhook(client: &impl GenericClient, webhook_id: &str) -> Result<(i64, Webhook)> {
    select_webhook(client, webhook_id, false).await
}

/// Like [`find_webhook`], its row locked until the transaction ends, so concurrent updates
/// of one webhook apply one after the other.
async fn lock_webhook(client: &impl GenericClient, webhook_id: &str) -> Result<(i64, Webhook)> {
    select_webhook(client, webhook_id, true).await
}

pub(super) async fn get(client: &impl GenericClient, webhook_id: &str) -> Result<Webhook> {
    let found = find_webhook(client, webhook_id).await?;
    with_events_one(client, found).await
}

async fn replace_events(client: &impl GenericClient, webhook_pk: i64, events: &[WebhookEvent]) -> Result<()> {
    execute(client, "DELETE FROM webhook_events WHERE webhook_pk = $1", &[&webhook_pk]).await?;
    for event in events {
        // A repeated event is stored once.
        execute(
            client,
            "INSERT INTO webhook_events (webhook_pk, entity, action) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&webhook_pk, &event.entity.as_str(), &event.action.as_str()],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn create(client: &impl GenericClient, request: &CreateWebhook, now: i64) -> Result<Webhook> {
    let webhook_id = uuid::Uuid::new_v4().to_string();
    let sql = format!(
        "INSERT INTO webhooks (webhook_id, name, description, url, status, secret, creation_timestamp, \
         last_updated_timestamp) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {WEBHOOK_COLUMNS}"
    );
    let row = query_opt(
        client,
        &sql,
        &[
            &webhook_id,
            &request.name,
            &request.description,
            &request.url,
            &request.status.proto_name(),
            &request.secret,
            &now,
        ],
    )
    .await?
    .ok_or_else(|| webhook_not_found(&webhook_id))?;
    let created = webhook_from_row(&row)?;
    replace_events(client, created.0, &request.events).await?;
    with_events_one(client, created).await
}

/// Newest first.
pub(super) async fn list(
    client: &impl GenericClient,
    max_results: usize,
    page_token: Option<&str>,
) -> Result<Page<Webhook>> {
    let offset = decode_offset(page_token)?;
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE deleted_timestamp IS NULL \
         ORDER BY creation_timestamp DESC, webhook_pk DESC LIMIT $1 OFFSET $2"
    );
    // `decode_offset` caps offsets at i64::MAX, and `max_results` is at most 1000.
    let limit = i64::try_from(max_results).unwrap_or(i64::MAX).saturating_add(1);
    let offset_param = i64::try_from(offset).unwrap_or(i64::MAX);
    let rows = query(client, &sql, &[&limit, &offset_param]).await?;
    let webhooks = rows.iter().map(webhook_from_row).collect::<Result<Vec<_>>>()?;
    Ok(page_from(with_events(client, webhooks).await?, offset, max_results))
}

pub(super) async fn list_by_event(client: &impl GenericClient, event: WebhookEvent) -> Result<Vec<Webhook>> {
    let sql = format!(
        "SELECT {} FROM webhooks w JOIN webhook_events e ON e.webhook_pk = w.webhook_pk \
         WHERE w.deleted_timestamp IS NULL AND e.entity = $1 AND e.action = $2 \
         ORDER BY w.creation_timestamp DESC, w.webhook_pk DESC",
        qualified(WEBHOOK_COLUMNS, "w")
    );
    let rows = query(client, &sql, &[&event.entity.as_str(), &event.action.as_str()]).await?;
    let webhooks = rows.iter().map(webhook_from_row).collect::<Result<Vec<_>>>()?;
    with_events(client, webhooks).await
}

/// A partial update: each field the request leaves out keeps its value.
pub(super) async fn update(client: &impl GenericClient, request: &UpdateWebhook, now: i64) -> Result<Webhook> {
    let (pk, _) = lock_webhook(client, &request.webhook_id).await?;
    execute(
        client,
        "UPDATE webhooks SET name = COALESCE($2, name), url = COALESCE($3, url), \
         description = COALESCE($4, description), secret = COALESCE($5, secret), status = COALESCE($6, status), \
         last_updated_timestamp = $7 WHERE webhook_pk = $1",
        &[
            &pk,
            &request.name,
            &request.url,
            &request.description,
            &request.secret,
            &request.status.map(|status| status.proto_name()),
            &now,
        ],
    )
    .await?;
    if let Some(events) = &request.events {
        replace_events(client, pk, events).await?;
    }
    get(client, &request.webhook_id).await
}

/// Soft delete: the row stays (its deliveries refer to it), hidden from every answer.
pub(super) async fn delete(client: &impl GenericClient, webhook_id: &str, now: i64) -> Result<()> {
    let removed = execute(
        client,
        "UPDATE webhooks SET deleted_timestamp = $1, last_updated_timestamp = $1 \
         WHERE webhook_id = $2 AND deleted_timestamp IS NULL",
        &[&now, &webhook_id],
    )
    .await?;
    if removed == 0 {
        return Err(webhook_not_found(webhook_id));
    }
    Ok(())
}
