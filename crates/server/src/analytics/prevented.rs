//! Losses avoided: an estimate of the fraud that orders stopped by orderguard would have cost.
//!
//! Method: the orders stopped in a period (blocked, failed with a high risk, rejected by an
//! analyst after a hold) and their value, times the share of confirmed fraud among the brand's
//! orders in the 90 days before two-factor verification was switched on. Stopped orders are
//! riskier than the average order before 2FA, so on that account the estimate errs low; the
//! counters count stopped verifications, so an order stopped twice counts twice.

use orderguard_domain::money::{Currency, Money};

/// Days before the switch to 2FA whose orders give the fraud share.
pub const BASELINE_DAYS: i64 = 90;

/// Fewer reported orders than this before 2FA and the share says too little.
pub const MIN_BASELINE_ORDERS: i64 = 20;

/// The kinds of stopped orders (`stopped` counters).
pub const STOPPED: [(&str, &str); 3] = [
    ("blocked", "blocked"),
    ("failed_high_risk", "failed with a high risk"),
    ("rejected_in_review", "rejected after review"),
];

/// Orders reported before 2FA, and the confirmed fraud among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baseline {
    pub orders: i64,
    pub fraud: i64,
}

impl Baseline {
    /// Confirmed fraud as a share of orders (0–1), if enough orders were reported.
    pub fn share(&self) -> Option<f64> {
        (self.orders >= MIN_BASELINE_ORDERS).then(|| self.fraud as f64 / self.orders as f64)
    }
}

/// What a period's stopped orders were, and the fraud they would likely have been.
#[derive(Debug, Clone, PartialEq)]
pub struct Avoided {
    /// Stopped orders per kind (`STOPPED`).
    pub stopped: Vec<(&'static str, i64)>,
    pub stopped_total: i64,
    /// Their value per currency.
    pub value: Vec<Money>,
    /// Fraudulent orders (devices not shipped) and losses avoided, when there is a baseline.
    pub fraud_orders: Option<f64>,
    pub losses: Option<Vec<Money>>,
}

/// The estimate from a period's counters: `count(dimension, value)` and the `stopped_value`
/// sums as (currency code, minor units).
pub fn avoided(count: &dyn Fn(&str, &str) -> i64, values: &[(String, i64)], baseline: Option<Baseline>) -> Avoided {
    let stopped: Vec<(&'static str, i64)> = STOPPED.iter().map(|(kind, _)| (*kind, count("stopped", kind))).collect();
    let stopped_total = stopped.iter().map(|(_, n)| n).sum();
    let mut value: Vec<Money> = values
        .iter()
        .filter_map(|(code, minor)| Some(Money::from_minor(*minor, Currency::parse(code).ok()?)))
        .filter(|m| m.minor != 0)
        .collect();
    value.sort_by(|a, b| a.currency.code().cmp(b.currency.code()));
    let share = baseline.and_then(|b| b.share());
    Avoided {
        fraud_orders: share.map(|s| stopped_total as f64 * s),
        losses: share.map(|s| {
            value.iter().map(|m| Money::from_minor((m.minor as f64 * s).round() as i64, m.currency)).collect()
        }),
        stopped,
        stopped_total,
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopped_value_times_the_fraud_share_before_2fa() {
        let count = |d: &str, v: &str| match (d, v) {
            ("stopped", "blocked") => 6,
            ("stopped", "failed_high_risk") => 3,
            ("stopped", "rejected_in_review") => 1,
            _ => 0,
        };
        let values = [("EUR".to_owned(), 1_000_000), ("GBP".to_owned(), 0)];
        let estimate = avoided(&count, &values, Some(Baseline { orders: 200, fraud: 10 }));
        assert_eq!(estimate.stopped_total, 10);
        assert_eq!(estimate.stopped[2], ("rejected_in_review", 1));
        assert_eq!(estimate.fraud_orders, Some(0.5));
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(estimate.value, [Money::from_minor(1_000_000, eur)], "no empty sums");
        assert_eq!(estimate.losses, Some(vec![Money::from_minor(50_000, eur)]));
        let thin = avoided(&count, &values, Some(Baseline { orders: 19, fraud: 10 }));
        assert_eq!((thin.fraud_orders, thin.losses), (None, None), "too few orders before 2FA");
        assert_eq!(avoided(&count, &values, None).losses, None);
    }
}
