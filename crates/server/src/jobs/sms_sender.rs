//! Hands queued SMS to the brand's providers, outside the request: a slow provider delays only its
//! own messages. A new message arrives on a channel, already claimed by the transaction that
//! queued it; a periodic scan claims what a crash (expired lease) or a retry left behind.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use orderguard_domain::circuit::{Admission, CircuitBreaker};
use orderguard_domain::verification::Status;
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};

use crate::App;
use crate::service::ServiceError;
use crate::service::verifications::SMS_LEASE_MS;
use crate::sms::{OutgoingSms, SmsError, Submitted};
use crate::store::events::{self, NewEvent};
use crate::store::sms::{self as sms_store, OutboxMessage, QueuedSms};
use crate::store::verifications;

const SCAN_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct SmsQueue {
    tx: mpsc::UnboundedSender<QueuedSms>,
}

impl SmsQueue {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<QueuedSms>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }

    /// Hands over a message claimed in the committed transaction that queued it.
    pub fn send(&self, claimed: QueuedSms) {
        // If the sender is gone, the lease runs out and a scan (of this or a restarted instance) sends it.
        let _ = self.tx.send(claimed);
    }
}

enum Work {
    Claimed(QueuedSms),
    Due(String),
}

pub async fn run(app: Arc<App>, mut announced: mpsc::UnboundedReceiver<QueuedSms>) {
    let permits = Arc::new(Semaphore::new(app.settings.limits.sms_concurrency.max(1)));
    let mut scan = tokio::time::interval(SCAN_INTERVAL);
    loop {
        let work = tokio::select! {
            claimed = announced.recv() => match claimed {
                Some(message) => vec![Work::Claimed(message)],
                None => return,
            },
            _ = scan.tick() => {
                let now = crate::clock::now().millis();
                match app.store.read(move |conn| sms_store::due(conn, now, 200)).await {
                    Ok(ids) => ids.into_iter().map(Work::Due).collect(),
                    Err(e) => {
                        tracing::warn!(error = %e, "scanning the SMS queue failed");
                        Vec::new()
                    }
                }
            }
        };
        for item in work {
            let Ok(permit) = permits.clone().acquire_owned().await else { return };
            let app = app.clone();
            tokio::spawn(async move {
                let sent = match item {
                    Work::Claimed(message) => send_claimed(&app, message).await,
                    Work::Due(id) => claim_and_send(&app, id).await,
                };
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "sending an SMS failed");
                }
                drop(permit);
            });
        }
    }
}

async fn claim_and_send(app: &Arc<App>, id: String) -> Result<(), ServiceError> {
    let now = crate::clock::now().millis();
    let Some(message) = app.store.write(move |conn| sms_store::claim(conn, &id, now, SMS_LEASE_MS)).await? else {
        return Ok(()); // sent, being sent, or not yet due
    };
    send_claimed(app, message).await
}

async fn send_claimed(app: &Arc<App>, message: QueuedSms) -> Result<(), ServiceError> {
    let now = crate::clock::now().millis();
    if now >= message.not_after {
        return finish_unsent(app, message, "expired", "code expired before the SMS was sent", Vec::new()).await;
    }
    let Some(brand) = app.brands.get(&message.brand).cloned() else {
        return finish_unsent(app, message, "failed", "the brand is no longer configured", Vec::new()).await;
    };
    let (Ok(to), Ok(text)) =
        (app.secrets.decrypt_string(&message.to_enc), app.secrets.decrypt_string(&message.body_enc))
    else {
        return finish_unsent(app, message, "failed", "the queued SMS cannot be decrypted", Vec::new()).await;
    };
    let sms = OutgoingSms {
        message_id: &message.id,
        brand: &message.brand,
        verification_id: &message.verification_id,
        sender_id: &brand.sender_id,
        to: &to,
        country: &message.country,
        text: &text,
    };
    // Failed and skipped providers: each becomes an `sms.attempt_failed` event, written with the
    // message's next state.
    let mut failures: Vec<AttemptFailure> = Vec::new();
    let mut tried = false;
    let route = brand.route_for(&message.country);
    for (index, provider) in route.iter().enumerate() {
        let admission = lock(&provider.breaker).admit(crate::clock::now().millis());
        // A breaker skips to a provider that works; when every one is open, skipping them all
        // would only run the message out of attempts, so the last one is tried regardless.
        let last_resort = index + 1 == route.len() && !tried;
        if admission == Admission::Skip && !last_resort {
            app.metrics.increment("orderguard_sms_provider_skipped_total", &[("provider", &provider.name)]);
            failures.push(AttemptFailure {
                provider: provider.name.clone(),
                result: "skipped",
                error: "circuit breaker open".into(),
                latency_ms: None,
                at: crate::clock::now().millis(),
            });
            continue;
        }
        if !still_ours(app, &message).await? {
            return Ok(());
        }
        tried = true;
        let started = Instant::now();
        let result = provider.gateway.send(&sms).await;
        let seconds = started.elapsed().as_secs_f64();
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
        match result {
            Ok(Submitted { provider_message_id, kept }) => {
                lock(&provider.breaker).succeeded();
                let (name, m) = (provider.name.clone(), message.clone());
                let done = crate::clock::now().millis();
                let probe = admission == Admission::Probe;
                let kept = app
                    .store
                    .write(move |conn| -> Result<Option<OutboxMessage>, ServiceError> {
                        if let Some(kept) = &kept {
                            sms_store::outbox_insert(conn, kept)?;
                        }
                        if sms_store::mark_submitted(conn, &m, &name, provider_message_id.as_deref(), done)? {
                            append_attempt_failures(conn, &m, failures)?;
                            append_sms_event(conn, &m, "sms.submitted", done, json!({
                                "message_id": m.id, "provider": name, "attempt": m.attempts, "latency_ms": latency_ms,
                                "country": m.country,
                                "provider_message_id": provider_message_id, "probe": probe,
                            }))?;
                        }
                        Ok(kept)
                    })
                    .await?;
                if let Some(kept) = &kept {
                    app.outbox_kept.kept(kept);
                }
                return Ok(());
            }
            Err(e) => {
                // A refused message says nothing against the provider's health (a probe refused
                // shows it answers); an unreachable one does.
                match e {
                    SmsError::Unavailable(_) => lock(&provider.breaker).failed(crate::clock::now().millis()),
                    SmsError::Rejected(_) if admission == Admission::Probe => lock(&provider.breaker).succeeded(),
                    SmsError::Rejected(_) => {}
                }
                failures.push(AttemptFailure {
                    provider: provider.name.clone(),
                    result: outcome,
                    error: e.to_string(),
                    latency_ms: Some(latency_ms),
                    at: crate::clock::now().millis(),
                });
            }
        }
    }
    let attempts = message.attempts;
    if attempts < app.settings.limits.sms_max_attempts {
        let backoff_ms = 1000_i64.saturating_mul(1 << attempts.clamp(1, 8));
        let m = message.clone();
        return app
            .store
            .write(move |conn| -> Result<(), ServiceError> {
                let done = crate::clock::now().millis();
                if sms_store::mark_retry(conn, &m, done + backoff_ms, done)? {
                    append_attempt_failures(conn, &m, failures)?;
                    append_sms_event(
                        conn,
                        &m,
                        "sms.failed",
                        done,
                        json!({
                            "message_id": m.id, "attempt": attempts, "final": false, "stage": "hand_off",
                            "next_attempt_in_ms": backoff_ms,
                        }),
                    )?;
                }
                Ok(())
            })
            .await;
    }
    finish_unsent(app, message, "failed", "every provider failed", failures).await
}

fn lock(breaker: &Mutex<CircuitBreaker>) -> MutexGuard<'_, CircuitBreaker> {
    breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One event per provider that failed or was skipped in this attempt, at the time it happened.
fn append_attempt_failures(
    conn: &mut dyn crate::store::Conn,
    m: &QueuedSms,
    failures: Vec<AttemptFailure>,
) -> Result<(), ServiceError> {
    for f in failures {
        let mut attrs = json!({
            "message_id": m.id, "attempt": m.attempts, "provider": f.provider, "result": f.result, "error": f.error,
        });
        if let (Some(latency_ms), Some(map)) = (f.latency_ms, attrs.as_object_mut()) {
            map.insert("latency_ms".into(), latency_ms.into());
        }
        append_sms_event(conn, m, "sms.attempt_failed", f.at, attrs)?;
    }
    Ok(())
}

/// A provider that failed or was skipped in one hand-off round.
struct AttemptFailure {
    provider: String,
    /// `rejected`, `unavailable` or `skipped`.
    result: &'static str,
    error: String,
    latency_ms: Option<i64>,
    at: i64,
}

/// A claim younger than this is still ours without asking: its lease ran for `SMS_LEASE_MS`, and
/// every provider's worst-case hand-off is checked at start to fit in the remainder.
pub const UNCHECKED_CLAIM_MS: i64 = 5_000;

/// Renews the lease before a hand-off; `false` when another sender took the message, a resend
/// superseded it, or its verification is no longer pending.
async fn still_ours(app: &Arc<App>, message: &QueuedSms) -> Result<bool, ServiceError> {
    let now = crate::clock::now().millis();
    if now - message.claimed_at < UNCHECKED_CLAIM_MS {
        return Ok(true);
    }
    let m = message.clone();
    Ok(app.store.write(move |conn| sms_store::renew(conn, &m, now, SMS_LEASE_MS)).await?)
}

/// The message will not be sent: record why; a verification still waiting for it is undeliverable.
async fn finish_unsent(
    app: &Arc<App>,
    message: QueuedSms,
    status: &'static str,
    reason: &'static str,
    failures: Vec<AttemptFailure>,
) -> Result<(), ServiceError> {
    let now = crate::clock::now();
    let brand = message.brand.clone();
    let undeliverable = app
        .store
        .write(move |conn| -> Result<bool, ServiceError> {
            if !sms_store::mark_final(conn, &message, status, now.millis())? {
                return Ok(false); // no longer ours: superseded or taken by another sender
            }
            append_attempt_failures(conn, &message, failures)?;
            let kind = if status == "expired" { "sms.expired" } else { "sms.failed" };
            append_sms_event(
                conn,
                &message,
                kind,
                now.millis(),
                json!({
                    "message_id": message.id, "attempt": message.attempts, "final": true, "reason": reason,
                }),
            )?;
            if status != "failed" {
                return Ok(false);
            }
            let Some(mut record) = verifications::find_by_id(conn, &message.verification_id)? else {
                return Ok(false);
            };
            if record.state.status != Status::Pending {
                return Ok(false);
            }
            record.state.mark_undeliverable()?;
            if !verifications::update_state(conn, &record, now)? {
                return Err(ServiceError::Conflict);
            }
            events::append(
                conn,
                &NewEvent {
                    brand: &record.brand,
                    verification_id: Some(&record.id),
                    order_id: Some(&record.order_id),
                    kind: "verification.undeliverable",
                    at: now.millis(),
                    attrs: json!({ "reason": reason }),
                },
            )?;
            Ok(true)
        })
        .await?;
    if undeliverable {
        app.metrics.increment("orderguard_verification_events_total", &[("brand", &brand), ("type", "undeliverable")]);
    }
    Ok(())
}

/// Appends an SMS event; it carries the order id so that the order's trace shows it.
fn append_sms_event(
    conn: &mut dyn crate::store::Conn,
    m: &QueuedSms,
    kind: &'static str,
    at: i64,
    attrs: serde_json::Value,
) -> Result<(), ServiceError> {
    events::append(
        conn,
        &NewEvent {
            brand: &m.brand,
            verification_id: Some(&m.verification_id),
            order_id: Some(&m.order_id),
            kind,
            at,
            attrs,
        },
    )?;
    Ok(())
}
