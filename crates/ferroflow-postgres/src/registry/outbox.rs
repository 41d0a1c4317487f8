//! The webhook outbox on PostgreSQL: deliveries every replica shares, claimed under a
//! lease so each is sent by one replica at a time (`FOR UPDATE SKIP LOCKED`: concurrent
//! claimers skip each other's rows instead of queueing on them).

use deadpool_postgres::GenericClient;
use ferroflow_core::Result;
use ferroflow_store::registry::OutboxDelivery;

use crate::db::{execute, query};

pub(super) async fn enqueue(client: &impl GenericClient, deliveries: &[OutboxDelivery], now: i64) -> Result<()> {
    let ids: Vec<&str> = deliveries.iter().map(|d| d.delivery_id.as_str()).collect();
    let webhooks: Vec<&str> = deliveries.iter().map(|d| d.webhook_id.as_str()).collect();
    let bodies: Vec<&str> = deliveries.iter().map(|d| d.body.as_str()).collect();
    execute(
        client,
        "INSERT INTO webhook_outbox (delivery_id, webhook_pk, body, created_at, available_at) \
         SELECT d.id, w.webhook_pk, d.body, $4, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS d(id, webhook, body) \
         JOIN webhooks w ON w.webhook_id = d.webhook ON CONFLICT (delivery_id) DO NOTHING",
        &[&ids, &webhooks, &bodies, &now],
    )
    .await?;
    Ok(())
}

pub(super) async fn claim(
    client: &impl GenericClient,
    now: i64,
    lease_until: i64,
    max: usize,
) -> Result<Vec<OutboxDelivery>> {
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    let rows = query(
        client,
        "WITH due AS (SELECT delivery_id FROM webhook_outbox WHERE available_at <= $1 \
         ORDER BY available_at, created_at, delivery_id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         UPDATE webhook_outbox o SET available_at = $2, attempts = o.attempts + 1 FROM due, webhooks w \
         WHERE o.delivery_id = due.delivery_id AND w.webhook_pk = o.webhook_pk \
         RETURNING o.delivery_id, w.webhook_id, o.body, o.attempts, o.created_at",
        &[&now, &lease_until, &limit],
    )
    .await?;
    let mut claimed: Vec<(i64, OutboxDelivery)> = rows
        .iter()
        .map(|row| {
            (
                row.get(4),
                OutboxDelivery {
                    delivery_id: row.get(0),
                    webhook_id: row.get(1),
                    body: row.get(2),
                    attempts: row.get::<_, i32>(3) as u32,
                },
            )
        })
        .collect();
    // RETURNING has no order of its own.
    claimed.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.delivery_id.cmp(&y.delivery_id)));
    Ok(claimed.into_iter().map(|(_, delivery)| delivery).collect())
}

pub(super) async fn reschedule(client: &impl GenericClient, delivery_id: &str, available_at: i64) -> Result<()> {
    execute(
        client,
        "UPDATE webhook_outbox SET available_at = $2 WHERE delivery_id = $1",
        &[&delivery_id, &available_at],
    )
    .await?;
    Ok(())
}

pub(super) async fn finish(client: &impl GenericClient, delivery_id: &str) -> Result<()> {
    execute(client, "DELETE FROM webhook_outbox WHERE delivery_id = $1", &[&delivery_id]).await?;
    Ok(())
}
