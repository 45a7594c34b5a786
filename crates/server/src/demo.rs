//! `orderguard demo`: a complete deployment in one folder — two brands that look and speak
//! differently, demo customers, the outbox SMS provider and the demo shops.

use std::path::Path;

use base64::Engine;

use crate::config::{ConfigError, Settings};

/// Nordtel's logo, written next to the configuration (a logo from a file).
const NORDTEL_LOGO_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="168" height="40" viewBox="0 0 168 40"><rect width="40" height="40" rx="8" fill="#0b4f8a"/><path d="M11 30V10h4l10 13V10h4v20h-4L15 17v13z" fill="#fff"/><text x="48" y="28" font-family="Georgia, serif" font-size="22" font-weight="700" fill="#0b4f8a">Nordtel</text></svg>"##;

/// Skyline's logo, given inline as a data URI (a logo without a file).
const SKYLINE_LOGO_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="210" height="40" viewBox="0 0 210 40"><circle cx="20" cy="20" r="20" fill="#5b2a86"/><path d="M6 30h28v-4h-4V14h-4v6h-3V9h-4v11h-3v-5h-4v11H6z" fill="#ffd6cf"/><text x="48" y="27" font-family="Trebuchet MS, Verdana, sans-serif" font-size="20" font-weight="700" fill="#5b2a86">Skyline Mobile</text></svg>"##;

/// Customers of the demo brands: (brand, customer id, phone).
pub const DEMO_CUSTOMERS: &[(&str, &str, &str)] = &[
    ("nordtel", "c-1001", "+4915123456789"),
    ("nordtel", "c-1002", "+4917612345678"),
    ("nordtel", "c-1003", "+436641234567"),
    ("nordtel", "c-6666", "+499001234567"),
    ("skyline", "s-2001", "+447400123456"),
    ("skyline", "s-2002", "+447912345678"),
    ("skyline", "s-2003", "+4915112345670"),
];

/// The demo configuration, written to `<data>/orderguard.toml` so it can be read and changed.
pub fn config_toml(listen: &str, data_dir: &Path) -> String {
    let customers = |brand: &str| {
        DEMO_CUSTOMERS
            .iter()
            .filter(|(b, _, _)| *b == brand)
            .map(|(_, id, phone)| format!("  {{ id = \"{id}\", phone = \"{phone}\" }},"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let data = data_dir.display();
    let skyline_logo =
        format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(SKYLINE_LOGO_SVG));
    format!(
        r##"# Written by `orderguard demo`. A full reference is in docs/configuration.md.
listen = "{listen}"
database_url = "sqlite://{data}/orderguard.db"
secret_key_file = "{data}/secret.key"

[dev]
outbox_page = true
demo_shop = true

[sms_providers.outbox]
kind = "outbox"

[identity.nordtel-directory]
kind = "static"
customers = [
{nordtel}
]

[identity.skyline-directory]
kind = "static"
customers = [
{skyline}
]

[[brands]]
slug = "nordtel"
name = "Nordtel"
shop_domains = ["shop.nordtel.example", "127.0.0.1", "localhost"]
sender_id = "Nordtel"
locales = ["de", "en"]
default_region = "DE"
sms_route = ["outbox"]
identity = "nordtel-directory"
theme = {{ primary_color = "#0b4f8a", accent_color = "#b45309", font = "Georgia, 'Times New Roman', serif", logo = "nordtel-logo.svg", imprint_url = "https://shop.nordtel.example/impressum", privacy_url = "https://shop.nordtel.example/datenschutz" }}
policy = {{ allowed_countries = ["DE", "AT"], high_value_amount = 500 }}

[[brands]]
slug = "skyline"
name = "Skyline Mobile"
shop_domains = ["shop.skyline.example", "127.0.0.1", "localhost"]
sender_id = "Skyline"
locales = ["en", "de"]
default_region = "GB"
sms_route = ["outbox"]
identity = "skyline-directory"
theme = {{ primary_color = "#5b2a86", accent_color = "#c2410c", font = "'Trebuchet MS', Verdana, sans-serif", logo = "{skyline_logo}", imprint_url = "https://shop.skyline.example/legal", privacy_url = "https://shop.skyline.example/privacy" }}
policy = {{ code_length = 6, max_attempts = 5, resend_cooldown_seconds = 30 }}

# A brand's own wording for any text of the hosted page, per language (keys: locales/en.ftl).
[brands.texts.en]
order-intro = "Skyline checks every order with a code by SMS, so nobody can order in your name."
confirm-button = "Confirm and pay"

[brands.texts.de]
order-intro = "Skyline prüft jede Bestellung mit einem SMS-Code, damit niemand in Ihrem Namen bestellt."
confirm-button = "Bestätigen und bezahlen"
"##,
        nordtel = customers("nordtel"),
        skyline = customers("skyline"),
    )
}

/// Writes a file only its owner can read (secrets in a shared temporary folder).
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}

/// Creates the data folder with its secret key and configuration (keeping an existing key).
pub fn prepare(listen: &str, data_dir: &Path) -> Result<Settings, ConfigError> {
    std::fs::create_dir_all(data_dir).map_err(|error| ConfigError::Read { path: data_dir.to_owned(), error })?;
    let key_path = data_dir.join("secret.key");
    if !key_path.exists() {
        let key = crate::crypto::Secrets::encode_master_key(&crate::ids::random_bytes::<32>());
        write_private(&key_path, &key).map_err(|error| ConfigError::Read { path: key_path.clone(), error })?;
    }
    let logo_path = data_dir.join("nordtel-logo.svg");
    std::fs::write(&logo_path, NORDTEL_LOGO_SVG)
        .map_err(|error| ConfigError::Read { path: logo_path.clone(), error })?;
    let config_path = data_dir.join("orderguard.toml");
    let text = config_toml(listen, data_dir);
    std::fs::write(&config_path, &text).map_err(|error| ConfigError::Read { path: config_path.clone(), error })?;
    Settings::from_toml(&text, &config_path)
}
