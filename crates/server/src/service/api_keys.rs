//! The brands' API keys: created (shown once, stored as a hash), listed, revoked, and the look-up
//! that authenticates every API request.

use std::sync::Arc;

use orderguard_domain::FieldError;
use orderguard_domain::clock::Timestamp;

use super::ServiceError;
use crate::app::App;
use crate::brand::Brand;
use crate::records::keys::ApiKeyInfo;
use crate::store::{Store, brands, keys};

/// Creates an API key for a stored brand and returns the secret, which is not kept anywhere.
pub async fn create(store: &Store, brand: &str, label: &str, now: Timestamp) -> Result<String, ServiceError> {
    let key = crate::crypto::new_api_key();
    let info = ApiKeyInfo {
        id: crate::ids::new_id(now.millis()),
        brand: brand.to_owned(),
        prefix: key.prefix.clone(),
        label: label.to_owned(),
        created_at: now.millis(),
        revoked_at: None,
    };
    let hash = key.hash.clone();
    store
        .write(move |conn| -> Result<(), ServiceError> {
            if !brands::exists(conn, &info.brand)? {
                return Err(FieldError::new("brand", format!("`{}` is not a configured brand", info.brand)).into());
            }
            keys::insert_api_key(conn, &info, &hash)?;
            Ok(())
        })
        .await?;
    Ok(key.secret)
}

/// A brand's keys, active and revoked (prefixes only).
pub async fn list(store: &Store, brand: &str) -> Result<Vec<ApiKeyInfo>, ServiceError> {
    let brand = brand.to_owned();
    Ok(store.read(move |conn| keys::list_api_keys(conn, &brand)).await?)
}

/// Revokes one key; `false` when the brand has no active key with that id.
pub async fn revoke(store: &Store, brand: &str, id: &str, now: Timestamp) -> Result<bool, ServiceError> {
    let (brand, id) = (brand.to_owned(), id.to_owned());
    Ok(store.write(move |conn| keys::revoke_api_key(conn, &brand, &id, now.millis())).await?)
}

/// Revokes a brand's active keys with this label (the demo's keys of an earlier run); gives how many.
pub async fn revoke_labelled(store: &Store, brand: &str, label: &str, now: Timestamp) -> Result<u64, ServiceError> {
    let (brand, label) = (brand.to_owned(), label.to_owned());
    Ok(store.write(move |conn| keys::revoke_api_keys_labelled(conn, &brand, &label, now.millis())).await?)
}

/// Why an API key does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum KeyRefused {
    #[error("the API key is unknown or revoked")]
    Unknown,
    #[error("the API key belongs to a brand that is no longer configured")]
    BrandGone,
    #[error(transparent)]
    Failed(#[from] ServiceError),
}

/// The brand whose key this is. Keys found are kept for `ApiKeyCache::TTL`: a revoked key stops
/// working within that time.
pub async fn authenticate(app: &Arc<App>, key: &str) -> Result<Arc<Brand>, KeyRefused> {
    let hash = crate::crypto::sha256(key.as_bytes());
    let slug = match app.api_keys.get(&hash) {
        Some(slug) => slug,
        None => {
            let lookup = hash.clone();
            let found =
                app.store.read(move |conn| keys::brand_for_key(conn, &lookup)).await.map_err(ServiceError::from)?;
            let slug = found.ok_or(KeyRefused::Unknown)?;
            app.api_keys.put(hash, slug.clone());
            slug
        }
    };
    app.brands.get(&slug).cloned().ok_or(KeyRefused::BrandGone)
}
