//! A verification as stored.

use orderguard_domain::brand::BrandSlug;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::money::Money;
use orderguard_domain::phone::NumberType;
use orderguard_domain::risk::{Assessment, Decision, RiskReason};
use orderguard_domain::sms_text::CodeEntry;
use orderguard_domain::verification::Verification;

/// A verification as stored. Personal data is held only encrypted (`phone_enc`) or keyed-hashed.
#[derive(Debug, Clone)]
pub struct VerificationRecord {
    pub id: String,
    pub brand: BrandSlug,
    pub order_id: String,
    /// The customer's pseudonym (keyed hash of the identity service's id).
    pub customer_ref: String,
    pub phone_enc: Option<Vec<u8>>,
    pub phone_hash: Vec<u8>,
    pub phone_hint: String,
    /// ISO 3166 region of the number, when the numbering plan tells.
    pub phone_region: Option<String>,
    pub number_type: NumberType,
    pub amount: Money,
    pub order_digest: String,
    /// JSON array of the items, for the hosted page's order summary.
    pub order_summary: String,
    pub shipping_country: Option<String>,
    pub locale: String,
    pub return_url: Option<String>,
    pub code_entry: CodeEntry,
    /// Truncated (/24, /48).
    pub client_ip: Option<String>,
    pub state: Verification,
    pub code_hash: Vec<u8>,
    pub risk: Assessment,
    /// The hosted page token's hash (`crypto::hosted_token_hash`), or, for a verification
    /// created before tokens were hashed, the token itself.
    pub hosted_token_hash: String,
    pub cancel_reason: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<Vec<u8>>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Bumped by every change: the compare-and-set of `update_state`.
    pub version: i64,
    /// The signed receipt, issued once at approval.
    pub receipt: Option<String>,
    /// Keyed references of the number's range (see `service::verifications::activity`) and of
    /// the shop's device id.
    pub range_ref: Option<String>,
    pub device_ref: Option<String>,
    /// When the network checks (SIM swap, device swap) last asked about the number.
    pub network_checked_at: Option<Timestamp>,
    /// The generation of the look-up key that made `phone_hash`, `range_ref` and `device_ref`.
    pub lookup_key: u32,
    /// The shop's device id, sealed: a look-up key rotation keys it again (erased with the number).
    pub device_enc: Option<Vec<u8>>,
    /// The risk decision and reasons it started with, stored once with the new verification
    /// (`risk` as it was then); `None` until stored, and for verifications stored before it was kept.
    pub initial_risk: Option<(Decision, Vec<RiskReason>)>,
}

impl VerificationRecord {
    /// The slice the dashboards count its events in: its country, and the risk it started with.
    pub fn slice(&self) -> serde_json::Value {
        let (decision, reasons) = match &self.initial_risk {
            Some((decision, reasons)) => (*decision, reasons.as_slice()),
            None => (self.risk.decision, self.risk.reasons.as_slice()),
        };
        serde_json::json!({ "country": self.phone_region, "decision": decision, "reasons": reasons })
    }
}
