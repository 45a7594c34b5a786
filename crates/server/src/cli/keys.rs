//! `orderguard apikey …` and `orderguard keys …`: the brands' API keys, the receipt signing keys
//! and the key ring (docs/configuration.md, "Keys").

use anyhow::bail;
use clap::Subcommand;
use orderguard_domain::clock::Timestamp;

use crate::app::ApiKeyCache;
use crate::clock::rfc3339;
use crate::config::Settings;
use crate::crypto::keyring::KeyPurpose;
use crate::prepare_store;
use crate::service::{api_keys, keyring, signing_keys};

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
    /// Seal new data with a new data key (from two minutes on); running instances then re-seal
    /// what is stored in the background, and the old key retires once nothing needs it.
    RotateDataKey,
    /// Key numbers, ranges, devices and networks with a new look-up key (from two minutes on);
    /// the previous key stays matched for 91 days, while stored hashes are made again.
    RotateLookupKey,
    /// Wrap every key of the ring with `secret_key` (a master rotation: `previous_secret_key`
    /// names the master being replaced).
    Rewrap,
    /// The key ring: each key, which is active, and the work left from rotations.
    Status,
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
        KeysAction::RotateDataKey => {
            crate::open_secrets(&settings, &store).await?;
            let new = keyring::rotate(&store, &settings.masters()?, KeyPurpose::Data, now).await?;
            println!(
                "data key {} seals new data from {}; running instances then re-seal stored data in the background \
                 (`orderguard keys status` shows what is left)",
                new.generation,
                rfc3339(new.active_from.millis())
            );
        }
        KeysAction::RotateLookupKey => {
            crate::open_secrets(&settings, &store).await?;
            let new = keyring::rotate(&store, &settings.masters()?, KeyPurpose::Lookup, now).await?;
            println!(
                "look-up key {} keys new data from {}; the previous key stays matched until {} while running \
                 instances key stored hashes again (`orderguard keys status` shows what is left)",
                new.generation,
                rfc3339(new.active_from.millis()),
                crate::clock::day(new.active_from.millis() + keyring::LOOKUP_OVERLAP_MS)
            );
        }
        KeysAction::Rewrap => {
            let rewrapped = keyring::rewrap(&store, &settings.masters()?).await?;
            println!(
                "{rewrapped} key(s) wrapped again with secret_key {}; previous_secret_key can be removed from every \
                 instance's configuration",
                settings.masters()?.current.id()
            );
        }
        KeysAction::Status => {
            let secrets = crate::open_secrets(&settings, &store).await?;
            let status = keyring::status(&store, &secrets, now).await?;
            println!(
                "{:<10} {:>10}  {:<8} {:<16} {:<25} retired",
                "purpose", "generation", "state", "master", "active from"
            );
            for (row, active) in &status.keys {
                let state = match (row.retired_at, active) {
                    (Some(_), _) => "retired",
                    (None, true) => "active",
                    (None, false) if row.active_from > now.millis() => "pending",
                    (None, false) => "previous",
                };
                let retired = row.retired_at.map(rfc3339).unwrap_or_default();
                println!(
                    "{:<10} {:>10}  {:<8} {:<16} {:<25} {retired}",
                    row.purpose.as_str(),
                    row.generation,
                    state,
                    row.master_id,
                    rfc3339(row.active_from)
                );
            }
            println!("values still sealed by an older data key: {}", status.to_reseal);
            println!("verifications and list entries still keyed by an older look-up key: {}", status.to_rekey);
            if status.unrekeyable > 0 {
                println!(
                    "{} number or device list entries from before key rings hold only a hash and keep their look-up \
                     key matched: add them again and remove the old ones to let it retire",
                    status.unrekeyable
                );
            }
        }
        KeysAction::Rotate { keep } => {
            let secrets = crate::open_secrets(&settings, &store).await?;
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
