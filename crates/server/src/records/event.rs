//! Events of the append-only log: one per step of a verification or an order.

use orderguard_domain::clock::Timestamp;
use orderguard_domain::event::EventKind;

/// An event to append, written in the transaction of the change it records.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub brand: &'a str,
    pub verification_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub kind: EventKind,
    pub at: Timestamp,
    /// What the kind documents (`EventKind`); never personal data.
    pub attrs: serde_json::Value,
}

impl<'a> NewEvent<'a> {
    /// An event of one verification (and so of its order, whose trace shows it).
    pub fn of_verification(
        brand: &'a str,
        verification_id: &'a str,
        order_id: &'a str,
        kind: EventKind,
        at: Timestamp,
        attrs: serde_json::Value,
    ) -> Self {
        Self { brand, verification_id: Some(verification_id), order_id: Some(order_id), kind, at, attrs }
    }

    /// An event of an order that belongs to none of its verifications.
    pub fn of_order(
        brand: &'a str,
        order_id: &'a str,
        kind: EventKind,
        at: Timestamp,
        attrs: serde_json::Value,
    ) -> Self {
        Self { brand, verification_id: None, order_id: Some(order_id), kind, at, attrs }
    }

    /// An event of the brand itself (its policy changed), of no order and no verification.
    pub fn of_brand(brand: &'a str, kind: EventKind, at: Timestamp, attrs: serde_json::Value) -> Self {
        Self { brand, verification_id: None, order_id: None, kind, at, attrs }
    }
}

/// An event as read back.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// Unix milliseconds.
    pub at: i64,
    pub verification_id: Option<String>,
    pub order_id: Option<String>,
    pub attrs: serde_json::Value,
}
