//! What finally became of an order, as the shop reported it.

use orderguard_domain::order::OrderOutcome;

#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    pub brand: &'a str,
    pub order_id: &'a str,
    pub outcome: OrderOutcome,
    pub amount_lost_minor: Option<i64>,
    pub currency: Option<&'a str>,
    pub reported_at: i64,
}

/// What an order was last reported as.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportedOutcome {
    pub outcome: OrderOutcome,
    /// In minor units of `currency`.
    pub amount_lost: Option<i64>,
    pub currency: Option<String>,
}

/// What a list of orders shows of an order's latest verification.
#[derive(Debug, Clone)]
pub struct OrderFacts {
    pub order_id: String,
    pub verification_id: String,
    /// The country of the number (ISO 3166), where known.
    pub country: Option<String>,
    pub decision: orderguard_domain::risk::Decision,
    pub reasons: Vec<orderguard_domain::risk::RiskReason>,
    pub amount: orderguard_domain::money::Money,
}
