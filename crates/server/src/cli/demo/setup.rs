//! The demo's deployment in one folder — four brands (two with demo shops that
//! look and speak differently), demo customers and simulated ones, the outbox SMS provider, the
//! demo shops, and a clock `orderguard simulate` may move to fill the dashboards with history.

use std::path::Path;

use base64::Engine;
use orderguard_domain::clock::Timestamp;

use crate::config::{ConfigError, Settings};

/// Nordtel's logo, written next to the configuration (a logo from a file).
const NORDTEL_LOGO_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="168" height="40" viewBox="0 0 168 40"><rect width="40" height="40" rx="8" fill="#0b4f8a"/><path d="M11 30V10h4l10 13V10h4v20h-4L15 17v13z" fill="#fff"/><text x="48" y="28" font-family="Georgia, serif" font-size="22" font-weight="700" fill="#0b4f8a">Nordtel</text></svg>"##;

/// Skyline's logo, given inline as a data URI (a logo without a file).
const SKYLINE_LOGO_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="210" height="40" viewBox="0 0 210 40"><circle cx="20" cy="20" r="20" fill="#5b2a86"/><path d="M6 30h28v-4h-4V14h-4v6h-3V9h-4v11h-3v-5h-4v11H6z" fill="#ffd6cf"/><text x="48" y="27" font-family="Trebuchet MS, Verdana, sans-serif" font-size="20" font-weight="700" fill="#5b2a86">Skyline Mobile</text></svg>"##;

/// Customers of the demo brands: (brand, customer id, phone).
const DEMO_CUSTOMERS: &[(&str, &str, &str)] = &[
    ("nordtel", "c-1001", "+4915123456789"),
    ("nordtel", "c-1002", "+4917612345678"),
    ("nordtel", "c-1003", "+436641234567"),
    ("nordtel", "c-1004", "+4915155501004"),
    ("nordtel", "c-6666", "+499001234567"),
    ("skyline", "s-2001", "+447400123456"),
    ("skyline", "s-2002", "+447912345678"),
    ("skyline", "s-2003", "+4915112345670"),
    ("skyline", "s-2004", "+447400777004"),
    ("fjordnett", "f-3001", "+4747123901"),
    ("alpentel", "a-4001", "+436645559001"),
];

/// Named customers whose SIM the demo's gateway says was swapped three hours ago: one per brand,
/// to try the SIM swap check in the demo shops.
const SIM_SWAPPED_CUSTOMERS: [&str; 4] = ["c-1004", "s-2004", "f-3001", "a-4001"];

/// The demo's brands for simulated traffic: slug, currency, days before today that 2FA was
/// switched on (`None`: always on), and the mobile and premium-rate numbers of their customers.
pub struct DemoBrand {
    pub slug: &'static str,
    pub currency: &'static str,
    pub two_factor_days_ago: Option<i64>,
    mobile: fn(u32) -> String,
    premium: Option<fn(u32) -> String>,
    /// Ordinary mobile numbers in one range of their own, for accounts pumpers use (never approved).
    pumped_range: Option<fn(u32) -> String>,
}

pub const DEMO_BRANDS: [DemoBrand; 4] = [
    DemoBrand {
        slug: "nordtel",
        currency: "EUR",
        two_factor_days_ago: Some(14),
        mobile: |n| {
            if n % 5 == 4 { format!("+43664{:07}", 2_000_000 + n) } else { format!("+49151{:08}", 30_000_000 + n) }
        },
        premium: Some(|n| format!("+499001{:06}", 200_000 + n)),
        pumped_range: Some(|n| format!("+4915290001{:03}", n)),
    },
    DemoBrand {
        slug: "skyline",
        currency: "GBP",
        two_factor_days_ago: Some(21),
        mobile: |n| format!("+447400{:06}", 500_000 + n),
        premium: Some(|n| format!("+44909{:07}", 8_790_000 + n)),
        pumped_range: Some(|n| format!("+4474009{:05}", n)),
    },
    DemoBrand {
        slug: "fjordnett",
        currency: "NOK",
        two_factor_days_ago: Some(10),
        mobile: |n| format!("+474{:07}", 1_234_000 + n),
        premium: None,
        pumped_range: None,
    },
    DemoBrand {
        slug: "alpentel",
        currency: "EUR",
        two_factor_days_ago: None,
        mobile: |n| format!("+43664{:07}", 5_000_000 + n),
        premium: None,
        pumped_range: None,
    },
];

/// Simulated customers per brand, and of them with a premium-rate number (SMS pumping targets).
const SIMULATED_CUSTOMERS: u32 = 120;
const PUMPING_TARGETS: u32 = 6;
/// Accounts with mobile numbers in one range that pumpers spread a burst over (more than the
/// burst rule's 20, so that a burst can pass it).
const RANGE_PUMPING_ACCOUNTS: u32 = 30;
/// Simulated customers whose numbers SIM swappers took over (the gateway says: three hours ago).
const SIM_SWAP_VICTIMS: u32 = 50;

/// The named customer whose number is premium-rate (an SMS pumping target).
const PUMPING_CUSTOMER: &str = "c-6666";

/// A demo customer: brand, id, phone, whether the number is premium-rate, and whether the account
/// is one of those pumpers spread a burst to one range over.
pub struct Customer {
    pub brand: &'static str,
    pub id: String,
    pub phone: String,
    pub pumping: bool,
    pub range_pumping: bool,
    /// The demo's gateway says the number's SIM was swapped three hours ago.
    pub sim_swapped: bool,
}

/// Every demo customer: the named ones first, then the simulated ones.
pub fn customers() -> Vec<Customer> {
    let named = DEMO_CUSTOMERS.iter().map(|&(brand, id, phone)| Customer {
        brand,
        id: id.to_owned(),
        phone: phone.to_owned(),
        pumping: id == PUMPING_CUSTOMER,
        range_pumping: false,
        sim_swapped: SIM_SWAPPED_CUSTOMERS.contains(&id),
    });
    let simulated = DEMO_BRANDS.iter().flat_map(|b| {
        let mobile = (0..SIMULATED_CUSTOMERS).map(move |n| Customer {
            brand: b.slug,
            id: format!("{}-{n:04}", b.slug),
            phone: (b.mobile)(n),
            pumping: false,
            range_pumping: false,
            sim_swapped: false,
        });
        let premium = b.premium.into_iter().flat_map(move |number| {
            (0..PUMPING_TARGETS).map(move |n| Customer {
                brand: b.slug,
                id: format!("{}-p{n:02}", b.slug),
                phone: number(n),
                pumping: true,
                range_pumping: false,
                sim_swapped: false,
            })
        });
        let pumped = b.pumped_range.into_iter().flat_map(move |number| {
            (0..RANGE_PUMPING_ACCOUNTS).map(move |n| Customer {
                brand: b.slug,
                id: format!("{}-r{n:02}", b.slug),
                phone: number(n),
                pumping: false,
                range_pumping: true,
                sim_swapped: false,
            })
        });
        // Beyond the honest customers' numbers of the brand.
        let swapped = (0..SIM_SWAP_VICTIMS).map(move |n| Customer {
            brand: b.slug,
            id: format!("{}-s{n:02}", b.slug),
            phone: (b.mobile)(SIMULATED_CUSTOMERS + 50 + n),
            pumping: false,
            range_pumping: false,
            sim_swapped: true,
        });
        mobile.chain(premium).chain(pumped).chain(swapped)
    });
    named.chain(simulated).collect()
}

/// The day `days` before `now`, as `YYYY-MM-DD`.
fn day_before(now: i64, days: i64) -> String {
    crate::clock::day(now - days * crate::analytics::DAY_MS)
}

/// The demo configuration, written to `<data>/orderguard.toml` so it can be read and changed.
/// `status_token` lets `orderguard simulate` report deliveries of the outbox's messages.
pub fn config_toml(
    listen: &str,
    data_dir: &Path,
    database_url: Option<&str>,
    status_token: &str,
    now: Timestamp,
) -> String {
    let all = customers();
    // Each brand's customers in a static directory of its own.
    let directories: String = DEMO_BRANDS
        .iter()
        .map(|b| {
            let listed: Vec<String> = all
                .iter()
                .filter(|c| c.brand == b.slug)
                .map(|c| format!("  {{ id = \"{}\", phone = \"{}\" }},", c.id, c.phone))
                .collect();
            format!("[identity.{}-directory]\nkind = \"static\"\ncustomers = [\n{}\n]\n\n", b.slug, listed.join("\n"))
        })
        .collect();
    let since = |slug: &str| {
        DEMO_BRANDS
            .iter()
            .find(|b| b.slug == slug)
            .and_then(|b| b.two_factor_days_ago)
            .map_or_else(String::new, |days| format!("two_factor_since = \"{}\"\n", day_before(now.millis(), days)))
    };
    let database_url =
        database_url.map_or_else(|| format!("sqlite://{}/orderguard.db", data_dir.display()), str::to_owned);
    let swapped: Vec<String> = all.iter().filter(|c| c.sim_swapped).map(|c| format!("\"{}\"", c.phone)).collect();
    let swapped = swapped.join(", ");
    // The instance asks its own development gateway.
    let gateway = format!("http://{}/dev/camara", listen.replace("0.0.0.0", "127.0.0.1"));
    let checks = "sim_swap = { api = \"demo-gateway\" }, device_swap = { api = \"demo-gateway\" }";
    // Every brand's events go to the instance's own development receiver.
    let hooks = |slug: &str| {
        format!(
            "\n[[brands.webhooks]]\nname = \"{endpoint}\"\nurl = \"{receiver}/{slug}\"\n\
             events = {DEMO_WEBHOOK_EVENTS}\nsecrets = [\"${{file:{data}/{secret}}}\"]\n\
             description = \"the demo's development receiver (/dev/webhooks)\"\n",
            endpoint = crate::http::dev::webhooks::ENDPOINT,
            receiver = webhook_receiver_url(listen),
            data = data_dir.display(),
            secret = webhook_secret_file(slug),
        )
    };
    let data = data_dir.display();
    let skyline_logo =
        format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(SKYLINE_LOGO_SVG));
    // Prometheus metrics on a loopback port of their own, free now (two demos may run at once).
    let metrics_listen = concrete_port("127.0.0.1:0");
    format!(
        r##"# Written by `orderguard demo`. A full reference is in docs/configuration.md.
listen = "{listen}"
database_url = "{database_url}"
secret_key_file = "{data}/secret.key"
# The demo's webhook receiver is on this machine.
webhook_private_targets = true

[metrics]
listen = "{metrics_listen}"

# The market page compares losses in euros; the demo's brands sell in EUR, GBP and NOK. Reference
# rates for the comparison only, set by the operator (docs/configuration.md, "Market").
[market]
currency = "EUR"
exchange_rates = {{ GBP = 1.17, NOK = 0.085 }}

[dev]
outbox_page = true
demo_shop = true
# `orderguard simulate` moves this instance's clock through weeks of traffic.
simulated_clock = true
# The admin sign-in's second factor: its page shows the current code, so that the demo needs no
# authenticator app. Never in production.
show_admin_codes = true
# A telco gateway of the instance's own (CAMARA SIM Swap and Device Swap) for the SIM swap check.
network_api = true
network_api_secret = "{network_secret}"
sim_swapped = [{swapped}]
# A webhook receiver of the instance's own: /dev/webhooks lists what each brand's endpoint got.
webhook_receiver = true
# Endpoints made in the admin area may go to receivers on this machine (development only).
stored_webhooks_to_private_targets = true

# The development gateway above, as a real one is configured (docs/network-apis.md).
[network_apis.demo-gateway]
sim_swap_url = "{gateway}/sim-swap/v2"
device_swap_url = "{gateway}/device-swap/v1"
auth = {{ kind = "client_credentials", token_url = "{gateway}/token", client_id = "orderguard-demo", client_secret = "{network_secret}" }}

[sms_providers.outbox]
kind = "outbox"
# Delivery reports, posted by `orderguard simulate` playing the handset network.
status_callback = {{ token = "{status_token}", message_id_field = "message_id", status_field = "status", delivered = ["delivered"], failed = ["failed"] }}

{directories}
[[brands]]
slug = "nordtel"
name = "Nordtel"
shop_domains = ["shop.nordtel.example", "127.0.0.1", "localhost"]
sender_id = "Nordtel"
locales = ["de", "en"]
default_region = "DE"
sms_route = ["outbox"]
identity = "nordtel-directory"
# Where a customer whose order the rules refused asks for a person to review it (GDPR Art. 22).
review_contact = "pruefung@nordtel.example"
theme = {{ primary_color = "#0b4f8a", accent_color = "#b45309", font = "Georgia, 'Times New Roman', serif", logo = "nordtel-logo.svg", imprint_url = "https://shop.nordtel.example/impressum", privacy_url = "https://shop.nordtel.example/datenschutz" }}
policy = {{ allowed_countries = ["DE", "AT"], high_value_amount = 500, {checks} }}
{nordtel_since}{nordtel_hooks}
[[brands]]
slug = "skyline"
name = "Skyline Mobile"
shop_domains = ["shop.skyline.example", "127.0.0.1", "localhost"]
sender_id = "Skyline"
locales = ["en", "de"]
default_region = "GB"
sms_route = ["outbox"]
identity = "skyline-directory"
review_contact = "https://shop.skyline.example/order-review"
theme = {{ primary_color = "#5b2a86", accent_color = "#c2410c", font = "'Trebuchet MS', Verdana, sans-serif", logo = "{skyline_logo}", imprint_url = "https://shop.skyline.example/legal", privacy_url = "https://shop.skyline.example/privacy" }}
policy = {{ code_length = 6, max_attempts = 5, resend_cooldown_seconds = 30, {checks} }}
{skyline_since}{skyline_hooks}
# A brand's own wording for any text of the hosted page, per language (keys: locales/en.ftl).
[brands.texts.en]
order-intro = "Skyline checks every order with a code by SMS, so nobody can order in your name."
confirm-button = "Confirm and pay"

[brands.texts.de]
order-intro = "Skyline prüft jede Bestellung mit einem SMS-Code, damit niemand in Ihrem Namen bestellt."
confirm-button = "Bestätigen und bezahlen"

# Two more brands without demo shops: the market page compares a brand with the others only when
# at least three others contribute.
[[brands]]
slug = "fjordnett"
name = "Fjordnett"
shop_domains = ["shop.fjordnett.example"]
sender_id = "Fjordnett"
locales = ["en"]
default_region = "NO"
sms_route = ["outbox"]
identity = "fjordnett-directory"
# Personal fields of verifications are erased after 21 days: the demo's oldest week shows it
# (docs/gdpr.md).
retention_days = 21
policy = {{ {checks} }}
{fjordnett_since}{fjordnett_hooks}
[[brands]]
slug = "alpentel"
name = "Alpentel"
shop_domains = ["shop.alpentel.example"]
sender_id = "Alpentel"
locales = ["de", "en"]
default_region = "AT"
sms_route = ["outbox"]
identity = "alpentel-directory"
policy = {{ {checks} }}
{alpentel_since}{alpentel_hooks}"##,
        nordtel_hooks = hooks("nordtel"),
        skyline_hooks = hooks("skyline"),
        fjordnett_hooks = hooks("fjordnett"),
        alpentel_hooks = hooks("alpentel"),
        network_secret = crate::ids::random_token(24),
        nordtel_since = since("nordtel"),
        skyline_since = since("skyline"),
        alpentel_since = since("alpentel"),
        fjordnett_since = since("fjordnett"),
    )
}

/// A file holding one gateway, for `orderguard demo --network-api FILE`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayFile {
    network_apis: std::collections::BTreeMap<String, crate::config::NetworkApiConfig>,
}

/// Points every brand's checks at the one gateway in the file at `path` instead of the demo's
/// own; gives its name.
pub fn use_gateway(settings: &mut Settings, path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.to_owned(), error })?;
    let file: GatewayFile =
        toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })?;
    let mut gateways = file.network_apis.into_iter();
    let (Some((name, gateway)), None) = (gateways.next(), gateways.next()) else {
        return Err(ConfigError::Invalid(format!("{}: declare exactly one [network_apis.NAME]", path.display())));
    };
    for brand in &mut settings.brands {
        let check = |url: &Option<String>, configured: &Option<crate::config::SwapCheckConfig>| {
            url.as_ref().and(configured.clone()).map(|c| crate::config::SwapCheckConfig { api: name.clone(), ..c })
        };
        brand.policy.sim_swap = check(&gateway.sim_swap_url, &brand.policy.sim_swap);
        brand.policy.device_swap = check(&gateway.device_swap_url, &brand.policy.device_swap);
    }
    settings.network_apis = [(name.clone(), gateway)].into();
    Ok(name)
}

/// What a shop's backend would subscribe to: the decisions about its orders; and what a fraud
/// desk's pager would: the alerts.
const DEMO_WEBHOOK_EVENTS: &str = "[\"verification.approved\", \"verification.blocked\", \"verification.held\", \
     \"verification.failed\", \"review.approved\", \"review.released\", \"review.rejected\", \"risk.lock_engaged\", \
     \"alert.raised\", \"alert.acknowledged\", \"alert.resolved\"]";

/// The file next to the configuration that holds a demo brand's webhook secret.
pub fn webhook_secret_file(slug: &str) -> String {
    format!("webhook-secret-{slug}")
}

/// Where the demo's development receiver takes deliveries (`/{brand}` follows).
pub fn webhook_receiver_url(listen: &str) -> String {
    format!("http://{}/dev/webhooks", listen.replace("0.0.0.0", "127.0.0.1"))
}

/// Writes a file only its owner can read (secrets in a shared temporary folder).
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::fs::PermissionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    // Also when an earlier version left it readable by others.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(contents.as_bytes())
}

/// `listen` with a free port in place of `0`: the configuration names the instance's own URL
/// (its development gateway), which a port chosen at bind time would not know.
fn concrete_port(listen: &str) -> String {
    match listen.rsplit_once(':') {
        Some((host, "0")) => match std::net::TcpListener::bind((host, 0)).and_then(|l| l.local_addr()) {
            Ok(addr) => format!("{host}:{}", addr.port()),
            Err(_) => listen.to_owned(),
        },
        _ => listen.to_owned(),
    }
}

/// Creates the data folder with its secret key and configuration (keeping an existing key).
pub fn prepare(
    listen: &str,
    data_dir: &Path,
    database_url: Option<&str>,
    status_token: &str,
    now: Timestamp,
) -> Result<Settings, ConfigError> {
    std::fs::create_dir_all(data_dir).map_err(|error| ConfigError::Read { path: data_dir.to_owned(), error })?;
    let listen = &concrete_port(listen);
    let key_path = data_dir.join("secret.key");
    if !key_path.exists() {
        let key = crate::crypto::Secrets::encode_master_key(&crate::ids::random_bytes::<32>());
        write_private(&key_path, &key).map_err(|error| ConfigError::Read { path: key_path.clone(), error })?;
    }
    for brand in &DEMO_BRANDS {
        let path = data_dir.join(webhook_secret_file(brand.slug));
        if !path.exists() {
            let secret = crate::webhooks::signature::WebhookSecret::generate();
            write_private(&path, &secret).map_err(|error| ConfigError::Read { path: path.clone(), error })?;
        }
    }
    let logo_path = data_dir.join("nordtel-logo.svg");
    std::fs::write(&logo_path, NORDTEL_LOGO_SVG)
        .map_err(|error| ConfigError::Read { path: logo_path.clone(), error })?;
    let config_path = data_dir.join("orderguard.toml");
    let text = config_toml(listen, data_dir, database_url, status_token, now);
    // It names the development gateway's secret.
    write_private(&config_path, &text).map_err(|error| ConfigError::Read { path: config_path.clone(), error })?;
    Settings::from_toml(&text, &config_path)
}

#[cfg(test)]
mod tests {
    use orderguard_domain::phone::{E164, NumberType};

    #[test]
    fn simulated_customers_have_mobile_numbers_and_pumpers_premium_ones() {
        let customers = super::customers();
        assert!(customers.len() > 480);
        let ranges: std::collections::BTreeSet<_> = customers
            .iter()
            .filter(|c| c.range_pumping)
            .map(|c| (c.brand, crate::service::verifications::activity::range_of(&c.phone).to_owned()))
            .collect();
        assert_eq!(ranges.len(), 2, "one range per brand with pumped accounts: {ranges:?}");
        let honest: std::collections::BTreeSet<_> = customers
            .iter()
            .filter(|c| !c.range_pumping)
            .map(|c| crate::service::verifications::activity::range_of(&c.phone).to_owned())
            .collect();
        assert!(ranges.iter().all(|(_, r)| !honest.contains(r)), "pumped ranges hold no honest customer");
        for c in customers {
            let number = E164::parse(&c.phone, None).unwrap_or_else(|e| panic!("{}: {e:?}", c.phone));
            if c.pumping {
                assert_eq!(number.number_type(), NumberType::PremiumRate, "{}", c.phone);
            } else {
                assert!(number.number_type().can_receive_sms(), "{} is {:?}", c.phone, number.number_type());
            }
        }
    }

    #[test]
    fn the_demo_asks_a_gateway_of_ones_own() {
        let dir = std::env::temp_dir().join(format!("og-demo-gateway-{}", crate::ids::random_token(6)));
        let now = crate::clock::Clock::default().now();
        let mut settings = super::prepare("127.0.0.1:0", &dir, None, "a-token-of-sixteen-or-more", now).unwrap();
        let file = dir.join("gateway.toml");
        let gateway = r#"
[network_apis.mine]
sim_swap_url = "http://127.0.0.1:4010"
auth = { kind = "bearer", token = "test" }
"#;
        std::fs::write(&file, gateway).unwrap();
        assert_eq!(super::use_gateway(&mut settings, &file).unwrap(), "mine");
        let brands = crate::brand::Brands::build(&settings).unwrap();
        for brand in brands.all() {
            let names: Vec<_> = brand.network_apis.values().map(|api| api.name.clone()).collect();
            assert_eq!(names, ["mine"], "{}: only the SIM swap check, at the given gateway", brand.slug);
        }
        std::fs::write(&file, format!("{gateway}\n[network_apis.other]\nsim_swap_url = \"http://x\"\nauth = {{ kind = \"bearer\", token = \"t\" }}\n")).unwrap();
        assert!(super::use_gateway(&mut settings, &file).unwrap_err().to_string().contains("exactly one"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_demo_configuration_loads() {
        let dir = std::env::temp_dir().join(format!("og-demo-config-{}", crate::ids::random_token(6)));
        let now = crate::clock::Clock::default().now();
        let settings = super::prepare("127.0.0.1:0", &dir, None, "a-token-of-sixteen-or-more", now).unwrap();
        crate::brand::Brands::build(&settings).unwrap();
        assert_eq!(settings.brands.len(), 4);
        assert_eq!(
            settings.brands.iter().filter(|b| b.two_factor_since.is_some()).count(),
            super::DEMO_BRANDS.iter().filter(|b| b.two_factor_days_ago.is_some()).count(),
            "every brand's 2FA date from DEMO_BRANDS is in the configuration"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
