//! The keys that sign receipts: created at first start, rotated by an operator, reloaded by every
//! instance so that a rotation elsewhere is picked up.

use orderguard_domain::clock::Timestamp;

use crate::app::App;
use crate::crypto::Secrets;
use crate::crypto::jws::{PUBLISH_BEFORE_SIGNING_MS, generate_key};
use crate::records::keys::SigningKeyRow;
use crate::service::ServiceError;
use crate::store::{Store, StoreError, keys};

/// The published keys, newest first; the first instance to start creates one.
pub async fn ensure(store: &Store, secrets: &Secrets, now: Timestamp) -> Result<Vec<SigningKeyRow>, ServiceError> {
    let fresh = generate_key(secrets, crate::ids::new_id(now.millis()), now.millis())
        .map_err(|_| ServiceError::Internal("a new signing key could not be made"))?;
    Ok(store
        .write(move |conn| -> Result<_, StoreError> {
            let mut published = keys::published_signing_keys(conn)?;
            if published.is_empty() {
                keys::insert_signing_key(conn, &fresh)?;
                published.push(fresh);
            }
            Ok(published)
        })
        .await?)
}

/// Loads the published keys into this instance's signer.
pub async fn reload(app: &App) -> Result<(), ServiceError> {
    let rows = app.store.read(keys::published_signing_keys).await?;
    app.signer.reload(&rows, &app.secrets).map_err(|_| ServiceError::Internal("a signing key cannot be decrypted"))
}

pub struct Rotated {
    pub kid: String,
    /// Older keys withdrawn from the JWKS.
    pub retired: u64,
    /// After this long the new key signs (it is published at once).
    pub signs_after_minutes: i64,
}

/// A new signing key, published at once; `keep` withdraws all but the newest `keep` keys
/// (receipts signed by a withdrawn key stop verifying).
pub async fn rotate(
    store: &Store,
    secrets: &Secrets,
    keep: Option<usize>,
    now: Timestamp,
) -> Result<Rotated, ServiceError> {
    let fresh = generate_key(secrets, crate::ids::new_id(now.millis()), now.millis())
        .map_err(|_| ServiceError::Internal("a new signing key could not be made"))?;
    let kid = fresh.kid.clone();
    let retired = store
        .write(move |conn| -> Result<u64, StoreError> {
            keys::insert_signing_key(conn, &fresh)?;
            let Some(keep) = keep else { return Ok(0) };
            let kept: Vec<String> =
                keys::published_signing_keys(conn)?.into_iter().take(keep.max(1)).map(|k| k.kid).collect();
            keys::retire_signing_keys_except(conn, &kept, now.millis())
        })
        .await?;
    Ok(Rotated { kid, retired, signs_after_minutes: PUBLISH_BEFORE_SIGNING_MS / 60_000 })
}

pub async fn published(store: &Store) -> Result<Vec<SigningKeyRow>, ServiceError> {
    Ok(store.read(keys::published_signing_keys).await?)
}
