//! API keys (stored as hashes) and receipt signing keys (private halves encrypted).

use super::{Conn, StoreError};
use crate::records::keys::{ApiKeyInfo, SigningKeyRow};

pub fn insert_api_key(conn: &mut dyn Conn, info: &ApiKeyInfo, key_hash: &[u8]) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO api_keys (id, brand, key_hash, prefix, label, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            info.id.as_str().into(),
            info.brand.as_str().into(),
            key_hash.into(),
            info.prefix.as_str().into(),
            info.label.as_str().into(),
            info.created_at.into(),
        ],
    )?;
    Ok(())
}

/// The brand an unrevoked key belongs to.
pub fn brand_for_key(conn: &mut dyn Conn, key_hash: &[u8]) -> Result<Option<String>, StoreError> {
    conn.query_opt("SELECT brand FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", &[key_hash.into()])?
        .map(|r| r.text("brand"))
        .transpose()
}

pub fn list_api_keys(conn: &mut dyn Conn, brand: &str) -> Result<Vec<ApiKeyInfo>, StoreError> {
    conn.query(
        "SELECT id, brand, prefix, label, created_at, revoked_at FROM api_keys WHERE brand = $1 ORDER BY created_at, id",
        &[brand.into()],
    )?
    .iter()
    .map(|r| {
        Ok(ApiKeyInfo {
            id: r.text("id")?,
            brand: r.text("brand")?,
            prefix: r.text("prefix")?,
            label: r.text("label")?,
            created_at: r.int("created_at")?,
            revoked_at: r.opt_int("revoked_at")?,
        })
    })
    .collect()
}

/// `false` when the brand has no such unrevoked key.
pub fn revoke_api_key(conn: &mut dyn Conn, brand: &str, id: &str, now: i64) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE api_keys SET revoked_at = $1 WHERE brand = $2 AND id = $3 AND revoked_at IS NULL",
        &[now.into(), brand.into(), id.into()],
    )?;
    Ok(changed == 1)
}

/// Revokes a brand's active keys with this label; returns how many.
pub fn revoke_api_keys_labelled(conn: &mut dyn Conn, brand: &str, label: &str, now: i64) -> Result<u64, StoreError> {
    conn.execute(
        "UPDATE api_keys SET revoked_at = $1 WHERE brand = $2 AND label = $3 AND revoked_at IS NULL",
        &[now.into(), brand.into(), label.into()],
    )
}

pub fn insert_signing_key(conn: &mut dyn Conn, key: &SigningKeyRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO signing_keys (kid, private_key_enc, public_key, created_at) VALUES ($1, $2, $3, $4)",
        &[
            key.kid.as_str().into(),
            key.private_key_enc.clone().into(),
            key.public_key.clone().into(),
            key.created_at.into(),
        ],
    )?;
    Ok(())
}

/// Keys not retired, newest first: the first signs, all are published for verification.
pub fn published_signing_keys(conn: &mut dyn Conn) -> Result<Vec<SigningKeyRow>, StoreError> {
    conn.query(
        "SELECT kid, private_key_enc, public_key, created_at FROM signing_keys WHERE retired_at IS NULL \
         ORDER BY created_at DESC, kid DESC",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(SigningKeyRow {
            kid: r.text("kid")?,
            private_key_enc: r.blob("private_key_enc")?,
            public_key: r.blob("public_key")?,
            created_at: r.int("created_at")?,
        })
    })
    .collect()
}

/// Retires published keys older than the newest `keep`, so they leave the JWKS.
pub fn retire_signing_keys_except(conn: &mut dyn Conn, keep: &[String], now: i64) -> Result<u64, StoreError> {
    let mut retired = 0;
    for key in published_signing_keys(conn)? {
        if !keep.contains(&key.kid) {
            retired += conn.execute(
                "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2",
                &[now.into(), key.kid.as_str().into()],
            )?;
        }
    }
    Ok(retired)
}
