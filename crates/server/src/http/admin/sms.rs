//! Delivery by SMS provider and destination country, delivery latency, and both over time (per
//! hour, day or week, for one provider or all). Read from the counters.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::dashboard::{Every, Loaded, OverviewQuery, Scoped, csv_response, percent, slots_of, trend_chart};
use super::market::slot_label;
use super::{orders, page};
use crate::analytics;
use crate::analytics::drill::Figure;
use crate::analytics::market::Grain;
use crate::app::App;
use crate::http::error::PageError;
use crate::service::dashboards::{self, Counters, get};

struct RouteRow {
    provider: String,
    country: String,
    submitted: i64,
    delivered: i64,
    failed: i64,
    rate: String,
    width: i64,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProviderQuery {
    /// Only this SMS provider's figures over time.
    provider: Option<String>,
}

/// The counters the trends read.
const TREND_DIMENSIONS: &[&str] = &["sms_submitted", "sms_delivered", "sms_failed", "sms_delivery_latency"];

/// A dimension's counters of `provider` (or every provider) in one slot; latency classes by `class`.
fn of_provider(c: &Counters, dimension: &str, provider: &str, class: &dyn Fn(&str) -> bool) -> i64 {
    c.iter()
        .filter(|((d, _), _)| d == dimension)
        .filter_map(|((_, value), n)| {
            let (named, rest) = value.split_once('|').unwrap_or((value.as_str(), ""));
            ((provider.is_empty() || named == provider) && class(rest)).then_some(*n)
        })
        .sum()
}

/// SMS over time: handed over, the delivery rate (delivered of those with a final report) and the
/// share delivered within 5 s.
struct SmsTrends {
    every: &'static str,
    charts: Vec<String>,
    /// Slot, handed over, delivery rate, within 5 s.
    rows: Vec<(String, i64, String, String)>,
}

fn sms_trends(
    brand: &str,
    grain: Grain,
    (starts, to): (&[i64], i64),
    (now, before): (&[Counters], &[Counters]),
    provider: &str,
) -> SmsTrends {
    let labels: Vec<String> = starts.iter().map(|s| slot_label(grain, *s)).collect();
    let any = |_: &str| true;
    let fast = |class: &str| analytics::LATENCY_BUCKETS.iter().take(2).any(|(name, _)| *name == class);
    let handed = |c: &Counters| of_provider(c, "sms_submitted", provider, &any);
    let rate = |c: &Counters| {
        let (delivered, failed) =
            (of_provider(c, "sms_delivered", provider, &any), of_provider(c, "sms_failed", provider, &any));
        (delivered + failed > 0).then(|| delivered as f64 * 100.0 / (delivered + failed) as f64)
    };
    let within = |c: &Counters| {
        let all = of_provider(c, "sms_delivery_latency", provider, &any);
        (all > 0).then(|| of_provider(c, "sms_delivery_latency", provider, &fast) as f64 * 100.0 / all as f64)
    };
    let only = match serde_urlencoded::to_string([("provider", provider)]) {
        Ok(query) if !provider.is_empty() => format!("&{query}"),
        _ => String::new(),
    };
    let failed_links = orders::slot_links(brand, Figure::SmsFailed, (starts, to), &only);
    let series = |f: &dyn Fn(&Counters) -> Option<f64>| (now.iter().map(f).collect(), before.iter().map(f).collect());
    let charts = vec![
        trend_chart(
            "sms-handed",
            "SMS handed over".into(),
            "SMS",
            &labels,
            series(&|c| Some(handed(c) as f64)),
            Vec::new(),
        ),
        trend_chart("sms-delivery-rate", "Delivery rate".into(), "% delivered", &labels, series(&rate), failed_links),
        trend_chart(
            "sms-within-5s",
            "Delivered within 5 s of the hand-off".into(),
            "% of delivery reports",
            &labels,
            series(&within),
            Vec::new(),
        ),
    ];
    let rows = labels
        .into_iter()
        .zip(now)
        .map(|(label, c)| (label, handed(c), percent(rate(c)), percent(within(c))))
        .collect();
    SmsTrends { every: grain.as_str(), charts, rows }
}

#[derive(Template)]
#[template(path = "admin_sms.html")]
struct SmsPage {
    brand: String,
    brand_name: String,
    days: i64,
    trends: SmsTrends,
    /// The providers of the period, and the one the trends show (empty: all).
    providers: Vec<String>,
    provider: String,
    routes: Vec<RouteRow>,
    buckets: Vec<&'static str>,
    /// Provider and its count per latency class.
    latency: Vec<(String, Vec<i64>)>,
}

/// Rows per `provider|country`: handed over, delivered, failed, and the delivery rate (delivered
/// of those with a final report).
fn routes(counters: &Counters) -> Vec<RouteRow> {
    let mut keys: Vec<&String> = counters
        .keys()
        .filter(|(d, _)| matches!(d.as_str(), "sms_submitted_route" | "sms_delivered_route" | "sms_failed_route"))
        .map(|(_, v)| v)
        .collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let (provider, country) = key.split_once('|').unwrap_or((key.as_str(), "ZZ"));
            let (delivered, failed) =
                (get(counters, "sms_delivered_route", key), get(counters, "sms_failed_route", key));
            let rate = (delivered + failed > 0).then(|| delivered as f64 * 100.0 / (delivered + failed) as f64);
            RouteRow {
                provider: provider.to_owned(),
                country: country.to_owned(),
                submitted: get(counters, "sms_submitted_route", key),
                delivered,
                failed,
                rate: percent(rate),
                width: (rate.unwrap_or(0.0) * 3.3).round() as i64,
            }
        })
        .collect()
}

#[utoipa::path(
    get, path = "/admin/sms", tag = "admin", params(OverviewQuery, Every, ProviderQuery),
    responses(
        (status = 200, description = "Delivery rate by provider and country, delivery latency, and both over time", content_type = "text/html"),
        (status = 400, description = "A period or `every` out of range", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn sms(
    State(app): State<Arc<App>>,
    Scoped(loaded): Scoped,
    Query(every): Query<Every>,
    Query(only): Query<ProviderQuery>,
) -> Result<Response, PageError> {
    let grain = every.hours_to_weeks(loaded.days)?;
    let (hourly, starts) = slots_of(grain, &loaded);
    let (now, before) =
        dashboards::per_slot(&app, &loaded.brand, TREND_DIMENSIONS, (hourly, starts.clone()), loaded.to).await?;
    let provider = only.provider.unwrap_or_default().trim().to_owned();
    let trends = sms_trends(&loaded.brand, grain, (&starts, loaded.to), (&now, &before), &provider);
    let Loaded { brand, brand_name, days, current, .. } = loaded;
    let buckets: Vec<&'static str> = analytics::LATENCY_BUCKETS.iter().map(|(name, _)| *name).collect();
    let mut providers: Vec<&str> = current
        .keys()
        .filter(|(d, _)| d == "sms_delivery_latency")
        .filter_map(|(_, v)| v.split_once('|').map(|(p, _)| p))
        .collect();
    providers.sort_unstable();
    providers.dedup();
    let mut handed_over: Vec<String> =
        current.keys().filter(|(d, _)| d == "sms_submitted").map(|(_, p)| p.clone()).collect();
    handed_over.sort_unstable();
    let latency = providers
        .into_iter()
        .map(|p| {
            let counts = buckets.iter().map(|b| get(&current, "sms_delivery_latency", &format!("{p}|{b}"))).collect();
            (p.to_owned(), counts)
        })
        .collect();
    let page_data = SmsPage {
        brand,
        brand_name,
        days,
        trends,
        providers: handed_over,
        provider,
        routes: routes(&current),
        buckets,
        latency,
    };
    page(StatusCode::OK, page_data.render(), Vec::new())
}

#[utoipa::path(
    get, path = "/admin/sms.csv", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "Delivery by provider and country as CSV", content_type = "text/csv"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn sms_csv(Scoped(Loaded { brand, days, current, .. }): Scoped) -> Result<Response, PageError> {
    let mut csv = String::from("provider,country,handed_over,delivered,failed\r\n");
    for r in routes(&current) {
        csv.push_str(&format!("{},{},{},{},{}\r\n", r.provider, r.country, r.submitted, r.delivered, r.failed));
    }
    Ok(csv_response(csv, &format!("{brand}-sms-{days}d.csv")))
}
