//! Finding a brand's orders by the customer's phone number: for the roles that may see personal
//! data (not analysts), and written to the audit log like an order trace. A form POST (with the
//! session's CSRF token), so that the number stays out of URLs, browser history and proxy logs.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use orderguard_domain::phone::E164;

use super::{AdminUser, page, signed_form, visible_brand};
use crate::app::App;
use crate::http::body::RequestBody;
use crate::http::error::PageError;
use crate::service::trace::{MOST_BY_NUMBER, orders_by_number as service};

struct Found {
    order_id: String,
    verification_id: String,
    status: &'static str,
    started: String,
}

#[derive(Template)]
#[template(path = "admin_number.html")]
struct NumberPage {
    brand: String,
    brand_name: String,
    hint: String,
    found: Vec<Found>,
    most: i64,
}

#[utoipa::path(
    post, path = "/admin/orders-by-number", tag = "admin",
    request_body(content = String, description = "Form fields brand (slug), phone (international, or national in the brand's region), csrf", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The brand's orders whose code went to this number; the search is audited", content_type = "text/html"),
        (status = 400, description = "Not a phone number", content_type = "text/html"),
        (status = 403, description = "The role sees masked data only, or the form's CSRF token is wrong", content_type = "text/html"),
        (status = 404, description = "No such brand for this user", content_type = "text/html"),
    )
)]
pub async fn orders_by_number(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    RequestBody(body): RequestBody,
) -> Result<Response, PageError> {
    let fields = signed_form(&user, &body.unwrap_or_default())?;
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    let brand = visible_brand(&app, &user, field("brand"))?;
    let number = E164::parse(field("phone"), brand.default_region.as_deref()).map_err(|_| {
        PageError::bad_request("That is not a phone number: write it internationally, like +49 151 23456789.")
    })?;
    let found = service(&app, &user, &brand, &number, app.clock.now()).await?;
    let found = found
        .into_iter()
        .map(|f| Found {
            order_id: f.order_id,
            verification_id: f.verification_id,
            status: f.status.as_str(),
            started: crate::clock::rfc3339(f.created_at.millis()),
        })
        .collect();
    let html = NumberPage {
        brand: brand.slug.to_string(),
        brand_name: brand.name.clone(),
        hint: number.hint(),
        found,
        most: MOST_BY_NUMBER,
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}
