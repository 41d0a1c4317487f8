//! The webhook outbox (`ferroflow_store::RegistryStore`'s outbox methods): deliveries wait
//! in the database until sent, so a crash or a restart loses none.

use ferroflow_core::Result;
use ferroflow_store::registry::OutboxDelivery;
use rusqlite::{params, Connection};

use crate::db::db_error;

/// v6: the outbox. `available_at` is both a claim's lease and a retry's backoff: a row is
/// claimable once it has passed.
pub(crate) const SCHEMA: &str = r#"
    CREATE TABLE webhook_outbox (
        delivery_id  TEXT PRIMARY KEY,
        webhook_pk   INTEGER NOT NULL REFERENCES webhooks (webhook_pk) ON DELETE CASCADE,
        body         TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        available_at INTEGER NOT NULL
    );
    CREATE INDEX webhook_outbox_available ON webhook_outbox (available_at, created_at);
    CREATE INDEX webhook_outbox_by_webhook ON webhook_outbox (webhook_pk);
"#;

pub(super) fn enqueue(conn: &Connection, deliveries: &[OutboxDelivery], now: i64) -> Result<()> {
    let mut statement = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO webhook_outbox (delivery_id, webhook_pk, body, created_at, available_at) \
             SELECT ?1, webhook_pk, ?2, ?3, ?3 FROM webhooks WHERE webhook_id = ?4",
        )
        .map_err(db_error)?;
    for delivery in deliveries {
        statement.execute(params![delivery.delivery_id, delivery.body, now, delivery.webhook_id]).map_err(db_error)?;
    }
    Ok(())
}

/// The single writer thread runs claims one at a time, so the update is the whole lock.
pub(super) fn claim(conn: &Connection, now: i64, lease_until: i64, max: usize) -> Result<Vec<OutboxDelivery>> {
    let mut statement = conn
        .prepare_cached(
            "UPDATE webhook_outbox SET available_at = ?2, attempts = attempts + 1 WHERE delivery_id IN \
             (SELECT delivery_id FROM webhook_outbox WHERE available_at <= ?1 ORDER BY available_at, created_at, delivery_id \
             LIMIT ?3) RETURNING delivery_id, (SELECT webhook_id FROM webhooks w WHERE w.webhook_pk = \
             webhook_outbox.webhook_pk), body, attempts, created_at",
        )
        .map_err(db_error)?;
    let rows = statement
        .query_map(params![now, lease_until, max as i64], |row| {
            Ok((
                row.get::<_, i64>(4)?,
                OutboxDelivery {
                    delivery_id: row.get(0)?,
                    webhook_id: row.get(1)?,
                    body: row.get(2)?,
                    attempts: row.get::<_, i64>(3)? as u32,
                },
            ))
        })
        .map_err(db_error)?;
    let mut claimed = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)?;
    // RETURNING has no order of its own.
    claimed.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.delivery_id.cmp(&y.delivery_id)));
    Ok(claimed.into_iter().map(|(_, delivery)| delivery).collect())
}

pub(super) fn reschedule(conn: &Connection, delivery_id: &str, available_at: i64) -> Result<()> {
    conn.prepare_cached("UPDATE webhook_outbox SET available_at = ?2 WHERE delivery_id = ?1")
        .map_err(db_error)?
        .execute(params![delivery_id, available_at])
        .map_err(db_error)?;
    Ok(())
}

pub(super) fn finish(conn: &Connection, delivery_id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM webhook_outbox WHERE delivery_id = ?1")
        .map_err(db_error)?
        .execute([delivery_id])
        .map_err(db_error)?;
    Ok(())
}
