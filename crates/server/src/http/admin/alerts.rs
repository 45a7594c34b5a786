//! A brand's alerts (`/admin/alerts`): open ones first, past ones below, filtered by status,
//! rule, severity and period; per alert (`/admin/alerts/{id}`) the figures that raised it, the
//! orders behind it (each linked to its trace), and the forms to acknowledge it with a note or
//! resolve it. For whoever sees the brand's orders.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use orderguard_domain::alert::{AlertRule, AlertStatus, Severity, reads_state};

use super::{AdminUser, page, signed_form, visible_brand};
use crate::app::App;
use crate::http::body::RequestBody;
use crate::http::error::PageError;
use crate::records::alert::{Alert, AlertFilter};
use crate::service::ServiceError;
use crate::service::alerts::manage::{self as service, LIST_LENGTH, MAX_NOTE, Step};

/// The period the brand navigation links with (the dashboards' default).
const NAV_DAYS: i64 = 7;
const DAY_MS: i64 = 24 * 3_600_000;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// The brand's slug.
    brand: String,
    /// Only alerts of this status: open, acknowledged, resolved.
    status: Option<String>,
    /// Only alerts of this rule (docs/alerts.md).
    rule: Option<String>,
    /// Only alerts of this severity: warning, critical.
    severity: Option<String>,
    /// Alerts raised in the last this many days (default 30, at most 400).
    days: Option<i64>,
}

fn time(millis: i64) -> String {
    crate::clock::rfc3339(millis)
}

fn refusal(e: ServiceError) -> PageError {
    match e {
        ServiceError::Validation(errors) => PageError::invalid_form(&errors),
        ServiceError::NotFound => PageError::not_found("There is no such alert for you."),
        other => other.into(),
    }
}

struct AlertView {
    id: i64,
    rule: &'static str,
    title: &'static str,
    key: String,
    severity: &'static str,
    status: &'static str,
    raised: String,
    last_firing: String,
    /// What the rule saw, in words.
    figures: String,
    baseline: String,
    orders: Vec<String>,
    acknowledged: String,
    resolved: String,
    /// When it was resolved (RFC 3339), empty while it is not.
    resolved_at: String,
}

/// A share in per cent, a count whole (an expected count with a decimal).
fn share_or_count(value: Option<f64>, share: bool) -> String {
    match value {
        None => "–".into(),
        Some(v) if share => format!("{:.1} %", v * 100.0),
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
    }
}

fn view(a: &Alert) -> AlertView {
    let f = &a.figures;
    let number = |k: &str| f.get(k).and_then(serde_json::Value::as_f64);
    let share = matches!(
        a.rule.test(),
        orderguard_domain::alert::Test::RateBelowBaseline
            | orderguard_domain::alert::Test::RateAboveBaseline
            | orderguard_domain::alert::Test::RateAboveLevel
    );
    let window = number("window_minutes").unwrap_or(0.0);
    let observed = share_or_count(number("observed"), share);
    let volume = number("volume").unwrap_or(0.0);
    let figures = match (number("expected"), share, reads_state(a.rule)) {
        (_, _, true) => format!("{observed} now"),
        (None, true, _) => format!("{observed} of {volume:.0} in {window:.0} min"),
        (None, false, _) => format!("{observed} in {window:.0} min"),
        (expected, true, _) => {
            format!("{observed} against {} usually, of {volume:.0} in {window:.0} min", share_or_count(expected, true))
        }
        (expected, false, _) => {
            format!("{observed} against {} usually, in {window:.0} min", share_or_count(expected, false))
        }
    };
    let acknowledged = match (&a.acknowledged_at, &a.acknowledged_by) {
        (Some(at), Some(by)) => format!("{} by {by}: {}", time(*at), a.acknowledge_note.clone().unwrap_or_default()),
        _ => String::new(),
    };
    let resolved = match (&a.resolved_at, &a.resolved_by) {
        (Some(at), Some(by)) => {
            let note = a.resolve_note.as_deref().map(|n| format!(": {n}")).unwrap_or_default();
            format!("{} by {by}{note}", time(*at))
        }
        (Some(at), None) => format!("{} by itself (normal again)", time(*at)),
        _ => String::new(),
    };
    AlertView {
        id: a.id,
        rule: a.rule.as_str(),
        title: a.rule.title(),
        key: a.key.clone(),
        severity: a.severity.as_str(),
        status: a.status.as_str(),
        raised: time(a.raised_at),
        last_firing: time(a.last_firing_at),
        figures,
        baseline: f.get("baseline").and_then(serde_json::Value::as_str).unwrap_or("none").replace('_', " "),
        orders: a.orders.clone(),
        acknowledged,
        resolved,
        resolved_at: a.resolved_at.map(time).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "admin_alerts.html")]
struct AlertsPage {
    brand: String,
    brand_name: String,
    days: i64,
    period_days: i64,
    open: Vec<AlertView>,
    past: Vec<AlertView>,
    status: String,
    rule: String,
    severity: String,
    statuses: Vec<&'static str>,
    rules: Vec<&'static str>,
    severities: Vec<&'static str>,
    most: i64,
}

fn parsed<T>(value: &Option<String>, parse: fn(&str) -> Option<T>, what: &str) -> Result<Option<T>, PageError> {
    match value.as_deref().filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse(v).map(Some).ok_or_else(|| PageError::bad_request(format!("There is no such {what}."))),
    }
}

#[utoipa::path(
    get, path = "/admin/alerts", tag = "admin", params(AlertsQuery),
    responses(
        (status = 200, description = "The brand's open alerts, then the past ones, with filters", content_type = "text/html"),
        (status = 400, description = "An unknown status, rule or severity", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn alerts_page(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<AlertsQuery>,
) -> Result<Response, PageError> {
    let brand = visible_brand(&app, &user, &query.brand)?;
    let period_days = query.days.unwrap_or(30).clamp(1, 400);
    let now = app.clock.now().millis();
    let filter = AlertFilter {
        from: now - period_days * DAY_MS,
        // Raised at a simulated moment ahead of the wall clock too.
        to: i64::MAX,
        status: parsed(&query.status, AlertStatus::parse, "status")?,
        rule: parsed(&query.rule, AlertRule::parse, "rule")?,
        severity: parsed(&query.severity, Severity::parse, "severity")?,
    };
    let rows = service::list(&app.store, &user.actor(), brand.slug.as_str(), filter).await.map_err(refusal)?;
    let (open, past): (Vec<&Alert>, Vec<&Alert>) = rows.iter().partition(|a| a.status != AlertStatus::Resolved);
    let html = AlertsPage {
        brand: brand.slug.to_string(),
        brand_name: brand.name.clone(),
        days: NAV_DAYS,
        period_days,
        open: open.into_iter().map(view).collect(),
        past: past.into_iter().map(view).collect(),
        status: query.status.unwrap_or_default(),
        rule: query.rule.unwrap_or_default(),
        severity: query.severity.unwrap_or_default(),
        statuses: AlertStatus::ALL.iter().map(|s| s.as_str()).collect(),
        rules: AlertRule::ALL.iter().map(|r| r.as_str()).collect(),
        severities: vec![Severity::Warning.as_str(), Severity::Critical.as_str()],
        most: LIST_LENGTH,
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

#[derive(Template)]
#[template(path = "admin_alert.html")]
struct AlertPage {
    brand: String,
    brand_name: String,
    days: i64,
    csrf: String,
    alert: AlertView,
    open: bool,
    max_note: usize,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// The brand's slug.
    brand: String,
}

#[utoipa::path(
    get, path = "/admin/alerts/{id}", tag = "admin",
    params(("id" = i64, Path, description = "The alert's id"), AlertQuery),
    responses(
        (status = 200, description = "The alert: its figures, the orders behind it, who acknowledged and resolved it, and the forms to do so", content_type = "text/html"),
        (status = 404, description = "No such brand or alert for this user", content_type = "text/html"),
    )
)]
pub async fn alert_page(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Path(id): Path<i64>,
    Query(query): Query<AlertQuery>,
) -> Result<Response, PageError> {
    let brand = visible_brand(&app, &user, &query.brand)?;
    let alert = service::get(&app.store, &user.actor(), brand.slug.as_str(), id).await.map_err(refusal)?;
    let html = AlertPage {
        brand: brand.slug.to_string(),
        brand_name: brand.name.clone(),
        days: NAV_DAYS,
        csrf: user.csrf_token.clone(),
        open: alert.status == AlertStatus::Open,
        alert: view(&alert),
        max_note: MAX_NOTE,
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

#[utoipa::path(
    post, path = "/admin/alerts/{id}", tag = "admin",
    params(("id" = i64, Path, description = "The alert's id")),
    request_body(content = String, description = "Form fields brand (slug), step (acknowledge, resolve), note (required to acknowledge), csrf", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Done (an `alert.acknowledged` or `alert.resolved` event): back to the alert"),
        (status = 400, description = "An unknown step, a missing or too long note, or an alert no longer in that state", content_type = "text/html"),
        (status = 403, description = "The form's CSRF token is wrong", content_type = "text/html"),
        (status = 404, description = "No such brand or alert for this user", content_type = "text/html"),
    )
)]
pub async fn change(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Path(id): Path<i64>,
    RequestBody(body): RequestBody,
) -> Result<Response, PageError> {
    let fields = signed_form(&user, &body.unwrap_or_default())?;
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default().to_owned();
    let brand = visible_brand(&app, &user, field("brand").trim())?;
    let step = match field("step").as_str() {
        "acknowledge" => Step::Acknowledge,
        "resolve" => Step::Resolve,
        _ => return Err(PageError::bad_request("Acknowledge or resolve the alert.")),
    };
    let now = app.clock.now();
    service::change(&app.store, &user.actor(), brand.slug.as_str(), id, step, &field("note"), now)
        .await
        .map_err(refusal)?;
    Ok(Redirect::to(&format!("/admin/alerts/{id}?brand={}", brand.slug.as_str())).into_response())
}
