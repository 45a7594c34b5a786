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
use super::dashboard::{Loaded, OverviewQuery, Scoped, csv_response};
use super::page;
use crate::analytics::day_of;
use crate::analytics::market::{
    self as compare, Grain, Tallies, Tally, against_market, change, others_figure, year_of, year_on_year, year_start,
};
use crate::app::App;
use crate::http::error::PageError;
use crate::records::market::{MarketMetric, Reference};
use crate::service::dashboards::{self, MarketRead};

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Every {
    /// One point per `day`, `week` or `month` (default: by the period's length).
    every: Option<String>,
}

fn grain(query: &Every, days: i64) -> Result<Grain, PageError> {
    match query.every.as_deref() {
        None | Some("") => Ok(Grain::for_days(days)),
        Some(name) => Grain::parse(name).ok_or_else(|| PageError::bad_request("`every` must be day, week or month.")),
    }
}

/// How a slot is named on the axis and in the table.
fn slot_label(grain: Grain, start: i64) -> String {
    let day = crate::clock::day(start);
    match grain {
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
    others: Option<(f64, usize)>,
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

    fn others(&self) -> Option<f64> {
        self.others.map(|(figure, _)| figure)
    }

    fn difference(&self) -> Option<f64> {
        Some(self.own? - self.others()?)
    }
}

/// One metric: the period's figures against the period before, the trend, the same as a table.
struct MetricView {
    slug: &'static str,
    label: &'static str,
    unit: String,
    own: String,
    own_change: String,
    others: String,
    others_change: String,
    /// "3 other brands" or why there is no aggregate.
    contributors: String,
    difference: String,
    verdict: &'static str,
    chart: String,
    /// Slot, the brand, the others, the difference.
    rows: Vec<[String; 4]>,
}

/// The comparison's tallies: per slot of the period, and the period against the one before.
struct Comparison {
    grain: Grain,
    starts: Vec<i64>,
    slots: Tallies,
    /// Slot 0: the period before; slot 1: the period.
    periods: Tallies,
}

fn comparison(app: &App, loaded: &Loaded, grain: Grain, read: &MarketRead) -> Comparison {
    let rates = &app.settings.market.exchange_rates;
    let starts = grain.slot_starts(loaded.from, loaded.to);
    let (before, now) = (day_of(loaded.from - (loaded.to - loaded.from)), day_of(loaded.from));
    Comparison {
        grain,
        slots: compare::tally(&read.daily, &loaded.brand, &starts, rates),
        periods: compare::tally(&read.daily, &loaded.brand, &[before, now], rates),
        starts,
    }
}

fn metric_view(c: &Comparison, metric: MarketMetric, brand_name: &str, currency: &str) -> MetricView {
    let unit = metric.unit(currency);
    let (before, now) = (Compared::in_slot(&c.periods, 0, metric), Compared::in_slot(&c.periods, 1, metric));
    let (own_change, others_change) = (change(before.own, now.own), change(before.others(), now.others()));
    let per_slot: Vec<Compared> =
        c.slots.own.iter().zip(&c.slots.others).map(|(own, others)| Compared::of(own, others, metric)).collect();
    let labels: Vec<String> = c.starts.iter().map(|s| slot_label(c.grain, *s)).collect();
    let chart = LineChart {
        id: format!("market-{}", metric.as_str()),
        title: format!("{} per {}", metric.label(), c.grain.as_str()),
        unit: unit.clone(),
        labels: labels.clone(),
        lines: vec![
            Line {
                name: brand_name.to_owned(),
                description: "this brand".into(),
                style: Style::Brand,
                values: per_slot.iter().map(|p| p.own).collect(),
            },
            Line {
                name: "Other brands".into(),
                description: format!("together, where at least {} contribute", compare::MIN_OTHER_BRANDS),
                style: Style::Others,
                values: per_slot.iter().map(Compared::others).collect(),
            },
        ],
        markers: Vec::new(),
    }
    .render();
    let rows = labels
        .into_iter()
        .zip(&per_slot)
        .map(|(label, p)| [label, shown(p.own), shown(p.others()), signed(p.difference(), "")])
        .collect();
    let total = Compared::of(&c.slots.own_total, &c.slots.others_total, metric);
    MetricView {
        slug: metric.as_str(),
        label: metric.label(),
        own: shown(total.own),
        own_change: percent_change(own_change),
        others: shown(total.others()),
        others_change: percent_change(others_change),
        contributors: total.others.map_or_else(
            || format!("fewer than {} other brands with figures", compare::MIN_OTHER_BRANDS),
            |(_, n)| format!("{n} other brands"),
        ),
        difference: signed(total.difference(), ""),
        verdict: against_market(own_change, others_change),
        unit,
        chart,
        rows,
    }
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
                    },
                    Line {
                        name: format!("{brand_name}: {}", metric.label()),
                        description: "this brand, per year".into(),
                        style: Style::Brand,
                        values: rows.iter().map(|r| r.brand_index).collect(),
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
    let grain = grain(&query, loaded.days)?;
    let read = dashboards::market(&app, &loaded.brand, loaded.from, loaded.to, true).await?;
    let currency = app.settings.market.exchange_rates.base().code().to_owned();
    let c = comparison(&app, &loaded, grain, &read);
    let metrics = MarketMetric::ALL.iter().map(|m| metric_view(&c, *m, &loaded.brand_name, &currency)).collect();
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
    let grain = grain(&query, loaded.days)?;
    let read = dashboards::market(&app, &loaded.brand, loaded.from, loaded.to, false).await?;
    let currency = app.settings.market.exchange_rates.base().code().to_owned();
    let c = comparison(&app, &loaded, grain, &read);
    let number = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let mut csv =
        String::from("period_start,every,metric,unit,brand,other_brands,difference,other_brands_contributing\r\n");
    for metric in MarketMetric::ALL {
        for ((start, own), others) in c.starts.iter().zip(&c.slots.own).zip(&c.slots.others) {
            let p = Compared::of(own, others, metric);
            let contributing = p.others.map(|(_, n)| n.to_string()).unwrap_or_default();
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{contributing}\r\n",
                crate::clock::day(*start),
                grain.as_str(),
                metric.as_str(),
                metric.unit(&currency).replace(',', ""),
                number(p.own),
                number(p.others()),
                number(p.difference()),
            ));
        }
    }
    Ok(csv_response(csv, &format!("{}-market-{}d-{}.csv", loaded.brand, loaded.days, grain.as_str())))
}
