//! Delivery by SMS provider and destination country, and delivery latency. Read from the counters.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::dashboard::{Loaded, OverviewQuery, Scoped, csv_response, percent};
use super::page;
use crate::analytics;
use crate::http::error::PageError;
use crate::service::dashboards::{Counters, get};

struct RouteRow {
    provider: String,
    country: String,
    submitted: i64,
    delivered: i64,
    failed: i64,
    rate: String,
    width: i64,
}

#[derive(Template)]
#[template(path = "admin_sms.html")]
struct SmsPage {
    brand: String,
    brand_name: String,
    days: i64,
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
    get, path = "/admin/sms", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "Delivery rate by provider and country, and delivery latency", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn sms(Scoped(Loaded { brand, brand_name, days, current, .. }): Scoped) -> Result<Response, PageError> {
    let buckets: Vec<&'static str> = analytics::LATENCY_BUCKETS.iter().map(|(name, _)| *name).collect();
    let mut providers: Vec<&str> = current
        .keys()
        .filter(|(d, _)| d == "sms_delivery_latency")
        .filter_map(|(_, v)| v.split_once('|').map(|(p, _)| p))
        .collect();
    providers.sort_unstable();
    providers.dedup();
    let latency = providers
        .into_iter()
        .map(|p| {
            let counts = buckets.iter().map(|b| get(&current, "sms_delivery_latency", &format!("{p}|{b}"))).collect();
            (p.to_owned(), counts)
        })
        .collect();
    let page_data = SmsPage { brand, brand_name, days, routes: routes(&current), buckets, latency };
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
