//! The brand's network checks (SIM swap, device swap) for one verification: asked in parallel,
//! outside any database transaction, each within its policy's time budget, then judged by the
//! domain. Measured in Prometheus; recorded as `network.checked` events by the caller's
//! transaction.

use std::sync::Arc;

use orderguard_domain::clock::Timestamp;
use orderguard_domain::swap::{self, FindingAction, SwapAnswer, SwapFinding, SwapOutcome, SwapPolicy};
use serde_json::json;

use crate::app::App;
use crate::brand::Brand;
use crate::network::Asked;

/// One check: what was asked, what came back and what the policy made of it.
#[derive(Debug, Clone)]
pub struct NetworkCheck {
    pub policy: SwapPolicy,
    pub asked: Asked,
    pub finding: SwapFinding,
}

/// Why a check ran: a new verification, or a resend long after the last check.
#[derive(Debug, Clone, Copy)]
pub enum CheckedOn {
    Create,
    Resend,
}

impl CheckedOn {
    fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Resend => "resend",
        }
    }
}

/// Runs every check of the brand whose policy `due` accepts, about `phone` (E.164).
pub async fn run(
    app: &Arc<App>,
    brand: &Brand,
    phone: &str,
    correlator: &str,
    due: impl Fn(&SwapPolicy) -> bool,
    now: Timestamp,
) -> Vec<NetworkCheck> {
    let asks = brand.policy.swap_checks.iter().filter(|p| due(p)).filter_map(|policy| {
        let api = brand.network_apis.get(&policy.kind)?;
        Some(async move {
            let asked = api.ask(policy, phone, correlator, now).await;
            let finding = swap::judge(policy, &asked.answer, now);
            NetworkCheck { policy: policy.clone(), asked, finding }
        })
    });
    let checks = futures_util::future::join_all(asks).await;
    for check in &checks {
        measure(app, brand, check);
    }
    checks
}

fn measure(app: &App, brand: &Brand, check: &NetworkCheck) {
    let api = check.policy.kind.as_str();
    let gateway = check.asked.gateway.as_str();
    let outcome = check.finding.outcome.as_str();
    app.metrics.observe(
        "orderguard_network_api_duration_seconds",
        &[("api", api), ("gateway", gateway)],
        check.asked.latency_ms as f64 / 1000.0,
    );
    app.metrics
        .increment("orderguard_network_api_calls_total", &[("api", api), ("gateway", gateway), ("outcome", outcome)]);
    let acts = check.finding.outcome == SwapOutcome::Swapped && !check.finding.shadow;
    if let (Some(band), true) = (&check.finding.age_band, acts) {
        let labels = [("api", api), ("band", band.as_str()), ("brand", brand.slug.as_str())];
        app.metrics.increment("orderguard_network_api_detections_total", &labels);
    }
    if let SwapAnswer::Unavailable { error } = &check.asked.answer {
        tracing::warn!(api, gateway, error = %error, "a network check had no answer");
    }
}

/// Whether any check got an answer (a resend soon after checks that got none asks again).
pub fn answered(checks: &[NetworkCheck]) -> bool {
    checks.iter().any(|c| c.finding.outcome != SwapOutcome::Unavailable)
}

/// The attributes of its `network.checked` event (docs: `EventKind::NetworkChecked`).
pub fn event_attrs(check: &NetworkCheck, on: CheckedOn) -> serde_json::Value {
    let finding = &check.finding;
    let (action, points) = match finding.action {
        None => (None, None),
        Some(FindingAction::Deny) => (Some("deny"), None),
        Some(FindingAction::Review) => (Some("review"), None),
        Some(FindingAction::Score(points)) => (Some("score"), Some(points)),
        Some(FindingAction::Note) => (Some("note"), None),
    };
    let (monitored_days, error) = match &check.asked.answer {
        SwapAnswer::Unavailable { error } => (None, Some(error.as_str())),
        // An answer judged unreadable (a change dated far ahead).
        _ if finding.outcome == SwapOutcome::Unavailable => (None, Some("the gateway dated the change in the future")),
        SwapAnswer::Date { monitored_days, .. } => (*monitored_days, None),
        SwapAnswer::Checked { .. } => (None, None),
    };
    json!({
        "api": check.policy.kind, "gateway": check.asked.gateway, "method": check.policy.method, "on": on.as_str(),
        "outcome": finding.outcome, "age_band": finding.age_band, "monitored_days": monitored_days,
        "action": action, "points": points, "shadow": finding.shadow, "latency_ms": check.asked.latency_ms,
        "error": error,
    })
}
