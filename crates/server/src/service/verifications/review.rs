//! The review queue: the orders a `review` decision held (no code sent), and an analyst's decision
//! on each — approve (the customer was verified another way), send the code, or reject. Each
//! decision carries a note, is an event and an audit entry, written in the transaction of the
//! change; the note itself stays with the verification (it may name people), not in the event log.

use std::sync::Arc;

use orderguard_domain::FieldError;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::code::{CodeHasher, OtpCode};
use orderguard_domain::event::EventKind;
use orderguard_domain::limits::LimitHit;
use orderguard_domain::money::Money;
use orderguard_domain::receipt::ApprovalMethod;
use orderguard_domain::risk::RiskReason;
use orderguard_domain::verification::{Rejection, Status, Verification};
use rand_core::OsRng;
use serde_json::json;

use super::activity::{Activity, Subjects};
use super::{change, code_sms, event, issue_receipt, refused, save};
use crate::app::App;
use crate::brand::Brand;
use crate::records::admin::{AuditAction, AuditEntry};
use crate::records::sms::QueuedSms;
use crate::records::{Event, VerificationRecord};
use crate::service::ServiceError;
use crate::service::admin::SignedIn;
use crate::store::{Conn, events};
use crate::store::{sms as sms_store, verifications as store};

/// Characters a decision's note has at most.
pub const MAX_NOTE: usize = 500;
/// Held orders the queue shows at most (the soonest to expire first).
pub const QUEUE_LENGTH: i64 = 200;

/// One rule's outcome as the `risk.assessed` event recorded it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RuleLine {
    /// The rule's reason code; kept as text, so that a rule renamed since still shows.
    pub rule: String,
    pub fired: bool,
    pub points: u32,
    pub shadow: bool,
    /// The count or age the rule compared.
    #[serde(default)]
    pub input: Option<i64>,
}

/// A held order as an analyst sees it: no personal data but the number's masked hint.
#[derive(Debug, Clone)]
pub struct HeldOrder {
    pub id: String,
    pub order_id: String,
    pub amount: Money,
    pub phone_hint: String,
    pub status: Status,
    pub created_at: Timestamp,
    /// When the hold ends undecided.
    pub expires_at: Timestamp,
    pub score: u32,
    pub reasons: Vec<RiskReason>,
    /// Every rule with the signal it read, from the risk event.
    pub rules: Vec<RuleLine>,
    pub policy_version: Option<String>,
}

impl HeldOrder {
    fn of(record: &VerificationRecord, assessed: Option<&Event>) -> Self {
        let attrs = assessed.map(|e| &e.attrs);
        let rules = attrs
            .and_then(|a| a.get("rules"))
            .and_then(|rules| serde_json::from_value::<Vec<RuleLine>>(rules.clone()).ok())
            .unwrap_or_default();
        Self {
            id: record.id.clone(),
            order_id: record.order_id.clone(),
            amount: record.amount,
            phone_hint: record.phone_hint.clone(),
            status: record.state.status,
            created_at: record.created_at,
            expires_at: record.state.expires_at,
            score: record.risk.score,
            reasons: record.risk.reasons.clone(),
            rules,
            policy_version: attrs.and_then(|a| a.get("policy_version")).and_then(|v| v.as_str()).map(str::to_owned),
        }
    }
}

/// What became of a held order.
#[derive(Debug, Clone)]
pub struct Decided {
    pub kind: EventKind,
    pub at: Timestamp,
    pub actor_role: String,
    pub note: Option<String>,
}

/// One held order, still waiting or decided.
#[derive(Debug, Clone)]
pub struct Review {
    pub order: HeldOrder,
    /// `None` while it waits (or once it expired undecided).
    pub decided: Option<Decided>,
}

/// Whoever may not decide the brand's reviews does not see the brand at all: not found, as
/// another brand's data answers everywhere.
fn authorise(viewer: &SignedIn, brand: &Brand) -> Result<(), ServiceError> {
    if viewer.access.decides_reviews(brand.slug.as_str()) { Ok(()) } else { Err(ServiceError::NotFound) }
}

/// The brand's held orders, the soonest to expire first.
pub async fn queue(
    app: &App,
    viewer: &SignedIn,
    brand: &Brand,
    now: Timestamp,
) -> Result<Vec<HeldOrder>, ServiceError> {
    authorise(viewer, brand)?;
    let slug = brand.slug.to_string();
    let (held, assessed) = app
        .store
        .read(move |conn| -> Result<_, ServiceError> {
            let held = store::held(conn, &slug, now, QUEUE_LENGTH)?;
            let ids: Vec<String> = held.iter().map(|v| v.id.clone()).collect();
            let assessed = events::of_kind_for_verifications(conn, &slug, EventKind::RiskAssessed, &ids)?;
            Ok((held, assessed))
        })
        .await?;
    Ok(held
        .iter()
        .map(|v| HeldOrder::of(v, assessed.iter().find(|e| e.verification_id.as_deref() == Some(v.id.as_str()))))
        .collect())
}

/// One held order of the brand with its risk assessment and decision; any other verification is
/// not found here.
pub async fn review(app: &App, viewer: &SignedIn, brand: &Brand, id: &str) -> Result<Review, ServiceError> {
    authorise(viewer, brand)?;
    let (slug, lookup) = (brand.slug.to_string(), id.to_owned());
    let (record, events, note) = app
        .store
        .read(move |conn| -> Result<_, ServiceError> {
            let record = store::find(conn, &slug, &lookup)?.ok_or(ServiceError::NotFound)?;
            let events = events::for_verification(conn, &slug, &lookup)?;
            Ok((record, events, store::review_note(conn, &slug, &lookup)?))
        })
        .await?;
    if !events.iter().any(|e| e.kind == EventKind::VerificationHeld) {
        return Err(ServiceError::NotFound);
    }
    let assessed = events.iter().find(|e| e.kind == EventKind::RiskAssessed);
    let decided = events.iter().find(|e| Decision::ALL.iter().any(|d| d.event() == e.kind)).map(|e| Decided {
        kind: e.kind,
        at: Timestamp(e.at),
        actor_role: e.attrs.get("actor_role").and_then(|r| r.as_str()).unwrap_or_default().to_owned(),
        note: note.clone(),
    });
    Ok(Review { order: HeldOrder::of(&record, assessed), decided })
}

/// An analyst's decision on a held order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The customer was verified another way: approved, with a receipt that says so.
    Approve,
    /// The code goes out after all: the verification waits for it.
    Send,
    /// Blocked.
    Reject,
}

impl Decision {
    pub const ALL: [Decision; 3] = [Self::Approve, Self::Send, Self::Reject];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Send => "send",
            Self::Reject => "reject",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == value)
    }

    fn event(self) -> EventKind {
        match self {
            Self::Approve => EventKind::ReviewApproved,
            Self::Send => EventKind::ReviewReleased,
            Self::Reject => EventKind::ReviewRejected,
        }
    }

    fn audit(self) -> AuditAction {
        match self {
            Self::Approve => AuditAction::ReviewApprove,
            Self::Send => AuditAction::ReviewSend,
            Self::Reject => AuditAction::ReviewReject,
        }
    }
}

/// The note of a decision: required, at most `MAX_NOTE` characters.
fn checked_note(note: &str) -> Result<String, ServiceError> {
    let note = note.trim();
    if note.is_empty() {
        return Err(FieldError::new("note", "is required: say why, and how the customer was verified").into());
    }
    if note.chars().count() > MAX_NOTE {
        return Err(FieldError::new("note", format!("must be at most {MAX_NOTE} characters")).into());
    }
    Ok(note.to_owned())
}

/// What a decision did inside its transaction (with the verification as it is then).
enum Outcome {
    /// Decided; the code's SMS when it was sent.
    Decided(Option<QueuedSms>),
    /// Sending the code would break a hard limit of the number or customer: nothing changed.
    Limited(LimitHit),
}

/// Decides a held order of `brand`. An order already decided or expired is refused
/// (`ServiceError::Refused`), as is a code the number's limits do not allow now.
pub async fn decide(
    app: &Arc<App>,
    viewer: &SignedIn,
    brand: &Arc<Brand>,
    id: &str,
    decision: Decision,
    note: &str,
    now: Timestamp,
) -> Result<VerificationRecord, ServiceError> {
    authorise(viewer, brand)?;
    let note = checked_note(note)?;
    let hasher = app.secrets.code_hasher().clone();
    let (app_inside, brand_inside, viewer) = (app.clone(), brand.clone(), viewer.clone());
    let outcome = change(app, &brand.slug, id, now, move |conn, record| {
        let message = match decision {
            Decision::Approve => {
                record.state.approve_after_review(now).map_err(refused(record))?;
                issue_receipt(&app_inside, record, ApprovalMethod::ManualReview, now)?;
                None
            }
            Decision::Reject => {
                record.state.reject_after_review(now).map_err(refused(record))?;
                None
            }
            Decision::Send => {
                let mut next = record.state.clone();
                next.release(now).map_err(refused(record))?;
                match release(conn, &app_inside, &brand_inside, &hasher, record, next, now)? {
                    Released::Sent(message) => Some(message),
                    Released::Limited(hit) => return Ok((record.clone(), Outcome::Limited(hit))),
                }
            }
        };
        save(conn, record, now)?;
        store::set_review_note(conn, &record.id, &note)?;
        let actor_role = viewer.access.role.as_str();
        let (amount, currency) = (record.amount.minor, record.amount.currency.code());
        let attrs = match &message {
            Some(message) => {
                sms_store::enqueue_claimed(conn, message, crate::sms::queue::LEASE_MS)?;
                json!({ "actor_role": actor_role, "with_note": true, "message_id": message.id,
                    "amount": amount, "currency": currency })
            }
            None => json!({ "actor_role": actor_role, "with_note": true, "amount": amount, "currency": currency }),
        };
        events::append(conn, &event(record, decision.event(), now, attrs))?;
        let entry = AuditEntry {
            at: now,
            username: viewer.username.clone(),
            role: viewer.access.role,
            action: decision.audit(),
            brand: Some(record.brand.to_string()),
            subject: record.order_id.clone(),
        };
        crate::store::admin::audit(conn, app_inside.secrets.audit_chain(), &entry)?;
        Ok((record.clone(), Outcome::Decided(message)))
    })
    .await?;
    let slug = brand.slug.as_str();
    match outcome {
        (record, Outcome::Limited(hit)) => {
            let labels = [("action", "review_send"), ("brand", slug), ("limit", hit.reason.as_str())];
            app.metrics.increment("orderguard_limit_refusals_total", &labels);
            let rejection =
                Rejection::Limited { reason: hit.reason, retry_after_seconds: hit.retry_after_seconds(now) };
            Err(ServiceError::Refused { rejection, record: Box::new(record) })
        }
        (record, Outcome::Decided(message)) => {
            let kind = decision.event().as_str().replace('.', "_");
            app.metrics.increment("orderguard_verification_events_total", &[("brand", slug), ("type", &kind)]);
            if let Some(message) = message {
                app.sms_queue.send(message);
            }
            Ok(record)
        }
    }
}

enum Released {
    Sent(QueuedSms),
    Limited(LimitHit),
}

/// Lets the code of a held order go out (the record takes the state `next`), within the number's
/// and customer's hard limits as a resend is: counts the SMS in the number's activity, makes the
/// code and its SMS. Nothing changes when a limit refuses.
fn release(
    conn: &mut dyn Conn,
    app: &App,
    brand: &Brand,
    hasher: &CodeHasher,
    record: &mut VerificationRecord,
    next: Verification,
    now: Timestamp,
) -> Result<Released, ServiceError> {
    let mut activity = Activity::lock(conn, Subjects::of_stored(&app.secrets, record), now)?;
    let limits = &brand.limits;
    let hit = limits
        .code_lock(record.brand.as_str(), &activity.customer, &activity.number, now)
        .or_else(|| limits.sms_refused(&activity.number, now));
    if let Some(hit) = hit {
        return Ok(Released::Limited(hit));
    }
    record.state = next;
    let exempt = activity.exempt_from_burst(&brand.policy, record.phone_region.as_deref(), now);
    activity.record_sent(exempt, now);
    activity.save(conn, now)?;
    let code = OtpCode::generate(brand.policy.code_length, &mut OsRng);
    record.code_hash = hasher.hash(&record.id, &code).to_vec();
    Ok(Released::Sent(code_sms(app, brand, record, &code, now)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_required_and_bounded() {
        assert!(checked_note("  ").is_err());
        assert_eq!(
            checked_note(" called back on the known number ").ok().as_deref(),
            Some("called back on the known number")
        );
        assert!(checked_note(&"ä".repeat(MAX_NOTE)).is_ok(), "characters, not bytes");
        assert!(checked_note(&"a".repeat(MAX_NOTE + 1)).is_err());
    }

    #[test]
    fn decisions_round_trip() {
        for decision in Decision::ALL {
            assert_eq!(Decision::parse(decision.as_str()), Some(decision));
        }
        assert_eq!(Decision::parse("maybe"), None);
    }
}
