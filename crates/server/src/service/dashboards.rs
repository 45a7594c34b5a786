//! What the dashboards read: a brand's counters over a period (from the rollups), the other
//! brands' for the market comparison, the published market figures, and the live event stream.
//! The pages compute their figures from these; every read is scoped to brands the user may see
//! by the caller.

use std::collections::HashMap;

use orderguard_domain::clock::Timestamp;

use super::ServiceError;
use crate::analytics::drill::Figure;
use crate::analytics::market::DailyRow;
use crate::analytics::prevented::BASELINE_DAYS;
use crate::analytics::{self, DAY_MS, HOUR_MS, Slots, hour_of};
use crate::app::App;
use crate::records::Event;
use crate::records::market::Reference;
use crate::records::order::OrderFacts;
use crate::store::replication::{self, ReplicaLag};
use crate::store::{Store, StoreError, admin, events, market, rollups, verifications};

/// Counters by (dimension, value), summed over a period.
pub type Counters = HashMap<(String, String), i64>;

/// Counters as read from the store, by (dimension, value).
fn keyed(totals: Vec<(String, String, i64)>) -> Counters {
    totals.into_iter().map(|(d, v, c)| ((d, v), c)).collect()
}

/// One counter; 0 when nothing was counted.
pub fn get(counters: &Counters, dimension: &str, value: &str) -> i64 {
    counters.get(&(dimension.to_owned(), value.to_owned())).copied().unwrap_or(0)
}

/// The last `days` days up to `now`, in whole hours up to the current one: `[from, to)`.
pub fn period_bounds(now: Timestamp, days: i64) -> (i64, i64) {
    let to = hour_of(now.millis()) + HOUR_MS;
    (to - days * 24 * HOUR_MS, to)
}

/// A brand's counters over `[from, to)`.
pub async fn counters(app: &App, brand: &str, from: i64, to: i64) -> Result<Counters, ServiceError> {
    let brand = brand.to_owned();
    Ok(keyed(app.dashboard_store.read(move |conn| rollups::totals(conn, &brand, from, to)).await?))
}

/// What the admin home shows of a brand.
pub struct BrandSummary {
    /// Verifications waiting for their code now.
    pub pending: i64,
    /// Events of the period by type.
    pub events: Vec<(String, i64)>,
}

pub async fn summary(app: &App, brand: &str, from: i64, to: i64) -> Result<BrandSummary, ServiceError> {
    match summary_from(&app.dashboard_store, brand, (from, to)).await {
        // The admin home stays usable with the replica down: it says so, with the primary's figures.
        Err(_) if app.settings.database_read_url.is_some() => summary_from(&app.store, brand, (from, to)).await,
        read => read,
    }
}

async fn summary_from(store: &Store, brand: &str, (from, to): (i64, i64)) -> Result<BrandSummary, ServiceError> {
    let brand = brand.to_owned();
    let (pending, events) = store
        .read(move |conn| -> Result<_, StoreError> {
            Ok((admin::pending_count(conn, &brand)?, rollups::totals_of(conn, &brand, "event", (from, to))?))
        })
        .await?;
    Ok(BrandSummary { pending, events })
}

/// How far the replica the dashboards read from is behind the database; `None` without one.
pub async fn replica_lag(app: &App) -> Result<Option<ReplicaLag>, ServiceError> {
    if app.settings.database_read_url.is_none() {
        return Ok(None);
    }
    let position = app.store.read(replication::primary_position).await?;
    Ok(Some(app.dashboard_store.read(move |conn| replication::lag_behind(conn, &position)).await?))
}

/// The fraud page's reads beyond the period's counters.
pub struct FraudRead {
    /// Reported outcomes per slot of the period: (slot, outcome, count).
    pub series: Vec<(i64, String, i64)>,
    /// The same for the span just before the period.
    pub earlier_series: Vec<(i64, String, i64)>,
    /// Whole days compared on each side of the switch to 2FA, and the counters before and after.
    pub around_switch: Option<(i64, Counters, Counters)>,
    /// The counters of the `BASELINE_DAYS` before the switch to 2FA (the losses-avoided estimate).
    pub baseline: Option<Counters>,
    /// Network checks per slot: (slot, `api|outcome`, count).
    pub network_series: Vec<(i64, String, i64)>,
}

/// Days to compare on each side of the switch: the period's length, but no more whole days than
/// have passed since (both sides equally long); none before a whole day has passed.
pub fn days_around(since: i64, period_days: i64, to: i64) -> Option<i64> {
    Some(period_days.min((to - since).div_euclid(DAY_MS))).filter(|d| *d >= 1)
}

pub async fn fraud(
    app: &App,
    brand: &str,
    (from, to): (i64, i64),
    period_days: i64,
    two_factor_since: Option<i64>,
) -> Result<FraudRead, ServiceError> {
    let brand = brand.to_owned();
    Ok(app
        .dashboard_store
        .read(move |conn| -> Result<FraudRead, StoreError> {
            let series = rollups::series(conn, &brand, "outcome", Slots::of(from, to))?;
            let earlier_series = rollups::series(conn, &brand, "outcome", Slots::of(from - (to - from), from))?;
            let network_series = rollups::series(conn, &brand, "network_check", Slots::of(from, to))?;
            let around = two_factor_since.and_then(|s| Some((s, days_around(s, period_days, to)?)));
            let around_switch = match around {
                None => None,
                Some((since, days)) => Some((
                    days,
                    keyed(rollups::totals(conn, &brand, since - days * DAY_MS, since)?),
                    keyed(rollups::totals(conn, &brand, since, since + days * DAY_MS)?),
                )),
            };
            let baseline = match two_factor_since {
                Some(since) => Some(keyed(rollups::totals(conn, &brand, since - BASELINE_DAYS * DAY_MS, since)?)),
                None => None,
            };
            Ok(FraudRead { series, earlier_series, around_switch, baseline, network_series })
        })
        .await?)
}

/// What the market comparison reads: the daily counters of every brand over the period and the
/// one before it (the page shows only an aggregate of the others), the published market figures,
/// and the brand's own counters since the first year a published series it is set beside covers.
pub struct MarketRead {
    pub daily: Vec<DailyRow>,
    pub references: Vec<Reference>,
    pub history: Vec<DailyRow>,
}

/// Published years this far back at most are set beside the brand's own.
const HISTORY_YEARS: i32 = 10;

/// The market comparison's counters of `[read_from, to)` (the period and the one before it).
pub async fn market(
    app: &App,
    brand: &str,
    (read_from, to): (i64, i64),
    published: bool,
) -> Result<MarketRead, ServiceError> {
    let brand = brand.to_owned();
    Ok(app
        .dashboard_store
        .read(move |conn| -> Result<_, StoreError> {
            let daily = rollups::market_daily(conn, None, read_from, to)?;
            if !published {
                return Ok(MarketRead { daily, references: Vec::new(), history: Vec::new() });
            }
            let references = market::list(conn)?;
            let first_year = references
                .iter()
                .filter(|r| r.compare_with.is_some())
                .filter_map(|r| r.period.parse::<i32>().ok())
                .min()
                .map(|year| year.max(analytics::market::year_of(to) - HISTORY_YEARS));
            let history = match first_year {
                Some(year) => rollups::market_daily(conn, Some(&brand), analytics::market::year_start(year), to)?,
                None => Vec::new(),
            };
            Ok(MarketRead { daily, references, history })
        })
        .await?)
}

/// Events read at most for the orders behind a figure.
const BEHIND_SCANNED: i64 = 5_000;

/// An order behind a figure: the event that counts it, and its verification's facts.
pub struct Behind {
    pub event: Event,
    pub facts: Option<OrderFacts>,
}

/// The orders behind a figure, and whether more events were there than were read.
pub struct OrdersBehind {
    pub orders: Vec<Behind>,
    pub truncated: bool,
}

/// The brand's orders behind `figure` in `[from, to)`, newest first, once each: the events that
/// count for it (of the latest `BEHIND_SCANNED` of its types), where a reported outcome counts as
/// the order's latest report, as in the counters.
pub async fn orders_behind(
    app: &App,
    brand: &str,
    figure: Figure,
    from: i64,
    to: i64,
) -> Result<OrdersBehind, ServiceError> {
    let brand = brand.to_owned();
    Ok(app
        .dashboard_store
        .read(move |conn| -> Result<_, StoreError> {
            let read = events::of_types_between(conn, &brand, figure.event_types(), (from, to), BEHIND_SCANNED)?;
            let truncated = read.len() >= usize::try_from(BEHIND_SCANNED).unwrap_or(usize::MAX);
            let mut seen = std::collections::HashSet::new();
            let mut once = |e: &Event| e.order_id.as_ref().is_none_or(|order| seen.insert(order.clone()));
            let counted: Vec<Event> = if figure.latest_report_counts() {
                read.into_iter().filter(|e| once(e)).filter(|e| figure.counts(e.kind.as_str(), &e.attrs)).collect()
            } else {
                read.into_iter().filter(|e| figure.counts(e.kind.as_str(), &e.attrs)).filter(|e| once(e)).collect()
            };
            let orders: Vec<&str> = counted.iter().filter_map(|e| e.order_id.as_deref()).collect();
            let facts = verifications::facts_of_orders(conn, &brand, &orders)?;
            // The facts of the event's own verification, else of the order's latest.
            let facts_of = |e: &Event| {
                let own = facts.iter().find(|f| e.verification_id.as_ref() == Some(&f.verification_id));
                own.or_else(|| facts.iter().rev().find(|f| e.order_id.as_ref() == Some(&f.order_id))).cloned()
            };
            let orders = counted.into_iter().map(|event| Behind { facts: facts_of(&event), event }).collect();
            Ok(OrdersBehind { orders, truncated })
        })
        .await?)
}

/// A brand's counters of `dimensions` per slot (`starts`, the last ending at `to`), and the same
/// for the slots one period earlier: this period's and the period before's, slot by slot.
pub async fn per_slot(
    app: &App,
    brand: &str,
    dimensions: &'static [&'static str],
    (hourly, starts): (bool, Vec<i64>),
    to: i64,
) -> Result<(Vec<Counters>, Vec<Counters>), ServiceError> {
    let Some(first) = starts.first().copied() else { return Ok((Vec::new(), Vec::new())) };
    // Whole slots back, so that each earlier point lines up with one of this period.
    let slot_ms = starts.get(1).map_or(to - first, |second| second - first);
    let span = slot_ms * i64::try_from(starts.len()).unwrap_or(1);
    let brand = brand.to_owned();
    let rows = app
        .dashboard_store
        .read(move |conn| rollups::of_brand_per(conn, &brand, dimensions, hourly, (first - span, to)))
        .await?;
    let mut now = vec![Counters::new(); starts.len()];
    let mut before = vec![Counters::new(); starts.len()];
    for (at, dimension, value, count) in rows {
        let (slots, at) = if at < first { (&mut before, at + span) } else { (&mut now, at) };
        let Some(slot) = starts.partition_point(|s| *s <= at).checked_sub(1) else { continue };
        if let Some(counters) = slots.get_mut(slot) {
            *counters.entry((dimension, value)).or_default() += count;
        }
    }
    Ok((now, before))
}

/// A brand's latest `limit` events, newest first (the live monitor's first page).
pub async fn latest_events(app: &App, brand: &str, limit: i64) -> Result<Vec<Event>, ServiceError> {
    let brand = brand.to_owned();
    Ok(app.dashboard_store.read(move |conn| events::latest_of_brand(conn, &brand, limit)).await?)
}

/// A brand's events after `after_id`, oldest first, at most `limit` (the live stream).
pub async fn events_after(app: &App, brand: &str, after_id: i64, limit: i64) -> Result<Vec<Event>, ServiceError> {
    let brand = brand.to_owned();
    Ok(app.dashboard_store.read(move |conn| events::of_brand_after(conn, &brand, after_id, limit)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_of_the_switch_are_equally_long() {
        let since = 10 * DAY_MS;
        assert_eq!(days_around(since, 28, since + 3 * DAY_MS + 5), Some(3));
        assert_eq!(days_around(since, 7, since + 30 * DAY_MS), Some(7));
        assert_eq!(days_around(since, 7, since + DAY_MS - 1), None);
        assert_eq!(days_around(since, 7, since - DAY_MS), None, "not switched on yet");
    }
}
