//! The admin area under `/admin`. Sessions live in a cookie scoped to `/admin` (HttpOnly,
//! SameSite=Strict, Secure behind https); every form carries a CSRF token: the session's own once
//! signed in, a double-submitted cookie on the sign-in form.

pub mod alerts;
mod chart;
pub mod dashboard;
pub mod fraud;
pub mod home;
pub mod live;
mod live_line;
pub mod login;
pub mod market;
pub mod orders;
pub mod overview;
pub mod privacy;
pub mod report;
pub mod reviews;
pub mod search;
pub mod sms;
pub mod trace;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::PageError;
use crate::app::App;
use crate::brand::Brand;
use crate::service::admin::{self as service, SignedIn};

const SESSION_COOKIE: &str = "og_admin";
const LOGIN_CSRF_COOKIE: &str = "og_admin_login";

/// A request from a signed-in user; anyone else is sent to the sign-in page.
pub struct AdminUser(pub SignedIn);

impl FromRequestParts<Arc<App>> for AdminUser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, PageError> {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(PageError::SignIn)?;
        match service::session(&app.store, token, app.clock.now()).await {
            Ok(Some(user)) => Ok(Self(user)),
            Ok(None) => Err(PageError::SignIn),
            Err(e) => Err(PageError::internal(&e)),
        }
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
        .filter(|value| !value.is_empty())
}

/// `Secure` only when the service is reached over https, so that a plain-http development
/// instance can still sign in.
fn set_cookie(app: &App, name: &str, value: &str, max_age_seconds: i64) -> HeaderValue {
    let secure = if app.public_url.starts_with("https://") { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Admin pages are never cached, framed or given scripts from elsewhere.
/// What an admin page may load: nothing but its inline styles.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
/// The same, and the page's own scripts and their connections (the live monitor).
const SCRIPTED_PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

fn page(
    status: StatusCode,
    html: Result<String, askama::Error>,
    cookies: Vec<HeaderValue>,
) -> Result<Response, PageError> {
    page_with_policy(status, html, cookies, PAGE_POLICY)
}

fn page_with_policy(
    status: StatusCode,
    html: Result<String, askama::Error>,
    cookies: Vec<HeaderValue>,
    policy: &'static str,
) -> Result<Response, PageError> {
    let html = html.map_err(|e| PageError::internal(&e))?;
    let mut response = (status, axum::response::Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    for value in cookies {
        headers.append(header::SET_COOKIE, value);
    }
    Ok(response)
}

fn form_fields(body: &[u8]) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default().into_iter().collect()
}

/// The fields of a form the signed-in user posted, if it carries their session's CSRF token.
fn signed_form(user: &SignedIn, body: &[u8]) -> Result<HashMap<String, String>, PageError> {
    let fields = form_fields(body);
    let token = fields.get("csrf").map(String::as_str).unwrap_or_default();
    if same_token(&user.csrf_token, token) {
        Ok(fields)
    } else {
        Err(PageError::forbidden("The form had expired. Go back, reload the page and try again."))
    }
}

fn same_token(a: &str, b: &str) -> bool {
    crate::crypto::constant_time_eq(a.as_bytes(), b.as_bytes())
}

/// A brand the user may see; another brand's data does not exist for them (the same answer as an
/// unknown brand).
fn visible_brand(app: &App, user: &SignedIn, slug: &str) -> Result<Arc<Brand>, PageError> {
    app.brands
        .get(slug)
        .filter(|_| user.access.sees_brand(slug))
        .cloned()
        .ok_or_else(|| PageError::not_found("There is no such brand for you."))
}
