//! The admin users' second factor: TOTP secrets, recovery codes, and sign-ins waiting for a code.

use super::{Conn, StoreError, Value};

/// A sign-in between the password and the code.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    /// `None`: the password was wrong (the code is asked for all the same).
    pub user_id: Option<String>,
    /// The keyed reference of the typed username, under which failures count.
    pub counted_as: String,
    /// The keyed reference of the client address.
    pub client: String,
    pub enrol_secret_enc: Option<Vec<u8>>,
    pub attempts: i64,
}

pub fn insert_pending(
    conn: &mut dyn Conn,
    token_hash: &[u8],
    pending: &PendingSignIn,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    conn.execute("DELETE FROM admin_sign_ins WHERE expires_at < $1", &[now.into()])?;
    conn.execute(
        "INSERT INTO admin_sign_ins (token_hash, user_id, counted_as, client, enrol_secret_enc, attempts, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            token_hash.into(),
            pending.user_id.clone().into(),
            pending.counted_as.as_str().into(),
            pending.client.as_str().into(),
            pending.enrol_secret_enc.clone().into(),
            pending.attempts.into(),
            expires_at.into(),
        ],
    )?;
    Ok(())
}

/// A live pending sign-in, its attempts counted up by one (under the row's lock, so that parallel
/// guesses count each).
pub fn attempt_pending(conn: &mut dyn Conn, token_hash: &[u8], now: i64) -> Result<Option<PendingSignIn>, StoreError> {
    let counted = conn.execute(
        "UPDATE admin_sign_ins SET attempts = attempts + 1 WHERE token_hash = $1 AND expires_at > $2",
        &[token_hash.into(), now.into()],
    )?;
    if counted == 0 {
        return Ok(None);
    }
    let row = conn.query_one(
        "SELECT user_id, counted_as, client, enrol_secret_enc, attempts FROM admin_sign_ins WHERE token_hash = $1",
        &[token_hash.into()],
    )?;
    Ok(Some(PendingSignIn {
        user_id: row.opt_text("user_id")?,
        counted_as: row.text("counted_as")?,
        client: row.text("client")?,
        enrol_secret_enc: row.opt_blob("enrol_secret_enc")?,
        attempts: row.int("attempts")?,
    }))
}

/// What a page of the second step shows of a live pending sign-in, without counting an attempt:
/// the username (if the password was right), the enrolment secret, the user's TOTP secret.
pub struct PendingView {
    pub username: Option<String>,
    pub enrol_secret_enc: Option<Vec<u8>>,
    pub totp_secret_enc: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
}

pub fn peek_pending(conn: &mut dyn Conn, token_hash: &[u8], now: i64) -> Result<Option<PendingView>, StoreError> {
    conn.query_opt(
        "SELECT u.username, s.enrol_secret_enc, u.totp_secret_enc, u.totp_last_step FROM admin_sign_ins s \
         LEFT JOIN admin_users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
        &[token_hash.into(), now.into()],
    )?
    .map(|row| {
        Ok(PendingView {
            username: row.opt_text("username")?,
            enrol_secret_enc: row.opt_blob("enrol_secret_enc")?,
            totp_secret_enc: row.opt_blob("totp_secret_enc")?,
            totp_last_step: row.opt_int("totp_last_step")?,
        })
    })
    .transpose()
}

pub fn delete_pending(conn: &mut dyn Conn, token_hash: &[u8]) -> Result<(), StoreError> {
    conn.execute("DELETE FROM admin_sign_ins WHERE token_hash = $1", &[token_hash.into()])?;
    Ok(())
}

/// The user's TOTP secret (encrypted), if they have one.
pub fn totp_secret(conn: &mut dyn Conn, user_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .query_opt("SELECT totp_secret_enc FROM admin_users WHERE id = $1", &[user_id.into()])?
        .map(|row| row.opt_blob("totp_secret_enc"))
        .transpose()?
        .flatten())
}

/// Records that a code of time step `step` was used: `false` when that step or a later one was
/// used before (a code is good once).
pub fn use_totp_step(conn: &mut dyn Conn, user_id: &str, step: i64) -> Result<bool, StoreError> {
    let used = conn.execute(
        "UPDATE admin_users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
        &[user_id.into(), step.into()],
    )?;
    Ok(used == 1)
}

/// Gives a user without a second factor a TOTP secret and recovery codes (hashed), and ends the
/// user's other pending sign-ins: `false` when the user has one already (an enrolment begun
/// before another was confirmed must not replace it).
pub fn enrol(
    conn: &mut dyn Conn,
    user_id: &str,
    secret_enc: &[u8],
    step: i64,
    recovery_hashes: &[Vec<u8>],
) -> Result<bool, StoreError> {
    let enrolled = conn.execute(
        "UPDATE admin_users SET totp_secret_enc = $2, totp_last_step = $3 WHERE id = $1 AND totp_secret_enc IS NULL",
        &[user_id.into(), secret_enc.into(), step.into()],
    )?;
    if enrolled == 0 {
        return Ok(false);
    }
    conn.execute("DELETE FROM admin_sign_ins WHERE user_id = $1", &[user_id.into()])?;
    conn.execute("DELETE FROM admin_recovery_codes WHERE user_id = $1", &[user_id.into()])?;
    for hash in recovery_hashes {
        conn.execute(
            "INSERT INTO admin_recovery_codes (user_id, code_hash) VALUES ($1, $2)",
            &[user_id.into(), Value::Blob(hash.clone())],
        )?;
    }
    Ok(true)
}

/// Uses up one of the user's recovery codes: `false` when it is not one or was used.
pub fn use_recovery_code(conn: &mut dyn Conn, user_id: &str, code_hash: &[u8], now: i64) -> Result<bool, StoreError> {
    let used = conn.execute(
        "UPDATE admin_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        &[user_id.into(), code_hash.into(), now.into()],
    )?;
    Ok(used == 1)
}

/// Takes the user's second factor away (a lost phone): they enrol again at their next sign-in.
/// `false` when there is no such user.
pub fn reset(conn: &mut dyn Conn, username: &str) -> Result<bool, StoreError> {
    let Some(row) = conn.query_opt("SELECT id FROM admin_users WHERE username = $1", &[username.into()])? else {
        return Ok(false);
    };
    let id = row.text("id")?;
    conn.execute(
        "UPDATE admin_users SET totp_secret_enc = NULL, totp_last_step = NULL WHERE id = $1",
        &[id.as_str().into()],
    )?;
    conn.execute("DELETE FROM admin_recovery_codes WHERE user_id = $1", &[id.as_str().into()])?;
    conn.execute("DELETE FROM admin_sessions WHERE user_id = $1", &[id.as_str().into()])?;
    Ok(true)
}
