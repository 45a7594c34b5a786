//! Server-rendered pages: the hosted verification page, the development outbox and the demo shop.

pub mod assets;
pub mod demo;
pub mod hosted;
pub mod outbox;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Renders a template, or a plain error page if rendering fails.
pub fn render(template: &impl askama::Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, Html("<h1>Something went wrong</h1>")).into_response()
        }
    }
}

/// A readable error page for people (the API answers with problem details instead).
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage { status: status.as_u16(), message };
    (status, render(&page)).into_response()
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
}
