//! Who looked at which personal data in the admin area: every such view writes an entry first
//! (the view is not shown if that fails), and auditors read them.

use orderguard_domain::clock::Timestamp;

use super::ServiceError;
use super::admin::SignedIn;
use crate::app::App;
use crate::records::admin::{AuditAction, AuditEntry};

/// Entries the audit page shows at most.
const SHOWN: i64 = 500;

/// Writes that `user` looked at `subject` (never a full number: the log holds no personal data
/// of its own).
pub async fn record(
    app: &App,
    user: &SignedIn,
    action: AuditAction,
    brand: Option<&str>,
    subject: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let entry = AuditEntry {
        at: now,
        username: user.username.clone(),
        role: user.access.role,
        action,
        brand: brand.map(str::to_owned),
        subject: subject.to_owned(),
    };
    let chain = app.secrets.audit_chain().clone();
    Ok(app.store.write(move |conn| crate::store::admin::audit(conn, &chain, &entry)).await?)
}

/// The newest entries, of one user's views if `username` is given; for auditors and operators.
pub async fn search(app: &App, viewer: &SignedIn, username: Option<String>) -> Result<Vec<AuditEntry>, ServiceError> {
    if !viewer.access.reads_audit_log() {
        return Err(ServiceError::Forbidden("only auditors and operators read the audit log"));
    }
    Ok(app.store.read(move |conn| crate::store::admin::audit_search(conn, username.as_deref(), SHOWN)).await?)
}
