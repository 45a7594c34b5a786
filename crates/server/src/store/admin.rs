//! Admin users, their sessions and failed logins, the audit log.

use orderguard_domain::audit_chain::{Anchor, AuditChain};
use orderguard_domain::clock::Timestamp;
use orderguard_domain::money::{Currency, Money};
use orderguard_domain::role::Role;
use orderguard_domain::verification::Status;

use super::{Conn, Row, StoreError, Value};
use crate::records::admin::{AdminUser, AuditAction, AuditEntry, FoundVerification, TracedVerification};

/// `false` when the username is taken.
pub fn insert_user(conn: &mut dyn Conn, user: &AdminUser, now: i64) -> Result<bool, StoreError> {
    if conn.query_opt("SELECT 1 FROM admin_users WHERE username = $1", &[user.username.as_str().into()])?.is_some() {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO admin_users (id, username, password_hash, role, brand, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            user.id.as_str().into(),
            user.username.as_str().into(),
            user.password_hash.as_str().into(),
            user.role.as_str().into(),
            user.brand.clone().into(),
            now.into(),
        ],
    )?;
    Ok(true)
}

/// Gives a user a new password hash; `false` when there is no such user.
pub fn set_password_hash(conn: &mut dyn Conn, username: &str, password_hash: &str) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE admin_users SET password_hash = $1 WHERE username = $2",
        &[password_hash.into(), username.into()],
    )?;
    Ok(changed == 1)
}

fn user_from(row: &super::Row) -> Result<AdminUser, StoreError> {
    Ok(AdminUser {
        id: row.text("id")?,
        username: row.text("username")?,
        password_hash: row.text("password_hash")?,
        role: row.parsed("role", Role::parse)?,
        brand: row.opt_text("brand")?,
        totp_secret_enc: row.opt_blob("totp_secret_enc")?,
    })
}

/// An active (not disabled) user.
pub fn find_user(conn: &mut dyn Conn, username: &str) -> Result<Option<AdminUser>, StoreError> {
    conn.query_opt(
        "SELECT id, username, password_hash, role, brand, totp_secret_enc FROM admin_users \
         WHERE username = $1 AND disabled_at IS NULL",
        &[username.into()],
    )?
    .as_ref()
    .map(user_from)
    .transpose()
}

/// Failed logins since `since`: of this username, and from this client (keyed references of both).
pub fn failures_since(conn: &mut dyn Conn, username: &str, client: &str, since: i64) -> Result<(i64, i64), StoreError> {
    let count = |conn: &mut dyn Conn, column: &str, value: &str| -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) AS n FROM admin_login_failures WHERE {column} = $1 AND at >= $2");
        conn.query_one(&sql, &[value.into(), since.into()])?.int("n")
    };
    Ok((count(conn, "username", username)?, count(conn, "client", client)?))
}

/// Forgets failed logins older than `before`; gives how many.
pub fn forget_failures(conn: &mut dyn Conn, before: i64) -> Result<u64, StoreError> {
    conn.execute("DELETE FROM admin_login_failures WHERE at < $1", &[before.into()])
}

/// Records a failed login; failures older than `forget_before` are dropped on the way.
pub fn record_failure(
    conn: &mut dyn Conn,
    username: &str,
    client: &str,
    now: i64,
    forget_before: i64,
) -> Result<(), StoreError> {
    forget_failures(conn, forget_before)?;
    conn.execute(
        "INSERT INTO admin_login_failures (username, client, at) VALUES ($1, $2, $3)",
        &[username.into(), client.into(), now.into()],
    )?;
    Ok(())
}

pub fn insert_session(
    conn: &mut dyn Conn,
    token_hash: &[u8],
    user_id: &str,
    csrf_token: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    conn.execute("DELETE FROM admin_sessions WHERE expires_at < $1", &[now.into()])?;
    conn.execute(
        "INSERT INTO admin_sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        &[token_hash.to_vec().into(), user_id.into(), csrf_token.into(), now.into(), expires_at.into()],
    )?;
    Ok(())
}

/// The user of a live session and the session's CSRF token.
pub fn session_user(
    conn: &mut dyn Conn,
    token_hash: &[u8],
    now: i64,
) -> Result<Option<(AdminUser, String)>, StoreError> {
    conn.query_opt(
        "SELECT u.id, u.username, u.password_hash, u.role, u.brand, u.totp_secret_enc, s.csrf_token FROM admin_sessions s \
         JOIN admin_users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        &[token_hash.to_vec().into(), now.into()],
    )?
    .as_ref()
    .map(|row| Ok((user_from(row)?, row.text("csrf_token")?)))
    .transpose()
}

pub fn delete_session(conn: &mut dyn Conn, token_hash: &[u8]) -> Result<(), StoreError> {
    conn.execute("DELETE FROM admin_sessions WHERE token_hash = $1", &[token_hash.to_vec().into()])?;
    Ok(())
}

/// Verifications of one brand waiting for their code now (few: the index on status finds them).
pub fn pending_count(conn: &mut dyn Conn, brand: &str) -> Result<i64, StoreError> {
    conn.query_one("SELECT COUNT(*) AS n FROM verifications WHERE status = 'pending' AND brand = $1", &[brand.into()])?
        .int("n")
}

/// Appends an entry to the audit log's chain: the head row is locked first (one chain with
/// several instances), the entry gets the next number and its hash after the head's.
pub fn audit(conn: &mut dyn Conn, chain: &AuditChain, e: &AuditEntry) -> Result<(), StoreError> {
    conn.execute("UPDATE audit_chain SET seq = seq + 1 WHERE id = 1", &[])?;
    let head = conn.query_one("SELECT seq, hash FROM audit_chain WHERE id = 1", &[])?;
    let (seq, previous) = (head.int("seq")?, head.text("hash")?);
    let hash = chain.hash(&previous, &e.link(seq));
    conn.execute("UPDATE audit_chain SET hash = $1 WHERE id = 1", &[hash.as_str().into()])?;
    conn.execute(
        "INSERT INTO admin_audit (at, username, role, action, brand, subject, seq, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            e.at.millis().into(),
            e.username.as_str().into(),
            e.role.as_str().into(),
            e.action.as_str().into(),
            e.brand.clone().into(),
            e.subject.as_str().into(),
            seq.into(),
            hash.into(),
        ],
    )?;
    Ok(())
}

fn audit_entry(r: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        at: Timestamp(r.int("at")?),
        username: r.text("username")?,
        role: r.parsed("role", Role::parse)?,
        action: r.parsed("action", AuditAction::parse)?,
        brand: r.opt_text("brand")?,
        subject: r.text("subject")?,
    })
}

/// A brand's entries about these subjects (a person's orders), oldest first.
pub fn audit_about(conn: &mut dyn Conn, brand: &str, subjects: &[String]) -> Result<Vec<AuditEntry>, StoreError> {
    let mut entries = Vec::new();
    for subject in subjects {
        let rows = conn.query(
            "SELECT at, username, role, action, brand, subject FROM admin_audit WHERE brand = $1 AND subject = $2",
            &[brand.into(), subject.as_str().into()],
        )?;
        entries.extend(rows.iter().map(audit_entry).collect::<Result<Vec<_>, _>>()?);
    }
    entries.sort_by_key(|e| e.at);
    Ok(entries)
}

/// The head of the audit chain: the number of the last entry written, and where the chain
/// starts (after the entries retention removed).
pub fn audit_head(conn: &mut dyn Conn) -> Result<(i64, String, Anchor), StoreError> {
    let head = conn.query_one("SELECT seq, hash, anchor_seq, anchor_hash FROM audit_chain WHERE id = 1", &[])?;
    Ok((head.int("seq")?, head.text("hash")?, Anchor { seq: head.int("anchor_seq")?, hash: head.text("anchor_hash")? }))
}

/// Chained entries after number `after`, in order, at most `limit`, each with its number and hash.
pub fn audit_chained(
    conn: &mut dyn Conn,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, AuditEntry, String)>, StoreError> {
    conn.query(
        "SELECT seq, hash, at, username, role, action, brand, subject FROM admin_audit \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
        &[after.into(), limit.into()],
    )?
    .iter()
    .map(|r| Ok((r.int("seq")?, audit_entry(r)?, r.text("hash")?)))
    .collect()
}

/// Entries written before the chain began (by a release without it).
pub fn audit_unchained(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    conn.query_one("SELECT COUNT(*) AS n FROM admin_audit WHERE seq IS NULL", &[])?.int("n")
}

/// Removes at most `limit` of the oldest entries written before `before`: the chained ones in
/// the order of the chain, stopping at the first that is younger (so that the chain left is whole
/// from its new start), and those from before the chain. The chain then starts after the last
/// entry removed. Gives how many were removed.
pub fn prune_audit(conn: &mut dyn Conn, before: i64, limit: i64) -> Result<u64, StoreError> {
    let oldest = conn
        .query("SELECT seq, hash, at FROM admin_audit WHERE seq IS NOT NULL ORDER BY seq LIMIT $1", &[limit.into()])?;
    let mut removed = 0;
    let mut anchor = None;
    for row in &oldest {
        if row.int("at")? >= before {
            break;
        }
        let seq = row.int("seq")?;
        removed += conn.execute("DELETE FROM admin_audit WHERE seq = $1", &[seq.into()])?;
        anchor = Some((seq, row.text("hash")?));
    }
    if let Some((seq, hash)) = anchor {
        conn.execute(
            "UPDATE audit_chain SET anchor_seq = $1, anchor_hash = $2 WHERE id = 1 AND anchor_seq < $1",
            &[seq.into(), hash.into()],
        )?;
    }
    removed += conn.execute(
        "DELETE FROM admin_audit WHERE id IN (SELECT id FROM admin_audit WHERE seq IS NULL AND at < $1 LIMIT $2)",
        &[before.into(), limit.into()],
    )?;
    Ok(removed)
}

/// Newest first; `username` narrows to one user's views.
pub fn audit_search(conn: &mut dyn Conn, username: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = match username {
        Some(name) => conn.query(
            "SELECT at, username, role, action, brand, subject FROM admin_audit WHERE username = $1 \
             ORDER BY at DESC, id DESC LIMIT $2",
            &[name.into(), limit.into()],
        )?,
        None => conn.query(
            "SELECT at, username, role, action, brand, subject FROM admin_audit ORDER BY at DESC, id DESC LIMIT $1",
            &[limit.into()],
        )?,
    };
    rows.iter().map(audit_entry).collect()
}

/// An order's verifications and every event about it (also those before a verification existed,
/// such as `identity.failed`), in order.
pub fn order_trace(
    conn: &mut dyn Conn,
    brand: &str,
    order_id: &str,
) -> Result<(Vec<TracedVerification>, Vec<crate::records::Event>), StoreError> {
    let verifications = conn
        .query(
            "SELECT id, status, phone_hint, phone_enc, amount_minor, currency, created_at FROM verifications \
             WHERE brand = $1 AND order_id = $2 ORDER BY created_at",
            &[brand.into(), order_id.into()],
        )?
        .iter()
        .map(|r| {
            Ok(TracedVerification {
                id: r.text("id")?,
                status: r.parsed("status", Status::parse)?,
                phone_hint: r.text("phone_hint")?,
                phone_enc: r.opt_blob("phone_enc")?,
                amount: Money::from_minor(r.int("amount_minor")?, r.parsed("currency", |c| Currency::parse(c).ok())?),
                created_at: Timestamp(r.int("created_at")?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // Sorted here: with ORDER BY, SQLite may walk a brand's whole event log in time order instead
    // of using the indexes by order and by verification.
    let mut events = super::events::of_order_without_verification(conn, brand, order_id)?;
    events.extend(super::events::of_verifications_of_order(conn, brand, order_id)?);
    events.sort_by_key(|e| (e.at, e.id));
    Ok((verifications, events))
}

/// A brand's verifications to one number (by its keyed hashes under each key still matched),
/// newest first, at most `limit`.
pub fn verifications_of_number(
    conn: &mut dyn Conn,
    brand: &str,
    phone_hashes: &[Vec<u8>],
    limit: i64,
) -> Result<Vec<FoundVerification>, StoreError> {
    let placeholders: Vec<String> = (0..phone_hashes.len()).map(|i| format!("${}", i + 3)).collect();
    let mut params: Vec<Value> = vec![brand.into(), limit.into()];
    params.extend(phone_hashes.iter().map(|h| Value::from(h.as_slice())));
    conn.query(
        &format!(
            "SELECT order_id, id, status, created_at FROM verifications WHERE brand = $1 AND phone_hash IN ({}) \
             ORDER BY created_at DESC LIMIT $2",
            placeholders.join(", ")
        ),
        &params,
    )?
    .iter()
    .map(|r| {
        Ok(FoundVerification {
            order_id: r.text("order_id")?,
            verification_id: r.text("id")?,
            status: r.parsed("status", Status::parse)?,
            created_at: Timestamp(r.int("created_at")?),
        })
    })
    .collect()
}
