//! The verification use cases: create (identity, risk, code, SMS), check, resend, cancel, expire,
//! undeliverable. Each loads the verification, lets the domain decide, and writes the changed state
//! with its events in one transaction (a compare-and-set on `version`, retried when a parallel
//! request won).

pub mod activity;
mod create;
mod lifecycle;
pub mod network;
pub mod review;

use std::sync::Arc;

use orderguard_domain::brand::BrandSlug;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::code::OtpCode;
use orderguard_domain::event::EventKind;
use orderguard_domain::receipt::{ApprovalMethod, Approved, ReceiptClaims};
use orderguard_domain::risk::Decision;
use orderguard_domain::verification::Rejection;

pub use create::{Created, NewVerification, create, truncate_ip};
pub use lifecycle::{
    CheckResult, MAX_CANCEL_REASON, SWEEP_BATCH, TypedFrom, cancel, check, forget_idle_activity, mark_undeliverable,
    resend, sweep_expired,
};

use super::ServiceError;
use crate::app::App;
use crate::brand::Brand;
use crate::records::sms::QueuedSms;
use crate::records::{NewEvent, VerificationRecord};
use crate::store::Conn;
use crate::store::verifications as store;

/// Attempts for a change that lost a race (see `store::verifications::update_state`).
const MAX_RETRIES: usize = 8;

/// An event of `v`, at `at`.
pub(crate) fn event(
    v: &VerificationRecord,
    kind: EventKind,
    at: Timestamp,
    mut attrs: serde_json::Value,
) -> NewEvent<'_> {
    if let Some(fields) = attrs.as_object_mut().filter(|_| kind.carries_slice()) {
        fields.insert("slice".into(), v.slice());
    }
    NewEvent::of_verification(v.brand.as_str(), &v.id, &v.order_id, kind, at, attrs)
}

/// A refusal by the domain, with the verification as it is now.
fn refused(record: &VerificationRecord) -> impl FnOnce(Rejection) -> ServiceError + '_ {
    move |rejection| ServiceError::Refused { rejection, record: Box::new(record.clone()) }
}

/// A brand's verification.
pub async fn get(app: &Arc<App>, brand: &BrandSlug, id: &str) -> Result<VerificationRecord, ServiceError> {
    let (brand, id) = (brand.as_str().to_owned(), id.to_owned());
    app.store.read(move |conn| store::find(conn, &brand, &id)).await?.ok_or(ServiceError::NotFound)
}

/// The length of the random hosted tokens of earlier releases (24 bytes in base64url).
const LEGACY_HOSTED_TOKEN_LENGTH: usize = 32;

/// The link of a verification's hosted page: its token derived from its id, or its token from
/// an earlier release, stored as it was.
pub fn hosted_url(app: &App, v: &VerificationRecord) -> String {
    let token = if crate::crypto::is_hosted_token_hash(&v.hosted_token_hash) {
        app.secrets.hosted_token(&v.id)
    } else {
        v.hosted_token_hash.clone()
    };
    format!("{}/v/{token}", app.public_url)
}

/// The verification behind a hosted page's link, and its brand.
pub async fn by_hosted_token(app: &Arc<App>, token: &str) -> Result<(Arc<Brand>, VerificationRecord), ServiceError> {
    let hash = crate::crypto::hosted_token_hash(token);
    let mut record = app.store.read(move |conn| store::find_by_hosted_token(conn, &hash)).await?;
    // A link from before tokens were hashed: its token is stored as it is. A stored hash itself
    // is never accepted as a token.
    if record.is_none() && token.len() == LEGACY_HOSTED_TOKEN_LENGTH {
        let legacy = token.to_owned();
        record = app.store.read(move |conn| store::find_by_hosted_token(conn, &legacy)).await?;
    }
    let record = record.ok_or(ServiceError::NotFound)?;
    let brand = app.brands.get(record.brand.as_str()).cloned().ok_or(ServiceError::NotFound)?;
    Ok((brand, record))
}

/// Signs the receipt of a verification approved at `now` (by its code or by an analyst); it is
/// stored with the verification and returned unchanged on every later read.
fn issue_receipt(
    app: &App,
    record: &mut VerificationRecord,
    method: ApprovalMethod,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let approved = Approved {
        brand: record.brand.as_str(),
        verification_id: &record.id,
        order_id: &record.order_id,
        amount: record.amount,
        order_digest: &record.order_digest,
        at: now,
        method,
        relay_suspected: record.risk.reasons.contains(&orderguard_domain::risk::RiskReason::RelaySuspected),
        // An analyst's approval is the review: the shop has nothing left to check.
        review: method == ApprovalMethod::Sms && record.risk.decision == Decision::Review,
    };
    let claims = ReceiptClaims::new(&app.public_url, &approved, now);
    let receipt =
        app.signer.sign(&claims, now.millis()).ok_or(ServiceError::Internal("the receipt could not be signed"))?;
    record.receipt = Some(receipt);
    Ok(())
}

/// Loads, lets `decide` change the record, writes with a compare-and-set; retries when a parallel
/// request changed the verification in between. An error from `decide` rolls back everything it
/// wrote. An expired verification is recorded as expired and the change refused.
async fn change<T: Send + 'static>(
    app: &Arc<App>,
    brand: &BrandSlug,
    id: &str,
    now: Timestamp,
    decide: impl Fn(&mut dyn Conn, &mut VerificationRecord) -> Result<T, ServiceError> + Send + Sync + Clone + 'static,
) -> Result<T, ServiceError> {
    for _ in 0..MAX_RETRIES {
        let (brand, id, decide) = (brand.as_str().to_owned(), id.to_owned(), decide.clone());
        let outcome = app
            .store
            .write(move |conn| -> Result<Result<T, ServiceError>, ServiceError> {
                let mut record = store::find(conn, &brand, &id)?.ok_or(ServiceError::NotFound)?;
                if record.state.is_expired(now) {
                    expire(conn, &mut record, now)?;
                    return Ok(Err(refused(&record)(Rejection::Expired)));
                }
                // Any error rolls the whole change back; only an expiry (above) is kept with a refusal.
                decide(conn, &mut record).map(Ok)
            })
            .await;
        match outcome {
            Err(ServiceError::Conflict) => continue,
            Err(e) => return Err(e),
            Ok(result) => return result,
        }
    }
    Err(ServiceError::Conflict)
}

/// Writes `record`'s changed state; a lost race becomes `Conflict` so the change is retried.
fn save(conn: &mut dyn Conn, record: &mut VerificationRecord, now: Timestamp) -> Result<(), ServiceError> {
    if !store::update_state(conn, record, now)? {
        return Err(ServiceError::Conflict);
    }
    record.updated_at = now;
    record.version += 1;
    Ok(())
}

/// Records that nobody came back in time. The event is dated when the verification expired, not
/// when that was noticed (the sweeper looks every second): the counters put expiries where they
/// happened, and a simulation that moves the clock by hours between sweeps does not pile a day's
/// expiries into one minute. An expiry noticed more than an alert window late is counted, but no
/// longer judged by the alert rules, whose minutes have passed.
fn expire(conn: &mut dyn Conn, record: &mut VerificationRecord, now: Timestamp) -> Result<(), ServiceError> {
    record.state.expire(now).map_err(refused(record))?;
    save(conn, record, now)?;
    let attrs = serde_json::json!({ "attempts": record.state.attempts, "resends": record.state.resends });
    let expired_at = record.state.expires_at.min(now);
    crate::store::events::append(conn, &event(record, EventKind::VerificationExpired, expired_at, attrs))?;
    Ok(())
}

/// The SMS that carries `code` to the verification's number, claimed by this instance (see
/// `sms::queue`). Its number is the verification's ciphertext: nothing is decrypted to send a code.
fn code_sms(
    app: &App,
    brand: &Brand,
    record: &VerificationRecord,
    code: &OtpCode,
    now: Timestamp,
) -> Result<QueuedSms, ServiceError> {
    let to_enc =
        record.phone_enc.clone().ok_or(ServiceError::Internal("the number of this verification was erased"))?;
    let text = brand.sms_text(&record.locale, code.as_str(), record.amount, record.code_entry, &app.public_host);
    Ok(QueuedSms {
        id: crate::ids::new_id(now.millis()),
        verification_id: record.id.clone(),
        brand: record.brand.to_string(),
        order_id: record.order_id.clone(),
        country: record.phone_region.clone().unwrap_or_else(|| "ZZ".into()),
        to_enc,
        body_enc: app.secrets.encrypt(text.as_bytes()),
        attempts: 1,
        not_after: record.state.expires_at.millis(),
        lease_token: crate::ids::random_token(16),
        claimed_at: now.millis(),
    })
}
