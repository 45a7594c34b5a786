//! `orderguard apikey …` and `orderguard keys …`: the brands' API keys and the receipt signing keys.

use anyhow::bail;
use clap::Subcommand;
use orderguard_domain::clock::Timestamp;

use crate::app::ApiKeyCache;
use crate::clock::rfc3339;
use crate::config::Settings;
use crate::crypto::Secrets;
use crate::prepare_store;
use crate::service::{api_keys, signing_keys};

#[derive(Subcommand)]
pub enum ApikeyAction {
    /// Create a key; it is shown once.
    Create {
        #[arg(long)]
        brand: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List a brand's keys (prefixes only).
    List {
        #[arg(long)]
        brand: String,
    },
    /// Revoke a key by its id.
    Revoke {
        #[arg(long)]
        brand: String,
        id: String,
    },
}

#[derive(Subcommand)]
pub enum KeysAction {
    /// Create a new signing key: published at once, it signs after five minutes; older keys stay published.
    Rotate {
        /// Also withdraw keys older than the newest N (receipts they signed stop verifying).
        #[arg(long)]
        keep: Option<usize>,
    },
    /// List the published signing keys.
    List,
}

/// Creates a key for a configured brand; gives the secret.
pub async fn create_api_key(settings: &Settings, brand: &str, label: &str, now: Timestamp) -> anyhow::Result<String> {
    if !settings.brands.iter().any(|b| b.slug == brand) {
        bail!("brand `{brand}` is not in the configuration");
    }
    let store = prepare_store(settings, now).await?;
    Ok(api_keys::create(&store, brand, label, now).await?)
}

pub async fn apikey(action: ApikeyAction, settings: Settings, now: Timestamp) -> anyhow::Result<()> {
    match action {
        ApikeyAction::Create { brand, label } => {
            let secret = create_api_key(&settings, &brand, &label, now).await?;
            eprintln!("API key for {brand} (shown once; store it in the shop's secret store):");
            println!("{secret}");
        }
        ApikeyAction::List { brand } => {
            let store = prepare_store(&settings, now).await?;
            println!("{:<38} {:<10} {:<25} {:<10} label", "id", "prefix", "created", "state");
            for k in api_keys::list(&store, &brand).await? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                let created = rfc3339(k.created_at);
                println!("{:<38} {:<10} {:<25} {:<10} {}", k.id, k.prefix, created, state, k.label);
            }
        }
        ApikeyAction::Revoke { brand, id } => {
            let store = prepare_store(&settings, now).await?;
            if !api_keys::revoke(&store, &brand, &id, now).await? {
                bail!("brand `{brand}` has no active API key with id {id}");
            }
            println!("revoked {id}; it stops working within {} s", ApiKeyCache::TTL.as_secs());
        }
    }
    Ok(())
}

pub async fn signing_keys(action: KeysAction, settings: Settings, now: Timestamp) -> anyhow::Result<()> {
    let store = prepare_store(&settings, now).await?;
    match action {
        KeysAction::Rotate { keep } => {
            let secrets = Secrets::derive(&settings.master_key()?);
            let rotated = signing_keys::rotate(&store, &secrets, keep, now).await?;
            println!(
                "new signing key {}: in the JWKS of running instances within 30 s, signing after {} minutes; \
                 {} older key(s) withdrawn",
                rotated.kid, rotated.signs_after_minutes, rotated.retired
            );
        }
        KeysAction::List => {
            for key in signing_keys::published(&store).await? {
                println!("{}  {}", key.kid, rfc3339(key.created_at));
            }
        }
    }
    Ok(())
}
