//! What retention and data-subject requests erase, and the register of those requests
//! (docs/gdpr.md).

use super::{Conn, Row, StoreError, Value};
use crate::records::privacy::{PrivacyRequest, RequestKind, RetainedLog};

/// A brand's verifications created before `before` that still hold personal fields, oldest
/// first, at most `limit` (the retention index finds them).
pub fn held_before(conn: &mut dyn Conn, brand: &str, before: i64, limit: i64) -> Result<Vec<String>, StoreError> {
    conn.query(
        "SELECT id FROM verifications WHERE brand = $1 AND created_at < $2 AND personal_erased_at IS NULL \
         AND status NOT IN ('pending', 'in_review') ORDER BY created_at LIMIT $3",
        &[brand.into(), before.into(), limit.into()],
    )?
    .iter()
    .map(|r| r.text("id"))
    .collect()
}

pub fn count_held_before(conn: &mut dyn Conn, brand: &str, before: i64) -> Result<i64, StoreError> {
    conn.query_one(
        "SELECT COUNT(*) AS n FROM verifications WHERE brand = $1 AND created_at < $2 AND personal_erased_at IS NULL \
         AND status NOT IN ('pending', 'in_review')",
        &[brand.into(), before.into()],
    )?
    .int("n")
}

/// Erases what a verification holds about the person: the number (its ciphertext, keyed hash
/// and hint), the customer's pseudonym, the IP prefix, the device and range references, the
/// return URL, the hosted page's token, the cancel reason (free text), the request's hash (over a
/// body that named the person) and its idempotency key; and the recipient and text of its SMS and
/// its rows in the development outbox. What the verification was (status, amount, risk, times,
/// the shop's order reference) stays, as do its pseudonymous events. `false` when it had been
/// erased before.
pub fn erase_personal_fields(conn: &mut dyn Conn, id: &str, now: i64) -> Result<bool, StoreError> {
    let erased = conn.execute(
        "UPDATE verifications SET customer_ref = '', phone_enc = NULL, phone_hash = $2, phone_hint = '', \
         client_ip = NULL, range_ref = NULL, device_ref = NULL, device_enc = NULL, return_url = NULL, hosted_token = $4, \
         cancel_reason = NULL, request_hash = NULL, idempotency_key = NULL, \
         personal_erased_at = $3 WHERE id = $1 AND personal_erased_at IS NULL",
        // The old link stops working, and nobody knows the new one.
        &[id.into(), Value::Blob(Vec::new()), now.into(), format!("erased-{}", crate::ids::random_token(24)).into()],
    )?;
    conn.execute("UPDATE sms_messages SET to_enc = NULL, body_enc = NULL WHERE verification_id = $1", &[id.into()])?;
    conn.execute("DELETE FROM dev_outbox WHERE verification_id = $1", &[id.into()])?;
    Ok(erased == 1)
}

/// For a data-subject request, also cuts the verification's tie to the shop's order: the order
/// id (on the verification, its events and the order's own events), the receipt that names it,
/// the order's items, the reported outcome and the review note.
pub fn unlink_order(conn: &mut dyn Conn, brand: &str, id: &str, order_id: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE verifications SET order_id = 'erased:' || id, order_summary = '', receipt = NULL, review_note = NULL \
         WHERE id = $1",
        &[id.into()],
    )?;
    conn.execute("UPDATE sms_messages SET order_id = 'erased' WHERE verification_id = $1", &[id.into()])?;
    conn.execute("UPDATE events SET order_id = NULL WHERE verification_id = $1", &[id.into()])?;
    conn.execute(
        "UPDATE events SET order_id = NULL WHERE brand = $1 AND order_id = $2 AND verification_id IS NULL",
        &[brand.into(), order_id.into()],
    )?;
    conn.execute("DELETE FROM order_outcomes WHERE brand = $1 AND order_id = $2", &[brand.into(), order_id.into()])?;
    Ok(())
}

/// Forgets the risk counters kept under these keys (a number's, a customer's, a device's).
pub fn forget_activity(conn: &mut dyn Conn, subjects: &[String]) -> Result<u64, StoreError> {
    let mut forgotten = 0;
    for subject in subjects {
        forgotten += conn.execute("DELETE FROM risk_activity WHERE subject = $1", &[subject.as_str().into()])?;
    }
    Ok(forgotten)
}

/// Replaces a person's key inside the counters of others (a device's or a network's set of
/// customers) by a random one of the same shape: the counts stay, the link to the person goes.
pub fn replace_in_activity(conn: &mut dyn Conn, key: &str) -> Result<u64, StoreError> {
    let bytes = crate::ids::random_bytes::<32>();
    let stand_in: String = orderguard_domain::order::hex(&bytes).chars().take(key.len()).collect();
    conn.execute(
        "UPDATE risk_activity SET state = REPLACE(state, $1, $2) WHERE state LIKE $3",
        &[key.into(), stand_in.into(), format!("%{key}%").into()],
    )
}

/// Which rows of a log have passed their retention period (`$1`: the cut-off).
fn due(log: RetainedLog) -> &'static str {
    match log {
        RetainedLog::ReviewNotes => "verifications WHERE review_note IS NOT NULL AND created_at < $1",
        RetainedLog::AuditLog => "admin_audit WHERE at < $1",
        RetainedLog::WebhookDeliveries => "webhook_deliveries WHERE status <> 'pending' AND settled_at < $1",
        RetainedLog::Alerts => "alerts WHERE status = 'resolved' AND resolved_at < $1",
    }
}

pub fn count_due(conn: &mut dyn Conn, log: RetainedLog, before: i64) -> Result<i64, StoreError> {
    conn.query_one(&format!("SELECT COUNT(*) AS n FROM {}", due(log)), &[before.into()])?.int("n")
}

/// Removes at most `limit` rows of `log` that have passed their retention period (a review note
/// is cleared, its verification stays); the audit log's chain then starts after the last entry
/// removed. Gives how many.
pub fn prune(conn: &mut dyn Conn, log: RetainedLog, before: i64, limit: i64) -> Result<u64, StoreError> {
    let (table, column) = match log {
        RetainedLog::AuditLog => return super::admin::prune_audit(conn, before, limit),
        RetainedLog::ReviewNotes => {
            return conn.execute(
                &format!(
                    "UPDATE verifications SET review_note = NULL WHERE id IN (SELECT id FROM {} LIMIT $2)",
                    due(log)
                ),
                &[before.into(), limit.into()],
            );
        }
        RetainedLog::WebhookDeliveries => ("webhook_deliveries", "id"),
        RetainedLog::Alerts => ("alerts", "id"),
    };
    conn.execute(
        &format!("DELETE FROM {table} WHERE {column} IN (SELECT {column} FROM {} LIMIT $2)", due(log)),
        &[before.into(), limit.into()],
    )
}

/// Makes what was erased leave the database files: SQLite overwrites freed space as it goes
/// (`secure_delete`), and a checkpoint that truncates the WAL drops the old page images;
/// PostgreSQL keeps old row versions until a `VACUUM FULL` rewrites the tables (it takes an
/// exclusive lock, so it runs only when asked). Runs outside a transaction.
pub fn reclaim(conn: &mut dyn Conn, rewrite_postgres_tables: bool) -> Result<(), StoreError> {
    match conn.backend() {
        super::Backend::Sqlite => {
            // Readers still reading an old snapshot keep the WAL: a few tries.
            for _ in 0..20 {
                let done = conn.query("PRAGMA wal_checkpoint(TRUNCATE)", &[])?;
                if done.first().map(|r| r.int("busy")).transpose()? == Some(0) {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(StoreError::Sqlite("the WAL could not be checkpointed: readers kept it busy".into()))
        }
        super::Backend::Postgres if rewrite_postgres_tables => {
            wait_for_older_transactions(conn)?;
            conn.execute_batch(
                "VACUUM FULL verifications, sms_messages, dev_outbox, events, order_outcomes, risk_activity, risk_lists",
            )
        }
        super::Backend::Postgres => Ok(()),
    }
}

fn request_from_row(r: &Row) -> Result<PrivacyRequest, StoreError> {
    Ok(PrivacyRequest {
        id: r.text("id")?,
        brand: r.text("brand")?,
        kind: r.parsed("kind", RequestKind::parse)?,
        named_by: r.text("named_by")?,
        reference: r.text("reference")?,
        received_at: r.int("received_at")?,
        due_at: r.int("due_at")?,
        answered_at: r.opt_int("answered_at")?,
        answered_by: r.opt_text("answered_by")?,
        outcome: r.opt_text("outcome")?,
    })
}

pub fn register_request(conn: &mut dyn Conn, r: &PrivacyRequest) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO privacy_requests (id, brand, kind, named_by, reference, received_at, due_at, answered_at, \
         answered_by, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            r.id.as_str().into(),
            r.brand.as_str().into(),
            r.kind.as_str().into(),
            r.named_by.as_str().into(),
            r.reference.as_str().into(),
            r.received_at.into(),
            r.due_at.into(),
            r.answered_at.into(),
            r.answered_by.clone().into(),
            r.outcome.clone().into(),
        ],
    )?;
    Ok(())
}

/// The register, newest first; of one brand when `brand` is given.
pub fn requests(conn: &mut dyn Conn, brand: Option<&str>, limit: i64) -> Result<Vec<PrivacyRequest>, StoreError> {
    const COLUMNS: &str =
        "id, brand, kind, named_by, reference, received_at, due_at, answered_at, answered_by, outcome";
    let rows = match brand {
        Some(brand) => conn.query(
            &format!("SELECT {COLUMNS} FROM privacy_requests WHERE brand = $1 ORDER BY received_at DESC, id LIMIT $2"),
            &[brand.into(), limit.into()],
        )?,
        None => conn.query(
            &format!("SELECT {COLUMNS} FROM privacy_requests ORDER BY received_at DESC, id LIMIT $1"),
            &[limit.into()],
        )?,
    };
    rows.iter().map(request_from_row).collect()
}

/// Waits (up to 30 s) until no transaction of this database that began before now is still
/// open: `VACUUM FULL` keeps the old row versions such a transaction may still see, so the
/// erased data would stay in the files.
fn wait_for_older_transactions(conn: &mut dyn Conn) -> Result<(), StoreError> {
    let started =
        conn.query_one("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint AS now", &[])?.int("now")?;
    for _ in 0..150 {
        let older = conn
            .query_one(
                "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
                 AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL \
                 AND (EXTRACT(EPOCH FROM xact_start) * 1000)::bigint < $1",
                &[started.into()],
            )?
            .int("n")?;
        if older == 0 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    tracing::warn!("transactions older than the erasure stayed open for 30 s: VACUUM FULL may keep old row versions");
    Ok(())
}
