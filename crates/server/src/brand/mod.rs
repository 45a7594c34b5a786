//! Brands at run time: built once at start from the configuration, with their policy, texts,
//! theme, SMS route and identity connector resolved.

pub mod theme;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use orderguard_domain::alert::{AlertRule, RuleSettings, Severity};
use orderguard_domain::brand::{BrandSlug, parse_domain};
use orderguard_domain::circuit::CircuitBreaker;
use orderguard_domain::limits::{BrandLimits, HardLimits};
use orderguard_domain::money::Money;
use orderguard_domain::policy::{Policy, RelayAction, ReviewAction, RuleSetting};
use orderguard_domain::risk::RiskReason;
use orderguard_domain::sms_text::{self, CodeEntry, SmsVars};
use orderguard_domain::swap::{SwapAction, SwapBand, SwapKind, SwapMethod, SwapPolicy, WhenUnavailable};

use crate::config::{BrandConfig, ConfigError, IdentityConfig, Settings, SmsProviderConfig, SwapCheckConfig};
use crate::i18n::{SUPPORTED_LOCALES, Texts};
use crate::identity::{IdentityConnector, OidcConnector, RestDirectory, StaticDirectory};
use crate::network::NetworkApi;
use crate::sms::status_callback::StatusCallback;
use crate::sms::{HttpProvider, NamedGateway, OutboxProvider, SmppProvider, SmsGateway};

const DEFAULT_SMS_DE: &str =
    "{brand}: Code {code} bestätigt Ihre Bestellung über {amount}. Gültig {minutes} Min. Nicht weitergeben.";
const DEFAULT_SMS_EN: &str =
    "{brand}: your code {code} confirms your order of {amount}. Valid for {minutes} min. Never share it.";

pub struct Brand {
    pub slug: BrandSlug,
    pub name: String,
    pub shop_domains: Vec<String>,
    pub sender_id: String,
    pub locales: Vec<String>,
    pub default_region: Option<String>,
    pub policy: Policy,
    /// The deployment's hard limits, tightened by the brand's own.
    pub limits: HardLimits,
    /// A digest of the brand's policy configuration: the risk event names the policy that decided.
    pub policy_version: String,
    pub sms_templates: HashMap<String, String>,
    pub route: Vec<NamedGateway>,
    pub routes_by_country: HashMap<String, Vec<NamedGateway>>,
    pub identity: Arc<dyn IdentityConnector>,
    /// The gateway of each network check in `policy.swap_checks`.
    pub network_apis: BTreeMap<SwapKind, Arc<NetworkApi>>,
    /// Where the brand's events go.
    pub webhooks: Vec<Arc<crate::webhooks::WebhookEndpoint>>,
    pub theme: theme::Theme,
    pub texts: Texts,
    /// Midnight (UTC) of the day 2FA was switched on, in milliseconds.
    pub two_factor_since: Option<i64>,
    /// Every alert rule's settings: the defaults, changed by the brand's `[brands.alerts.*]`.
    pub alerts: BTreeMap<AlertRule, RuleSettings>,
    pub config: BrandConfig,
}

impl Brand {
    /// The requested locale if the brand speaks it (`de-AT` counts as `de`), else the brand's first.
    pub fn locale_for(&self, requested: Option<&str>) -> String {
        requested
            .map(|r| r.split(['-', '_']).next().unwrap_or(r).to_ascii_lowercase())
            .filter(|r| self.locales.contains(r))
            .or_else(|| self.locales.first().cloned())
            .unwrap_or_else(|| "en".into())
    }

    /// What a customer whose order the rules refused is told (GDPR Art. 22): the decision was
    /// automatic, and where to ask for a person to review it.
    pub fn review_right(&self, locale: &str) -> String {
        let contact = self.config.review_contact.clone().unwrap_or_else(|| "none".into());
        self.texts.get(locale, "review-right", &[("contact", fluent_bundle::FluentValue::from(contact))])
    }

    /// The SMS for a code; its last line binds the code to the page where it is typed (WebOTP).
    pub fn sms_text(
        &self,
        locale: &str,
        code: &str,
        amount: Money,
        entry: CodeEntry,
        hosted_page_host: &str,
    ) -> String {
        let template = self.sms_templates.get(locale).map(String::as_str).unwrap_or(if locale == "de" {
            DEFAULT_SMS_DE
        } else {
            DEFAULT_SMS_EN
        });
        let vars = SmsVars {
            code,
            amount: &format_amount(amount, locale),
            brand: &self.name,
            minutes: (self.policy.code_ttl_seconds + 59) / 60,
        };
        let shop = self.shop_domains.first().map(String::as_str).unwrap_or("localhost");
        let (top, frame) = entry.hosts(shop, hosted_page_host);
        sms_text::render(template, &vars, top, frame)
    }

    /// The providers to try for a destination region, in order.
    pub fn route_for(&self, country: &str) -> &[NamedGateway] {
        self.routes_by_country.get(country).unwrap_or(&self.route)
    }

    /// Return URLs must point at one of the brand's shop domains (no open redirect).
    pub fn allows_return_url(&self, url: &str) -> bool {
        reqwest::Url::parse(url).is_ok_and(|u| {
            matches!(u.scheme(), "https" | "http")
                && u.username().is_empty()
                && u.password().is_none()
                && u.host_str().is_some_and(|h| self.shop_domains.iter().any(|d| d == h))
        })
    }
}

/// `849,00 €` in German, `€849.00` in English; other currencies by their code.
pub fn format_amount(amount: Money, locale: &str) -> String {
    let decimal = amount.to_decimal();
    let code = amount.currency.code();
    let symbol = match code {
        "EUR" => "€",
        "GBP" => "£",
        "USD" => "$",
        _ => "",
    };
    match (locale, symbol) {
        ("de", "") => format!("{} {code}", decimal.replace('.', ",")),
        ("de", s) => format!("{} {s}", decimal.replace('.', ",")),
        (_, "") => format!("{code} {decimal}"),
        (_, s) => format!("{s}{decimal}"),
    }
}

pub struct Brands {
    by_slug: HashMap<String, Arc<Brand>>,
    /// SMPP providers keep binds open: the server starts and stops them.
    smpp: Vec<Arc<SmppProvider>>,
    /// HTTP providers' delivery status callbacks, by provider name.
    status_callbacks: HashMap<String, StatusCallback>,
    /// OpenID Connect identity connectors by name, for `orderguard doctor`.
    oidc_connectors: Vec<(String, Arc<OidcConnector>)>,
    /// Network API gateways by name, for `orderguard doctor`.
    network_apis: BTreeMap<String, Arc<NetworkApi>>,
}

impl Brands {
    pub fn get(&self, slug: &str) -> Option<&Arc<Brand>> {
        self.by_slug.get(slug)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<Brand>> {
        let mut brands: Vec<_> = self.by_slug.values().collect();
        brands.sort_by(|a, b| a.slug.cmp(&b.slug));
        brands.into_iter()
    }

    pub fn smpp_providers(&self) -> &[Arc<SmppProvider>] {
        &self.smpp
    }

    pub fn oidc_connectors(&self) -> &[(String, Arc<OidcConnector>)] {
        &self.oidc_connectors
    }

    pub fn network_apis(&self) -> impl Iterator<Item = &Arc<NetworkApi>> {
        self.network_apis.values()
    }

    pub fn status_callback(&self, provider: &str) -> Option<&StatusCallback> {
        self.status_callbacks.get(provider)
    }

    pub fn build(settings: &Settings) -> Result<Self, ConfigError> {
        let mut smpp = Vec::new();
        let mut oidc_connectors = Vec::new();
        let mut status_callbacks = HashMap::new();
        let limits = &settings.limits;
        let open_ms = i64::try_from(limits.circuit_breaker_open_ms).unwrap_or(i64::MAX);
        let gateways = settings
            .sms_providers
            .iter()
            .map(|(name, config)| {
                if let Some(callback) = config.status_callback() {
                    status_callbacks.insert(name.clone(), StatusCallback::new(name, callback)?);
                }
                let gateway: Arc<dyn SmsGateway> = match config {
                    SmsProviderConfig::Outbox(_) => Arc::new(OutboxProvider),
                    SmsProviderConfig::Http(http) => Arc::new(HttpProvider::new(name, http)?),
                    SmsProviderConfig::Smpp(config) => {
                        let provider = Arc::new(SmppProvider::new(name, config)?);
                        smpp.push(provider.clone());
                        provider
                    }
                };
                let breaker = Arc::new(Mutex::new(CircuitBreaker::new(limits.circuit_breaker_failures, open_ms)));
                Ok((name.clone(), NamedGateway { name: name.clone(), gateway, breaker }))
            })
            .collect::<Result<HashMap<_, _>, ConfigError>>()?;
        let connectors = settings
            .identity
            .iter()
            .map(|(name, config)| {
                let connector: Arc<dyn IdentityConnector> = match config {
                    IdentityConfig::Static { customers } => Arc::new(StaticDirectory::new(customers)),
                    IdentityConfig::Oidc(oidc) => {
                        let connector = Arc::new(OidcConnector::new(name, oidc)?);
                        oidc_connectors.push((name.clone(), connector.clone()));
                        connector
                    }
                    IdentityConfig::Rest(rest) => Arc::new(RestDirectory::new(name, rest)?),
                };
                Ok((name.clone(), connector))
            })
            .collect::<Result<HashMap<String, Arc<dyn IdentityConnector>>, ConfigError>>()?;
        let limits = settings.fraud_limits.hard_limits()?;
        let network_apis = crate::network::build(&settings.network_apis)?;
        let mut by_slug = HashMap::new();
        for config in &settings.brands {
            let targets = crate::webhooks::targets::TargetGuard::of(settings);
            let sources = Sources {
                gateways: &gateways,
                connectors: &connectors,
                network_apis: &network_apis,
                targets: &targets,
            };
            let brand = build_brand(config, settings.config_dir.as_deref(), &sources, &limits)
                .map_err(|e| ConfigError::Invalid(format!("brand `{}`: {e}", config.slug)))?;
            if by_slug.insert(config.slug.clone(), Arc::new(brand)).is_some() {
                return Err(ConfigError::Invalid(format!("brand `{}` is declared twice", config.slug)));
            }
        }
        Ok(Self { by_slug, smpp, status_callbacks, oidc_connectors, network_apis })
    }
}

/// The first 12 hex digits of the SHA-256 of the policy as configured: equal configurations have
/// equal versions, on every instance.
pub fn policy_version(policy: &crate::config::PolicyConfig) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(serde_json::to_vec(policy).unwrap_or_default());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// What brands pick from by name: SMS providers, identity connectors, network API gateways.
struct Sources<'a> {
    gateways: &'a HashMap<String, NamedGateway>,
    connectors: &'a HashMap<String, Arc<dyn IdentityConnector>>,
    network_apis: &'a BTreeMap<String, Arc<NetworkApi>>,
    /// Where webhooks may go.
    targets: &'a crate::webhooks::targets::TargetGuard,
}

/// A network check as configured, with its gateway.
fn swap_check(
    kind: SwapKind,
    c: &SwapCheckConfig,
    network_apis: &BTreeMap<String, Arc<NetworkApi>>,
) -> Result<(SwapPolicy, Arc<NetworkApi>), String> {
    let field = format!("policy.{}", kind.as_str());
    let api = network_apis
        .get(&c.api)
        .filter(|api| api.serves(kind))
        .cloned()
        .ok_or_else(|| format!("{field}.api: `{}` is not in [network_apis] with a {}_url", c.api, kind.as_str()))?;
    let defaults = SwapPolicy::default_for(kind);
    let method = match c.method.as_deref() {
        None => defaults.method,
        Some(m) => SwapMethod::parse(m)
            .ok_or_else(|| format!("{field}.method must be `retrieve_date` or `check`, not `{m}`"))?,
    };
    let bands = match &c.bands {
        None => defaults.bands,
        Some(bands) => bands
            .iter()
            .map(|b| {
                let action = match (b.action.as_str(), b.points) {
                    ("deny", None) => SwapAction::Deny,
                    ("review", None) => SwapAction::Review,
                    ("score", Some(points)) => SwapAction::Score(points),
                    ("score", None) => return Err(format!("{field}.bands: `score` needs points")),
                    (action, _) => {
                        return Err(format!(
                            "{field}.bands: action `{action}` must be `deny`, `review` or `score` (with points)"
                        ));
                    }
                };
                Ok(SwapBand { within_hours: b.within_hours, action })
            })
            .collect::<Result<_, _>>()?,
    };
    let when_unavailable = match c.when_unavailable.as_deref() {
        None => defaults.when_unavailable,
        Some(w) => WhenUnavailable::parse(w)
            .ok_or_else(|| format!("{field}.when_unavailable must be `allow`, `review` or `deny`, not `{w}`"))?,
    };
    let policy = SwapPolicy {
        kind,
        method,
        bands,
        when_unavailable,
        timeout_ms: c.timeout_ms.unwrap_or(defaults.timeout_ms),
        recheck_after_seconds: c.recheck_after_seconds.unwrap_or(defaults.recheck_after_seconds),
        shadow: c.shadow,
    };
    policy.validate().map_err(|e| format!("policy.{e}"))?;
    Ok((policy, api))
}

fn build_brand(
    c: &BrandConfig,
    config_dir: Option<&Path>,
    sources: &Sources<'_>,
    deployment_limits: &HardLimits,
) -> Result<Brand, String> {
    let Sources { gateways, connectors, network_apis, targets } = sources;
    let slug = BrandSlug::parse(&c.slug).map_err(|e| e.to_string())?;
    if c.name.trim().is_empty() {
        return Err("name must not be empty".into());
    }
    if c.shop_domains.is_empty() {
        return Err("shop_domains needs at least one host name".into());
    }
    let shop_domains =
        c.shop_domains.iter().map(|d| parse_domain(d)).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    let alphanumeric = c.sender_id.len() <= 11 && c.sender_id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == ' ');
    let numeric = c.sender_id.starts_with('+')
        && c.sender_id.len() <= 16
        && c.sender_id.chars().skip(1).all(|ch| ch.is_ascii_digit());
    if c.sender_id.is_empty() || !(alphanumeric || numeric) {
        return Err("sender_id must be up to 11 letters and digits, or a number like +4915112345678".into());
    }
    let theme = theme::Theme::build(&c.theme, config_dir)?;
    if c.locales.is_empty() {
        return Err("locales needs at least one locale".into());
    }
    if let Some(unsupported) = c.locales.iter().find(|l| !SUPPORTED_LOCALES.contains(&l.as_str())) {
        return Err(format!("locale `{unsupported}` is not supported (supported: {})", SUPPORTED_LOCALES.join(", ")));
    }
    for (locale, template) in &c.sms_templates {
        if !c.locales.contains(locale) {
            return Err(format!("sms_templates.{locale}: the brand does not list `{locale}` in locales"));
        }
        let unknown = sms_text::unknown_variables(template);
        if !unknown.is_empty() {
            return Err(format!("sms_templates.{locale} uses unknown variables: {}", unknown.join(", ")));
        }
        if !template.contains("{code}") {
            return Err(format!("sms_templates.{locale} must contain {{code}}"));
        }
    }
    let texts = Texts::for_brand(&c.locales, &c.texts).map_err(|e| e.to_string())?;
    let p = &c.policy;
    let defaults = Policy::default();
    let policy = Policy {
        code_length: p.code_length.unwrap_or(defaults.code_length),
        code_ttl_seconds: p.code_ttl_seconds.unwrap_or(defaults.code_ttl_seconds),
        max_attempts: p.max_attempts.unwrap_or(defaults.max_attempts),
        max_resends: p.max_resends.unwrap_or(defaults.max_resends),
        resend_cooldown_seconds: p.resend_cooldown_seconds.unwrap_or(defaults.resend_cooldown_seconds),
        allowed_countries: p.allowed_countries.clone().unwrap_or(defaults.allowed_countries),
        high_value_amount: p.high_value_amount.unwrap_or(defaults.high_value_amount),
        max_verifications_per_number_per_hour: p
            .max_verifications_per_number_per_hour
            .unwrap_or(defaults.max_verifications_per_number_per_hour),
        review_score: p.review_score.unwrap_or(defaults.review_score),
        deny_score: p.deny_score.unwrap_or(defaults.deny_score),
        allow_unverified_phone: p.allow_unverified_phone.unwrap_or(defaults.allow_unverified_phone),
        rules: BTreeMap::new(),
        number_changed_days: p.number_changed_days.unwrap_or(defaults.number_changed_days),
        review_action: match p.review_action.as_deref() {
            None => defaults.review_action,
            Some(action) => ReviewAction::parse(action)
                .ok_or_else(|| format!("policy.review_action must be `hold` or `send`, not `{action}`"))?,
        },
        review_hold_seconds: p.review_hold_seconds.unwrap_or(defaults.review_hold_seconds),
        limits: BrandLimits {
            sms_per_number_10_minutes: p.limits.sms_per_number_10_minutes,
            sms_per_number_day: p.limits.sms_per_number_day,
            wrong_codes_day: p.limits.wrong_codes_day,
            verifications_per_customer_hour: p.limits.verifications_per_customer_hour,
            verifications_per_customer_day: p.limits.verifications_per_customer_day,
        },
        trusted_countries: p.trusted_countries.clone().unwrap_or_default(),
        sms_budget_per_day: p.sms_budget_per_day.clone(),
        relay_action: match p.relay_action.as_deref() {
            None => defaults.relay_action,
            Some(action) => RelayAction::parse(action)
                .ok_or_else(|| format!("policy.relay_action must be `accept`, `mark` or `review`, not `{action}`"))?,
        },
        swap_checks: Vec::new(),
    };
    let mut network_apis_of_brand = BTreeMap::new();
    let mut swap_checks = Vec::new();
    for (kind, check) in [(SwapKind::SimSwap, &p.sim_swap), (SwapKind::DeviceSwap, &p.device_swap)] {
        if let Some(check) = check {
            let (swap_policy, api) = swap_check(kind, check, network_apis)?;
            swap_checks.push(swap_policy);
            network_apis_of_brand.insert(kind, api);
        }
    }
    let mut policy = Policy { swap_checks, ..policy };
    for (code, rule) in &p.rules {
        let reason = RiskReason::parse(code)
            .filter(|r| r.is_scored())
            .ok_or_else(|| format!("policy.rules.{code}: not a scored rule (docs/risk.md lists them)"))?;
        let points = rule.points.unwrap_or_else(|| policy.default_points(reason));
        policy.rules.insert(reason, RuleSetting { points, shadow: rule.shadow });
    }
    policy.validate().map_err(|e| format!("policy.{e}"))?;
    let limits = deployment_limits.tightened(&policy.limits).map_err(|e| format!("policy.limits.{e}"))?;
    let policy_version = policy_version(&c.policy);
    if c.sms_route.is_empty() {
        return Err("sms_route needs at least one provider".into());
    }
    let resolve = |field: &str, names: &[String]| {
        names
            .iter()
            .map(|name| {
                gateways
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("{field} names `{name}`, which is not in [sms_providers]"))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let route = resolve("sms_route", &c.sms_route)?;
    let mut routes_by_country = HashMap::new();
    for (country, names) in &c.sms_route_by_country {
        let field = format!("sms_route_by_country.{country}");
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!("{field}: use a two-letter region code in capitals, like GB"));
        }
        if names.is_empty() {
            return Err(format!("{field} needs at least one provider"));
        }
        routes_by_country.insert(country.clone(), resolve(&field, names)?);
    }
    let two_factor_since = match &c.two_factor_since {
        None => None,
        Some(day) => Some(
            crate::clock::parse_day(day)
                .ok_or_else(|| format!("two_factor_since `{day}` must be a day like 2026-10-01"))?,
        ),
    };
    let webhooks = c
        .webhooks
        .iter()
        .map(|w| crate::webhooks::WebhookEndpoint::new(w, targets).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some((_, twice)) =
        webhooks.iter().enumerate().find(|(i, w)| webhooks.iter().take(*i).any(|o| o.name == w.name))
    {
        return Err(format!("webhooks: `{}` is declared twice", twice.name));
    }
    let alerts = alert_settings(&c.alerts)?;
    let identity = connectors
        .get(&c.identity)
        .cloned()
        .ok_or_else(|| format!("identity `{}` is not in [identity]", c.identity))?;
    Ok(Brand {
        slug,
        name: c.name.clone(),
        shop_domains,
        sender_id: c.sender_id.clone(),
        locales: c.locales.clone(),
        default_region: c.default_region.clone(),
        policy,
        limits,
        policy_version,
        sms_templates: c.sms_templates.clone().into_iter().collect(),
        route,
        routes_by_country,
        identity,
        network_apis: network_apis_of_brand,
        webhooks,
        theme,
        texts,
        two_factor_since,
        alerts,
        config: c.clone(),
    })
}

/// Every rule's settings: its defaults with the brand's changes.
fn alert_settings(
    configured: &BTreeMap<String, crate::config::AlertRuleConfig>,
) -> Result<BTreeMap<AlertRule, RuleSettings>, String> {
    let mut settings: BTreeMap<AlertRule, RuleSettings> =
        AlertRule::ALL.into_iter().map(|rule| (rule, rule.defaults())).collect();
    for (name, c) in configured {
        let rule = AlertRule::parse(name).ok_or_else(|| {
            let known: Vec<&str> = AlertRule::ALL.iter().map(|r| r.as_str()).collect();
            format!("alerts.{name} is not a rule; the rules are {}", known.join(", "))
        })?;
        let s = settings.entry(rule).or_insert_with(|| rule.defaults());
        let field = |f: &str| format!("alerts.{name}.{f}");
        if let Some(severity) = &c.severity {
            s.severity = Severity::parse(severity)
                .ok_or_else(|| format!("{} must be warning or critical", field("severity")))?;
        }
        s.enabled = c.enabled.unwrap_or(s.enabled);
        for (value, target, what, least, most) in [
            (c.window_minutes, &mut s.window_minutes, "window_minutes", 1, 24 * 60),
            (c.min_volume, &mut s.min_volume, "min_volume", 0, 1_000_000),
            (c.quiet_minutes, &mut s.quiet_minutes, "quiet_minutes", 1, 7 * 24 * 60),
            (c.baseline_volume, &mut s.baseline_volume, "baseline_volume", 1, 1_000_000),
        ] {
            if let Some(v) = value {
                if !(least..=most).contains(&v) {
                    return Err(format!("{} must be between {least} and {most}", field(what)));
                }
                *target = v;
            }
        }
        for (value, target, what) in [
            (c.change, &mut s.change, "change"),
            (c.factor, &mut s.factor, "factor"),
            (c.z, &mut s.z, "z"),
            (c.level, &mut s.level, "level"),
        ] {
            if let Some(v) = value {
                if !v.is_finite() || v < 0.0 || (what == "level" && v <= 0.0) {
                    let least = if what == "level" { "more than 0" } else { "at least 0" };
                    return Err(format!("{} must be a number {least}", field(what)));
                }
                *target = v;
            }
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderguard_domain::money::Currency;

    #[test]
    fn amounts_read_naturally() {
        let eur = Money::parse("849.5", Currency::parse("EUR").unwrap()).unwrap();
        assert_eq!(format_amount(eur, "de"), "849,50 €");
        assert_eq!(format_amount(eur, "en"), "€849.50");
        let chf = Money::parse("12", Currency::parse("CHF").unwrap()).unwrap();
        assert_eq!(format_amount(chf, "de"), "12,00 CHF");
    }
}
