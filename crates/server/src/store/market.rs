//! Published market reference figures.

use super::{Conn, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub period: String,
    pub metric: String,
    /// As published, e.g. `2.22`.
    pub value: String,
    pub source: String,
}

/// Adds or replaces figures (the same period, metric and source is the same figure).
pub fn upsert(conn: &mut dyn Conn, rows: &[Reference]) -> Result<(), StoreError> {
    for r in rows {
        conn.execute(
            "INSERT INTO market_reference (period, metric, value, source) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (period, metric, source) DO UPDATE SET value = excluded.value",
            &[r.period.as_str().into(), r.metric.as_str().into(), r.value.as_str().into(), r.source.as_str().into()],
        )?;
    }
    Ok(())
}

pub fn list(conn: &mut dyn Conn) -> Result<Vec<Reference>, StoreError> {
    conn.query("SELECT period, metric, value, source FROM market_reference ORDER BY metric, period, source", &[])?
        .iter()
        .map(|r| Ok(Reference { period: r.text(0)?, metric: r.text(1)?, value: r.text(2)?, source: r.text(3)? }))
        .collect()
}

/// Verifications started and approved per brand in `[from, to)`, from the counters: the market
/// page compares a brand with the others.
pub fn outcomes_by_brand(conn: &mut dyn Conn, from: i64, to: i64) -> Result<Vec<(String, i64, i64)>, StoreError> {
    conn.query(
        "SELECT brand, \
         CAST(SUM(CASE WHEN value = 'verification.created' THEN count ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN value = 'verification.approved' THEN count ELSE 0 END) AS BIGINT) \
         FROM rollups WHERE dimension = 'event' AND hour >= $1 AND hour < $2 GROUP BY brand ORDER BY brand",
        &[from.into(), to.into()],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.int(1)?, r.int(2)?)))
    .collect()
}
