//! The orders behind a dashboard figure: which events count for it (the same rules as the
//! counters in `dimensions`), so that a chart point or a table row leads to its orders.

use orderguard_domain::risk::RiskReason;
use serde_json::Value;

use crate::records::market::MarketMetric;

/// A figure whose orders can be listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Started,
    Approved,
    Failed,
    Expired,
    Blocked,
    Held,
    BlockedOrHeld,
    /// Blocked, failed with a high risk, rejected after review: the losses-avoided estimate's.
    Stopped,
    FraudConfirmed,
    Losses,
    SimSwaps,
    DeviceSwaps,
    Lockouts,
    PumpingBlocks,
    SmsFailed,
}

impl Figure {
    pub const ALL: [Self; 15] = [
        Self::Started,
        Self::Approved,
        Self::Failed,
        Self::Expired,
        Self::Blocked,
        Self::Held,
        Self::BlockedOrHeld,
        Self::Stopped,
        Self::FraudConfirmed,
        Self::Losses,
        Self::SimSwaps,
        Self::DeviceSwaps,
        Self::Lockouts,
        Self::PumpingBlocks,
        Self::SmsFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Approved => "approved",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Blocked => "blocked",
            Self::Held => "held",
            Self::BlockedOrHeld => "blocked_or_held",
            Self::Stopped => "stopped",
            Self::FraudConfirmed => "confirmed_fraud",
            Self::Losses => "losses",
            Self::SimSwaps => "sim_swaps",
            Self::DeviceSwaps => "device_swaps",
            Self::Lockouts => "lockouts",
            Self::PumpingBlocks => "pumping_blocks",
            Self::SmsFailed => "sms_failed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Started => "Verifications started",
            Self::Approved => "Verifications approved",
            Self::Failed => "Verifications failed (wrong codes)",
            Self::Expired => "Verifications abandoned (code expired)",
            Self::Blocked => "Orders blocked",
            Self::Held => "Orders held for review",
            Self::BlockedOrHeld => "Orders blocked or held",
            Self::Stopped => "Orders stopped (blocked, failed with a high risk, rejected after review)",
            Self::FraudConfirmed => "Orders reported as confirmed fraud",
            Self::Losses => "Orders reported with a loss",
            Self::SimSwaps => "SIM swaps detected",
            Self::DeviceSwaps => "Device swaps detected",
            Self::Lockouts => "Wrong-code lock-outs",
            Self::PumpingBlocks => "SMS pumping blocks",
            Self::SmsFailed => "SMS not delivered",
        }
    }

    /// The event types that may count for the figure (the store reads only these).
    pub fn event_types(self) -> &'static [&'static str] {
        match self {
            Self::Started => &["verification.created"],
            Self::Approved => &["verification.approved"],
            Self::Failed => &["verification.failed"],
            Self::Expired => &["verification.expired"],
            Self::Blocked => &["verification.blocked"],
            Self::Held => &["verification.held"],
            Self::BlockedOrHeld => &["verification.blocked", "verification.held"],
            Self::Stopped => &["verification.blocked", "verification.failed", "review.rejected"],
            Self::FraudConfirmed | Self::Losses => &["order.outcome_reported"],
            Self::SimSwaps | Self::DeviceSwaps => &["network.checked"],
            Self::Lockouts => &["risk.lock_engaged"],
            Self::PumpingBlocks => &["verification.blocked", "check.refused"],
            Self::SmsFailed => &["sms.failed"],
        }
    }

    /// An order counts as its latest report (a corrected report replaces the earlier one); the
    /// other figures count every event that qualifies.
    pub fn latest_report_counts(self) -> bool {
        matches!(self, Self::FraudConfirmed | Self::Losses)
    }

    /// Whether an event of one of `event_types` counts for the figure, as the counters count it.
    pub fn counts(self, kind: &str, attrs: &Value) -> bool {
        let text = |key: &str| attrs.get(key).and_then(Value::as_str);
        let pumping =
            |reason: Option<&str>| reason.and_then(RiskReason::parse).is_some_and(RiskReason::is_pumping_defence);
        match self {
            Self::Stopped if kind == "verification.failed" => text("risk").is_some_and(|r| r != "allow"),
            Self::FraudConfirmed => text("outcome") == Some("fraud_confirmed"),
            Self::Losses => attrs.get("amount_lost").and_then(Value::as_i64).is_some_and(|lost| lost > 0),
            Self::SimSwaps => text("api") == Some("sim_swap") && text("outcome") == Some("swapped"),
            Self::DeviceSwaps => text("api") == Some("device_swap") && text("outcome") == Some("swapped"),
            Self::PumpingBlocks if kind == "check.refused" => pumping(text("reason")),
            Self::PumpingBlocks => {
                let reasons = attrs.get("reasons").and_then(Value::as_array).into_iter().flatten();
                reasons.map(Value::as_str).any(pumping)
            }
            Self::SmsFailed => text("stage") == Some("delivery"),
            _ => self.event_types().contains(&kind),
        }
    }
}

impl From<MarketMetric> for Figure {
    fn from(metric: MarketMetric) -> Self {
        match metric {
            MarketMetric::ConfirmedFraud => Self::FraudConfirmed,
            MarketMetric::Losses => Self::Losses,
            MarketMetric::BlockedOrHeld => Self::BlockedOrHeld,
            MarketMetric::SimSwaps => Self::SimSwaps,
            MarketMetric::DeviceSwaps => Self::DeviceSwaps,
            MarketMetric::Lockouts => Self::Lockouts,
            MarketMetric::PumpingBlocks => Self::PumpingBlocks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_counts_for_a_figure_as_the_counters_count_it() {
        assert!(Figure::FraudConfirmed.counts("order.outcome_reported", &json!({ "outcome": "fraud_confirmed" })));
        assert!(!Figure::FraudConfirmed.counts("order.outcome_reported", &json!({ "outcome": "completed" })));
        assert!(Figure::Losses.counts("order.outcome_reported", &json!({ "amount_lost": 100 })));
        assert!(Figure::SimSwaps.counts("network.checked", &json!({ "api": "sim_swap", "outcome": "swapped" })));
        assert!(!Figure::SimSwaps.counts("network.checked", &json!({ "api": "device_swap", "outcome": "swapped" })));
        assert!(!Figure::Stopped.counts("verification.failed", &json!({ "risk": "allow" })));
        assert!(Figure::Stopped.counts("verification.failed", &json!({ "risk": "review" })));
        assert!(Figure::Stopped.counts("review.rejected", &json!({})));
        assert!(Figure::PumpingBlocks.counts("check.refused", &json!({ "reason": "range_burst" })));
        assert!(!Figure::PumpingBlocks.counts("check.refused", &json!({ "reason": "wrong_code_lock_customer" })));
        assert!(
            Figure::PumpingBlocks
                .counts("verification.blocked", &json!({ "reasons": ["voip_number", "sms_limit_number"] }))
        );
        assert!(Figure::BlockedOrHeld.counts("verification.held", &json!({})));
        assert!(!Figure::SmsFailed.counts("sms.failed", &json!({ "stage": "hand_off" })));
        for figure in Figure::ALL {
            assert_eq!(Figure::parse(figure.as_str()), Some(figure));
        }
        for metric in MarketMetric::ALL {
            assert_eq!(Figure::from(metric).as_str(), metric.as_str(), "a market figure links by its own name");
        }
    }
}
