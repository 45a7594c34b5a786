//! Signing in and out of the admin area.

use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::{
    AdminUser, LOGIN_CSRF_COOKIE, SESSION_COOKIE, cookie, form_fields, page, same_token, set_cookie, signed_form,
};
use crate::app::App;
use crate::http::body::RequestBody;
use crate::http::error::{PageError, capitalised};
use crate::service::admin::{self as service, AdminError, NewSession};
use crate::service::{second_factor, sign_in};

/// The sign-in between the password and the second factor.
const SIGN_IN_COOKIE: &str = "og_admin_signin";

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
    let client = app.secrets.sign_in_reference("sign-in-client", &address.to_string());
    let password = field("password");
    match sign_in::sign_in(&app.store, &app.secrets, username, password, &client, app.clock.now()).await {
        Ok(checked) => {
            let next = if checked.enrol { "/admin/login/enrol" } else { "/admin/login/code" };
            let mut response = Redirect::to(next).into_response();
            let max_age = sign_in::PENDING_MS / 1000;
            response
                .headers_mut()
                .append(header::SET_COOKIE, set_cookie(&app, SIGN_IN_COOKIE, &checked.token, max_age));
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

#[derive(Template)]
#[template(path = "admin_second_factor.html")]
struct SecondFactorPage<'a> {
    csrf: &'a str,
    message: Option<String>,
    enrolment: Option<second_factor::Enrolment>,
    /// Development only (`dev.show_admin_codes`): the code of this moment.
    dev_code: Option<String>,
    recovery_codes: Vec<String>,
}

/// Back to the password, with why.
fn start_over(app: &App, headers: &HeaderMap, error: &AdminError) -> Result<Response, PageError> {
    let mut response = login_page(app, headers, StatusCode::UNAUTHORIZED, "", Some(capitalised(&error.to_string())))?;
    response.headers_mut().append(header::SET_COOKIE, set_cookie(app, SIGN_IN_COOKIE, "", 0));
    Ok(response)
}

/// The second step's page: the code form, or the enrolment (QR code, secret, code form).
async fn second_factor_page(
    app: &App,
    headers: &HeaderMap,
    status: StatusCode,
    enrol: bool,
    message: Option<String>,
) -> Result<Response, PageError> {
    let expired = AdminError::SignInExpired;
    let (Some(token), Some(csrf)) = (cookie(headers, SIGN_IN_COOKIE), cookie(headers, LOGIN_CSRF_COOKIE)) else {
        return start_over(app, headers, &expired);
    };
    let now = app.clock.now().millis();
    let show = app.settings.dev.show_admin_codes;
    let (enrolment, dev_code) = if enrol {
        match second_factor::enrolment(&app.store, &app.secrets, token, now)
            .await
            .map_err(|e| PageError::internal(&e))?
        {
            Some(enrolment) => {
                let code = show.then(|| enrolment.current_code.clone());
                (Some(enrolment), code)
            }
            None => return start_over(app, headers, &expired),
        }
    } else {
        match second_factor::challenge(&app.store, &app.secrets, token, now)
            .await
            .map_err(|e| PageError::internal(&e))?
        {
            Some(challenge) => (None, challenge.current_code.filter(|_| show)),
            None => return start_over(app, headers, &expired),
        }
    };
    let html = SecondFactorPage { csrf, message, enrolment, dev_code, recovery_codes: Vec::new() }.render();
    page(status, html, Vec::new())
}

/// Signed in: the session cookie, and the sign-in's cookies gone.
fn signed_in_cookies(app: &App, session: &NewSession) -> Vec<HeaderValue> {
    vec![
        set_cookie(app, SESSION_COOKIE, &session.token, service::SESSION_MS / 1000),
        set_cookie(app, SIGN_IN_COOKIE, "", 0),
        set_cookie(app, LOGIN_CSRF_COOKIE, "", 0),
    ]
}

#[utoipa::path(get, path = "/admin/login/code", tag = "admin", responses((status = 200, description = "The form for the second factor's code", content_type = "text/html"), (status = 401, description = "No sign-in in progress: the sign-in form", content_type = "text/html")))]
pub async fn code_form(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, PageError> {
    second_factor_page(&app, &headers, StatusCode::OK, false, None).await
}

#[utoipa::path(get, path = "/admin/login/enrol", tag = "admin", responses((status = 200, description = "A new second factor: its QR code, secret and a form for a first code", content_type = "text/html"), (status = 401, description = "No sign-in in progress: the sign-in form", content_type = "text/html")))]
pub async fn enrol_form(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, PageError> {
    second_factor_page(&app, &headers, StatusCode::OK, true, None).await
}

/// The posted code, if the form carries the sign-in's CSRF token.
fn posted_code(headers: &HeaderMap, body: &[u8]) -> Option<(String, String)> {
    let fields = form_fields(body);
    let csrf = fields.get("csrf").map(String::as_str).unwrap_or_default();
    let token = cookie(headers, SIGN_IN_COOKIE)?;
    cookie(headers, LOGIN_CSRF_COOKIE).filter(|expected| same_token(expected, csrf))?;
    Some((token.to_owned(), fields.get("code").cloned().unwrap_or_default()))
}

#[utoipa::path(
    post, path = "/admin/login/code", tag = "admin",
    request_body(content = String, description = "Form fields code (from the authenticator app, or a recovery code), csrf", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: to /admin, with the session cookie"),
        (status = 401, description = "Wrong code (the form again), or the sign-in expired (the sign-in form)", content_type = "text/html"),
    )
)]
pub async fn code(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RequestBody(body): RequestBody,
) -> Result<Response, PageError> {
    let Some((token, code)) = posted_code(&headers, &body.unwrap_or_default()) else {
        return start_over(&app, &headers, &AdminError::SignInExpired);
    };
    let now = app.clock.now().millis();
    match sign_in::complete(&app.store, &app.secrets, &token, &code, now).await {
        Ok(session) => {
            let mut response = Redirect::to("/admin").into_response();
            for value in signed_in_cookies(&app, &session) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            Ok(response)
        }
        Err(e @ AdminError::WrongCode) => {
            second_factor_page(&app, &headers, StatusCode::UNAUTHORIZED, false, Some(capitalised(&e.to_string()))).await
        }
        Err(e @ (AdminError::SignInExpired | AdminError::Throttled(_))) => start_over(&app, &headers, &e),
        Err(e) => Err(PageError::internal(&e)),
    }
}

#[utoipa::path(
    post, path = "/admin/login/enrol", tag = "admin",
    request_body(content = String, description = "Form fields code (the first from the authenticator app), csrf", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Enrolled and signed in: the recovery codes, shown once", content_type = "text/html"),
        (status = 401, description = "Wrong code (the enrolment again), or the sign-in expired (the sign-in form)", content_type = "text/html"),
    )
)]
pub async fn enrol(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RequestBody(body): RequestBody,
) -> Result<Response, PageError> {
    let Some((token, code)) = posted_code(&headers, &body.unwrap_or_default()) else {
        return start_over(&app, &headers, &AdminError::SignInExpired);
    };
    let now = app.clock.now().millis();
    match sign_in::confirm_enrolment(&app.store, &app.secrets, &token, &code, now).await {
        Ok((session, recovery_codes)) => {
            let html =
                SecondFactorPage { csrf: "", message: None, enrolment: None, dev_code: None, recovery_codes }.render();
            page(StatusCode::OK, html, signed_in_cookies(&app, &session))
        }
        Err(e @ AdminError::WrongCode) => {
            second_factor_page(&app, &headers, StatusCode::UNAUTHORIZED, true, Some(capitalised(&e.to_string()))).await
        }
        Err(e @ AdminError::SignInExpired) => start_over(&app, &headers, &e),
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
