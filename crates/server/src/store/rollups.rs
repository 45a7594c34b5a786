//! The dashboards' counters, advanced from the event log in batches: incrementally, by the id of
//! the last event counted, never by rescanning.

use std::collections::BTreeMap;

use super::{Conn, StoreError};
use crate::analytics;

/// Counts the next events (at most `batch`, up to the first one at or after `before`) and moves the cursor past
/// them; gives how many it counted. The cursor moves first, conditionally: a second instance
/// doing the same batch finds it moved and counts nothing, so no event is counted twice.
pub fn advance(conn: &mut dyn Conn, before: i64, batch: i64) -> Result<usize, StoreError> {
    let cursor = conn.query_one("SELECT last_event_id FROM rollup_state WHERE id = 1", &[])?.int(0)?;
    let mut rows = conn.query(
        "SELECT id, brand, type, at, attrs FROM events WHERE id > $1 ORDER BY id LIMIT $2",
        &[cursor.into(), batch.into()],
    )?;
    // Up to the first event that is too young: the cursor must not pass an event left uncounted.
    let young = rows.iter().position(|row| row.int(3).is_ok_and(|at| at >= before)).unwrap_or(rows.len());
    rows.truncate(young);
    let Some(last) = rows.last() else { return Ok(0) };
    let last_id = last.int(0)?;
    let moved = conn.execute(
        "UPDATE rollup_state SET last_event_id = $1 WHERE id = 1 AND last_event_id = $2",
        &[last_id.into(), cursor.into()],
    )?;
    if moved == 0 {
        return Ok(0);
    }
    let mut counts: BTreeMap<(String, i64, &'static str, String), i64> = BTreeMap::new();
    for row in &rows {
        let attrs: serde_json::Value = serde_json::from_str(&row.text(4)?).unwrap_or_default();
        let (brand, hour) = (row.text(1)?, analytics::hour_of(row.int(3)?));
        for (dimension, value, amount) in analytics::dimensions(&row.text(2)?, &attrs) {
            *counts.entry((brand.clone(), hour, dimension, value)).or_default() += amount;
        }
    }
    for ((brand, hour, dimension, value), count) in counts {
        conn.execute(
            "INSERT INTO rollups (brand, hour, dimension, value, count) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (brand, hour, dimension, value) DO UPDATE SET count = rollups.count + excluded.count",
            &[brand.into(), hour.into(), dimension.into(), value.into(), count.into()],
        )?;
    }
    Ok(rows.len())
}

/// Forgets every counter: the next `advance` calls count the whole event log again.
pub fn reset(conn: &mut dyn Conn) -> Result<(), StoreError> {
    conn.execute("DELETE FROM rollups", &[])?;
    conn.execute("UPDATE rollup_state SET last_event_id = 0 WHERE id = 1", &[])?;
    Ok(())
}

/// A brand's counters summed over `[from, to)`, by dimension and value.
pub fn totals(conn: &mut dyn Conn, brand: &str, from: i64, to: i64) -> Result<Vec<(String, String, i64)>, StoreError> {
    conn.query(
        "SELECT dimension, value, CAST(SUM(count) AS BIGINT) FROM rollups WHERE brand = $1 AND hour >= $2 AND hour < $3 \
         GROUP BY dimension, value ORDER BY dimension, value",
        &[brand.into(), from.into(), to.into()],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?, r.int(2)?)))
    .collect()
}

/// A brand's counters of one dimension over `[from, to)` in slots of `slot_ms`: (slot number from
/// 0, value, sum).
pub fn series(
    conn: &mut dyn Conn,
    brand: &str,
    dimension: &str,
    from: i64,
    to: i64,
    slot_ms: i64,
) -> Result<Vec<(i64, String, i64)>, StoreError> {
    conn.query(
        "SELECT (hour - $3) / $5 AS slot, value, CAST(SUM(count) AS BIGINT) FROM rollups \
         WHERE brand = $1 AND dimension = $2 AND hour >= $3 AND hour < $4 GROUP BY slot, value ORDER BY slot, value",
        &[brand.into(), dimension.into(), from.into(), to.into(), slot_ms.into()],
    )?
    .iter()
    .map(|r| Ok((r.int(0)?, r.text(1)?, r.int(2)?)))
    .collect()
}
