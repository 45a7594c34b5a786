//! The JSON API under `/v1`, authenticated with a brand's API key.

pub mod sms_status;
pub mod types;

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orderguard_domain::FieldError;
use orderguard_domain::order::{ItemInput, Order, OrderInput, OrderOutcome};
use orderguard_domain::sms_text::CodeEntry;
use serde::de::DeserializeOwned;
use types::*;

use super::body::RequestBody;
use super::error::ApiError;
use crate::app::App;
use crate::brand::Brand;
use crate::identity::CustomerRequest;
use crate::records::VerificationRecord;
use crate::service::api_keys::{self, KeyRefused};
use crate::service::orders::{OutcomeReport, report_outcome};
use crate::service::verifications::{self as service, CheckResult, NewVerification, TypedFrom};

/// The brand whose API key authenticated the request.
pub struct ApiBrand(pub Arc<Brand>);

impl FromRequestParts<Arc<App>> for ApiBrand {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Err(ApiError::unauthorized("send the brand's API key as `Authorization: Bearer <key>`"));
        }
        let key = crate::http::bearer_token(&parts.headers)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <key>`"))?;
        let brand = api_keys::authenticate(app, key).await.map_err(|e| match e {
            KeyRefused::Failed(e) => ApiError::from(e),
            refused => ApiError::unauthorized(&refused.to_string()),
        })?;
        super::locale::set_brand_default(brand.texts.default_locale());
        Ok(Self(brand))
    }
}

/// Parses a JSON body: `application/json`, within the size limit, with errors that name the field.
/// Returns the value and a canonical hash of it (for Idempotency-Key comparison).
pub(crate) fn parse_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, ApiError>,
) -> Result<(T, Vec<u8>), ApiError> {
    let body = body?;
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !json_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "JSON expected",
            "send the body as `Content-Type: application/json`",
        ));
    }
    let value = crate::http::strict_json::from_slice(&body).map_err(|e| {
        let detail = e.to_string();
        if detail.starts_with(crate::http::strict_json::DUPLICATE_KEY) {
            ApiError::new(StatusCode::BAD_REQUEST, "duplicate-key", "A key appears twice", detail)
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed-json", "The body is not valid JSON", detail)
        }
    })?;
    let hash = crate::crypto::sha256(value.to_string().as_bytes());
    let parsed = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let reason = e.into_inner().to_string();
        // serde names a missing field in the message, at the path of the object that lacks it.
        let missing = reason.strip_prefix("missing field `").and_then(|r| r.split('`').next());
        let field = match (path.as_str(), missing) {
            (".", Some(name)) => name.to_owned(),
            (_, Some(name)) => format!("{path}.{name}"),
            (".", None) => String::from("(body)"),
            (_, None) => path,
        };
        ApiError::validation(vec![FieldError::new(field, reason)])
    })?;
    Ok((parsed, hash))
}

fn optional_json<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: Result<Bytes, ApiError>,
) -> Result<T, ApiError> {
    match &body {
        // No body, or JSON `null`: nothing to say.
        Ok(bytes) if bytes.is_empty() || bytes.trim_ascii() == b"null" => Ok(T::default()),
        _ => parse_json(headers, body).map(|(value, _)| value),
    }
}

/// A verification as the API shows it, with the receipt issued at its approval.
pub fn verification_response(app: &App, v: &VerificationRecord) -> VerificationResponse {
    use crate::clock::rfc3339;
    VerificationResponse {
        id: v.id.clone(),
        brand: v.brand.to_string(),
        order_id: v.order_id.clone(),
        status: v.state.status.as_str().to_owned(),
        retry_after: None,
        amount: v.amount.to_decimal(),
        currency: v.amount.currency.code().to_owned(),
        locale: v.locale.clone(),
        expires_at: rfc3339(v.state.expires_at.millis()),
        attempts_remaining: v.state.attempts_remaining(),
        resends_remaining: v.state.resends_remaining(),
        resend_available_at: rfc3339(v.state.resend_available_at().millis()),
        phone_hint: v.phone_hint.clone(),
        hosted_url: crate::service::verifications::hosted_url(app, v),
        code_entry: v.code_entry.as_str().to_owned(),
        risk: Risk {
            decision: v.risk.decision.as_str().to_owned(),
            score: i64::from(v.risk.score),
            reasons: v.risk.reasons.iter().map(|r| r.as_str().to_owned()).collect(),
        },
        receipt: v.receipt.clone(),
        cancel_reason: v.cancel_reason.clone(),
        customer_notice: (v.state.status == orderguard_domain::verification::Status::Blocked)
            .then(|| app.brands.get(v.brand.as_str()).map(|b| b.review_right(&v.locale)))
            .flatten(),
        created_at: rfc3339(v.created_at.millis()),
        updated_at: rfc3339(v.updated_at.millis()),
    }
}

const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Start a verification for an order: resolves the customer's number, assesses the risk and,
/// unless denied, sends the code.
#[utoipa::path(
    post, path = "/v1/verifications", tag = "verifications",
    request_body = CreateVerificationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and body return the same verification and send no second SMS.")),
    responses(
        (status = 201, description = "Created (or replayed: header `Idempotent-Replayed: true`). Also when refused: `blocked` by the risk rules or a hard limit (then `retry_after` and the limit's reason code), or `in_review`; neither sends a code", body = VerificationResponse),
        (status = 400, description = "Malformed JSON", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request, unknown customer, unusable number or reused Idempotency-Key", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Identity service unavailable", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn create_verification(
    State(app): State<Arc<App>>,
    ApiBrand(brand): ApiBrand,
    headers: HeaderMap,
    RequestBody(body): RequestBody,
) -> Result<Response, ApiError> {
    let (request, request_hash): (CreateVerificationRequest, _) = parse_json(&headers, body)?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value.to_str().ok().map(str::trim).filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY);
            Some(key.map(str::to_owned).ok_or_else(|| {
                ApiError::validation(vec![FieldError::new(
                    "Idempotency-Key",
                    "must be 1 to 255 visible ASCII characters",
                )])
            })?)
        }
    };
    let mut errors = Vec::new();
    let order = Order::parse(&OrderInput {
        id: &request.order.id,
        amount: &request.order.amount,
        currency: &request.order.currency,
        items: request
            .order
            .items
            .iter()
            .map(|i| ItemInput {
                sku: &i.sku,
                name: &i.name,
                quantity: i.quantity,
                unit_price: &i.unit_price,
                hardware: i.hardware,
            })
            .collect(),
        shipping_country: request.order.shipping_country.as_deref(),
    })
    .map_err(|e| errors.push(e.within("order")))
    .ok();
    let customer = customer_reference(request.customer).map_err(|e| errors.push(e)).ok();
    let client_ip = match request.client.as_ref().and_then(|c| c.ip.as_deref()) {
        None => None,
        Some(ip) => {
            ip.parse().map_err(|_| errors.push(FieldError::new("client.ip", "is not an IPv4 or IPv6 address"))).ok()
        }
    };
    if let Some(locale) = &request.locale
        && (locale.is_empty()
            || locale.len() > 35
            || !locale.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        errors.push(FieldError::new("locale", "must be a language tag such as de or en-GB"));
    }
    let code_entry = match request.code_entry.as_deref() {
        None => CodeEntry::Shop,
        Some(value) => CodeEntry::parse(value).unwrap_or_else(|| {
            errors.push(FieldError::new("code_entry", "must be `shop`, `hosted` or `embedded`"));
            CodeEntry::Shop
        }),
    };
    if request.return_url.as_ref().is_some_and(|u| u.chars().count() > 2048) {
        errors.push(FieldError::new("return_url", "must be at most 2048 characters"));
    }
    let (Some(order), Some(customer)) = (order.filter(|_| errors.is_empty()), customer) else {
        return Err(ApiError::validation(errors));
    };
    let now = app.clock.now();
    let created = service::create(
        &app,
        &brand,
        NewVerification {
            order,
            customer,
            locale: request.locale.or_else(|| super::locale::accepted().map(str::to_owned)),
            client_ip,
            device_id: request.client.as_ref().and_then(|c| c.device_id.clone()),
            return_url: request.return_url,
            code_entry,
            idempotency_key,
            request_hash,
        },
        now,
    )
    .await?;
    let body = VerificationResponse {
        retry_after: created.retry_after_seconds,
        ..verification_response(&app, &created.record)
    };
    let location = format!("/v1/verifications/{}", created.record.id);
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if created.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The current state of a verification (with the receipt once approved).
#[utoipa::path(
    get, path = "/v1/verifications/{id}", tag = "verifications",
    params(("id" = String, Path, description = "Verification id")),
    responses(
        (status = 200, body = VerificationResponse),
        (status = 401, body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such verification for this brand", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn get_verification(
    State(app): State<Arc<App>>,
    ApiBrand(brand): ApiBrand,
    Path(id): Path<String>,
) -> Result<Json<VerificationResponse>, ApiError> {
    let record = service::get(&app, &brand.slug, &id).await?;
    Ok(Json(verification_response(&app, &record)))
}

const TOKEN_RULE: &str =
    "must be a token as the provider issued it: 1 to 16384 characters of A-Z a-z 0-9 - . _ ~ + / =";

/// The characters of an OAuth bearer token (RFC 6750 §2.1), which JWTs and opaque tokens use.
fn is_token(token: &str) -> bool {
    (1..=16_384).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'='))
}

/// Exactly one way to name the customer: an id, or a token from the telco's OpenID provider.
fn customer_reference(body: CustomerBody) -> Result<CustomerRequest, FieldError> {
    match (body.id, body.access_token, body.id_token) {
        (Some(id), None, None) if !id.trim().is_empty() && id.chars().count() <= 256 => Ok(CustomerRequest::Id(id)),
        (Some(_), None, None) => Err(FieldError::new("customer.id", "must be 1 to 256 characters")),
        (None, Some(token), None) if is_token(&token) => Ok(CustomerRequest::AccessToken(token)),
        (None, None, Some(token)) if is_token(&token) => Ok(CustomerRequest::IdToken(token)),
        (None, Some(_), None) => Err(FieldError::new("customer.access_token", TOKEN_RULE)),
        (None, None, Some(_)) => Err(FieldError::new("customer.id_token", TOKEN_RULE)),
        _ => Err(FieldError::new("customer", "needs exactly one of id, access_token and id_token")),
    }
}

/// Check the code the customer typed. A wrong code uses up an attempt; the last wrong one fails
/// the verification.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/check", tag = "verifications",
    params(("id" = String, Path, description = "Verification id")),
    request_body = CheckRequest,
    responses(
        (status = 200, description = "Checked: `approved` with a receipt, or `pending`/`failed` with the attempts left", body = CheckResponse),
        (status = 404, body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No longer pending (approved, failed, expired, canceled, …)", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a code (no attempt is used)", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`urn:orderguard:problem:limit-reached`: a wrong-code lock of the customer or number refuses the check unjudged (no attempt is used); see `Retry-After` and `retry_after_seconds`", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn check_verification(
    State(app): State<Arc<App>>,
    ApiBrand(brand): ApiBrand,
    Path(id): Path<String>,
    headers: HeaderMap,
    RequestBody(body): RequestBody,
) -> Result<Json<CheckResponse>, ApiError> {
    let (request, _): (CheckRequest, _) = parse_json(&headers, body)?;
    let typed_from = match request.client {
        None => TypedFrom::default(),
        Some(client) => TypedFrom {
            ip: match client.ip.as_deref() {
                None => None,
                Some(ip) => Some(ip.parse().map_err(|_| {
                    ApiError::validation(vec![FieldError::new("client.ip", "is not an IPv4 or IPv6 address")])
                })?),
            },
            device_id: client.device_id,
        },
    };
    let result = service::check(&app, &brand, &id, &request.code, typed_from, app.clock.now()).await?;
    Ok(Json(check_response(result)))
}

pub fn check_response(result: CheckResult) -> CheckResponse {
    match result {
        CheckResult::Approved { record, receipt } => CheckResponse {
            id: record.id,
            status: "approved".into(),
            valid: true,
            attempts_remaining: record.state.attempts_remaining(),
            receipt: Some(receipt),
        },
        CheckResult::Wrong { record, attempts_remaining } => {
            CheckResponse { id: record.id, status: "pending".into(), valid: false, attempts_remaining, receipt: None }
        }
        CheckResult::Failed { record } => {
            CheckResponse { id: record.id, status: "failed".into(), valid: false, attempts_remaining: 0, receipt: None }
        }
        CheckResult::Held { record } => CheckResponse {
            id: record.id,
            status: "in_review".into(),
            valid: true,
            attempts_remaining: record.state.attempts_remaining(),
            receipt: None,
        },
    }
}

/// Send a new code (the old one stops working). Limited in number and by a cooldown.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/resend", tag = "verifications",
    params(("id" = String, Path, description = "Verification id")),
    responses(
        (status = 200, body = VerificationResponse),
        (status = 404, body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No longer pending, or no resends left", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`urn:orderguard:problem:resend-too-soon`: the cooldown is running; or `urn:orderguard:problem:limit-reached`: the number's SMS limit or a wrong-code lock refuses it and nothing is sent. See `Retry-After` and `retry_after_seconds`", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn resend_verification(
    State(app): State<Arc<App>>,
    ApiBrand(brand): ApiBrand,
    Path(id): Path<String>,
) -> Result<Json<VerificationResponse>, ApiError> {
    let now = app.clock.now();
    let record = service::resend(&app, &brand, &id, now).await?;
    Ok(Json(verification_response(&app, &record)))
}

/// The customer aborted: end the verification as `canceled`.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/cancel", tag = "verifications",
    params(("id" = String, Path, description = "Verification id")),
    request_body(content = Option<CancelRequest>, description = "Optional reason"),
    responses(
        (status = 200, body = VerificationResponse),
        (status = 404, body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn cancel_verification(
    State(app): State<Arc<App>>,
    ApiBrand(brand): ApiBrand,
    Path(id): Path<String>,
    headers: HeaderMap,
    RequestBody(body): RequestBody,
) -> Result<Json<VerificationResponse>, ApiError> {
    let request: CancelRequest = optional_json(&headers, body)?;
    let now = app.clock.now();
    let record = service::cancel(&app, &brand, &id, request.reason, now).await?;
    Ok(Json(verification_response(&app, &record)))
}

/// Report what finally became of an order: the labels fraud trends are computed from.
#[utoipa::path(
    post, path = "/v1/orders/{order_id}/outcome", tag = "orders",
    params(("order_id" = String, Path, description = "The shop's order id")),
    request_body = OutcomeRequest,
    responses(
        (status = 200, body = OutcomeResponse),
        (status = 422, body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn report_order_outcome(
    State(app): State<Arc<App>>,
    ApiBrand(brand): ApiBrand,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    RequestBody(body): RequestBody,
) -> Result<Json<OutcomeResponse>, ApiError> {
    let (request, _): (OutcomeRequest, _) = parse_json(&headers, body)?;
    let outcome = OrderOutcome::parse(&request.outcome).map_err(|e| ApiError::validation(vec![e]))?;
    let recorded = report_outcome(
        &app,
        brand.slug.as_str(),
        OutcomeReport {
            order_id: order_id.clone(),
            outcome,
            amount_lost: request.amount_lost,
            currency: request.currency,
        },
        app.clock.now(),
    )
    .await?;
    Ok(Json(OutcomeResponse {
        order_id,
        outcome: outcome.as_str().to_owned(),
        amount_lost: recorded.amount_lost.map(|m| m.to_decimal()),
        currency: recorded.amount_lost.map(|m| m.currency.code().to_owned()),
        verifications: recorded.verifications,
    }))
}
