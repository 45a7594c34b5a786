//! The event log by calendar month (UTC): on PostgreSQL each month is a partition of `events`
//! (migration 0027), prepared ahead and dropped whole once archived; SQLite keeps one table, from
//! which an archived month is deleted in batches.

use serde::Serialize;

use super::{Backend, Conn, StoreError};

/// Prepares the partition of the month each of `times` falls in (nothing on SQLite).
pub fn prepare(conn: &mut dyn Conn, times: &[i64]) -> Result<(), StoreError> {
    if conn.backend() != Backend::Postgres {
        return Ok(());
    }
    for at in times {
        conn.query("SELECT events_month_partition($1) AS name", &[(*at).into()])?;
    }
    Ok(())
}

/// The largest event id in `[from, to)`.
pub fn last_id_between(conn: &mut dyn Conn, (from, to): (i64, i64)) -> Result<Option<i64>, StoreError> {
    conn.query_one("SELECT MAX(id) AS id FROM events WHERE at >= $1 AND at < $2", &[from.into(), to.into()])?
        .opt_int("id")
}

/// The first day from `from` on with events counted: where months to archive can start. Read
/// from the daily counters (small, by day), since the log has no index by time alone; a month
/// is archived only once counted, so no archivable event is older.
pub fn first_counted_day(conn: &mut dyn Conn, from: i64) -> Result<Option<i64>, StoreError> {
    conn.query_one("SELECT MIN(day) AS day FROM rollups_daily WHERE day >= $1", &[from.into()])?.opt_int("day")
}

/// The id of the last event the dashboards' counters took in.
pub fn counted_up_to(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    conn.query_one("SELECT last_event_id FROM rollup_state WHERE id = 1", &[])?.int("last_event_id")
}

/// An event as the archive keeps it: every column, the type as stored.
#[derive(Debug, Serialize)]
pub struct ArchivedEvent {
    pub id: i64,
    pub brand: String,
    pub verification_id: Option<String>,
    pub order_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub at: i64,
    pub attrs: serde_json::Value,
}

/// Up to `limit` events of `[from, to)` after `after_id`, by id.
pub fn batch(
    conn: &mut dyn Conn,
    (from, to): (i64, i64),
    after_id: i64,
    limit: i64,
) -> Result<Vec<ArchivedEvent>, StoreError> {
    conn.query(
        "SELECT id, brand, verification_id, order_id, type, at, attrs FROM events \
         WHERE at >= $1 AND at < $2 AND id > $3 ORDER BY id LIMIT $4",
        &[from.into(), to.into(), after_id.into(), limit.into()],
    )?
    .iter()
    .map(|r| {
        Ok(ArchivedEvent {
            id: r.int("id")?,
            brand: r.text("brand")?,
            verification_id: r.opt_text("verification_id")?,
            order_id: r.opt_text("order_id")?,
            kind: r.text("type")?,
            at: r.int("at")?,
            // Kept as stored, as a string, should it not be JSON: the archive loses nothing.
            attrs: {
                let text = r.text("attrs")?;
                serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
            },
        })
    })
    .collect()
}

/// Drops the partition of the month starting at `month` (`events_YYYY_MM`, PostgreSQL) when it
/// holds no event after `last_id` (none arrived since the archive was written); false when it
/// was not dropped (SQLite, no such partition, or newer events in it). Waits at most 5 s for the
/// lock on the event log, which inserts then wait for: better to try again next round.
pub fn drop_partition(conn: &mut dyn Conn, month: i64, last_id: i64) -> Result<bool, StoreError> {
    if conn.backend() != Backend::Postgres {
        return Ok(false);
    }
    let name = partition_name(month);
    let exists = conn.query_one("SELECT to_regclass($1) IS NOT NULL AS found", &[name.as_str().into()])?;
    if exists.int("found")? == 0 {
        return Ok(false);
    }
    conn.execute_batch("SET LOCAL lock_timeout = '5s'")?;
    // The name is made of digits only: nothing from outside reaches the statements.
    conn.execute_batch(&format!("LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE"))?;
    let newer = conn.query_one(&format!("SELECT COUNT(*) AS n FROM {name} WHERE id > $1"), &[last_id.into()])?;
    if newer.int("n")? > 0 {
        return Ok(false);
    }
    conn.execute_batch(&format!("DROP TABLE {name}"))?;
    Ok(true)
}

/// Deletes up to `limit` events of `[from, to)` with ids up to `last_id`; how many it deleted.
pub fn delete_archived(
    conn: &mut dyn Conn,
    (from, to): (i64, i64),
    last_id: i64,
    limit: i64,
) -> Result<u64, StoreError> {
    conn.execute(
        "DELETE FROM events WHERE at >= $1 AND at < $2 AND id IN \
         (SELECT id FROM events WHERE at >= $1 AND at < $2 AND id <= $3 LIMIT $4)",
        &[from.into(), to.into(), last_id.into(), limit.into()],
    )
}

/// `events_YYYY_MM`, as migration 0027's `events_month_partition` names the month's partition.
pub fn partition_name(month: i64) -> String {
    let (year, number) = year_month(month);
    format!("events_{year:04}_{number:02}")
}

/// The year and month (1–12, UTC) `at` falls in.
pub fn year_month(at: i64) -> (i32, u8) {
    let date = time::OffsetDateTime::from_unix_timestamp(at.div_euclid(1000)).map(|t| t.date());
    date.map_or((1970, 1), |d| (d.year(), u8::from(d.month())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn partitions_are_named_by_year_and_month_in_utc() {
        // 2026-12-31T23:59:59.999Z and 2027-01-01T00:00:00Z.
        assert_eq!(super::partition_name(1_798_761_599_999), "events_2026_12");
        assert_eq!(super::partition_name(1_798_761_600_000), "events_2027_01");
    }
}
