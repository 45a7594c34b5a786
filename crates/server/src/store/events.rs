//! The append-only event log: one row per transition, written in the transaction of the change.

use super::{Conn, StoreError};

#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub brand: &'a str,
    pub verification_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub kind: &'static str,
    pub at: i64,
    pub attrs: serde_json::Value,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub at: i64,
    pub verification_id: Option<String>,
    pub order_id: Option<String>,
    pub attrs: serde_json::Value,
}

/// An event's columns, in the order of the INSERTs here.
fn columns(e: &NewEvent<'_>) -> [super::Value; 6] {
    [
        e.brand.into(),
        e.verification_id.into(),
        e.order_id.into(),
        e.kind.into(),
        e.at.into(),
        e.attrs.to_string().into(),
    ]
}

pub fn append(conn: &mut dyn Conn, e: &NewEvent<'_>) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO events (brand, verification_id, order_id, type, at, attrs) VALUES ($1, $2, $3, $4, $5, $6)",
        &columns(e),
    )?;
    Ok(())
}

/// A verification's events, in the order they were written.
pub fn for_verification(conn: &mut dyn Conn, brand: &str, verification_id: &str) -> Result<Vec<Event>, StoreError> {
    // By verification id alone: with the brand in the query too, SQLite walks the brand's whole log
    // by (brand, id). Verification ids are unique across brands; the brand is checked here.
    let mut events = Vec::new();
    for row in conn
        .query(&format!("SELECT {COLUMNS}, brand FROM events WHERE verification_id = $1"), &[verification_id.into()])?
    {
        if row.text(6)? == brand {
            events.push(from_row(&row)?);
        }
    }
    events.sort_by_key(|e| e.id);
    Ok(events)
}

/// The events of an order that belong to none of its verifications (identity failures, outcomes).
pub fn of_order_without_verification(
    conn: &mut dyn Conn,
    brand: &str,
    order_id: &str,
) -> Result<Vec<Event>, StoreError> {
    conn.query(
        &format!("SELECT {COLUMNS} FROM events WHERE brand = $1 AND order_id = $2 AND verification_id IS NULL"),
        &[brand.into(), order_id.into()],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// The events of an order's verifications (of this brand: the subquery's), in no particular order.
pub fn of_verifications_of_order(conn: &mut dyn Conn, brand: &str, order_id: &str) -> Result<Vec<Event>, StoreError> {
    conn.query(
        &format!(
            "SELECT {COLUMNS} FROM events WHERE verification_id IN \
             (SELECT id FROM verifications WHERE brand = $1 AND order_id = $2)"
        ),
        &[brand.into(), order_id.into()],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// The columns `from_row` reads, in its order.
const COLUMNS: &str = "id, type, at, verification_id, order_id, attrs";

/// An event from `SELECT {COLUMNS}`.
pub fn from_row(r: &super::Row) -> Result<Event, StoreError> {
    Ok(Event {
        id: r.int(0)?,
        kind: r.text(1)?,
        at: r.int(2)?,
        verification_id: r.opt_text(3)?,
        order_id: r.opt_text(4)?,
        attrs: serde_json::from_str(&r.text(5)?).unwrap_or(serde_json::Value::Null),
    })
}

pub fn count(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    conn.query_one("SELECT COUNT(*) FROM events", &[])?.int(0)
}

/// A brand's events after `after_id`, oldest first, at most `limit`.
pub fn of_brand_after(conn: &mut dyn Conn, brand: &str, after_id: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
    conn.query(
        &format!("SELECT {COLUMNS} FROM events WHERE brand = $1 AND id > $2 ORDER BY id LIMIT $3"),
        &[brand.into(), after_id.into(), limit.into()],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// A brand's latest `limit` events, newest first.
pub fn latest_of_brand(conn: &mut dyn Conn, brand: &str, limit: i64) -> Result<Vec<Event>, StoreError> {
    conn.query(
        &format!("SELECT {COLUMNS} FROM events WHERE brand = $1 ORDER BY id DESC LIMIT $2"),
        &[brand.into(), limit.into()],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Appends many events with one statement per up to 256 (bulk loads: benchmarks, imports).
pub fn append_many(conn: &mut dyn Conn, events: &[NewEvent<'_>]) -> Result<(), StoreError> {
    for chunk in super::bulk_chunks(events) {
        let sql = format!(
            "INSERT INTO events (brand, verification_id, order_id, type, at, attrs) VALUES {}",
            super::values_clause(chunk.len(), 6)
        );
        let params: Vec<super::Value> = chunk.iter().flat_map(columns).collect();
        conn.execute(&sql, &params)?;
    }
    Ok(())
}
