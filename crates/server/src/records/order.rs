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
