//! The attributes of every event kind, as data: for the webhooks section of the OpenAPI document
//! (a JSON schema of each type's `data`), and for a test that holds what the server really writes
//! against it. The prose of `EventKind` says what each attribute means; this says
//! its JSON type, whether every event of the kind has it, and whether it can be `null`.
//!
//! It follows what the server writes, not only what the prose says: the `json!` maps of the server
//! write an absent `Option` as `null`, so such an attribute is always present and nullable.
//!
//! Not attributes: `brand`, `event_id`, `verification_id` and `order_id`, which the webhook payload
//! adds to `data` from the event itself (and which an attribute of the same name could not replace).

use crate::event::EventKind;

// The types by name, so that the tables below read as lists: `String` in this module is the variant.
use AttributeType::{Boolean, Integer, Number, Object, ObjectList, String, StringList};

/// The JSON type of an attribute's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    String,
    Integer,
    /// A number that may have a fraction (a rate).
    Number,
    Boolean,
    StringList,
    /// An object whose fields the attribute's description names.
    Object,
    ObjectList,
}

impl AttributeType {
    /// The JSON Schema `type` of the value: `array` for the lists.
    pub fn json_schema_type(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::StringList | Self::ObjectList => "array",
            Self::Object => "object",
        }
    }

    /// The JSON Schema `type` of a list's items; `None` for a single value.
    pub fn item_type(self) -> Option<&'static str> {
        match self {
            Self::StringList => Some("string"),
            Self::ObjectList => Some("object"),
            Self::String | Self::Integer | Self::Number | Self::Boolean | Self::Object => None,
        }
    }
}

/// One attribute of an event kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: AttributeType,
    /// It may be `null`.
    pub nullable: bool,
    /// Every event of the kind has it (possibly `null`); otherwise only some do.
    pub always: bool,
    /// One sentence for the API documentation.
    pub about: &'static str,
}

/// Present in every event of the kind, never `null`.
const fn always(name: &'static str, kind: AttributeType, about: &'static str) -> Attribute {
    Attribute { name, kind, nullable: false, always: true, about }
}

/// Present in every event of the kind, `null` when there is nothing to say.
const fn or_null(name: &'static str, kind: AttributeType, about: &'static str) -> Attribute {
    Attribute { name, kind, nullable: true, always: true, about }
}

/// Present in some events of the kind only, never `null` when present.
const fn sometimes(name: &'static str, kind: AttributeType, about: &'static str) -> Attribute {
    Attribute { name, kind, nullable: false, always: false, about }
}

/// Present in some events of the kind only, and then possibly `null`.
const fn sometimes_or_null(name: &'static str, kind: AttributeType, about: &'static str) -> Attribute {
    Attribute { name, kind, nullable: true, always: false, about }
}

// Shared by several kinds, so that one attribute reads the same wherever it appears.
const AMOUNT: Attribute = always("amount", Integer, "The order's amount, in minor units of `currency`.");
const CURRENCY: Attribute = always("currency", String, "The order's currency (ISO 4217).");
const MESSAGE_ID: Attribute = always("message_id", String, "orderguard's id of the SMS.");
const ATTEMPT: Attribute = always("attempt", Integer, "The hand-off round of the SMS, from 1.");
const PROVIDER: Attribute = always("provider", String, "The SMS provider, as named in the configuration.");
const COUNTRY: Attribute = always("country", String, "The destination's ISO 3166 region, `ZZ` when unknown.");
const ATTEMPTS: Attribute = always("attempts", Integer, "How many codes were typed.");
const RESENDS: Attribute = always("resends", Integer, "How many times the code was sent again.");
const REASONS: Attribute =
    always("reasons", StringList, "Reason codes: the live rules that fired and any hard limit that refused.");
const ACTOR_ROLE: Attribute =
    always("actor_role", String, "The role of the analyst who decided: `operator`, `brand_admin`, `analyst`.");
const WITH_NOTE: Attribute =
    always("with_note", Boolean, "Whether the analyst wrote a note (the note stays with the verification).");
const RELAY: Attribute = sometimes(
    "relay",
    Object,
    "Where the code was typed, compared with the order: `network_differs`, `device_differs` (booleans).",
);
const EXPIRES_AT: Attribute = always("expires_at", String, "When the hold ends undecided (RFC 3339).");
const DELIVERY_LATENCY: Attribute =
    or_null("latency_ms", Integer, "Milliseconds since the hand-off; `null` when the hand-off time is unknown.");
const DELIVERY_STATUS: Attribute =
    always("status", String, "The provider's status, in words (`delivered`, `expired`, …).");
const DELIVERY_ERROR_CODE: Attribute = or_null("error_code", String, "The provider's error code, if it gave one.");

const SLICE: Attribute = sometimes(
    "slice",
    Object,
    "The verification's `country` (ISO 3166 or `null`), and the risk `decision` and `reasons` it started with.",
);
const PHONE_REGION: Attribute = or_null("phone_region", String, "The number's ISO 3166 region; `null` when unknown.");

const VERIFICATION_CREATED: &[Attribute] = &[
    AMOUNT,
    CURRENCY,
    always("locale", String, "The language of the SMS and the hosted page."),
    PHONE_REGION,
    always("number_type", String, "What kind of line the number is (`mobile`, `voip`, …)."),
    always("hardware", Boolean, "Whether the order has hardware."),
    always("phone_verified", Boolean, "Whether the identity service said the number is verified."),
    or_null(
        "phone_changed_at",
        String,
        "When the identity service says the number last changed (RFC 3339); `null` when it does not say.",
    ),
    SLICE,
];

const RISK_ASSESSED: &[Attribute] = &[
    always("decision", String, "The decision: `allow`, `review`, `deny`."),
    always("score", Integer, "The risk score: the points of the live rules and network checks that fired."),
    REASONS,
    always("shadow_reasons", StringList, "Reason codes of the shadow rules that fired (not counted)."),
    always(
        "rules",
        ObjectList,
        "Every rule: `rule`, `fired`, `points`, `shadow`, and `input` (the count or age compared) when it had one.",
    ),
    always("policy_version", String, "The version of the brand's policy that decided."),
    always("network", ObjectList, "Each network check: `api`, `outcome`, `age_band`."),
    or_null(
        "list",
        Object,
        "The allow- or block-list entry that decided: `list`, `kind`, `entry` (its id); `null` when none.",
    ),
];

const VERIFICATION_BLOCKED: &[Attribute] = &[
    REASONS,
    AMOUNT,
    CURRENCY,
    sometimes_or_null(
        "retry_after_seconds",
        Integer,
        "When a hard limit refused: seconds until a new verification can succeed.",
    ),
    SLICE,
];

const SMS_QUEUED: &[Attribute] = &[MESSAGE_ID];

const SMS_SUBMITTED: &[Attribute] = &[
    MESSAGE_ID,
    PROVIDER,
    ATTEMPT,
    always("latency_ms", Integer, "How long the provider took to take it, in milliseconds."),
    COUNTRY,
    or_null("provider_message_id", String, "The provider's id of the SMS, if it gave one."),
    always("probe", Boolean, "Whether it tested a provider whose circuit breaker was open."),
];

const SMS_ATTEMPT_FAILED: &[Attribute] = &[
    MESSAGE_ID,
    ATTEMPT,
    PROVIDER,
    always("result", String, "What the provider did: `rejected`, `unavailable`, `skipped`."),
    always("error", String, "Why, in words."),
    sometimes("latency_ms", Integer, "How long the provider took to answer; absent when skipped."),
    always(
        "breaker_open",
        Boolean,
        "Whether the provider's circuit breaker was open: skipped, or tried as the route's last resort.",
    ),
];

const SMS_FAILED: &[Attribute] = &[
    MESSAGE_ID,
    sometimes(
        "stage",
        String,
        "Where: `hand_off` (another round follows) or `delivery`; absent when the last round failed.",
    ),
    sometimes("attempt", Integer, "At hand-off: the round that failed, from 1."),
    sometimes("final", Boolean, "At hand-off: whether no round follows."),
    sometimes("next_attempt_in_ms", Integer, "At hand-off, when another round follows: milliseconds until it."),
    sometimes("reason", String, "At hand-off, when no round follows: why, in words."),
    sometimes("provider", String, "In a delivery report: the SMS provider, as named in the configuration."),
    sometimes("country", String, "In a delivery report: the destination's ISO 3166 region, `ZZ` when unknown."),
    sometimes_or_null(
        "latency_ms",
        Integer,
        "In a delivery report: milliseconds since the hand-off; `null` when unknown.",
    ),
    sometimes("status", String, "In a delivery report: the provider's status, in words."),
    sometimes_or_null("error_code", String, "In a delivery report: the provider's error code, if it gave one."),
];

const SMS_EXPIRED: &[Attribute] = &[
    MESSAGE_ID,
    ATTEMPT,
    always("final", Boolean, "Always `true`: the SMS is not tried again."),
    always("reason", String, "Why, in words."),
];

const SMS_DELIVERED: &[Attribute] = &[
    MESSAGE_ID,
    PROVIDER,
    COUNTRY,
    DELIVERY_LATENCY,
    always("stage", String, "Always `delivery`."),
    DELIVERY_STATUS,
    DELIVERY_ERROR_CODE,
];

const CHECK_FAILED: &[Attribute] = &[always("attempt", Integer, "The number of the wrong code, from 1.")];

const VERIFICATION_APPROVED: &[Attribute] = &[
    ATTEMPTS,
    RESENDS,
    always("seconds_since_sent", Integer, "Seconds from the last code sent to the right one typed."),
    RELAY,
    PHONE_REGION,
    SLICE,
];

const VERIFICATION_FAILED: &[Attribute] = &[
    ATTEMPTS,
    always("risk", String, "The risk decision of the verification: `allow`, `review`, `deny`."),
    AMOUNT,
    CURRENCY,
    SLICE,
];

const VERIFICATION_RESENT: &[Attribute] = &[
    always("resend", Integer, "The number of this resend, from 1."),
    always("message_id", String, "orderguard's id of the new SMS."),
    SLICE,
];

const VERIFICATION_CANCELED: &[Attribute] = &[
    always("with_reason", Boolean, "Whether a reason was given (the reason itself stays with the verification)."),
    SLICE,
];

const VERIFICATION_EXPIRED: &[Attribute] = &[ATTEMPTS, RESENDS, SLICE];

const VERIFICATION_UNDELIVERABLE: &[Attribute] =
    &[always("reason", String, "Why no provider could send the code, in words."), SLICE];

const IDENTITY_FAILED: &[Attribute] = &[
    always("connector", String, "The brand's identity connector."),
    always("reason", String, "What went wrong: `unavailable`, `token_rejected`."),
    always("detail", String, "Why, in words."),
    always(
        "customer_field",
        String,
        "Which reference the shop sent: `customer.id`, `customer.access_token`, `customer.id_token`.",
    ),
];

const ORDER_OUTCOME_REPORTED: &[Attribute] = &[
    always(
        "outcome",
        String,
        "What became of the order: `completed`, `canceled`, `fraud_confirmed`, `chargeback`, `hardware_damaged`.",
    ),
    or_null("amount_lost", Integer, "The amount lost, in minor units of `currency`; `null` when none was reported."),
    or_null("currency", String, "The currency of `amount_lost`; `null` without it."),
    always("verifications", Integer, "How many verifications the order had."),
    or_null(
        "previous",
        Object,
        "The report this one replaces: `outcome`, `amount_lost`, `currency`; `null` for the first.",
    ),
];

const VERIFICATION_HELD: &[Attribute] = &[REASONS, EXPIRES_AT, RELAY, SLICE];

const REVIEW_DECIDED: &[Attribute] = &[ACTOR_ROLE, WITH_NOTE];

const REVIEW_RELEASED: &[Attribute] =
    &[ACTOR_ROLE, WITH_NOTE, always("message_id", String, "orderguard's id of the SMS with the code.")];

const CHECK_REFUSED: &[Attribute] = &[
    always("reason", String, "The reason code of the limit that refused."),
    always("retry_after_seconds", Integer, "Seconds until the limit lets it through."),
    always("action", String, "What was refused: `check`, `resend`."),
];

const LOCK_ENGAGED: &[Attribute] = &[
    always("subject", String, "Whose checks are refused: `customer`, `number`."),
    always("wrong_codes", Integer, "The brand's limit of wrong codes that was reached."),
    always("until", String, "When the lock ends (RFC 3339)."),
];

// Not written by the server yet: as the prose of the kind has it.
const LOCK_LIFTED: &[Attribute] =
    &[always("subject", String, "Whose lock was lifted: `customer`, `number`."), ACTOR_ROLE];

const RANGE_BURST: &[Attribute] = &[
    always("range_digits", Integer, "The length of the range prefix (the range itself is not given)."),
    always("unconfirmed", Integer, "Codes sent to the range in the window and not used."),
    always("usual_rate", Number, "The range's usual rate of codes."),
    always("until", String, "When sends to the range resume (RFC 3339)."),
];

const POLICY_CHANGED: &[Attribute] = &[
    always("policy_version", String, "The version of the brand's policy now in force."),
    or_null("previous_version", String, "The version it replaces; `null` the first time."),
];

const NETWORK_CHECKED: &[Attribute] = &[
    always("api", String, "Which check: `sim_swap`, `device_swap`."),
    always("gateway", String, "The network gateway, as named in the configuration."),
    always("method", String, "The CAMARA operation: `retrieve_date`, `check`."),
    always("on", String, "Why it was asked: `create`, `resend`."),
    always("outcome", String, "What the network said: `swapped`, `not_swapped`, `unavailable`."),
    or_null(
        "age_band",
        String,
        "The band of the change (`24h`, `7d`, …, `older`, `none`; never the date); `null` when unavailable.",
    ),
    or_null("monitored_days", Integer, "How far back the operator looks, when it says."),
    or_null("action", String, "What it does to the decision: `deny`, `review`, `score`, `note`; `null` when none."),
    or_null("points", Integer, "The points it adds, with `action` `score`."),
    always("shadow", Boolean, "Whether the check is in shadow mode (recorded, not counted)."),
    always("latency_ms", Integer, "How long the gateway took, in milliseconds."),
    or_null("error", String, "Why it was unavailable: a timeout, the HTTP status and the CAMARA `code` and `message`."),
];

// Neither webhook kind is written by the server yet: as their prose has them.
const WEBHOOK_TEST: &[Attribute] = &[
    always("endpoint", String, "The webhook endpoint the test went to."),
    always("requested_by_role", String, "The role of who asked for it: `operator`, `brand_admin`."),
];

const WEBHOOK_ENDPOINT_DISABLED: &[Attribute] = &[
    always("endpoint", String, "The webhook endpoint that was disabled."),
    always("reason", String, "Why: `gone` (it answered `410 Gone`), `failing`."),
    sometimes("failing_since", String, "When `failing`: since when no delivery succeeded (RFC 3339)."),
];

const ALERT_RAISED: &[Attribute] = &[
    always("alert_id", Integer, "The alert's id (its page: `/admin/alerts/{alert_id}`)."),
    always("rule", String, "The rule that fired, e.g. `wrong_code_rate_rise` (docs/alerts.md)."),
    always(
        "key",
        String,
        "What it fired for within the brand: a provider, a country, an endpoint; empty for the brand.",
    ),
    always("severity", String, "`warning` or `critical`."),
    always("title", String, "The rule in words."),
    always("observed", Number, "The share (0–1) or count the rule saw in its window."),
    or_null("expected", Number, "The baseline's share or expected count; null for rules with a fixed level."),
    always("volume", Integer, "How many the share was of (or the count)."),
    always("baseline", String, "`hour_of_week`, `day_of_week`, `all_hours` or `none`."),
    always("window_minutes", Integer, "The rolling window."),
    always("orders", StringList, "Some order ids behind it (at most 20)."),
];

const ALERT_ACKNOWLEDGED: &[Attribute] = &[
    always("alert_id", Integer, "The alert's id."),
    always("rule", String, "The rule."),
    always("key", String, "Its key."),
    always("severity", String, "`warning` or `critical`."),
    always("by_role", String, "The role of who acknowledged it (their name and note are on the alert's page)."),
];

const ALERT_RESOLVED: &[Attribute] = &[
    always("alert_id", Integer, "The alert's id."),
    always("rule", String, "The rule."),
    always("key", String, "Its key."),
    always("severity", String, "`warning` or `critical`."),
    sometimes("by_role", String, "The role of who resolved it; absent when it resolved by itself."),
];

impl EventKind {
    /// The attributes of events of this kind (see the module's documentation).
    pub fn attributes(self) -> &'static [Attribute] {
        match self {
            Self::VerificationCreated => VERIFICATION_CREATED,
            Self::RiskAssessed => RISK_ASSESSED,
            Self::VerificationBlocked => VERIFICATION_BLOCKED,
            Self::SmsQueued => SMS_QUEUED,
            Self::SmsSubmitted => SMS_SUBMITTED,
            Self::SmsAttemptFailed => SMS_ATTEMPT_FAILED,
            Self::SmsFailed => SMS_FAILED,
            Self::SmsExpired => SMS_EXPIRED,
            Self::SmsDelivered => SMS_DELIVERED,
            Self::CheckFailed => CHECK_FAILED,
            Self::VerificationApproved => VERIFICATION_APPROVED,
            Self::VerificationFailed => VERIFICATION_FAILED,
            Self::VerificationResent => VERIFICATION_RESENT,
            Self::VerificationCanceled => VERIFICATION_CANCELED,
            Self::VerificationExpired => VERIFICATION_EXPIRED,
            Self::VerificationUndeliverable => VERIFICATION_UNDELIVERABLE,
            Self::IdentityFailed => IDENTITY_FAILED,
            Self::OrderOutcomeReported => ORDER_OUTCOME_REPORTED,
            Self::VerificationHeld => VERIFICATION_HELD,
            Self::ReviewApproved | Self::ReviewRejected => REVIEW_DECIDED,
            Self::ReviewReleased => REVIEW_RELEASED,
            Self::CheckRefused => CHECK_REFUSED,
            Self::LockEngaged => LOCK_ENGAGED,
            Self::LockLifted => LOCK_LIFTED,
            Self::RangeBurst => RANGE_BURST,
            Self::PolicyChanged => POLICY_CHANGED,
            Self::NetworkChecked => NETWORK_CHECKED,
            Self::WebhookTest => WEBHOOK_TEST,
            Self::WebhookEndpointDisabled => WEBHOOK_ENDPOINT_DISABLED,
            Self::AlertRaised => ALERT_RAISED,
            Self::AlertAcknowledged => ALERT_ACKNOWLEDGED,
            Self::AlertResolved => ALERT_RESOLVED,
        }
    }

    /// What happened, in one sentence (the first of the kind's documentation).
    pub fn summary(self) -> &'static str {
        match self {
            Self::VerificationCreated => "A verification was started.",
            Self::RiskAssessed => "The risk rules decided.",
            Self::VerificationBlocked => "Ended without a code: the risk rules denied it or a hard limit refused it.",
            Self::SmsQueued => "The code's SMS was queued.",
            Self::SmsSubmitted => "A provider took the SMS.",
            Self::SmsAttemptFailed => {
                "One provider of the route refused, failed or was skipped; the next one is tried."
            }
            Self::SmsFailed => "The SMS failed, at hand-off or in a delivery report.",
            Self::SmsExpired => "The code expired before its SMS could be handed over.",
            Self::SmsDelivered => "The handset got the SMS (a delivery report).",
            Self::CheckFailed => "A wrong code was typed.",
            Self::VerificationApproved => "The right code: the order is confirmed.",
            Self::VerificationFailed => "The last attempt was wrong.",
            Self::VerificationResent => "A new code went out; the old one stopped working.",
            Self::VerificationCanceled => "The customer or shop aborted.",
            Self::VerificationExpired => "Nobody came back in time: abandoned.",
            Self::VerificationUndeliverable => "No provider could send the code.",
            Self::IdentityFailed => "The identity service failed or refused the customer's token.",
            Self::OrderOutcomeReported => "The shop reported what became of the order.",
            Self::VerificationHeld => "A review decision held the order: no code was sent; an analyst decides.",
            Self::ReviewApproved => "An analyst approved a held order.",
            Self::ReviewReleased => "An analyst let the code of a held order go out.",
            Self::ReviewRejected => "An analyst rejected a held order.",
            Self::CheckRefused => "A code or resend was refused unjudged by a hard limit.",
            Self::LockEngaged => {
                "Wrong codes reached the brand's limit: the customer's or number's checks are refused."
            }
            Self::LockLifted => "An analyst lifted a wrong-code lock.",
            Self::RangeBurst => "Codes to one number range burst (SMS pumping): sends to it pause.",
            Self::PolicyChanged => "The brand's risk policy changed.",
            Self::NetworkChecked => {
                "The telco's network was asked whether the number's SIM or device changed recently."
            }
            Self::WebhookTest => "A test delivery a person asked for, to one endpoint.",
            Self::WebhookEndpointDisabled => "orderguard disabled a webhook endpoint of the brand.",
            Self::AlertRaised => "An alert rule fired.",
            Self::AlertAcknowledged => "A person acknowledged an alert.",
            Self::AlertResolved => "An alert was resolved, by itself or by a person.",
        }
    }

    /// The attribute `name` of this kind, if it has one.
    pub fn attribute(self, name: &str) -> Option<&'static Attribute> {
        self.attributes().iter().find(|a| a.name == name)
    }
}

#[cfg(test)]
mod tests;
