//! The order trace (every verification and event of one order) and the audit log of who looked
//! at personal data.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{AdminUser, page, visible_brand};
use crate::app::App;
use crate::http::error::PageError;
use crate::service::{audit, trace as service};

struct TraceVerification {
    id: String,
    status: &'static str,
    number: String,
    amount: String,
    started: String,
}

struct TraceEvent {
    at: String,
    kind: &'static str,
    details: String,
}

#[derive(Template)]
#[template(path = "admin_trace.html")]
struct TracePage {
    brand_name: String,
    order_id: String,
    verifications: Vec<TraceVerification>,
    events: Vec<TraceEvent>,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TraceQuery {
    /// The brand's slug.
    brand: String,
    /// The shop's order id.
    order: String,
}

#[utoipa::path(
    get, path = "/admin/trace", tag = "admin", params(TraceQuery),
    responses(
        (status = 200, description = "Every verification and event of the order; the view is audited", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn trace(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<TraceQuery>,
) -> Result<Response, PageError> {
    let brand = visible_brand(&app, &user, &query.brand)?;
    let order_id: String = query.order.trim().chars().take(128).collect();
    let found = service::order_trace(&app, &user, &brand, &order_id, app.clock.now()).await?;
    let verifications = found
        .verifications
        .into_iter()
        .map(|v| TraceVerification {
            id: v.id,
            status: v.status.as_str(),
            number: v.number,
            amount: crate::brand::format_amount(v.amount, "en"),
            started: crate::clock::rfc3339(v.started.millis()),
        })
        .collect();
    let events = found
        .events
        .into_iter()
        .map(|e| TraceEvent { at: crate::clock::rfc3339(e.at), kind: e.kind.as_str(), details: e.attrs.to_string() })
        .collect();
    let html = TracePage { brand_name: brand.name.clone(), order_id, verifications, events }.render();
    page(StatusCode::OK, html, Vec::new())
}

struct AuditRow {
    at: String,
    username: String,
    role: &'static str,
    action: &'static str,
    brand: String,
    subject: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    user: String,
    entries: Vec<AuditRow>,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this user's views.
    user: Option<String>,
}

#[utoipa::path(
    get, path = "/admin/audit", tag = "admin", params(AuditQuery),
    responses(
        (status = 200, description = "Who looked at personal data, newest first", content_type = "text/html"),
        (status = 403, description = "Only auditors and operators read the audit log", content_type = "text/html"),
    )
)]
pub async fn audit_log(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let name = query.user.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
    let entries = audit::search(&app, &user, name.clone()).await?;
    let entries = entries
        .into_iter()
        .map(|e| AuditRow {
            at: crate::clock::rfc3339(e.at.millis()),
            username: e.username,
            role: e.role.as_str(),
            action: e.action.as_str(),
            brand: e.brand.unwrap_or_default(),
            subject: e.subject,
        })
        .collect();
    page(StatusCode::OK, AuditPage { user: name.unwrap_or_default(), entries }.render(), Vec::new())
}
