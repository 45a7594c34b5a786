//! `orderguard demo`: a complete deployment in one folder — two brands that look and speak
//! differently, demo customers, the outbox SMS provider and the demo shops.

use std::path::Path;

use crate::config::{ConfigError, Settings};

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
theme = {{ primary_color = "#0b4f8a", accent_color = "#f2a900", font = "Georgia, 'Times New Roman', serif" }}
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
theme = {{ primary_color = "#5b2a86", accent_color = "#ff6f59", font = "'Trebuchet MS', Verdana, sans-serif" }}
policy = {{ code_length = 6, max_attempts = 5, resend_cooldown_seconds = 30 }}
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
    let config_path = data_dir.join("orderguard.toml");
    let text = config_toml(listen, data_dir);
    std::fs::write(&config_path, &text).map_err(|error| ConfigError::Read { path: config_path.clone(), error })?;
    Settings::from_toml(&text, &config_path)
}
