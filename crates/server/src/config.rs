//! The configuration file (TOML), environment overrides and secrets. docs/configuration.md is the
//! reference for every key here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The folder of the configuration file: relative paths in it are read from there.
    #[serde(skip)]
    pub config_dir: Option<PathBuf>,
    /// Address the HTTP server binds.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The URL customers and shops reach this service at; hosted page links and the receipt
    /// issuer are built from it. Defaults to the bound address (`0.0.0.0` read as `127.0.0.1`).
    pub public_url: Option<String>,
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// The deployment's master secret (32 bytes, base64 or hex). Prefer `secret_key_file` or the
    /// environment variable `ORDERGUARD_SECRET_KEY`.
    pub secret_key: Option<String>,
    pub secret_key_file: Option<PathBuf>,
    #[serde(default)]
    pub log_format: LogFormat,
    #[serde(default)]
    pub dev: DevSettings,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub sms_providers: BTreeMap<String, SmsProviderConfig>,
    #[serde(default)]
    pub identity: BTreeMap<String, IdentityConfig>,
    #[serde(default)]
    pub brands: Vec<BrandConfig>,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

fn default_database_url() -> String {
    "sqlite://orderguard.db".into()
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DevSettings {
    /// Serve `/dev/outbox` and `/dev/outbox.json` (messages kept by `outbox` providers).
    #[serde(default)]
    pub outbox_page: bool,
    /// Serve the demo shops under `/demo` (needs `demo_api_keys`).
    #[serde(default)]
    pub demo_shop: bool,
    /// Brand slug → API key the demo shop uses to call the API.
    #[serde(default)]
    pub demo_api_keys: BTreeMap<String, String>,
    /// Let `POST /dev/clock` move this instance's clock, so that `orderguard simulate` can live
    /// through weeks in minutes. Never in production: anyone who can reach the port can move it.
    #[serde(default)]
    pub simulated_clock: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How often pending verifications are checked for expiry.
    pub sweep_interval_ms: u64,
    /// SMS sent at the same time by one instance.
    pub sms_concurrency: usize,
    /// Attempts to hand one SMS to the providers before the verification is undeliverable.
    pub sms_max_attempts: i64,
    /// Failed hand-offs in a row after which a provider is skipped (its circuit breaker opens).
    pub circuit_breaker_failures: u32,
    /// How long an open breaker skips its provider before one message probes it again.
    pub circuit_breaker_open_ms: u64,
    /// Events are counted for the dashboards once they are this old (see `jobs::rollups`).
    pub rollup_lag_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            sweep_interval_ms: 1000,
            sms_concurrency: 64,
            sms_max_attempts: 3,
            circuit_breaker_failures: 3,
            circuit_breaker_open_ms: 30_000,
            rollup_lag_ms: 5_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SmsProviderConfig {
    /// Keeps messages in the database for `/dev/outbox`: development and demos only.
    Outbox(OutboxProviderConfig),
    Http(HttpProviderConfig),
    Smpp(SmppProviderConfig),
}

impl SmsProviderConfig {
    /// Where the provider's delivery reports come in, if they do over HTTP.
    pub fn status_callback(&self) -> Option<&StatusCallbackConfig> {
        match self {
            Self::Outbox(outbox) => outbox.status_callback.as_ref(),
            Self::Http(http) => http.status_callback.as_ref(),
            Self::Smpp(_) => None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxProviderConfig {
    /// Delivery reports for kept messages, posted by whoever plays the handset network (such as
    /// `orderguard simulate`), as an HTTP provider's would be.
    pub status_callback: Option<StatusCallbackConfig>,
}

/// An SMSC reached over SMPP v3.4 (docs/sms.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmppProviderConfig {
    /// `host:port` of the SMSC.
    pub address: String,
    /// Up to 15 characters; `${env:NAME}` and `${file:PATH}` work here and in `password`.
    pub system_id: String,
    /// Up to 8 characters.
    pub password: String,
    #[serde(default)]
    pub system_type: String,
    /// The `address_range` of the bind (receivers: which numbers' messages to get); usually empty.
    #[serde(default)]
    pub address_range: String,
    /// `transceiver` (one connection per bind) or `transmitter_receiver` (a transmitter per bind
    /// plus one receiver for the delivery receipts).
    #[serde(default)]
    pub bind_mode: SmppBindMode,
    /// Parallel binds (connections) to the SMSC; messages are spread over them.
    #[serde(default = "one")]
    pub binds: usize,
    /// submit_sm PDUs sent and not yet answered, per bind.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Highest rate of submit_sm per bind, as the SMSC contract allows; none when absent.
    pub max_per_second: Option<u32>,
    /// Ask for delivery receipts (`registered_delivery`).
    #[serde(default = "yes")]
    pub delivery_receipts: bool,
    #[serde(default = "default_enquire_link_seconds")]
    pub enquire_link_seconds: u64,
    /// How long a hand-off may take in all: waiting for a bind, throttling pauses and every part.
    #[serde(default = "default_send_timeout_ms")]
    pub send_timeout_ms: u64,
    /// Longest time to wait for the SMSC's answer to one PDU.
    #[serde(default = "default_response_timeout_ms")]
    pub response_timeout_ms: u64,
}

impl SmppProviderConfig {
    /// An account at an SMSC with every other key at its default, as a configuration file without
    /// them would give.
    pub fn account(address: &str, system_id: &str, password: &str) -> Self {
        Self {
            address: address.to_owned(),
            system_id: system_id.to_owned(),
            password: password.to_owned(),
            system_type: String::new(),
            address_range: String::new(),
            bind_mode: SmppBindMode::default(),
            binds: one(),
            window: default_window(),
            max_per_second: None,
            delivery_receipts: yes(),
            enquire_link_seconds: default_enquire_link_seconds(),
            send_timeout_ms: default_send_timeout_ms(),
            response_timeout_ms: default_response_timeout_ms(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmppBindMode {
    #[default]
    Transceiver,
    TransmitterReceiver,
}

fn one() -> usize {
    1
}

fn default_window() -> usize {
    10
}

fn default_enquire_link_seconds() -> u64 {
    30
}

fn default_send_timeout_ms() -> u64 {
    10_000
}

fn default_response_timeout_ms() -> u64 {
    5_000
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProviderConfig {
    pub url: String,
    /// Header name → value; values may use `${env:NAME}` and `${file:PATH}` for secrets.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body; every string in it may use `{to}` (E.164), `{to_digits}` (without `+`), `{text}`,
    /// `{encoding}` (`text` for GSM-7, `unicode` otherwise), `{sender}`, `{id}`, `{brand}`, and
    /// `${env:NAME}` / `${file:PATH}` for secrets.
    pub body: serde_json::Value,
    /// `json`, or `form` (URL-encoded; the body must then be a flat table).
    #[serde(default)]
    pub format: HttpBodyFormat,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Retries of one hand-off after a timeout, a connection error or a 5xx/429 answer.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// JSON pointer to the provider's message id in its answer, e.g. `/messages/0/message-id`.
    pub message_id_pointer: Option<String>,
    /// For APIs that answer 200 to a refused message: a JSON pointer into the answer and the
    /// values that mean accepted (e.g. `/messages/0/status` and `["0"]`).
    pub accepted_pointer: Option<String>,
    #[serde(default)]
    pub accepted_values: Vec<String>,
    /// The provider's delivery status callbacks, at `/v1/sms-status/{provider name}`.
    pub status_callback: Option<StatusCallbackConfig>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HttpBodyFormat {
    #[default]
    Json,
    Form,
}

/// How to read a provider's delivery status callback (JSON body, form body or query string).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StatusCallbackConfig {
    /// A secret the provider sends as `Authorization: Bearer …` or as `?token=…` in the callback
    /// URL; at least 16 characters. Use `${env:NAME}` or `${file:PATH}`.
    pub token: String,
    /// Field with the provider's message id: a name (`messageId`) or a JSON pointer (`/data/id`).
    pub message_id_field: String,
    pub status_field: String,
    /// Field with the provider's error code, kept with the event.
    pub error_field: Option<String>,
    /// Status values that mean delivered, and those that mean it failed for good; others (such as
    /// `accepted` or `buffered`) are interim and ignored.
    pub delivered: Vec<String>,
    pub failed: Vec<String>,
}

fn default_timeout_ms() -> u64 {
    5000
}

fn default_retries() -> u32 {
    2
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum IdentityConfig {
    /// Customers listed here: for demos, tests and small deployments.
    Static { customers: Vec<StaticCustomer> },
    /// The telco's OpenID Connect provider: the shop passes the customer's token (docs/integration.md).
    Oidc(OidcConfig),
    /// The telco's customer API: `GET {base_url}{path}` per customer id.
    Rest(RestConfig),
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL; its `/.well-known/openid-configuration` is read from there.
    pub issuer: String,
    /// `aud` values accepted in access tokens: the resource (API identifier) they are issued for.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// The shops' client ids at the provider: ID tokens must be issued to one of them, and opaque
    /// access tokens without an audience must belong to one of them.
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// Signature algorithms accepted; only asymmetric ones (RS*, PS*, ES256, ES384, EdDSA).
    #[serde(default = "default_token_algorithms")]
    pub algorithms: Vec<String>,
    /// orderguard's own client at the provider, for introspecting opaque access tokens (RFC 7662).
    pub client_id: Option<String>,
    /// `${env:NAME}` / `${file:PATH}` work here.
    pub client_secret: Option<String>,
    /// Clock difference tolerated for `exp` and `nbf`.
    #[serde(default = "default_leeway_seconds")]
    pub leeway_seconds: i64,
    /// How long discovery and the JWKS are kept; an unknown `kid` fetches the JWKS again sooner.
    #[serde(default = "default_jwks_cache_seconds")]
    pub cache_seconds: u64,
    #[serde(default = "default_identity_timeout_ms")]
    pub timeout_ms: u64,
    /// Retries after a timeout, a connection error or a 5xx answer.
    #[serde(default = "one_retry")]
    pub retries: u32,
}

fn default_token_algorithms() -> Vec<String> {
    ["RS256", "PS256", "ES256", "EdDSA"].map(String::from).to_vec()
}

fn default_leeway_seconds() -> i64 {
    30
}

fn default_jwks_cache_seconds() -> u64 {
    600
}

fn default_identity_timeout_ms() -> u64 {
    3000
}

fn one_retry() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RestConfig {
    pub base_url: String,
    /// Appended to `base_url`; `{id}` is the customer id (URL-encoded).
    #[serde(default = "default_rest_path")]
    pub path: String,
    #[serde(default)]
    pub auth: RestAuth,
    /// A CA certificate (PEM file) for a service with a private CA.
    pub ca_certificate: Option<PathBuf>,
    /// JSON pointers into the answer: the number, whether it is verified (absent: the service
    /// holds only verified numbers), when it last changed (RFC 3339; a risk signal).
    pub phone_pointer: String,
    pub phone_verified_pointer: Option<String>,
    pub phone_changed_at_pointer: Option<String>,
    #[serde(default = "default_identity_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "one_retry")]
    pub retries: u32,
}

fn default_rest_path() -> String {
    "/customers/{id}".into()
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RestAuth {
    #[default]
    None,
    Bearer {
        token: String,
    },
    Basic {
        username: String,
        password: String,
    },
    /// Mutual TLS: orderguard's client certificate and key (PEM files).
    Mtls {
        certificate: PathBuf,
        key: PathBuf,
    },
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticCustomer {
    pub id: String,
    pub phone: String,
    #[serde(default = "yes")]
    pub phone_verified: bool,
}

fn yes() -> bool {
    true
}

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
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// The day (`YYYY-MM-DD`, UTC) two-factor verification was switched on for the brand's orders:
    /// the fraud dashboard compares the orders before it with those after.
    pub two_factor_since: Option<String>,
}

fn default_locales() -> Vec<String> {
    vec!["de".into(), "en".into()]
}

fn default_retention_days() -> u32 {
    90
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

impl Settings {
    /// Reads the file, then applies `ORDERGUARD_*` environment overrides.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.to_owned(), error })?;
        let mut settings = Self::from_toml(&text, path)?;
        settings.apply_env(|name| std::env::var(name).ok());
        Ok(settings)
    }

    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut settings: Self =
            toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })?;
        settings.config_dir = path.parent().map(Path::to_owned);
        Ok(settings)
    }

    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        if let Some(v) = var("ORDERGUARD_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = var("ORDERGUARD_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = var("ORDERGUARD_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = var("ORDERGUARD_SECRET_KEY") {
            self.secret_key = Some(v);
        }
        if let Some(v) = var("ORDERGUARD_SECRET_KEY_FILE") {
            self.secret_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("ORDERGUARD_LOG_FORMAT") {
            self.log_format = if v == "json" { LogFormat::Json } else { LogFormat::Text };
        }
    }

    /// The master secret from `secret_key`, `secret_key_file` (in that order).
    pub fn master_key(&self) -> Result<[u8; 32], ConfigError> {
        let text = match (&self.secret_key, &self.secret_key_file) {
            (Some(key), _) => key.clone(),
            (None, Some(path)) => {
                std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.clone(), error })?
            }
            (None, None) => {
                return Err(ConfigError::Invalid(
                    "no secret key: set secret_key_file (or ORDERGUARD_SECRET_KEY) to 32 random bytes, \
                     e.g. the output of `openssl rand -base64 32`"
                        .into(),
                ));
            }
        };
        crate::crypto::Secrets::parse_master_key(&text).map_err(|e| ConfigError::Invalid(e.to_string()))
    }
}

/// Replaces `${env:NAME}` and `${file:PATH}` in a configured value by the secret they name.
pub fn resolve_secrets(value: &str) -> Result<String, ConfigError> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        let Some(end) = after.find('}') else {
            return Err(ConfigError::Invalid(format!("unclosed `${{` in `{value}`")));
        };
        let reference = after.get(..end).unwrap_or_default();
        let secret = if let Some(name) = reference.strip_prefix("env:") {
            std::env::var(name).map_err(|_| ConfigError::Invalid(format!("environment variable {name} is not set")))?
        } else if let Some(path) = reference.strip_prefix("file:") {
            std::fs::read_to_string(path)
                .map_err(|error| ConfigError::Read { path: PathBuf::from(path), error })?
                .trim_end()
                .to_owned()
        } else {
            return Err(ConfigError::Invalid(format!("`${{{reference}}}`: use ${{env:NAME}} or ${{file:PATH}}")));
        };
        out.push_str(&secret);
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file() {
        let mut s = Settings::from_toml("listen = \"127.0.0.1:1\"", Path::new("x.toml")).unwrap();
        s.apply_env(|name| (name == "ORDERGUARD_LISTEN").then(|| "127.0.0.1:2".to_owned()));
        assert_eq!(s.listen, "127.0.0.1:2");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Settings::from_toml("lisen = \"x\"", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
    }

    #[test]
    fn the_example_configuration_builds() {
        for name in [
            "NORDTEL_SMPP_SYSTEM_ID",
            "NORDTEL_SMPP_PASSWORD",
            "VONAGE_API_KEY",
            "VONAGE_API_SECRET",
            "NORDTEL_CIAM_SECRET",
        ] {
            // SAFETY: only this test reads these variables.
            unsafe { std::env::set_var(name, "example") };
        }
        // SAFETY: as above.
        unsafe { std::env::set_var("VONAGE_CALLBACK_TOKEN", "example-callback-secret") };
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/example.toml"));
        let settings = Settings::load(path).unwrap();
        let brands = crate::brand::Brands::build(&settings).unwrap();
        let nordtel = brands.get("nordtel").unwrap();
        let names = |route: &[crate::sms::NamedGateway]| route.iter().map(|g| g.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(nordtel.route_for("DE")), ["nordtel-smsc", "vonage"]);
        assert_eq!(names(nordtel.route_for("AT")), ["vonage"]);
        assert!(brands.status_callback("vonage").is_some_and(|c| c.accepts_token("example-callback-secret")));
        assert_eq!(brands.smpp_providers().len(), 1);
        assert_eq!(brands.oidc_connectors().len(), 1);
    }

    #[test]
    fn secrets_from_environment() {
        // SAFETY: only this test reads this variable.
        unsafe { std::env::set_var("OG_TEST_SECRET", "s3cret") };
        assert_eq!(resolve_secrets("Bearer ${env:OG_TEST_SECRET}").unwrap(), "Bearer s3cret");
        assert!(resolve_secrets("${env:OG_TEST_MISSING}").is_err());
        assert!(resolve_secrets("${vault:x}").is_err());
    }
}
