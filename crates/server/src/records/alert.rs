//! Alerts as stored: raised by the evaluator, acknowledged and resolved by people or by themselves.

use orderguard_domain::alert::{AlertRule, AlertStatus, Severity};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub id: i64,
    pub brand: String,
    pub rule: AlertRule,
    /// What the rule fired for within the brand (a provider, a country, an endpoint; empty: the brand).
    pub key: String,
    pub severity: Severity,
    pub status: AlertStatus,
    pub raised_at: i64,
    /// The last evaluation at which the condition held.
    pub last_firing_at: i64,
    /// What the rule saw: observed, expected, volume, baseline, window_minutes.
    pub figures: serde_json::Value,
    /// Some of the orders behind it.
    pub orders: Vec<String>,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub acknowledge_note: Option<String>,
    pub resolved_at: Option<i64>,
    /// `None` on a resolved alert: it resolved by itself.
    pub resolved_by: Option<String>,
    pub resolve_note: Option<String>,
}

pub struct NewAlert<'a> {
    pub brand: &'a str,
    pub rule: AlertRule,
    pub key: &'a str,
    pub severity: Severity,
    pub at: i64,
    pub figures: &'a serde_json::Value,
    pub orders: &'a [String],
}

/// Which alerts a list shows: raised within `[from, to)` (or earlier and not yet resolved), and
/// optionally of one status, rule, severity.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub from: i64,
    pub to: i64,
    pub status: Option<AlertStatus>,
    pub rule: Option<AlertRule>,
    pub severity: Option<Severity>,
}
