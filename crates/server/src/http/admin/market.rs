//! The brand against the anonymised aggregate of the other brands (shown only where enough of them
//! contribute), and the published market figures.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::dashboard::{CHART_HEIGHT, OverviewQuery, Scoped, chart_x, csv_response, percent};
use super::page;
use crate::analytics;
use crate::app::App;
use crate::http::error::PageError;
use crate::records::market::Reference;
use crate::service::dashboards;

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
    let height = CHART_HEIGHT as f64;
    slots
        .iter()
        .zip(0_i64..)
        .filter_map(|(slot, i)| {
            let y = 10.0 + height - rate(slot)? / 100.0 * height;
            Some(format!("{},{y:.0}", chart_x(i, count)))
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
    references: Vec<Reference>,
}

#[utoipa::path(
    get, path = "/admin/market", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "The brand against the anonymised other brands, and published market figures", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn market(State(app): State<Arc<App>>, Scoped(loaded): Scoped) -> Result<Response, PageError> {
    let (from, to) = (loaded.from, loaded.to);
    let slots = analytics::Slots::of(from, to);
    let read = dashboards::market(&app, from, to).await?;
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
pub async fn market_csv(State(app): State<Arc<App>>, Scoped(loaded): Scoped) -> Result<Response, PageError> {
    let slots = analytics::Slots::of(loaded.from, loaded.to);
    let by_slot = dashboards::market_by_slot(&app, slots).await?;
    let rate = |r: Option<f64>| r.map(|r| format!("{r:.2}")).unwrap_or_default();
    let mut csv = String::from("period_start,days,approval_rate_percent,other_brands_approval_rate_percent\r\n");
    for slot in market_trend(&by_slot, &loaded.brand, slots) {
        csv.push_str(&format!("{},{},{},{}\r\n", slot.starts, slots.days, rate(slot.own), rate(slot.others)));
    }
    Ok(csv_response(csv, &format!("{}-market-{}d.csv", loaded.brand, loaded.days)))
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
