//! The overview of a brand: how the verifications started in a period ended, as shares, against
//! the period before; a chart (SVG), the same as a table, and as CSV. Read from the counters.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{AdminUser, internal_error, page};
use crate::App;
use crate::analytics::{self, HOUR_MS, OverviewLine};

#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct OverviewQuery {
    /// The brand's slug.
    brand: String,
    /// The period: the last this many days (1–365, default 7).
    days: Option<i64>,
}

struct Line {
    metric: &'static str,
    count: i64,
    rate: String,
    previous: String,
    change: String,
}

struct Bar {
    label: &'static str,
    y: usize,
    width: i64,
    previous_width: i64,
}

#[derive(Template)]
#[template(path = "admin_overview.html")]
struct OverviewPage {
    brand: String,
    brand_name: String,
    days: i64,
    lines: Vec<Line>,
    bars: Vec<Bar>,
    chart_height: usize,
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{r:.1} %"))
}

/// The overview lines for the last `days` days and the same span before.
async fn lines(app: &App, brand: &str, days: i64) -> Result<Vec<OverviewLine>, crate::store::StoreError> {
    let now = analytics::hour_of(crate::clock::now().millis()) + HOUR_MS;
    let span = days * 24 * HOUR_MS;
    let brand = brand.to_owned();
    let (current, previous) = app
        .store
        .read(move |conn| -> Result<_, crate::store::StoreError> {
            Ok((
                crate::store::rollups::totals(conn, &brand, now - span, now)?,
                crate::store::rollups::totals(conn, &brand, now - 2 * span, now - span)?,
            ))
        })
        .await?;
    let events = |totals: Vec<(String, String, i64)>| -> HashMap<String, i64> {
        totals.into_iter().filter(|(d, _, _)| d == "event").map(|(_, v, c)| (v, c)).collect()
    };
    let (current, previous) = (events(current), events(previous));
    Ok(analytics::overview(&|e| current.get(e).copied().unwrap_or(0), &|e| previous.get(e).copied().unwrap_or(0)))
}

/// Why a brand and period cannot be shown.
enum Refusal {
    NoSuchBrand,
    BadPeriod,
}

impl Refusal {
    fn page(self) -> Response {
        match self {
            Self::NoSuchBrand => {
                super::super::pages::error_page(StatusCode::NOT_FOUND, "There is no such brand for you.")
            }
            Self::BadPeriod => {
                super::super::pages::error_page(StatusCode::BAD_REQUEST, "The period must be 1 to 365 days.")
            }
        }
    }
}

/// The brand and period asked for, if the user may see the brand.
fn scope(user: &super::SignedIn, app: &App, query: &OverviewQuery) -> Result<(String, String, i64), Refusal> {
    let brand =
        app.brands.get(&query.brand).filter(|_| user.access.sees_brand(&query.brand)).ok_or(Refusal::NoSuchBrand)?;
    let days = query.days.unwrap_or(7);
    if !(1..=365).contains(&days) {
        return Err(Refusal::BadPeriod);
    }
    Ok((brand.slug.to_string(), brand.name.clone(), days))
}

#[utoipa::path(
    get, path = "/admin/overview", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "Outcomes of the period's verifications against the period before", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn overview(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<OverviewQuery>,
) -> Response {
    let (brand, brand_name, days) = match scope(&user, &app, &query) {
        Ok(scope) => scope,
        Err(refusal) => return refusal.page(),
    };
    let computed = match lines(&app, &brand, days).await {
        Ok(lines) => lines,
        Err(e) => return internal_error(&e),
    };
    let width = |rate: Option<f64>| (rate.unwrap_or(0.0) * 3.0).round() as i64;
    let bars = computed
        .iter()
        .skip(1)
        .enumerate()
        .map(|(i, l)| Bar { label: l.metric, y: i * 22, width: width(l.rate), previous_width: width(l.previous_rate) })
        .collect::<Vec<_>>();
    let chart_height = bars.len() * 22;
    let lines = computed
        .into_iter()
        .map(|l| Line {
            metric: l.metric,
            count: l.count,
            rate: percent(l.rate),
            previous: percent(l.previous_rate),
            change: match (l.rate, l.previous_rate) {
                (Some(now), Some(before)) => format!("{:+.1} points", now - before),
                _ => "–".to_owned(),
            },
        })
        .collect();
    let html = OverviewPage { brand, brand_name, days, lines, bars, chart_height }.render();
    page(StatusCode::OK, html, Vec::new())
}

#[utoipa::path(
    get, path = "/admin/overview.csv", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "The overview as CSV", content_type = "text/csv"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn overview_csv(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<OverviewQuery>,
) -> Response {
    let (brand, _, days) = match scope(&user, &app, &query) {
        Ok(scope) => scope,
        Err(refusal) => return refusal.page(),
    };
    let lines = match lines(&app, &brand, days).await {
        Ok(lines) => lines,
        Err(e) => return internal_error(&e),
    };
    let rate = |r: Option<f64>| r.map(|r| format!("{r:.2}")).unwrap_or_default();
    let mut csv = String::from("metric,count,share_of_started_percent,previous_share_percent\r\n");
    for l in lines {
        csv.push_str(&format!("{},{},{},{}\r\n", l.metric, l.count, rate(l.rate), rate(l.previous_rate)));
    }
    let mut response = (StatusCode::OK, csv).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{brand}-overview-{days}d.csv\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}
