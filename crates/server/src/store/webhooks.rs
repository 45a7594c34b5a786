//! Webhook endpoints (declared in the configuration or stored from the admin area and the command
//! line), their subscriptions (which the event log's trigger reads to write deliveries, see
//! migrations 0017 and 0018) and the deliveries themselves, claimed with a lease so that with
//! several instances each delivery is attempted by one at a time.

use orderguard_domain::event::EventKind;
use orderguard_domain::webhook::{DeliveryStatus, EndpointSource};

use super::{Conn, Row, StoreError};
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

/// Routes `subscribed` events of the brand to the endpoint.
fn subscribe(conn: &mut dyn Conn, brand: &str, name: &str, subscribed: &[String]) -> Result<(), StoreError> {
    for kind in subscribed {
        conn.execute(
            "INSERT INTO webhook_subscriptions (brand, type, endpoint) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[brand.into(), kind.as_str().into(), name.into()],
        )?;
    }
    Ok(())
}

fn unsubscribe(conn: &mut dyn Conn, brand: &str, name: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM webhook_subscriptions WHERE brand = $1 AND endpoint = $2", &[brand.into(), name.into()])?;
    Ok(())
}

/// Stores the declared endpoints and routes the events of each enabled one to it; endpoints no
/// longer in the configuration get nothing more. An endpoint the service disabled (`410 Gone`,
/// failing for too long) stays disabled while its URL is the same. A declared endpoint takes the
/// place of a stored one of the same name.
pub fn declare(conn: &mut dyn Conn, endpoints: &[DeclaredEndpoint], now: i64) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM webhook_subscriptions WHERE EXISTS (SELECT 1 FROM webhook_endpoints e WHERE \
         e.brand = webhook_subscriptions.brand AND e.name = webhook_subscriptions.endpoint AND e.source = 'config')",
        &[],
    )?;
    for e in endpoints {
        conn.execute(
            "INSERT INTO webhook_endpoints (brand, name, url, description, enabled, updated_at, source, events) \
             VALUES ($1, $2, $3, $4, $5, $6, 'config', $7) ON CONFLICT (brand, name) DO UPDATE SET \
             enabled = CASE WHEN webhook_endpoints.url = excluded.url AND webhook_endpoints.disabled_reason IS NOT NULL \
             THEN 0 ELSE excluded.enabled END, \
             disabled_reason = CASE WHEN webhook_endpoints.url = excluded.url AND excluded.enabled = 1 \
             THEN webhook_endpoints.disabled_reason END, \
             failing_since = CASE WHEN webhook_endpoints.url = excluded.url THEN webhook_endpoints.failing_since END, \
             url = excluded.url, description = excluded.description, updated_at = excluded.updated_at, \
             source = 'config', events = excluded.events, secrets_enc = NULL",
            &[
                e.brand.as_str().into(),
                e.name.as_str().into(),
                e.url.as_str().into(),
                e.description.clone().into(),
                i64::from(e.enabled).into(),
                now.into(),
                e.subscribed.join(",").into(),
            ],
        )?;
        unsubscribe(conn, &e.brand, &e.name)?;
        let enabled = conn
            .query_one(
                "SELECT enabled FROM webhook_endpoints WHERE brand = $1 AND name = $2",
                &[e.brand.as_str().into(), e.name.as_str().into()],
            )?
            .int("enabled")?;
        if enabled == 1 {
            subscribe(conn, &e.brand, &e.name, &e.subscribed)?;
        }
    }
    Ok(())
}

/// An endpoint created in the admin area or from the command line.
pub struct NewStoredEndpoint {
    pub brand: String,
    pub name: String,
    pub url: String,
    pub description: Option<String>,
    /// Event types, or `*`.
    pub subscribed: Vec<String>,
    /// Its secrets, sealed.
    pub secrets_enc: Vec<u8>,
    pub created_by: String,
}

/// Stores a new endpoint and routes its events to it; `false` when the brand has one of that name.
pub fn create(conn: &mut dyn Conn, e: &NewStoredEndpoint, now: i64) -> Result<bool, StoreError> {
    let created = conn.execute(
        "INSERT INTO webhook_endpoints (brand, name, url, description, enabled, updated_at, source, events, \
         secrets_enc, created_by) VALUES ($1, $2, $3, $4, 1, $5, 'stored', $6, $7, $8) ON CONFLICT DO NOTHING",
        &[
            e.brand.as_str().into(),
            e.name.as_str().into(),
            e.url.as_str().into(),
            e.description.clone().into(),
            now.into(),
            e.subscribed.join(",").into(),
            e.secrets_enc.clone().into(),
            e.created_by.as_str().into(),
        ],
    )?;
    if created == 1 {
        subscribe(conn, &e.brand, &e.name, &e.subscribed)?;
    }
    Ok(created == 1)
}

/// An endpoint as stored.
pub struct EndpointRow {
    pub brand: String,
    pub name: String,
    pub url: String,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why orderguard disabled it (`gone`, `failing`), if it did.
    pub disabled_reason: Option<String>,
    pub source: EndpointSource,
    /// Event types, or `*`.
    pub subscribed: Vec<String>,
    /// Sealed secrets of a stored endpoint.
    pub secrets_enc: Option<Vec<u8>>,
    pub created_by: Option<String>,
    pub failing_since: Option<i64>,
    pub updated_at: i64,
}

const ENDPOINT_COLUMNS: &str = "brand, name, url, description, enabled, disabled_reason, source, events, secrets_enc, \
     created_by, failing_since, updated_at";

fn endpoint_row(r: &Row) -> Result<EndpointRow, StoreError> {
    Ok(EndpointRow {
        brand: r.text("brand")?,
        name: r.text("name")?,
        url: r.text("url")?,
        description: r.opt_text("description")?,
        enabled: r.int("enabled")? == 1,
        disabled_reason: r.opt_text("disabled_reason")?,
        source: r.parsed("source", EndpointSource::parse)?,
        subscribed: r.text("events")?.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        secrets_enc: r.opt_blob("secrets_enc")?,
        created_by: r.opt_text("created_by")?,
        failing_since: r.opt_int("failing_since")?,
        updated_at: r.int("updated_at")?,
    })
}

/// The brand's endpoints, by name.
pub fn endpoints(conn: &mut dyn Conn, brand: &str) -> Result<Vec<EndpointRow>, StoreError> {
    conn.query(
        &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE brand = $1 ORDER BY name"),
        &[brand.into()],
    )?
    .iter()
    .map(endpoint_row)
    .collect()
}

pub fn endpoint(conn: &mut dyn Conn, brand: &str, name: &str) -> Result<Option<EndpointRow>, StoreError> {
    conn.query_opt(
        &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE brand = $1 AND name = $2"),
        &[brand.into(), name.into()],
    )?
    .as_ref()
    .map(endpoint_row)
    .transpose()
}

/// Turns an endpoint on again (forgetting why it was disabled and since when it failed) or off
/// (its waiting deliveries end `gone`; replay them once it is on again).
pub fn set_enabled(conn: &mut dyn Conn, brand: &str, name: &str, enabled: bool, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE webhook_endpoints SET enabled = $1, disabled_reason = NULL, failing_since = NULL, updated_at = $2 \
         WHERE brand = $3 AND name = $4",
        &[i64::from(enabled).into(), now.into(), brand.into(), name.into()],
    )?;
    unsubscribe(conn, brand, name)?;
    if !enabled {
        return drop_pending(conn, brand, name, "the endpoint was disabled", now);
    }
    if let Some(row) = endpoint(conn, brand, name)? {
        subscribe(conn, brand, name, &row.subscribed)?;
    }
    Ok(())
}

pub fn set_secrets(
    conn: &mut dyn Conn,
    brand: &str,
    name: &str,
    secrets_enc: Vec<u8>,
    now: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE webhook_endpoints SET secrets_enc = $1, updated_at = $2 WHERE brand = $3 AND name = $4",
        &[secrets_enc.into(), now.into(), brand.into(), name.into()],
    )?;
    Ok(())
}

/// Deletes an endpoint and its deliveries (a new endpoint of the same name starts with an empty
/// log, and a replay cannot send it the old one's events).
pub fn delete(conn: &mut dyn Conn, brand: &str, name: &str) -> Result<(), StoreError> {
    unsubscribe(conn, brand, name)?;
    conn.execute("DELETE FROM webhook_endpoints WHERE brand = $1 AND name = $2", &[brand.into(), name.into()])?;
    conn.execute("DELETE FROM webhook_deliveries WHERE brand = $1 AND endpoint = $2", &[brand.into(), name.into()])?;
    Ok(())
}

/// How many endpoints a brand has that were made in the admin area or on the command line.
pub fn stored_count(conn: &mut dyn Conn, brand: &str) -> Result<i64, StoreError> {
    conn.query_one(
        "SELECT COUNT(*) AS n FROM webhook_endpoints WHERE brand = $1 AND source = 'stored'",
        &[brand.into()],
    )?
    .int("n")
}

fn drop_pending(conn: &mut dyn Conn, brand: &str, name: &str, why: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE webhook_deliveries SET status = 'gone', settled_at = $1, last_answer = COALESCE(last_answer, $2) \
         WHERE brand = $3 AND endpoint = $4 AND status = 'pending'",
        &[now.into(), why.into(), brand.into(), name.into()],
    )?;
    Ok(())
}

/// Writes a `webhook.test` event of the brand and its one delivery, to `endpoint`.
pub fn enqueue_test(
    conn: &mut dyn Conn,
    brand: &str,
    endpoint: &str,
    by_role: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let attrs = serde_json::json!({ "endpoint": endpoint, "requested_by_role": by_role }).to_string();
    let event_id = conn
        .query_one(
            "INSERT INTO events (brand, type, at, attrs) VALUES ($1, $2, $3, $4) RETURNING id",
            &[brand.into(), EventKind::WebhookTest.as_str().into(), now.into(), attrs.into()],
        )?
        .int("id")?;
    let delivery = conn
        .query_one(
            "INSERT INTO webhook_deliveries (brand, endpoint, event_id, next_at, created_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
            &[brand.into(), endpoint.into(), event_id.into(), now.into()],
        )?
        .int("id")?;
    Ok(delivery)
}

/// The endpoint a claimed delivery goes to, as stored when it was claimed.
pub struct ClaimedEndpoint {
    pub source: EndpointSource,
    pub url: String,
    pub enabled: bool,
    pub secrets_enc: Option<Vec<u8>>,
}

/// A delivery taken for sending, with its event.
pub struct Claimed {
    pub id: i64,
    pub brand: String,
    pub endpoint: String,
    /// `None`: the endpoint was deleted since.
    pub target: Option<ClaimedEndpoint>,
    /// Attempts including this one.
    pub attempts: i64,
    pub lease_token: String,
    pub event: Event,
}

/// Takes up to `limit` due deliveries with a lease of `lease_ms`, and no more than
/// `per_endpoint` in flight to any one endpoint (counting those other instances hold). Endpoint
/// by endpoint, from a random one on, so that none waits behind another's backlog; each step
/// reads an index of its own endpoint only (migration 0018).
pub fn claim_due(
    conn: &mut dyn Conn,
    now: i64,
    lease_ms: i64,
    limit: i64,
    per_endpoint: i64,
) -> Result<Vec<Claimed>, StoreError> {
    let token = crate::ids::random_token(16);
    let endpoints: Vec<(String, String)> = conn
        .query("SELECT brand, name FROM webhook_endpoints ORDER BY brand, name", &[])?
        .iter()
        .map(|r| Ok((r.text("brand")?, r.text("name")?)))
        .collect::<Result<_, StoreError>>()?;
    let start = usize::from(crate::ids::random_bytes::<2>()[0]) % endpoints.len().max(1);
    let mut left = limit;
    for (brand, endpoint) in endpoints.iter().cycle().skip(start).take(endpoints.len()) {
        if left <= 0 {
            break;
        }
        let busy = conn
            .query_one(
                "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE brand = $1 AND endpoint = $2 AND status = 'pending' \
                 AND lease_until >= $3",
                &[brand.as_str().into(), endpoint.as_str().into(), now.into()],
            )?
            .int("n")?;
        let take = (per_endpoint - busy).min(left);
        if take <= 0 {
            continue;
        }
        let taken = conn.execute(
            "UPDATE webhook_deliveries SET lease_until = $1, lease_token = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM webhook_deliveries WHERE brand = $3 AND endpoint = $4 AND status = 'pending' \
             AND next_at <= $5 AND lease_until < $5 ORDER BY next_at LIMIT $6) AND status = 'pending' AND lease_until < $5",
            &[
                (now + lease_ms).into(),
                token.as_str().into(),
                brand.as_str().into(),
                endpoint.as_str().into(),
                now.into(),
                take.into(),
            ],
        )?;
        left -= i64::try_from(taken).unwrap_or(0);
    }
    if left == limit {
        return Ok(Vec::new());
    }
    let rows = conn.query(
        "SELECT d.id, d.brand, d.endpoint, d.attempts, e.id AS event_id, e.type, e.at, e.verification_id, e.order_id, \
         e.attrs, w.source, w.url, w.enabled, w.secrets_enc FROM webhook_deliveries d JOIN events e ON e.id = d.event_id \
         LEFT JOIN webhook_endpoints w ON w.brand = d.brand AND w.name = d.endpoint WHERE d.lease_token = $1 \
         AND d.status = 'pending' ORDER BY d.id",
        &[token.as_str().into()],
    )?;
    rows.iter()
        .map(|r| {
            let target = match r.opt_text("source")? {
                None => None,
                Some(source) => Some(ClaimedEndpoint {
                    source: EndpointSource::parse(&source)
                        .ok_or(StoreError::Column { column: "source", expected: "config or stored" })?,
                    url: r.text("url")?,
                    enabled: r.int("enabled")? == 1,
                    secrets_enc: r.opt_blob("secrets_enc")?,
                }),
            };
            Ok(Claimed {
                id: r.int("id")?,
                brand: r.text("brand")?,
                endpoint: r.text("endpoint")?,
                target,
                attempts: r.int("attempts")?,
                lease_token: token.clone(),
                event: Event {
                    id: r.int("event_id")?,
                    kind: r.parsed("type", EventKind::parse)?,
                    at: r.int("at")?,
                    verification_id: r.opt_text("verification_id")?,
                    order_id: r.opt_text("order_id")?,
                    attrs: serde_json::from_str(&r.text("attrs")?).unwrap_or_default(),
                },
            })
        })
        .collect()
}

/// How an attempt ends a delivery, or when it is tried next.
pub enum Settle {
    Delivered,
    Retry {
        next_at: i64,
    },
    /// Retries spent.
    Failed,
    /// The endpoint answered `410 Gone`, or it is not there to send to.
    Gone,
}

/// One attempt as the log keeps it.
pub struct AttemptRecord<'a> {
    pub status: Option<u16>,
    pub answer: &'a str,
    pub latency_ms: i64,
}

/// Records an attempt; `false` when the lease was lost meanwhile (another instance holds the
/// delivery) or the endpoint was disabled meanwhile.
pub fn settle(
    conn: &mut dyn Conn,
    d: &Claimed,
    settle: &Settle,
    attempt: &AttemptRecord<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let (state, next_at, settled_at) = match settle {
        Settle::Delivered => (DeliveryStatus::Delivered, None, Some(now)),
        Settle::Retry { next_at } => (DeliveryStatus::Pending, Some(*next_at), None),
        Settle::Failed => (DeliveryStatus::Failed, None, Some(now)),
        Settle::Gone => (DeliveryStatus::Gone, None, Some(now)),
    };
    let changed = conn.execute(
        "UPDATE webhook_deliveries SET status = $1, next_at = COALESCE($2, next_at), settled_at = $3, lease_until = 0, \
         last_status = $4, last_answer = $5, last_latency_ms = $6 WHERE id = $7 AND lease_token = $8 AND status = 'pending'",
        &[
            state.as_str().into(),
            next_at.into(),
            settled_at.into(),
            attempt.status.map(i64::from).into(),
            attempt.answer.into(),
            attempt.latency_ms.into(),
            d.id.into(),
            d.lease_token.as_str().into(),
        ],
    )?;
    Ok(changed == 1)
}

/// Notes whether an endpoint's latest attempts went through: a delivery ends its failing, a
/// failure starts it if it had not (kept from the first failure after the last delivery). Gives
/// since when it fails, if it does.
pub fn note_failing(
    conn: &mut dyn Conn,
    brand: &str,
    endpoint: &str,
    delivered: bool,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    if delivered {
        conn.execute(
            "UPDATE webhook_endpoints SET failing_since = NULL WHERE brand = $1 AND name = $2 AND failing_since IS NOT NULL",
            &[brand.into(), endpoint.into()],
        )?;
        return Ok(None);
    }
    conn.query_opt(
        "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1) WHERE brand = $2 AND name = $3 \
         RETURNING failing_since",
        &[now.into(), brand.into(), endpoint.into()],
    )?
    .map(|r| r.int("failing_since"))
    .transpose()
}

/// Disables an endpoint for `reason`: it gets no new deliveries, and its waiting ones end `gone`.
pub fn disable(conn: &mut dyn Conn, brand: &str, endpoint: &str, reason: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2 WHERE brand = $3 AND name = $4",
        &[reason.into(), now.into(), brand.into(), endpoint.into()],
    )?;
    unsubscribe(conn, brand, endpoint)?;
    drop_pending(conn, brand, endpoint, "the endpoint was disabled", now)
}

/// Per endpoint: deliveries not delivered yet and when the oldest of them was written.
pub struct Backlog {
    pub brand: String,
    pub endpoint: String,
    pub waiting: i64,
    /// `None` when nothing waits.
    pub oldest: Option<i64>,
}

/// The backlog of every endpoint there is (an endpoint with nothing waiting included).
pub fn backlog(conn: &mut dyn Conn) -> Result<Vec<Backlog>, StoreError> {
    conn.query(
        "SELECT w.brand, w.name, COUNT(d.id) AS waiting, MIN(d.created_at) AS oldest FROM webhook_endpoints w \
         LEFT JOIN webhook_deliveries d ON d.brand = w.brand AND d.endpoint = w.name AND d.status = 'pending' \
         GROUP BY w.brand, w.name",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(Backlog {
            brand: r.text("brand")?,
            endpoint: r.text("name")?,
            waiting: r.int("waiting")?,
            oldest: r.opt_int("oldest")?,
        })
    })
    .collect()
}

/// A delivery as the log shows it.
pub struct DeliveryRow {
    pub id: i64,
    pub event_id: i64,
    pub kind: EventKind,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_at: i64,
    pub last_status: Option<i64>,
    pub last_answer: Option<String>,
    pub last_latency_ms: Option<i64>,
    pub created_at: i64,
    pub settled_at: Option<i64>,
}

/// The endpoint's deliveries, newest first: `limit` of them, of one status if given.
pub fn deliveries(
    conn: &mut dyn Conn,
    brand: &str,
    endpoint: &str,
    status: Option<DeliveryStatus>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, StoreError> {
    conn.query(
        "SELECT d.id, d.event_id, e.type, d.status, d.attempts, d.next_at, d.last_status, d.last_answer, \
         d.last_latency_ms, d.created_at, d.settled_at FROM webhook_deliveries d JOIN events e ON e.id = d.event_id \
         WHERE d.brand = $1 AND d.endpoint = $2 AND (CAST($3 AS TEXT) IS NULL OR d.status = $3) ORDER BY d.id DESC LIMIT $4",
        &[brand.into(), endpoint.into(), status.map(DeliveryStatus::as_str).into(), limit.into()],
    )?
    .iter()
    .map(|r| {
        Ok(DeliveryRow {
            id: r.int("id")?,
            event_id: r.int("event_id")?,
            kind: r.parsed("type", EventKind::parse)?,
            status: r.parsed("status", DeliveryStatus::parse)?,
            attempts: r.int("attempts")?,
            next_at: r.int("next_at")?,
            last_status: r.opt_int("last_status")?,
            last_answer: r.opt_text("last_answer")?,
            last_latency_ms: r.opt_int("last_latency_ms")?,
            created_at: r.int("created_at")?,
            settled_at: r.opt_int("settled_at")?,
        })
    })
    .collect()
}

/// Sends settled deliveries again from now on, with a fresh retry schedule, under their own
/// `webhook-id`: one (`only`), or every `failed` and `gone` one written since `since`. Gives how
/// many will go out.
pub fn replay(
    conn: &mut dyn Conn,
    brand: &str,
    endpoint: &str,
    only: Option<i64>,
    since: i64,
    now: i64,
) -> Result<u64, StoreError> {
    conn.execute(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_at = $1, settled_at = NULL, lease_until = 0, \
         lease_token = NULL \
         WHERE brand = $2 AND endpoint = $3 AND status <> 'pending' AND \
         (id = $4 OR (CAST($4 AS BIGINT) IS NULL AND status IN ('failed', 'gone') AND created_at >= $5))",
        &[now.into(), brand.into(), endpoint.into(), only.into(), since.into()],
    )
}
