//! The live monitor: a brand's events and alerts as they happen, one readable line per step,
//! grouped by order, filtered by event type, decision and country. The page shows the latest
//! events (also without JavaScript); a small script adds new ones from a server-sent event stream,
//! which resumes after a lost connection from the last event it had (`Last-Event-ID`), and keeps
//! the rate per minute.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::live_line::{self, Line};
use super::{AdminUser, SCRIPTED_PAGE_POLICY, page_with_policy, visible_brand};
use crate::app::App;
use crate::http::error::PageError;
use crate::records::Event;
use crate::records::alert::AlertFilter;
use crate::service::alerts::manage;
use crate::service::{admin, dashboards};

/// How often the stream looks for new events.
const POLL: Duration = Duration::from_millis(500);
/// A stream ends after this; the browser reconnects, and the session is checked again.
const STREAM_LIFETIME: Duration = Duration::from_secs(300);
/// Polls between checks that the session is still signed in (every few seconds).
const SESSION_CHECK_POLLS: u32 = 6;
const SHOWN: usize = 50;
/// Events read for the page: the filters pick up to `SHOWN` of them, the rate counts them all.
const SCANNED: i64 = 300;
const MINUTE_MS: i64 = 60_000;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// The brand's slug.
    brand: String,
    /// The period the other dashboards' links keep (1–365 days, default 7).
    days: Option<i64>,
    /// Only events of this family: `verification`, `risk`, `sms`, `check`, `review`, `network`,
    /// `order`, `alert`, `identity`.
    kind: Option<String>,
    /// Only the steps that decided so: `allow`, `review` or `deny`.
    decision: Option<String>,
    /// Only events naming this country of the number (ISO 3166, e.g. `DE`).
    country: Option<String>,
}

/// What the stream is asked for: it carries every event, and the page's script filters.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveStreamQuery {
    /// The brand's slug.
    brand: String,
    /// Only events after this id (default: from now on).
    after: Option<i64>,
}

/// The filters of the page, each empty for "all".
struct Filters {
    family: String,
    decision: String,
    country: String,
}

impl Filters {
    fn of(query: &LiveQuery) -> Self {
        let take = |value: &Option<String>| value.as_deref().unwrap_or_default().trim().to_owned();
        Self {
            family: take(&query.kind),
            decision: take(&query.decision),
            country: take(&query.country).to_uppercase(),
        }
    }

    fn admit(&self, row: &Row) -> bool {
        (self.family.is_empty() || row.line.family == self.family)
            && (self.decision.is_empty() || row.line.decision == Some(self.decision.as_str()))
            && (self.country.is_empty() || row.line.country.as_deref() == Some(self.country.as_str()))
    }
}

/// An event as the monitor shows it: its line in words, and its attributes for a closer look.
#[derive(serde::Serialize)]
struct Row {
    id: i64,
    at: String,
    /// `HH:MM:SS` (UTC).
    time: String,
    at_ms: i64,
    kind: &'static str,
    order_id: String,
    verification_id: String,
    details: String,
    #[serde(flatten)]
    line: Line,
}

impl From<Event> for Row {
    fn from(e: Event) -> Self {
        let at = crate::clock::rfc3339(e.at);
        Self {
            id: e.id,
            time: at.get(11..19).unwrap_or_default().to_owned(),
            at,
            at_ms: e.at,
            kind: e.kind.as_str(),
            order_id: e.order_id.unwrap_or_default(),
            verification_id: e.verification_id.unwrap_or_default(),
            line: live_line::line(e.kind, &e.attrs),
            details: if e.attrs.is_null() { String::new() } else { e.attrs.to_string() },
        }
    }
}

/// The steps of one order, newest first; an event of no order is a group of its own.
struct OrderGroup {
    order_id: String,
    rows: Vec<Row>,
}

/// Gives each row without a country of its own the country of its verification's number, as
/// another of its steps names it (the risk decision carries none): the country filter then keeps
/// an order's steps together.
fn with_countries(mut rows: Vec<Row>) -> Vec<Row> {
    let known: HashMap<String, String> = rows
        .iter()
        .filter(|r| !r.verification_id.is_empty())
        .filter_map(|r| Some((r.verification_id.clone(), r.line.country.clone()?)))
        .collect();
    for row in rows.iter_mut().filter(|r| r.line.country.is_none()) {
        row.line.country = known.get(&row.verification_id).cloned();
    }
    rows
}

/// Groups rows (newest first) by order, the order with the newest step first.
fn by_order(rows: Vec<Row>) -> Vec<OrderGroup> {
    let mut groups: Vec<OrderGroup> = Vec::new();
    for row in rows {
        match groups.iter_mut().find(|g| !row.order_id.is_empty() && g.order_id == row.order_id) {
            Some(group) => group.rows.push(row),
            None => groups.push(OrderGroup { order_id: row.order_id.clone(), rows: vec![row] }),
        }
    }
    groups
}

/// An alert not yet resolved, on top of the monitor.
struct OpenAlert {
    id: i64,
    title: &'static str,
    key: String,
    severity: &'static str,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "admin_live.html")]
struct LivePage {
    brand: String,
    brand_name: String,
    days: i64,
    open_alerts: Vec<OpenAlert>,
    groups: Vec<OrderGroup>,
    shown: usize,
    last_id: i64,
    /// Events in the minute before the page was made (all, whatever the filters; of the last
    /// `SCANNED` at most).
    per_minute: usize,
    /// Their ages in milliseconds, space-separated: the script counts on from them.
    recent: String,
    filters: Filters,
    families: &'static [(&'static str, &'static str)],
    decisions: &'static [&'static str],
    /// The countries of the events read, for the filter.
    countries: Vec<String>,
    script: String,
}

#[utoipa::path(
    get, path = "/admin/live", tag = "admin", params(LiveQuery),
    responses(
        (status = 200, description = "The latest events, kept up to date by the event stream", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn live(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<LiveQuery>,
) -> Result<Response, PageError> {
    let brand = visible_brand(&app, &user, &query.brand)?;
    let latest = dashboards::latest_events(&app, brand.slug.as_str(), SCANNED).await?;
    let last_id = latest.first().map_or(0, |e| e.id);
    let now = app.clock.now().millis();
    let filters = Filters::of(&query);
    // How long ago (ms) each event of the last minute was, for the script's rate.
    let recent: Vec<String> =
        latest.iter().filter(|e| e.at > now - MINUTE_MS).map(|e| (now - e.at).to_string()).collect();
    let rows = with_countries(latest.into_iter().map(Row::from).collect());
    let mut countries: Vec<String> = rows.iter().filter_map(|r| r.line.country.clone()).collect();
    countries.extend((!filters.country.is_empty()).then(|| filters.country.clone()));
    countries.sort();
    countries.dedup();
    let shown: Vec<Row> = rows.into_iter().filter(|r| filters.admit(r)).take(SHOWN).collect();
    // Raised "since the end of time": the list's unresolved alerts only, however old.
    let unresolved = AlertFilter { from: i64::MAX, to: i64::MAX, ..AlertFilter::default() };
    let alerts = manage::list(&app.store, &user.actor(), brand.slug.as_str(), unresolved).await?;
    let open_alerts = alerts
        .iter()
        .map(|a| OpenAlert {
            id: a.id,
            title: a.rule.title(),
            key: a.key.clone(),
            severity: a.severity.as_str(),
            status: a.status.as_str(),
        })
        .collect();
    let html = LivePage {
        brand: brand.slug.to_string(),
        brand_name: brand.name.clone(),
        days: query.days.unwrap_or(7).clamp(1, 365),
        open_alerts,
        shown: shown.len(),
        groups: by_order(shown),
        last_id,
        per_minute: recent.len(),
        recent: recent.join(" "),
        filters,
        families: &live_line::FAMILIES,
        decisions: &live_line::DECISIONS,
        countries,
        script: crate::http::pages::assets::url("admin-live.js"),
    }
    .render();
    page_with_policy(StatusCode::OK, html, Vec::new(), SCRIPTED_PAGE_POLICY)
}

#[utoipa::path(
    get, path = "/admin/live/events", tag = "admin", params(LiveStreamQuery),
    responses(
        (status = 200, description = "Server-sent events: one `data:` JSON object per event, its id as the SSE id", content_type = "text/event-stream"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn live_events(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<LiveStreamQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let brand = visible_brand(&app, &user, &query.brand)?;
    let slug = brand.slug.to_string();
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let after = match resume.or(query.after) {
        Some(after) => after,
        None => dashboards::latest_events(&app, &slug, 1).await?.first().map_or(0, |e| e.id),
    };
    let ends = tokio::time::Instant::now() + STREAM_LIFETIME;
    let token = super::cookie(&headers, super::SESSION_COOKIE).unwrap_or_default().to_owned();
    let batches = futures_util::stream::unfold((after, 0_u32), move |(after, mut polls)| {
        let (app, slug, token) = (app.clone(), slug.clone(), token.clone());
        async move {
            loop {
                if tokio::time::Instant::now() >= ends {
                    return None;
                }
                tokio::time::sleep(POLL).await;
                polls += 1;
                // A signed-out or expired session ends the stream within a few seconds.
                if polls.is_multiple_of(SESSION_CHECK_POLLS)
                    && !matches!(admin::session(&app.store, &token, app.clock.now()).await, Ok(Some(_)))
                {
                    return None;
                }
                // A failed read ends the stream; the browser reconnects from its last event.
                let found = dashboards::events_after(&app, &slug, after, 200).await.ok()?;
                if let Some(last) = found.last() {
                    let next = last.id;
                    return Some((found, (next, polls)));
                }
            }
        }
    });
    let stream = batches.flat_map(|found| {
        futures_util::stream::iter(found.into_iter().map(|e| {
            let id = e.id.to_string();
            let data = serde_json::to_string(&Row::from(e)).unwrap_or_default();
            Ok::<_, Infallible>(SseEvent::default().id(id).data(data))
        }))
    });
    let mut response = Sse::new(stream).keep_alive(KeepAlive::default()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
