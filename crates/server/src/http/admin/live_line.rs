//! One event of the log as one readable line of the live monitor: what happened in words, the
//! figures that matter to a fraud analyst (amount, country, provider, latency, risk reasons), a
//! tone for its colour, and what the monitor's filters read (family, decision, country).

use orderguard_domain::event::EventKind;
use orderguard_domain::money::{Currency, Money};
use serde_json::Value;

/// How a line is coloured: what went wrong, what waits for a person, what went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    Bad,
    Held,
    Good,
    Plain,
}

impl Tone {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bad => "bad",
            Self::Held => "held",
            Self::Good => "good",
            Self::Plain => "plain",
        }
    }
}

/// The families the monitor filters by: the part of the event type before the dot.
pub const FAMILIES: [(&str, &str); 9] = [
    ("verification", "verification"),
    ("risk", "risk and limits"),
    ("sms", "SMS"),
    ("check", "codes typed"),
    ("review", "review decisions"),
    ("network", "SIM and device swap checks"),
    ("order", "order outcomes"),
    ("alert", "alerts"),
    ("identity", "identity service"),
];

/// The decisions the monitor filters by.
pub const DECISIONS: [&str; 3] = ["allow", "review", "deny"];

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Line {
    /// What happened, in words: `SMS handed to a provider`.
    pub step: &'static str,
    /// The figures of this step, `·`-separated: `849.00 EUR · DE · smsc · 120 ms`.
    pub detail: String,
    pub tone: Tone,
    /// `verification`, `sms`, … (see `FAMILIES`).
    pub family: &'static str,
    /// `allow`, `review` or `deny` where the step decided.
    pub decision: Option<&'static str>,
    /// ISO 3166 country of the number (or of the SMS), where the step names it.
    pub country: Option<String>,
}

fn step(kind: EventKind) -> (&'static str, Tone) {
    use EventKind as K;
    match kind {
        K::VerificationCreated => ("order started", Tone::Plain),
        K::RiskAssessed => ("risk assessed", Tone::Plain),
        K::VerificationBlocked => ("blocked, no code sent", Tone::Bad),
        K::SmsQueued => ("SMS queued", Tone::Plain),
        K::SmsSubmitted => ("SMS handed to a provider", Tone::Plain),
        K::SmsAttemptFailed => ("SMS provider failed, trying the next", Tone::Held),
        K::SmsFailed => ("SMS failed", Tone::Bad),
        K::SmsExpired => ("SMS expired before it went out", Tone::Bad),
        K::SmsDelivered => ("SMS delivered", Tone::Good),
        K::CheckFailed => ("wrong code typed", Tone::Held),
        K::VerificationApproved => ("approved: the right code", Tone::Good),
        K::VerificationFailed => ("failed: the last attempt was wrong", Tone::Bad),
        K::VerificationResent => ("new code sent", Tone::Plain),
        K::VerificationCanceled => ("canceled", Tone::Plain),
        K::VerificationExpired => ("abandoned: nobody came back", Tone::Plain),
        K::VerificationUndeliverable => ("undeliverable: no provider could send", Tone::Bad),
        K::IdentityFailed => ("identity service failed", Tone::Bad),
        K::OrderOutcomeReported => ("order outcome reported", Tone::Plain),
        K::VerificationHeld => ("held for review", Tone::Held),
        K::ReviewApproved => ("review: approved", Tone::Good),
        K::ReviewReleased => ("review: code released", Tone::Plain),
        K::ReviewRejected => ("review: rejected", Tone::Bad),
        K::CheckRefused => ("refused by a limit", Tone::Bad),
        K::LockEngaged => ("wrong-code lock engaged", Tone::Bad),
        K::LockLifted => ("wrong-code lock lifted", Tone::Plain),
        K::RangeBurst => ("number range burst: sends paused", Tone::Bad),
        K::PolicyChanged => ("policy changed", Tone::Plain),
        K::NetworkChecked => ("SIM or device swap checked", Tone::Plain),
        K::WebhookTest => ("webhook test", Tone::Plain),
        K::WebhookEndpointDisabled => ("webhook endpoint disabled", Tone::Bad),
        K::AlertRaised => ("alert raised", Tone::Bad),
        K::AlertAcknowledged => ("alert acknowledged", Tone::Held),
        K::AlertResolved => ("alert resolved", Tone::Good),
    }
}

fn text(attrs: &Value, key: &str) -> Option<String> {
    match attrs.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `849.00 EUR` from an amount in minor units and its currency.
fn amount(attrs: &Value, amount_key: &str) -> Option<String> {
    let minor = attrs.get(amount_key)?.as_i64()?;
    let currency = Currency::parse(attrs.get("currency")?.as_str()?).ok()?;
    Some(format!("{} {}", Money::from_minor(minor, currency).to_decimal(), currency.code()))
}

/// Reason codes as words: `shipping_country_differs_from_number` → `shipping country differs from number`.
fn reasons(attrs: &Value) -> Option<String> {
    let codes: Vec<String> = match attrs.get("reasons") {
        Some(Value::Array(codes)) => codes.iter().filter_map(Value::as_str).map(|c| c.replace('_', " ")).collect(),
        _ => attrs.get("reason").and_then(Value::as_str).map(|c| vec![c.replace('_', " ")]).unwrap_or_default(),
    };
    (!codes.is_empty()).then(|| codes.join(", "))
}

fn decision_of(kind: EventKind, attrs: &Value) -> Option<&'static str> {
    match kind {
        EventKind::VerificationBlocked | EventKind::ReviewRejected => Some("deny"),
        EventKind::VerificationHeld => Some("review"),
        EventKind::ReviewApproved | EventKind::ReviewReleased => Some("allow"),
        EventKind::RiskAssessed => {
            let decision = attrs.get("decision").and_then(Value::as_str)?;
            DECISIONS.into_iter().find(|d| *d == decision)
        }
        _ => None,
    }
}

/// The step's words and tone where its attributes change them.
fn refined(
    kind: EventKind,
    attrs: &Value,
    decision: Option<&str>,
    (step, tone): (&'static str, Tone),
) -> (&'static str, Tone) {
    let flag = |key: &str| attrs.get(key).and_then(Value::as_bool);
    let word = |key: &str| attrs.get(key).and_then(Value::as_str);
    match kind {
        // The rules' verdict colours its step as the order's outcome will be.
        EventKind::RiskAssessed => match decision {
            Some("deny") => (step, Tone::Bad),
            Some("review") => (step, Tone::Held),
            _ => (step, tone),
        },
        EventKind::SmsFailed if flag("final") == Some(false) => ("SMS hand-off failed, retrying", Tone::Held),
        EventKind::SmsAttemptFailed if word("result") == Some("skipped") => {
            ("SMS provider skipped, trying the next", Tone::Held)
        }
        EventKind::OrderOutcomeReported if matches!(word("outcome"), Some("fraud_confirmed" | "chargeback")) => {
            ("order outcome reported: fraud", Tone::Bad)
        }
        EventKind::NetworkChecked if word("outcome") == Some("swapped") => match word("action") {
            Some("deny") => ("SIM or device swapped: refused", Tone::Bad),
            Some("review") => ("SIM or device swapped: held", Tone::Held),
            _ => ("SIM or device swapped", Tone::Held),
        },
        _ => (step, tone),
    }
}

/// `key value` when the attribute is there.
fn labelled(attrs: &Value, key: &str, label: &str) -> Option<String> {
    text(attrs, key).map(|value| format!("{label} {value}"))
}

pub fn line(kind: EventKind, attrs: &Value) -> Line {
    let decision = decision_of(kind, attrs);
    let (step, tone) = refined(kind, attrs, decision, step(kind));
    let country = text(attrs, "phone_region").or_else(|| text(attrs, "country"));
    let words = |key: &str| text(attrs, key).map(|w| w.replace('_', " "));
    let mut parts: Vec<String> = Vec::new();
    parts.extend(amount(attrs, "amount"));
    parts.extend(amount(attrs, "amount_lost").map(|a| format!("lost {a}")));
    parts.extend(country.clone());
    if kind == EventKind::RiskAssessed {
        parts.extend(labelled(attrs, "decision", "decision"));
        parts.extend(labelled(attrs, "score", "score"));
    }
    parts.extend(words("outcome"));
    parts.extend(words("api"));
    parts.extend(words("age_band").map(|band| format!("within {band}")));
    parts.extend(text(attrs, "provider"));
    parts.extend(text(attrs, "latency_ms").map(|ms| format!("{ms} ms")));
    parts.extend(labelled(attrs, "attempt", "attempt"));
    parts.extend(labelled(attrs, "attempts", "attempts"));
    parts.extend(words("result"));
    parts.extend(labelled(attrs, "next_attempt_in_ms", "next try in").map(|t| format!("{t} ms")));
    parts.extend(labelled(attrs, "status", "status"));
    parts.extend(labelled(attrs, "error_code", "error"));
    parts.extend(words("subject"));
    parts.extend(labelled(attrs, "wrong_codes", "wrong codes"));
    parts.extend(labelled(attrs, "unconfirmed", "unconfirmed codes"));
    parts.extend(labelled(attrs, "usual_rate", "usual rate"));
    parts.extend(reasons(attrs));
    parts.extend(text(attrs, "title").or_else(|| words("rule")));
    parts.extend(text(attrs, "key"));
    if let (Some(observed), Some(expected)) = (text(attrs, "observed"), text(attrs, "expected")) {
        parts.push(format!("observed {observed}, expected {expected}"));
    }
    parts.extend(text(attrs, "error"));
    Line {
        step,
        detail: parts.join(" · "),
        tone,
        family: kind.as_str().split('.').next().unwrap_or_default(),
        decision,
        country,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_kind_reads_as_words_with_its_figures() {
        let created = line(
            EventKind::VerificationCreated,
            &json!({ "amount": 84900, "currency": "EUR", "phone_region": "DE", "hardware": true }),
        );
        assert_eq!((created.step, created.detail.as_str()), ("order started", "849.00 EUR · DE"));
        assert_eq!((created.family, created.country.as_deref()), ("verification", Some("DE")));
        let assessed = line(
            EventKind::RiskAssessed,
            &json!({ "decision": "review", "score": 70, "reasons": ["new_device_high_value", "voip_number"] }),
        );
        assert_eq!(assessed.detail, "decision review · score 70 · new device high value, voip number");
        assert_eq!((assessed.decision, assessed.tone), (Some("review"), Tone::Held));
        let sent = line(EventKind::SmsSubmitted, &json!({ "provider": "smsc", "latency_ms": 120, "country": "DE" }));
        assert_eq!((sent.detail.as_str(), sent.family), ("DE · smsc · 120 ms", "sms"));
        let blocked = line(EventKind::VerificationBlocked, &json!({ "reasons": ["sms_limit_number"] }));
        assert_eq!((blocked.tone, blocked.decision), (Tone::Bad, Some("deny")));
        assert_eq!(line(EventKind::VerificationHeld, &json!({})).tone, Tone::Held);
        assert_eq!(line(EventKind::VerificationApproved, &json!({})).tone, Tone::Good);
        let alert = line(
            EventKind::AlertRaised,
            &json!({ "title": "Codes to one number range", "key": "range:+49151", "observed": 20, "expected": 1.5 }),
        );
        assert_eq!(
            (alert.family, alert.detail.as_str()),
            ("alert", "Codes to one number range · range:+49151 · observed 20, expected 1.5")
        );
        let retrying = line(EventKind::SmsFailed, &json!({ "final": false, "attempt": 1, "next_attempt_in_ms": 2000 }));
        assert_eq!((retrying.step, retrying.tone), ("SMS hand-off failed, retrying", Tone::Held));
        assert_eq!(retrying.detail, "attempt 1 · next try in 2000 ms");
        let fraud = line(
            EventKind::OrderOutcomeReported,
            &json!({ "outcome": "fraud_confirmed", "amount_lost": 84900, "currency": "EUR" }),
        );
        assert_eq!((fraud.tone, fraud.detail.as_str()), (Tone::Bad, "lost 849.00 EUR · fraud confirmed"));
        let swapped = line(
            EventKind::NetworkChecked,
            &json!({ "api": "sim_swap", "outcome": "swapped", "age_band": "24h", "action": "deny" }),
        );
        assert_eq!((swapped.step, swapped.tone), ("SIM or device swapped: refused", Tone::Bad));
        assert_eq!(swapped.detail, "swapped · sim swap · within 24h");
        assert_eq!(line(EventKind::ReviewApproved, &json!({})).decision, Some("allow"));
        let lock = line(EventKind::LockEngaged, &json!({ "subject": "customer", "wrong_codes": 10 }));
        assert_eq!(lock.detail, "customer · wrong codes 10");
    }

    #[test]
    fn every_kind_has_a_family_the_filter_offers_or_is_a_housekeeping_step() {
        for kind in EventKind::ALL {
            let family = line(kind, &json!({})).family;
            let housekeeping = ["policy", "webhook"].contains(&family);
            assert!(housekeeping || FAMILIES.iter().any(|(f, _)| *f == family), "{kind}: {family}");
        }
    }
}
