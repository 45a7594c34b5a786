//! A report for management, per brand and calendar month: fraud per 1,000 orders, losses, losses
//! avoided, SIM swaps found, alerts, and the market comparison, each against the month before.
//! Made to be read on paper (and saved as PDF from the browser's print dialog), and as CSV.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::dashboard::csv_response;
use super::fraud::{avoided_of, baseline_of, figures, money_list};
use super::market::{MetricSummary, periods, summarise};
use super::{AdminUser, page, visible_brand};
use crate::analytics::DAY_MS;
use crate::analytics::market::{month_of, next_month};
use crate::analytics::prevented::Avoided;
use crate::app::App;
use crate::http::error::PageError;
use crate::records::alert::{Alert, AlertFilter};
use crate::records::market::MarketMetric;
use crate::service::admin::SignedIn;
use crate::service::alerts::manage;
use crate::service::dashboards::{self, Counters, get};

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// The brand's slug.
    brand: String,
    /// The month, `YYYY-MM` (default: the current month, so far).
    month: Option<String>,
}

/// A calendar month and the one before it.
struct Month {
    /// `YYYY-MM`.
    key: String,
    before: i64,
    start: i64,
    end: i64,
}

impl Month {
    fn of(query: &ReportQuery, now: i64) -> Result<Self, PageError> {
        let start = match query.month.as_deref() {
            None | Some("") => month_of(now),
            Some(month) => crate::clock::parse_day(&format!("{month}-01"))
                .filter(|_| month.len() == 7)
                .ok_or_else(|| PageError::bad_request("`month` must be a month like 2026-11."))?,
        };
        if start > now {
            return Err(PageError::bad_request("That month has not begun yet."));
        }
        let key = crate::clock::day(start).get(..7).unwrap_or_default().to_owned();
        Ok(Self { key, before: month_of(start - 1), start, end: next_month(start) })
    }

    fn key_of(at: i64) -> String {
        crate::clock::day(at).get(..7).unwrap_or_default().to_owned()
    }
}

/// One line of the key figures: this month and the month before.
struct KeyFigure {
    label: &'static str,
    now: String,
    before: String,
}

fn network(counters: &Counters, api: &str) -> i64 {
    get(counters, "network_check", &format!("{api}|swapped"))
}

fn key_figures(
    (now, before): (&Counters, &Counters),
    (avoided_now, avoided_before): (&Avoided, &Avoided),
    (alerts_now, alerts_before): (usize, usize),
) -> Vec<KeyFigure> {
    let (f_now, f_before) = (figures(now), figures(before));
    let approved = |c: &Counters| {
        let (started, approved) = (get(c, "event", "verification.created"), get(c, "event", "verification.approved"));
        let share = (started > 0).then(|| approved as f64 * 100.0 / started as f64);
        format!("{approved} ({})", share.map_or_else(|| "–".to_owned(), |s| format!("{s:.1} %")))
    };
    let devices = |a: &Avoided| a.fraud_orders.map_or_else(|| "–".to_owned(), |n| format!("{n:.1}"));
    let losses = |a: &Avoided| a.losses.as_deref().map_or_else(|| "–".to_owned(), money_list);
    let line = |label, now: String, before: String| KeyFigure { label, now, before };
    vec![
        line(
            "Verifications started",
            get(now, "event", "verification.created").to_string(),
            get(before, "event", "verification.created").to_string(),
        ),
        line("Approved", approved(now), approved(before)),
        line("Orders with a reported outcome", f_now.orders.to_string(), f_before.orders.to_string()),
        line("Confirmed fraud", f_now.fraud.to_string(), f_before.fraud.to_string()),
        line("Confirmed fraud per 1,000 orders", f_now.per_thousand.clone(), f_before.per_thousand.clone()),
        line("Losses reported", f_now.losses.clone(), f_before.losses.clone()),
        line("Orders stopped", avoided_now.stopped_total.to_string(), avoided_before.stopped_total.to_string()),
        line("Value of the orders stopped", money_list(&avoided_now.value), money_list(&avoided_before.value)),
        line("Losses avoided (estimate)", losses(avoided_now), losses(avoided_before)),
        line("Fraudulent orders avoided (devices not shipped)", devices(avoided_now), devices(avoided_before)),
        line("SIM swaps detected", network(now, "sim_swap").to_string(), network(before, "sim_swap").to_string()),
        line(
            "Device swaps detected",
            network(now, "device_swap").to_string(),
            network(before, "device_swap").to_string(),
        ),
        line("Alerts raised", alerts_now.to_string(), alerts_before.to_string()),
    ]
}

/// An alert raised in the month, as the report lists it.
struct AlertLine {
    id: i64,
    raised: String,
    title: &'static str,
    key: String,
    severity: &'static str,
    status: &'static str,
}

/// Everything the report shows.
struct Report {
    month: Month,
    figures: Vec<KeyFigure>,
    market: Vec<MetricSummary>,
    alerts: Vec<AlertLine>,
    currency: String,
    /// The date 2FA was switched on and the fraud share before it, for the method note.
    baseline: String,
}

async fn report(app: &App, user: &SignedIn, brand: &str, month: Month) -> Result<Report, PageError> {
    let since = app.brands.get(brand).and_then(|b| b.two_factor_since);
    let now = dashboards::counters(app, brand, month.start, month.end).await?;
    let before = dashboards::counters(app, brand, month.before, month.start).await?;
    let days = (month.end - month.start) / DAY_MS;
    let read = dashboards::fraud(app, brand, (month.start, month.end), days, since).await?;
    let baseline = read.baseline.as_ref().map(baseline_of);
    let (avoided_now, avoided_before) = (avoided_of(&now, baseline), avoided_of(&before, baseline));
    let filter = AlertFilter { from: month.start, to: month.end, status: None, rule: None, severity: None };
    let raised = manage::list(&app.store, &user.actor(), brand, filter).await?;
    let in_month = |a: &&Alert| a.raised_at >= month.start && a.raised_at < month.end;
    // Counted from the event log (the list is bounded, and also holds older alerts still open).
    let raised_in = |counters: &Counters| usize::try_from(get(counters, "event", "alert.raised")).unwrap_or(0);
    let alerts: Vec<AlertLine> = raised
        .iter()
        .filter(in_month)
        .map(|a| AlertLine {
            id: a.id,
            raised: crate::clock::rfc3339(a.raised_at).get(..16).unwrap_or_default().replace('T', " "),
            title: a.rule.title(),
            key: a.key.clone(),
            severity: a.severity.as_str(),
            status: a.status.as_str(),
        })
        .collect();
    let currency = app.settings.market.exchange_rates.base().code().to_owned();
    let read_market = dashboards::market(app, brand, (month.before, month.end), false).await?;
    let tallies = periods(app, brand, (month.before, month.start), &read_market);
    let market = MarketMetric::ALL.iter().map(|m| summarise(&tallies, *m, &currency)).collect();
    let baseline = match (since, baseline.and_then(|b| b.share().map(|s| (b, s)))) {
        (Some(since), Some((b, share))) => format!(
            "{} of the {} orders reported in the 90 days before 2FA was switched on ({}) were fraud: {:.2} %",
            b.fraud,
            b.orders,
            crate::clock::day(since),
            share * 100.0
        ),
        (Some(since), None) => {
            format!("too few orders were reported before 2FA was switched on ({})", crate::clock::day(since))
        }
        (None, _) => "the brand has no date for the switch to 2FA (`two_factor_since`)".to_owned(),
    };
    Ok(Report {
        figures: key_figures((&now, &before), (&avoided_now, &avoided_before), (raised_in(&now), raised_in(&before))),
        market,
        alerts,
        currency,
        baseline,
        month,
    })
}

#[derive(Template)]
#[template(path = "admin_report.html")]
struct ReportPage {
    brand: String,
    brand_name: String,
    /// The dashboards' period in the navigation.
    days: i64,
    month: String,
    /// The month has not ended yet.
    so_far: bool,
    /// The month before and the one after (none after the current month), for links.
    previous_month: String,
    next_month: Option<String>,
    generated: String,
    report: Report,
}

#[utoipa::path(
    get, path = "/admin/report", tag = "admin", params(ReportQuery),
    responses(
        (status = 200, description = "The brand's month for management: fraud, losses, losses avoided, the market, SIM swaps and alerts; printable", content_type = "text/html"),
        (status = 400, description = "A month that is not YYYY-MM or has not begun", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn report_page(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<ReportQuery>,
) -> Result<Response, PageError> {
    let brand = visible_brand(&app, &user, &query.brand)?;
    let now = app.clock.now().millis();
    let month = Month::of(&query, now)?;
    let previous_month = Month::key_of(month.before);
    let next_month = Some(month.end).filter(|end| *end <= now).map(Month::key_of);
    let so_far = month.end > now;
    let report = report(&app, &user, brand.slug.as_str(), month).await?;
    let html = ReportPage {
        brand: brand.slug.to_string(),
        brand_name: brand.name.clone(),
        days: 30,
        month: report.month.key.clone(),
        so_far,
        previous_month,
        next_month,
        generated: crate::clock::rfc3339(now).get(..16).unwrap_or_default().replace('T', " "),
        report,
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

#[utoipa::path(
    get, path = "/admin/report.csv", tag = "admin", params(ReportQuery),
    responses(
        (status = 200, description = "The month's report as CSV", content_type = "text/csv"),
        (status = 400, description = "A month that is not YYYY-MM or has not begun", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn report_csv(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<ReportQuery>,
) -> Result<Response, PageError> {
    let brand = visible_brand(&app, &user, &query.brand)?;
    let month = Month::of(&query, app.clock.now().millis())?;
    let key = month.key.clone();
    let report = report(&app, &user, brand.slug.as_str(), month).await?;
    let field = |value: &str| {
        if value.contains([',', '"']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value.to_owned() }
    };
    let mut csv = String::from("section,figure,unit,this_month,month_before,other_brands\r\n");
    for f in &report.figures {
        csv.push_str(&format!("key figures,{},,{},{},\r\n", field(f.label), field(&f.now), field(&f.before)));
    }
    for m in &report.market {
        let unit = field(&m.unit);
        csv.push_str(&format!("market,{},{unit},{},,{}\r\n", m.slug, field(&m.own), field(&m.others)));
    }
    for a in &report.alerts {
        let alert = field(&format!("#{} {} {}", a.id, a.title, a.key));
        csv.push_str(&format!("alerts,{},{},{},,\r\n", alert.trim_end(), a.severity, a.raised));
    }
    Ok(csv_response(csv, &format!("{}-report-{key}.csv", brand.slug)))
}
