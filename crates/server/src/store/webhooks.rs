//! Webhook endpoints, their subscriptions (which the event log's trigger reads to write
//! deliveries, see migration 0017) and the deliveries themselves, claimed with a lease so that
//! with several instances each delivery is attempted by one at a time.

use orderguard_domain::event::EventKind;

use super::{Conn, StoreError};
use crate::records::Event;

/// An endpoint as the configuration declares it.
pub struct DeclaredEndpoint {
    pub brand: String,
    pub name: String,
    pub url: String,
    pub description: Option<String>,
    pub enabled: bool,
    /// Event types, or `*`.
    pub subscribed: Vec<String>,
}

/// Stores the declared endpoints and routes the events of each enabled one to it. An endpoint the
/// service disabled (it answered `410 Gone`) stays disabled while its URL is the same.
pub fn declare(conn: &mut dyn Conn, endpoints: &[DeclaredEndpoint], now: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM webhook_subscriptions", &[])?;
    for e in endpoints {
        conn.execute(
            "INSERT INTO webhook_endpoints (brand, name, url, description, enabled, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (brand, name) DO UPDATE SET \
             enabled = CASE WHEN webhook_endpoints.url = excluded.url AND webhook_endpoints.disabled_reason IS NOT NULL \
             THEN 0 ELSE excluded.enabled END, \
             disabled_reason = CASE WHEN webhook_endpoints.url = excluded.url THEN webhook_endpoints.disabled_reason END, \
             url = excluded.url, description = excluded.description, updated_at = excluded.updated_at",
            &[
                e.brand.as_str().into(),
                e.name.as_str().into(),
                e.url.as_str().into(),
                e.description.clone().into(),
                i64::from(e.enabled).into(),
                now.into(),
            ],
        )?;
        let enabled = conn
            .query_one(
                "SELECT enabled FROM webhook_endpoints WHERE brand = $1 AND name = $2",
                &[e.brand.as_str().into(), e.name.as_str().into()],
            )?
            .int("enabled")?;
        if enabled == 1 {
            for kind in &e.subscribed {
                conn.execute(
                    "INSERT INTO webhook_subscriptions (brand, type, endpoint) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[e.brand.as_str().into(), kind.as_str().into(), e.name.as_str().into()],
                )?;
            }
        }
    }
    Ok(())
}

/// A delivery taken for sending, with its event.
pub struct Claimed {
    pub id: i64,
    pub brand: String,
    pub endpoint: String,
    /// Attempts including this one.
    pub attempts: i64,
    pub lease_token: String,
    pub event: Event,
}

/// Takes up to `limit` due deliveries with a lease of `lease_ms`.
pub fn claim_due(conn: &mut dyn Conn, now: i64, lease_ms: i64, limit: i64) -> Result<Vec<Claimed>, StoreError> {
    let token = crate::ids::random_token(16);
    let claimed = conn.query(
        "UPDATE webhook_deliveries SET lease_until = $1, lease_token = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_at <= $3 \
         AND lease_until < $3 ORDER BY next_at LIMIT $4) AND status = 'pending' AND lease_until < $3 RETURNING id",
        &[(now + lease_ms).into(), token.as_str().into(), now.into(), limit.into()],
    )?;
    let mut taken = Vec::with_capacity(claimed.len());
    for row in claimed {
        let id = row.int("id")?;
        let r = conn.query_one(
            "SELECT d.brand, d.endpoint, d.attempts, e.id AS event_id, e.type, e.at, e.verification_id, e.order_id, \
             e.attrs FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = $1",
            &[id.into()],
        )?;
        let kind = r.parsed("type", EventKind::parse)?;
        taken.push(Claimed {
            id,
            brand: r.text("brand")?,
            endpoint: r.text("endpoint")?,
            attempts: r.int("attempts")?,
            lease_token: token.clone(),
            event: Event {
                id: r.int("event_id")?,
                kind,
                at: r.int("at")?,
                verification_id: r.opt_text("verification_id")?,
                order_id: r.opt_text("order_id")?,
                attrs: serde_json::from_str(&r.text("attrs")?).unwrap_or_default(),
            },
        });
    }
    Ok(taken)
}

/// How an attempt ends a delivery, or when it is tried next.
pub enum Settle {
    Delivered,
    Retry {
        next_at: i64,
    },
    /// Retries spent.
    Failed,
    /// The endpoint answered `410 Gone`.
    Gone,
}

/// Records an attempt; `false` when the lease was lost meanwhile (another instance holds it).
pub fn settle(
    conn: &mut dyn Conn,
    d: &Claimed,
    settle: Settle,
    status: Option<u16>,
    answer: &str,
    latency_ms: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let (state, next_at, settled_at) = match settle {
        Settle::Delivered => ("delivered", None, Some(now)),
        Settle::Retry { next_at } => ("pending", Some(next_at), None),
        Settle::Failed => ("failed", None, Some(now)),
        Settle::Gone => ("gone", None, Some(now)),
    };
    let changed = conn.execute(
        "UPDATE webhook_deliveries SET status = $1, next_at = COALESCE($2, next_at), settled_at = $3, lease_until = 0, \
         last_status = $4, last_answer = $5, last_latency_ms = $6 WHERE id = $7 AND lease_token = $8",
        &[
            state.into(),
            next_at.into(),
            settled_at.into(),
            status.map(i64::from).into(),
            answer.into(),
            latency_ms.into(),
            d.id.into(),
            d.lease_token.as_str().into(),
        ],
    )?;
    Ok(changed == 1)
}

/// Disables an endpoint for `reason`: it gets no new deliveries, and its pending ones end `gone`.
pub fn disable(conn: &mut dyn Conn, brand: &str, endpoint: &str, reason: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2 WHERE brand = $3 AND name = $4",
        &[reason.into(), now.into(), brand.into(), endpoint.into()],
    )?;
    conn.execute(
        "DELETE FROM webhook_subscriptions WHERE brand = $1 AND endpoint = $2",
        &[brand.into(), endpoint.into()],
    )?;
    conn.execute(
        "UPDATE webhook_deliveries SET status = 'gone', settled_at = $1 WHERE brand = $2 AND endpoint = $3 AND status = 'pending'",
        &[now.into(), brand.into(), endpoint.into()],
    )?;
    Ok(())
}

/// Per endpoint: deliveries not delivered yet and when the oldest of them was written.
pub fn backlog(conn: &mut dyn Conn) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
    conn.query(
        "SELECT brand, endpoint, COUNT(*) AS waiting, MIN(created_at) AS oldest FROM webhook_deliveries \
         WHERE status = 'pending' GROUP BY brand, endpoint",
        &[],
    )?
    .iter()
    .map(|r| Ok((r.text("brand")?, r.text("endpoint")?, r.int("waiting")?, r.int("oldest")?)))
    .collect()
}
