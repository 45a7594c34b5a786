//! Delivering the brands' events to their webhook endpoints: the configured endpoints are
//! declared to the store at start, the others are managed in `endpoints` (the store's trigger
//! then writes a delivery with every subscribed event, in the event's own transaction);
//! `deliver_due` takes the due deliveries with a lease, sends them signed, and records each
//! attempt: delivered, tried again later on the schedule of `orderguard_domain::webhook`, failed
//! when it is spent, or gone. An endpoint that answers `410` or fails for too long is disabled.

pub mod endpoints;

use std::sync::Arc;

use orderguard_domain::clock::Timestamp;
use orderguard_domain::event::EventKind;
use orderguard_domain::webhook::{self, DisabledReason, EndpointSource, Verdict};
use serde_json::{Value, json};

use super::ServiceError;
use crate::app::App;
use crate::brand::Brands;
use crate::records::{Event, NewEvent};
use crate::store::webhooks::{self as store, AttemptRecord, Claimed, DeclaredEndpoint, Settle};
use crate::store::{Conn, Store, StoreError};
use crate::webhooks::WebhookEndpoint;

/// How long a claimed delivery is this instance's: longer than a receiver may take to answer
/// (15 s), so that no other instance sends it meanwhile; after a crash, it is sent again then.
const LEASE_MS: i64 = 20_000;

/// Tells the store every brand's endpoints and the event types they receive.
pub async fn declare(store: &Store, brands: &Brands, now: Timestamp) -> Result<(), ServiceError> {
    let declared: Vec<DeclaredEndpoint> = brands
        .all()
        .flat_map(|b| {
            b.webhooks.iter().map(|e| DeclaredEndpoint {
                brand: b.slug.to_string(),
                name: e.name.clone(),
                url: e.url.clone(),
                description: e.description.clone(),
                enabled: e.enabled,
                subscribed: crate::webhooks::subscribed(e.events.as_deref()),
            })
        })
        .collect();
    store.write(move |conn| store::declare(conn, &declared, now.millis())).await?;
    Ok(())
}

/// The body of a delivery: `{type, timestamp, data}` as Standard Webhooks has it. The data are
/// the event's ids and attributes, which never hold personal data (`EventKind`).
pub fn payload(brand: &str, event: &Event) -> Value {
    let mut data = serde_json::Map::new();
    data.insert("brand".into(), json!(brand));
    data.insert("event_id".into(), json!(event.id));
    if let Some(id) = &event.verification_id {
        data.insert("verification_id".into(), json!(id));
    }
    if let Some(id) = &event.order_id {
        data.insert("order_id".into(), json!(id));
    }
    if let Value::Object(attrs) = &event.attrs {
        for (key, value) in attrs {
            data.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    json!({ "type": event.kind.as_str(), "timestamp": crate::clock::rfc3339(event.at), "data": data })
}

/// One batch: up to `limit` due deliveries claimed with a lease (never more in flight to one
/// endpoint than its cap, over all instances), sent at once, recorded together; gives how many.
pub async fn deliver_due(app: &App, now: Timestamp, limit: usize) -> Result<usize, ServiceError> {
    let limit = i64::try_from(limit).unwrap_or(0);
    let per_endpoint = i64::try_from(app.settings.limits.webhook_concurrency_per_endpoint).unwrap_or(0);
    let claimed =
        app.store.write(move |conn| store::claim_due(conn, now.millis(), LEASE_MS, limit, per_endpoint)).await?;
    let count = claimed.len();
    if count > 0 {
        let attempts = futures_util::future::join_all(claimed.into_iter().map(|d| attempt(app, d, now))).await;
        record_attempts(app, attempts, app.clock.now()).await?;
    }
    Ok(count)
}

/// Records finished attempts, in one transaction; disables the endpoints that answered `410` or
/// have failed for too long.
async fn record_attempts(app: &App, attempts: Vec<Attempted>, now: Timestamp) -> Result<(), ServiceError> {
    let disable_after = i64::try_from(app.settings.limits.webhook_disable_after_ms).unwrap_or(i64::MAX);
    let disabled = app
        .store
        .write(move |conn| -> Result<Vec<(String, DisabledReason)>, StoreError> {
            let mut outcomes: Vec<(&str, &str, Outcome)> = Vec::new();
            for done in &attempts {
                let record = AttemptRecord { status: done.status, answer: &done.answer, latency_ms: done.latency_ms };
                if !store::settle(conn, &done.delivery, &done.settle, &record, now.millis())? {
                    continue;
                }
                let outcome = match (&done.settle, done.status) {
                    (Settle::Delivered, _) => Outcome::Delivered,
                    (Settle::Gone, Some(410)) => Outcome::Gone,
                    // Nobody to send it to: says nothing of the endpoint.
                    (Settle::Gone, _) => continue,
                    _ => Outcome::Failed,
                };
                let (brand, endpoint) = (done.delivery.brand.as_str(), done.delivery.endpoint.as_str());
                match outcomes.iter_mut().find(|(b, e, _)| *b == brand && *e == endpoint) {
                    Some((_, _, seen)) => *seen = (*seen).max(outcome),
                    None => outcomes.push((brand, endpoint, outcome)),
                }
            }
            let mut disabled = Vec::new();
            for (brand, endpoint, outcome) in outcomes {
                if let Some(reason) = conclude(conn, brand, endpoint, outcome, disable_after, now)? {
                    disabled.push((endpoint.to_owned(), reason));
                }
            }
            Ok(disabled)
        })
        .await?;
    for (endpoint, reason) in disabled {
        tracing::warn!(%endpoint, reason = reason.as_str(), "a webhook endpoint was disabled");
    }
    Ok(())
}

/// Sets the queue gauges of every endpoint (one with nothing waiting reads 0).
pub async fn measure_backlog(app: &Arc<App>, now: Timestamp) -> Result<(), ServiceError> {
    for b in app.store.read(store::backlog).await? {
        let labels = [("brand", b.brand.as_str()), ("endpoint", b.endpoint.as_str())];
        app.metrics.set_gauge("orderguard_webhook_queue_depth", &labels, b.waiting);
        let age = b.oldest.map_or(0, |oldest| (now.millis() - oldest).max(0) / 1000);
        app.metrics.set_gauge("orderguard_webhook_oldest_undelivered_seconds", &labels, age);
    }
    Ok(())
}

/// The endpoint to send a claimed delivery to, or why there is none.
fn target(app: &App, delivery: &Claimed) -> Result<Arc<WebhookEndpoint>, &'static str> {
    let Some(target) = &delivery.target else { return Err("the endpoint was deleted") };
    if !target.enabled {
        return Err("the endpoint is disabled");
    }
    match target.source {
        EndpointSource::Config => app
            .brands
            .get(&delivery.brand)
            .and_then(|b| b.webhooks.iter().find(|e| e.name == delivery.endpoint && e.enabled).cloned())
            .ok_or("the endpoint is no longer configured, or configured off"),
        EndpointSource::Stored => {
            let sealed = target.secrets_enc.as_deref().unwrap_or_default();
            let secrets = endpoints::unseal_secrets(&app.secrets, sealed).map_err(|_| "its secret cannot be read")?;
            Ok(Arc::new(WebhookEndpoint::stored(&delivery.endpoint, &target.url, secrets)))
        }
    }
}

/// One attempt, made: what to record of it.
struct Attempted {
    delivery: Claimed,
    settle: Settle,
    status: Option<u16>,
    answer: String,
    latency_ms: i64,
}

/// Sends one delivery (or finds there is nobody to send it to) and decides what follows.
async fn attempt(app: &App, delivery: Claimed, now: Timestamp) -> Attempted {
    let endpoint = match target(app, &delivery) {
        Ok(endpoint) => endpoint,
        Err(why) => {
            return Attempted { delivery, settle: Settle::Gone, status: None, answer: why.to_owned(), latency_ms: 0 };
        }
    };
    let id = format!("msg_{}_{}", delivery.brand, delivery.id);
    let body = payload(&delivery.brand, &delivery.event).to_string();
    // The attempt's own time: a retry is signed anew, under the same id.
    let sent_at = crate::clock::real_now().millis() / 1000;
    let sent = app.webhook_sender.send(&endpoint, &id, sent_at, body).await;
    let attempts = u32::try_from(delivery.attempts).unwrap_or(u32::MAX);
    let base = i64::try_from(app.settings.limits.webhook_retry_base_ms).unwrap_or(5_000);
    let settle = match webhook::verdict(sent.status) {
        Verdict::Delivered => Settle::Delivered,
        Verdict::Gone => Settle::Gone,
        Verdict::Retry => match webhook::retry_after_ms(base, attempts, crate::ids::random_bytes::<1>()[0]) {
            Some(wait) => Settle::Retry { next_at: now.millis() + wait },
            None => Settle::Failed,
        },
    };
    let outcome = match &settle {
        Settle::Delivered => "delivered",
        Settle::Retry { .. } => "retry",
        Settle::Failed => "failed",
        Settle::Gone => "gone",
    };
    let labels = [("brand", delivery.brand.as_str()), ("endpoint", endpoint.name.as_str()), ("outcome", outcome)];
    app.metrics.increment("orderguard_webhook_deliveries_total", &labels);
    app.metrics.observe(
        "orderguard_webhook_delivery_duration_seconds",
        &[("endpoint", endpoint.name.as_str())],
        sent.latency_ms as f64 / 1000.0,
    );
    Attempted { delivery, settle, status: sent.status, answer: sent.answer, latency_ms: sent.latency_ms }
}

/// What a batch's attempts say of one endpoint; the later variants win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Failed,
    /// One delivery went through: it does not fail.
    Delivered,
    /// It answered `410 Gone`.
    Gone,
}

/// Keeps an endpoint's failing time, and disables it when it answered `410 Gone` or has failed
/// for too long (gives why, then).
fn conclude(
    conn: &mut dyn Conn,
    brand: &str,
    endpoint: &str,
    outcome: Outcome,
    disable_after_ms: i64,
    now: Timestamp,
) -> Result<Option<DisabledReason>, StoreError> {
    let failing_since = store::note_failing(conn, brand, endpoint, outcome != Outcome::Failed, now.millis())?;
    let reason = match (outcome, failing_since) {
        (Outcome::Gone, _) => DisabledReason::Gone,
        (_, Some(since)) if webhook::keeps_failing(since, now.millis(), disable_after_ms) => DisabledReason::Failing,
        _ => return Ok(None),
    };
    disable(conn, brand, endpoint, reason, failing_since, now)?;
    Ok(Some(reason))
}

/// Disables an endpoint orderguard gave up on, with a `webhook.endpoint_disabled` event of the
/// brand (which the brand's other endpoints may receive).
fn disable(
    conn: &mut dyn Conn,
    brand: &str,
    endpoint: &str,
    reason: DisabledReason,
    failing_since: Option<i64>,
    now: Timestamp,
) -> Result<(), StoreError> {
    store::disable(conn, brand, endpoint, reason.as_str(), now.millis())?;
    let attrs = match (reason, failing_since) {
        (DisabledReason::Failing, Some(since)) => {
            json!({ "endpoint": endpoint, "reason": reason.as_str(), "failing_since": crate::clock::rfc3339(since) })
        }
        _ => json!({ "endpoint": endpoint, "reason": reason.as_str() }),
    };
    let event = NewEvent {
        brand,
        verification_id: None,
        order_id: None,
        kind: EventKind::WebhookEndpointDisabled,
        at: now,
        attrs,
    };
    crate::store::events::append(conn, &event)
}
