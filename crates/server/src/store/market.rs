//! Published market reference figures.

use super::{Conn, StoreError};
use crate::records::market::{MarketMetric, Reference};

/// Adds or replaces figures (the same period, metric and source is the same figure).
pub fn upsert(conn: &mut dyn Conn, rows: &[Reference]) -> Result<(), StoreError> {
    for r in rows {
        conn.execute(
            "INSERT INTO market_reference (period, metric, value, compare_with, source) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (period, metric, source) DO UPDATE SET value = excluded.value, compare_with = excluded.compare_with",
            &[
                r.period.as_str().into(),
                r.metric.as_str().into(),
                r.value.as_str().into(),
                r.compare_with.map(MarketMetric::as_str).into(),
                r.source.as_str().into(),
            ],
        )?;
    }
    Ok(())
}

pub fn list(conn: &mut dyn Conn) -> Result<Vec<Reference>, StoreError> {
    conn.query(
        "SELECT period, metric, value, compare_with, source FROM market_reference ORDER BY metric, period, source",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(Reference {
            period: r.text("period")?,
            metric: r.text("metric")?,
            value: r.text("value")?,
            compare_with: r.opt_text("compare_with")?.as_deref().and_then(MarketMetric::parse),
            source: r.text("source")?,
        })
    })
    .collect()
}
