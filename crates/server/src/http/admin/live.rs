//! The live monitor: a brand's events and alerts as they happen. The page shows the latest events
//! (also without JavaScript); a small script adds new ones from a server-sent event stream, which
//! resumes after a lost connection from the last event it had (`Last-Event-ID`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

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
const SHOWN: i64 = 50;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// The brand's slug.
    brand: String,
    /// Only events after this id (the stream; default: from now on).
    after: Option<i64>,
    /// The period the other dashboards' links keep (1–365 days, default 7).
    days: Option<i64>,
}

/// An event as the monitor shows it.
#[derive(serde::Serialize)]
struct Row {
    id: i64,
    at: String,
    kind: &'static str,
    order_id: String,
    verification_id: String,
    details: String,
    alert: bool,
}

impl From<Event> for Row {
    fn from(e: Event) -> Self {
        Self {
            id: e.id,
            at: crate::clock::rfc3339(e.at),
            alert: e.kind.as_str().starts_with("alert."),
            kind: e.kind.as_str(),
            order_id: e.order_id.unwrap_or_default(),
            verification_id: e.verification_id.unwrap_or_default(),
            details: if e.attrs.is_null() { String::new() } else { e.attrs.to_string() },
        }
    }
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
    rows: Vec<Row>,
    last_id: i64,
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
    let latest = dashboards::latest_events(&app, brand.slug.as_str(), SHOWN).await?;
    let last_id = latest.first().map_or(0, |e| e.id);
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
        rows: latest.into_iter().map(Row::from).collect(),
        last_id,
        script: crate::http::pages::assets::url("admin-live.js"),
    }
    .render();
    page_with_policy(StatusCode::OK, html, Vec::new(), SCRIPTED_PAGE_POLICY)
}

#[utoipa::path(
    get, path = "/admin/live/events", tag = "admin", params(LiveQuery),
    responses(
        (status = 200, description = "Server-sent events: one `data:` JSON object per event, its id as the SSE id", content_type = "text/event-stream"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn live_events(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<LiveQuery>,
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
