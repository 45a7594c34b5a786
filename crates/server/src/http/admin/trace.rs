//! The order trace (every verification and event of one order) and the audit log of who looked
//! at personal data.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{AdminUser, page, visible_brand};
use crate::app::App;
use crate::http::error::PageError;
use crate::service::trace::Step;
use crate::service::{audit, trace as service};

struct TraceVerification {
    id: String,
    status: &'static str,
    number: String,
    amount: String,
    started: String,
}

struct TraceEvent {
    at: String,
    kind: &'static str,
    /// What the event means, in words, for the kinds the trace explains.
    summary: Option<String>,
    risk: Option<TraceRisk>,
    /// The raw attributes.
    details: String,
}

/// A risk decision: every rule's outcome, and the policy version that decided.
struct TraceRisk {
    policy_version: String,
    rules: Vec<TraceRule>,
}

struct TraceRule {
    rule: String,
    fired: bool,
    points: i64,
    /// `shadow` (recorded, not counted) or `live`.
    mode: &'static str,
    /// The count or age the rule compared; `–` where it had none.
    input: String,
}

/// `reasons: a, b`, or `no reasons`.
fn listed(reasons: &[String]) -> String {
    if reasons.is_empty() { "no reasons".to_owned() } else { format!("reasons: {}", reasons.join(", ")) }
}

/// Seconds as people read a wait: `45 s`, `12 min 5 s`, `23 h 59 min`, `24 h`.
fn wait(seconds: i64) -> String {
    let (large, small) = match seconds {
        s if s >= 3600 => ((s / 3600, "h"), (s % 3600 / 60, "min")),
        s if s >= 60 => ((s / 60, "min"), (s % 60, "s")),
        s => return format!("{s} s"),
    };
    match small {
        (0, _) => format!("{} {}", large.0, large.1),
        (n, unit) => format!("{} {} {n} {unit}", large.0, large.1),
    }
}

fn retry(seconds: Option<i64>) -> String {
    seconds.map(|s| format!("; retry after {}", wait(s))).unwrap_or_default()
}

/// An explained event in words (and the rules of a risk decision).
fn explain(step: &Step) -> (Option<String>, Option<TraceRisk>) {
    let until = |at: &Option<String>| at.as_deref().map(|at| format!(" until {at}")).unwrap_or_default();
    let summary = match step {
        Step::Other => return (None, None),
        Step::Risk(r) => {
            let shadow = if r.shadow_reasons.is_empty() {
                String::new()
            } else {
                format!("; shadow rules fired: {}", r.shadow_reasons.join(", "))
            };
            let rules = r
                .rules
                .iter()
                .map(|rule| TraceRule {
                    rule: rule.rule.clone(),
                    fired: rule.fired,
                    points: rule.points,
                    mode: if rule.shadow { "shadow" } else { "live" },
                    input: rule.input.map_or_else(|| "–".to_owned(), |n| n.to_string()),
                })
                .collect();
            let policy_version = r.policy_version.clone().unwrap_or_else(|| "not recorded".to_owned());
            let summary = format!("Decision {} with score {} ({}){shadow}", r.decision, r.score, listed(&r.reasons));
            return (Some(summary), Some(TraceRisk { policy_version, rules }));
        }
        Step::Held(h) => {
            let ends =
                h.expires_at.as_deref().map(|at| format!("; the hold ends undecided at {at}")).unwrap_or_default();
            format!("Held for review, no code sent ({}){ends}", listed(&h.reasons))
        }
        Step::Blocked(b) => format!("Blocked, nothing sent ({}){}", listed(&b.reasons), retry(b.retry_after_seconds)),
        Step::Refused(r) => {
            let what = if r.action == "resend" { "Resend" } else { "Code check" };
            format!("{what} refused unjudged by the limit {}{}", r.reason, retry(r.retry_after_seconds))
        }
        Step::LockEngaged(l) => {
            let after = l.wrong_codes.map(|n| format!(" after {n} wrong codes in 24 h")).unwrap_or_default();
            format!(
                "Wrong-code lock engaged on the {}{after}: its checks and resends are refused and new verifications blocked{}",
                l.subject,
                until(&l.until)
            )
        }
        Step::RangeBurst(b) => {
            let counts = match (b.unconfirmed, b.usual_rate) {
                (Some(n), Some(rate)) => format!(": {n} codes not used in 10 minutes against a usual {rate:.1}"),
                _ => String::new(),
            };
            let range = b.range_digits.map(|d| format!(" (the first {d} digits)")).unwrap_or_default();
            format!("Number range burst (SMS pumping){range}{counts}; sends to the range pause{}", until(&b.until))
        }
    };
    (Some(summary), None)
}

#[derive(Template)]
#[template(path = "admin_trace.html")]
struct TracePage {
    brand_name: String,
    order_id: String,
    verifications: Vec<TraceVerification>,
    events: Vec<TraceEvent>,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TraceQuery {
    /// The brand's slug.
    brand: String,
    /// The shop's order id.
    order: String,
}

#[utoipa::path(
    get, path = "/admin/trace", tag = "admin", params(TraceQuery),
    responses(
        (status = 200, description = "Every verification and event of the order; the view is audited", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn trace(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<TraceQuery>,
) -> Result<Response, PageError> {
    let brand = visible_brand(&app, &user, &query.brand)?;
    let order_id: String = query.order.trim().chars().take(128).collect();
    let found = service::order_trace(&app, &user, &brand, &order_id, app.clock.now()).await?;
    let verifications = found
        .verifications
        .into_iter()
        .map(|v| TraceVerification {
            id: v.id,
            status: v.status.as_str(),
            number: v.number,
            amount: crate::brand::format_amount(v.amount, "en"),
            started: crate::clock::rfc3339(v.started.millis()),
        })
        .collect();
    let events = found
        .events
        .into_iter()
        .map(|traced| {
            let (summary, risk) = explain(&traced.step);
            let e = traced.event;
            TraceEvent {
                at: crate::clock::rfc3339(e.at),
                kind: e.kind.as_str(),
                summary,
                risk,
                details: e.attrs.to_string(),
            }
        })
        .collect();
    let html = TracePage { brand_name: brand.name.clone(), order_id, verifications, events }.render();
    page(StatusCode::OK, html, Vec::new())
}

struct AuditRow {
    at: String,
    username: String,
    role: &'static str,
    action: &'static str,
    brand: String,
    subject: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    user: String,
    entries: Vec<AuditRow>,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this user's views.
    user: Option<String>,
}

#[utoipa::path(
    get, path = "/admin/audit", tag = "admin", params(AuditQuery),
    responses(
        (status = 200, description = "Who looked at personal data, newest first", content_type = "text/html"),
        (status = 403, description = "Only auditors and operators read the audit log", content_type = "text/html"),
    )
)]
pub async fn audit_log(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let name = query.user.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
    let entries = audit::search(&app, &user, name.clone()).await?;
    let entries = entries
        .into_iter()
        .map(|e| AuditRow {
            at: crate::clock::rfc3339(e.at.millis()),
            username: e.username,
            role: e.role.as_str(),
            action: e.action.as_str(),
            brand: e.brand.unwrap_or_default(),
            subject: e.subject,
        })
        .collect();
    page(StatusCode::OK, AuditPage { user: name.unwrap_or_default(), entries }.render(), Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Event;
    use orderguard_domain::event::EventKind;
    use serde_json::json;

    fn explained(kind: EventKind, attrs: serde_json::Value) -> (Option<String>, Option<TraceRisk>) {
        let event = Event { id: 1, kind, at: 0, verification_id: None, order_id: None, attrs };
        explain(&Step::of(&event))
    }

    #[test]
    fn the_trace_explains_limits_locks_bursts_and_holds() {
        let (lock, _) = explained(
            EventKind::LockEngaged,
            json!({ "subject": "customer", "wrong_codes": 10, "until": "2030-01-02T00:00:00Z" }),
        );
        assert_eq!(
            lock.as_deref(),
            Some(
                "Wrong-code lock engaged on the customer after 10 wrong codes in 24 h: its checks and resends \
                 are refused and new verifications blocked until 2030-01-02T00:00:00Z"
            )
        );
        let refused = json!({ "reason": "wrong_code_lock_number", "retry_after_seconds": 86_340, "action": "resend" });
        let (refused, _) = explained(EventKind::CheckRefused, refused);
        assert_eq!(
            refused.as_deref(),
            Some("Resend refused unjudged by the limit wrong_code_lock_number; retry after 23 h 59 min")
        );
        let burst = json!({ "range_digits": 9, "unconfirmed": 20, "usual_rate": 0.3, "until": "T" });
        assert_eq!(
            explained(EventKind::RangeBurst, burst).0.as_deref(),
            Some(
                "Number range burst (SMS pumping) (the first 9 digits): 20 codes not used in 10 minutes against \
                 a usual 0.3; sends to the range pause until T"
            )
        );
        let held = json!({ "reasons": ["device_many_customers"], "expires_at": "T" });
        assert_eq!(
            explained(EventKind::VerificationHeld, held).0.as_deref(),
            Some("Held for review, no code sent (reasons: device_many_customers); the hold ends undecided at T")
        );
        let blocked = json!({ "reasons": ["sms_limit_number"], "retry_after_seconds": 75, "amount": 5 });
        assert_eq!(
            explained(EventKind::VerificationBlocked, blocked).0.as_deref(),
            Some("Blocked, nothing sent (reasons: sms_limit_number); retry after 1 min 15 s")
        );
        assert_eq!((wait(86_400), wait(720), wait(59)), ("24 h".to_owned(), "12 min".to_owned(), "59 s".to_owned()));
        assert!(explained(EventKind::SmsQueued, json!({ "message_id": "m" })).0.is_none());
        assert!(explained(EventKind::CheckRefused, json!({ "unexpected": true })).0.is_none(), "shown raw");
    }

    #[test]
    fn a_risk_decision_shows_every_rule_and_the_policy_version() {
        let attrs = json!({
            "decision": "review", "score": 50, "reasons": ["device_many_customers"],
            "shadow_reasons": ["velocity_network"], "policy_version": "0123456789ab",
            "rules": [
                { "rule": "device_many_customers", "fired": true, "points": 50, "shadow": false, "input": 3 },
                { "rule": "velocity_network", "fired": true, "points": 20, "shadow": true, "input": 25 },
                { "rule": "voip_number", "fired": false, "points": 40, "shadow": false },
            ],
        });
        let (summary, risk) = explained(EventKind::RiskAssessed, attrs);
        assert_eq!(
            summary.as_deref(),
            Some(
                "Decision review with score 50 (reasons: device_many_customers); shadow rules fired: velocity_network"
            )
        );
        let risk = risk.unwrap();
        assert_eq!(risk.policy_version, "0123456789ab");
        let rows: Vec<_> =
            risk.rules.iter().map(|r| (r.rule.as_str(), r.fired, r.points, r.mode, r.input.as_str())).collect();
        assert_eq!(
            rows,
            [
                ("device_many_customers", true, 50, "live", "3"),
                ("velocity_network", true, 20, "shadow", "25"),
                ("voip_number", false, 40, "live", "–"),
            ]
        );
        let old = explained(EventKind::RiskAssessed, json!({ "decision": "allow", "score": 0, "reasons": [] }));
        assert_eq!(old.1.unwrap().policy_version, "not recorded", "events from before policy versions");
    }
}
