//! What every dashboard page shares: the brand and period of the request with its counters
//! (`Scoped`) and CSV answers.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::chart::{Line, LineChart, Style};
use super::{AdminUser, visible_brand};
use crate::analytics::market::Grain;
use crate::analytics::slice::Slice;
use crate::app::App;
use crate::http::error::{PageError, capitalised};
use crate::service::dashboards::{self, Counters};

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    /// The brand's slug.
    brand: String,
    /// The period: the last this many days (1–365, default 7).
    days: Option<i64>,
}

/// What every page here starts from: the brand and period, and the period's counters.
pub struct Loaded {
    pub brand: String,
    pub brand_name: String,
    pub days: i64,
    /// The period `[from, to)` in whole hours, fixed once per request (`period_bounds`).
    pub from: i64,
    pub to: i64,
    pub current: Counters,
}

impl Loaded {
    /// The counters of the span just before the period, for comparisons.
    pub async fn previous(&self, app: &App) -> Result<Counters, PageError> {
        Ok(dashboards::counters(app, &self.brand, self.from - (self.to - self.from), self.from).await?)
    }
}

/// A signed-in user's request for a brand and period they may see, with its counters; anything
/// else is answered with the sign-in form or an error page.
pub struct Scoped(pub Loaded);

impl FromRequestParts<Arc<App>> for Scoped {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, app: &Arc<App>) -> Result<Self, PageError> {
        let AdminUser(user) = AdminUser::from_request_parts(parts, app).await?;
        let Query(query) = Query::<OverviewQuery>::from_request_parts(parts, app)
            .await
            .map_err(|_| PageError::bad_request("This page needs ?brand=SLUG, and days=1 to 365 if given."))?;
        let brand = visible_brand(app, &user, &query.brand)?;
        let days = query.days.unwrap_or(7);
        if !(1..=365).contains(&days) {
            return Err(PageError::bad_request("The period must be 1 to 365 days."));
        }
        let (from, to) = dashboards::period_bounds(app.clock.now(), days);
        let current = dashboards::counters(app, brand.slug.as_str(), from, to).await?;
        Ok(Scoped(Loaded { brand: brand.slug.to_string(), brand_name: brand.name.clone(), days, from, to, current }))
    }
}

pub fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{r:.1} %"))
}

pub fn csv_response(csv: String, filename: &str) -> Response {
    let mut response = (StatusCode::OK, csv).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}

/// The part of the brand's verifications a page is narrowed to.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SliceQuery {
    /// Only verifications of one country, risk decision or risk reason: `country:DE`,
    /// `decision:deny`, `reason:velocity_number`.
    slice: Option<String>,
}

impl SliceQuery {
    pub fn slice(&self) -> Result<Option<Slice>, PageError> {
        let given = self.slice.as_deref().filter(|s| !s.trim().is_empty());
        given.map(Slice::parse).transpose().map_err(|e| PageError::bad_request(capitalised(&e.to_string())))
    }
}

/// The counters of a slice as the whole brand's read (`event` by type).
pub fn narrowed(counters: &Counters, slice: &Slice) -> Counters {
    let mut narrowed = Counters::new();
    for ((dimension, value), count) in counters {
        if let Some(event) = slice.event_of(dimension, value) {
            *narrowed.entry(("event".to_owned(), event.to_owned())).or_default() += count;
        }
    }
    narrowed
}

/// Hourly points for longer periods would be too many to tell apart.
const MAX_DAYS_BY_HOUR: i64 = 7;

/// How long one point of a page's trends is.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Every {
    /// One point per `hour`, `day`, `week` (or `month` on the market page); by default by the
    /// period's length.
    every: Option<String>,
}

impl Every {
    pub fn every(&self) -> Option<&str> {
        self.every.as_deref().filter(|e| !e.is_empty())
    }

    /// Hours, days or weeks (the pages read from the hourly counters).
    pub fn hours_to_weeks(&self, days: i64) -> Result<Grain, PageError> {
        match self.every() {
            None => Ok(Grain::for_days_by_hour(days)),
            Some(name) => match Grain::parse(name).filter(|g| *g != Grain::Month) {
                // More points than a chart can show apart.
                Some(Grain::Hour) if days > MAX_DAYS_BY_HOUR => {
                    Err(PageError::bad_request("Points per hour are for periods of up to 7 days."))
                }
                Some(grain) => Ok(grain),
                None => Err(PageError::bad_request("`every` must be hour, day or week.")),
            },
        }
    }
}

/// Where the slots of a trend start, and whether they are read from the hourly counters.
pub fn slots_of(grain: Grain, loaded: &Loaded) -> (bool, Vec<i64>) {
    (grain == Grain::Hour, grain.slot_starts(loaded.from, loaded.to))
}

/// A chart of one figure per slot, the period before as a faint line, each point of this period
/// leading to `links`.
pub fn trend_chart(
    id: &str,
    title: String,
    unit: &str,
    labels: &[String],
    (now, before): (Vec<Option<f64>>, Vec<Option<f64>>),
    links: Vec<String>,
) -> String {
    LineChart {
        id: id.to_owned(),
        title,
        unit: unit.to_owned(),
        labels: labels.to_vec(),
        lines: vec![
            Line {
                name: "This period".into(),
                description: "per point".into(),
                style: Style::Brand,
                values: now,
                links,
            },
            Line {
                name: "The period before".into(),
                description: "faint: the same span one period earlier".into(),
                style: Style::Earlier,
                values: before,
                links: Vec::new(),
            },
        ],
        markers: Vec::new(),
    }
    .render()
}
