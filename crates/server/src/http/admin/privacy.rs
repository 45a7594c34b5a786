//! A brand's data-subject requests (`/admin/privacy`): the register (received, due, answered,
//! what was done), and forms to answer a request — a copy of everything held on the person as a
//! JSON download (Art. 15), or its erasure with what was withheld and why (Art. 17). For the
//! brand's privacy officer and operators; each answer is registered and audited (docs/gdpr.md).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orderguard_domain::clock::Timestamp;
use orderguard_domain::phone::E164;

use super::{AdminUser, page, signed_form};
use crate::app::App;
use crate::brand::Brand;
use crate::clock::{day, parse_day};
use crate::http::body::RequestBody;
use crate::http::error::PageError;
use crate::service::admin::SignedIn;
use crate::service::privacy::subject::{self, ErasureReport, Request, Subject};

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PrivacyQuery {
    /// The brand's slug.
    brand: String,
}

struct RequestView {
    id: String,
    kind: &'static str,
    named_by: String,
    reference: String,
    received: String,
    due: String,
    answered: String,
    late: bool,
    outcome: String,
}

#[derive(Template)]
#[template(path = "admin_privacy.html")]
struct PrivacyPage {
    brand: String,
    brand_name: String,
    csrf: String,
    today: String,
    requests: Vec<RequestView>,
    /// The report of an erasure just made.
    erased: Option<ErasureReport>,
}

/// The brand, if the user answers its data-subject requests.
fn answered_brand(app: &App, user: &SignedIn, slug: &str) -> Result<Arc<Brand>, PageError> {
    let brand = app.brands.get(slug).cloned().ok_or_else(|| PageError::not_found("There is no such brand for you."))?;
    if user.access.answers_privacy_requests(slug) {
        Ok(brand)
    } else {
        Err(PageError::forbidden("Only the brand's privacy officer and operators answer its data-subject requests."))
    }
}

async fn render(
    app: &App,
    user: &SignedIn,
    brand: &Brand,
    erased: Option<ErasureReport>,
) -> Result<Response, PageError> {
    let now = app.clock.now().millis();
    let requests = subject::register(&app.store, Some(brand.slug.to_string()))
        .await?
        .into_iter()
        .map(|r| RequestView {
            late: r.answered_at.map_or(now, |answered| answered) > r.due_at,
            id: r.id,
            kind: r.kind.as_str(),
            named_by: r.named_by,
            reference: r.reference,
            received: day(r.received_at),
            due: day(r.due_at),
            answered: r.answered_at.map_or_else(|| "open".into(), day),
            outcome: r.outcome.unwrap_or_default(),
        })
        .collect();
    let html = PrivacyPage {
        brand: brand.slug.to_string(),
        brand_name: brand.name.clone(),
        csrf: user.csrf_token.clone(),
        today: day(now),
        requests,
        erased,
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

#[utoipa::path(get, path = "/admin/privacy", tag = "admin", params(PrivacyQuery), responses((status = 200, description = "The register of the brand's data-subject requests and the forms to answer one", content_type = "text/html"), (status = 403, description = "Not the brand's privacy officer or an operator", content_type = "text/html")))]
pub async fn register(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    Query(query): Query<PrivacyQuery>,
) -> Result<Response, PageError> {
    let brand = answered_brand(&app, &user, &query.brand)?;
    render(&app, &user, &brand, None).await
}

/// What a posted form asks: the brand, the person, the request, and whether the box confirming
/// an erasure is ticked.
struct Posted {
    brand: Arc<Brand>,
    subject: Subject,
    request: Request,
    confirmed: bool,
}

fn posted(app: &App, user: &SignedIn, body: &[u8]) -> Result<Posted, PageError> {
    let fields = signed_form(user, body)?;
    let field = |name: &str| fields.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
    let brand = answered_brand(app, user, &field("brand"))?;
    let subject = match (field("customer"), field("phone")) {
        (customer, phone) if !customer.is_empty() && phone.is_empty() => Subject::Customer(customer),
        (customer, phone) if customer.is_empty() && !phone.is_empty() => Subject::Phone(
            E164::parse(&phone, brand.default_region.as_deref())
                .map_err(|e| PageError::bad_request(format!("The number: {}.", e.reason)))?,
        ),
        _ => return Err(PageError::bad_request("Name the person by their customer id or by their number, not both.")),
    };
    let now = app.clock.now();
    let received_at = match field("received").as_str() {
        "" => now,
        text => match parse_day(text) {
            Some(at) if at <= now.millis() => Timestamp(at),
            _ => return Err(PageError::bad_request("The day received is a past day such as 2026-12-01.")),
        },
    };
    let request =
        Request { by: user.username.clone(), role: user.access.role, reference: field("reference"), received_at };
    Ok(Posted { brand, subject, request, confirmed: field("confirm") == "yes" })
}

#[utoipa::path(
    post, path = "/admin/privacy/export", tag = "admin",
    request_body(content = String, description = "Form fields csrf, brand, customer or phone, reference, received (a day)", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Everything held on the person, as a JSON download", content_type = "application/json"),
        (status = 400, description = "The person is not named right", content_type = "text/html"),
        (status = 403, description = "Not the brand's privacy officer or an operator, or the form's CSRF token is wrong", content_type = "text/html"),
    )
)]
pub async fn export(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    RequestBody(body): RequestBody,
) -> Result<Response, PageError> {
    let Posted { brand, subject, request, .. } = posted(&app, &user, &body.unwrap_or_default())?;
    let now = app.clock.now();
    let (entry, document) = subject::export(&app.store, &app.secrets, &brand, &subject, &request, now).await?;
    let text = serde_json::to_string_pretty(&document).map_err(|e| PageError::internal(&e))?;
    let mut response = ([(header::CONTENT_TYPE, "application/json")], text).into_response();
    let disposition = format!("attachment; filename=\"subject-{}.json\"", entry.id);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[utoipa::path(
    post, path = "/admin/privacy/erase", tag = "admin",
    request_body(content = String, description = "Form fields csrf, brand, customer or phone, reference, received (a day), confirm", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Erased: what was erased and what was withheld, and why", content_type = "text/html"),
        (status = 400, description = "The person is not named right, or the erasure not confirmed", content_type = "text/html"),
        (status = 403, description = "Not the brand's privacy officer or an operator, or the form's CSRF token is wrong", content_type = "text/html"),
    )
)]
pub async fn erase(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    RequestBody(body): RequestBody,
) -> Result<Response, PageError> {
    let Posted { brand, subject, request, confirmed } = posted(&app, &user, &body.unwrap_or_default())?;
    if !confirmed {
        return Err(PageError::bad_request("An erasure cannot be undone: tick the box to confirm it."));
    }
    let now = app.clock.now();
    let (_, report) = subject::erase(&app.store, &app.secrets, &brand, &subject, &request, now).await?;
    // The erasure stands either way; a checkpoint not done now is done by the next one.
    if let Err(e) = subject::reclaim(&app.store, false).await {
        tracing::warn!(error = %e, "checkpoint after an erasure failed");
    }
    render(&app, &user, &brand, Some(report)).await
}
