//! The brands declared in the configuration, stored so that keys and records can refer to them.

use orderguard_domain::clock::Timestamp;

use super::ServiceError;
use crate::config::Settings;
use crate::store::{Store, StoreError, brands};

/// Stores (or updates) every configured brand with its declaration.
pub async fn store_configured(store: &Store, settings: &Settings, now: Timestamp) -> Result<(), ServiceError> {
    let declared: Vec<(String, String, String)> = settings
        .brands
        .iter()
        .map(|b| (b.slug.clone(), b.name.clone(), serde_json::to_string(b).unwrap_or_default()))
        .collect();
    store
        .write(move |conn| -> Result<(), StoreError> {
            for (slug, name, config) in &declared {
                brands::upsert(conn, slug, name, config, now.millis())?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}
