//! Sending a code's SMS through the brand's route, and recording what providers report later.
//! A message is sent by the instance that holds its lease (`sms::queue`): queued and claimed by
//! the transaction that created it, or claimed later by a scan (a crash, a retry).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use orderguard_domain::circuit::{Admission, CircuitBreaker};
use orderguard_domain::clock::Timestamp;
use orderguard_domain::event::EventKind;
use serde_json::json;

use super::ServiceError;
use super::verifications::mark_undeliverable;
use crate::app::App;
use crate::records::NewEvent;
use crate::records::sms::{OutboxMessage, QueuedSms, ReportMatch};
use crate::sms::delivery::{Delivery, DeliveryReport};
use crate::sms::queue::LEASE_MS;
use crate::sms::{OutgoingSms, SmsError, Submitted};
use crate::store::Conn;
use crate::store::events;
use crate::store::sms as store;

/// Messages due for sending (a retry whose time came, a lease that ran out), at most `limit`.
pub async fn due(app: &Arc<App>, now: Timestamp, limit: i64) -> Result<Vec<String>, ServiceError> {
    Ok(app.store.read(move |conn| store::due(conn, now.millis(), limit)).await?)
}

/// Claims a due message and sends it; nothing when another sender has it or it is not due.
pub async fn claim_and_send(app: &Arc<App>, id: String, now: Timestamp) -> Result<(), ServiceError> {
    let claimed = app.store.write(move |conn| store::claim(conn, &id, now.millis(), LEASE_MS)).await?;
    match claimed {
        Some(message) => send_claimed(app, message, now).await,
        None => Ok(()),
    }
}

/// A provider that failed or was skipped in one hand-off round.
struct AttemptFailure {
    provider: String,
    /// `rejected`, `unavailable` or `skipped`.
    result: &'static str,
    /// Tried as the route's last resort although its circuit breaker was open.
    breaker_open: bool,
    error: String,
    latency_ms: Option<i64>,
    at: Timestamp,
}

/// Hands a message this instance holds to the first provider of its route that takes it, and
/// records the outcome: submitted, a retry later, or given up. `started` is when this began; the
/// times of later steps are measured from it.
pub async fn send_claimed(app: &Arc<App>, message: QueuedSms, started: Timestamp) -> Result<(), ServiceError> {
    let clock = Instant::now();
    let at = |clock: Instant| Timestamp(started.millis() + i64::try_from(clock.elapsed().as_millis()).unwrap_or(0));
    if started.millis() >= message.not_after {
        return finish_unsent(app, message, "expired", "code expired before the SMS was sent", Vec::new(), started)
            .await;
    }
    let Some(brand) = app.brands.get(&message.brand).cloned() else {
        return finish_unsent(app, message, "failed", "the brand is no longer configured", Vec::new(), started).await;
    };
    let (Ok(to), Ok(text)) =
        (app.secrets.decrypt_string(&message.to_enc), app.secrets.decrypt_string(&message.body_enc))
    else {
        return finish_unsent(app, message, "failed", "the queued SMS cannot be decrypted", Vec::new(), started).await;
    };
    // Failed and skipped providers: each becomes an `sms.attempt_failed` event, written with the
    // message's next state.
    let mut failures: Vec<AttemptFailure> = Vec::new();
    let mut tried = false;
    let route = brand.route_for(&message.country);
    for (index, provider) in route.iter().enumerate() {
        let admission = lock(&provider.breaker).admit(at(clock).millis());
        // A breaker skips to a provider that works; when every one is open, skipping them all
        // would only run the message out of attempts, so the last one is tried regardless.
        let last_resort = index + 1 == route.len() && !tried;
        if admission == Admission::Skip && !last_resort {
            app.metrics.increment("orderguard_sms_provider_skipped_total", &[("provider", &provider.name)]);
            failures.push(AttemptFailure {
                provider: provider.name.clone(),
                result: "skipped",
                breaker_open: true,
                error: "circuit breaker open".into(),
                latency_ms: None,
                at: at(clock),
            });
            continue;
        }
        if !still_ours(app, &message, at(clock)).await? {
            return Ok(());
        }
        tried = true;
        let handed = Instant::now();
        let sms = OutgoingSms {
            message_id: &message.id,
            brand: &message.brand,
            verification_id: &message.verification_id,
            sender_id: &brand.sender_id,
            to: &to,
            country: &message.country,
            text: &text,
            at: at(clock),
        };
        let result = provider.gateway.send(&sms).await;
        let seconds = handed.elapsed().as_secs_f64();
        let latency_ms = (seconds * 1000.0).round() as i64;
        let labels = [("provider", provider.name.as_str()), ("country", message.country.as_str())];
        app.metrics.observe("orderguard_sms_submit_duration_seconds", &labels, seconds);
        let outcome = match &result {
            Ok(_) => "submitted",
            Err(SmsError::Rejected(_)) => "rejected",
            Err(SmsError::Unavailable(_)) => "unavailable",
        };
        app.metrics
            .increment("orderguard_sms_total", &[("brand", &message.brand), labels[0], labels[1], ("result", outcome)]);
        let done = at(clock);
        match result {
            Ok(submitted) => {
                lock(&provider.breaker).succeeded();
                let probe = admission == Admission::Probe;
                let handoff = Handoff { provider: provider.name.clone(), latency_ms, probe, at: done };
                return record_submitted(app, message, submitted, handoff, failures).await;
            }
            Err(e) => {
                // A refused message says nothing against the provider's health (a probe refused
                // shows it answers); an unreachable one does.
                match e {
                    SmsError::Unavailable(_) => lock(&provider.breaker).failed(done.millis()),
                    SmsError::Rejected(_) if admission == Admission::Probe => lock(&provider.breaker).succeeded(),
                    SmsError::Rejected(_) => {}
                }
                failures.push(AttemptFailure {
                    provider: provider.name.clone(),
                    result: outcome,
                    breaker_open: admission == Admission::Skip,
                    error: e.to_string(),
                    latency_ms: Some(latency_ms),
                    at: done,
                });
            }
        }
    }
    let attempts = message.attempts;
    if attempts < app.settings.limits.sms_max_attempts {
        return retry_later(app, message, failures, at(clock)).await;
    }
    finish_unsent(app, message, "failed", "every provider failed", failures, at(clock)).await
}

fn lock(breaker: &Mutex<CircuitBreaker>) -> MutexGuard<'_, CircuitBreaker> {
    breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The provider that took a message, and how.
struct Handoff {
    provider: String,
    latency_ms: i64,
    probe: bool,
    at: Timestamp,
}

async fn record_submitted(
    app: &Arc<App>,
    m: QueuedSms,
    submitted: Submitted,
    handoff: Handoff,
    failures: Vec<AttemptFailure>,
) -> Result<(), ServiceError> {
    let Submitted { provider_message_id, kept } = submitted;
    let kept = app
        .store
        .write(move |conn| -> Result<Option<OutboxMessage>, ServiceError> {
            if let Some(kept) = &kept {
                store::outbox_insert(conn, kept)?;
            }
            let (name, done) = (handoff.provider.as_str(), handoff.at);
            if store::mark_submitted(conn, &m, name, provider_message_id.as_deref(), done.millis())? {
                append_attempt_failures(conn, &m, failures)?;
                let attrs = json!({
                    "message_id": m.id, "provider": name, "attempt": m.attempts, "latency_ms": handoff.latency_ms,
                    "country": m.country, "provider_message_id": provider_message_id, "probe": handoff.probe,
                });
                append_sms_event(conn, &m, EventKind::SmsSubmitted, done, attrs)?;
            }
            Ok(kept)
        })
        .await?;
    if let Some(kept) = &kept {
        app.outbox_kept.kept(kept);
    }
    Ok(())
}

/// Every provider failed this round: the message goes back to the queue with a back-off.
async fn retry_later(
    app: &Arc<App>,
    m: QueuedSms,
    failures: Vec<AttemptFailure>,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let attempts = m.attempts;
    let backoff_ms = 1000_i64.saturating_mul(1 << attempts.clamp(1, 8));
    app.store
        .write(move |conn| -> Result<(), ServiceError> {
            if store::mark_retry(conn, &m, now.millis() + backoff_ms, now.millis())? {
                append_attempt_failures(conn, &m, failures)?;
                let attrs = json!({
                    "message_id": m.id, "attempt": attempts, "final": false, "stage": "hand_off",
                    "next_attempt_in_ms": backoff_ms,
                });
                append_sms_event(conn, &m, EventKind::SmsFailed, now, attrs)?;
            }
            Ok(())
        })
        .await
}

/// One event per provider that failed or was skipped in this attempt, at the time it happened.
fn append_attempt_failures(
    conn: &mut dyn Conn,
    m: &QueuedSms,
    failures: Vec<AttemptFailure>,
) -> Result<(), ServiceError> {
    for f in failures {
        let mut attrs = json!({
            "message_id": m.id, "attempt": m.attempts, "provider": f.provider, "result": f.result, "error": f.error,
            "breaker_open": f.breaker_open,
        });
        if let (Some(latency_ms), Some(map)) = (f.latency_ms, attrs.as_object_mut()) {
            map.insert("latency_ms".into(), latency_ms.into());
        }
        append_sms_event(conn, m, EventKind::SmsAttemptFailed, f.at, attrs)?;
    }
    Ok(())
}

/// Renews the lease before a hand-off; `false` when another sender took the message, a resend
/// superseded it, or its verification is no longer pending. A young claim is ours without asking.
async fn still_ours(app: &Arc<App>, message: &QueuedSms, now: Timestamp) -> Result<bool, ServiceError> {
    if now.millis() - message.claimed_at < crate::sms::queue::UNCHECKED_CLAIM_MS {
        return Ok(true);
    }
    let m = message.clone();
    Ok(app.store.write(move |conn| store::renew(conn, &m, now.millis(), LEASE_MS)).await?)
}

/// The message will not be sent: record why; a verification still waiting for it is undeliverable.
async fn finish_unsent(
    app: &Arc<App>,
    message: QueuedSms,
    status: &'static str,
    reason: &'static str,
    failures: Vec<AttemptFailure>,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let brand = message.brand.clone();
    let undeliverable = app
        .store
        .write(move |conn| -> Result<bool, ServiceError> {
            if !store::mark_final(conn, &message, status, now.millis())? {
                return Ok(false); // no longer ours: superseded or taken by another sender
            }
            append_attempt_failures(conn, &message, failures)?;
            let kind = if status == "expired" { EventKind::SmsExpired } else { EventKind::SmsFailed };
            let attrs =
                json!({ "message_id": message.id, "attempt": message.attempts, "final": true, "reason": reason });
            append_sms_event(conn, &message, kind, now, attrs)?;
            if status != "failed" {
                return Ok(false);
            }
            mark_undeliverable(conn, &message.verification_id, reason, now)
        })
        .await?;
    if undeliverable {
        app.metrics.increment("orderguard_verification_events_total", &[("brand", &brand), ("type", "undeliverable")]);
    }
    Ok(())
}

/// Appends an SMS event; it carries the order id so that the order's trace shows it.
fn append_sms_event(
    conn: &mut dyn Conn,
    m: &QueuedSms,
    kind: EventKind,
    at: Timestamp,
    attrs: serde_json::Value,
) -> Result<(), ServiceError> {
    events::append(conn, &NewEvent::of_verification(&m.brand, &m.verification_id, &m.order_id, kind, at, attrs))?;
    Ok(())
}

/// Records delivery reports that arrived together, in one transaction, as `sms.delivered` /
/// `sms.failed` events with the latency since the hand-off. Gives, per report in order, whether
/// it was recorded, a repeat, or names no message (yet).
pub async fn record_delivery_reports(
    app: &Arc<App>,
    reports: &[&DeliveryReport],
    now: Timestamp,
) -> Result<Vec<ReportMatch>, ServiceError> {
    let entries: Vec<(String, String, Delivery, serde_json::Value)> = reports
        .iter()
        .map(|r| {
            let extra = json!({ "status": r.status, "error_code": r.error_code });
            (r.provider.clone(), r.provider_message_id.clone(), r.delivery, extra)
        })
        .collect();
    let matches = app
        .store
        .write(move |conn| -> Result<Vec<ReportMatch>, ServiceError> {
            let mut matches = Vec::with_capacity(entries.len());
            for (provider, provider_message_id, delivery, extra) in entries {
                let found = store::record_delivery(conn, &provider, &provider_message_id, delivery.as_str(), now.millis())?;
                if let ReportMatch::Recorded(sms) = &found {
                    let kind = match delivery {
                        Delivery::Delivered => EventKind::SmsDelivered,
                        Delivery::Failed => EventKind::SmsFailed,
                    };
                    let mut attrs = json!({
                        "message_id": sms.id, "provider": provider, "latency_ms": sms.submitted_at.map(|at| now.millis() - at),
                        "stage": "delivery", "country": sms.country,
                    });
                    if let (Some(map), serde_json::Value::Object(more)) = (attrs.as_object_mut(), extra) {
                        map.extend(more);
                    }
                    let event = NewEvent::of_verification(&sms.brand, &sms.verification_id, &sms.order_id, kind, now, attrs);
                    events::append(conn, &event)?;
                }
                matches.push(found);
            }
            Ok(matches)
        })
        .await?;
    for (report, found) in reports.iter().zip(&matches) {
        if let ReportMatch::Recorded(sms) = found {
            let (provider, country) = (report.provider.as_str(), sms.country.as_str());
            app.metrics.increment(
                "orderguard_sms_delivery_total",
                &[("provider", provider), ("country", country), ("result", report.delivery.as_str())],
            );
            if let Some(at) = sms.submitted_at {
                let labels = [("provider", provider), ("country", country)];
                app.metrics.observe("orderguard_sms_delivery_seconds", &labels, (now.millis() - at) as f64 / 1000.0);
            }
        }
    }
    Ok(matches)
}

/// How long a delivery report may take to be stored before its provider hears of a failure:
/// answering only once the report is stored makes a provider retry what a crash lost.
const REPORT_STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Hands a provider's report over to be recorded and waits until it is stored (a provider that
/// hears of a failure sends it again). `false` when it was not stored in time.
pub async fn hand_over_report(app: &App, mut report: DeliveryReport) -> bool {
    let (stored, stored_rx) = tokio::sync::oneshot::channel();
    report.stored = Some(stored);
    app.delivery_reports.report(report);
    matches!(tokio::time::timeout(REPORT_STORE_TIMEOUT, stored_rx).await, Ok(Ok(())))
}

/// Which messages of the development outbox to list.
pub struct OutboxQuery {
    pub brand: Option<String>,
    /// E.164.
    pub to: Option<String>,
    pub verification_id: Option<String>,
    pub limit: i64,
    /// If nothing matches yet, wait this long for a message.
    pub wait: std::time::Duration,
}

/// The messages `outbox` providers kept, newest first, waiting for one if asked.
pub async fn outbox(app: &App, query: OutboxQuery) -> Result<Vec<OutboxMessage>, ServiceError> {
    let deadline = tokio::time::Instant::now() + query.wait;
    let waited_for = query.verification_id.as_deref();
    loop {
        // Subscribed before looking, so that a message kept in between is not missed.
        let waiter = app.outbox_kept.subscribe(waited_for);
        let (brand, to, verification_id) = (query.brand.clone(), query.to.clone(), query.verification_id.clone());
        let limit = query.limit;
        let messages = app
            .store
            .read(move |conn| {
                store::outbox_list(conn, brand.as_deref(), to.as_deref(), verification_id.as_deref(), limit)
            })
            .await?;
        if !messages.is_empty() || tokio::time::Instant::now() >= deadline {
            waited_for.inspect(|id| app.outbox_kept.forget(id));
            return Ok(messages);
        }
        match tokio::time::timeout_at(deadline, waiter.wait()).await {
            // The message we waited for, handed over: no second read when it matches every filter.
            Ok(Some(message))
                if query.brand.as_ref().is_none_or(|b| *b == message.brand)
                    && query.to.as_ref().is_none_or(|t| *t == message.to) =>
            {
                return Ok(vec![message]);
            }
            Ok(_) => {}
            Err(_) => {
                waited_for.inspect(|id| app.outbox_kept.forget(id));
                return Ok(messages);
            }
        }
    }
}
