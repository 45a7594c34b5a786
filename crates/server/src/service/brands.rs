//! The brands declared in the configuration, stored so that keys and records can refer to them,
//! and the changes of their policies, recorded as events.

use orderguard_domain::clock::Timestamp;
use orderguard_domain::event::EventKind;
use serde_json::json;

use super::ServiceError;
use crate::config::Settings;
use crate::records::NewEvent;
use crate::store::{Store, StoreError, brands, events};

/// Stores (or updates) every configured brand with its declaration, and appends `policy.changed`
/// for each brand whose policy version differs from the one last recorded (in the same
/// transaction, so a failed start records nothing).
pub async fn store_configured(store: &Store, settings: &Settings, now: Timestamp) -> Result<(), ServiceError> {
    let declared: Vec<(String, String, String, String)> = settings
        .brands
        .iter()
        .map(|b| {
            let config = serde_json::to_string(b).unwrap_or_default();
            (b.slug.clone(), b.name.clone(), config, crate::brand::policy_version(&b.policy))
        })
        .collect();
    store
        .write(move |conn| -> Result<(), StoreError> {
            for (slug, name, config, version) in &declared {
                brands::upsert(conn, slug, name, config, now.millis())?;
                if let Some(previous) = brands::record_policy_version(conn, slug, version)? {
                    let attrs = json!({ "policy_version": version, "previous_version": previous });
                    events::append(conn, &NewEvent::of_brand(slug, EventKind::PolicyChanged, now, attrs))?;
                    tracing::info!(brand = %slug, policy_version = %version, ?previous, "policy changed");
                }
            }
            Ok(())
        })
        .await?;
    Ok(())
}
