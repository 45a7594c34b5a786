//! What happens to a verification after it is created: codes checked, resent, canceled, expired,
//! or found undeliverable.

use std::sync::Arc;

use orderguard_domain::FieldError;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::code::OtpCode;
use orderguard_domain::event::EventKind;
use orderguard_domain::verification::{CheckOutcome, Status};
use rand_core::OsRng;
use serde_json::json;

use super::{change, code_sms, event, expire, refused, save};
use crate::app::App;
use crate::brand::Brand;
use crate::records::VerificationRecord;
use crate::service::ServiceError;
use crate::store::Conn;
use crate::store::events;
use crate::store::sms as sms_store;
use crate::store::verifications as store;

pub enum CheckResult {
    Approved { record: VerificationRecord, receipt: String },
    Wrong { record: VerificationRecord, attempts_remaining: u32 },
    Failed { record: VerificationRecord },
}

pub async fn check(
    app: &Arc<App>,
    brand: &Arc<Brand>,
    id: &str,
    code: &str,
    now: Timestamp,
) -> Result<CheckResult, ServiceError> {
    let code = OtpCode::parse(code)?;
    let hasher = app.secrets.code_hasher().clone();
    let (outcome, record) = change(app, &brand.slug, id, now, move |conn, record| {
        let matches = hasher.matches(&record.id, &code, &record.code_hash);
        let outcome = record.state.check(matches, now).map_err(refused(record))?;
        save(conn, record, now)?;
        let attempt = record.state.attempts;
        match outcome {
            CheckOutcome::Approved => {
                let since_sent = (now.millis() - record.state.last_sent_at.millis()) / 1000;
                let attrs =
                    json!({ "attempts": attempt, "resends": record.state.resends, "seconds_since_sent": since_sent });
                events::append(conn, &event(record, EventKind::VerificationApproved, now, attrs))?;
            }
            CheckOutcome::WrongCode { .. } => {
                events::append(conn, &event(record, EventKind::CheckFailed, now, json!({ "attempt": attempt })))?;
            }
            CheckOutcome::Failed => {
                events::append(conn, &event(record, EventKind::CheckFailed, now, json!({ "attempt": attempt })))?;
                let attrs = json!({
                    "attempts": attempt, "risk": record.risk.decision,
                    "amount": record.amount.minor, "currency": record.amount.currency.code(),
                });
                events::append(conn, &event(record, EventKind::VerificationFailed, now, attrs))?;
            }
        }
        Ok((outcome, record.clone()))
    })
    .await?;
    let slug = brand.slug.as_str();
    let kind = match outcome {
        CheckOutcome::Approved => "approved",
        CheckOutcome::WrongCode { .. } => "check_failed",
        CheckOutcome::Failed => "failed",
    };
    app.metrics.increment("orderguard_verification_events_total", &[("brand", slug), ("type", kind)]);
    Ok(match outcome {
        CheckOutcome::Approved => {
            let attempt = record.state.attempts.to_string();
            app.metrics.increment("orderguard_approvals_by_attempt_total", &[("brand", slug), ("attempt", &attempt)]);
            let since_sent = now.millis() - record.state.last_sent_at.millis();
            app.metrics.observe("orderguard_time_to_approve_seconds", &[("brand", slug)], since_sent as f64 / 1000.0);
            let receipt = super::receipt(app, &record, now)
                .ok_or(ServiceError::Internal("the approved verification's receipt could not be signed"))?;
            CheckResult::Approved { record, receipt }
        }
        CheckOutcome::WrongCode { attempts_remaining } => CheckResult::Wrong { record, attempts_remaining },
        CheckOutcome::Failed => CheckResult::Failed { record },
    })
}

pub async fn resend(
    app: &Arc<App>,
    brand: &Arc<Brand>,
    id: &str,
    now: Timestamp,
) -> Result<VerificationRecord, ServiceError> {
    let hasher = app.secrets.code_hasher().clone();
    let (app_for_text, brand_for_text) = (app.clone(), brand.clone());
    let (record, sms) = change(app, &brand.slug, id, now, move |conn, record| {
        record.state.resend(now).map_err(refused(record))?;
        let code = OtpCode::generate(brand_for_text.policy.code_length, &mut OsRng);
        record.code_hash = hasher.hash(&record.id, &code).to_vec();
        let message = code_sms(&app_for_text, &brand_for_text, record, &code, now)?;
        save(conn, record, now)?;
        // The earlier code stops working: its SMS must not go out any more.
        sms_store::supersede_unsent(conn, &record.id, now.millis())?;
        sms_store::enqueue_claimed(conn, &message, crate::sms::queue::LEASE_MS)?;
        let attrs = json!({ "resend": record.state.resends, "message_id": message.id });
        events::append(conn, &event(record, EventKind::VerificationResent, now, attrs))?;
        Ok((record.clone(), message))
    })
    .await?;
    app.metrics
        .increment("orderguard_verification_events_total", &[("brand", brand.slug.as_str()), ("type", "resent")]);
    app.sms_queue.send(sms);
    Ok(record)
}

pub const MAX_CANCEL_REASON: usize = 500;

pub async fn cancel(
    app: &Arc<App>,
    brand: &Arc<Brand>,
    id: &str,
    reason: Option<String>,
    now: Timestamp,
) -> Result<VerificationRecord, ServiceError> {
    if reason.as_ref().is_some_and(|r| r.len() > MAX_CANCEL_REASON) {
        return Err(FieldError::new("reason", format!("must be at most {MAX_CANCEL_REASON} characters")).into());
    }
    let record = change(app, &brand.slug, id, now, move |conn, record| {
        record.state.cancel(now).map_err(refused(record))?;
        record.cancel_reason = reason.clone();
        save(conn, record, now)?;
        // The free-text reason may name people: it stays with the verification (erasable), not in
        // the permanent event log.
        let attrs = json!({ "with_reason": reason.is_some() });
        events::append(conn, &event(record, EventKind::VerificationCanceled, now, attrs))?;
        Ok(record.clone())
    })
    .await?;
    app.metrics
        .increment("orderguard_verification_events_total", &[("brand", brand.slug.as_str()), ("type", "canceled")]);
    Ok(record)
}

/// Verifications one sweep expires at most.
pub const SWEEP_BATCH: usize = 500;

/// Expires pending verifications whose time is up (at most `SWEEP_BATCH`); returns how many.
pub async fn sweep_expired(app: &Arc<App>, now: Timestamp) -> Result<usize, ServiceError> {
    let expired = app
        .store
        .write(move |conn| -> Result<Vec<String>, ServiceError> {
            let mut brands = Vec::new();
            for mut record in store::due_for_expiry(conn, now, SWEEP_BATCH as i64)? {
                match expire(conn, &mut record, now) {
                    Ok(()) => brands.push(record.brand.to_string()),
                    // A check or another instance changed it meanwhile: the next sweep looks again.
                    Err(ServiceError::Conflict) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(brands)
        })
        .await?;
    for brand in &expired {
        app.metrics.increment("orderguard_verification_events_total", &[("brand", brand), ("type", "expired")]);
    }
    Ok(expired.len())
}

/// No provider could send the code of verification `id`: if it still waits for it, it is
/// undeliverable. Runs in the transaction that gives its SMS up; `true` when it changed.
pub fn mark_undeliverable(conn: &mut dyn Conn, id: &str, reason: &str, now: Timestamp) -> Result<bool, ServiceError> {
    let Some(mut record) = store::find_by_id(conn, id)? else { return Ok(false) };
    if record.state.status != Status::Pending {
        return Ok(false);
    }
    record.state.mark_undeliverable().map_err(refused(&record))?;
    save(conn, &mut record, now)?;
    let attrs = json!({ "reason": reason });
    events::append(conn, &event(&record, EventKind::VerificationUndeliverable, now, attrs))?;
    Ok(true)
}
