//! `[[brands]]`: each brand's shop, sender, routes, policy and look.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BrandConfig {
    pub slug: String,
    pub name: String,
    /// Host names of the brand's shop: the first one goes into the origin-bound SMS line; return
    /// URLs must be on one of them.
    pub shop_domains: Vec<String>,
    /// Alphanumeric (up to 11 characters) or a number in international form.
    pub sender_id: String,
    #[serde(default = "default_locales")]
    pub locales: Vec<String>,
    /// The region numbers without a country code are read in, e.g. `DE`.
    pub default_region: Option<String>,
    /// Names of providers in `[sms_providers]`, tried in this order.
    pub sms_route: Vec<String>,
    /// Destination region (ISO 3166, `GB`) → its own route; other destinations take `sms_route`.
    #[serde(default)]
    pub sms_route_by_country: BTreeMap<String, Vec<String>>,
    /// Name of a connector in `[identity]`.
    pub identity: String,
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Locale → SMS template; overrides the built-in text.
    #[serde(default)]
    pub sms_templates: BTreeMap<String, String>,
    #[serde(default)]
    pub theme: ThemeConfig,
    /// Locale → text key → Fluent text: overrides the built-in texts of the hosted page
    /// (the keys are in `locales/en.ftl`).
    #[serde(default)]
    pub texts: BTreeMap<String, BTreeMap<String, String>>,
    /// Days a verification keeps its personal fields (the number, the customer's pseudonym, the
    /// IP prefix, the device): erased after them by the retention job (docs/gdpr.md).
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// Where a customer whose order the rules refused asks for a person to review the decision
    /// (GDPR Art. 22): an e-mail address or a web address, shown on the hosted page and in the
    /// API's `customer_notice`. Without it the text points to the shop's customer service.
    pub review_contact: Option<String>,
    /// The day (`YYYY-MM-DD`, UTC) two-factor verification was switched on for the brand's orders:
    /// the fraud dashboard compares the orders before it with those after.
    pub two_factor_since: Option<String>,
    /// Where the brand's events are delivered, signed (docs/webhooks.md).
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// Alert rule (`approval_rate_drop`, …) → its settings where they differ from the defaults
    /// (docs/alerts.md).
    #[serde(default)]
    pub alerts: BTreeMap<String, AlertRuleConfig>,
}

/// One alert rule's settings for a brand; what is left out keeps its default.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRuleConfig {
    pub enabled: Option<bool>,
    /// `warning` or `critical`.
    pub severity: Option<String>,
    pub window_minutes: Option<i64>,
    pub min_volume: Option<i64>,
    pub change: Option<f64>,
    pub factor: Option<f64>,
    pub z: Option<f64>,
    pub level: Option<f64>,
    pub quiet_minutes: Option<i64>,
    pub baseline_volume: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Names the endpoint within the brand (`[a-z0-9-]`).
    pub name: String,
    /// `https://…`; plain `http://` only to this machine (development).
    pub url: String,
    /// Event types (`verification.approved`, …), or `["*"]` for every one.
    #[serde(default = "every_event")]
    pub events: Vec<String>,
    /// `whsec_…` secrets (`${env:…}` / `${file:…}`); during a rotation the new and the old one:
    /// each delivery is signed with both. Never stored with the brand.
    #[serde(skip_serializing)]
    pub secrets: Vec<super::Secret<String>>,
    /// An Ed25519 private key (PKCS#8 PEM, `${file:…}`): deliveries carry a `v1a` signature too,
    /// which a receiver checks with the public key alone.
    #[serde(default, skip_serializing)]
    pub signing_key: Option<super::Secret<String>>,
    #[serde(default = "super::yes")]
    pub enabled: bool,
    pub description: Option<String>,
}

fn every_event() -> Vec<String> {
    vec!["*".into()]
}

fn default_locales() -> Vec<String> {
    vec!["de".into(), "en".into()]
}

/// Days a brand keeps its verifications' personal fields unless it says otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

fn default_retention_days() -> u32 {
    DEFAULT_RETENTION_DAYS
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub code_length: Option<u8>,
    pub code_ttl_seconds: Option<i64>,
    pub max_attempts: Option<u32>,
    pub max_resends: Option<u32>,
    pub resend_cooldown_seconds: Option<i64>,
    pub allowed_countries: Option<Vec<String>>,
    /// Whole units of the order's currency from which an order with hardware is a risk signal.
    pub high_value_amount: Option<i64>,
    pub max_verifications_per_number_per_hour: Option<u32>,
    pub review_score: Option<u32>,
    pub deny_score: Option<u32>,
    pub allow_unverified_phone: Option<bool>,
    /// `hold` (default: a `review` decision sends no code and waits for an analyst) or `send`.
    pub review_action: Option<String>,
    /// How long a held order waits for an analyst before it expires (default 4 hours).
    pub review_hold_seconds: Option<i64>,
    /// A number changed in the identity profile within this many days is a risk signal (30).
    pub number_changed_days: Option<u32>,
    /// Countries trusted for SMS (geo permission `allow`): no burst rule; hard limits still apply.
    pub trusted_countries: Option<Vec<String>>,
    /// A right code typed from another device or network than the order's: `accept`, `mark`
    /// (default: the receipt says `relay_suspected`) or `review` (held for an analyst).
    pub relay_action: Option<String>,
    /// Country (or `*`) → codes a day to numbers of that country; past it, orders are held for review.
    #[serde(default)]
    pub sms_budget_per_day: BTreeMap<String, u32>,
    /// Reason code → points and shadow mode of a scored rule (docs/risk.md).
    #[serde(default)]
    pub rules: BTreeMap<String, RuleConfig>,
    /// Tighter hard limits than the deployment's `[fraud_limits]`.
    #[serde(default)]
    pub limits: BrandLimitsConfig,
    /// Ask the telco whether the number's SIM changed recently (docs/network-apis.md).
    pub sim_swap: Option<SwapCheckConfig>,
    /// Ask the telco whether the handset behind the number changed recently.
    pub device_swap: Option<SwapCheckConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SwapCheckConfig {
    /// Name of a gateway in `[network_apis]`.
    pub api: String,
    /// `retrieve_date` (default: the change's age picks the band) or `check` (with `maxAge`).
    pub method: Option<String>,
    /// Narrowest first: a change within `within_hours` leads to `action` (`deny`, `review`,
    /// `score` with `points`).
    pub bands: Option<Vec<SwapBandConfig>>,
    /// When the gateway is down, slow or answers an error: `allow` (default), `review` or `deny`.
    pub when_unavailable: Option<String>,
    /// The time budget of the check, token included (default 1000).
    pub timeout_ms: Option<u64>,
    /// A resend this long after the last check asks again (default 300).
    pub recheck_after_seconds: Option<i64>,
    #[serde(default)]
    pub shadow: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SwapBandConfig {
    pub within_hours: u32,
    pub action: String,
    pub points: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub points: Option<u32>,
    #[serde(default)]
    pub shadow: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BrandLimitsConfig {
    pub sms_per_number_10_minutes: Option<u32>,
    pub sms_per_number_day: Option<u32>,
    pub wrong_codes_day: Option<u32>,
    pub verifications_per_customer_hour: Option<u32>,
    pub verifications_per_customer_day: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThemeConfig {
    pub primary_color: String,
    pub accent_color: String,
    pub font: String,
    /// A PNG, JPEG, WebP or SVG file (a path relative to the configuration file), or a
    /// `data:image/…;base64,` URI; at most 100 KiB.
    pub logo: Option<String>,
    /// Links in the footer of the hosted page.
    pub imprint_url: Option<String>,
    pub privacy_url: Option<String>,
}

impl Default for ThemeConfig {
    fn default() -> Self {
        Self {
            primary_color: "#1f3a5f".into(),
            accent_color: "#e4572e".into(),
            font: "system-ui, sans-serif".into(),
            logo: None,
            imprint_url: None,
            privacy_url: None,
        }
    }
}
