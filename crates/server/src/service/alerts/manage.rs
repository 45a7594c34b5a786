//! The people's side of alerts: list them, read one, acknowledge it with a note, resolve it by
//! hand. Whoever sees the brand's orders may; each step is an event (`alert.acknowledged`,
//! `alert.resolved`) written with the change, naming the role (the name and the note, which may
//! say anything, stay with the alert).

use orderguard_domain::FieldError;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::event::EventKind;
use serde_json::json;

use super::super::{Actor, ServiceError};
use crate::records::NewEvent;
use crate::records::alert::{Alert, AlertFilter};
use crate::store::{Store, StoreError, alerts as store};

/// Alerts a list shows at most.
pub const LIST_LENGTH: i64 = 500;
pub const MAX_NOTE: usize = 500;

fn allowed(actor: &Actor, brand: &str) -> Result<(), ServiceError> {
    let access = orderguard_domain::role::Access { role: actor.role, brand: actor.brand.clone() };
    if access.sees_brand(brand) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("only the brand's own team and operators see its alerts"))
    }
}

pub async fn list(store: &Store, actor: &Actor, brand: &str, filter: AlertFilter) -> Result<Vec<Alert>, ServiceError> {
    allowed(actor, brand)?;
    let brand = brand.to_owned();
    Ok(store.read(move |conn| store::list(conn, &brand, &filter, LIST_LENGTH)).await?)
}

pub async fn get(store: &Store, actor: &Actor, brand: &str, id: i64) -> Result<Alert, ServiceError> {
    allowed(actor, brand)?;
    let brand = brand.to_owned();
    store.read(move |conn| store::get(conn, &brand, id)).await?.ok_or(ServiceError::NotFound)
}

/// What a person does to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Acknowledge,
    Resolve,
}

/// Acknowledges (a note is required: what is being done) or resolves an alert.
pub async fn change(
    store: &Store,
    actor: &Actor,
    brand: &str,
    id: i64,
    step: Step,
    note: &str,
    now: Timestamp,
) -> Result<Alert, ServiceError> {
    allowed(actor, brand)?;
    let note = note.trim().to_owned();
    if step == Step::Acknowledge && note.is_empty() {
        return Err(FieldError::new("note", "say what is being done about it").into());
    }
    if note.chars().count() > MAX_NOTE {
        return Err(FieldError::new("note", "at most 500 characters").into());
    }
    let (brand, by, role) = (brand.to_owned(), actor.username.clone(), actor.role);
    store
        .write(move |conn| -> Result<Result<Alert, ServiceError>, StoreError> {
            let Some(alert) = store::get(conn, &brand, id)? else { return Ok(Err(ServiceError::NotFound)) };
            let changed = match step {
                Step::Acknowledge => store::acknowledge(conn, id, &brand, now.millis(), &by, &note)?,
                Step::Resolve => {
                    let note = Some(note.as_str()).filter(|n| !n.is_empty());
                    store::resolve(conn, id, &brand, now.millis(), Some(&by), note)?
                }
            };
            if !changed {
                let why = match step {
                    Step::Acknowledge => "only an open alert can be acknowledged",
                    Step::Resolve => "the alert is resolved already",
                };
                return Ok(Err(FieldError::new("status", why).into()));
            }
            let mut attrs = serde_json::Map::new();
            attrs.insert("alert_id".into(), json!(id));
            attrs.insert("rule".into(), json!(alert.rule.as_str()));
            attrs.insert("key".into(), json!(alert.key));
            attrs.insert("severity".into(), json!(alert.severity.as_str()));
            attrs.insert("by_role".into(), json!(role.as_str()));
            let kind = match step {
                Step::Acknowledge => EventKind::AlertAcknowledged,
                Step::Resolve => EventKind::AlertResolved,
            };
            let attrs = serde_json::Value::Object(attrs);
            crate::store::events::append(conn, &NewEvent::of_brand(&brand, kind, now, attrs))?;
            Ok(store::get(conn, &brand, id)?.ok_or(ServiceError::NotFound))
        })
        .await?
}
