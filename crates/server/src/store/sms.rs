//! The durable SMS queue (written with the verification, sent by a worker) and the development
//! outbox that the `outbox` provider keeps messages in.

use super::{Conn, StoreError};
use crate::records::sms::{OutboxMessage, QueuedSms, ReportMatch, ReportedSms};

/// Queues a message already claimed by the instance that writes it (first attempt, leased), so
/// that instance sends it at once; if it crashes, the lease runs out and any instance sends it.
pub fn enqueue_claimed(conn: &mut dyn Conn, m: &QueuedSms, lease_ms: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sms_messages (id, verification_id, brand, order_id, to_enc, body_enc, status, attempts, \
         not_after, next_attempt_at, lease_until, lease_token, created_at, updated_at, country) \
         VALUES ($1, $2, $3, $4, $5, $6, 'sending', $7, $8, $9, $10, $11, $9, $9, $12)",
        &[
            m.id.as_str().into(),
            m.verification_id.as_str().into(),
            m.brand.as_str().into(),
            m.order_id.as_str().into(),
            m.to_enc.clone().into(),
            m.body_enc.clone().into(),
            m.attempts.into(),
            m.not_after.into(),
            m.claimed_at.into(),
            (m.claimed_at + lease_ms).into(),
            m.lease_token.as_str().into(),
            m.country.as_str().into(),
        ],
    )?;
    Ok(())
}

/// Takes a queued message (new, due for retry, or whose sender's lease ran out) with a new lease
/// token, so that the earlier holder can no longer send or settle it.
pub fn claim(conn: &mut dyn Conn, id: &str, now: i64, lease_ms: i64) -> Result<Option<QueuedSms>, StoreError> {
    let token = crate::ids::random_token(16);
    let changed = conn.execute(
        "UPDATE sms_messages SET status = 'sending', lease_until = $1, lease_token = $2, attempts = attempts + 1, \
         updated_at = $3 WHERE id = $4 AND next_attempt_at <= $3 \
         AND (status = 'queued' OR (status = 'sending' AND lease_until < $3))",
        &[(now + lease_ms).into(), token.as_str().into(), now.into(), id.into()],
    )?;
    if changed == 0 {
        return Ok(None);
    }
    let row = conn.query_one(
        "SELECT id, verification_id, brand, order_id, to_enc, body_enc, attempts, not_after, country \
         FROM sms_messages WHERE id = $1",
        &[id.into()],
    )?;
    Ok(Some(QueuedSms {
        id: row.text("id")?,
        verification_id: row.text("verification_id")?,
        brand: row.text("brand")?,
        order_id: row.text("order_id")?,
        to_enc: row.opt_blob("to_enc")?.unwrap_or_default(),
        body_enc: row.opt_blob("body_enc")?.unwrap_or_default(),
        attempts: row.int("attempts")?,
        not_after: row.int("not_after")?,
        country: row.text("country")?,
        lease_token: token,
        claimed_at: now,
    }))
}

/// Extends the lease before a hand-off; `false` when the message is no longer ours to send
/// (claimed by another sender, superseded by a resend) or its verification is no longer pending.
pub fn renew(conn: &mut dyn Conn, m: &QueuedSms, now: i64, lease_ms: i64) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE sms_messages SET lease_until = $1, updated_at = $2 WHERE id = $3 AND lease_token = $4 \
         AND status = 'sending' AND EXISTS (SELECT 1 FROM verifications \
         WHERE verifications.id = sms_messages.verification_id AND verifications.status = 'pending')",
        &[(now + lease_ms).into(), now.into(), m.id.as_str().into(), m.lease_token.as_str().into()],
    )?;
    Ok(changed == 1)
}

/// Messages waiting to be sent (due for retry, or with an expired lease).
pub fn due(conn: &mut dyn Conn, now: i64, limit: i64) -> Result<Vec<String>, StoreError> {
    conn.query(
        "SELECT id FROM sms_messages WHERE (status = 'queued' AND next_attempt_at <= $1) \
         OR (status = 'sending' AND lease_until < $1) ORDER BY next_attempt_at LIMIT $2",
        &[now.into(), limit.into()],
    )?
    .iter()
    .map(|r| r.text("id"))
    .collect()
}

/// Handed to the provider: the text (with the code) and the number are erased. `false` when the
/// lease was lost meanwhile (another sender holds the message now).
pub fn mark_submitted(
    conn: &mut dyn Conn,
    m: &QueuedSms,
    provider: &str,
    provider_message_id: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE sms_messages SET status = 'submitted', provider = $1, provider_message_id = $2, to_enc = NULL, \
         body_enc = NULL, lease_until = NULL, submitted_at = $3, updated_at = $3 WHERE id = $4 AND lease_token = $5",
        &[provider.into(), provider_message_id.into(), now.into(), m.id.as_str().into(), m.lease_token.as_str().into()],
    )?;
    Ok(changed == 1)
}

pub fn mark_retry(conn: &mut dyn Conn, m: &QueuedSms, next_attempt_at: i64, now: i64) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE sms_messages SET status = 'queued', lease_until = NULL, next_attempt_at = $1, updated_at = $2 \
         WHERE id = $3 AND lease_token = $4 AND status = 'sending'",
        &[next_attempt_at.into(), now.into(), m.id.as_str().into(), m.lease_token.as_str().into()],
    )?;
    Ok(changed == 1)
}

/// Given up (`failed`) or not sent (`expired`, `dropped`); `false` when the message was not ours
/// any more (another sender, or superseded by a resend).
pub fn mark_final(conn: &mut dyn Conn, m: &QueuedSms, status: &str, now: i64) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE sms_messages SET status = $1, to_enc = NULL, body_enc = NULL, lease_until = NULL, updated_at = $2 \
         WHERE id = $3 AND lease_token = $4 AND status = 'sending'",
        &[status.into(), now.into(), m.id.as_str().into(), m.lease_token.as_str().into()],
    )?;
    Ok(changed == 1)
}

/// A resend replaced the code: earlier messages not yet handed over are not sent any more.
pub fn supersede_unsent(conn: &mut dyn Conn, verification_id: &str, now: i64) -> Result<u64, StoreError> {
    conn.execute(
        "UPDATE sms_messages SET status = 'superseded', to_enc = NULL, body_enc = NULL, lease_until = NULL, \
         updated_at = $1 WHERE verification_id = $2 AND status IN ('queued', 'sending')",
        &[now.into(), verification_id.into()],
    )
}

/// Records a provider's final delivery report (`delivered` or `failed`) on the latest message it
/// names, once: a repeated report changes nothing.
pub fn record_delivery(
    conn: &mut dyn Conn,
    provider: &str,
    provider_message_id: &str,
    delivery: &str,
    now: i64,
) -> Result<ReportMatch, StoreError> {
    // SMSCs reuse ids (counters restart): the report is about the latest message with the id.
    let recorded = conn.query_opt(
        "UPDATE sms_messages SET delivery = $1, delivery_at = $2, updated_at = $2 \
         WHERE id = (SELECT id FROM sms_messages WHERE provider = $3 AND provider_message_id = $4 \
         ORDER BY submitted_at DESC NULLS LAST LIMIT 1) AND delivery IS NULL \
         RETURNING id, verification_id, brand, order_id, submitted_at, country",
        &[delivery.into(), now.into(), provider.into(), provider_message_id.into()],
    )?;
    if let Some(row) = recorded {
        return Ok(ReportMatch::Recorded(ReportedSms {
            id: row.text("id")?,
            verification_id: row.text("verification_id")?,
            brand: row.text("brand")?,
            order_id: row.text("order_id")?,
            submitted_at: row.opt_int("submitted_at")?,
            country: row.text("country")?,
        }));
    }
    let known = conn.query_opt(
        "SELECT 1 FROM sms_messages WHERE provider = $1 AND provider_message_id = $2",
        &[provider.into(), provider_message_id.into()],
    )?;
    Ok(if known.is_some() { ReportMatch::AlreadyReported } else { ReportMatch::Unknown })
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
        let created_at_ms = r.int("created_at")?;
        Ok(OutboxMessage {
            id: r.text("id")?,
            brand: r.text("brand")?,
            verification_id: r.opt_text("verification_id")?,
            to: r.text("to_number")?,
            text: r.text("text")?,
            created_at: crate::clock::rfc3339(created_at_ms),
            created_at_ms,
        })
    })
    .collect()
}
