//! Signing in and out of the admin area.

use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::{
    AdminUser, LOGIN_CSRF_COOKIE, SESSION_COOKIE, cookie, form_fields, page, same_token, set_cookie, signed_form,
};
use crate::app::App;
use crate::http::body::RequestBody;
use crate::http::error::{PageError, capitalised};
use crate::service::admin::{self as service, AdminError};

#[derive(Template)]
#[template(path = "admin_login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    username: &'a str,
    message: Option<String>,
}

/// The sign-in form; it gets a fresh CSRF cookie unless it has one.
fn login_page(
    app: &App,
    headers: &HeaderMap,
    status: StatusCode,
    username: &str,
    message: Option<String>,
) -> Result<Response, PageError> {
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
pub async fn login_form(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, PageError> {
    login_page(&app, &headers, StatusCode::OK, "", None)
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
) -> Result<Response, PageError> {
    let fields = form_fields(&body.unwrap_or_default());
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    let username = field("username").trim();
    let csrf_ok = cookie(&headers, LOGIN_CSRF_COOKIE).is_some_and(|expected| same_token(expected, field("csrf")));
    if !csrf_ok {
        let message = "The form had expired. Please sign in again.".to_owned();
        return login_page(&app, &headers, StatusCode::FORBIDDEN, username, Some(message));
    }
    // Behind a trusted reverse proxy, the client it names; counted per address (a network would
    // let one guesser lock out the office or carrier NAT around it), kept as a keyed reference.
    let address = crate::http::client_ip::client_ip(peer.ip(), &headers, &app.trusted_proxies);
    let client = app.secrets.reference("sign-in-client", &address.to_string());
    let password = field("password");
    match service::sign_in(&app.store, &app.secrets, username, password, &client, app.clock.now()).await {
        Ok(session) => {
            let mut response = Redirect::to("/admin").into_response();
            let cookies = response.headers_mut();
            cookies.append(
                header::SET_COOKIE,
                set_cookie(&app, SESSION_COOKIE, &session.token, service::SESSION_MS / 1000),
            );
            cookies.append(header::SET_COOKIE, set_cookie(&app, LOGIN_CSRF_COOKIE, "", 0));
            Ok(response)
        }
        Err(e @ AdminError::WrongCredentials) => {
            login_page(&app, &headers, StatusCode::UNAUTHORIZED, username, Some(capitalised(&e.to_string())))
        }
        Err(e @ AdminError::Throttled(_)) => {
            login_page(&app, &headers, StatusCode::TOO_MANY_REQUESTS, username, Some(capitalised(&e.to_string())))
        }
        Err(e) => Err(PageError::internal(&e)),
    }
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
) -> Result<Response, PageError> {
    signed_form(&user, &body.unwrap_or_default())?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = service::sign_out(&app.store, token).await
    {
        tracing::error!(error = %e, "signing out failed");
    }
    let mut response = Redirect::to("/admin/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&app, SESSION_COOKIE, "", 0));
    Ok(response)
}
