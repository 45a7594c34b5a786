//! Delivering the brands' events to their webhook endpoints: the configured endpoints are
//! declared to the store at start (its trigger then writes a delivery with every subscribed
//! event, in the event's own transaction); `deliver_due` takes the due deliveries with a lease,
//! sends them signed, and records each attempt: delivered, tried again later on the schedule of
//! `orderguard_domain::webhook`, failed when it is spent, or gone (`410`: the endpoint is disabled).

use std::sync::Arc;

use orderguard_domain::clock::Timestamp;
use orderguard_domain::webhook::{self, Verdict};
use serde_json::{Value, json};

use super::ServiceError;
use crate::app::App;
use crate::brand::Brands;
use crate::records::Event;
use crate::store::webhooks::{self as store, Claimed, DeclaredEndpoint, Settle};
use crate::store::{Store, StoreError};

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
                subscribed: e.subscribed(),
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

/// Sends the due deliveries (up to the instance's concurrency) and records how each went; gives
/// how many were attempted.
pub async fn deliver_due(app: &Arc<App>, now: Timestamp) -> Result<usize, ServiceError> {
    let limit = i64::try_from(app.settings.limits.webhook_concurrency).unwrap_or(16);
    let claimed = app.store.write(move |conn| store::claim_due(conn, now.millis(), LEASE_MS, limit)).await?;
    let count = claimed.len();
    let sends = claimed.into_iter().map(|delivery| {
        let app = app.clone();
        async move {
            if let Err(e) = deliver(&app, delivery, now).await {
                tracing::warn!(error = %e, "recording a webhook delivery failed");
            }
        }
    });
    futures_util::future::join_all(sends).await;
    Ok(count)
}

/// Sets the queue gauges of every configured endpoint (an endpoint with nothing waiting reads 0).
pub async fn measure_backlog(app: &Arc<App>, now: Timestamp) -> Result<(), ServiceError> {
    let backlog = app.store.read(store::backlog).await?;
    for brand in app.brands.all() {
        for endpoint in &brand.webhooks {
            let waiting = backlog.iter().find(|(b, e, _, _)| b == brand.slug.as_str() && *e == endpoint.name);
            let (count, oldest) = waiting.map_or((0, now.millis()), |(_, _, count, oldest)| (*count, *oldest));
            let labels = [("brand", brand.slug.as_str()), ("endpoint", endpoint.name.as_str())];
            app.metrics.set_gauge("orderguard_webhook_queue_depth", &labels, count);
            app.metrics.set_gauge(
                "orderguard_webhook_oldest_undelivered_seconds",
                &labels,
                (now.millis() - oldest).max(0) / 1000,
            );
        }
    }
    Ok(())
}

async fn deliver(app: &Arc<App>, delivery: Claimed, now: Timestamp) -> Result<(), ServiceError> {
    let endpoint = app
        .brands
        .get(&delivery.brand)
        .and_then(|b| b.webhooks.iter().find(|e| e.name == delivery.endpoint && e.enabled).cloned());
    let Some(endpoint) = endpoint else {
        // Taken out of the configuration since: nobody to send it to.
        let answer = "the endpoint is no longer configured";
        app.store
            .write(move |conn| store::settle(conn, &delivery, Settle::Failed, None, answer, 0, now.millis()))
            .await?;
        return Ok(());
    };
    let id = format!("msg_{}_{}", delivery.brand, delivery.id);
    let body = payload(&delivery.brand, &delivery.event).to_string();
    // The attempt's own time: a retry is signed anew, under the same id.
    let sent_at = crate::clock::real_now().millis() / 1000;
    let attempt = app.webhook_sender.send(&endpoint, &id, sent_at, body).await;
    let verdict = webhook::verdict(attempt.status);
    let attempts = u32::try_from(delivery.attempts).unwrap_or(u32::MAX);
    let base = i64::try_from(app.settings.limits.webhook_retry_base_ms).unwrap_or(5_000);
    let settle = match verdict {
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
        attempt.latency_ms as f64 / 1000.0,
    );
    let gone = matches!(settle, Settle::Gone);
    app.store
        .write(move |conn| -> Result<(), StoreError> {
            let (status, latency) = (attempt.status, attempt.latency_ms);
            if store::settle(conn, &delivery, settle, status, &attempt.answer, latency, now.millis())? && gone {
                store::disable(conn, &delivery.brand, &delivery.endpoint, "410 Gone", now.millis())?;
            }
            Ok(())
        })
        .await?;
    if gone {
        tracing::warn!(endpoint = %endpoint.name, "a webhook endpoint answered 410 Gone: disabled");
    }
    Ok(())
}
