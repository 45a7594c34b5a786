//! Admin users, their sessions and failed logins.

use super::{Conn, StoreError};

#[derive(Debug, Clone)]
pub struct AdminUser {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub brand: Option<String>,
}

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

fn user_from(row: &super::Row) -> Result<AdminUser, StoreError> {
    Ok(AdminUser {
        id: row.text(0)?,
        username: row.text(1)?,
        password_hash: row.text(2)?,
        role: row.text(3)?,
        brand: row.opt_text(4)?,
    })
}

/// An active (not disabled) user.
pub fn find_user(conn: &mut dyn Conn, username: &str) -> Result<Option<AdminUser>, StoreError> {
    conn.query_opt(
        "SELECT id, username, password_hash, role, brand FROM admin_users WHERE username = $1 AND disabled_at IS NULL",
        &[username.into()],
    )?
    .as_ref()
    .map(user_from)
    .transpose()
}

pub fn failures_since(conn: &mut dyn Conn, username: &str, since: i64) -> Result<i64, StoreError> {
    conn.query_one(
        "SELECT COUNT(*) FROM admin_login_failures WHERE username = $1 AND at >= $2",
        &[username.into(), since.into()],
    )?
    .int(0)
}

/// Records a failed login; failures older than `forget_before` are dropped on the way.
pub fn record_failure(conn: &mut dyn Conn, username: &str, now: i64, forget_before: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM admin_login_failures WHERE at < $1", &[forget_before.into()])?;
    conn.execute("INSERT INTO admin_login_failures (username, at) VALUES ($1, $2)", &[username.into(), now.into()])?;
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
        "SELECT u.id, u.username, u.password_hash, u.role, u.brand, s.csrf_token FROM admin_sessions s \
         JOIN admin_users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        &[token_hash.to_vec().into(), now.into()],
    )?
    .as_ref()
    .map(|row| Ok((user_from(row)?, row.text(5)?)))
    .transpose()
}

pub fn delete_session(conn: &mut dyn Conn, token_hash: &[u8]) -> Result<(), StoreError> {
    conn.execute("DELETE FROM admin_sessions WHERE token_hash = $1", &[token_hash.to_vec().into()])?;
    Ok(())
}

/// Verifications per status for one brand: the admin home page's summary.
pub fn verification_counts(conn: &mut dyn Conn, brand: &str) -> Result<Vec<(String, i64)>, StoreError> {
    conn.query(
        "SELECT status, COUNT(*) FROM verifications WHERE brand = $1 GROUP BY status ORDER BY status",
        &[brand.into()],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.int(1)?)))
    .collect()
}
