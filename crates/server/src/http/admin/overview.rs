//! A brand's overview (how the period's verifications ended, against the period before) and
//! funnel with the attempts distribution: charts (SVG), the same as tables, and as CSV. Read from
//! the counters.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::dashboard::{
    Every, Loaded, OverviewQuery, Scoped, SliceQuery, csv_response, narrowed, percent, slots_of, trend_chart,
};
use super::market::slot_label;
use super::{orders, page};
use crate::analytics::drill::Figure;
use crate::analytics::market::Grain;
use crate::analytics::slice::Slice;
use crate::analytics::{self, OverviewLine};
use crate::app::App;
use crate::http::error::{PageError, capitalised};
use crate::service::dashboards::{self, Counters, get};
use orderguard_domain::reason::RiskReason;
use orderguard_domain::risk::Decision;

struct Line {
    metric: &'static str,
    count: i64,
    rate: String,
    previous: String,
    change: String,
    /// The orders behind the count, where they can be listed.
    link: Option<String>,
}

/// The figure whose orders an overview line counts, if any.
fn figure_of(metric: &str) -> Option<Figure> {
    let event = analytics::OVERVIEW.iter().find(|(m, _)| *m == metric).map(|(_, e)| *e)?;
    Figure::ALL.into_iter().find(|f| f.event_types() == [event])
}

struct Bar {
    label: &'static str,
    y: usize,
    width: i64,
    previous_width: i64,
}

/// The outcomes the overview follows over time, as a share of the verifications started.
const TRENDS: [(&str, &str, Figure); 5] = [
    ("Approved", "verification.approved", Figure::Approved),
    ("Failed (wrong codes)", "verification.failed", Figure::Failed),
    ("Abandoned (code expired)", "verification.expired", Figure::Expired),
    ("Blocked (risk)", "verification.blocked", Figure::Blocked),
    ("Held for review", "verification.held", Figure::Held),
];

/// The period over time: started per slot, and each outcome's share, with charts.
struct Trends {
    every: &'static str,
    charts: Vec<String>,
    /// Slot, started, each outcome's share.
    rows: Vec<(String, i64, Vec<String>)>,
}

/// `filter` narrows the orders behind each point as the counters are (`&country=DE`, or empty).
fn trends(
    (brand, filter): (&str, &str),
    grain: Grain,
    starts: &[i64],
    to: i64,
    (now, before): (&[Counters], &[Counters]),
) -> Trends {
    let labels: Vec<String> = starts.iter().map(|s| slot_label(grain, *s)).collect();
    let links = |figure: Figure| orders::slot_links(brand, figure, (starts, to), filter);
    let started = |c: &Counters| get(c, "event", "verification.created");
    let share =
        |c: &Counters, event: &str| (started(c) > 0).then(|| get(c, "event", event) as f64 * 100.0 / started(c) as f64);
    let count = |cs: &[Counters]| cs.iter().map(|c| Some(started(c) as f64)).collect();
    let mut charts = vec![trend_chart(
        "trend-started",
        "Verifications started".into(),
        "verifications",
        &labels,
        (count(now), count(before)),
        links(Figure::Started),
    )];
    for (label, event, figure) in TRENDS {
        let shares = |cs: &[Counters]| cs.iter().map(|c| share(c, event)).collect();
        let id = format!("trend-{}", figure.as_str());
        charts.push(trend_chart(
            &id,
            format!("{label}, share of started"),
            "% of started",
            &labels,
            (shares(now), shares(before)),
            links(figure),
        ));
    }
    let rows = labels
        .into_iter()
        .zip(now)
        .map(|(label, c)| (label, started(c), TRENDS.iter().map(|(_, event, _)| percent(share(c, event))).collect()))
        .collect();
    Trends { every: grain.as_str(), charts, rows }
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
    trends: Trends,
    trend_labels: [&'static str; 5],
    /// The slice shown (`slice` parameter) and in words, empty for all, and what can be chosen.
    slice: String,
    slice_label: String,
    slices: Vec<(&'static str, Vec<(String, String)>)>,
}

/// What the overview can be narrowed to: the countries and risk reasons counted in the period,
/// and the decisions, as (group, [(`slice` parameter, label)]).
fn slice_choices(current: &Counters) -> Vec<(&'static str, Vec<(String, String)>)> {
    let counted = |dimension: &str| {
        let mut values: Vec<String> =
            current.iter().filter(|((d, _), n)| d == dimension && **n > 0).map(|((_, v), _)| v.clone()).collect();
        values.sort();
        values
    };
    // `ZZ` counts numbers of no known country, which no slice holds.
    let countries = counted("country").into_iter().filter(|c| c != "ZZ").map(Slice::Country);
    let decisions = Decision::ALL.into_iter().map(Slice::Decision);
    let reasons = counted("risk_reason").into_iter().filter_map(|r| RiskReason::parse(&r)).map(Slice::Reason);
    fn choices(slices: impl Iterator<Item = Slice>) -> Vec<(String, String)> {
        slices.map(|s| (s.param(), s.value().replace('_', " "))).collect()
    }
    vec![("Country", choices(countries)), ("Decision", choices(decisions)), ("Risk reason", choices(reasons))]
}

/// A brand's counters and the period before's, narrowed to `slice` when one is asked for.
fn narrow(slice: Option<&Slice>, current: &Counters, previous: Counters) -> (Counters, Counters) {
    match slice {
        Some(slice) => (narrowed(current, slice), narrowed(&previous, slice)),
        None => (current.clone(), previous),
    }
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

fn overview_lines(current: &Counters, previous: &Counters) -> Vec<OverviewLine> {
    analytics::overview(&|e| get(current, "event", e), &|e| get(previous, "event", e))
}

#[utoipa::path(
    get, path = "/admin/overview", tag = "admin", params(OverviewQuery, Every, SliceQuery),
    responses(
        (status = 200, description = "Outcomes of the period's verifications against the period before, and over time", content_type = "text/html"),
        (status = 400, description = "A period, `every` or `slice` out of range", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn overview(
    State(app): State<Arc<App>>,
    Scoped(loaded): Scoped,
    Query(every): Query<Every>,
    Query(narrowing): Query<SliceQuery>,
) -> Result<Response, PageError> {
    let grain = every.hours_to_weeks(loaded.days)?;
    let slice = narrowing.slice()?;
    let (hourly, starts) = slots_of(grain, &loaded);
    let dimensions = slice.as_ref().map_or(&["event"][..], Slice::dimensions);
    let (now, before) =
        dashboards::per_slot(&app, &loaded.brand, dimensions, (hourly, starts.clone()), loaded.to).await?;
    let (now, before): (Vec<Counters>, Vec<Counters>) = match &slice {
        Some(slice) => {
            (now.iter().map(|c| narrowed(c, slice)).collect(), before.iter().map(|c| narrowed(c, slice)).collect())
        }
        None => (now, before),
    };
    let filter = slice.as_ref().map(|s| format!("&{}", s.orders_query())).unwrap_or_default();
    let trends = trends((&loaded.brand, &filter), grain, &starts, loaded.to, (&now, &before));
    let previous = loaded.previous(&app).await?;
    // The time to approve is counted for the whole brand only.
    let (median, previous_median) = (seconds(median_seconds(&loaded.current)), seconds(median_seconds(&previous)));
    let (current, previous) = narrow(slice.as_ref(), &loaded.current, previous);
    let computed = overview_lines(&current, &previous);
    let slices = slice_choices(&loaded.current);
    let Loaded { brand, brand_name, days, from, to, .. } = loaded;
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
            link: figure_of(l.metric).map(|f| orders::link(&brand, f, from, to) + &filter),
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
    let trend_labels = TRENDS.map(|(label, _, _)| label);
    let html = OverviewPage {
        brand,
        brand_name,
        days,
        lines,
        bars,
        chart_height,
        median,
        previous_median,
        trends,
        trend_labels,
        slice_label: slice.as_ref().map(Slice::label).unwrap_or_default(),
        slice: slice.map(|s| s.param()).unwrap_or_default(),
        slices,
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

#[utoipa::path(
    get, path = "/admin/overview.csv", tag = "admin", params(OverviewQuery, SliceQuery),
    responses(
        (status = 200, description = "The overview as CSV", content_type = "text/csv"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn overview_csv(
    State(app): State<Arc<App>>,
    Scoped(loaded): Scoped,
    Query(narrowing): Query<SliceQuery>,
) -> Result<Response, PageError> {
    let slice = narrowing.slice()?;
    let previous = loaded.previous(&app).await?;
    let (current, previous) = narrow(slice.as_ref(), &loaded.current, previous);
    let lines = overview_lines(&current, &previous);
    let rate = |r: Option<f64>| r.map(|r| format!("{r:.2}")).unwrap_or_default();
    let mut csv = String::from("metric,count,share_of_started_percent,previous_share_percent\r\n");
    for l in lines {
        csv.push_str(&format!("{},{},{},{}\r\n", l.metric, l.count, rate(l.rate), rate(l.previous_rate)));
    }
    if slice.is_none() {
        // Counted for the whole brand only.
        let median = median_seconds(&loaded.current).map(|s| s.to_string()).unwrap_or_default();
        csv.push_str(&format!("median seconds to approve,{median},,\r\n"));
    }
    let (brand, days) = (loaded.brand, loaded.days);
    Ok(csv_response(csv, &format!("{brand}-overview-{days}d.csv")))
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
    trends: FunnelTrends,
}

/// The steps after the start followed over time, as a share of the verifications started.
const FUNNEL_TRENDS: [(&str, Option<Figure>); 4] =
    [("SMS delivered", None), ("code entered", None), ("approved", Some(Figure::Approved)), ("order completed", None)];

/// The funnel per slot: charts of each step's share of started, and its counts as a table.
struct FunnelTrends {
    every: &'static str,
    charts: Vec<String>,
    labels: Vec<&'static str>,
    /// Slot, the count of every step.
    rows: Vec<(String, Vec<i64>)>,
}

fn funnel_trends(
    brand: &str,
    grain: Grain,
    starts: &[i64],
    to: i64,
    (now, before): (&[Counters], &[Counters]),
) -> FunnelTrends {
    let labels: Vec<String> = starts.iter().map(|s| slot_label(grain, *s)).collect();
    let steps = |c: &Counters| analytics::funnel(&|d, v| get(c, d, v));
    let (steps_now, steps_before): (Vec<_>, Vec<_>) =
        (now.iter().map(steps).collect(), before.iter().map(steps).collect());
    let share = |slot: &[(&str, i64)], step: &str| {
        let started = slot.first().map_or(0, |(_, n)| *n);
        let count = slot.iter().find(|(label, _)| *label == step).map_or(0, |(_, n)| *n);
        (started > 0).then(|| count as f64 * 100.0 / started as f64)
    };
    let charts = FUNNEL_TRENDS
        .iter()
        .map(|(step, figure)| {
            let shares = |slots: &[Vec<(&str, i64)>]| slots.iter().map(|slot| share(slot, step)).collect();
            let links = figure.map_or_else(Vec::new, |f| orders::slot_links(brand, f, (starts, to), ""));
            trend_chart(
                &format!("funnel-{}", step.replace(' ', "-")),
                format!("{}, share of started", capitalised(step)),
                "% of started",
                &labels,
                (shares(&steps_now), shares(&steps_before)),
                links,
            )
        })
        .collect();
    let step_labels = steps_now.first().map(|slot| slot.iter().map(|(label, _)| *label).collect()).unwrap_or_default();
    let rows = labels
        .into_iter()
        .zip(&steps_now)
        .map(|(label, slot)| (label, slot.iter().map(|(_, n)| *n).collect()))
        .collect();
    FunnelTrends { every: grain.as_str(), charts, labels: step_labels, rows }
}

#[utoipa::path(
    get, path = "/admin/funnel", tag = "admin", params(OverviewQuery, Every),
    responses(
        (status = 200, description = "Funnel from started to completed, the attempts distribution, and the funnel over time", content_type = "text/html"),
        (status = 400, description = "A period or `every` out of range", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn funnel(
    State(app): State<Arc<App>>,
    Scoped(loaded): Scoped,
    Query(every): Query<Every>,
) -> Result<Response, PageError> {
    let grain = every.hours_to_weeks(loaded.days)?;
    let (hourly, starts) = slots_of(grain, &loaded);
    let dimensions = &["event", "attempts_to_approve", "failed_attempt", "verified_outcome"];
    let (now, before) =
        dashboards::per_slot(&app, &loaded.brand, dimensions, (hourly, starts.clone()), loaded.to).await?;
    let trends = funnel_trends(&loaded.brand, grain, &starts, loaded.to, (&now, &before));
    let Loaded { brand, brand_name, days, current, .. } = loaded;
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
    page(StatusCode::OK, FunnelPage { brand, brand_name, days, steps, attempts, trends }.render(), Vec::new())
}

#[utoipa::path(
    get, path = "/admin/funnel.csv", tag = "admin", params(OverviewQuery),
    responses(
        (status = 200, description = "The funnel as CSV", content_type = "text/csv"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn funnel_csv(Scoped(Loaded { brand, days, current, .. }): Scoped) -> Result<Response, PageError> {
    let mut csv = String::from("step,count\r\n");
    for (label, count) in analytics::funnel(&|d, v| get(&current, d, v)) {
        csv.push_str(&format!("{label},{count}\r\n"));
    }
    Ok(csv_response(csv, &format!("{brand}-funnel-{days}d.csv")))
}
