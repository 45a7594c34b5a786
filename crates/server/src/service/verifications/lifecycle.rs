//! What happens to a verification after it is created: codes checked, resent, canceled, expired,
//! or found undeliverable.

use std::sync::Arc;

use orderguard_domain::FieldError;
use orderguard_domain::activity::DAY_MS;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::code::OtpCode;
use orderguard_domain::event::EventKind;
use orderguard_domain::limits::LimitHit;
use orderguard_domain::policy::{Policy, RelayAction, ReviewAction};
use orderguard_domain::receipt::ApprovalMethod;
use orderguard_domain::risk::{Decision, RiskReason};
use orderguard_domain::swap::{self, SwapPolicy};
use orderguard_domain::verification::{CheckOutcome, Rejection, Status};
use rand_core::OsRng;
use serde_json::json;

use super::activity::{Activity, Subjects};
use super::network::{self, CheckedOn, NetworkCheck};
use super::{change, code_sms, event, expire, issue_receipt, refused, save};
use crate::app::App;
use crate::brand::Brand;
use crate::records::VerificationRecord;
use crate::records::sms::QueuedSms;
use crate::service::ServiceError;
use crate::store::Conn;
use crate::store::events;
use crate::store::sms as sms_store;
use crate::store::verifications as store;

pub enum CheckResult {
    Approved {
        record: VerificationRecord,
        receipt: String,
    },
    /// The right code, typed from elsewhere than the order: held for an analyst (`relay_action = "review"`).
    Held {
        record: VerificationRecord,
    },
    Wrong {
        record: VerificationRecord,
        attempts_remaining: u32,
    },
    Failed {
        record: VerificationRecord,
    },
}

/// Where the code was typed: the client of the check (the shop's customer, or the hosted page's
/// visitor), compared with the order's to tell a code relayed by a phisher.
#[derive(Debug, Clone, Default)]
pub struct TypedFrom {
    pub ip: Option<std::net::IpAddr>,
    pub device_id: Option<String>,
}

/// The ways the code's client differs from the order's (only where both are known).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
struct Relay {
    network_differs: bool,
    device_differs: bool,
}

impl Relay {
    fn of(app: &App, record: &VerificationRecord, typed_from: &TypedFrom) -> Self {
        let network_differs = match (&record.client_ip, typed_from.ip) {
            (Some(order), Some(typed)) => *order != super::truncate_ip(typed),
            _ => false,
        };
        let device_differs = match (&record.device_ref, &typed_from.device_id) {
            (Some(order), Some(typed)) => !app.secrets.references("device", typed).contains(order),
            _ => false,
        };
        Self { network_differs, device_differs }
    }

    fn suspected(self) -> bool {
        self.network_differs || self.device_differs
    }
}

/// What a check did inside its transaction: judged the code, or was refused by a lock (which is
/// recorded, so it cannot be an error that rolls the transaction back).
enum Checked {
    Judged { outcome: CheckOutcome, record: VerificationRecord, locks: Vec<&'static str>, held: bool },
    Locked { hit: LimitHit, record: VerificationRecord },
}

/// A code or resend refused unjudged by a hard limit: recorded as `check.refused`.
fn record_refusal(
    conn: &mut dyn Conn,
    record: &VerificationRecord,
    hit: LimitHit,
    action: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let attrs = json!({
        "reason": hit.reason, "retry_after_seconds": hit.retry_after_seconds(now), "action": action,
    });
    events::append(conn, &event(record, EventKind::CheckRefused, now, attrs))?;
    Ok(())
}

fn limited(hit: LimitHit, record: VerificationRecord, now: Timestamp) -> ServiceError {
    let rejection = Rejection::Limited { reason: hit.reason, retry_after_seconds: hit.retry_after_seconds(now) };
    ServiceError::Refused { rejection, record: Box::new(record) }
}

/// Counts a judged code in the customer's and the number's activity; names each lock it engages.
fn count_check(
    activity: &mut Activity,
    record: &VerificationRecord,
    policy: &Policy,
    limit: u32,
    outcome: CheckOutcome,
    now: Timestamp,
) -> Vec<&'static str> {
    let brand = record.brand.as_str();
    if outcome == CheckOutcome::Approved {
        // The range counted this number's code only if it was not exempt.
        if !activity.exempt_from_burst(policy, record.phone_region.as_deref(), now) {
            activity.range.record_approved(now);
        }
        activity.number.last_approved_at = Some(now.millis());
        if let Some(device) = &record.device_ref {
            activity.customer.devices.record(device, now);
        }
        if let Some(country) = &record.shipping_country {
            activity.customer.shipping_countries.record(country, now);
        }
        return Vec::new();
    }
    let mut locks = Vec::new();
    let by_number = activity.number.wrong_codes.entry(brand.to_owned()).or_default();
    for (subject, wrong) in [("customer", &mut activity.customer.wrong_codes), ("number", by_number)] {
        wrong.times.record(now);
        if wrong.count(now, DAY_MS) == limit {
            locks.push(subject);
        }
    }
    locks
}

pub async fn check(
    app: &Arc<App>,
    brand: &Arc<Brand>,
    id: &str,
    code: &str,
    typed_from: TypedFrom,
    now: Timestamp,
) -> Result<CheckResult, ServiceError> {
    let code = OtpCode::parse(code)?;
    let hasher = app.secrets.code_hasher().clone();
    let (app_for_receipt, limits) = (app.clone(), brand.limits);
    let policy = brand.policy.clone();
    let checked = change(app, &brand.slug, id, now, move |conn, record| {
        record.state.ensure_open(now).map_err(refused(record))?;
        // Locked before the code is judged: parallel checks of one customer's verifications queue here.
        let mut activity = Activity::lock(conn, Subjects::of_stored(&app_for_receipt.secrets, record), now)?;
        let slug = record.brand.as_str();
        if let Some(hit) = limits.code_lock(slug, &activity.customer, &activity.number, now) {
            record_refusal(conn, record, hit, "check", now)?;
            return Ok(Checked::Locked { hit, record: record.clone() });
        }
        let matches = hasher.matches(&record.id, &code, &record.code_hash);
        let outcome = record.state.check(matches, now).map_err(refused(record))?;
        let relay = Relay::of(&app_for_receipt, record, &typed_from);
        let mut held = false;
        if outcome == CheckOutcome::Approved {
            let noted = record.risk.reasons.contains(&RiskReason::RelaySuspected);
            if relay.suspected() && policy.relay_action != RelayAction::Accept && !noted {
                record.risk.reasons.push(RiskReason::RelaySuspected);
            }
            if relay.suspected() && policy.relay_action == RelayAction::Review {
                record.risk.decision = Decision::Review;
                record.state.hold(now, policy.review_hold_seconds);
                held = true;
            } else {
                issue_receipt(&app_for_receipt, record, ApprovalMethod::Sms, now)?;
            }
        }
        // A held approval is no approval yet: the number earns no exemption from it.
        let locks = if held {
            Vec::new()
        } else {
            count_check(&mut activity, record, &policy, limits.wrong_codes_day, outcome, now)
        };
        activity.save(conn, now)?;
        save(conn, record, now)?;
        let attempt = record.state.attempts;
        match outcome {
            CheckOutcome::Approved if held => {
                let attrs = json!({
                    "reasons": [RiskReason::RelaySuspected], "relay": relay,
                    "expires_at": crate::clock::rfc3339(record.state.expires_at.millis()),
                });
                events::append(conn, &event(record, EventKind::VerificationHeld, now, attrs))?;
            }
            CheckOutcome::Approved => {
                let since_sent = (now.millis() - record.state.last_sent_at.millis()) / 1000;
                let attrs = json!({
                    "attempts": attempt, "resends": record.state.resends, "seconds_since_sent": since_sent,
                    "relay": relay, "phone_region": record.phone_region,
                });
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
        for subject in &locks {
            let until = crate::clock::rfc3339(now.millis() + DAY_MS);
            let attrs = json!({ "subject": subject, "wrong_codes": limits.wrong_codes_day, "until": until });
            events::append(conn, &event(record, EventKind::LockEngaged, now, attrs))?;
        }
        Ok(Checked::Judged { outcome, record: record.clone(), locks, held })
    })
    .await?;
    let slug = brand.slug.as_str();
    let (outcome, record) = match checked {
        Checked::Locked { hit, record } => {
            let labels = [("action", "check"), ("brand", slug), ("limit", hit.reason.as_str())];
            app.metrics.increment("orderguard_limit_refusals_total", &labels);
            return Err(limited(hit, record, now));
        }
        Checked::Judged { record, held: true, .. } => {
            app.metrics.increment("orderguard_verification_events_total", &[("brand", slug), ("type", "held")]);
            return Ok(CheckResult::Held { record });
        }
        Checked::Judged { outcome, record, locks, .. } => {
            for subject in locks {
                app.metrics.increment("orderguard_lockouts_total", &[("brand", slug), ("subject", subject)]);
            }
            (outcome, record)
        }
    };
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
            let receipt = record.receipt.clone().ok_or(ServiceError::Internal("the approval has no receipt"))?;
            CheckResult::Approved { record, receipt }
        }
        CheckOutcome::WrongCode { attempts_remaining } => CheckResult::Wrong { record, attempts_remaining },
        CheckOutcome::Failed => CheckResult::Failed { record },
    })
}

/// What a resend did inside its transaction.
enum Resent {
    Sent {
        record: VerificationRecord,
        message: QueuedSms,
    },
    Limited {
        hit: LimitHit,
        record: VerificationRecord,
    },
    /// A network check found the number taken over: blocked or held, no code sent; the reasons
    /// it added.
    Stopped {
        record: VerificationRecord,
        reasons: Vec<RiskReason>,
    },
}

/// The network checks a resend runs: those whose last run is older than their policy allows,
/// asked only for a resend the verification's own rules would take.
async fn recheck_network(
    app: &Arc<App>,
    brand: &Arc<Brand>,
    id: &str,
    now: Timestamp,
) -> Result<Vec<NetworkCheck>, ServiceError> {
    if brand.policy.swap_checks.is_empty() {
        return Ok(Vec::new());
    }
    let record = super::get(app, &brand.slug, id).await?;
    let checked_at = record.network_checked_at.map_or(i64::MIN, Timestamp::millis);
    let due = |policy: &SwapPolicy| now.millis().saturating_sub(checked_at) >= policy.recheck_after_seconds * 1000;
    if !brand.policy.swap_checks.iter().any(due) || record.state.clone().resend(now).is_err() {
        return Ok(Vec::new());
    }
    let Some(phone) = record.phone_enc.as_deref().and_then(|enc| app.secrets.decrypt_string(enc).ok()) else {
        return Ok(Vec::new());
    };
    Ok(network::run(app, brand, &phone, &record.id, due, now).await)
}

/// Applies what the network said before a resend: only findings whose reason the verification
/// does not carry yet count (a swap judged at creation adds no points twice); a stricter decision
/// blocks or holds the verification. Gives the new reasons when no code may go out.
fn apply_network(
    conn: &mut dyn Conn,
    record: &mut VerificationRecord,
    checks: &[NetworkCheck],
    policy: &Policy,
    now: Timestamp,
) -> Result<Option<Vec<RiskReason>>, ServiceError> {
    if checks.is_empty() {
        return Ok(None);
    }
    if network::answered(checks) {
        record.network_checked_at = Some(now);
    }
    for check in checks {
        let attrs = network::event_attrs(check, CheckedOn::Resend);
        events::append(conn, &event(record, EventKind::NetworkChecked, now, attrs))?;
    }
    let new: Vec<_> = checks
        .iter()
        .map(|c| c.finding.clone())
        .filter(|f| f.reason().is_some_and(|r| !record.risk.reasons.contains(&r)))
        .collect();
    let before = record.risk.clone();
    swap::apply(&mut record.risk, &new, policy.review_score, policy.deny_score);
    let added: Vec<RiskReason> = record.risk.reasons.iter().filter(|r| !before.reasons.contains(r)).copied().collect();
    let reviews = new.iter().any(|f| !f.shadow && f.action == Some(swap::FindingAction::Review));
    match record.risk.decision {
        Decision::Deny if before.decision != Decision::Deny => {
            record.state.block(now).map_err(refused(record))?;
            let attrs = json!({ "reasons": record.risk.reasons, "amount": record.amount.minor,
                "currency": record.amount.currency.code() });
            events::append(conn, &event(record, EventKind::VerificationBlocked, now, attrs))?;
        }
        // A new swap worth a review holds, whatever the brand's review action (see `create`).
        Decision::Review
            if reviews || (before.decision == Decision::Allow && policy.review_action == ReviewAction::Hold) =>
        {
            record.state.ensure_open(now).map_err(refused(record))?;
            record.state.hold(now, policy.review_hold_seconds);
            let attrs = json!({
                "reasons": record.risk.reasons, "expires_at": crate::clock::rfc3339(record.state.expires_at.millis()),
            });
            events::append(conn, &event(record, EventKind::VerificationHeld, now, attrs))?;
        }
        _ => return Ok(None),
    }
    // The code sent before stops working with the hold or block: its SMS must not go out now.
    sms_store::supersede_unsent(conn, &record.id, now.millis())?;
    save(conn, record, now)?;
    Ok(Some(added))
}

pub async fn resend(
    app: &Arc<App>,
    brand: &Arc<Brand>,
    id: &str,
    now: Timestamp,
) -> Result<VerificationRecord, ServiceError> {
    let network = recheck_network(app, brand, id, now).await?;
    let hasher = app.secrets.code_hasher().clone();
    let (app_for_text, brand_for_text) = (app.clone(), brand.clone());
    let resent = change(app, &brand.slug, id, now, move |conn, record| {
        // The resend's own rules first (pending, cooldown, resends left), then the number's limits.
        let mut next = record.state.clone();
        next.resend(now).map_err(refused(record))?;
        if let Some(reasons) = apply_network(conn, record, &network, &brand_for_text.policy, now)? {
            return Ok(Resent::Stopped { record: record.clone(), reasons });
        }
        let mut activity = Activity::lock(conn, Subjects::of_stored(&app_for_text.secrets, record), now)?;
        let limits = &brand_for_text.limits;
        let slug = record.brand.as_str();
        let hit = limits
            .code_lock(slug, &activity.customer, &activity.number, now)
            .or_else(|| limits.sms_refused(&activity.number, now));
        if let Some(hit) = hit {
            // A recheck is kept even when the limit refuses the resend.
            if !network.is_empty() {
                save(conn, record, now)?;
            }
            record_refusal(conn, record, hit, "resend", now)?;
            return Ok(Resent::Limited { hit, record: record.clone() });
        }
        record.state = next;
        let policy = &brand_for_text.policy;
        let exempt = activity.exempt_from_burst(policy, record.phone_region.as_deref(), now);
        activity.record_sent(exempt, now);
        activity.save(conn, now)?;
        let code = OtpCode::generate(brand_for_text.policy.code_length, &mut OsRng);
        record.code_hash = hasher.hash(&record.id, &code).to_vec();
        let message = code_sms(&app_for_text, &brand_for_text, record, &code, now)?;
        save(conn, record, now)?;
        // The earlier code stops working: its SMS must not go out any more.
        sms_store::supersede_unsent(conn, &record.id, now.millis())?;
        sms_store::enqueue_claimed(conn, &message, crate::sms::queue::LEASE_MS)?;
        let attrs = json!({ "resend": record.state.resends, "message_id": message.id });
        events::append(conn, &event(record, EventKind::VerificationResent, now, attrs))?;
        Ok(Resent::Sent { record: record.clone(), message })
    })
    .await?;
    let slug = brand.slug.as_str();
    match resent {
        Resent::Limited { hit, record } => {
            let labels = [("action", "resend"), ("brand", slug), ("limit", hit.reason.as_str())];
            app.metrics.increment("orderguard_limit_refusals_total", &labels);
            Err(limited(hit, record, now))
        }
        Resent::Stopped { record, reasons } => {
            let kind = if record.state.status == Status::Blocked { "blocked" } else { "held" };
            app.metrics.increment("orderguard_verification_events_total", &[("brand", slug), ("type", kind)]);
            for reason in &reasons {
                app.metrics.increment("orderguard_risk_reasons_total", &[("brand", slug), ("reason", reason.as_str())]);
            }
            Ok(record)
        }
        Resent::Sent { record, message } => {
            app.metrics.increment("orderguard_verification_events_total", &[("brand", slug), ("type", "resent")]);
            app.sms_queue.send(message);
            Ok(record)
        }
    }
}

pub const MAX_CANCEL_REASON: usize = 500;

pub async fn cancel(
    app: &Arc<App>,
    brand: &Arc<Brand>,
    id: &str,
    reason: Option<String>,
    now: Timestamp,
) -> Result<VerificationRecord, ServiceError> {
    if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_CANCEL_REASON) {
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

/// Forgets a batch of risk activity that nothing counts any more; returns how many rows. A
/// number's row keeps its last approval (the burst rule's exemption) for 90 days; every other
/// count looks back at most over the range's 7-day baseline.
pub async fn forget_idle_activity(app: &Arc<App>, now: Timestamp) -> Result<u64, ServiceError> {
    use orderguard_domain::activity::{BASELINE_HOURS, BURST_EXEMPT_MS, HOUR_MS};
    let numbers_before = Timestamp(now.millis() - BURST_EXEMPT_MS - DAY_MS);
    let others_before = Timestamp(now.millis() - (BASELINE_HOURS + 24) * HOUR_MS);
    let forgotten = app
        .store
        .write(move |conn| -> Result<u64, ServiceError> {
            let mut n = crate::store::risk_activity::delete_idle(conn, "n:", numbers_before, 1000)?;
            for prefix in ["c:", "r:", "i:", "d:", "b:"] {
                n += crate::store::risk_activity::delete_idle(conn, prefix, others_before, 1000)?;
            }
            Ok(n)
        })
        .await?;
    Ok(forgotten)
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
