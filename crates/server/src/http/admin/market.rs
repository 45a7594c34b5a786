//! The brand's fraud against the anonymised aggregate of the other brands (shown only where
//! enough of them contribute, none named), as trends by day, week or month, and published market
//! series set year on year beside the brand figure they are mapped to.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::chart::{Line, LineChart, Style};
use super::dashboard::{Every, Loaded, OverviewQuery, Scoped, csv_response};
use super::{orders, page};
use crate::analytics::day_of;
use crate::analytics::drill::Figure;
use crate::analytics::market::{
    self as compare, Grain, Tallies, Tally, against_market, change, others_figure, year_of, year_on_year, year_start,
};
use crate::app::App;
use crate::http::error::PageError;
use crate::records::market::{MarketMetric, Reference};
use crate::service::dashboards::{self, MarketRead};

fn grain(query: &Every, days: i64) -> Result<Grain, PageError> {
    match query.every() {
        None => Ok(Grain::for_days(days)),
        // The market is compared on daily counters: no hours.
        Some(name) => Grain::parse(name)
            .filter(|g| *g != Grain::Hour)
            .ok_or_else(|| PageError::bad_request("`every` must be day, week or month.")),
    }
}

/// How a slot is named on the axis and in the table.
pub fn slot_label(grain: Grain, start: i64) -> String {
    let day = crate::clock::day(start);
    match grain {
        Grain::Hour => crate::clock::rfc3339(start).get(5..13).unwrap_or_default().replace('T', " ") + "h",
        Grain::Month => day.get(..7).unwrap_or(&day).to_owned(),
        Grain::Day | Grain::Week => day,
    }
}

fn shown(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"))
}

fn signed(value: Option<f64>, unit: &str) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:+.2}{unit}"))
}

fn percent_change(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:+.0} %"))
}

/// The brand's figure, the others' (and how many contributed) and the difference.
struct Compared {
    own: Option<f64>,
    others: Option<f64>,
}

impl Compared {
    fn of(own: &Tally, others: &[Tally], metric: MarketMetric) -> Self {
        Self { own: own.figure(metric), others: others_figure(others, metric) }
    }

    /// The figures of slot `slot` of `tallies` (none where the slot is missing).
    fn in_slot(tallies: &Tallies, slot: usize, metric: MarketMetric) -> Self {
        let nothing = Tally::default();
        let others = tallies.others.get(slot).map_or(&[][..], Vec::as_slice);
        Self::of(tallies.own.get(slot).unwrap_or(&nothing), others, metric)
    }

    fn difference(&self) -> Option<f64> {
        Some(self.own? - self.others?)
    }
}

/// One figure over a period against the period before, for the brand and the other brands.
pub struct MetricSummary {
    pub slug: &'static str,
    pub label: &'static str,
    pub unit: String,
    pub own: String,
    pub own_change: String,
    pub others: String,
    pub others_change: String,
    /// "3 other brands" or why there is no aggregate.
    pub contributors: String,
    pub difference: String,
    pub verdict: &'static str,
}

/// The summary of `metric` from tallies of two slots: the period before, then the period.
pub fn summarise(periods: &Tallies, metric: MarketMetric, currency: &str) -> MetricSummary {
    let (before, now) = (Compared::in_slot(periods, 0, metric), Compared::in_slot(periods, 1, metric));
    let (own_change, others_change) = (change(before.own, now.own), change(before.others, now.others));
    MetricSummary {
        slug: metric.as_str(),
        label: metric.label(),
        unit: metric.unit(currency),
        own: shown(now.own),
        own_change: percent_change(own_change),
        others: shown(now.others),
        others_change: percent_change(others_change),
        // How many exactly would tell when single brands were active.
        contributors: if now.others.is_some() {
            format!("at least {} other brands", compare::MIN_OTHER_BRANDS)
        } else {
            format!("fewer than {} other brands with figures, or one dominates", compare::MIN_OTHER_BRANDS)
        },
        difference: signed(now.difference(), ""),
        verdict: against_market(own_change, others_change),
    }
}

/// One metric: the summary, the trend as a chart, the same as a table.
struct MetricView {
    summary: MetricSummary,
    chart: String,
    /// Slot, the brand, the others, the difference; the orders behind the brand's figure.
    rows: Vec<([String; 4], String)>,
}

/// The comparison's tallies: per slot of the period, and the period against the one before.
struct Comparison {
    grain: Grain,
    /// The end of the period.
    to: i64,
    starts: Vec<i64>,
    slots: Tallies,
    /// Slot 0: the period before; slot 1: the period.
    periods: Tallies,
}

fn comparison(app: &App, loaded: &Loaded, grain: Grain, read: &MarketRead) -> Comparison {
    let starts = grain.slot_starts(loaded.from, loaded.to);
    let before = loaded.from - (loaded.to - loaded.from);
    Comparison {
        grain,
        to: loaded.to,
        slots: compare::tally(&read.daily, &loaded.brand, &starts, &app.settings.market.exchange_rates),
        periods: periods(app, &loaded.brand, (before, loaded.from), read),
        starts,
    }
}

/// What both the page and its CSV start from: the comparison at the asked grain, what was read
/// (the published figures too, if `published`), and the currency losses are compared in.
async fn compared(
    app: &App,
    loaded: &Loaded,
    query: &Every,
    published: bool,
) -> Result<(Comparison, MarketRead, String), PageError> {
    let grain = grain(query, loaded.days)?;
    let span = (loaded.from - (loaded.to - loaded.from), loaded.to);
    let read = dashboards::market(app, &loaded.brand, span, published).await?;
    let currency = app.settings.market.exchange_rates.base().code().to_owned();
    Ok((comparison(app, loaded, grain, &read), read, currency))
}

/// Tallies of the period before (from `before`) and of the period (from `from`).
pub fn periods(app: &App, brand: &str, (before, from): (i64, i64), read: &MarketRead) -> Tallies {
    compare::tally(&read.daily, brand, &[day_of(before), day_of(from)], &app.settings.market.exchange_rates)
}

fn metric_view(c: &Comparison, metric: MarketMetric, (brand, brand_name): (&str, &str), currency: &str) -> MetricView {
    let summary = summarise(&c.periods, metric, currency);
    let per_slot: Vec<Compared> =
        c.slots.own.iter().zip(&c.slots.others).map(|(own, others)| Compared::of(own, others, metric)).collect();
    let labels: Vec<String> = c.starts.iter().map(|s| slot_label(c.grain, *s)).collect();
    let links: Vec<String> = c
        .starts
        .iter()
        .enumerate()
        .map(|(i, start)| {
            let end = c.starts.get(i + 1).copied().unwrap_or(c.to);
            orders::link(brand, Figure::from(metric), *start, end)
        })
        .collect();
    let chart = LineChart {
        id: format!("market-{}", metric.as_str()),
        title: format!("{} per {}", metric.label(), c.grain.as_str()),
        unit: summary.unit.clone(),
        labels: labels.clone(),
        lines: vec![
            Line {
                name: brand_name.to_owned(),
                description: "this brand".into(),
                style: Style::Brand,
                values: per_slot.iter().map(|p| p.own).collect(),
                links: links.clone(),
            },
            Line {
                name: "Other brands".into(),
                description: format!("together, where at least {} contribute", compare::MIN_OTHER_BRANDS),
                style: Style::Others,
                values: per_slot.iter().map(|p| p.others).collect(),
                links: Vec::new(),
            },
        ],
        markers: Vec::new(),
    }
    .render();
    let rows = labels
        .into_iter()
        .zip(&per_slot)
        .zip(links)
        .map(|((label, p), link)| ([label, shown(p.own), shown(p.others), signed(p.difference(), "")], link))
        .collect();
    MetricView { summary, chart, rows }
}

/// A published series beside the brand figure it is mapped to, year on year.
struct PublishedView {
    metric: String,
    source: String,
    compare_label: &'static str,
    compare_unit: String,
    chart: String,
    /// Year, published value, its index, its change, the brand's figure, its index, its change.
    rows: Vec<[String; 7]>,
}

fn published_views(app: &App, read: &MarketRead, brand: &str, brand_name: &str) -> Vec<PublishedView> {
    // A series is one metric over the years; its points may come from different editions of a
    // survey, each named as its source.
    let mut series: BTreeMap<(&str, MarketMetric), Vec<&Reference>> = BTreeMap::new();
    for r in &read.references {
        if let Some(metric) = r.compare_with {
            series.entry((r.metric.as_str(), metric)).or_default().push(r);
        }
    }
    let first_year = read.history.iter().map(|(day, ..)| year_of(*day)).min();
    let years: Vec<i32> =
        first_year.map(|first| (first..=year_of(app.clock.now().millis())).collect()).unwrap_or_default();
    let starts: Vec<i64> = years.iter().map(|y| year_start(*y)).collect();
    let yearly = compare::tally(&read.history, brand, &starts, &app.settings.market.exchange_rates);
    series
        .into_iter()
        .map(|((metric_name, metric), references)| {
            let mut sources: Vec<&str> = references.iter().map(|r| r.source.as_str()).collect();
            sources.dedup();
            let source = sources.join("; ");
            let brand_years: BTreeMap<i32, f64> = years
                .iter()
                .zip(&yearly.own)
                .filter_map(|(year, tally)| Some((*year, tally.figure(metric)?)))
                .collect();
            let rows = year_on_year(&references, &brand_years);
            let chart = LineChart {
                id: format!("published-{metric_name}"),
                title: format!("{metric_name} against {} of {brand_name}, year on year", metric.label()),
                unit: "index, first year = 100".into(),
                labels: rows.iter().map(|r| r.year.to_string()).collect(),
                lines: vec![
                    Line {
                        name: metric_name.to_owned(),
                        description: format!("published: {source}; national, yearly"),
                        style: Style::Published,
                        values: rows.iter().map(|r| r.published_index).collect(),
                        links: Vec::new(),
                    },
                    Line {
                        name: format!("{brand_name}: {}", metric.label()),
                        description: "this brand, per year".into(),
                        style: Style::Brand,
                        values: rows.iter().map(|r| r.brand_index).collect(),
                        links: Vec::new(),
                    },
                ],
                markers: Vec::new(),
            }
            .render();
            let value = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v}"));
            PublishedView {
                metric: metric_name.to_owned(),
                source,
                compare_label: metric.label(),
                compare_unit: metric.unit(app.settings.market.exchange_rates.base().code()),
                chart,
                // The chart spans every year; the table only those with a figure.
                rows: rows
                    .iter()
                    .filter(|r| r.published.is_some() || r.brand.is_some())
                    .map(|r| {
                        [
                            r.year.to_string(),
                            value(r.published),
                            r.published_index.map_or_else(|| "–".to_owned(), |v| format!("{v:.0}")),
                            percent_change(r.published_change),
                            shown(r.brand),
                            r.brand_index.map_or_else(|| "–".to_owned(), |v| format!("{v:.0}")),
                            percent_change(r.brand_change),
                        ]
                    })
                    .collect(),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin_market.html")]
struct MarketPage {
    brand: String,
    brand_name: String,
    days: i64,
    every: &'static str,
    grains: [&'static str; 3],
    metrics: Vec<MetricView>,
    published: Vec<PublishedView>,
    /// Published figures set beside no brand figure.
    context: Vec<Reference>,
}

#[utoipa::path(
    get, path = "/admin/market", tag = "admin", params(OverviewQuery, Every),
    responses(
        (status = 200, description = "The brand's fraud against the anonymised other brands, and published market series", content_type = "text/html"),
        (status = 400, description = "A period or `every` out of range", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn market(
    State(app): State<Arc<App>>,
    Scoped(loaded): Scoped,
    Query(query): Query<Every>,
) -> Result<Response, PageError> {
    let (c, read, currency) = compared(&app, &loaded, &query, true).await?;
    let grain = c.grain;
    let names = (loaded.brand.as_str(), loaded.brand_name.as_str());
    let metrics = MarketMetric::ALL.iter().map(|m| metric_view(&c, *m, names, &currency)).collect();
    let published = published_views(&app, &read, &loaded.brand, &loaded.brand_name);
    let html = MarketPage {
        metrics,
        published,
        context: read.references.into_iter().filter(|r| r.compare_with.is_none()).collect(),
        brand: loaded.brand,
        brand_name: loaded.brand_name,
        days: loaded.days,
        every: grain.as_str(),
        grains: ["day", "week", "month"],
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

#[utoipa::path(
    get, path = "/admin/market.csv", tag = "admin", params(OverviewQuery, Every),
    responses(
        (status = 200, description = "Each fraud figure of the brand and of the other brands together per day, week or month, as CSV", content_type = "text/csv"),
        (status = 400, description = "A period or `every` out of range", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn market_csv(
    State(app): State<Arc<App>>,
    Scoped(loaded): Scoped,
    Query(query): Query<Every>,
) -> Result<Response, PageError> {
    let (c, _, currency) = compared(&app, &loaded, &query, false).await?;
    let grain = c.grain;
    let number = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let mut csv = String::from("period_start,every,metric,unit,brand,other_brands,difference\r\n");
    for metric in MarketMetric::ALL {
        for ((start, own), others) in c.starts.iter().zip(&c.slots.own).zip(&c.slots.others) {
            let p = Compared::of(own, others, metric);
            csv.push_str(&format!(
                "{},{},{},{},{},{},{}\r\n",
                crate::clock::day(*start),
                grain.as_str(),
                metric.as_str(),
                metric.unit(&currency).replace(',', ""),
                number(p.own),
                number(p.others),
                number(p.difference()),
            ));
        }
    }
    Ok(csv_response(csv, &format!("{}-market-{}d-{}.csv", loaded.brand, loaded.days, grain.as_str())))
}
