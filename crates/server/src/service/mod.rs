//! Use cases: load → domain decision → save with its events in one transaction → notify.

pub mod admin;
pub mod alerts;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod brands;
pub mod dashboards;
pub mod event_log;
pub mod health;
pub mod keyring;
pub mod lists;
pub mod orders;
pub mod privacy;
pub mod second_factor;
pub mod sign_in;
pub mod signing_keys;
pub mod sms;
pub mod trace;
pub mod verifications;
pub mod webhooks;

use orderguard_domain::FieldError;
use orderguard_domain::verification::Rejection;

use crate::identity::IdentityError;
use crate::records::VerificationRecord;
use crate::store::StoreError;

/// Who changes something that is audited: a user of the admin area, or an operator on the
/// command line.
#[derive(Debug, Clone)]
pub struct Actor {
    pub username: String,
    pub role: orderguard_domain::role::Role,
    /// The one brand of a brand role.
    pub brand: Option<String>,
}

/// `field: reason` of each error, for a command line or a log.
fn describe(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("{}: {}", e.field, e.reason)).collect::<Vec<_>>().join("; ")
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid request: {}", describe(.0))]
    Validation(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    /// The domain refused the action; `record` is the verification as it is now (an expiry may
    /// just have been recorded), so that callers need not read it again.
    #[error("{rejection}")]
    Refused { rejection: Rejection, record: Box<VerificationRecord> },
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyMismatch,
    #[error("the customer's number is not usable: {0}")]
    PhoneInvalid(String),
    #[error("the customer has no verified mobile number")]
    PhoneUnverified,
    #[error("the customer has no mobile number")]
    PhoneMissing,
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// Something that should not happen: logged, answered with a plain 500.
    #[error("{0}")]
    Internal(&'static str),
    /// The user's role may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A parallel request changed the verification first; the caller reads again.
    #[error("concurrent change")]
    Conflict,
}

impl From<FieldError> for ServiceError {
    fn from(e: FieldError) -> Self {
        Self::Validation(vec![e])
    }
}
