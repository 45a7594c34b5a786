//! A brand's overview (how the period's verifications ended, against the period before) and
//! funnel with the attempts distribution: charts (SVG), the same as tables, and as CSV. Read from
//! the counters.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, Query, State};
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
    /// Median time from the code's SMS to the approval, this period and the one before.
    median: String,
    previous_median: String,
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{r:.1} %"))
}

pub(super) type Counters = HashMap<(String, String), i64>;

/// The last `days` days, in whole hours up to the current one.
pub(super) fn period_bounds(days: i64) -> (i64, i64) {
    let to = analytics::hour_of(crate::clock::now().millis()) + HOUR_MS;
    (to - days * 24 * HOUR_MS, to)
}

/// A brand's counters over `[from, to)`.
async fn counters(app: &App, brand: &str, from: i64, to: i64) -> Result<Counters, crate::store::StoreError> {
    let brand = brand.to_owned();
    Ok(keyed(app.store.read(move |conn| crate::store::rollups::totals(conn, &brand, from, to)).await?))
}

/// The counters of the span just before the loaded period, for the overview's comparison.
async fn previous(app: &App, loaded: &Loaded) -> Result<Counters, crate::store::StoreError> {
    let (from, to) = (loaded.from, loaded.to);
    counters(app, &loaded.brand, from - (to - from), from).await
}

/// Counters as read from the store, by (dimension, value).
pub(super) fn keyed(totals: Vec<(String, String, i64)>) -> Counters {
    totals.into_iter().map(|(d, v, c)| ((d, v), c)).collect()
}

pub(super) fn get(counters: &Counters, dimension: &str, value: &str) -> i64 {
    counters.get(&(dimension.to_owned(), value.to_owned())).copied().unwrap_or(0)
}

/// Median seconds from the code's SMS to the approval.
fn median_seconds(counters: &Counters) -> Option<i64> {
    let distribution: Vec<(i64, i64)> = counters
        .iter()
        .filter(|((d, _), _)| d == "seconds_to_approve")
        .filter_map(|((_, seconds), n)| Some((seconds.parse().ok()?, *n)))
        .collect();
    analytics::median(&distribution)
}

fn seconds(median: Option<i64>) -> String {
    median.map_or_else(|| "–".to_owned(), |s| format!("{s} s"))
}

fn overview_lines(loaded: &Loaded, previous: &Counters) -> Vec<OverviewLine> {
    analytics::overview(&|e| get(&loaded.current, "event", e), &|e| get(previous, "event", e))
}

/// Why a brand and period cannot be shown.
enum Refusal {
    NoSuchBrand,
    BadPeriod,
    Failed(crate::store::StoreError),
}

impl Refusal {
    fn page(self) -> Response {
        match self {
            Self::NoSuchBrand => super::no_such_brand(),
            Self::BadPeriod => {
                super::super::pages::error_page(StatusCode::BAD_REQUEST, "The period must be 1 to 365 days.")
            }
            Self::Failed(e) => internal_error(&e),
        }
    }
}

/// The brand and period asked for, if the user may see the brand.
fn scope(user: &super::SignedIn, app: &App, query: &OverviewQuery) -> Result<(String, String, i64), Refusal> {
    let brand = super::visible_brand(app, user, &query.brand).ok_or(Refusal::NoSuchBrand)?;
    let days = query.days.unwrap_or(7);
    if !(1..=365).contains(&days) {
        return Err(Refusal::BadPeriod);
    }
    Ok((brand.slug.to_string(), brand.name.clone(), days))
}

/// What every page here starts from: the brand and period, and the period's counters.
pub(super) struct Loaded {
    pub brand: String,
    pub brand_name: String,
    pub days: i64,
    /// The period `[from, to)` in whole hours, fixed once per request (`period_bounds`).
    pub from: i64,
    pub to: i64,
    pub current: Counters,
}

async fn load(app: &App, user: &super::SignedIn, query: &OverviewQuery) -> Result<Loaded, Refusal> {
    let (brand, brand_name, days) = scope(user, app, query)?;
    let (from, to) = period_bounds(days);
    let current = counters(app, &brand, from, to).await.map_err(Refusal::Failed)?;
    Ok(Loaded { brand, brand_name, days, from, to, current })
}

/// A signed-in user's request for a brand and period they may see, with its counters; anything
/// else is answered with the sign-in form or an error page.
pub struct Scoped(pub(super) Loaded);

impl FromRequestParts<Arc<App>> for Scoped {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, app: &Arc<App>) -> Result<Self, Response> {
        let AdminUser(user) = AdminUser::from_request_parts(parts, app).await?;
        let Query(query) = Query::<OverviewQuery>::from_request_parts(parts, app).await.map_err(|_| {
            super::super::pages::error_page(
                StatusCode::BAD_REQUEST,
                "This page needs ?brand=SLUG, and days=1 to 365 if given.",
            )
        })?;
        load(app, &user, &query).await.map(Scoped).map_err(Refusal::page)
    }
}

#[utoipa::path(
    get, path = "/admin/overview", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "Outcomes of the period's verifications against the period before", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn overview(State(app): State<Arc<App>>, Scoped(loaded): Scoped) -> Response {
    let previous = match previous(&app, &loaded).await {
        Ok(previous) => previous,
        Err(e) => return internal_error(&e),
    };
    let computed = overview_lines(&loaded, &previous);
    let (median, previous_median) = (seconds(median_seconds(&loaded.current)), seconds(median_seconds(&previous)));
    let Loaded { brand, brand_name, days, .. } = loaded;
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
    let html = OverviewPage { brand, brand_name, days, lines, bars, chart_height, median, previous_median }.render();
    page(StatusCode::OK, html, Vec::new())
}

#[utoipa::path(
    get, path = "/admin/overview.csv", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "The overview as CSV", content_type = "text/csv"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn overview_csv(State(app): State<Arc<App>>, Scoped(loaded): Scoped) -> Response {
    let previous = match previous(&app, &loaded).await {
        Ok(previous) => previous,
        Err(e) => return internal_error(&e),
    };
    let lines = overview_lines(&loaded, &previous);
    let rate = |r: Option<f64>| r.map(|r| format!("{r:.2}")).unwrap_or_default();
    let mut csv = String::from("metric,count,share_of_started_percent,previous_share_percent\r\n");
    for l in lines {
        csv.push_str(&format!("{},{},{},{}\r\n", l.metric, l.count, rate(l.rate), rate(l.previous_rate)));
    }
    let median = median_seconds(&loaded.current).map(|s| s.to_string()).unwrap_or_default();
    csv.push_str(&format!("median seconds to approve,{median},,\r\n"));
    let (brand, days) = (loaded.brand, loaded.days);
    csv_response(csv, &format!("{brand}-overview-{days}d.csv"))
}

struct Step {
    label: &'static str,
    count: i64,
    share: String,
    width: i64,
}

#[derive(Template)]
#[template(path = "admin_funnel.html")]
struct FunnelPage {
    brand: String,
    brand_name: String,
    days: i64,
    steps: Vec<Step>,
    /// Attempt number, approved at it, wrong codes at it.
    attempts: Vec<(u32, i64, i64)>,
}

#[utoipa::path(
    get, path = "/admin/funnel", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "Funnel from started to completed, and the attempts distribution", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn funnel(Scoped(Loaded { brand, brand_name, days, current, .. }): Scoped) -> Response {
    let counted = analytics::funnel(&|d, v| get(&current, d, v));
    let started = counted.first().map_or(0, |(_, c)| *c);
    let steps = counted
        .into_iter()
        .map(|(label, count)| {
            let share = (started > 0).then(|| count as f64 * 100.0 / started as f64);
            Step { label, count, share: percent(share), width: (share.unwrap_or(0.0).min(100.0) * 3.6).round() as i64 }
        })
        .collect();
    let attempts = (1..=10_u32)
        .map(|n| {
            (n, get(&current, "attempts_to_approve", &n.to_string()), get(&current, "failed_attempt", &n.to_string()))
        })
        .filter(|(_, approved, wrong)| approved + wrong > 0)
        .collect();
    page(StatusCode::OK, FunnelPage { brand, brand_name, days, steps, attempts }.render(), Vec::new())
}

#[utoipa::path(
    get, path = "/admin/funnel.csv", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "The funnel as CSV", content_type = "text/csv"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn funnel_csv(Scoped(Loaded { brand, days, current, .. }): Scoped) -> Response {
    let mut csv = String::from("step,count\r\n");
    for (label, count) in analytics::funnel(&|d, v| get(&current, d, v)) {
        csv.push_str(&format!("{label},{count}\r\n"));
    }
    csv_response(csv, &format!("{brand}-funnel-{days}d.csv"))
}

pub(super) fn csv_response(csv: String, filename: &str) -> Response {
    let mut response = (StatusCode::OK, csv).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}

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
pub async fn sms(Scoped(Loaded { brand, brand_name, days, current, .. }): Scoped) -> Response {
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
pub async fn sms_csv(Scoped(Loaded { brand, days, current, .. }): Scoped) -> Response {
    let mut csv = String::from("provider,country,handed_over,delivered,failed\r\n");
    for r in routes(&current) {
        csv.push_str(&format!("{},{},{},{},{}\r\n", r.provider, r.country, r.submitted, r.delivered, r.failed));
    }
    csv_response(csv, &format!("{brand}-sms-{days}d.csv"))
}

/// Fewer other brands than this and the aggregate would give one of them away.
const MIN_OTHER_BRANDS: usize = 3;

/// The approval rate of the other brands together, if enough of them had verifications.
fn others_rate(rows: &[(&str, i64, i64)], own: &str) -> Option<(i64, i64, usize)> {
    let others: Vec<_> = rows.iter().filter(|(b, started, _)| *b != own && *started > 0).collect();
    (others.len() >= MIN_OTHER_BRANDS).then(|| {
        let (started, approved) = others.iter().fold((0, 0), |(s, a), (_, bs, ba)| (s + bs, a + ba));
        (started, approved, others.len())
    })
}

fn approval_rate(started: i64, approved: i64) -> Option<f64> {
    (started > 0).then(|| approved as f64 * 100.0 / started as f64)
}

/// One day or week of the market trend: the brand's approval rate and the other brands'.
struct MarketSlot {
    starts: String,
    own: Option<f64>,
    others: Option<f64>,
}

/// The trend per slot from (slot, brand, started, approved) rows.
fn market_trend(rows: &[(i64, String, i64, i64)], own: &str, slots: analytics::Slots) -> Vec<MarketSlot> {
    (0..slots.count)
        .map(|slot| {
            let in_slot: Vec<(&str, i64, i64)> =
                rows.iter().filter(|r| r.0 == slot).map(|(_, b, s, a)| (b.as_str(), *s, *a)).collect();
            let mine = in_slot.iter().find(|(b, _, _)| *b == own).map_or((0, 0), |(_, s, a)| (*s, *a));
            MarketSlot {
                starts: crate::clock::day(slots.start(slot)),
                own: approval_rate(mine.0, mine.1),
                others: others_rate(&in_slot, own).and_then(|(s, a, _)| approval_rate(s, a)),
            }
        })
        .collect()
}

/// SVG polyline points of a rate per slot (0–100 %), skipping slots without one.
fn rate_points(slots: &[MarketSlot], rate: impl Fn(&MarketSlot) -> Option<f64>) -> String {
    let count = i64::try_from(slots.len()).unwrap_or(1);
    let height = super::fraud::CHART_HEIGHT as f64;
    slots
        .iter()
        .zip(0_i64..)
        .filter_map(|(slot, i)| {
            let y = 10.0 + height - rate(slot)? / 100.0 * height;
            Some(format!("{},{y:.0}", super::fraud::chart_x(i, count)))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Template)]
#[template(path = "admin_market.html")]
struct MarketPage {
    brand: String,
    brand_name: String,
    days: i64,
    /// Started, approved, approval rate.
    own: (i64, i64, String),
    /// The same for the other brands together, and how many they are.
    others: Option<(i64, i64, String, usize)>,
    slot_days: i64,
    /// Start, the brand's approval rate, the other brands'.
    trend: Vec<(String, String, String)>,
    own_points: String,
    others_points: String,
    references: Vec<crate::store::market::Reference>,
}

struct MarketRead {
    by_brand: Vec<(String, i64, i64)>,
    by_slot: Vec<(i64, String, i64, i64)>,
    references: Vec<crate::store::market::Reference>,
}

#[utoipa::path(
    get, path = "/admin/market", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "The brand against the anonymised other brands, and published market figures", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn market(State(app): State<Arc<App>>, Scoped(loaded): Scoped) -> Response {
    let (from, to) = (loaded.from, loaded.to);
    let slots = analytics::Slots::of(from, to);
    let read = app
        .store
        .read(move |conn| -> Result<_, crate::store::StoreError> {
            Ok(MarketRead {
                by_brand: crate::store::rollups::outcomes_by_brand(conn, from, to)?,
                by_slot: crate::store::rollups::outcomes_by_slot_and_brand(conn, slots)?,
                references: crate::store::market::list(conn)?,
            })
        })
        .await;
    let read = match read {
        Ok(read) => read,
        Err(e) => return internal_error(&e),
    };
    let rate = |started: i64, approved: i64| percent(approval_rate(started, approved));
    let rows: Vec<(&str, i64, i64)> = read.by_brand.iter().map(|(b, s, a)| (b.as_str(), *s, *a)).collect();
    let own = rows.iter().find(|(b, _, _)| *b == loaded.brand).map_or((0, 0), |(_, s, a)| (*s, *a));
    let others = others_rate(&rows, &loaded.brand).map(|(s, a, n)| (s, a, rate(s, a), n));
    let trend = market_trend(&read.by_slot, &loaded.brand, slots);
    let html = MarketPage {
        own_points: rate_points(&trend, |s| s.own),
        others_points: rate_points(&trend, |s| s.others),
        trend: trend.into_iter().map(|s| (s.starts, percent(s.own), percent(s.others))).collect(),
        slot_days: slots.days,
        brand: loaded.brand,
        brand_name: loaded.brand_name,
        days: loaded.days,
        own: (own.0, own.1, rate(own.0, own.1)),
        others,
        references: read.references,
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

#[utoipa::path(
    get, path = "/admin/market.csv", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "The brand's approval rate and the other brands' per day or week, as CSV", content_type = "text/csv"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn market_csv(State(app): State<Arc<App>>, Scoped(loaded): Scoped) -> Response {
    let (from, to) = (loaded.from, loaded.to);
    let slots = analytics::Slots::of(from, to);
    let by_slot = match app.store.read(move |conn| crate::store::rollups::outcomes_by_slot_and_brand(conn, slots)).await
    {
        Ok(rows) => rows,
        Err(e) => return internal_error(&e),
    };
    let rate = |r: Option<f64>| r.map(|r| format!("{r:.2}")).unwrap_or_default();
    let mut csv = String::from("period_start,days,approval_rate_percent,other_brands_approval_rate_percent\r\n");
    for slot in market_trend(&by_slot, &loaded.brand, slots) {
        csv.push_str(&format!("{},{},{},{}\r\n", slot.starts, slots.days, rate(slot.own), rate(slot.others)));
    }
    csv_response(csv, &format!("{}-market-{}d.csv", loaded.brand, loaded.days))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_brands_count_only_when_three_contribute() {
        let rows = [("own", 10, 9), ("a", 10, 5), ("b", 10, 5), ("c", 0, 0)];
        assert_eq!(others_rate(&rows, "own"), None, "two others with verifications are too few");
        let rows = [("own", 10, 9), ("a", 10, 5), ("b", 10, 5), ("c", 20, 20)];
        assert_eq!(others_rate(&rows, "own"), Some((40, 30, 3)));
    }

    #[test]
    fn the_market_trend_has_a_slot_per_day() {
        let day = analytics::DAY_MS;
        let rows: Vec<(i64, String, i64, i64)> = ["own", "a", "b", "c"]
            .iter()
            .map(|b| (1, (*b).to_owned(), 10, 5))
            .chain([(0, "own".to_owned(), 4, 4)])
            .collect();
        let slots = market_trend(&rows, "own", analytics::Slots::of(0, 2 * day));
        assert_eq!((analytics::Slots::of(0, 2 * day).days, slots.len()), (1, 2));
        assert_eq!((slots[0].own, slots[0].others), (Some(100.0), None));
        assert_eq!((slots[1].own, slots[1].others), (Some(50.0), Some(50.0)));
        assert_eq!(rate_points(&slots, |s| s.others), "510,80");
    }
}
