//! The claims of the signed receipt a shop checks before it accepts an approved order.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::money::Money;

/// How long a receipt stays valid for the shop to present it.
pub const RECEIPT_TTL_SECONDS: i64 = 600;

/// How the customer was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMethod {
    /// The code from the SMS was typed.
    Sms,
    /// An analyst approved a held order after verifying the customer another way.
    ManualReview,
}

/// What an approval binds: the brand, the verification and the order as it was confirmed.
#[derive(Debug, Clone)]
pub struct Approved<'a> {
    pub brand: &'a str,
    pub verification_id: &'a str,
    pub order_id: &'a str,
    pub amount: Money,
    /// [`crate::order::Order::digest`] of the order as it was verified.
    pub order_digest: &'a str,
    pub at: Timestamp,
    pub method: ApprovalMethod,
    /// The risk decision was `review` and the brand sends the code anyway: the shop should check
    /// the order before it ships.
    pub review: bool,
    /// The right code was typed from another device or network than the order's.
    pub relay_suspected: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReceiptClaims {
    pub iss: String,
    /// The brand slug: the receipt is meant for that brand's shop.
    pub aud: String,
    /// The verification id.
    pub sub: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    /// When the verification was approved (Unix seconds).
    pub approved_at: i64,
    pub brand: String,
    pub verification_id: String,
    pub order_id: String,
    pub amount: String,
    pub currency: String,
    pub order_digest: String,
    pub method: ApprovalMethod,
    /// Present (true) when the order is to be reviewed before it ships.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub review: bool,
    /// Present (true) when the code was typed from another device or network than the order's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub relay_suspected: bool,
}

impl ReceiptClaims {
    pub fn new(issuer: &str, approved: &Approved<'_>, now: Timestamp) -> Self {
        let iat = now.millis() / 1000;
        Self {
            iss: issuer.to_owned(),
            aud: approved.brand.to_owned(),
            sub: approved.verification_id.to_owned(),
            jti: approved.verification_id.to_owned(),
            iat,
            exp: iat + RECEIPT_TTL_SECONDS,
            approved_at: approved.at.millis() / 1000,
            brand: approved.brand.to_owned(),
            verification_id: approved.verification_id.to_owned(),
            order_id: approved.order_id.to_owned(),
            amount: approved.amount.to_decimal(),
            currency: approved.amount.currency.code().to_owned(),
            order_digest: approved.order_digest.to_owned(),
            method: approved.method,
            review: approved.review,
            relay_suspected: approved.relay_suspected,
        }
    }
}
