//! The views of one order or one customer's number that show personal data: each is audited, and
//! numbers are masked for the roles that see no personal data.

use orderguard_domain::clock::Timestamp;
use orderguard_domain::money::Money;
use orderguard_domain::phone::E164;
use orderguard_domain::verification::Status;

use super::ServiceError;
use super::admin::SignedIn;
use super::audit;
use crate::app::App;
use crate::brand::Brand;
use crate::records::Event;
use crate::records::admin::{AuditAction, FoundVerification};
use crate::store::admin as store;

/// One verification of a traced order.
pub struct TracedLine {
    pub id: String,
    pub status: Status,
    /// The full number for roles that see personal data, else its hint.
    pub number: String,
    pub amount: Money,
    pub started: Timestamp,
}

pub struct OrderTrace {
    pub verifications: Vec<TracedLine>,
    /// Every event of the order, its verifications' included, in time order.
    pub events: Vec<Event>,
}

/// Everything recorded about one order of the brand.
pub async fn order_trace(
    app: &App,
    viewer: &SignedIn,
    brand: &Brand,
    order_id: &str,
    now: Timestamp,
) -> Result<OrderTrace, ServiceError> {
    let (slug, lookup) = (brand.slug.to_string(), order_id.to_owned());
    let (verifications, events) = app.store.read(move |conn| store::order_trace(conn, &slug, &lookup)).await?;
    audit::record(app, viewer, AuditAction::OrderTrace, Some(brand.slug.as_str()), order_id, now).await?;
    let masked = viewer.access.role.masks_personal_data();
    let verifications = verifications
        .into_iter()
        .map(|v| {
            // Decrypted for this view only.
            let number = match (&v.phone_enc, masked) {
                (Some(enc), false) => app.secrets.decrypt_string(enc).unwrap_or_else(|_| v.phone_hint.clone()),
                (None, false) => format!("{} (erased)", v.phone_hint),
                (_, true) => v.phone_hint.clone(),
            };
            TracedLine { id: v.id, status: v.status, number, amount: v.amount, started: v.created_at }
        })
        .collect();
    Ok(OrderTrace { verifications, events })
}

/// Verifications a brand's search by number finds at most.
pub const MOST_BY_NUMBER: i64 = 100;

/// The brand's verifications whose code went to `number`, newest first; for roles that see
/// personal data.
pub async fn orders_by_number(
    app: &App,
    viewer: &SignedIn,
    brand: &Brand,
    number: &E164,
    now: Timestamp,
) -> Result<Vec<FoundVerification>, ServiceError> {
    if viewer.access.role.masks_personal_data() {
        return Err(ServiceError::Forbidden("analysts see masked numbers only: search by order id instead"));
    }
    let (slug, hash) = (brand.slug.to_string(), app.secrets.phone_hash(number.as_str()));
    let found = app.store.read(move |conn| store::verifications_of_number(conn, &slug, &hash, MOST_BY_NUMBER)).await?;
    // The log names the number by its hint: the log itself holds no full numbers.
    audit::record(app, viewer, AuditAction::NumberSearch, Some(brand.slug.as_str()), &number.hint(), now).await?;
    Ok(found)
}
