//! The admin area under `/admin`: sign-in, sign-out and the signed-in home page. Sessions live in a
//! cookie scoped to `/admin` (HttpOnly, SameSite=Strict, Secure behind https); every form carries a
//! CSRF token: the session's own once signed in, a double-submitted cookie on the sign-in form.

use std::collections::HashMap;
use std::sync::Arc;

pub mod fraud;
pub mod live;
pub mod overview;
pub mod search;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts, State};
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
            Err(e) => Err(internal_error(&e)),
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
pub(super) const SCRIPTED_PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

pub(super) fn page(status: StatusCode, html: Result<String, askama::Error>, cookies: Vec<HeaderValue>) -> Response {
    page_with_policy(status, html, cookies, PAGE_POLICY)
}

pub(super) fn page_with_policy(
    status: StatusCode,
    html: Result<String, askama::Error>,
    cookies: Vec<HeaderValue>,
    policy: &'static str,
) -> Response {
    let Ok(html) = html else {
        return super::pages::error_page(StatusCode::INTERNAL_SERVER_ERROR, "The page could not be rendered.");
    };
    let mut response = (status, axum::response::Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
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

/// The fields of a form the signed-in user posted; `None` when it does not carry their session's
/// CSRF token (answer with `form_expired`).
fn signed_form(user: &SignedIn, body: &[u8]) -> Option<HashMap<String, String>> {
    let fields = form_fields(body);
    same_token(&user.csrf_token, fields.get("csrf").map(String::as_str).unwrap_or_default()).then_some(fields)
}

fn form_expired() -> Response {
    super::pages::error_page(StatusCode::FORBIDDEN, "The form had expired. Go back, reload the page and try again.")
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
pub async fn login(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    RequestBody(body): RequestBody,
) -> Response {
    let fields = form_fields(&body.unwrap_or_default());
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    let username = field("username").trim();
    let csrf_ok = cookie(&headers, LOGIN_CSRF_COOKIE).is_some_and(|expected| same_token(expected, field("csrf")));
    if !csrf_ok {
        let message = "The form had expired. Please sign in again.".to_owned();
        return login_page(&app, &headers, StatusCode::FORBIDDEN, username, Some(message));
    }
    match service::sign_in(&app.store, username, field("password"), &peer.ip().to_string()).await {
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
        Err(e) => internal_error(&e),
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
    if signed_form(&user, &body.unwrap_or_default()).is_none() {
        return form_expired();
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
    /// Verifications waiting for their code now.
    pending: i64,
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
    reads_audit: bool,
    /// May search orders by the customer's number (roles that see personal data).
    sees_numbers: bool,
}

#[utoipa::path(get, path = "/admin", tag = "admin", responses((status = 200, description = "The brands the user may see", content_type = "text/html"), (status = 303, description = "Not signed in: to the sign-in form")))]
pub async fn home(State(app): State<Arc<App>>, AdminUser(user): AdminUser) -> Response {
    let mut brands = Vec::new();
    // Whole hours, as every page counts them (the counters are per hour).
    let (from, to) = overview::period_bounds(SUMMARY_DAYS);
    for brand in app.brands.all().filter(|b| user.access.sees_brand(b.slug.as_str())) {
        let slug = brand.slug.to_string();
        let lookup = slug.clone();
        let read = app
            .store
            .read(move |conn| -> Result<_, crate::store::StoreError> {
                let pending = crate::store::admin::pending_count(conn, &lookup)?;
                let totals = crate::store::rollups::totals(conn, &lookup, from, to)?;
                Ok((pending, totals))
            })
            .await;
        let (pending, totals) = match read {
            Ok(read) => read,
            Err(e) => return internal_error(&e),
        };
        let events = totals.into_iter().filter(|(d, _, _)| d == "event").map(|(_, v, c)| (v, c)).collect();
        brands.push(BrandSummary { slug, name: brand.name.clone(), pending, events });
    }
    let reads_audit = user.access.reads_audit_log();
    let html = HomePage {
        username: user.username,
        role: user.access.role.as_str(),
        csrf: user.csrf_token,
        brands,
        reads_audit,
        sees_numbers: !user.access.role.masks_personal_data(),
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}

/// A brand the user may see; another brand's data does not exist for them (the same answer as an
/// unknown brand).
fn visible_brand(app: &App, user: &SignedIn, slug: &str) -> Option<Arc<crate::brand::Brand>> {
    app.brands.get(slug).filter(|_| user.access.sees_brand(slug)).cloned()
}

fn no_such_brand() -> Response {
    super::pages::error_page(StatusCode::NOT_FOUND, "There is no such brand for you.")
}

pub(super) fn internal_error(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "an admin page failed");
    super::pages::error_page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side; try again.")
}

/// Writes who looked at which personal data; the view is not shown if this fails.
async fn audit(app: &App, user: &SignedIn, action: &str, brand: Option<&str>, subject: &str) -> Result<(), Response> {
    let entry = crate::store::admin::AuditEntry {
        at: crate::clock::now().millis(),
        username: user.username.clone(),
        role: user.access.role.as_str().to_owned(),
        action: action.to_owned(),
        brand: brand.map(str::to_owned),
        subject: subject.to_owned(),
    };
    app.store.write(move |conn| crate::store::admin::audit(conn, &entry)).await.map_err(|e| internal_error(&e))
}

struct TraceVerification {
    id: String,
    status: String,
    number: String,
    amount: String,
    started: String,
}

struct TraceEvent {
    at: String,
    kind: String,
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
    axum::extract::Query(query): axum::extract::Query<TraceQuery>,
) -> Response {
    let Some(brand) = visible_brand(&app, &user, &query.brand) else {
        return no_such_brand();
    };
    let order_id: String = query.order.trim().chars().take(128).collect();
    let (slug, lookup) = (brand.slug.to_string(), order_id.clone());
    let read = app.store.read(move |conn| crate::store::admin::order_trace(conn, &slug, &lookup)).await;
    let (verifications, events) = match read {
        Ok(found) => found,
        Err(e) => return internal_error(&e),
    };
    if let Err(page) = audit(&app, &user, "order_trace", Some(brand.slug.as_str()), &order_id).await {
        return page;
    }
    let masked = user.access.role.masks_personal_data();
    let verifications = verifications
        .into_iter()
        .map(|v| {
            // Analysts see the hint; other roles the number, decrypted for this view only.
            let number = match (&v.phone_enc, masked) {
                (Some(enc), false) => app.secrets.decrypt_string(enc).unwrap_or_else(|_| v.phone_hint.clone()),
                (None, false) => format!("{} (erased)", v.phone_hint),
                (_, true) => v.phone_hint.clone(),
            };
            let amount = orderguard_domain::money::Currency::parse(&v.currency)
                .map(|c| {
                    crate::brand::format_amount(orderguard_domain::money::Money::from_minor(v.amount_minor, c), "en")
                })
                .unwrap_or_else(|_| format!("{} {}", v.amount_minor, v.currency));
            TraceVerification {
                id: v.id,
                status: v.status,
                number,
                amount,
                started: crate::clock::rfc3339(v.created_at),
            }
        })
        .collect();
    let events = events
        .into_iter()
        .map(|e| TraceEvent { at: crate::clock::rfc3339(e.at), kind: e.kind, details: e.attrs.to_string() })
        .collect();
    let html = TracePage { brand_name: brand.name.clone(), order_id, verifications, events }.render();
    page(StatusCode::OK, html, Vec::new())
}

struct AuditRow {
    at: String,
    username: String,
    role: String,
    action: String,
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
    axum::extract::Query(query): axum::extract::Query<AuditQuery>,
) -> Response {
    if !user.access.reads_audit_log() {
        return super::pages::error_page(StatusCode::FORBIDDEN, "Only auditors and operators read the audit log.");
    }
    let name = query.user.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
    let filter = name.clone();
    let entries =
        match app.store.read(move |conn| crate::store::admin::audit_search(conn, filter.as_deref(), 500)).await {
            Ok(entries) => entries,
            Err(e) => return internal_error(&e),
        };
    let entries = entries
        .into_iter()
        .map(|e| AuditRow {
            at: crate::clock::rfc3339(e.at),
            username: e.username,
            role: e.role,
            action: e.action,
            brand: e.brand.unwrap_or_default(),
            subject: e.subject,
        })
        .collect();
    page(StatusCode::OK, AuditPage { user: name.unwrap_or_default(), entries }.render(), Vec::new())
}
