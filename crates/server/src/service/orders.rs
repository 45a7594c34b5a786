use std::sync::Arc;

use orderguard_domain::FieldError;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::event::EventKind;
use orderguard_domain::money::{Currency, Money};
use orderguard_domain::order::OrderOutcome;
use serde_json::json;

use super::ServiceError;
use crate::app::App;
use crate::records::NewEvent;
use crate::records::order::Outcome;
use crate::store::{events, orders, verifications};

pub struct OutcomeReport {
    pub order_id: String,
    pub outcome: OrderOutcome,
    pub amount_lost: Option<String>,
    pub currency: Option<String>,
}

pub struct RecordedOutcome {
    pub amount_lost: Option<Money>,
    pub verifications: u32,
}

/// Records what finally became of an order: the label fraud trends are computed from.
pub async fn report_outcome(
    app: &Arc<App>,
    brand: &str,
    report: OutcomeReport,
    now: Timestamp,
) -> Result<RecordedOutcome, ServiceError> {
    if report.order_id.is_empty() || report.order_id.len() > 128 {
        return Err(FieldError::new("order_id", "must be 1 to 128 characters").into());
    }
    let (brand_slug, outcome) = (brand, report.outcome);
    let brand = brand.to_owned();
    let recorded = app
        .store
        .write(move |conn| -> Result<RecordedOutcome, ServiceError> {
            let known_currency = orders::order_currency(conn, &brand, &report.order_id)?;
            // A currency the report names, with or without an amount, must be one in circulation
            // or the order's own (checked when the order was placed, perhaps since withdrawn).
            if let Some(code) = &report.currency
                && known_currency.as_deref() != Some(code.as_str())
            {
                Currency::parse_iso(code)?;
            }
            let amount_lost = match &report.amount_lost {
                None => None,
                Some(amount) => {
                    // The named currency was checked above.
                    let currency = match (&report.currency, known_currency) {
                        (Some(code), _) => Currency::parse(code)?,
                        (None, Some(code)) => Currency::parse(&code)?,
                        (None, None) => {
                            return Err(FieldError::new(
                                "currency",
                                "is needed with amount_lost for an order without verifications",
                            )
                            .into());
                        }
                    };
                    Some(Money::parse(amount, currency).map_err(|e| FieldError::new("amount_lost", e.reason))?)
                }
            };
            let verifications = verifications::count_for_order(conn, &brand, &report.order_id)?;
            // A new report replaces the last one: the counters take the last one back.
            let previous = orders::reported_outcome(conn, &brand, &report.order_id)?;
            let currency = amount_lost.map(|m| m.currency.code().to_owned());
            orders::record_outcome(
                conn,
                &Outcome {
                    brand: &brand,
                    order_id: &report.order_id,
                    outcome: report.outcome,
                    amount_lost_minor: amount_lost.map(|m| m.minor),
                    currency: currency.as_deref(),
                    reported_at: now.millis(),
                },
            )?;
            let attrs = json!({
                "outcome": report.outcome,
                "amount_lost": amount_lost.map(|m| m.minor),
                "currency": currency,
                "verifications": verifications,
                "previous": previous,
            });
            events::append(
                conn,
                &NewEvent::of_order(&brand, &report.order_id, EventKind::OrderOutcomeReported, now, attrs),
            )?;
            Ok(RecordedOutcome { amount_lost, verifications })
        })
        .await?;
    app.metrics.increment("orderguard_order_outcomes_total", &[("brand", brand_slug), ("outcome", outcome.as_str())]);
    if let Some(lost) = recorded.amount_lost {
        let labels = [("brand", brand_slug), ("currency", lost.currency.code())];
        app.metrics.add("orderguard_order_loss_minor_units_total", &labels, u64::try_from(lost.minor).unwrap_or(0));
    }
    Ok(recorded)
}
