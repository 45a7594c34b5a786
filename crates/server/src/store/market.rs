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
