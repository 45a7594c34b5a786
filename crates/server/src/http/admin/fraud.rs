//! A brand's fraud: confirmed fraud per 1,000 reported orders, losses, the value of blocked and
//! failed high-risk orders, the risk reasons (shadow ones apart), lock-outs, refusals by hard
//! limits and orders held for review; the trend over the period, and the orders before
//! and after two-factor verification was switched on (`two_factor_since` in the brand's
//! configuration). Read from the counters.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use orderguard_domain::money::{Currency, Money};

use super::chart::{Line, LineChart, Style};
use super::dashboard::{OverviewQuery, Scoped, csv_response};
use super::{orders, page};
use crate::analytics::Slots;
use crate::analytics::drill::Figure;
use crate::analytics::prevented::{self, Avoided, Baseline};
use crate::app::App;
use crate::http::error::PageError;
use crate::service::dashboards::{self, Counters, get};

/// What the counters of a span say about fraud.
pub(super) struct FraudFigures {
    pub(super) orders: i64,
    pub(super) fraud: i64,
    chargebacks: i64,
    pub(super) per_thousand: String,
    pub(super) losses: String,
    blocked_value: String,
    failed_high_risk_value: String,
}

fn per_thousand(fraud: i64, orders: i64) -> Option<f64> {
    (orders > 0).then(|| fraud as f64 * 1000.0 / orders as f64)
}

/// Sums of money per currency, as `849.00 EUR, 12.50 GBP`; `–` without any.
fn amounts(counters: &Counters, dimension: &str) -> String {
    let listed: Vec<String> = counters
        .iter()
        .filter(|((d, _), _)| d == dimension)
        .filter_map(|((_, code), minor)| {
            let currency = Currency::parse(code).ok()?;
            Some(format!("{} {}", Money::from_minor(*minor, currency).to_decimal(), currency.code()))
        })
        .collect();
    if listed.is_empty() { "–".to_owned() } else { listed.join(", ") }
}

pub(super) fn figures(counters: &Counters) -> FraudFigures {
    let orders = counters.iter().filter(|((d, _), _)| d == "outcome").map(|(_, n)| n).sum();
    let fraud = get(counters, "outcome", "fraud_confirmed");
    FraudFigures {
        orders,
        fraud,
        chargebacks: get(counters, "outcome", "chargeback"),
        per_thousand: per_thousand(fraud, orders).map_or_else(|| "–".to_owned(), |p| format!("{p:.1}")),
        losses: amounts(counters, "loss"),
        blocked_value: amounts(counters, "blocked_value"),
        failed_high_risk_value: amounts(counters, "failed_high_risk_value"),
    }
}

/// One slot of the trend: its first day, orders reported in it, confirmed fraud among them.
struct Slot {
    starts: String,
    orders: i64,
    fraud: i64,
    per_thousand: String,
    /// The orders reported as fraud in it.
    link: String,
}

/// Where the orders reported as fraud in each slot are listed.
fn fraud_links(brand: &str, slots: Slots) -> Vec<String> {
    (0..slots.count)
        .map(|slot| {
            let end = slots.start(slot + 1).min(slots.end);
            orders::link(brand, Figure::FraudConfirmed, slots.start(slot), end)
        })
        .collect()
}

struct Trend {
    slot_days: i64,
    slots: Vec<Slot>,
}

/// A counter per slot: (slot, value, count).
type SlotCount = (i64, String, i64);

/// Orders and confirmed fraud per slot from (slot, outcome, count) rows.
fn sums(rows: &[(i64, String, i64)], count: i64) -> Vec<(i64, i64)> {
    (0..count)
        .map(|slot| {
            let in_slot = rows.iter().filter(|(s, _, _)| *s == slot);
            let orders = in_slot.clone().map(|(_, _, n)| n).sum();
            let fraud = in_slot.filter(|(_, v, _)| v == "fraud_confirmed").map(|(_, _, n)| n).sum();
            (orders, fraud)
        })
        .collect()
}

fn trend(brand: &str, rows: &[(i64, String, i64)], slots: Slots) -> Trend {
    let slots_shown = sums(rows, slots.count)
        .into_iter()
        .zip(0_i64..)
        .zip(fraud_links(brand, slots))
        .map(|(((orders, fraud), slot), link)| Slot {
            link,
            starts: crate::clock::day(slots.start(slot)),
            orders,
            fraud,
            per_thousand: per_thousand(fraud, orders).map_or_else(|| "–".to_owned(), |p| format!("{p:.1}")),
        })
        .collect();
    Trend { slot_days: slots.days, slots: slots_shown }
}

/// The trend as a chart: the period before as a faint line, the switch to 2FA marked.
fn trend_chart(brand: &str, (rows, earlier): (&[SlotCount], &[SlotCount]), slots: Slots, since: Option<i64>) -> String {
    let rate = |(orders, fraud): &(i64, i64)| per_thousand(*fraud, *orders);
    let unit = if slots.days == 7 { "week" } else { "day" };
    // Between the points of its slot's start and the next one's, in proportion.
    let markers = since
        .filter(|s| (slots.first..slots.end).contains(s))
        .map(|s| ((s - slots.first) as f64 / slots.ms() as f64, "2FA on".to_owned()))
        .into_iter()
        .collect();
    LineChart {
        id: "fraud-trend".into(),
        title: format!("Confirmed fraud per 1,000 orders, per {unit}"),
        unit: "per 1,000 orders".into(),
        labels: (0..slots.count).map(|slot| crate::clock::day(slots.start(slot))).collect(),
        lines: vec![
            Line {
                name: "This period".into(),
                description: format!("per {unit}"),
                style: Style::Brand,
                values: sums(rows, slots.count).iter().map(rate).collect(),
                links: fraud_links(brand, slots),
            },
            Line {
                name: "The period before".into(),
                description: "faint: the same span one period earlier".into(),
                style: Style::Earlier,
                values: sums(earlier, slots.count).iter().map(rate).collect(),
                links: Vec::new(),
            },
        ],
        markers,
    }
    .render()
}

/// Losses avoided in the period and the one before, and how they were estimated.
struct AvoidedView {
    /// Kind of stopped order, this period, the period before.
    stopped: Vec<(&'static str, i64, i64)>,
    stopped_total: (i64, i64),
    value: (String, String),
    fraud_orders: (String, String),
    losses: (String, String),
    /// Orders reported before 2FA, the confirmed fraud among them, the share in per cent, and
    /// whether they are enough for an estimate.
    baseline: Option<(i64, i64, String, bool)>,
    since: Option<String>,
    /// The orders stopped in the period.
    link: String,
}

pub(super) fn money_list(list: &[Money]) -> String {
    let listed: Vec<String> = list.iter().map(|m| format!("{} {}", m.to_decimal(), m.currency.code())).collect();
    if listed.is_empty() { "–".to_owned() } else { listed.join(", ") }
}

pub(super) fn avoided_of(counters: &Counters, baseline: Option<Baseline>) -> Avoided {
    let values: Vec<(String, i64)> =
        counters.iter().filter(|((d, _), _)| d == "stopped_value").map(|((_, code), n)| (code.clone(), *n)).collect();
    prevented::avoided(&|d, v| get(counters, d, v), &values, baseline)
}

/// The orders reported before 2FA and the fraud among them, from the baseline's counters.
pub(super) fn baseline_of(counters: &Counters) -> Baseline {
    Baseline {
        orders: counters.iter().filter(|((d, _), _)| d == "outcome").map(|(_, n)| n).sum(),
        fraud: get(counters, "outcome", "fraud_confirmed"),
    }
}

fn avoided_view(
    (current, previous): (&Counters, &Counters),
    baseline: Option<&Counters>,
    since: Option<i64>,
    link: String,
) -> AvoidedView {
    let baseline = baseline.map(baseline_of);
    let (now, before) = (avoided_of(current, baseline), avoided_of(previous, baseline));
    let devices = |a: &Avoided| a.fraud_orders.map_or_else(|| "–".to_owned(), |n| format!("{n:.1}"));
    let losses = |a: &Avoided| a.losses.as_deref().map_or_else(|| "–".to_owned(), money_list);
    AvoidedView {
        stopped: prevented::STOPPED
            .iter()
            .zip(now.stopped.iter().zip(&before.stopped))
            .map(|((_, label), ((_, n), (_, b)))| (*label, *n, *b))
            .collect(),
        stopped_total: (now.stopped_total, before.stopped_total),
        value: (money_list(&now.value), money_list(&before.value)),
        fraud_orders: (devices(&now), devices(&before)),
        losses: (losses(&now), losses(&before)),
        baseline: baseline.map(|b| {
            let share = b.share().map_or_else(|| "–".to_owned(), |s| format!("{:.2} %", s * 100.0));
            (b.orders, b.fraud, share, b.share().is_some())
        }),
        since: since.map(crate::clock::day),
        link,
    }
}

/// The orders of equal spans before and after 2FA was switched on.
struct BeforeAfter {
    since: String,
    days: i64,
    before: FraudFigures,
    after: FraudFigures,
}

/// A dimension's counters, most frequent first.
fn ranked(counters: &Counters, dimension: &str) -> Vec<(String, i64)> {
    let mut ranked: Vec<(String, i64)> =
        counters.iter().filter(|((d, _), n)| d == dimension && **n != 0).map(|((_, v), n)| (v.clone(), *n)).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked
}

/// Refusals by one hard limit (or a range's pause), per action.
struct LimitRefusals {
    limit: String,
    create: i64,
    check: i64,
    resend: i64,
    total: i64,
}

/// The counters `limit_refusal` (`action|reason`) as one line per limit, the most refusing first.
fn limit_refusals(counters: &Counters) -> Vec<LimitRefusals> {
    let mut by_limit: std::collections::BTreeMap<String, LimitRefusals> = std::collections::BTreeMap::new();
    for (value, n) in ranked(counters, "limit_refusal") {
        let Some((action, limit)) = value.split_once('|') else { continue };
        let line = by_limit.entry(limit.to_owned()).or_insert_with(|| LimitRefusals {
            limit: limit.to_owned(),
            create: 0,
            check: 0,
            resend: 0,
            total: 0,
        });
        match action {
            "create" => line.create += n,
            "check" => line.check += n,
            "resend" => line.resend += n,
            _ => {}
        }
        line.total += n;
    }
    let mut lines: Vec<LimitRefusals> = by_limit.into_values().collect();
    lines.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.limit.cmp(&b.limit)));
    lines
}

/// Orders held for review and what analysts made of them.
struct Held {
    held: i64,
    approved: i64,
    released: i64,
    rejected: i64,
}

fn held(counters: &Counters) -> Held {
    Held {
        held: get(counters, "event", "verification.held"),
        approved: get(counters, "event", "review.approved"),
        released: get(counters, "event", "review.released"),
        rejected: get(counters, "event", "review.rejected"),
    }
}

/// One slot of the network checks: swaps found, and checks without an answer.
struct NetworkSlot {
    starts: String,
    checks: i64,
    sim_swaps: i64,
    device_swaps: i64,
    unavailable: i64,
}

fn network_slots(rows: &[(i64, String, i64)], slots: Slots) -> Vec<NetworkSlot> {
    (0..slots.count)
        .map(|slot| {
            let count = |wanted: &dyn Fn(&str) -> bool| -> i64 {
                rows.iter().filter(|(s, v, _)| *s == slot && wanted(v)).map(|(_, _, n)| n).sum()
            };
            NetworkSlot {
                starts: crate::clock::day(slots.start(slot)),
                checks: count(&|_| true),
                sim_swaps: count(&|v| v == "sim_swap|swapped"),
                device_swaps: count(&|v| v == "device_swap|swapped"),
                unavailable: count(&|v| v.ends_with("|unavailable")),
            }
        })
        .collect()
}

/// What the network checks of the period did to decisions, per API.
struct NetworkActions {
    api: &'static str,
    denied: i64,
    held: i64,
    scored: i64,
    unavailable_let_through: i64,
}

fn network_actions(counters: &Counters) -> Vec<NetworkActions> {
    ["sim_swap", "device_swap"]
        .into_iter()
        .map(|api| {
            let n = |suffix: &str| get(counters, "network_action", &format!("{api}|{suffix}"));
            NetworkActions {
                api,
                denied: n("swapped|deny") + n("unavailable|deny"),
                held: n("swapped|review") + n("unavailable|review"),
                scored: n("swapped|score"),
                unavailable_let_through: n("unavailable|note"),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin_fraud.html")]
struct FraudPage {
    brand: String,
    brand_name: String,
    days: i64,
    figures: FraudFigures,
    reasons: Vec<(String, i64)>,
    /// Reasons of rules in shadow mode: evaluated, not counted towards the decision.
    shadow_reasons: Vec<(String, i64)>,
    /// Wrong-code locks engaged, by subject (`customer`, `number`).
    lockouts: Vec<(String, i64)>,
    limit_refusals: Vec<LimitRefusals>,
    held: Held,
    trend: Trend,
    trend_chart: String,
    avoided: AvoidedView,
    before_after: Option<BeforeAfter>,
    network_slots: Vec<NetworkSlot>,
    network_actions: Vec<NetworkActions>,
}

#[utoipa::path(
    get, path = "/admin/fraud", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "Fraud per 1,000 orders, losses, blocked value, risk reasons, before and after 2FA", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn fraud(State(app): State<Arc<App>>, Scoped(loaded): Scoped) -> Result<Response, PageError> {
    let since = app.brands.get(&loaded.brand).and_then(|b| b.two_factor_since);
    let (from, to) = (loaded.from, loaded.to);
    let read = dashboards::fraud(&app, &loaded.brand, (from, to), loaded.days, since).await?;
    let trend_chart = trend_chart(&loaded.brand, (&read.series, &read.earlier_series), Slots::of(from, to), since);
    let trend = trend(&loaded.brand, &read.series, Slots::of(from, to));
    let network_slots = network_slots(&read.network_series, Slots::of(from, to));
    let current = &loaded.current;
    let previous = loaded.previous(&app).await?;
    let stopped_link = orders::link(&loaded.brand, Figure::Stopped, from, to);
    let avoided = avoided_view((current, &previous), read.baseline.as_ref(), since, stopped_link);
    let (reasons, shadow_reasons) = (ranked(current, "risk_reason"), ranked(current, "shadow_reason"));
    let (lockouts, limit_refusals, held) = (ranked(current, "lockout"), limit_refusals(current), held(current));
    let before_after = since.zip(read.around_switch).map(|(since, (days, before, after))| BeforeAfter {
        since: crate::clock::day(since),
        days,
        before: figures(&before),
        after: figures(&after),
    });
    let html = FraudPage {
        figures: figures(&loaded.current),
        brand: loaded.brand,
        brand_name: loaded.brand_name,
        days: loaded.days,
        reasons,
        shadow_reasons,
        lockouts,
        limit_refusals,
        held,
        trend,
        trend_chart,
        avoided,
        before_after,
        network_slots,
        network_actions: network_actions(current),
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

#[utoipa::path(
    get, path = "/admin/fraud.csv", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "Reported orders and confirmed fraud per day or week of the period, as CSV", content_type = "text/csv"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn fraud_csv(State(app): State<Arc<App>>, Scoped(loaded): Scoped) -> Result<Response, PageError> {
    let (from, to) = (loaded.from, loaded.to);
    let read = dashboards::fraud(&app, &loaded.brand, (from, to), loaded.days, None).await?;
    let mut csv = String::from("period_start,days,orders_reported,fraud_confirmed,fraud_per_1000_orders\r\n");
    // The CSV has no chart: no marker for the switch to 2FA.
    let trend = trend(&loaded.brand, &read.series, Slots::of(from, to));
    for slot in &trend.slots {
        let rate = if slot.orders > 0 { slot.per_thousand.as_str() } else { "" };
        csv.push_str(&format!("{},{},{},{},{rate}\r\n", slot.starts, trend.slot_days, slot.orders, slot.fraud));
    }
    Ok(csv_response(csv, &format!("{}-fraud-{}d.csv", loaded.brand, loaded.days)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::DAY_MS;

    #[test]
    fn the_trend_has_a_point_per_slot_and_marks_the_switch() {
        let rows = vec![
            (0, "completed".to_owned(), 90),
            (0, "fraud_confirmed".to_owned(), 10),
            (1, "completed".to_owned(), 50),
        ];
        let t = trend("alpha", &rows, Slots::of(0, 2 * DAY_MS));
        assert_eq!(t.slot_days, 1);
        assert_eq!(t.slots.len(), 2);
        assert_eq!((t.slots[0].orders, t.slots[0].fraud, t.slots[0].per_thousand.as_str()), (100, 10, "100.0"));
        assert_eq!(t.slots[1].per_thousand, "0.0");
        assert_eq!(t.slots[1].link, "/admin/orders?brand=alpha&figure=confirmed_fraud&from=1970-01-02&days=1");
        let weeks = trend("alpha", &[], Slots::of(0, 35 * DAY_MS));
        assert_eq!(weeks.slots.len(), 5);
        assert!(weeks.slots[4].link.ends_with("from=1970-01-29&days=7"), "{}", weeks.slots[4].link);
        let earlier = vec![(1, "fraud_confirmed".to_owned(), 1)];
        let chart = trend_chart("alpha", (&rows, &earlier), Slots::of(0, 2 * DAY_MS), Some(DAY_MS));
        assert!(chart.contains("1970-01-01 · This period: 100 per 1,000 orders"), "{chart}");
        assert!(chart.contains("1970-01-02 · The period before: 1000 per 1,000 orders"), "{chart}");
        assert!(chart.contains(">2FA on</text>"));
    }

    #[test]
    fn limit_refusals_are_summed_per_limit_and_action() {
        let counters: Counters = [
            ("limit_refusal", "check|wrong_code_lock_customer", 3),
            ("limit_refusal", "create|wrong_code_lock_customer", 1),
            ("limit_refusal", "resend|sms_limit_number", 2),
            ("lockout", "number", 1),
        ]
        .into_iter()
        .map(|(d, v, n)| ((d.to_owned(), v.to_owned()), n))
        .collect();
        let lines = limit_refusals(&counters);
        let shown: Vec<_> = lines.iter().map(|l| (l.limit.as_str(), l.create, l.check, l.resend, l.total)).collect();
        assert_eq!(shown, [("wrong_code_lock_customer", 1, 3, 0, 4), ("sms_limit_number", 0, 0, 2, 2)]);
        assert_eq!(ranked(&counters, "lockout"), [("number".to_owned(), 1)]);
    }

    #[test]
    fn money_sums_per_currency() {
        let counters: Counters = [(("loss".to_owned(), "EUR".to_owned()), 84_900)].into_iter().collect();
        assert_eq!(amounts(&counters, "loss"), "849.00 EUR");
        assert_eq!(amounts(&counters, "blocked_value"), "–");
    }
}
