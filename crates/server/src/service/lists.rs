//! Allow and block lists: managed from the command line and the admin area (audited), and
//! looked up when a verification starts (`keys_of`).

use orderguard_domain::FieldError;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::lists::{self, ListKind, ListName};
use orderguard_domain::phone::E164;

use super::{Actor, ServiceError};
use crate::brand::Brand;
use crate::crypto::Secrets;
use crate::records::admin::{AuditAction, AuditEntry};
use crate::records::lists::ListEntry;
use crate::store::Store;

pub const MAX_REASON: usize = 500;

/// A new entry as a person wrote it.
pub struct NewEntry {
    pub list: ListName,
    pub kind: ListKind,
    /// The number, customer id, device id, CIDR range or prefix, as written.
    pub value: String,
    pub reason: String,
    pub expires_at: Option<Timestamp>,
}

/// What an entry stores of what it names: the value it is looked up by, the label people see,
/// and for a number or device what was written, sealed, so that a look-up key rotation can key it
/// again. A number is looked up only by its keyed hash.
struct Stored {
    value: String,
    label: String,
    sealed: Option<Vec<u8>>,
    /// The look-up key generation that made `value`, from the same snapshot of the keys.
    lookup_key: u32,
}

fn stored_value(brand: &Brand, secrets: &Secrets, kind: ListKind, written: &str) -> Result<Stored, FieldError> {
    let written = written.trim();
    if written.is_empty() {
        return Err(FieldError::new("value", "must not be empty"));
    }
    let short = |reference: &str| format!("{}…", reference.get(..8).unwrap_or(reference));
    let keys = secrets.lookup_keys();
    let lookup_key = keys.generation();
    let plain = |value: String, label: String| Stored { value, label, sealed: None, lookup_key };
    Ok(match kind {
        ListKind::Number => {
            let phone = E164::parse(written, brand.default_region.as_deref())
                .map_err(|e| FieldError::new("number", e.reason))?;
            Stored {
                value: orderguard_domain::order::hex(&keys.phone_hashes(phone.as_str()).swap_remove(0)),
                label: phone.hint(),
                sealed: Some(secrets.encrypt(phone.as_str().as_bytes())),
                lookup_key,
            }
        }
        ListKind::Customer => {
            let reference = secrets.customer_ref(brand.slug.as_str(), written);
            let label = format!("customer {}", short(&reference));
            plain(reference, label)
        }
        ListKind::Device => {
            let reference = keys.references("device", written).swap_remove(0);
            let label = format!("device {}", short(&reference));
            Stored { value: reference, label, sealed: Some(secrets.encrypt(written.as_bytes())), lookup_key }
        }
        ListKind::IpRange => {
            let range = lists::parse_cidr(written)?;
            plain(range.clone(), range)
        }
        ListKind::NumberPrefix => {
            let prefix = lists::parse_number_prefix(written)?;
            plain(prefix.clone(), format!("{prefix}…"))
        }
    })
}

/// Adds an entry to one of the brand's lists, and audits it.
pub async fn add(
    store: &Store,
    secrets: &Secrets,
    brand: &Brand,
    new: NewEntry,
    actor: &Actor,
    now: Timestamp,
) -> Result<ListEntry, ServiceError> {
    let reason = new.reason.trim().to_owned();
    if reason.is_empty() || reason.len() > MAX_REASON {
        return Err(FieldError::new("reason", format!("must be 1 to {MAX_REASON} characters")).into());
    }
    if new.expires_at.is_some_and(|at| at <= now) {
        return Err(FieldError::new("expires_at", "must be in the future").into());
    }
    let Stored { value, label, sealed, lookup_key } = stored_value(brand, secrets, new.kind, &new.value)?;
    let entry = ListEntry {
        id: crate::ids::new_id(now.millis()),
        brand: brand.slug.to_string(),
        list: new.list,
        kind: new.kind,
        value,
        value_enc: sealed,
        lookup_key,
        label,
        reason,
        created_by: actor.username.clone(),
        created_at: now,
        expires_at: new.expires_at,
    };
    let audit = audit_entry(actor, AuditAction::ListEntryAdded, &entry, now);
    let stored = entry.clone();
    let chain = secrets.audit_chain().clone();
    store
        .write(move |conn| -> Result<(), ServiceError> {
            crate::store::lists::insert(conn, &stored)?;
            crate::store::admin::audit(conn, &chain, &audit)?;
            Ok(())
        })
        .await?;
    Ok(entry)
}

/// Removes one of the brand's entries, and audits it.
pub async fn remove(
    store: &Store,
    secrets: &Secrets,
    brand: &Brand,
    id: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<ListEntry, ServiceError> {
    let (slug, id) = (brand.slug.to_string(), id.to_owned());
    let actor = actor.clone();
    let chain = secrets.audit_chain().clone();
    store
        .write(move |conn| -> Result<ListEntry, ServiceError> {
            let entry = crate::store::lists::remove(conn, &slug, &id)?.ok_or(ServiceError::NotFound)?;
            crate::store::admin::audit(conn, &chain, &audit_entry(&actor, AuditAction::ListEntryRemoved, &entry, now))?;
            Ok(entry)
        })
        .await
}

/// The brand's entries that have not expired, newest first.
pub async fn of_brand(store: &Store, brand: &Brand, now: Timestamp) -> Result<Vec<ListEntry>, ServiceError> {
    let slug = brand.slug.to_string();
    Ok(store.read(move |conn| crate::store::lists::of_brand(conn, &slug, now)).await?)
}

/// The audit log says which entry changed, by its label: never the number itself.
fn audit_entry(actor: &Actor, action: AuditAction, entry: &ListEntry, now: Timestamp) -> AuditEntry {
    AuditEntry {
        at: now,
        username: actor.username.clone(),
        role: actor.role,
        action,
        brand: Some(entry.brand.clone()),
        subject: format!("{} {} {} ({})", entry.list.as_str(), entry.kind.as_str(), entry.label, entry.id),
    }
}

/// What a new verification is looked up by in the lists: its number and device keyed under
/// every matched look-up key (an entry made before a rotation still matches).
pub struct Lookup<'a> {
    pub phone_hashes: &'a [Vec<u8>],
    pub e164: &'a str,
    pub customer_ref: &'a str,
    pub device_refs: &'a [String],
    pub client_ip: Option<std::net::IpAddr>,
}

pub fn keys_of(lookup: &Lookup<'_>) -> Vec<(ListKind, String)> {
    let mut keys: Vec<(ListKind, String)> =
        lookup.phone_hashes.iter().map(|h| (ListKind::Number, orderguard_domain::order::hex(h))).collect();
    keys.push((ListKind::Customer, lookup.customer_ref.to_owned()));
    keys.extend(lookup.device_refs.iter().map(|d| (ListKind::Device, d.clone())));
    keys.extend(lookup.client_ip.into_iter().flat_map(lists::networks_of).map(|n| (ListKind::IpRange, n)));
    keys.extend(lists::prefixes_of(lookup.e164).into_iter().map(|p| (ListKind::NumberPrefix, p)));
    keys
}
