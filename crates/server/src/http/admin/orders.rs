//! The orders behind a dashboard figure: from a chart point or a table row to the orders it
//! counts, filtered by country, decision, risk reason and SMS provider, each linked to its trace
//! (where numbers are masked by role and every view is audited).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::live_line::{self, Line};
use super::{AdminUser, page, visible_brand};
use crate::analytics::DAY_MS;
use crate::analytics::drill::Figure;
use crate::app::App;
use crate::http::error::PageError;
use crate::service::dashboards::{self, Behind};

/// Where the orders behind `figure` in `[from, to)` are listed (whole UTC days covering it).
pub fn link(brand: &str, figure: Figure, from: i64, to: i64) -> String {
    let first = crate::analytics::day_of(from);
    let days = ((to - first + DAY_MS - 1) / DAY_MS).clamp(1, MAX_DAYS);
    format!("/admin/orders?brand={brand}&figure={}&from={}&days={days}", figure.as_str(), crate::clock::day(first))
}

/// The orders behind `figure` at each point of a trend (`starts`, the last one ending at `to`),
/// each narrowed by `filter` (`&country=DE`, or empty).
pub fn slot_links(brand: &str, figure: Figure, (starts, to): (&[i64], i64), filter: &str) -> Vec<String> {
    let ends = starts.iter().skip(1).copied().chain([to]);
    starts.iter().zip(ends).map(|(from, end)| link(brand, figure, *from, end) + filter).collect()
}

/// The longest span listed at once.
const MAX_DAYS: i64 = 31;

/// Orders listed at most.
const SHOWN: usize = 200;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    /// The brand's slug.
    brand: String,
    /// The figure: `started`, `approved`, `failed`, `expired`, `blocked`, `held`,
    /// `blocked_or_held`, `stopped`, `confirmed_fraud`, `losses`, `sim_swaps`, `device_swaps`,
    /// `lockouts`, `pumping_blocks`, `sms_failed`.
    figure: String,
    /// The first day (UTC), `YYYY-MM-DD`.
    from: String,
    /// How many days from it (1–31, default 1).
    days: Option<i64>,
    /// Only orders whose number is of this country (ISO 3166, e.g. `DE`).
    country: Option<String>,
    /// Only orders the risk rules decided so: `allow`, `review` or `deny`.
    decision: Option<String>,
    /// Only orders with this risk reason (a reason code).
    reason: Option<String>,
    /// Only events of this SMS provider (the SMS figures).
    provider: Option<String>,
}

/// One order as the list shows it.
struct OrderRow {
    order_id: String,
    at: String,
    line: Line,
    amount: String,
    country: String,
    decision: String,
    reasons: Vec<String>,
    provider: String,
}

impl OrderRow {
    fn of(behind: Behind) -> Self {
        let Behind { event, facts } = behind;
        let line = live_line::line(event.kind, &event.attrs);
        let provider = event.attrs.get("provider").and_then(|p| p.as_str()).unwrap_or_default().to_owned();
        let at = crate::clock::rfc3339(event.at);
        let (amount, country, decision, reasons) = match facts {
            Some(f) => (
                format!("{} {}", f.amount.to_decimal(), f.amount.currency.code()),
                f.country.or_else(|| line.country.clone()).unwrap_or_default(),
                f.decision.as_str().to_owned(),
                f.reasons.iter().map(|r| r.as_str().to_owned()).collect(),
            ),
            None => (String::new(), line.country.clone().unwrap_or_default(), String::new(), Vec::new()),
        };
        Self {
            order_id: event.order_id.unwrap_or_default(),
            at: at.get(..19).unwrap_or(&at).replace('T', " "),
            line,
            amount,
            country,
            decision,
            reasons,
            provider,
        }
    }
}

/// The page's filters, each empty for "all".
struct Filters {
    country: String,
    decision: String,
    reason: String,
    provider: String,
}

impl Filters {
    fn of(query: &OrdersQuery) -> Self {
        let take = |value: &Option<String>| value.as_deref().unwrap_or_default().trim().to_owned();
        Self {
            country: take(&query.country).to_uppercase(),
            decision: take(&query.decision),
            reason: take(&query.reason),
            provider: take(&query.provider),
        }
    }

    fn admit(&self, row: &OrderRow) -> bool {
        (self.country.is_empty() || row.country == self.country)
            && (self.decision.is_empty() || row.decision == self.decision)
            && (self.reason.is_empty() || row.reasons.contains(&self.reason))
            && (self.provider.is_empty() || row.provider == self.provider)
    }
}

/// The values of one field among the rows, for a filter's choices.
fn choices(rows: &[OrderRow], field: impl Fn(&OrderRow) -> Vec<String>) -> Vec<String> {
    let mut values: Vec<String> = rows.iter().flat_map(field).filter(|v| !v.is_empty()).collect();
    values.sort();
    values.dedup();
    values
}

#[derive(Template)]
#[template(path = "admin_orders.html")]
struct OrdersPage {
    brand: String,
    brand_name: String,
    /// The dashboards' period in the navigation.
    days: i64,
    figure: &'static str,
    figure_label: &'static str,
    from: String,
    span_days: i64,
    /// The last day of the span.
    until: String,
    filters: Filters,
    countries: Vec<String>,
    decisions: Vec<String>,
    reasons: Vec<String>,
    providers: Vec<String>,
    /// Orders that match, and those shown of them.
    matching: usize,
    /// More events were there than were read: the count is of the latest ones.
    truncated: bool,
    rows: Vec<OrderRow>,
}

#[utoipa::path(
    get, path = "/admin/orders", tag = "admin", params(OrdersQuery),
    responses(
        (status = 200, description = "The orders behind a dashboard figure, each linked to its trace", content_type = "text/html"),
        (status = 400, description = "An unknown figure, or a day or span out of range", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn orders(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<OrdersQuery>,
) -> Result<Response, PageError> {
    let brand = visible_brand(&app, &user, &query.brand)?;
    let figure = Figure::parse(&query.figure).ok_or_else(|| {
        let known: Vec<&str> = Figure::ALL.iter().map(|f| f.as_str()).collect();
        PageError::bad_request(format!("`figure` must be one of {}.", known.join(", ")))
    })?;
    let from = crate::clock::parse_day(&query.from)
        .ok_or_else(|| PageError::bad_request("`from` must be a day like 2026-11-30."))?;
    let span_days = query.days.unwrap_or(1);
    // A longer span would read too much of the event log for one page.
    if !(1..=MAX_DAYS).contains(&span_days) {
        return Err(PageError::bad_request("`days` must be 1 to 31."));
    }
    let to = from + span_days * DAY_MS;
    let behind = dashboards::orders_behind(&app, brand.slug.as_str(), figure, from, to).await?;
    let truncated = behind.truncated;
    let all: Vec<OrderRow> = behind.orders.into_iter().map(OrderRow::of).collect();
    let filters = Filters::of(&query);
    let countries = choices(&all, |r| vec![r.country.clone()]);
    let decisions = choices(&all, |r| vec![r.decision.clone()]);
    let reasons = choices(&all, |r| r.reasons.clone());
    let providers = choices(&all, |r| vec![r.provider.clone()]);
    let matching: Vec<OrderRow> = all.into_iter().filter(|r| filters.admit(r)).collect();
    let html = OrdersPage {
        brand: brand.slug.to_string(),
        brand_name: brand.name.clone(),
        days: span_days.clamp(1, 365),
        figure: figure.as_str(),
        figure_label: figure.label(),
        from: crate::clock::day(from),
        span_days,
        until: crate::clock::day(to - DAY_MS),
        filters,
        countries,
        decisions,
        reasons,
        providers,
        matching: matching.len(),
        truncated,
        rows: matching.into_iter().take(SHOWN).collect(),
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}
