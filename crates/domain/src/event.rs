//! The kinds of event in the append-only event log (PRODUCT.md §4). Every step of every
//! verification is one event with a time, its brand, verification and order, and attributes; the
//! dashboards count them, the order trace shows them, and webhooks deliver them. So this list is a
//! public contract: a kind keeps its name and its attributes keep their meaning; new attributes
//! may be added. Attributes never hold personal data (no phone number, code, IP address or name).
//!
//! Amounts are in minor units of `currency` (cents for EUR); times are RFC 3339 or Unix ms where
//! named `_ms`; latencies are milliseconds.
//!
//! The events that start or end a verification (see `EventKind::carries_slice`) also carry
//! `slice`: `country` (ISO 3166 of the number, `null` when unknown), and the `decision` and
//! `reasons` of the risk assessment the verification started with (the same on all its events,
//! though a suspected relay or a network recheck may change its risk later), so that the
//! dashboards can follow the outcomes of one country, decision or reason over time. Events
//! written before slices existed have none.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    /// A verification was started. `amount`, `currency`, `locale`, `phone_region` (ISO 3166 of
    /// the number, absent when unknown), `number_type`, `hardware` (the order has hardware),
    /// `phone_verified` and `phone_changed_at` (what the identity service said of the number).
    /// And `slice` (the module says what it holds).
    #[serde(rename = "verification.created")]
    VerificationCreated,
    /// The risk rules decided. `decision` (`allow`, `review`, `deny`), `score`, `reasons` (reason
    /// codes, see `risk::RiskReason`: the live rules that fired and any hard limit that refused),
    /// `shadow_reasons`, `rules` (every rule: `rule`, `fired`, `points`, `shadow`, `input`),
    /// `policy_version`, `network` (each network check: `api`, `outcome`, `age_band`).
    #[serde(rename = "risk.assessed")]
    RiskAssessed,
    /// Ended without a code: the risk rules denied it or a hard limit refused it. `reasons`,
    /// `amount`, `currency`, `retry_after_seconds` (when a limit refused).
    /// And `slice` (the module says what it holds).
    #[serde(rename = "verification.blocked")]
    VerificationBlocked,
    /// The code's SMS was queued. `message_id`.
    #[serde(rename = "sms.queued")]
    SmsQueued,
    /// A provider took the SMS. `message_id`, `provider`, `attempt`, `latency_ms`, `country`,
    /// `provider_message_id`, `probe` (it tested a provider whose circuit breaker was open).
    #[serde(rename = "sms.submitted")]
    SmsSubmitted,
    /// One provider of the route refused, failed or was skipped; the next one is tried.
    /// `message_id`, `attempt`, `provider`, `result` (`rejected`, `unavailable`, `skipped`),
    /// `error`, `latency_ms` (absent when skipped), `breaker_open` (skipped for its open circuit
    /// breaker, or tried despite it as the route's last provider).
    #[serde(rename = "sms.attempt_failed")]
    SmsAttemptFailed,
    /// The SMS failed. At hand-off (`stage`: `hand_off`): `message_id`, `attempt`, `final`, and
    /// `next_attempt_in_ms` or `reason`. In a delivery report (`stage`: `delivery`): `message_id`,
    /// `provider`, `country`, `latency_ms`, `status`, `error_code`.
    #[serde(rename = "sms.failed")]
    SmsFailed,
    /// The code expired before its SMS could be handed over. `message_id`, `attempt`, `final`, `reason`.
    #[serde(rename = "sms.expired")]
    SmsExpired,
    /// The handset got the SMS (a delivery report). `message_id`, `provider`, `country`,
    /// `latency_ms` (since the hand-off), `stage` (`delivery`), `status`, `error_code`.
    #[serde(rename = "sms.delivered")]
    SmsDelivered,
    /// A wrong code was typed. `attempt` (its number).
    #[serde(rename = "check.failed")]
    CheckFailed,
    /// The right code: the order is confirmed. `attempts`, `resends`, `seconds_since_sent`,
    /// `phone_region` (per country, the pumping alert counts the codes that were typed).
    /// And `slice` (the module says what it holds).
    #[serde(rename = "verification.approved")]
    VerificationApproved,
    /// The last attempt was wrong. `attempts`, `risk` (the decision), `amount`, `currency`.
    /// And `slice` (the module says what it holds).
    #[serde(rename = "verification.failed")]
    VerificationFailed,
    /// A new code went out; the old one stopped working. `resend` (its number), `message_id`.
    /// And `slice` (the module says what it holds).
    #[serde(rename = "verification.resent")]
    VerificationResent,
    /// The customer or shop aborted. `with_reason` (whether a reason was given; the reason itself
    /// stays with the verification, where it can be erased).
    /// And `slice` (the module says what it holds).
    #[serde(rename = "verification.canceled")]
    VerificationCanceled,
    /// Nobody came back in time: abandoned. `attempts`, `resends`.
    /// And `slice` (the module says what it holds).
    #[serde(rename = "verification.expired")]
    VerificationExpired,
    /// No provider could send the code. `reason`.
    /// And `slice` (the module says what it holds).
    #[serde(rename = "verification.undeliverable")]
    VerificationUndeliverable,
    /// The identity service failed or refused the customer's token (no verification exists yet).
    /// `connector`, `reason` (`unavailable`, `token_rejected`), `detail`, `customer_field`.
    #[serde(rename = "identity.failed")]
    IdentityFailed,
    /// The shop reported what became of the order. `outcome`, `amount_lost`, `currency`,
    /// `verifications` (how many the order had), `previous` (the outcome this report replaces).
    #[serde(rename = "order.outcome_reported")]
    OrderOutcomeReported,
    /// A `review` decision held the order: no code was sent; an analyst decides. `reasons`,
    /// `expires_at` (when the hold ends undecided).
    /// And `slice` (the module says what it holds).
    #[serde(rename = "verification.held")]
    VerificationHeld,
    /// An analyst approved a held order (the customer was verified another way).
    /// `actor_role`, `with_note`, `amount`, `currency`.
    #[serde(rename = "review.approved")]
    ReviewApproved,
    /// An analyst let the code of a held order go out; the verification is pending.
    /// `actor_role`, `with_note`, `message_id`, `amount`, `currency`.
    #[serde(rename = "review.released")]
    ReviewReleased,
    /// An analyst rejected a held order: blocked. `actor_role`, `with_note`, `amount` (minor
    /// units) and `currency` of the order (the losses-avoided estimate counts its value).
    #[serde(rename = "review.rejected")]
    ReviewRejected,
    /// A code or resend was refused unjudged by a hard limit. `reason` (reason code),
    /// `retry_after_seconds`, `action` (`check`, `resend`).
    #[serde(rename = "check.refused")]
    CheckRefused,
    /// Wrong codes reached the brand's limit: the customer's or number's checks are refused.
    /// `subject` (`customer`, `number`), `wrong_codes`, `until`.
    #[serde(rename = "risk.lock_engaged")]
    LockEngaged,
    /// An analyst lifted a wrong-code lock. `subject` (`customer`, `number`), `actor_role`.
    #[serde(rename = "risk.lock_lifted")]
    LockLifted,
    /// Codes to one number range burst (SMS pumping): sends to it pause. `range_digits`
    /// (length of the range prefix), `unconfirmed` (codes sent in the window and not used),
    /// `usual_rate`, `until`.
    #[serde(rename = "risk.range_burst")]
    RangeBurst,
    /// A brand's policy (rules, points, shadow modes, limits) differs from the one last recorded
    /// for the brand: recorded once per change, at the start of the instance that first runs it.
    /// `policy_version` (as in `risk.assessed`), `previous_version` (`null` the first time the
    /// brand's policy is recorded). Belongs to no verification or order.
    #[serde(rename = "policy.changed")]
    PolicyChanged,
    /// The telco's network was asked whether the number's SIM or device changed recently (CAMARA
    /// SIM Swap, Device Swap), before a code went out. `api` (`sim_swap`, `device_swap`), `gateway`
    /// (the configured name), `method` (`retrieve_date`, `check`), `on` (`create`, `resend`),
    /// `outcome` (`swapped`, `not_swapped`, `unavailable`), `age_band` (`24h`, `7d`, …, `older`,
    /// `none`; never the date itself), `monitored_days` (how far back the operator looks, when it
    /// says), `action` (`deny`, `review`, `score`, `note`; absent when none), `points`, `shadow`,
    /// `latency_ms`, `error` (why it was unavailable: a timeout, the HTTP status and the CAMARA
    /// `code` and `message`).
    #[serde(rename = "network.checked")]
    NetworkChecked,
    /// A person asked for a test delivery to one webhook endpoint (admin area or command line); it
    /// goes to that endpoint only. `endpoint`, `requested_by_role`.
    #[serde(rename = "webhook.test")]
    WebhookTest,
    /// orderguard disabled a webhook endpoint: it answered `410 Gone`, or no delivery to it has
    /// succeeded for the configured time. `endpoint`, `reason` (`gone`, `failing`),
    /// `failing_since` (RFC 3339, when `failing`). Belongs to no verification or order.
    #[serde(rename = "webhook.endpoint_disabled")]
    WebhookEndpointDisabled,
    /// An alert rule fired (docs/alerts.md). `alert_id`, `rule`, `key`, `severity`, `title`,
    /// `observed`, `expected`, `volume`, `baseline`, `window_minutes`, `orders` (some order ids
    /// behind it). Belongs to no verification or order.
    #[serde(rename = "alert.raised")]
    AlertRaised,
    /// A person acknowledged an alert. `alert_id`, `rule`, `key`, `severity`, `by_role` (who
    /// and their note are kept with the alert, not in the event log).
    #[serde(rename = "alert.acknowledged")]
    AlertAcknowledged,
    /// An alert was resolved: by itself after its condition had been normal for a while (`by_role`
    /// absent), or by a person (`by_role`). `alert_id`, `rule`, `key`, `severity`.
    #[serde(rename = "alert.resolved")]
    AlertResolved,
}

impl EventKind {
    pub const ALL: [EventKind; 33] = [
        Self::VerificationCreated,
        Self::RiskAssessed,
        Self::VerificationBlocked,
        Self::SmsQueued,
        Self::SmsSubmitted,
        Self::SmsAttemptFailed,
        Self::SmsFailed,
        Self::SmsExpired,
        Self::SmsDelivered,
        Self::CheckFailed,
        Self::VerificationApproved,
        Self::VerificationFailed,
        Self::VerificationResent,
        Self::VerificationCanceled,
        Self::VerificationExpired,
        Self::VerificationUndeliverable,
        Self::IdentityFailed,
        Self::OrderOutcomeReported,
        Self::VerificationHeld,
        Self::ReviewApproved,
        Self::ReviewReleased,
        Self::ReviewRejected,
        Self::CheckRefused,
        Self::LockEngaged,
        Self::LockLifted,
        Self::RangeBurst,
        Self::PolicyChanged,
        Self::NetworkChecked,
        Self::WebhookTest,
        Self::WebhookEndpointDisabled,
        Self::AlertRaised,
        Self::AlertAcknowledged,
        Self::AlertResolved,
    ];

    /// The verification's start, its resends and the ways it ends: the dashboards split these by
    /// the verification's country, risk decision and reasons (their `slice` attribute).
    pub fn carries_slice(self) -> bool {
        matches!(
            self,
            Self::VerificationCreated
                | Self::VerificationApproved
                | Self::VerificationFailed
                | Self::VerificationExpired
                | Self::VerificationCanceled
                | Self::VerificationBlocked
                | Self::VerificationHeld
                | Self::VerificationUndeliverable
                | Self::VerificationResent
        )
    }

    /// The name in the event log, the dashboards and webhooks: `verification.created`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerificationCreated => "verification.created",
            Self::RiskAssessed => "risk.assessed",
            Self::VerificationBlocked => "verification.blocked",
            Self::SmsQueued => "sms.queued",
            Self::SmsSubmitted => "sms.submitted",
            Self::SmsAttemptFailed => "sms.attempt_failed",
            Self::SmsFailed => "sms.failed",
            Self::SmsExpired => "sms.expired",
            Self::SmsDelivered => "sms.delivered",
            Self::CheckFailed => "check.failed",
            Self::VerificationApproved => "verification.approved",
            Self::VerificationFailed => "verification.failed",
            Self::VerificationResent => "verification.resent",
            Self::VerificationCanceled => "verification.canceled",
            Self::VerificationExpired => "verification.expired",
            Self::VerificationUndeliverable => "verification.undeliverable",
            Self::IdentityFailed => "identity.failed",
            Self::OrderOutcomeReported => "order.outcome_reported",
            Self::VerificationHeld => "verification.held",
            Self::ReviewApproved => "review.approved",
            Self::ReviewReleased => "review.released",
            Self::ReviewRejected => "review.rejected",
            Self::CheckRefused => "check.refused",
            Self::LockEngaged => "risk.lock_engaged",
            Self::LockLifted => "risk.lock_lifted",
            Self::RangeBurst => "risk.range_burst",
            Self::PolicyChanged => "policy.changed",
            Self::NetworkChecked => "network.checked",
            Self::WebhookTest => "webhook.test",
            Self::WebhookEndpointDisabled => "webhook.endpoint_disabled",
            Self::AlertRaised => "alert.raised",
            Self::AlertAcknowledged => "alert.acknowledged",
            Self::AlertResolved => "alert.resolved",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_round_trip_and_match_serde() {
        let mut names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventKind::ALL.len());
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), serde_json::json!(kind.as_str()));
        }
        assert_eq!(EventKind::parse("verification.created"), Some(EventKind::VerificationCreated));
        assert_eq!(EventKind::parse("nonsense"), None);
    }
}
