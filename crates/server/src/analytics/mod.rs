//! What the dashboards count: each event adds one to a few (dimension, value) counters of its
//! brand and hour. Pure: the rollup job (`jobs::rollups`) and `orderguard analytics rebuild` apply it
//! to the event log.

pub mod drill;
pub mod market;
pub mod prevented;
pub mod slice;

use orderguard_domain::risk::RiskReason;
use serde_json::Value;

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The start of the hour `at` falls in.
pub fn hour_of(at: i64) -> i64 {
    at.div_euclid(HOUR_MS) * HOUR_MS
}

/// The start of the (UTC) day `at` falls in.
pub fn day_of(at: i64) -> i64 {
    at.div_euclid(DAY_MS) * DAY_MS
}

/// The days or weeks a trend over `[from, to)` is drawn in: whole UTC days (the daily counters)
/// from the day `from` falls in, weeks from four weeks on; the last one ends at `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slots {
    /// Midnight of the first slot's first day.
    pub first: i64,
    pub end: i64,
    /// 1 or 7.
    pub days: i64,
    pub count: i64,
}

impl Slots {
    pub fn of(from: i64, to: i64) -> Self {
        let first = day_of(from);
        let days = if to - first >= 28 * DAY_MS { 7 } else { 1 };
        let ms = days * DAY_MS;
        Self { first, end: to, days, count: ((to - first + ms - 1) / ms).max(1) }
    }

    pub fn ms(&self) -> i64 {
        self.days * DAY_MS
    }

    pub fn start(&self, slot: i64) -> i64 {
        self.first + slot * self.ms()
    }
}

/// The dimensions the alert rules read, counted per minute too (`domain::alert`).
pub const ALERT_DIMENSIONS: [&str; 11] = [
    "event",
    "risk_reason",
    "country",
    "sms_submitted_route",
    "approved_country",
    "sms_delivered_route",
    "sms_failed_route",
    "sms_attempt_failed",
    "network_check",
    "limit_refusal",
    "identity_failure",
];

/// Delivery latency classes, upper bounds in seconds; the last class is everything slower.
pub const LATENCY_BUCKETS: [(&str, i64); 5] =
    [("≤ 1 s", 1_000), ("≤ 5 s", 5_000), ("≤ 30 s", 30_000), ("≤ 2 min", 120_000), ("> 2 min", i64::MAX)];

fn latency_bucket(ms: i64) -> &'static str {
    LATENCY_BUCKETS.iter().find(|(_, bound)| ms <= *bound).map_or("> 2 min", |(name, _)| name)
}

/// Approvals slower than this count as this slow: the median is of the typical customer.
const SLOWEST_APPROVAL_SECONDS: i64 = 3600;

/// The counters one event adds to, and by how much: always its type, and per type what it says
/// about status, country, locale, provider, attempts and risk (reasons, shadow reasons, lock-outs,
/// limit refusals by `action|reason`, orders stopped by kind), each by one. A few counters are
/// sums of money in minor units (`loss`, `blocked_value`, `failed_high_risk_value`,
/// `stopped_value`, per currency).
pub fn dimensions(kind: &str, attrs: &Value) -> Vec<(&'static str, String, i64)> {
    let text = |key: &str| attrs.get(key).and_then(Value::as_str).map(str::to_owned);
    let int = |key: &str| attrs.get(key).and_then(Value::as_i64);
    let number = |key: &str| int(key).map(|n| n.to_string());
    // `provider|country` of an SMS event, for delivery by route.
    let route = || Some(format!("{}|{}", text("provider")?, text("country").unwrap_or_else(|| "ZZ".into())));
    // The order's value in its currency, for the sums.
    let value = |dimension: &'static str| Some((dimension, text("currency")?, int("amount")?));
    // The reason codes of a list attribute.
    let codes = |key: &str| {
        let listed = attrs.get(key).and_then(Value::as_array).into_iter().flatten();
        listed.filter_map(Value::as_str).map(str::to_owned)
    };
    let mut counted = vec![("event", kind.to_owned())];
    counted.extend(slice::dimensions(kind, attrs));
    let mut summed = Vec::new();
    match kind {
        "verification.created" => {
            counted.push(("country", text("phone_region").unwrap_or_else(|| "ZZ".into())));
            counted.extend(text("locale").map(|l| ("locale", l)));
            counted.extend(text("number_type").map(|t| ("number_type", t)));
        }
        "risk.assessed" => {
            counted.extend(text("decision").map(|d| ("decision", d)));
            counted.extend(codes("reasons").map(|r| ("risk_reason", r)));
            counted.extend(codes("shadow_reasons").map(|r| ("shadow_reason", r)));
        }
        "risk.lock_engaged" => counted.extend(text("subject").map(|s| ("lockout", s))),
        "network.checked" => {
            if let (Some(api), Some(outcome)) = (text("api"), text("outcome")) {
                counted.push(("network_check", format!("{api}|{outcome}")));
                // What the finding did to a decision, when it did something (shadow ones apart).
                if let Some(action) = text("action").filter(|_| attrs.get("shadow") != Some(&Value::Bool(true))) {
                    counted.push(("network_action", format!("{api}|{outcome}|{action}")));
                }
            }
        }
        "check.refused" => {
            if let (Some(action), Some(reason)) = (text("action"), text("reason")) {
                counted.push(("limit_refusal", format!("{action}|{reason}")));
            }
        }
        "verification.approved" => {
            counted.extend(number("attempts").map(|a| ("attempts_to_approve", a)));
            // Codes typed per destination: the pumping rule counts the codes sent and not typed.
            counted.push(("approved_country", text("phone_region").unwrap_or_else(|| "ZZ".into())));
            let seconds = int("seconds_since_sent").map(|s| s.clamp(0, SLOWEST_APPROVAL_SECONDS));
            counted.extend(seconds.map(|s| ("seconds_to_approve", s.to_string())));
        }
        "verification.blocked" => {
            summed.extend(value("blocked_value"));
            counted.push(("stopped", "blocked".into()));
            summed.extend(value("stopped_value"));
            // A create refused by a hard limit or a range's pause, as `check.refused` is for checks.
            let limits = codes("reasons").filter(|r| RiskReason::parse(r).is_some_and(|r| !r.is_scored()));
            counted.extend(limits.map(|r| ("limit_refusal", format!("create|{r}"))));
        }
        "verification.failed" if text("risk").is_some_and(|r| r != "allow") => {
            summed.extend(value("failed_high_risk_value"));
            counted.push(("stopped", "failed_high_risk".into()));
            summed.extend(value("stopped_value"));
        }
        "review.rejected" => {
            counted.push(("stopped", "rejected_in_review".into()));
            summed.extend(value("stopped_value"));
        }
        "check.failed" => counted.extend(number("attempt").map(|a| ("failed_attempt", a))),
        "sms.attempt_failed" => {
            if let (Some(provider), Some(result)) = (text("provider"), text("result")) {
                // A last resort tried through an open breaker counts for the breaker too.
                if attrs.get("breaker_open") == Some(&Value::Bool(true)) && result != "skipped" {
                    counted.push(("sms_attempt_failed", format!("{provider}|breaker_open")));
                }
                counted.push(("sms_attempt_failed", format!("{provider}|{result}")));
            }
        }
        "identity.failed" => counted.extend(text("reason").map(|r| ("identity_failure", r))),
        "sms.submitted" => {
            counted.extend(text("provider").map(|p| ("sms_submitted", p)));
            counted.extend(route().map(|r| ("sms_submitted_route", r)));
        }
        "sms.delivered" => {
            counted.extend(text("provider").map(|p| ("sms_delivered", p)));
            counted.extend(route().map(|r| ("sms_delivered_route", r)));
            if let (Some(provider), Some(ms)) = (text("provider"), int("latency_ms")) {
                counted.push(("sms_delivery_latency", format!("{provider}|{}", latency_bucket(ms))));
            }
        }
        "sms.failed" if text("stage").as_deref() == Some("delivery") => {
            counted.extend(text("provider").map(|p| ("sms_failed", p)));
            counted.extend(route().map(|r| ("sms_failed_route", r)));
        }
        "order.outcome_reported" => {
            // The funnel follows verified orders only; orders placed without 2FA have none.
            let verified = int("verifications").is_some_and(|n| n > 0);
            let mut outcome = |report: &Value, sign: i64| {
                let field = |key: &str| report.get(key).and_then(Value::as_str).map(str::to_owned);
                if let Some(o) = field("outcome") {
                    summed.push(("outcome", o.clone(), sign));
                    if verified {
                        summed.push(("verified_outcome", o, sign));
                    }
                }
                if let (Some(currency), Some(lost)) =
                    (field("currency"), report.get("amount_lost").and_then(Value::as_i64))
                {
                    summed.push(("loss", currency, sign * lost));
                }
            };
            outcome(attrs, 1);
            // A report that replaces an earlier one takes the earlier one back: an order counts once.
            if let Some(previous) = attrs.get("previous").filter(|p| p.is_object()) {
                outcome(previous, -1);
            }
        }
        _ => {}
    }
    counted.into_iter().map(|(dimension, value)| (dimension, value, 1)).chain(summed).collect()
}

/// The median of a distribution given as (value, how often), `None` when empty.
pub fn median(distribution: &[(i64, i64)]) -> Option<i64> {
    let mut sorted = distribution.to_vec();
    sorted.sort_unstable();
    let total: i64 = sorted.iter().map(|(_, n)| n).sum();
    let mut seen = 0;
    sorted.into_iter().find_map(|(value, n)| {
        seen += n;
        (total > 0 && seen * 2 >= total).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_count_in_their_dimensions() {
        assert_eq!(hour_of(3_600_000 * 5 + 17), 3_600_000 * 5);
        let created = dimensions(
            "verification.created",
            &json!({ "phone_region": "DE", "locale": "de", "number_type": "mobile" }),
        );
        assert_eq!(
            created,
            [
                ("event", "verification.created".to_owned(), 1),
                ("country", "DE".to_owned(), 1),
                ("locale", "de".to_owned(), 1),
                ("number_type", "mobile".to_owned(), 1)
            ]
        );
        let risk = dimensions(
            "risk.assessed",
            &json!({ "decision": "review", "reasons": ["velocity", "high_value_hardware"] }),
        );
        assert_eq!(risk.len(), 4);
        assert!(risk.contains(&("risk_reason", "velocity".to_owned(), 1)));
        let shadow = dimensions(
            "risk.assessed",
            &json!({ "decision": "allow", "reasons": [], "shadow_reasons": ["velocity_network"] }),
        );
        assert_eq!(shadow[2], ("shadow_reason", "velocity_network".to_owned(), 1));
        assert_eq!(
            dimensions("risk.lock_engaged", &json!({ "subject": "number", "wrong_codes": 10 }))[1],
            ("lockout", "number".into(), 1)
        );
        let refused = json!({ "reason": "wrong_code_lock_customer", "action": "resend", "retry_after_seconds": 5 });
        assert_eq!(
            dimensions("check.refused", &refused)[1],
            ("limit_refusal", "resend|wrong_code_lock_customer".into(), 1)
        );
        let blocked = json!({ "reasons": ["voip_number", "sms_limit_number"], "amount": 5, "currency": "EUR" });
        assert_eq!(
            dimensions("verification.blocked", &blocked)[1..],
            [
                ("stopped", "blocked".into(), 1),
                ("limit_refusal", "create|sms_limit_number".into(), 1),
                ("blocked_value", "EUR".into(), 5),
                ("stopped_value", "EUR".into(), 5)
            ]
        );
        assert_eq!(dimensions("sms.failed", &json!({ "stage": "hand_off", "provider": "x" })).len(), 1);
        assert_eq!(
            dimensions("sms.failed", &json!({ "stage": "delivery", "provider": "x" }))[1],
            ("sms_failed", "x".into(), 1)
        );
        assert_eq!(
            dimensions("verification.approved", &json!({ "attempts": 2, "seconds_since_sent": 7200 }))[1..],
            [
                ("attempts_to_approve", "2".into(), 1),
                ("approved_country", "ZZ".into(), 1),
                ("seconds_to_approve", "3600".into(), 1)
            ]
        );
        let approved = json!({ "attempts": 1, "seconds_since_sent": 20, "phone_region": "DE" });
        assert_eq!(dimensions("verification.approved", &approved)[2], ("approved_country", "DE".into(), 1));
    }

    #[test]
    fn money_is_summed_in_minor_units() {
        let lost = dimensions(
            "order.outcome_reported",
            &json!({ "outcome": "fraud_confirmed", "amount_lost": 84_900, "currency": "EUR" }),
        );
        assert_eq!(lost[2], ("loss", "EUR".into(), 84_900));
        let verified = dimensions("order.outcome_reported", &json!({ "outcome": "completed", "verifications": 1 }));
        assert_eq!(verified[2], ("verified_outcome", "completed".into(), 1));
        let blocked = dimensions("verification.blocked", &json!({ "amount": 99_900, "currency": "GBP" }));
        assert_eq!(blocked[2], ("blocked_value", "GBP".into(), 99_900));
        let failed = |risk: &str| {
            dimensions("verification.failed", &json!({ "amount": 5, "currency": "EUR", "risk": risk })).len()
        };
        assert_eq!((failed("allow"), failed("review")), (1, 4));
        let rejected = dimensions("review.rejected", &json!({ "amount": 700, "currency": "EUR" }));
        assert_eq!(rejected[1..], [("stopped", "rejected_in_review".into(), 1), ("stopped_value", "EUR".into(), 700)]);
    }

    #[test]
    fn slots_are_whole_days_or_weeks() {
        let slots = Slots::of(DAY_MS + 5 * HOUR_MS, 3 * DAY_MS + HOUR_MS);
        assert_eq!(slots, Slots { first: DAY_MS, end: 3 * DAY_MS + HOUR_MS, days: 1, count: 3 });
        assert_eq!(slots.start(2), 3 * DAY_MS);
        assert_eq!(Slots::of(0, 35 * DAY_MS).count, 5);
    }

    #[test]
    fn median_of_a_distribution() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[(30, 1), (4, 2), (9, 1)]), Some(4));
        assert_eq!(median(&[(4, 1), (9, 3)]), Some(9));
    }
}

/// One line of the overview: how often something happened to the verifications started in a
/// period, as a share of them, and the same share in the period before.
#[derive(Debug, Clone, PartialEq)]
pub struct OverviewLine {
    pub metric: &'static str,
    pub count: i64,
    /// Share of the period's started verifications, 0–100; `None` without any.
    pub rate: Option<f64>,
    pub previous_rate: Option<f64>,
}

/// The overview's metrics and the event types that count for them.
pub const OVERVIEW: [(&str, &str); 9] = [
    ("started", "verification.created"),
    ("approved", "verification.approved"),
    ("failed (wrong codes)", "verification.failed"),
    ("abandoned (code expired)", "verification.expired"),
    ("canceled", "verification.canceled"),
    ("blocked (risk)", "verification.blocked"),
    ("held for review", "verification.held"),
    ("undeliverable", "verification.undeliverable"),
    ("code resent", "verification.resent"),
];

/// The overview from the counts of event types in this period and the one before.
pub fn overview(current: &dyn Fn(&str) -> i64, previous: &dyn Fn(&str) -> i64) -> Vec<OverviewLine> {
    let share = |count: i64, started: i64| (started > 0).then(|| count as f64 * 100.0 / started as f64);
    let (started, started_before) = (current("verification.created"), previous("verification.created"));
    OVERVIEW
        .iter()
        .map(|&(metric, event)| OverviewLine {
            metric,
            count: current(event),
            rate: share(current(event), started),
            previous_rate: share(previous(event), started_before),
        })
        .collect()
}

#[cfg(test)]
mod overview_tests {
    use super::*;

    #[test]
    fn rates_are_shares_of_the_started_verifications() {
        let now = |e: &str| match e {
            "verification.created" => 4,
            "verification.approved" => 3,
            _ => 0,
        };
        let before = |e: &str| match e {
            "verification.created" => 2,
            "verification.approved" => 1,
            _ => 0,
        };
        let lines = overview(&now, &before);
        assert_eq!(
            lines[0],
            OverviewLine { metric: "started", count: 4, rate: Some(100.0), previous_rate: Some(100.0) }
        );
        assert_eq!(lines[1].rate, Some(75.0));
        assert_eq!(lines[1].previous_rate, Some(50.0));
        let nothing = overview(&|_| 0, &|_| 0);
        assert_eq!(nothing[1].rate, None);
    }
}

/// The funnel's steps and how each is counted from the counters: verifications started, SMS
/// handed over and delivered, verifications whose code was entered at least once (the first check
/// either approved or failed), approved, verified orders reported completed.
pub fn funnel(count: &dyn Fn(&str, &str) -> i64) -> Vec<(&'static str, i64)> {
    vec![
        ("started", count("event", "verification.created")),
        ("SMS handed over", count("event", "sms.submitted")),
        ("SMS delivered", count("event", "sms.delivered")),
        ("code entered", count("attempts_to_approve", "1") + count("failed_attempt", "1")),
        ("approved", count("event", "verification.approved")),
        ("order completed", count("verified_outcome", "completed")),
    ]
}

#[cfg(test)]
mod funnel_tests {
    #[test]
    fn a_code_counts_as_entered_once_per_verification() {
        // Two verifications: one approved at the first try, one after a wrong first code.
        let count = |d: &str, v: &str| match (d, v) {
            ("event", "verification.created") | ("event", "verification.approved") => 2,
            ("attempts_to_approve", "1") | ("attempts_to_approve", "2") | ("failed_attempt", "1") => 1,
            _ => 0,
        };
        let steps = super::funnel(&count);
        assert_eq!(steps[3], ("code entered", 2));
        assert_eq!(steps[4], ("approved", 2));
    }
}
