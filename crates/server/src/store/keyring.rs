//! The key ring (wrapped keys), and the stored data a rotation works through: what is sealed by
//! an older data key, and the keyed hashes made with an older look-up key.

use super::{Conn, StoreError, Value};
use crate::crypto::keyring::KeyPurpose;
use crate::records::keys::KeyringRow;

pub fn rows(conn: &mut dyn Conn) -> Result<Vec<KeyringRow>, StoreError> {
    conn.query(
        "SELECT purpose, generation, wrapped, master_id, created_at, active_from, retired_at FROM keyring \
         ORDER BY purpose, generation",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(KeyringRow {
            purpose: r.parsed("purpose", KeyPurpose::parse)?,
            generation: u32::try_from(r.int("generation")?).unwrap_or_default(),
            wrapped: r.blob("wrapped")?,
            master_id: r.text("master_id")?,
            created_at: r.int("created_at")?,
            active_from: r.int("active_from")?,
            retired_at: r.opt_int("retired_at")?,
        })
    })
    .collect()
}

/// Whether the database has the ring's table: migrated to the release that brought it. Any
/// error reads as "not yet" (the database's own check reports one that is not).
pub fn table_exists(conn: &mut dyn Conn) -> bool {
    conn.query("SELECT version FROM schema_migrations WHERE version = 23", &[]).is_ok_and(|rows| !rows.is_empty())
}

/// Adds a key unless its purpose already has that generation (another instance was first).
pub fn insert(conn: &mut dyn Conn, row: &KeyringRow) -> Result<bool, StoreError> {
    let added = conn.execute(
        "INSERT INTO keyring (purpose, generation, wrapped, master_id, created_at, active_from) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (purpose, generation) DO NOTHING",
        &[
            row.purpose.as_str().into(),
            i64::from(row.generation).into(),
            row.wrapped.clone().into(),
            row.master_id.as_str().into(),
            row.created_at.into(),
            row.active_from.into(),
        ],
    )?;
    Ok(added == 1)
}

pub fn rewrap(conn: &mut dyn Conn, row: &KeyringRow) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE keyring SET wrapped = $1, master_id = $2 WHERE purpose = $3 AND generation = $4",
        &[
            row.wrapped.clone().into(),
            row.master_id.as_str().into(),
            row.purpose.as_str().into(),
            i64::from(row.generation).into(),
        ],
    )?;
    Ok(())
}

pub fn retire(conn: &mut dyn Conn, purpose: KeyPurpose, generation: u32, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE keyring SET retired_at = $1 WHERE purpose = $2 AND generation = $3 AND retired_at IS NULL",
        &[now.into(), purpose.as_str().into(), i64::from(generation).into()],
    )?;
    Ok(())
}

/// Whether the database holds anything a release before key rings sealed, hashed or chained.
pub fn holds_data_from_before(conn: &mut dyn Conn) -> Result<bool, StoreError> {
    let marks = [
        "SELECT 1 AS found FROM verifications LIMIT 1",
        "SELECT 1 AS found FROM signing_keys LIMIT 1",
        "SELECT 1 AS found FROM risk_lists LIMIT 1",
        "SELECT 1 AS found FROM webhook_endpoints WHERE secrets_enc IS NOT NULL LIMIT 1",
        "SELECT 1 AS found FROM admin_users WHERE totp_secret_enc IS NOT NULL LIMIT 1",
        "SELECT 1 AS found FROM admin_audit LIMIT 1",
    ];
    for query in marks {
        if !conn.query(query, &[])?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A column of sealed (encrypted) values; `id` names its row where the table is large.
#[derive(Debug, Clone, Copy)]
pub struct SealedColumn {
    pub table: &'static str,
    pub column: &'static str,
    pub id: Option<&'static str>,
}

/// Every column the data key seals.
pub const SEALED: [SealedColumn; 9] = [
    SealedColumn { table: "verifications", column: "phone_enc", id: Some("id") },
    SealedColumn { table: "verifications", column: "device_enc", id: Some("id") },
    SealedColumn { table: "sms_messages", column: "to_enc", id: Some("id") },
    SealedColumn { table: "sms_messages", column: "body_enc", id: Some("id") },
    SealedColumn { table: "risk_lists", column: "value_enc", id: Some("id") },
    SealedColumn { table: "signing_keys", column: "private_key_enc", id: None },
    SealedColumn { table: "webhook_endpoints", column: "secrets_enc", id: None },
    SealedColumn { table: "admin_users", column: "totp_secret_enc", id: None },
    SealedColumn { table: "admin_sign_ins", column: "enrol_secret_enc", id: None },
];

/// A sealed value and the row it is in.
pub struct Sealed {
    pub id: Option<String>,
    pub value: Vec<u8>,
}

/// Values of the column that do not begin with `prefix` (sealed by another data key).
pub fn sealed_otherwise(
    conn: &mut dyn Conn,
    column: SealedColumn,
    prefix: &[u8],
    limit: i64,
) -> Result<Vec<Sealed>, StoreError> {
    let SealedColumn { table, column, id } = column;
    let id_column = id.map_or(String::new(), |id| format!("{id} AS row_id, "));
    conn.query(
        &format!(
            "SELECT {id_column}{column} AS sealed FROM {table} \
             WHERE {column} IS NOT NULL AND substr({column}, 1, {}) <> $1 LIMIT $2",
            prefix.len()
        ),
        &[prefix.into(), limit.into()],
    )?
    .iter()
    .map(|r| Ok(Sealed { id: if id.is_some() { Some(r.text("row_id")?) } else { None }, value: r.blob("sealed")? }))
    .collect()
}

pub fn count_sealed_otherwise(conn: &mut dyn Conn, column: SealedColumn, prefix: &[u8]) -> Result<i64, StoreError> {
    let SealedColumn { table, column, .. } = column;
    conn.query_one(
        &format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE {column} IS NOT NULL AND substr({column}, 1, {}) <> $1",
            prefix.len()
        ),
        &[prefix.into()],
    )?
    .int("n")
}

/// Replaces a sealed value, unless it changed meanwhile.
pub fn reseal(conn: &mut dyn Conn, column: SealedColumn, old: &Sealed, new: &[u8]) -> Result<bool, StoreError> {
    let SealedColumn { table, column, id } = column;
    let mut params: Vec<Value> = vec![new.into(), old.value.as_slice().into()];
    let by_id = match (id, &old.id) {
        (Some(id), Some(row_id)) => {
            params.push(row_id.as_str().into());
            format!(" AND {id} = $3")
        }
        _ => String::new(),
    };
    let changed = conn.execute(&format!("UPDATE {table} SET {column} = $1 WHERE {column} = $2{by_id}"), &params)?;
    Ok(changed == 1)
}

/// A row whose keyed values an older look-up key made, with what they were made of, sealed.
pub struct OlderLookup {
    pub id: String,
    pub sealed: Vec<u8>,
    /// A verification's device id.
    pub sealed_device: Option<Vec<u8>>,
}

pub fn verifications_under_older_lookup(
    conn: &mut dyn Conn,
    active: u32,
    limit: i64,
) -> Result<Vec<OlderLookup>, StoreError> {
    conn.query(
        "SELECT id, phone_enc, device_enc FROM verifications WHERE lookup_key < $1 AND phone_enc IS NOT NULL \
         ORDER BY id LIMIT $2",
        &[i64::from(active).into(), limit.into()],
    )?
    .iter()
    .map(|r| {
        Ok(OlderLookup { id: r.text("id")?, sealed: r.blob("phone_enc")?, sealed_device: r.opt_blob("device_enc")? })
    })
    .collect()
}

/// Verifications and list entries an older look-up key keyed that can be keyed again.
pub fn count_under_older_lookup(conn: &mut dyn Conn, active: u32) -> Result<i64, StoreError> {
    let active = i64::from(active);
    let verifications = conn
        .query_one(
            "SELECT COUNT(*) AS n FROM verifications WHERE lookup_key < $1 AND phone_enc IS NOT NULL",
            &[active.into()],
        )?
        .int("n")?;
    let entries = conn
        .query_one(
            "SELECT COUNT(*) AS n FROM risk_lists WHERE lookup_key < $1 AND value_enc IS NOT NULL \
             AND kind IN ('number', 'device')",
            &[active.into()],
        )?
        .int("n")?;
    Ok(verifications + entries)
}

/// A verification's keyed values made again with look-up key `generation`.
pub struct Rekeyed {
    pub id: String,
    pub phone_hash: Vec<u8>,
    pub range_ref: String,
    pub device_ref: Option<String>,
    pub generation: u32,
}

pub fn rekey_verification(conn: &mut dyn Conn, v: &Rekeyed) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE verifications SET phone_hash = $1, range_ref = $2, device_ref = COALESCE($3, device_ref), \
         lookup_key = $4 WHERE id = $5 AND phone_enc IS NOT NULL",
        &[
            v.phone_hash.as_slice().into(),
            v.range_ref.as_str().into(),
            v.device_ref.clone().into(),
            i64::from(v.generation).into(),
            v.id.as_str().into(),
        ],
    )?;
    Ok(())
}

/// Number and device entries whose value an older look-up key made, with what was written, sealed.
pub fn list_entries_under_older_lookup(
    conn: &mut dyn Conn,
    active: u32,
    limit: i64,
) -> Result<Vec<(OlderLookup, String)>, StoreError> {
    conn.query(
        "SELECT id, kind, value_enc FROM risk_lists WHERE lookup_key < $1 AND value_enc IS NOT NULL \
         AND kind IN ('number', 'device') ORDER BY id LIMIT $2",
        &[i64::from(active).into(), limit.into()],
    )?
    .iter()
    .map(|r| {
        let entry = OlderLookup { id: r.text("id")?, sealed: r.blob("value_enc")?, sealed_device: None };
        Ok((entry, r.text("kind")?))
    })
    .collect()
}

pub fn rekey_list_entry(conn: &mut dyn Conn, id: &str, value: &str, generation: u32) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE risk_lists SET value = $1, lookup_key = $2 WHERE id = $3",
        &[value.into(), i64::from(generation).into(), id.into()],
    )?;
    Ok(())
}

/// Number and device entries from before key rings: only their hash is kept, so they cannot be
/// re-keyed, and the look-up key they were made with stays matched while they exist.
pub fn unrekeyable_list_entries(conn: &mut dyn Conn, generation: u32, now: i64) -> Result<i64, StoreError> {
    conn.query_one(
        "SELECT COUNT(*) AS n FROM risk_lists WHERE lookup_key = $1 AND value_enc IS NULL \
         AND kind IN ('number', 'device') AND (expires_at IS NULL OR expires_at > $2)",
        &[i64::from(generation).into(), now.into()],
    )?
    .int("n")
}
