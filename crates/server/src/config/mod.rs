//! The configuration file (TOML), environment overrides and secrets. docs/configuration.md is the
//! reference for every key here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::crypto::keyring::{MasterSecret, Masters};

mod brands;
mod identity;
mod network_apis;
mod retention;
mod secrets;
mod sms_providers;

pub use brands::{
    AlertRuleConfig, BrandConfig, BrandLimitsConfig, DEFAULT_RETENTION_DAYS, PolicyConfig, RuleConfig, SwapBandConfig,
    SwapCheckConfig, ThemeConfig, WebhookConfig,
};
pub use identity::{IdentityConfig, OidcConfig, RestAuth, RestConfig, StaticCustomer};
pub use network_apis::{NetworkApiConfig, NetworkAuth, OAuthClientConfig};
pub use retention::{EventLogHorizon, RetentionSettings};
pub use secrets::{Secret, resolve_secrets};
pub use sms_providers::{
    HttpBodyFormat, HttpProviderConfig, OutboxProviderConfig, SmppBindMode, SmppProviderConfig, SmsProviderConfig,
    StatusCallbackConfig,
};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Not `Serialize`: it holds secrets. Only the brands are stored (as JSON, see `prepare_store`).
#[derive(Debug, Clone, Deserialize)]
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
    /// A PostgreSQL URL may hold a password.
    #[serde(default = "default_database_url")]
    pub database_url: Secret<String>,
    /// A PostgreSQL streaming replica of `database_url` that the dashboards read from; may hold a
    /// password.
    pub database_read_url: Option<Secret<String>>,
    /// Connections each instance keeps to PostgreSQL at most (and as many to the replica of
    /// `database_read_url`); docs/scaling.md sizes it against cores and instances.
    #[serde(default = "default_database_pool_size")]
    pub database_pool_size: usize,
    /// The deployment's master secret (32 bytes, base64 or hex). Prefer `secret_key_file` or the
    /// environment variable `ORDERGUARD_SECRET_KEY`.
    pub secret_key: Option<Secret<String>>,
    pub secret_key_file: Option<PathBuf>,
    /// During a rotation of the master secret (docs/configuration.md, "Keys"): the master being
    /// replaced, which still unwraps the keys it wrapped until `orderguard keys rewrap` ran.
    pub previous_secret_key: Option<Secret<String>>,
    pub previous_secret_key_file: Option<PathBuf>,
    #[serde(default)]
    pub log_format: LogFormat,
    #[serde(default)]
    pub dev: DevSettings,
    /// Where and for whom `/metrics` is served (docs/configuration.md, "Metrics").
    #[serde(default)]
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub limits: Limits,
    /// How long the logs beside the verifications are kept (each brand's `retention_days` is for
    /// the verifications' personal fields; docs/gdpr.md).
    #[serde(default)]
    pub retention: RetentionSettings,
    /// Addresses (CIDR) of reverse proxies in front of this service: only from them are
    /// `X-Forwarded-For` headers believed, for the client address of the hosted page.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Let webhooks go to loopback, private, link-local and metadata addresses (development, or a
    /// receiver on the operator's own network). Off, such targets are refused (docs/webhooks.md).
    #[serde(default)]
    pub webhook_private_targets: bool,
    /// Hard limits across verifications, for every brand of the deployment (docs/risk.md).
    #[serde(default)]
    pub fraud_limits: FraudLimits,
    #[serde(default)]
    pub sms_providers: BTreeMap<String, SmsProviderConfig>,
    #[serde(default)]
    pub identity: BTreeMap<String, IdentityConfig>,
    /// Telco gateways for the SIM swap and device swap checks, by name.
    #[serde(default)]
    pub network_apis: BTreeMap<String, NetworkApiConfig>,
    #[serde(default)]
    pub brands: Vec<BrandConfig>,
    /// How the market comparison sets brands side by side (docs/configuration.md, "Market").
    #[serde(default)]
    pub market: MarketSettings,
}

/// The market comparison's settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(try_from = "MarketFile")]
pub struct MarketSettings {
    /// `currency` (default EUR), in which losses are compared, and `exchange_rates`: the value
    /// of one unit of each other currency in it. A brand whose losses are in a currency without
    /// a rate is left out of the others' losses.
    pub exchange_rates: orderguard_domain::money::ExchangeRates,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarketFile {
    #[serde(default = "default_market_currency")]
    currency: String,
    #[serde(default)]
    exchange_rates: BTreeMap<String, f64>,
}

fn default_market_currency() -> String {
    "EUR".into()
}

impl TryFrom<MarketFile> for MarketSettings {
    type Error = String;

    fn try_from(file: MarketFile) -> Result<Self, String> {
        let rates = file.exchange_rates.iter().map(|(code, rate)| (code.as_str(), *rate));
        let exchange_rates =
            orderguard_domain::money::ExchangeRates::parse(&file.currency, rates).map_err(|e| format!("market.{e}"))?;
        Ok(Self { exchange_rates })
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

fn default_database_pool_size() -> usize {
    crate::store::DEFAULT_POOL_SIZE
}

fn default_database_url() -> Secret<String> {
    "sqlite://orderguard.db".into()
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `/metrics` names every brand's fraud and loss figures: it is served on an address of its own,
/// not on the public listener, unless a token guards it there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// `/metrics`' own address: loopback by default, out of reach of the public listener's visitors
    /// (a private interface, `10.0.0.5:9464`, for a Prometheus on another machine).
    #[serde(default = "default_metrics_listen")]
    pub listen: String,
    /// A bearer token (`${env:…}` or `${file:…}`): asked of every scrape, and with it `/metrics` is
    /// also served on the public listener, for a Prometheus that can only reach that.
    pub token: Option<Secret<String>>,
}

fn default_metrics_listen() -> String {
    "127.0.0.1:9464".into()
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self { listen: default_metrics_listen(), token: None }
    }
}

impl MetricsSettings {
    /// The token, its `${…}` references resolved.
    pub fn resolved_token(&self) -> Result<Option<Secret<String>>, ConfigError> {
        let Some(token) = &self.token else { return Ok(None) };
        let token = resolve_secrets(token.expose_secret())?;
        if token.len() < 16 {
            return Err(ConfigError::Invalid("metrics.token: at least 16 characters".into()));
        }
        Ok(Some(token.into()))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
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
    pub demo_api_keys: BTreeMap<String, Secret<String>>,
    /// Let `POST /dev/clock` move this instance's clock, so that `orderguard simulate` can live
    /// through weeks in minutes. Never in production: anyone who can reach the port can move it.
    #[serde(default)]
    pub simulated_clock: bool,
    /// Serve a development-only CAMARA gateway under `/dev/camara` (the demo's SIM swap checks).
    #[serde(default)]
    pub network_api: bool,
    /// Its client secret at `/dev/camara/token` (client id `orderguard-demo`).
    pub network_api_secret: Option<Secret<String>>,
    /// Numbers (E.164) whose SIM the development gateway says was swapped three hours ago.
    #[serde(default)]
    pub sim_swapped: Vec<String>,
    /// Serve a development webhook receiver at `/dev/webhooks/{brand}` (listing at `/dev/webhooks`)
    /// for endpoints named `demo-receiver`.
    #[serde(default)]
    pub webhook_receiver: bool,
    /// Host name → address the webhook client uses instead of DNS (for tests).
    #[serde(default)]
    pub webhook_hosts: BTreeMap<String, std::net::IpAddr>,
    /// Let endpoints made in the admin area and on the command line go to this machine and the
    /// private network (development: a receiver on the developer's machine). Never in production.
    #[serde(default)]
    pub stored_webhooks_to_private_targets: bool,
    /// Show the admin sign-in's current second-factor code on its page (the demo: no
    /// authenticator app needed). Never in production: it makes the second factor worthless.
    #[serde(default)]
    pub show_admin_codes: bool,
}

#[derive(Debug, Clone, Deserialize)]
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
    /// The first wait before a failed webhook delivery is tried again; later waits are multiples
    /// of it (5 s gives retries over about three days).
    pub webhook_retry_base_ms: u64,
    /// Webhook deliveries in flight at once, per instance.
    pub webhook_concurrency: usize,
    /// Webhook deliveries in flight at once to any one endpoint, over all instances.
    pub webhook_concurrency_per_endpoint: usize,
    /// An endpoint to which no delivery has succeeded for this long is disabled (five days).
    pub webhook_disable_after_ms: u64,
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
            webhook_retry_base_ms: 5_000,
            webhook_concurrency: 64,
            webhook_concurrency_per_endpoint: 32,
            webhook_disable_after_ms: 5 * 86_400_000,
        }
    }
}

/// `[fraud_limits]`: counted across all brands of the deployment where they concern a number, so
/// a number pumped through several brands counts once. A brand's `policy.limits` may only tighten them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FraudLimits {
    pub sms_per_number_10_minutes: u32,
    pub sms_per_number_day: u32,
    pub wrong_codes_day: u32,
    pub verifications_per_customer_hour: u32,
    pub verifications_per_customer_day: u32,
}

impl Default for FraudLimits {
    fn default() -> Self {
        let d = orderguard_domain::limits::HardLimits::default();
        Self {
            sms_per_number_10_minutes: d.sms_per_number_10_minutes,
            sms_per_number_day: d.sms_per_number_day,
            wrong_codes_day: d.wrong_codes_day,
            verifications_per_customer_hour: d.verifications_per_customer_hour,
            verifications_per_customer_day: d.verifications_per_customer_day,
        }
    }
}

impl Settings {
    /// `trusted_proxies` as normalised ranges.
    pub fn trusted_proxy_ranges(&self) -> Result<Vec<String>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|range| {
                orderguard_domain::lists::parse_cidr(range)
                    .map_err(|e| ConfigError::Invalid(format!("trusted_proxies: `{range}` {}", e.reason)))
            })
            .collect()
    }
}

impl FraudLimits {
    pub fn hard_limits(&self) -> Result<orderguard_domain::limits::HardLimits, ConfigError> {
        let limits = orderguard_domain::limits::HardLimits {
            sms_per_number_10_minutes: self.sms_per_number_10_minutes,
            sms_per_number_day: self.sms_per_number_day,
            wrong_codes_day: self.wrong_codes_day,
            verifications_per_customer_hour: self.verifications_per_customer_hour,
            verifications_per_customer_day: self.verifications_per_customer_day,
        };
        limits.validate().map_err(|e| ConfigError::Invalid(format!("fraud_limits.{e}")))?;
        Ok(limits)
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
        if let Some(v) = var("ORDERGUARD_METRICS_LISTEN") {
            self.metrics.listen = v;
        }
        if let Some(v) = var("ORDERGUARD_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = var("ORDERGUARD_DATABASE_URL") {
            self.database_url = v.into();
        }
        if let Some(v) = var("ORDERGUARD_DATABASE_READ_URL") {
            self.database_read_url = Some(v.into());
        }
        if let Some(v) = var("ORDERGUARD_DATABASE_POOL_SIZE").and_then(|v| v.parse().ok()) {
            self.database_pool_size = v;
        }
        if let Some(v) = var("ORDERGUARD_SECRET_KEY") {
            self.secret_key = Some(v.into());
        }
        if let Some(v) = var("ORDERGUARD_SECRET_KEY_FILE") {
            self.secret_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("ORDERGUARD_PREVIOUS_SECRET_KEY") {
            self.previous_secret_key = Some(v.into());
        }
        if let Some(v) = var("ORDERGUARD_PREVIOUS_SECRET_KEY_FILE") {
            self.previous_secret_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("ORDERGUARD_LOG_FORMAT") {
            self.log_format = if v == "json" { LogFormat::Json } else { LogFormat::Text };
        }
    }

    /// The master secret from `secret_key`, `secret_key_file` (in that order).
    pub fn master_key(&self) -> Result<[u8; 32], ConfigError> {
        master_from(&self.secret_key, &self.secret_key_file)?.ok_or_else(|| {
            ConfigError::Invalid(
                "no secret key: set secret_key_file (or ORDERGUARD_SECRET_KEY) to 32 random bytes, \
                 e.g. the output of `openssl rand -base64 32`"
                    .into(),
            )
        })
    }

    /// The master secrets: the current one, and during a master rotation the previous one.
    pub fn masters(&self) -> Result<Masters, ConfigError> {
        let current = MasterSecret::new(self.master_key()?);
        let previous = master_from(&self.previous_secret_key, &self.previous_secret_key_file)?.map(MasterSecret::new);
        if previous.as_ref().is_some_and(|p| p.id() == current.id()) {
            return Err(ConfigError::Invalid("previous_secret_key is the same as secret_key".into()));
        }
        Ok(Masters { current, previous })
    }
}

fn master_from(inline: &Option<Secret<String>>, file: &Option<PathBuf>) -> Result<Option<[u8; 32]>, ConfigError> {
    let text = match (inline, file) {
        (Some(key), _) => key.expose_secret().clone(),
        (None, Some(path)) => {
            std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.clone(), error })?
        }
        (None, None) => return Ok(None),
    };
    crate::crypto::Secrets::parse_master_key(&text).map(Some).map_err(|e| ConfigError::Invalid(e.to_string()))
}

pub(crate) fn yes() -> bool {
    true
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
            "OPENGATEWAY_CLIENT_SECRET",
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
        assert_eq!(nordtel.network_apis.len(), 2, "SIM swap and device swap at the operator's gateway");
    }

    /// Every secret the configuration can hold, each with a value of its own.
    const SECRETS_TOML: &str = r#"
database_url = "postgres://orderguard:database-password@db.internal/orderguard"
secret_key = "master-secret-in-the-file"

[dev]
demo_api_keys = { nordtel = "demo-shop-api-key" }

[sms_providers.smsc]
kind = "smpp"
address = "smsc.internal:2775"
system_id = "nordtel"
password = "smpp-pw1"

[sms_providers.aggregator]
kind = "http"
url = "https://sms.example/send"
headers = { Authorization = "Bearer http-header-token" }
body = { api_key = "http-body-api-key", to = "{to}", text = "{text}" }
message_id_pointer = "/id"

[sms_providers.aggregator.status_callback]
token = "http-status-callback-token"
message_id_field = "id"
status_field = "status"
delivered = ["delivered"]
failed = ["failed"]

[sms_providers.outbox]
kind = "outbox"

[sms_providers.outbox.status_callback]
token = "outbox-status-callback-token"
message_id_field = "id"
status_field = "status"
delivered = ["delivered"]
failed = ["failed"]

[identity.ciam]
kind = "oidc"
issuer = "https://login.example"
client_id = "orderguard"
client_secret = "oidc-client-secret"

[identity.customers-bearer]
kind = "rest"
base_url = "https://customers.example"
auth = { kind = "bearer", token = "rest-bearer-token" }
phone_pointer = "/phone"

[identity.customers-basic]
kind = "rest"
base_url = "https://customers.example"
auth = { kind = "basic", username = "orderguard", password = "rest-basic-password" }
phone_pointer = "/phone"

[network_apis.gateway]
sim_swap_url = "https://gw.example/sim-swap/v2"
auth = { kind = "client_credentials", token_url = "https://gw.example/token", client_id = "og", client_secret = "gateway-client-secret" }

[network_apis.legacy]
sim_swap_url = "https://legacy.example/sim-swap/v2"
auth = { kind = "bearer", token = "gateway-bearer-token" }
"#;

    #[test]
    fn debug_output_holds_no_secret() {
        let mut settings = Settings::from_toml(SECRETS_TOML, Path::new("x.toml")).unwrap();
        let from_file = [
            "database-password",
            "master-secret-in-the-file",
            "demo-shop-api-key",
            "smpp-pw1",
            "http-header-token",
            "http-body-api-key",
            "http-status-callback-token",
            "outbox-status-callback-token",
            "oidc-client-secret",
            "rest-bearer-token",
            "rest-basic-password",
            "gateway-client-secret",
            "gateway-bearer-token",
        ];
        let printed = format!("{settings:?}");
        for secret in from_file {
            assert!(!printed.contains(secret), "{secret} is printed: {printed}");
        }
        // The rest is still printed, and the secrets were read, only not shown.
        assert!(printed.contains("smsc.internal:2775") && printed.contains("[redacted]"), "{printed}");
        assert_eq!(settings.secret_key.as_ref().map(|k| k.expose_secret().as_str()), Some("master-secret-in-the-file"));

        settings.apply_env(|name| match name {
            "ORDERGUARD_SECRET_KEY" => Some("master-secret-from-env".to_owned()),
            "ORDERGUARD_DATABASE_URL" => Some("postgres://orderguard:env-database-password@db/og".to_owned()),
            _ => None,
        });
        let printed = format!("{settings:?}");
        for secret in ["master-secret-from-env", "env-database-password"] {
            assert!(!printed.contains(secret), "{secret} is printed: {printed}");
        }
        assert!(settings.database_url.expose_secret().contains("env-database-password"));
    }
}
