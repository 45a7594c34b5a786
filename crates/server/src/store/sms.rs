//! The durable SMS queue (written with the verification, sent by a worker) and the development
//! outbox that the `outbox` provider keeps messages in.

use super::{Conn, StoreError};

#[derive(Debug, Clone)]
pub struct QueuedSms {
    pub id: String,
    pub verification_id: String,
    pub brand: String,
    pub order_id: String,
    pub to_enc: Vec<u8>,
    pub body_enc: Vec<u8>,
    pub attempts: i64,
    pub not_after: i64,
}

/// Queues a message already claimed by the instance that writes it (first attempt, leased), so
/// that instance sends it at once; if it crashes, the lease runs out and any instance sends it.
pub fn enqueue_claimed(conn: &mut dyn Conn, m: &QueuedSms, now: i64, lease_ms: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sms_messages (id, verification_id, brand, order_id, to_enc, body_enc, status, attempts, \
         not_after, next_attempt_at, lease_until, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'sending', $7, $8, $9, $10, $9, $9)",
        &[
            m.id.as_str().into(),
            m.verification_id.as_str().into(),
            m.brand.as_str().into(),
            m.order_id.as_str().into(),
            m.to_enc.clone().into(),
            m.body_enc.clone().into(),
            m.attempts.into(),
            m.not_after.into(),
            now.into(),
            (now + lease_ms).into(),
        ],
    )?;
    Ok(())
}

/// Takes a queued message for sending, with a lease so that a crashed sender's message is taken
/// again later and two workers (or instances) never send the same message at once.
pub fn claim(conn: &mut dyn Conn, id: &str, now: i64, lease_ms: i64) -> Result<Option<QueuedSms>, StoreError> {
    let changed = conn.execute(
        "UPDATE sms_messages SET status = 'sending', lease_until = $1, attempts = attempts + 1, updated_at = $2 \
         WHERE id = $3 AND (status = 'queued' OR (status = 'sending' AND lease_until < $2)) AND next_attempt_at <= $2",
        &[(now + lease_ms).into(), now.into(), id.into()],
    )?;
    if changed == 0 {
        return Ok(None);
    }
    let row = conn.query_one(
        "SELECT id, verification_id, brand, order_id, to_enc, body_enc, attempts, not_after FROM sms_messages \
         WHERE id = $1",
        &[id.into()],
    )?;
    Ok(Some(QueuedSms {
        id: row.text(0)?,
        verification_id: row.text(1)?,
        brand: row.text(2)?,
        order_id: row.text(3)?,
        to_enc: row.opt_blob(4)?.unwrap_or_default(),
        body_enc: row.opt_blob(5)?.unwrap_or_default(),
        attempts: row.int(6)?,
        not_after: row.int(7)?,
    }))
}

/// Messages waiting to be sent (new, due for retry, or with an expired lease).
pub fn due(conn: &mut dyn Conn, now: i64, limit: i64) -> Result<Vec<String>, StoreError> {
    conn.query(
        "SELECT id FROM sms_messages WHERE (status = 'queued' AND next_attempt_at <= $1) \
         OR (status = 'sending' AND lease_until < $1) ORDER BY next_attempt_at LIMIT $2",
        &[now.into(), limit.into()],
    )?
    .iter()
    .map(|r| r.text(0))
    .collect()
}

/// Handed to the provider: the text (with the code) and the number are erased.
pub fn mark_submitted(
    conn: &mut dyn Conn,
    id: &str,
    provider: &str,
    provider_message_id: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sms_messages SET status = 'submitted', provider = $1, provider_message_id = $2, to_enc = NULL, \
         body_enc = NULL, lease_until = NULL, updated_at = $3 WHERE id = $4",
        &[provider.into(), provider_message_id.into(), now.into(), id.into()],
    )?;
    Ok(())
}

pub fn mark_retry(conn: &mut dyn Conn, id: &str, next_attempt_at: i64, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sms_messages SET status = 'queued', lease_until = NULL, next_attempt_at = $1, updated_at = $2 \
         WHERE id = $3",
        &[next_attempt_at.into(), now.into(), id.into()],
    )?;
    Ok(())
}

/// Given up (`failed`) or not sent because the code expired first (`expired`).
pub fn mark_final(conn: &mut dyn Conn, id: &str, status: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sms_messages SET status = $1, to_enc = NULL, body_enc = NULL, lease_until = NULL, updated_at = $2 \
         WHERE id = $3",
        &[status.into(), now.into(), id.into()],
    )?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OutboxMessage {
    pub id: String,
    pub brand: String,
    pub verification_id: Option<String>,
    pub to: String,
    pub text: String,
    /// RFC 3339.
    pub created_at: String,
    #[serde(skip)]
    pub created_at_ms: i64,
}

pub fn outbox_insert(conn: &mut dyn Conn, m: &OutboxMessage) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO dev_outbox (id, brand, verification_id, to_number, text, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            m.id.as_str().into(),
            m.brand.as_str().into(),
            m.verification_id.clone().into(),
            m.to.as_str().into(),
            m.text.as_str().into(),
            m.created_at_ms.into(),
        ],
    )?;
    Ok(())
}

/// Newest first, optionally only one brand's, one number's or one verification's. Only the given
/// filters become conditions, so each can use its index.
pub fn outbox_list(
    conn: &mut dyn Conn,
    brand: Option<&str>,
    to: Option<&str>,
    verification_id: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let mut conditions = Vec::new();
    let mut params: Vec<super::Value> = Vec::new();
    for (column, value) in [("brand", brand), ("to_number", to), ("verification_id", verification_id)] {
        if let Some(value) = value {
            params.push(value.into());
            conditions.push(format!("{column} = ${}", params.len()));
        }
    }
    params.push(limit.into());
    let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    conn.query(
        &format!(
            "SELECT id, brand, verification_id, to_number, text, created_at FROM dev_outbox {filter} \
             ORDER BY created_at DESC, id DESC LIMIT ${}",
            params.len()
        ),
        &params,
    )?
    .iter()
    .map(|r| {
        let created_at_ms = r.int(5)?;
        Ok(OutboxMessage {
            id: r.text(0)?,
            brand: r.text(1)?,
            verification_id: r.opt_text(2)?,
            to: r.text(3)?,
            text: r.text(4)?,
            created_at: crate::clock::rfc3339(created_at_ms),
            created_at_ms,
        })
    })
    .collect()
}
