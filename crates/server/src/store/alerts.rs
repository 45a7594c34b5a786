//! Alerts and the minute counters their rules read.

use super::{Conn, Row, StoreError};
use crate::records::alert::{Alert, AlertFilter, NewAlert};

/// The moment up to which every event has been counted: the time of the first event not yet
/// counted, or `None` when all are.
pub fn counted_until(conn: &mut dyn Conn) -> Result<Option<i64>, StoreError> {
    conn.query_one(
        "SELECT MIN(at) AS at FROM events WHERE id > (SELECT last_event_id FROM rollup_state WHERE id = 1)",
        &[],
    )?
    .opt_int("at")
}

/// The time of the first event in the log.
pub fn first_event_at(conn: &mut dyn Conn) -> Result<Option<i64>, StoreError> {
    conn.query_one("SELECT MIN(at) AS at FROM events", &[])?.opt_int("at")
}

/// A brand's minute counters over `[from, to)`: (minute, dimension, value, count).
pub fn minute_counts(
    conn: &mut dyn Conn,
    brand: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, String, String, i64)>, StoreError> {
    slot_counts(conn, "rollups_minutely", "minute", brand, from, to)
}

/// A brand's hourly counters over `[from, to)`: (hour, dimension, value, count).
pub fn hour_counts(
    conn: &mut dyn Conn,
    brand: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, String, String, i64)>, StoreError> {
    slot_counts(conn, "rollups", "hour", brand, from, to)
}

fn slot_counts(
    conn: &mut dyn Conn,
    table: &str,
    slot: &str,
    brand: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, String, String, i64)>, StoreError> {
    let sql = format!(
        "SELECT {slot} AS slot, dimension, value, count FROM {table} WHERE brand = $1 AND {slot} >= $2 AND {slot} < $3"
    );
    conn.query(&sql, &[brand.into(), from.into(), to.into()])?
        .iter()
        .map(|r| Ok((r.int("slot")?, r.text("dimension")?, r.text("value")?, r.int("count")?)))
        .collect()
}

/// Forgets a brand's minute counters older than `before` (a range of the primary key).
pub fn prune_minutes(conn: &mut dyn Conn, brand: &str, before: i64) -> Result<u64, StoreError> {
    conn.execute("DELETE FROM rollups_minutely WHERE brand = $1 AND minute < $2", &[brand.into(), before.into()])
}

/// The orders held for review, and since when the oldest waits.
pub fn review_queue(conn: &mut dyn Conn, brand: &str, now: i64) -> Result<(i64, Option<i64>), StoreError> {
    let row = conn.query_one(
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM verifications \
         WHERE brand = $1 AND status = 'in_review' AND expires_at > $2",
        &[brand.into(), now.into()],
    )?;
    Ok((row.int("n")?, row.opt_int("oldest")?))
}

/// The enabled webhook endpoints of a brand and since when each fails.
pub fn webhook_failures(conn: &mut dyn Conn, brand: &str) -> Result<Vec<(String, Option<i64>)>, StoreError> {
    conn.query("SELECT name, failing_since FROM webhook_endpoints WHERE brand = $1 AND enabled = 1", &[brand.into()])?
        .iter()
        .map(|r| Ok((r.text("name")?, r.opt_int("failing_since")?)))
        .collect()
}

/// Events of the given types of a brand over `[from, to)` with an order, newest first (at most
/// `most`): (order id, attributes as JSON text).
pub fn evidence(
    conn: &mut dyn Conn,
    brand: &str,
    types: &[&str],
    from: i64,
    to: i64,
    most: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut params: Vec<super::Value> = vec![brand.into(), from.into(), to.into(), most.into()];
    let placeholders: Vec<String> = (0..types.len()).map(|i| format!("${}", i + 5)).collect();
    params.extend(types.iter().map(|t| (*t).into()));
    let sql = format!(
        "SELECT order_id, attrs FROM events WHERE brand = $1 AND at >= $2 AND at < $3 AND order_id IS NOT NULL \
         AND type IN ({}) ORDER BY at DESC LIMIT $4",
        placeholders.join(", ")
    );
    conn.query(&sql, &params)?.iter().map(|r| Ok((r.text("order_id")?, r.text("attrs")?))).collect()
}

const COLUMNS: &str = "id, brand, rule, key, severity, status, raised_at, last_firing_at, figures, orders, \
     acknowledged_at, acknowledged_by, acknowledge_note, resolved_at, resolved_by, resolve_note";

fn from_row(r: &Row) -> Result<Alert, StoreError> {
    use orderguard_domain::alert::{AlertRule, AlertStatus, Severity};
    Ok(Alert {
        id: r.int("id")?,
        brand: r.text("brand")?,
        rule: r.parsed("rule", AlertRule::parse)?,
        key: r.text("key")?,
        severity: r.parsed("severity", Severity::parse)?,
        status: r.parsed("status", AlertStatus::parse)?,
        raised_at: r.int("raised_at")?,
        last_firing_at: r.int("last_firing_at")?,
        figures: serde_json::from_str(&r.text("figures")?).unwrap_or_default(),
        orders: serde_json::from_str(&r.text("orders")?).unwrap_or_default(),
        acknowledged_at: r.opt_int("acknowledged_at")?,
        acknowledged_by: r.opt_text("acknowledged_by")?,
        acknowledge_note: r.opt_text("acknowledge_note")?,
        resolved_at: r.opt_int("resolved_at")?,
        resolved_by: r.opt_text("resolved_by")?,
        resolve_note: r.opt_text("resolve_note")?,
    })
}

/// The alerts of a brand not yet resolved.
pub fn unresolved(conn: &mut dyn Conn, brand: &str) -> Result<Vec<Alert>, StoreError> {
    conn.query(
        &format!("SELECT {COLUMNS} FROM alerts WHERE brand = $1 AND status <> 'resolved' ORDER BY id"),
        &[brand.into()],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Raises an alert; gives its id, or `None` when one is already open for that rule and key.
pub fn raise(conn: &mut dyn Conn, a: &NewAlert<'_>) -> Result<Option<i64>, StoreError> {
    let row = conn.query(
        "INSERT INTO alerts (brand, rule, key, severity, status, raised_at, last_firing_at, figures, orders) \
         VALUES ($1, $2, $3, $4, 'open', $5, $5, $6, $7) ON CONFLICT (brand, rule, key) WHERE status <> 'resolved' \
         DO NOTHING RETURNING id",
        &[
            a.brand.into(),
            a.rule.as_str().into(),
            a.key.into(),
            a.severity.as_str().into(),
            a.at.into(),
            a.figures.to_string().into(),
            serde_json::to_string(a.orders).unwrap_or_default().into(),
        ],
    )?;
    row.first().map(|r| r.int("id")).transpose()
}

/// The condition still holds at `at`: its latest figures.
pub fn still_firing(conn: &mut dyn Conn, id: i64, at: i64, figures: &serde_json::Value) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE alerts SET last_firing_at = $1, figures = $2 WHERE id = $3 AND status <> 'resolved'",
        &[at.into(), figures.to_string().into(), id.into()],
    )?;
    Ok(())
}

/// Acknowledges an open alert; false when it was not open.
pub fn acknowledge(
    conn: &mut dyn Conn,
    id: i64,
    brand: &str,
    at: i64,
    by: &str,
    note: &str,
) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $1, acknowledged_by = $2, acknowledge_note = $3 \
         WHERE id = $4 AND brand = $5 AND status = 'open'",
        &[at.into(), by.into(), note.into(), id.into(), brand.into()],
    )?;
    Ok(n == 1)
}

/// Resolves an alert not yet resolved (`by` `None`: by itself); false when it was resolved already.
pub fn resolve(
    conn: &mut dyn Conn,
    id: i64,
    brand: &str,
    at: i64,
    by: Option<&str>,
    note: Option<&str>,
) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE alerts SET status = 'resolved', resolved_at = $1, resolved_by = $2, resolve_note = $3 \
         WHERE id = $4 AND brand = $5 AND status <> 'resolved'",
        &[at.into(), by.into(), note.into(), id.into(), brand.into()],
    )?;
    Ok(n == 1)
}

pub fn get(conn: &mut dyn Conn, brand: &str, id: i64) -> Result<Option<Alert>, StoreError> {
    conn.query(&format!("SELECT {COLUMNS} FROM alerts WHERE id = $1 AND brand = $2"), &[id.into(), brand.into()])?
        .first()
        .map(from_row)
        .transpose()
}

/// Alerts of a brand, newest first, filtered (those not yet resolved whenever they were raised).
pub fn list(conn: &mut dyn Conn, brand: &str, filter: &AlertFilter, most: i64) -> Result<Vec<Alert>, StoreError> {
    conn.query(
        &format!(
            "SELECT {COLUMNS} FROM alerts WHERE brand = $1 AND (raised_at >= $2 OR status <> 'resolved') AND raised_at < $3 \
             AND (CAST($4 AS TEXT) IS NULL OR status = $4) AND (CAST($5 AS TEXT) IS NULL OR rule = $5) \
             AND (CAST($6 AS TEXT) IS NULL OR severity = $6) ORDER BY raised_at DESC, id DESC LIMIT $7"
        ),
        &[
            brand.into(),
            filter.from.into(),
            filter.to.into(),
            filter.status.map(|s| s.as_str()).into(),
            filter.rule.map(|r| r.as_str()).into(),
            filter.severity.map(|s| s.as_str()).into(),
            most.into(),
        ],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Unresolved alerts per brand, rule and severity (for Prometheus).
pub fn open_counts(conn: &mut dyn Conn) -> Result<Vec<(String, String, String, i64)>, StoreError> {
    conn.query(
        "SELECT brand, rule, severity, COUNT(*) AS n FROM alerts WHERE status <> 'resolved' \
         GROUP BY brand, rule, severity",
        &[],
    )?
    .iter()
    .map(|r| Ok((r.text("brand")?, r.text("rule")?, r.text("severity")?, r.int("n")?)))
    .collect()
}
