//! The hosted verification page at a verification's `hosted_url`: the customer confirms the order
//! with the code on a page in the brand's colours. Plain forms with POST-redirect-GET, so it works
//! without JavaScript. The unguessable token in the URL is the customer's capability.

// A page handler's error is the error page itself, built rarely: its size does not matter.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use orderguard_domain::money::{Currency, Money};
use orderguard_domain::verification::{Rejection, Status};
use serde::Deserialize;

use super::{error_page, render};
use crate::App;
use crate::brand::{Brand, format_amount};
use crate::service::ServiceError;
use crate::service::verifications::{self as service, CheckResult};
use crate::store::verifications::{self as store, VerificationRecord};

async fn load(app: &Arc<App>, token: &str) -> Result<(Arc<Brand>, VerificationRecord), Response> {
    let lookup = token.to_owned();
    let record = app
        .store
        .read(move |conn| store::find_by_hosted_token(conn, &lookup))
        .await
        .map_err(|_| error_page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong. Please try again."))?
        .ok_or_else(|| error_page(StatusCode::NOT_FOUND, "This verification link is not valid."))?;
    let brand = app
        .brands
        .get(&record.brand)
        .cloned()
        .ok_or_else(|| error_page(StatusCode::NOT_FOUND, "This verification link is not valid."))?;
    Ok((brand, record))
}

struct Item {
    name: String,
    quantity: u64,
    price: String,
}

#[derive(askama::Template)]
#[template(path = "hosted.html")]
struct HostedPage<'a> {
    brand: &'a Brand,
    de: bool,
    token: &'a str,
    status: &'static str,
    amount: String,
    items: Vec<Item>,
    phone_hint: &'a str,
    attempts_remaining: u32,
    resends_remaining: u32,
    resend_wait_seconds: i64,
    notice: &'a str,
    return_url: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PageNotice {
    /// What just happened: `wrong`, `invalid`, `resent`, `too_soon`, `no_resends`.
    notice: Option<String>,
}

/// Where the customer goes back to the shop, with the outcome: `?verification_id=…&status=…`.
fn back_to_shop(record: &VerificationRecord) -> Option<String> {
    let url = record.return_url.as_ref()?;
    let mut url = reqwest::Url::parse(url).ok()?;
    url.query_pairs_mut()
        .append_pair("verification_id", &record.id)
        .append_pair("status", record.state.status.as_str());
    Some(url.to_string())
}

/// The hosted verification page.
#[utoipa::path(get, path = "/v/{token}", tag = "hosted page", params(("token" = String, Path, description = "From `hosted_url`"), PageNotice), responses((status = 200, description = "HTML page", content_type = "text/html"), (status = 404, description = "Unknown link", content_type = "text/html")))]
pub async fn page(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    Query(notice): Query<PageNotice>,
) -> Response {
    let (brand, mut record) = match load(&app, &token).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let now = crate::clock::now();
    // Shown as expired at once; the sweeper records it shortly.
    if record.state.is_expired(now) {
        record.state.status = Status::Expired;
    }
    let de = record.locale == "de";
    let currency = Currency::parse(&record.currency).ok();
    let money =
        |minor: i64| currency.map(|c| format_amount(Money::from_minor(minor, c), &record.locale)).unwrap_or_default();
    let items = serde_json::from_str::<Vec<serde_json::Value>>(&record.order_summary)
        .unwrap_or_default()
        .iter()
        .map(|item| Item {
            name: item.get("name").and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
            quantity: item.get("quantity").and_then(serde_json::Value::as_u64).unwrap_or(1),
            price: item
                .get("unit_price")
                .and_then(|v| v.as_str())
                .and_then(|p| currency.and_then(|c| Money::parse(p, c).ok()))
                .map(|m| format_amount(m, &record.locale))
                .unwrap_or_default(),
        })
        .collect();
    let mut response = render(&HostedPage {
        brand: &brand,
        de,
        token: &token,
        status: record.state.status.as_str(),
        amount: money(record.amount_minor),
        items,
        phone_hint: &record.phone_hint,
        attempts_remaining: record.state.attempts_remaining(),
        resends_remaining: record.state.resends_remaining(),
        resend_wait_seconds: now.seconds_until(record.state.resend_available_at()),
        notice: notice.notice.as_deref().unwrap_or_default(),
        return_url: back_to_shop(&record),
    });
    if let Ok(csp) = axum::http::HeaderValue::from_str(&content_security_policy(&brand)) {
        response.headers_mut().insert(axum::http::header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// Forms may lead back to the brand's shop: browsers apply `form-action` to the redirect after a
/// form is sent, so the shop domains are allowed there and nowhere else.
fn content_security_policy(brand: &Brand) -> String {
    let shops: String = brand.shop_domains.iter().map(|d| format!(" https://{d} https://{d}:* http://{d}:*")).collect();
    format!(
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'{shops}; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

fn to_page(token: &str, notice: &str) -> Response {
    Redirect::to(&format!("/v/{token}?notice={notice}")).into_response()
}

/// After a final outcome: back to the shop if it gave a return URL, else the page shows the result.
fn finished(token: &str, record: &VerificationRecord) -> Response {
    match back_to_shop(record) {
        Some(url) => Redirect::to(&url).into_response(),
        None => Redirect::to(&format!("/v/{token}")).into_response(),
    }
}

fn rejected(token: &str, e: ServiceError) -> Response {
    match e {
        ServiceError::Validation(_) => to_page(token, "invalid"),
        ServiceError::Rejected(Rejection::ResendTooSoon { .. }) => to_page(token, "too_soon"),
        ServiceError::Rejected(Rejection::ResendLimit) => to_page(token, "no_resends"),
        ServiceError::Rejected(_) => Redirect::to(&format!("/v/{token}")).into_response(),
        other => {
            tracing::error!(error = %other, "hosted page action failed");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong. Please try again.")
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct HostedCodeForm {
    code: String,
}

/// The code typed on the hosted page.
#[utoipa::path(post, path = "/v/{token}/check", tag = "hosted page", params(("token" = String, Path)), request_body(content = HostedCodeForm, content_type = "application/x-www-form-urlencoded"), responses((status = 303, description = "Back to the page, or to the shop's return URL when finished")))]
pub async fn check(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    Form(form): Form<HostedCodeForm>,
) -> Response {
    let (brand, record) = match load(&app, &token).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match service::check(&app, &brand, &record.id, &form.code).await {
        Ok(CheckResult::Wrong { .. }) => to_page(&token, "wrong"),
        Ok(CheckResult::Approved { record, .. } | CheckResult::Failed { record }) => finished(&token, &record),
        Err(e) => rejected(&token, e),
    }
}

/// A new code, from the hosted page.
#[utoipa::path(post, path = "/v/{token}/resend", tag = "hosted page", params(("token" = String, Path)), responses((status = 303, description = "Back to the page")))]
pub async fn resend(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    let (brand, record) = match load(&app, &token).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match service::resend(&app, &brand, &record.id).await {
        Ok(_) => to_page(&token, "resent"),
        Err(e) => rejected(&token, e),
    }
}

/// The customer aborts on the hosted page.
#[utoipa::path(post, path = "/v/{token}/cancel", tag = "hosted page", params(("token" = String, Path)), responses((status = 303, description = "To the shop's return URL, or back to the page")))]
pub async fn cancel(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    let (brand, record) = match load(&app, &token).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match service::cancel(&app, &brand, &record.id, Some("canceled on the hosted page".into())).await {
        Ok(record) => finished(&token, &record),
        Err(e) => rejected(&token, e),
    }
}
