use orderguard_domain::order::OrderOutcome;

use super::{Conn, StoreError};
use crate::records::order::{Outcome, ReportedOutcome};

/// The latest reported outcome of an order; earlier reports stay in the event log.
pub fn record_outcome(conn: &mut dyn Conn, o: &Outcome<'_>) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO order_outcomes (brand, order_id, outcome, amount_lost_minor, currency, reported_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (brand, order_id) DO UPDATE SET outcome = excluded.outcome, \
         amount_lost_minor = excluded.amount_lost_minor, currency = excluded.currency, reported_at = excluded.reported_at",
        &[
            o.brand.into(),
            o.order_id.into(),
            o.outcome.as_str().into(),
            o.amount_lost_minor.into(),
            o.currency.into(),
            o.reported_at.into(),
        ],
    )?;
    Ok(())
}

pub fn reported_outcome(
    conn: &mut dyn Conn,
    brand: &str,
    order_id: &str,
) -> Result<Option<ReportedOutcome>, StoreError> {
    conn.query_opt(
        "SELECT outcome, amount_lost_minor, currency FROM order_outcomes WHERE brand = $1 AND order_id = $2",
        &[brand.into(), order_id.into()],
    )?
    .map(|r| {
        Ok(ReportedOutcome {
            outcome: r.parsed("outcome", |o| OrderOutcome::parse(o).ok())?,
            amount_lost: r.opt_int("amount_lost_minor")?,
            currency: r.opt_text("currency")?,
        })
    })
    .transpose()
}

/// The currency of the order's verifications, if it had any.
pub fn order_currency(conn: &mut dyn Conn, brand: &str, order_id: &str) -> Result<Option<String>, StoreError> {
    conn.query_opt(
        "SELECT currency FROM verifications WHERE brand = $1 AND order_id = $2 ORDER BY created_at DESC LIMIT 1",
        &[brand.into(), order_id.into()],
    )?
    .map(|r| r.text("currency"))
    .transpose()
}
