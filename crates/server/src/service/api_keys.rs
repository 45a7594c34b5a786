use orderguard_domain::FieldError;

use super::ServiceError;
use crate::store::Store;
use crate::store::keys::{self, ApiKeyInfo};

/// Creates an API key for a stored brand and returns the secret, which is not kept anywhere.
pub async fn create(store: &Store, brand: &str, label: &str) -> Result<String, ServiceError> {
    let key = crate::crypto::new_api_key();
    let now = crate::clock::now().millis();
    let info = ApiKeyInfo {
        id: crate::ids::new_id(now),
        brand: brand.to_owned(),
        prefix: key.prefix.clone(),
        label: label.to_owned(),
        created_at: now,
        revoked_at: None,
    };
    let hash = key.hash.clone();
    store
        .write(move |conn| -> Result<(), ServiceError> {
            if !crate::store::brands::exists(conn, &info.brand)? {
                return Err(FieldError::new("brand", format!("`{}` is not a configured brand", info.brand)).into());
            }
            keys::insert_api_key(conn, &info, &hash)?;
            Ok(())
        })
        .await?;
    Ok(key.secret)
}
