//! Allow- and block-list entries.

use orderguard_domain::clock::Timestamp;
use orderguard_domain::lists::{ListKind, ListName};

use super::{Conn, Row, StoreError, Value};
use crate::records::lists::{ListEntry, ListMatch};

const COLUMNS: &str =
    "id, brand, list, kind, value, label, reason, created_by, created_at, expires_at, value_enc, lookup_key";

fn from_row(row: &Row) -> Result<ListEntry, StoreError> {
    Ok(ListEntry {
        id: row.text("id")?,
        brand: row.text("brand")?,
        list: row.parsed("list", ListName::parse)?,
        kind: row.parsed("kind", ListKind::parse)?,
        value: row.text("value")?,
        label: row.text("label")?,
        reason: row.text("reason")?,
        created_by: row.text("created_by")?,
        created_at: Timestamp(row.int("created_at")?),
        expires_at: row.opt_int("expires_at")?.map(Timestamp),
        value_enc: row.opt_blob("value_enc")?,
        lookup_key: u32::try_from(row.int("lookup_key")?).unwrap_or(1),
    })
}

pub fn insert(conn: &mut dyn Conn, e: &ListEntry) -> Result<(), StoreError> {
    conn.execute(
        &format!("INSERT INTO risk_lists ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
        &[
            e.id.as_str().into(),
            e.brand.as_str().into(),
            e.list.as_str().into(),
            e.kind.as_str().into(),
            e.value.as_str().into(),
            e.label.as_str().into(),
            e.reason.as_str().into(),
            e.created_by.as_str().into(),
            e.created_at.millis().into(),
            e.expires_at.map(Timestamp::millis).into(),
            e.value_enc.clone().into(),
            e.lookup_key.into(),
        ],
    )?;
    Ok(())
}

/// Removes a brand's entry; the entry as it was, if there was one.
pub fn remove(conn: &mut dyn Conn, brand: &str, id: &str) -> Result<Option<ListEntry>, StoreError> {
    let Some(entry) = conn
        .query_opt(
            &format!("SELECT {COLUMNS} FROM risk_lists WHERE brand = $1 AND id = $2"),
            &[brand.into(), id.into()],
        )?
        .map(|r| from_row(&r))
        .transpose()?
    else {
        return Ok(None);
    };
    conn.execute("DELETE FROM risk_lists WHERE brand = $1 AND id = $2", &[brand.into(), id.into()])?;
    Ok(Some(entry))
}

/// A brand's entries, expired or not, whose value is one of `values` (a person's keyed hashes).
pub fn with_values(conn: &mut dyn Conn, brand: &str, values: &[String]) -> Result<Vec<ListEntry>, StoreError> {
    let mut entries = Vec::new();
    for value in values {
        let rows = conn.query(
            &format!("SELECT {COLUMNS} FROM risk_lists WHERE brand = $1 AND value = $2"),
            &[brand.into(), value.as_str().into()],
        )?;
        entries.extend(rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?);
    }
    Ok(entries)
}

/// A brand's entries that have not expired, newest first.
pub fn of_brand(conn: &mut dyn Conn, brand: &str, now: Timestamp) -> Result<Vec<ListEntry>, StoreError> {
    conn.query(
        &format!(
            "SELECT {COLUMNS} FROM risk_lists WHERE brand = $1 AND (expires_at IS NULL OR expires_at > $2) \
             ORDER BY created_at DESC, id"
        ),
        &[brand.into(), now.millis().into()],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// The brand's live entries whose value is one of `keys` (each with the kind it is looked up as).
pub fn matching(
    conn: &mut dyn Conn,
    brand: &str,
    keys: &[(ListKind, String)],
    now: Timestamp,
) -> Result<Vec<ListMatch>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..keys.len()).map(|i| format!("${}", i + 3)).collect();
    let mut params: Vec<Value> = vec![brand.into(), now.millis().into()];
    params.extend(keys.iter().map(|(_, value)| Value::from(value.as_str())));
    let rows = conn.query(
        &format!(
            "SELECT id, list, kind, value FROM risk_lists WHERE brand = $1 \
             AND (expires_at IS NULL OR expires_at > $2) AND value IN ({})",
            placeholders.join(", ")
        ),
        &params,
    )?;
    let mut found = Vec::new();
    for row in rows {
        let kind = row.parsed("kind", ListKind::parse)?;
        let value = row.text("value")?;
        // A value names one kind: a prefix `+49` must not match a number's hash by accident.
        if keys.iter().any(|(k, v)| *k == kind && *v == value) {
            found.push(ListMatch { id: row.text("id")?, list: row.parsed("list", ListName::parse)?, kind });
        }
    }
    Ok(found)
}
