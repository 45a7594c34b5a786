//! The dashboards' counters per brand, hour and dimension, and the same per day, advanced from the
//! event log in batches: incrementally, by the id of the last event counted, never by rescanning.
//! A period is read from the daily counters for its whole days and the hourly ones for the rest.
//! The alert rules' dimensions are also counted per minute, for their rolling windows.

use std::collections::BTreeMap;

use super::{Conn, StoreError};
use orderguard_domain::alert::minute_of;

use crate::analytics;

/// An uncounted event this far beyond the counting horizon is worth a warning.
const STUCK_MS: i64 = 10 * 60_000;

/// Counts the next events (at most `batch`, up to the first one at or after `before`) and moves the cursor past
/// them; gives how many it counted. The cursor moves first, conditionally: a second instance
/// doing the same batch finds it moved and counts nothing, so no event is counted twice.
pub fn advance(conn: &mut dyn Conn, before: i64, batch: i64) -> Result<usize, StoreError> {
    let state = conn.query_one("SELECT last_event_id, counted_from FROM rollup_state WHERE id = 1", &[])?;
    let (cursor, counted_from) = (state.int("last_event_id")?, state.int("counted_from")?);
    // Up to the first event that is too young: the cursor must not pass an event left uncounted.
    // Ids and times first, so that events still too young are not read with their attributes at
    // every tick until they are old enough.
    let next =
        conn.query("SELECT id, at FROM events WHERE id > $1 ORDER BY id LIMIT $2", &[cursor.into(), batch.into()])?;
    let young = next.iter().position(|row| row.int("at").is_ok_and(|at| at >= before)).unwrap_or(next.len());
    if let Some(at) = next.get(young).and_then(|row| row.int("at").ok()).filter(|at| *at > before + STUCK_MS) {
        // An event stamped in the future (a clock moved back, or a skewed instance) holds every
        // later one back until its time comes.
        tracing::warn!(event_at = %crate::clock::rfc3339(at), "the dashboards' counters wait for an event from the future");
    }
    let Some(last_countable) = young.checked_sub(1).and_then(|i| next.get(i)) else { return Ok(0) };
    let rows = conn.query(
        "SELECT id, brand, type, at, attrs FROM events WHERE id > $1 AND id <= $2 ORDER BY id",
        &[cursor.into(), last_countable.int("id")?.into()],
    )?;
    let Some(last) = rows.last() else { return Ok(0) };
    let last_id = last.int("id")?;
    let moved = conn.execute(
        "UPDATE rollup_state SET last_event_id = $1 WHERE id = 1 AND last_event_id = $2",
        &[last_id.into(), cursor.into()],
    )?;
    if moved == 0 {
        return Ok(0);
    }
    let mut hourly: BTreeMap<(String, i64, &'static str, String), i64> = BTreeMap::new();
    let mut minutely: BTreeMap<(String, i64, &'static str, String), i64> = BTreeMap::new();
    for row in &rows {
        let attrs: serde_json::Value = serde_json::from_str(&row.text("attrs")?).unwrap_or_default();
        let (brand, at) = (row.text("brand")?, row.int("at")?);
        if at < counted_from {
            continue;
        }
        for (dimension, value, amount) in analytics::dimensions(&row.text("type")?, &attrs) {
            if analytics::ALERT_DIMENSIONS.contains(&dimension) {
                *minutely.entry((brand.clone(), minute_of(at), dimension, value.clone())).or_default() += amount;
            }
            *hourly.entry((brand.clone(), analytics::hour_of(at), dimension, value)).or_default() += amount;
        }
    }
    let mut daily: BTreeMap<(String, i64, &'static str, String), i64> = BTreeMap::new();
    for ((brand, hour, dimension, value), count) in &hourly {
        *daily.entry((brand.clone(), analytics::day_of(*hour), dimension, value.clone())).or_default() += count;
    }
    for (table, counts) in [(MINUTELY, minutely), (HOURLY, hourly), (DAILY, daily)] {
        let counts: Vec<_> = counts.into_iter().collect();
        // Many counters per statement: one round trip instead of one per counter.
        for chunk in super::bulk_chunks(&counts) {
            let sql = format!(
                "INSERT INTO {name} (brand, {slot}, dimension, value, count) VALUES {rows} \
                 ON CONFLICT (brand, {slot}, dimension, value) DO UPDATE SET count = {name}.count + excluded.count",
                name = table.name,
                slot = table.slot,
                rows = super::values_clause(chunk.len(), 5),
            );
            let params: Vec<super::Value> = chunk
                .iter()
                .flat_map(|((brand, slot, dimension, value), count)| {
                    [brand.as_str().into(), (*slot).into(), (*dimension).into(), value.as_str().into(), (*count).into()]
                })
                .collect();
            conn.execute(&sql, &params)?;
        }
    }
    Ok(rows.len())
}

/// A table of counters and its time column.
#[derive(Clone, Copy)]
struct Table {
    name: &'static str,
    slot: &'static str,
}

const MINUTELY: Table = Table { name: "rollups_minutely", slot: "minute" };
const HOURLY: Table = Table { name: "rollups", slot: "hour" };
const DAILY: Table = Table { name: "rollups_daily", slot: "day" };

/// `[from, to)` (whole hours) as the pieces to read: the whole days from the daily counters, the
/// hours before and after them from the hourly ones.
fn pieces(from: i64, to: i64) -> Vec<(Table, i64, i64)> {
    let (first_day, last_day) = (analytics::day_of(from + analytics::DAY_MS - 1), analytics::day_of(to));
    if first_day >= last_day {
        return vec![(HOURLY, from, to)];
    }
    [(HOURLY, from, first_day), (DAILY, first_day, last_day), (HOURLY, last_day, to)]
        .into_iter()
        .filter(|(_, lo, hi)| lo < hi)
        .collect()
}

/// Forgets the counters from `from` on (all of them from 0): the next `advance` calls count the
/// event log again from `from` on; events before it (of archived months) are passed over.
pub fn reset_from(conn: &mut dyn Conn, from: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM rollups WHERE hour >= $1", &[from.into()])?;
    conn.execute("DELETE FROM rollups_daily WHERE day >= $1", &[from.into()])?;
    conn.execute("DELETE FROM rollups_minutely WHERE minute >= $1", &[from.into()])?;
    conn.execute("UPDATE rollup_state SET last_event_id = 0, counted_from = $1 WHERE id = 1", &[from.into()])?;
    Ok(())
}

/// A brand's counters summed over `[from, to)` (whole hours), by dimension and value.
pub fn totals(conn: &mut dyn Conn, brand: &str, from: i64, to: i64) -> Result<Vec<(String, String, i64)>, StoreError> {
    summed(conn, brand, None, (from, to))
}

/// A brand's counters of one dimension summed over `[from, to)` (whole hours): (value, sum).
pub fn totals_of(
    conn: &mut dyn Conn,
    brand: &str,
    dimension: &str,
    (from, to): (i64, i64),
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(summed(conn, brand, Some(dimension), (from, to))?.into_iter().map(|(_, v, c)| (v, c)).collect())
}

fn summed(
    conn: &mut dyn Conn,
    brand: &str,
    dimension: Option<&str>,
    (from, to): (i64, i64),
) -> Result<Vec<(String, String, i64)>, StoreError> {
    let mut sums: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (table, lo, hi) in pieces(from, to) {
        let sql = format!(
            "SELECT dimension, value, CAST(SUM(count) AS BIGINT) AS total FROM {name} \
             WHERE brand = $1 AND {slot} >= $2 AND {slot} < $3{only} GROUP BY dimension, value",
            name = table.name,
            slot = table.slot,
            only = if dimension.is_some() { " AND dimension = $4" } else { "" },
        );
        let mut params: Vec<super::Value> = vec![brand.into(), lo.into(), hi.into()];
        params.extend(dimension.map(Into::into));
        for r in conn.query(&sql, &params)? {
            *sums.entry((r.text("dimension")?, r.text("value")?)).or_default() += r.int("total")?;
        }
    }
    Ok(sums.into_iter().map(|((d, v), c)| (d, v, c)).collect())
}

/// A brand's daily counters of one dimension per slot: (slot number from 0, value, sum).
pub fn series(
    conn: &mut dyn Conn,
    brand: &str,
    dimension: &str,
    slots: analytics::Slots,
) -> Result<Vec<(i64, String, i64)>, StoreError> {
    conn.query(
        "SELECT (day - $3) / $5 AS slot, value, CAST(SUM(count) AS BIGINT) AS total FROM rollups_daily \
         WHERE brand = $1 AND dimension = $2 AND day >= $3 AND day < $4 GROUP BY slot, value ORDER BY slot, value",
        &[brand.into(), dimension.into(), slots.first.into(), slots.end.into(), slots.ms().into()],
    )?
    .iter()
    .map(|r| Ok((r.int("slot")?, r.text("value")?, r.int("total")?)))
    .collect()
}

/// The daily counters of the market comparison's dimensions over `[from, to)` (whole days from
/// the day `from` falls in), of every brand or of one: (day, brand, dimension, value, sum).
pub fn market_daily(
    conn: &mut dyn Conn,
    brand: Option<&str>,
    from: i64,
    to: i64,
) -> Result<Vec<analytics::market::DailyRow>, StoreError> {
    let (dimensions, events) = (analytics::market::DIMENSIONS, analytics::market::EVENTS);
    let placeholders =
        |first: usize, n: usize| (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    // One brand reads its own rows through the key (brand first); every brand, the days.
    let of_brand = if brand.is_some() { "brand = $3" } else { "$3 = ''" };
    let sql = format!(
        "SELECT day, brand, dimension, value, count FROM rollups_daily \
         WHERE {of_brand} AND day >= $1 AND day < $2 AND dimension IN ({}) \
         AND (dimension <> 'event' OR value IN ({}))",
        placeholders(4, dimensions.len()),
        placeholders(4 + dimensions.len(), events.len()),
    );
    let mut params: Vec<super::Value> = vec![analytics::day_of(from).into(), to.into(), brand.unwrap_or("").into()];
    params.extend(dimensions.iter().chain(events.iter()).map(|d| (*d).into()));
    conn.query(&sql, &params)?
        .iter()
        .map(|r| Ok((r.int("day")?, r.text("brand")?, r.text("dimension")?, r.text("value")?, r.int("count")?)))
        .collect()
}

/// A brand's counters of `dimensions` per hour (`hourly`) or per day over `[from, to)`:
/// (hour or day, dimension, value, sum).
pub fn of_brand_per(
    conn: &mut dyn Conn,
    brand: &str,
    dimensions: &[&str],
    hourly: bool,
    (from, to): (i64, i64),
) -> Result<Vec<(i64, String, String, i64)>, StoreError> {
    let table = if hourly { HOURLY } else { DAILY };
    let listed: Vec<String> = (4..4 + dimensions.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {slot} AS at, dimension, value, count FROM {name} \
         WHERE brand = $1 AND {slot} >= $2 AND {slot} < $3 AND dimension IN ({})",
        listed.join(", "),
        name = table.name,
        slot = table.slot,
    );
    let mut params: Vec<super::Value> = vec![brand.into(), from.into(), to.into()];
    params.extend(dimensions.iter().map(|d| (*d).into()));
    conn.query(&sql, &params)?
        .iter()
        .map(|r| Ok((r.int("at")?, r.text("dimension")?, r.text("value")?, r.int("count")?)))
        .collect()
}

/// Hourly counter rows stored (benchmarks report it).
pub fn count_hourly(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    conn.query_one("SELECT COUNT(*) AS n FROM rollups", &[])?.int("n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::{DAY_MS, HOUR_MS};

    #[test]
    fn a_period_reads_whole_days_daily_and_the_rest_hourly() {
        let spans = |from, to| pieces(from, to).iter().map(|(t, lo, hi)| (t.name, *lo, *hi)).collect::<Vec<_>>();
        let (from, to) = (DAY_MS + 5 * HOUR_MS, 4 * DAY_MS + 3 * HOUR_MS);
        assert_eq!(
            spans(from, to),
            [("rollups", from, 2 * DAY_MS), ("rollups_daily", 2 * DAY_MS, 4 * DAY_MS), ("rollups", 4 * DAY_MS, to)]
        );
        assert_eq!(spans(2 * DAY_MS, 4 * DAY_MS), [("rollups_daily", 2 * DAY_MS, 4 * DAY_MS)]);
        assert_eq!(
            spans(DAY_MS + HOUR_MS, DAY_MS + 9 * HOUR_MS),
            [("rollups", DAY_MS + HOUR_MS, DAY_MS + 9 * HOUR_MS)]
        );
    }
}
