//! The admin area under `/admin`: sign-in, sign-out and the signed-in home page. Sessions live in a
//! cookie scoped to `/admin` (HttpOnly, SameSite=Strict, Secure behind https); every form carries a
//! CSRF token: the session's own once signed in, a double-submitted cookie on the sign-in form.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::body::RequestBody;
use crate::App;
use crate::service::admin::{self as service, AdminError, SignedIn};

const SESSION_COOKIE: &str = "og_admin";
const LOGIN_CSRF_COOKIE: &str = "og_admin_login";

/// A request from a signed-in user; anyone else is sent to the sign-in page.
pub struct AdminUser(pub SignedIn);

impl FromRequestParts<Arc<App>> for AdminUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/admin/login").into_response());
        };
        match service::session(&app.store, token).await {
            Ok(Some(user)) => Ok(Self(user)),
            Ok(None) => Err(Redirect::to("/admin/login").into_response()),
            Err(e) => {
                tracing::error!(error = %e, "reading an admin session failed");
                Err(super::pages::error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side; try again.",
                ))
            }
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
fn page(status: StatusCode, html: Result<String, askama::Error>, cookies: Vec<HeaderValue>) -> Response {
    let Ok(html) = html else {
        return super::pages::error_page(StatusCode::INTERNAL_SERVER_ERROR, "The page could not be rendered.");
    };
    let mut response = (status, axum::response::Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    for value in cookies {
        headers.append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Template)]
#[template(path = "admin_login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    username: &'a str,
    message: Option<String>,
}

/// The sign-in form; it gets a fresh CSRF cookie unless it has one.
fn login_page(app: &App, headers: &HeaderMap, status: StatusCode, username: &str, message: Option<String>) -> Response {
    let (csrf, cookies) = match cookie(headers, LOGIN_CSRF_COOKIE) {
        Some(existing) => (existing.to_owned(), Vec::new()),
        None => {
            let fresh = crate::ids::random_token(24);
            let set = set_cookie(app, LOGIN_CSRF_COOKIE, &fresh, 3600);
            (fresh, vec![set])
        }
    };
    page(status, LoginPage { csrf: &csrf, username, message }.render(), cookies)
}

#[utoipa::path(get, path = "/admin/login", tag = "admin", responses((status = 200, description = "The sign-in form", content_type = "text/html")))]
pub async fn login_form(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    login_page(&app, &headers, StatusCode::OK, "", None)
}

fn form_fields(body: &[u8]) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default().into_iter().collect()
}

fn same_token(a: &str, b: &str) -> bool {
    crate::crypto::constant_time_eq(a.as_bytes(), b.as_bytes())
}

#[utoipa::path(
    post, path = "/admin/login", tag = "admin",
    request_body(content = String, description = "Form fields username, password, csrf", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: to /admin, with the session cookie"),
        (status = 401, description = "Wrong username or password (the form again)", content_type = "text/html"),
        (status = 403, description = "The form's CSRF token is missing or wrong", content_type = "text/html"),
        (status = 429, description = "Too many failed sign-ins for this user", content_type = "text/html"),
    )
)]
pub async fn login(State(app): State<Arc<App>>, headers: HeaderMap, RequestBody(body): RequestBody) -> Response {
    let fields = form_fields(&body.unwrap_or_default());
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    let username = field("username").trim();
    let csrf_ok = cookie(&headers, LOGIN_CSRF_COOKIE).is_some_and(|expected| same_token(expected, field("csrf")));
    if !csrf_ok {
        let message = "The form had expired. Please sign in again.".to_owned();
        return login_page(&app, &headers, StatusCode::FORBIDDEN, username, Some(message));
    }
    match service::sign_in(&app.store, username, field("password")).await {
        Ok(session) => {
            let mut response = Redirect::to("/admin").into_response();
            let cookies = response.headers_mut();
            cookies.append(
                header::SET_COOKIE,
                set_cookie(&app, SESSION_COOKIE, &session.token, service::SESSION_MS / 1000),
            );
            cookies.append(header::SET_COOKIE, set_cookie(&app, LOGIN_CSRF_COOKIE, "", 0));
            response
        }
        Err(e @ AdminError::WrongCredentials) => {
            login_page(&app, &headers, StatusCode::UNAUTHORIZED, username, Some(capitalised(&e.to_string())))
        }
        Err(e @ AdminError::Throttled(_)) => {
            login_page(&app, &headers, StatusCode::TOO_MANY_REQUESTS, username, Some(capitalised(&e.to_string())))
        }
        Err(e) => {
            tracing::error!(error = %e, "admin sign-in failed");
            super::pages::error_page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side; try again.")
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default() + "."
}

#[utoipa::path(
    post, path = "/admin/logout", tag = "admin",
    request_body(content = String, description = "Form field csrf", content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Signed out: to the sign-in form"), (status = 403, description = "The form's CSRF token is missing or wrong", content_type = "text/html"))
)]
pub async fn logout(
    State(app): State<Arc<App>>,
    AdminUser(user): AdminUser,
    headers: HeaderMap,
    RequestBody(body): RequestBody,
) -> Response {
    let fields = form_fields(&body.unwrap_or_default());
    if !same_token(&user.csrf_token, fields.get("csrf").map(String::as_str).unwrap_or_default()) {
        return super::pages::error_page(
            StatusCode::FORBIDDEN,
            "The form had expired. Go back, reload the page and try again.",
        );
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = service::sign_out(&app.store, token).await
    {
        tracing::error!(error = %e, "signing out failed");
    }
    let mut response = Redirect::to("/admin/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&app, SESSION_COOKIE, "", 0));
    response
}

struct BrandSummary {
    slug: String,
    name: String,
    counts: Vec<(String, i64)>,
    /// Events of the last 30 days by type, from the counters.
    events: Vec<(String, i64)>,
}

const SUMMARY_DAYS: i64 = 30;

#[derive(Template)]
#[template(path = "admin_home.html")]
struct HomePage {
    username: String,
    role: &'static str,
    csrf: String,
    brands: Vec<BrandSummary>,
}

#[utoipa::path(get, path = "/admin", tag = "admin", responses((status = 200, description = "The brands the user may see", content_type = "text/html"), (status = 303, description = "Not signed in: to the sign-in form")))]
pub async fn home(State(app): State<Arc<App>>, AdminUser(user): AdminUser) -> Response {
    let mut brands = Vec::new();
    for brand in app.brands.all().filter(|b| user.access.sees_brand(b.slug.as_str())) {
        let slug = brand.slug.to_string();
        let lookup = slug.clone();
        let to = crate::clock::now().millis();
        let from = to - SUMMARY_DAYS * 24 * crate::analytics::HOUR_MS;
        let read = app
            .store
            .read(move |conn| -> Result<_, crate::store::StoreError> {
                let counts = crate::store::admin::verification_counts(conn, &lookup)?;
                let totals = crate::store::rollups::totals(conn, &lookup, from, to + crate::analytics::HOUR_MS)?;
                Ok((counts, totals))
            })
            .await;
        let (counts, totals) = match read {
            Ok(read) => read,
            Err(e) => {
                tracing::error!(error = %e, "reading the admin summary failed");
                return super::pages::error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side; try again.",
                );
            }
        };
        let events = totals.into_iter().filter(|(d, _, _)| d == "event").map(|(_, v, c)| (v, c)).collect();
        brands.push(BrandSummary { slug, name: brand.name.clone(), counts, events });
    }
    let html =
        HomePage { username: user.username, role: user.access.role.as_str(), csrf: user.csrf_token, brands }.render();
    page(StatusCode::OK, html, Vec::new())
}
