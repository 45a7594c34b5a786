//! The review queue: a brand's held orders (`/admin/reviews`), one with the reasons and every
//! signal that fed them (`/admin/reviews/{id}`), and the three decisions on it — approve, send the
//! code, reject — each a form with a note and the session's CSRF token. Numbers show as their
//! masked hint to every role: the analyst finds the customer by the order id.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use orderguard_domain::verification::{Rejection, Status};

use super::{AdminUser, page, signed_form, visible_brand};
use crate::app::App;
use crate::http::body::RequestBody;
use crate::http::error::PageError;
use crate::service::ServiceError;
use crate::service::verifications::review::{self as service, Decision, HeldOrder, MAX_NOTE, QUEUE_LENGTH};

/// The period the brand navigation links with (the dashboards' default).
const NAV_DAYS: i64 = 7;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewsQuery {
    /// The brand's slug.
    brand: String,
}

fn time(at: orderguard_domain::clock::Timestamp) -> String {
    crate::clock::rfc3339(at.millis())
}

fn reasons(order: &HeldOrder) -> String {
    let codes: Vec<&str> = order.reasons.iter().map(|r| r.as_str()).collect();
    if codes.is_empty() { "–".to_owned() } else { codes.join(", ") }
}

/// The rules that fired, each with the count or age it read: `device_many_customers (3)`.
fn signals(order: &HeldOrder) -> String {
    let fired: Vec<String> = order
        .rules
        .iter()
        .filter(|r| r.fired)
        .map(|r| {
            let shadow = if r.shadow { ", shadow" } else { "" };
            match r.input {
                Some(input) => format!("{} ({input}{shadow})", r.rule),
                None if r.shadow => format!("{} (shadow)", r.rule),
                None => r.rule.clone(),
            }
        })
        .collect();
    if fired.is_empty() { "–".to_owned() } else { fired.join(", ") }
}

struct QueueRow {
    id: String,
    order_id: String,
    amount: String,
    number: String,
    created: String,
    expires: String,
    score: u32,
    reasons: String,
    signals: String,
}

#[derive(Template)]
#[template(path = "admin_reviews.html")]
struct QueuePage {
    brand: String,
    brand_name: String,
    days: i64,
    rows: Vec<QueueRow>,
    most: i64,
}

#[utoipa::path(
    get, path = "/admin/reviews", tag = "admin", params(ReviewsQuery),
    responses(
        (status = 200, description = "The brand's held orders, the soonest to expire first", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn queue(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<ReviewsQuery>,
) -> Result<Response, PageError> {
    let brand = visible_brand(&app, &user, &query.brand)?;
    let held = service::queue(&app, &user, &brand, app.clock.now()).await?;
    let rows = held
        .iter()
        .map(|order| QueueRow {
            id: order.id.clone(),
            order_id: order.order_id.clone(),
            amount: crate::brand::format_amount(order.amount, "en"),
            number: order.phone_hint.clone(),
            created: time(order.created_at),
            expires: time(order.expires_at),
            score: order.score,
            reasons: reasons(order),
            signals: signals(order),
        })
        .collect();
    let html = QueuePage {
        brand: brand.slug.to_string(),
        brand_name: brand.name.clone(),
        days: NAV_DAYS,
        rows,
        most: QUEUE_LENGTH,
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

struct RuleRow {
    rule: String,
    fired: bool,
    points: u32,
    shadow: bool,
    input: String,
}

struct DecidedView {
    what: &'static str,
    at: String,
    actor_role: String,
    note: String,
}

#[derive(Template)]
#[template(path = "admin_review.html")]
struct ReviewPage {
    brand: String,
    brand_name: String,
    days: i64,
    csrf: String,
    id: String,
    order_id: String,
    amount: String,
    number: String,
    status: &'static str,
    created: String,
    expires: String,
    score: u32,
    reasons: String,
    rules: Vec<RuleRow>,
    policy_version: String,
    /// Still held and within its time: the decision forms are shown.
    open: bool,
    decided: Option<DecidedView>,
    max_note: usize,
}

#[utoipa::path(
    get, path = "/admin/reviews/{id}", tag = "admin",
    params(("id" = String, Path, description = "Verification id"), ReviewsQuery),
    responses(
        (status = 200, description = "A held order: its reasons, every rule with its signal, the decision forms or the decision taken", content_type = "text/html"),
        (status = 404, description = "No such brand for this user, or no held order of it with this id", content_type = "text/html"),
    )
)]
pub async fn review(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Path(id): Path<String>,
    Query(query): Query<ReviewsQuery>,
) -> Result<Response, PageError> {
    let brand = visible_brand(&app, &user, &query.brand)?;
    let found = service::review(&app, &user, &brand, &id).await.map_err(|e| match e {
        ServiceError::NotFound => PageError::not_found("There is no held order with this id for you."),
        other => other.into(),
    })?;
    let order = &found.order;
    let open = order.status == Status::InReview && app.clock.now() < order.expires_at;
    let rules = order
        .rules
        .iter()
        .map(|r| RuleRow {
            rule: r.rule.clone(),
            fired: r.fired,
            points: r.points,
            shadow: r.shadow,
            input: r.input.map_or_else(|| "–".to_owned(), |i| i.to_string()),
        })
        .collect();
    let decided = found.decided.map(|d| DecidedView {
        what: match d.kind {
            orderguard_domain::event::EventKind::ReviewApproved => "approved",
            orderguard_domain::event::EventKind::ReviewReleased => "the code sent",
            _ => "rejected",
        },
        at: time(d.at),
        actor_role: d.actor_role,
        note: d.note.unwrap_or_default(),
    });
    let html = ReviewPage {
        brand: brand.slug.to_string(),
        brand_name: brand.name.clone(),
        days: NAV_DAYS,
        csrf: user.csrf_token.clone(),
        id: order.id.clone(),
        order_id: order.order_id.clone(),
        amount: crate::brand::format_amount(order.amount, "en"),
        number: order.phone_hint.clone(),
        status: order.status.as_str(),
        created: time(order.created_at),
        expires: time(order.expires_at),
        score: order.score,
        reasons: reasons(order),
        rules,
        policy_version: order.policy_version.clone().unwrap_or_else(|| "–".to_owned()),
        open,
        decided,
        max_note: MAX_NOTE,
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

/// A decision refused by the service, said so that the analyst knows what to do next.
fn refusal(e: ServiceError) -> PageError {
    match e {
        ServiceError::Validation(errors) => PageError::invalid_form(&errors),
        ServiceError::NotFound => PageError::not_found("There is no held order with this id for you."),
        ServiceError::Refused { rejection: Rejection::Expired, .. } => PageError::new(
            StatusCode::CONFLICT,
            "The hold on this order ended before a decision: it has expired. Nothing was changed.",
        ),
        ServiceError::Refused { rejection: Rejection::NotPending(status), .. } => PageError::new(
            StatusCode::CONFLICT,
            format!("This order has already been decided: it is {} now. Nothing was changed.", status.as_str()),
        ),
        ServiceError::Refused { rejection: Rejection::Limited { reason, retry_after_seconds }, .. } => PageError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "The code cannot be sent now: the limit {} holds for another {} minutes. Approve or reject \
                 instead, or try again then. Nothing was changed.",
                reason.as_str(),
                (retry_after_seconds + 59) / 60
            ),
        ),
        other => other.into(),
    }
}

#[utoipa::path(
    post, path = "/admin/reviews/{id}", tag = "admin",
    params(("id" = String, Path, description = "Verification id")),
    request_body(content = String, description = "Form fields brand (slug), decision (approve, send, reject), note (required, at most 500 characters), csrf", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Decided (an event and an audit entry): to the held order's page"),
        (status = 400, description = "No decision or no note, or a note too long", content_type = "text/html"),
        (status = 403, description = "The form's CSRF token is wrong", content_type = "text/html"),
        (status = 404, description = "No such brand for this user, or no held order of it with this id", content_type = "text/html"),
        (status = 409, description = "Already decided, or the hold expired", content_type = "text/html"),
        (status = 429, description = "Send: the number's or customer's limits allow no code now", content_type = "text/html"),
    )
)]
pub async fn decide(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Path(id): Path<String>,
    RequestBody(body): RequestBody,
) -> Result<Response, PageError> {
    let fields = signed_form(&user, &body.unwrap_or_default())?;
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    let brand = visible_brand(&app, &user, field("brand"))?;
    let decision = Decision::parse(field("decision"))
        .ok_or_else(|| PageError::bad_request("Choose one of approve, send the code or reject."))?;
    let decided =
        service::decide(&app, &user, &brand, &id, decision, field("note"), app.clock.now()).await.map_err(refusal)?;
    // The stored id (hex digits and hyphens) is safe in a URL as it is.
    Ok(Redirect::to(&format!("/admin/reviews/{}?brand={}", decided.id, brand.slug.as_str())).into_response())
}
