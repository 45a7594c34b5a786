//! The views of one order or one customer's number that show personal data: each is audited, and
//! numbers are masked for the roles that see no personal data.

use orderguard_domain::clock::Timestamp;
use orderguard_domain::event::EventKind;
use orderguard_domain::money::Money;
use orderguard_domain::phone::E164;
use orderguard_domain::verification::Status;

use super::ServiceError;
use super::admin::SignedIn;
use super::audit;
use crate::app::App;
use crate::brand::Brand;
use crate::records::Event;
use crate::records::admin::{AuditAction, FoundVerification};
use crate::store::admin as store;

/// One verification of a traced order.
pub struct TracedLine {
    pub id: String,
    pub status: Status,
    /// The full number for roles that see personal data, else its hint.
    pub number: String,
    pub amount: Money,
    pub started: Timestamp,
}

pub struct OrderTrace {
    pub verifications: Vec<TracedLine>,
    /// Every event of the order, its verifications' included, in time order.
    pub events: Vec<TracedEvent>,
}

/// An event of the trace, with what it explains read from its attributes.
pub struct TracedEvent {
    pub event: Event,
    pub step: Step,
}

/// What the trace explains of an event beyond its raw attributes (`EventKind` documents them).
/// Attributes an older version did not write are left empty, and an event that does not read as
/// its kind documents is shown raw (`Other`).
pub enum Step {
    Risk(RiskDecision),
    Held(Held),
    Blocked(Blocked),
    Refused(Refused),
    LockEngaged(LockEngaged),
    RangeBurst(RangeBurst),
    Other,
}

/// `risk.assessed`: the decision and every rule's outcome.
#[derive(serde::Deserialize)]
pub struct RiskDecision {
    pub decision: String,
    pub score: i64,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub shadow_reasons: Vec<String>,
    #[serde(default)]
    pub rules: Vec<RuleOutcome>,
    pub policy_version: Option<String>,
}

/// One rule of a decision: fired or not, its points, shadow or live, the count or age it compared.
#[derive(serde::Deserialize)]
pub struct RuleOutcome {
    pub rule: String,
    pub fired: bool,
    pub points: i64,
    pub shadow: bool,
    pub input: Option<i64>,
}

/// `verification.held`.
#[derive(serde::Deserialize)]
pub struct Held {
    #[serde(default)]
    pub reasons: Vec<String>,
    pub expires_at: Option<String>,
}

/// `verification.blocked`.
#[derive(serde::Deserialize)]
pub struct Blocked {
    #[serde(default)]
    pub reasons: Vec<String>,
    pub retry_after_seconds: Option<i64>,
}

/// `check.refused`.
#[derive(serde::Deserialize)]
pub struct Refused {
    pub action: String,
    pub reason: String,
    pub retry_after_seconds: Option<i64>,
}

/// `risk.lock_engaged`.
#[derive(serde::Deserialize)]
pub struct LockEngaged {
    pub subject: String,
    pub wrong_codes: Option<i64>,
    pub until: Option<String>,
}

/// `risk.range_burst`.
#[derive(serde::Deserialize)]
pub struct RangeBurst {
    pub range_digits: Option<i64>,
    pub unconfirmed: Option<i64>,
    pub usual_rate: Option<f64>,
    pub until: Option<String>,
}

impl Step {
    pub fn of(event: &Event) -> Self {
        fn read<T: serde::de::DeserializeOwned>(attrs: &serde_json::Value, step: fn(T) -> Step) -> Step {
            serde_json::from_value(attrs.clone()).map_or(Step::Other, step)
        }
        let attrs = &event.attrs;
        match event.kind {
            EventKind::RiskAssessed => read(attrs, Step::Risk),
            EventKind::VerificationHeld => read(attrs, Step::Held),
            EventKind::VerificationBlocked => read(attrs, Step::Blocked),
            EventKind::CheckRefused => read(attrs, Step::Refused),
            EventKind::LockEngaged => read(attrs, Step::LockEngaged),
            EventKind::RangeBurst => read(attrs, Step::RangeBurst),
            _ => Step::Other,
        }
    }
}

/// Everything recorded about one order of the brand.
pub async fn order_trace(
    app: &App,
    viewer: &SignedIn,
    brand: &Brand,
    order_id: &str,
    now: Timestamp,
) -> Result<OrderTrace, ServiceError> {
    let (slug, lookup) = (brand.slug.to_string(), order_id.to_owned());
    let (verifications, events) = app.store.read(move |conn| store::order_trace(conn, &slug, &lookup)).await?;
    audit::record(app, viewer, AuditAction::OrderTrace, Some(brand.slug.as_str()), order_id, now).await?;
    let masked = viewer.access.role.masks_personal_data();
    let verifications = verifications
        .into_iter()
        .map(|v| {
            // Decrypted for this view only.
            let number = match (&v.phone_enc, masked) {
                (Some(enc), false) => app.secrets.decrypt_string(enc).unwrap_or_else(|_| v.phone_hint.clone()),
                (None, false) => format!("{} (erased)", v.phone_hint),
                (_, true) => v.phone_hint.clone(),
            };
            TracedLine { id: v.id, status: v.status, number, amount: v.amount, started: v.created_at }
        })
        .collect();
    let events = events.into_iter().map(|event| TracedEvent { step: Step::of(&event), event }).collect();
    Ok(OrderTrace { verifications, events })
}

/// Verifications a brand's search by number finds at most.
pub const MOST_BY_NUMBER: i64 = 100;

/// The brand's verifications whose code went to `number`, newest first; for roles that see
/// personal data.
pub async fn orders_by_number(
    app: &App,
    viewer: &SignedIn,
    brand: &Brand,
    number: &E164,
    now: Timestamp,
) -> Result<Vec<FoundVerification>, ServiceError> {
    if viewer.access.role.masks_personal_data() {
        return Err(ServiceError::Forbidden("analysts see masked numbers only: search by order id instead"));
    }
    let (slug, hashes) = (brand.slug.to_string(), app.secrets.phone_hashes(number.as_str()));
    let found =
        app.store.read(move |conn| store::verifications_of_number(conn, &slug, &hashes, MOST_BY_NUMBER)).await?;
    // The log names the number by its hint: the log itself holds no full numbers.
    audit::record(app, viewer, AuditAction::NumberSearch, Some(brand.slug.as_str()), &number.hint(), now).await?;
    Ok(found)
}
