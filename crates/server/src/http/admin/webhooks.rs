//! A brand's webhook endpoints (`/admin/webhooks`): those of the configuration file (read-only)
//! and those stored here, a form to create one (its secret is shown once), and per endpoint
//! (`/admin/webhooks/{name}`) its delivery log with replay, a test event, and the changes —
//! enable, disable, rotate the secret, delete. For operators and the brand's admins.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use orderguard_domain::event::EventKind;
use orderguard_domain::webhook::{DeliveryStatus, EndpointSource};

use super::{AdminUser, page, signed_form, visible_brand};
use crate::app::App;
use crate::brand::Brand;
use crate::http::body::RequestBody;
use crate::http::error::PageError;
use crate::service::ServiceError;
use crate::service::admin::SignedIn;
use crate::service::webhooks::endpoints::{self as service, Change, LOG_LENGTH, NewEndpoint, Replay};
use crate::store::webhooks::EndpointRow;
use crate::webhooks::targets::TargetGuard;

/// The period the brand navigation links with (the dashboards' default).
const NAV_DAYS: i64 = 7;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebhooksQuery {
    /// The brand's slug.
    brand: String,
    /// Only deliveries of this status: pending, delivered, failed, gone.
    status: Option<String>,
    /// What was just done, to say so.
    done: Option<String>,
}

fn time(millis: i64) -> String {
    crate::clock::rfc3339(millis)
}

/// A refusal of the service, said so that the user knows what to change.
fn refusal(e: ServiceError) -> PageError {
    match e {
        ServiceError::Validation(errors) => PageError::invalid_form(&errors),
        ServiceError::NotFound => PageError::not_found("There is no such endpoint or delivery for you."),
        other => other.into(),
    }
}

/// The brand, if the user may manage its webhooks (others get the answer of an unknown brand
/// when they cannot see it, and a plain refusal when they can but may not manage it).
fn managed_brand(app: &App, user: &SignedIn, slug: &str) -> Result<Arc<Brand>, PageError> {
    let brand = visible_brand(app, user, slug)?;
    if user.access.manages_webhooks(slug) {
        Ok(brand)
    } else {
        Err(PageError::forbidden("Only operators and the brand's admins manage its webhooks."))
    }
}

struct EndpointView {
    name: String,
    url: String,
    from_config: bool,
    state: String,
    events: String,
    description: String,
    failing_since: String,
}

fn view(e: &EndpointRow) -> EndpointView {
    let state = match (&e.disabled_reason, e.enabled) {
        (Some(reason), _) => format!("disabled by orderguard ({reason})"),
        (None, true) => "enabled".into(),
        (None, false) => "disabled".into(),
    };
    EndpointView {
        name: e.name.clone(),
        url: e.url.clone(),
        from_config: e.source == EndpointSource::Config,
        state,
        events: e.subscribed.join(", "),
        description: e.description.clone().unwrap_or_default(),
        failing_since: e.failing_since.map_or_else(String::new, time),
    }
}

#[derive(Template)]
#[template(path = "admin_webhooks.html")]
struct EndpointsPage {
    brand: String,
    brand_name: String,
    days: i64,
    csrf: String,
    endpoints: Vec<EndpointView>,
    kinds: Vec<&'static str>,
    max_description: usize,
}

#[utoipa::path(
    get, path = "/admin/webhooks", tag = "admin", params(WebhooksQuery),
    responses(
        (status = 200, description = "The brand's webhook endpoints and a form to create one", content_type = "text/html"),
        (status = 403, description = "The user may not manage the brand's webhooks", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn endpoints(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<WebhooksQuery>,
) -> Result<Response, PageError> {
    let brand = managed_brand(&app, &user, &query.brand)?;
    let rows = service::list(&app.store, &user.actor(), &brand).await?;
    let html = EndpointsPage {
        brand: brand.slug.to_string(),
        brand_name: brand.name.clone(),
        days: NAV_DAYS,
        csrf: user.csrf_token.clone(),
        endpoints: rows.iter().map(view).collect(),
        kinds: EventKind::ALL.iter().filter(|k| **k != EventKind::WebhookTest).map(|k| k.as_str()).collect(),
        max_description: service::MAX_DESCRIPTION,
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

#[derive(Template)]
#[template(path = "admin_webhook_secret.html")]
struct SecretPage {
    brand: String,
    brand_name: String,
    days: i64,
    name: String,
    secret: String,
    rotated: bool,
}

fn secret_page(brand: &Brand, name: String, secret: String, rotated: bool) -> Result<Response, PageError> {
    let html = SecretPage {
        brand: brand.slug.to_string(),
        brand_name: brand.name.clone(),
        days: NAV_DAYS,
        name,
        secret,
        rotated,
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

#[utoipa::path(
    post, path = "/admin/webhooks", tag = "admin",
    request_body(content = String, description = "Form fields brand (slug), name, url, events (repeated; `*` for all), description, csrf", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Created (audited): the page shows its secret, this once", content_type = "text/html"),
        (status = 400, description = "A name, URL or event type that is not allowed, or a name taken", content_type = "text/html"),
        (status = 403, description = "The form's CSRF token is wrong, or the user may not manage the brand's webhooks", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn create(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    RequestBody(body): RequestBody,
) -> Result<Response, PageError> {
    let body = body.unwrap_or_default();
    let fields = signed_form(&user, &body)?;
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default().trim().to_owned();
    let brand = managed_brand(&app, &user, &field("brand"))?;
    // Checkboxes repeat the field: read every value of it.
    let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).unwrap_or_default();
    let events = pairs.into_iter().filter(|(k, _)| k == "events").map(|(_, v)| v).collect();
    let description = Some(field("description")).filter(|d| !d.is_empty());
    let new = NewEndpoint { name: field("name"), url: field("url"), events, description };
    let name = new.name.clone();
    let guard = TargetGuard::for_stored(&app.settings);
    let secret = service::create(&app.store, &app.secrets, guard, &user.actor(), &brand, new, app.clock.now())
        .await
        .map_err(refusal)?;
    secret_page(&brand, name, secret, false)
}

struct DeliveryView {
    id: i64,
    event_id: i64,
    kind: &'static str,
    status: &'static str,
    attempts: i64,
    last_status: String,
    latency: String,
    created: String,
    next_try: String,
    answer: String,
    replayable: bool,
}

#[derive(Template)]
#[template(path = "admin_webhook.html")]
struct EndpointPage {
    brand: String,
    brand_name: String,
    days: i64,
    csrf: String,
    endpoint: EndpointView,
    enabled: bool,
    rotating: bool,
    /// Only enabling is offered for a configured endpoint orderguard disabled.
    may_enable: bool,
    status: String,
    statuses: Vec<&'static str>,
    deliveries: Vec<DeliveryView>,
    most: i64,
    done: String,
}

#[utoipa::path(
    get, path = "/admin/webhooks/{name}", tag = "admin",
    params(("name" = String, Path, description = "The endpoint's name"), WebhooksQuery),
    responses(
        (status = 200, description = "The endpoint, its latest deliveries (event, attempts, status, latency, next try, the start of the answer) and its actions", content_type = "text/html"),
        (status = 403, description = "The user may not manage the brand's webhooks", content_type = "text/html"),
        (status = 404, description = "No such brand or endpoint for this user", content_type = "text/html"),
    )
)]
pub async fn endpoint(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Path(name): Path<String>,
    Query(query): Query<WebhooksQuery>,
) -> Result<Response, PageError> {
    let brand = managed_brand(&app, &user, &query.brand)?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            DeliveryStatus::parse(s)
                .ok_or_else(|| PageError::bad_request("Show pending, delivered, failed or gone deliveries."))?,
        ),
    };
    let (row, deliveries) = service::log(&app.store, &user.actor(), &brand, &name, status).await.map_err(refusal)?;
    let rotating = rotating(&app, &row);
    let deliveries = deliveries
        .into_iter()
        .map(|d| DeliveryView {
            id: d.id,
            event_id: d.event_id,
            kind: d.kind.as_str(),
            status: d.status.as_str(),
            attempts: d.attempts,
            last_status: d.last_status.map_or_else(|| "–".into(), |s| s.to_string()),
            latency: d.last_latency_ms.map_or_else(|| "–".into(), |l| format!("{l} ms")),
            created: time(d.created_at),
            next_try: if d.status == DeliveryStatus::Pending { time(d.next_at) } else { "–".into() },
            answer: d.last_answer.unwrap_or_default(),
            replayable: d.status != DeliveryStatus::Pending,
        })
        .collect();
    let done = match query.done.as_deref() {
        Some("test") => "A test event is on its way.",
        Some("replay") => "The deliveries go out again now.",
        Some("enable") => "The endpoint is enabled.",
        Some("disable") => "The endpoint is disabled: it gets no new deliveries.",
        Some("end-rotation") => "Only the newest secret signs now.",
        _ => "",
    };
    let html = EndpointPage {
        brand: brand.slug.to_string(),
        brand_name: brand.name.clone(),
        days: NAV_DAYS,
        csrf: user.csrf_token.clone(),
        enabled: row.enabled,
        rotating,
        may_enable: !row.enabled && (row.source == EndpointSource::Stored || row.disabled_reason.is_some()),
        endpoint: view(&row),
        status: query.status.unwrap_or_default(),
        statuses: DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect(),
        deliveries,
        most: LOG_LENGTH,
        done: done.to_owned(),
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

/// Whether a stored endpoint signs with two secrets now.
fn rotating(app: &App, row: &EndpointRow) -> bool {
    let sealed = row.secrets_enc.as_deref().unwrap_or_default();
    service::unseal_secrets(&app.secrets, sealed).is_ok_and(|secrets| secrets.len() > 1)
}

#[utoipa::path(
    post, path = "/admin/webhooks/{name}", tag = "admin",
    params(("name" = String, Path, description = "The endpoint's name")),
    request_body(content = String, description = "Form fields brand (slug), action (test, replay, replay-failed, enable, disable, rotate-secret, end-rotation, delete), delivery (for replay), since_hours (for replay-failed), csrf", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "rotate-secret: the page shows the new secret, this once", content_type = "text/html"),
        (status = 303, description = "Done (audited): to the endpoint's page, or to the list after delete"),
        (status = 400, description = "An unknown action, or a replay without its delivery or time", content_type = "text/html"),
        (status = 403, description = "The form's CSRF token is wrong, the user may not manage the brand's webhooks, the endpoint is configured in the file, or it is disabled", content_type = "text/html"),
        (status = 404, description = "No such brand, endpoint or delivery for this user", content_type = "text/html"),
    )
)]
pub async fn act(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Path(name): Path<String>,
    RequestBody(body): RequestBody,
) -> Result<Response, PageError> {
    let fields = signed_form(&user, &body.unwrap_or_default())?;
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default().trim().to_owned();
    let brand = managed_brand(&app, &user, &field("brand"))?;
    let (actor, now) = (user.actor(), app.clock.now());
    let action = field("action");
    // Only called once the service found the endpoint: its name is a-z, 0-9 and `-`.
    let back = |done: &str| {
        Redirect::to(&format!("/admin/webhooks/{name}?brand={}&done={done}", brand.slug.as_str())).into_response()
    };
    match action.as_str() {
        "test" => {
            service::send_test(&app.store, &app.secrets, &actor, &brand, &name, now).await.map_err(refusal)?;
            Ok(back("test"))
        }
        "replay" => {
            let id =
                field("delivery").parse().map_err(|_| PageError::bad_request("Name the delivery to send again."))?;
            service::replay(&app.store, &app.secrets, &actor, &brand, &name, Replay::One(id), now)
                .await
                .map_err(refusal)?;
            Ok(back("replay"))
        }
        "replay-failed" => {
            let hours: i64 = field("since_hours")
                .parse()
                .ok()
                .filter(|h| (1..=24 * 31).contains(h))
                .ok_or_else(|| PageError::bad_request("Say how many hours back, from 1 to 744."))?;
            let since = Replay::FailedSince(now.plus_seconds(-hours * 3600));
            service::replay(&app.store, &app.secrets, &actor, &brand, &name, since, now).await.map_err(refusal)?;
            Ok(back("replay"))
        }
        other => {
            let change = Change::parse(other).ok_or_else(|| PageError::bad_request("There is no such action."))?;
            let secret =
                service::change(&app.store, &app.secrets, &actor, &brand, &name, change, now).await.map_err(refusal)?;
            match (change, secret) {
                (_, Some(secret)) => secret_page(&brand, name, secret, true),
                (Change::Delete, None) => {
                    Ok(Redirect::to(&format!("/admin/webhooks?brand={}", brand.slug.as_str())).into_response())
                }
                (_, None) => Ok(back(change.as_str())),
            }
        }
    }
}
