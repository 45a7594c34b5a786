//! The claims of the signed receipt a shop checks before it accepts an approved order.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::money::Money;

/// How long a receipt stays valid for the shop to present it.
pub const RECEIPT_TTL_SECONDS: i64 = 600;

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
    pub brand: String,
    pub verification_id: String,
    pub order_id: String,
    pub amount: String,
    pub currency: String,
    pub order_digest: String,
    pub method: &'static str,
}

impl ReceiptClaims {
    /// `order_digest` is [`crate::order::Order::digest`] of the order as it was verified.
    pub fn new(
        issuer: &str,
        brand: &str,
        verification_id: &str,
        order_id: &str,
        amount: Money,
        order_digest: &str,
        now: Timestamp,
    ) -> Self {
        let iat = now.millis() / 1000;
        Self {
            iss: issuer.to_owned(),
            aud: brand.to_owned(),
            sub: verification_id.to_owned(),
            jti: verification_id.to_owned(),
            iat,
            exp: iat + RECEIPT_TTL_SECONDS,
            brand: brand.to_owned(),
            verification_id: verification_id.to_owned(),
            order_id: order_id.to_owned(),
            amount: amount.to_decimal(),
            currency: amount.currency.code().to_owned(),
            order_digest: order_digest.to_owned(),
            method: "sms",
        }
    }
}
