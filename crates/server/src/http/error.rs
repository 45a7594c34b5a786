//! The one place errors become HTTP: RFC 9457 problem details with a stable `type` for the API
//! (`ApiError`), a readable page for people (`PageError`).

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fluent_bundle::FluentValue;
use orderguard_domain::FieldError;
use orderguard_domain::verification::Rejection;
use serde::Serialize;

use crate::i18n::ProblemTexts;
use crate::identity::IdentityError;
use crate::identity::jwt::TokenError;
use crate::service::ServiceError;

pub const PROBLEM_PREFIX: &str = "urn:orderguard:problem:";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// Path of the field in the request body, e.g. `order.items[0].quantity`.
    pub field: String,
    pub reason: String,
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem, e.g. `urn:orderguard:problem:validation-error`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// The verification's status, for problems about a verification that is no longer pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_status: Option<String>,
    /// Seconds until a refused request can succeed (`limit-reached`, `resend-too-soon`); the same
    /// as the `Retry-After` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<i64>,
}

#[derive(Debug)]
pub struct ApiError(pub Box<Problem>);

impl ApiError {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self(Box::new(Problem {
            kind: format!("{PROBLEM_PREFIX}{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            verification_status: None,
            retry_after_seconds: None,
        }))
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation-error", "The request is not valid", detail);
        e.0.errors = errors.into_iter().map(|f| FieldProblem { field: f.field, reason: f.reason }).collect();
        e
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("{what} does not exist"))
    }

    pub fn unauthorized(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required", detail)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal error",
            "something went wrong on our side; the request can be retried",
        )
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Validation(errors) => Self::validation(errors),
            ServiceError::NotFound => Self::not_found("the verification"),
            ServiceError::Refused { rejection, .. } => rejected(rejection),
            ServiceError::IdempotencyMismatch => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was already used with a different request body; use a new key for a new request",
            ),
            ServiceError::PhoneInvalid(reason) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "customer-phone-invalid",
                "The customer's mobile number cannot receive a code",
                format!("the number the identity service holds for this customer {reason}"),
            ),
            ServiceError::PhoneUnverified => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "customer-phone-unverified",
                "The customer has no verified mobile number",
                "the identity service holds no verified mobile number for this customer",
            ),
            ServiceError::Identity(IdentityError::UnknownCustomer) => {
                let mut e = Self::validation(vec![FieldError::new(
                    "customer.id",
                    "is not known to the brand's identity service",
                )]);
                e.0.kind = format!("{PROBLEM_PREFIX}customer-unknown");
                e
            }
            ServiceError::Identity(IdentityError::TokenRejected(reason)) => {
                let expired = matches!(reason, TokenError::Expired | TokenError::Inactive);
                Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    if expired { "customer-token-expired" } else { "customer-token-invalid" },
                    if expired { "The customer's token has expired" } else { "The customer's token is not valid" },
                    format!("the telco's identity service does not vouch for this token: {reason}"),
                )
            }
            ServiceError::Identity(IdentityError::WrongReference(what)) => {
                Self::validation(vec![FieldError::new("customer", what)])
            }
            ServiceError::PhoneMissing => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "customer-phone-missing",
                "The customer has no mobile number",
                "the identity service holds no mobile number for this customer",
            ),
            ServiceError::Identity(IdentityError::Unavailable(reason)) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "identity-unavailable",
                "The identity service is unavailable",
                format!("the customer's number could not be looked up: {reason}"),
            ),
            ServiceError::Forbidden(why) => Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", why),
            ServiceError::Conflict => Self::new(
                StatusCode::CONFLICT,
                "concurrent-change",
                "Concurrent change",
                "the verification was changed by parallel requests; retry",
            ),
            ServiceError::Store(e) => {
                tracing::error!(error = %e, "storage error");
                Self::internal()
            }
            ServiceError::Internal(what) => {
                tracing::error!(error = what, "internal error");
                Self::internal()
            }
        }
    }
}

fn rejected(rejection: Rejection) -> ApiError {
    match rejection {
        Rejection::NotPending(status) => {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "verification-not-pending",
                "The verification is no longer pending",
                rejection.to_string(),
            );
            e.0.verification_status = Some(status.as_str().to_owned());
            e
        }
        Rejection::Expired => {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "verification-expired",
                "The code has expired",
                "the code has expired; start a new verification",
            );
            e.0.verification_status = Some("expired".into());
            e
        }
        Rejection::ResendLimit => {
            ApiError::new(StatusCode::CONFLICT, "resend-limit-reached", "No more resends", rejection.to_string())
        }
        Rejection::Limited { retry_after_seconds, .. } => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "limit-reached",
                "Too many attempts",
                rejection.to_string(),
            );
            e.0.retry_after_seconds = Some(retry_after_seconds);
            e
        }
        Rejection::ResendTooSoon { retry_after_seconds } => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "resend-too-soon",
                "Too soon for a new code",
                rejection.to_string(),
            );
            e.0.retry_after_seconds = Some(retry_after_seconds);
            e
        }
    }
}

static PROBLEM_TEXTS: LazyLock<ProblemTexts> = LazyLock::new(ProblemTexts::new);

impl ApiError {
    /// Title and detail in the request's language, when it is not English.
    fn localise(&mut self) -> Option<&'static str> {
        let locale = super::locale::current();
        let problem = &mut self.0;
        let slug = problem.kind.strip_prefix(PROBLEM_PREFIX).unwrap_or_default().to_owned();
        let args = [
            ("detail", FluentValue::from(problem.detail.clone())),
            ("status", FluentValue::from(problem.verification_status.clone().unwrap_or_default())),
            ("seconds", FluentValue::from(problem.retry_after_seconds.unwrap_or_default())),
        ];
        let (title, detail) = PROBLEM_TEXTS.get(locale, &slug, &args)?;
        problem.title = title;
        problem.detail = detail;
        Some(locale)
    }
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        let language = self.localise().unwrap_or(crate::i18n::FALLBACK_LOCALE);
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.0.retry_after_seconds;
        let body = serde_json::to_vec(&*self.0).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(language));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            headers.insert(header::RETRY_AFTER, seconds);
        }
        response
    }
}

/// An error answered with a page for people (the hosted page, the admin area, the demo shop), in
/// the look of the other pages; or, for a visitor who is not signed in, the way to the sign-in form.
#[derive(Debug)]
pub enum PageError {
    /// A page that says what went wrong, with its status.
    Message { status: StatusCode, message: String },
    /// The admin area without a session: to the sign-in form.
    SignIn,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Message { status, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// A form's fields the service refused, each said with why; nothing was changed.
    pub fn invalid_form(errors: &[orderguard_domain::FieldError]) -> Self {
        let reasons: Vec<String> = errors.iter().map(|f| format!("The {} {}.", f.field, f.reason)).collect();
        Self::bad_request(format!("{} Go back and try again; nothing was changed.", reasons.join(" ")))
    }

    /// Something failed on our side: logged with its cause, shown without it.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "a page failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side; try again.")
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Forbidden(why) => Self::forbidden(capitalised(why)),
            ServiceError::NotFound => Self::not_found("There is nothing here."),
            other => Self::internal(&other),
        }
    }
}

/// `the form expired` → `The form expired.`
pub(crate) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default() + "."
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn => axum::response::Redirect::to("/admin/login").into_response(),
            Self::Message { status, message } => {
                let page = ErrorPage { status: status.as_u16(), message: &message };
                (status, super::pages::render(&page)).into_response()
            }
        }
    }
}
