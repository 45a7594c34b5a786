//! The append-only event log: one row per transition, written in the transaction of the change.

use orderguard_domain::event::EventKind;

use super::{Conn, StoreError};
use crate::records::{Event, NewEvent};

/// An event's columns, in the order of the INSERTs here.
fn columns(e: &NewEvent<'_>) -> [super::Value; 6] {
    [
        e.brand.into(),
        e.verification_id.into(),
        e.order_id.into(),
        e.kind.as_str().into(),
        e.at.millis().into(),
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
        if row.text("brand")? == brand {
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

/// The events of one kind of the verifications `ids` (of this brand), in no particular order.
pub fn of_kind_for_verifications(
    conn: &mut dyn Conn,
    brand: &str,
    kind: EventKind,
    ids: &[String],
) -> Result<Vec<Event>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // By verification id, the brand checked here (see `for_verification`).
    let placeholders = (2..ids.len() + 2).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
    let mut params: Vec<super::Value> = vec![kind.as_str().into()];
    params.extend(ids.iter().map(|id| id.as_str().into()));
    let mut events = Vec::new();
    for row in conn.query(
        &format!("SELECT {COLUMNS}, brand FROM events WHERE verification_id IN ({placeholders}) AND type = $1"),
        &params,
    )? {
        if row.text("brand")? == brand {
            events.push(from_row(&row)?);
        }
    }
    Ok(events)
}

/// The columns `from_row` reads, in its order.
const COLUMNS: &str = "id, type, at, verification_id, order_id, attrs";

/// An event from `SELECT {COLUMNS}`.
pub fn from_row(r: &super::Row) -> Result<Event, StoreError> {
    Ok(Event {
        id: r.int("id")?,
        kind: r.parsed("type", EventKind::parse)?,
        at: r.int("at")?,
        verification_id: r.opt_text("verification_id")?,
        order_id: r.opt_text("order_id")?,
        attrs: serde_json::from_str(&r.text("attrs")?).unwrap_or(serde_json::Value::Null),
    })
}

pub fn count(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    conn.query_one("SELECT COUNT(*) AS n FROM events", &[])?.int("n")
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

/// A brand's events of `types` in `[from, to)`, newest first, at most `limit` (the orders behind
/// a dashboard figure): read through the (brand, at) index, so callers keep the span short.
pub fn of_types_between(
    conn: &mut dyn Conn,
    brand: &str,
    types: &[&str],
    (from, to): (i64, i64),
    limit: i64,
) -> Result<Vec<Event>, StoreError> {
    let listed: Vec<String> = (5..5 + types.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE brand = $1 AND at >= $2 AND at < $3 AND type IN ({}) \
         ORDER BY at DESC, id DESC LIMIT $4",
        listed.join(", ")
    );
    let mut params: Vec<super::Value> = vec![brand.into(), from.into(), to.into(), limit.into()];
    params.extend(types.iter().map(|t| (*t).into()));
    conn.query(&sql, &params)?.iter().map(from_row).collect()
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
