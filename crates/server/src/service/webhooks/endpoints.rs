//! Managing a brand's webhook endpoints from the admin area and the command line: create one
//! (its secret is made here, shown once and kept sealed), enable or disable it, rotate its
//! secret, delete it; read its deliveries, send some again, send a test event. Every change is
//! audited. Endpoints of the configuration file are shown but changed only there — except that
//! one orderguard disabled may be enabled again.

use orderguard_domain::FieldError;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::webhook::{DeliveryStatus, EndpointSource};

use super::ServiceError;
use crate::brand::Brand;
use crate::crypto::Secrets;
use crate::records::admin::{AuditAction, AuditEntry};
use crate::service::Actor;
use crate::store::Store;
use crate::store::webhooks::{self as webhook_store, DeliveryRow, EndpointRow, NewStoredEndpoint};
use crate::webhooks::signature::WebhookSecret;
use crate::webhooks::targets::TargetGuard;

/// Deliveries the log shows at most.
pub const LOG_LENGTH: i64 = 200;
pub const MAX_DESCRIPTION: usize = 200;
/// Endpoints a brand may make in the admin area and on the command line: each may hold a share
/// of the instance's deliveries in flight, so there are few.
pub const MAX_STORED_ENDPOINTS: i64 = 10;

/// Seals a stored endpoint's secrets (newest first) with the deployment's key.
fn seal_secrets(secrets: &Secrets, texts: &[String]) -> Vec<u8> {
    secrets.encrypt(serde_json::to_string(texts).unwrap_or_default().as_bytes())
}

fn secret_texts(secrets: &Secrets, sealed: &[u8]) -> Result<Vec<String>, ServiceError> {
    let json = secrets.decrypt_string(sealed).map_err(|_| ServiceError::Internal("a webhook secret cannot be read"))?;
    serde_json::from_str(&json).map_err(|_| ServiceError::Internal("a webhook secret cannot be read"))
}

/// A stored endpoint's secrets, for signing.
pub fn unseal_secrets(secrets: &Secrets, sealed: &[u8]) -> Result<Vec<WebhookSecret>, ServiceError> {
    secret_texts(secrets, sealed)?
        .iter()
        .map(|text| WebhookSecret::parse(text).map_err(|_| ServiceError::Internal("a webhook secret cannot be read")))
        .collect()
}

fn allowed(actor: &Actor, brand: &Brand) -> Result<(), ServiceError> {
    let access = orderguard_domain::role::Access { role: actor.role, brand: actor.brand.clone() };
    if access.manages_webhooks(brand.slug.as_str()) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("only operators and the brand's admins manage its webhooks"))
    }
}

fn audit(actor: &Actor, action: AuditAction, brand: &Brand, subject: String, now: Timestamp) -> AuditEntry {
    AuditEntry {
        at: now,
        username: actor.username.clone(),
        role: actor.role,
        action,
        brand: Some(brand.slug.to_string()),
        subject,
    }
}

/// The brand's endpoints, from the configuration and stored.
pub async fn list(store: &Store, actor: &Actor, brand: &Brand) -> Result<Vec<EndpointRow>, ServiceError> {
    allowed(actor, brand)?;
    let slug = brand.slug.to_string();
    Ok(store.read(move |conn| webhook_store::endpoints(conn, &slug)).await?)
}

async fn find(store: &Store, brand: &Brand, name: &str) -> Result<EndpointRow, ServiceError> {
    let (slug, name) = (brand.slug.to_string(), name.to_owned());
    store.read(move |conn| webhook_store::endpoint(conn, &slug, &name)).await?.ok_or(ServiceError::NotFound)
}

/// One endpoint and its latest deliveries (of one status, if given).
pub async fn log(
    store: &Store,
    actor: &Actor,
    brand: &Brand,
    name: &str,
    status: Option<DeliveryStatus>,
) -> Result<(EndpointRow, Vec<DeliveryRow>), ServiceError> {
    allowed(actor, brand)?;
    let endpoint = find(store, brand, name).await?;
    let (slug, name) = (brand.slug.to_string(), name.to_owned());
    let deliveries = store.read(move |conn| webhook_store::deliveries(conn, &slug, &name, status, LOG_LENGTH)).await?;
    Ok((endpoint, deliveries))
}

/// An endpoint as a person asks for it.
pub struct NewEndpoint {
    pub name: String,
    pub url: String,
    /// Event types, or `*`.
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// Creates an endpoint and gives its secret (`whsec_…`), which is shown this once.
pub async fn create(
    store: &Store,
    secrets: &Secrets,
    guard: TargetGuard,
    actor: &Actor,
    brand: &Brand,
    new: NewEndpoint,
    now: Timestamp,
) -> Result<String, ServiceError> {
    allowed(actor, brand)?;
    let mut errors = Vec::new();
    if crate::webhooks::check_name(&new.name).is_err() {
        errors.push(FieldError::new("name", "must be 1 to 40 of a-z, 0-9 and -"));
    }
    let events = crate::webhooks::parse_events(&new.events)
        .map_err(|e| errors.push(FieldError::new("event types", format!("are refused: {e}"))));
    let description = new.description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
    if description.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        errors.push(FieldError::new("description", format!("is longer than {MAX_DESCRIPTION} characters")));
    }
    // The name is resolved here: blocking, so off the runtime's threads.
    let url = new.url.trim().to_owned();
    let checked = url.clone();
    let target = tokio::task::spawn_blocking(move || crate::webhooks::check_target(&checked, &guard))
        .await
        .map_err(|_| ServiceError::Internal("checking a webhook URL stopped"))?;
    if let Err(e) = target {
        errors.push(FieldError::new("URL", format!("is refused: {e}")));
    }
    let Ok(events) = events else { return Err(ServiceError::Validation(errors)) };
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let secret = WebhookSecret::generate();
    let endpoint = NewStoredEndpoint {
        brand: brand.slug.to_string(),
        name: new.name.clone(),
        url: url.clone(),
        description,
        subscribed: crate::webhooks::subscribed(events.as_deref()),
        secrets_enc: seal_secrets(secrets, std::slice::from_ref(&secret)),
        created_by: actor.username.clone(),
    };
    // The host only: a URL's path or query may carry a receiver's token.
    let host = reqwest::Url::parse(&url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    let entry = audit(actor, AuditAction::WebhookEndpointCreated, brand, format!("{} {host}", new.name), now);
    let chain = secrets.audit_chain().clone();
    let created = store
        .write(move |conn| -> Result<bool, ServiceError> {
            if webhook_store::stored_count(conn, &endpoint.brand)? >= MAX_STORED_ENDPOINTS {
                let reason = format!("are {MAX_STORED_ENDPOINTS} already: delete one first");
                return Err(FieldError::new("brand's endpoints", reason).into());
            }
            let created = webhook_store::create(conn, &endpoint, now.millis())?;
            if created {
                crate::store::admin::audit(conn, &chain, &entry)?;
            }
            Ok(created)
        })
        .await?;
    if created { Ok(secret) } else { Err(FieldError::new("name", "is taken by another endpoint of the brand").into()) }
}

/// What a person does to an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Enable,
    Disable,
    /// A new secret that signs next to the old one, until `EndRotation`.
    RotateSecret,
    /// Only the newest secret signs.
    EndRotation,
    Delete,
}

impl Change {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "enable" => Some(Self::Enable),
            "disable" => Some(Self::Disable),
            "rotate-secret" => Some(Self::RotateSecret),
            "end-rotation" => Some(Self::EndRotation),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enable => "enable",
            Self::Disable => "disable",
            Self::RotateSecret => "rotate-secret",
            Self::EndRotation => "end-rotation",
            Self::Delete => "delete",
        }
    }
}

/// Applies `change`; gives the new secret after `RotateSecret`.
pub async fn change(
    store: &Store,
    secrets: &Secrets,
    actor: &Actor,
    brand: &Brand,
    name: &str,
    change: Change,
    now: Timestamp,
) -> Result<Option<String>, ServiceError> {
    allowed(actor, brand)?;
    let endpoint = find(store, brand, name).await?;
    let from_config = endpoint.source == EndpointSource::Config;
    // A configured endpoint is changed in the file; enabling one orderguard disabled is the exception.
    if from_config && !(change == Change::Enable && endpoint.disabled_reason.is_some()) {
        return Err(ServiceError::Forbidden(
            "this endpoint is declared in the configuration file: change it there (it can only be enabled again here \
             after orderguard disabled it)",
        ));
    }
    let mut new_secret = None;
    let sealed = match change {
        Change::RotateSecret | Change::EndRotation => {
            let mut texts = secret_texts(secrets, endpoint.secrets_enc.as_deref().unwrap_or_default())?;
            if change == Change::RotateSecret {
                if texts.len() > 1 {
                    return Err(ServiceError::Forbidden(
                        "a rotation runs already: end it (once the receiver uses the newest secret) before the next",
                    ));
                }
                let secret = WebhookSecret::generate();
                texts.truncate(1);
                texts.insert(0, secret.clone());
                new_secret = Some(secret);
            } else {
                texts.truncate(1);
            }
            Some(seal_secrets(secrets, &texts))
        }
        _ => None,
    };
    let subject = format!("{} {}", endpoint.name, change.as_str());
    let entry = audit(actor, AuditAction::WebhookEndpointChanged, brand, subject, now);
    let chain = secrets.audit_chain().clone();
    let (slug, name) = (brand.slug.to_string(), endpoint.name.clone());
    store
        .write(move |conn| -> Result<(), ServiceError> {
            match (change, sealed) {
                (Change::Enable, _) => webhook_store::set_enabled(conn, &slug, &name, true, now.millis())?,
                (Change::Disable, _) => webhook_store::set_enabled(conn, &slug, &name, false, now.millis())?,
                (Change::Delete, _) => webhook_store::delete(conn, &slug, &name)?,
                (_, Some(sealed)) => webhook_store::set_secrets(conn, &slug, &name, sealed, now.millis())?,
                (_, None) => return Err(ServiceError::Internal("a secret change without a secret")),
            }
            crate::store::admin::audit(conn, &chain, &entry)?;
            Ok(())
        })
        .await?;
    Ok(new_secret)
}

/// Which deliveries to send again.
#[derive(Debug, Clone, Copy)]
pub enum Replay {
    One(i64),
    /// Every failed or gone one written since then.
    FailedSince(Timestamp),
}

/// Sends deliveries again, from now on, with a fresh retry schedule; gives how many.
pub async fn replay(
    store: &Store,
    secrets: &Secrets,
    actor: &Actor,
    brand: &Brand,
    name: &str,
    which: Replay,
    now: Timestamp,
) -> Result<u64, ServiceError> {
    allowed(actor, brand)?;
    let endpoint = find(store, brand, name).await?;
    if !endpoint.enabled {
        return Err(ServiceError::Forbidden("the endpoint is disabled: enable it first"));
    }
    let (only, since, subject) = match which {
        Replay::One(id) => (Some(id), 0, format!("{name} delivery {id}")),
        Replay::FailedSince(since) => {
            (None, since.millis(), format!("{name} failed since {}", crate::clock::rfc3339(since.millis())))
        }
    };
    let entry = audit(actor, AuditAction::WebhookReplayed, brand, subject, now);
    let chain = secrets.audit_chain().clone();
    let (slug, name) = (brand.slug.to_string(), name.to_owned());
    let count = store
        .write(move |conn| -> Result<u64, ServiceError> {
            let count = webhook_store::replay(conn, &slug, &name, only, since, now.millis())?;
            crate::store::admin::audit(conn, &chain, &entry)?;
            Ok(count)
        })
        .await?;
    if matches!(which, Replay::One(_)) && count == 0 {
        return Err(ServiceError::NotFound);
    }
    Ok(count)
}

/// Sends a `webhook.test` event to the endpoint; gives its delivery's id.
pub async fn send_test(
    store: &Store,
    secrets: &Secrets,
    actor: &Actor,
    brand: &Brand,
    name: &str,
    now: Timestamp,
) -> Result<i64, ServiceError> {
    allowed(actor, brand)?;
    let endpoint = find(store, brand, name).await?;
    if !endpoint.enabled {
        return Err(ServiceError::Forbidden("the endpoint is disabled: enable it first"));
    }
    let entry = audit(actor, AuditAction::WebhookReplayed, brand, format!("{name} test event"), now);
    let chain = secrets.audit_chain().clone();
    let (slug, role) = (brand.slug.to_string(), actor.role.as_str());
    store
        .write(move |conn| -> Result<i64, ServiceError> {
            let id = webhook_store::enqueue_test(conn, &slug, &endpoint.name, role, now.millis())?;
            crate::store::admin::audit(conn, &chain, &entry)?;
            Ok(id)
        })
        .await
}
