//! Delivery status callbacks from HTTP SMS providers: `/v1/sms-status/{provider}`, authenticated
//! with the provider's callback secret, recorded as `sms.delivered` / `sms.failed` events.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use orderguard_domain::FieldError;
use serde_json::{Map, Value};

use crate::app::App;
use crate::http::body::RequestBody;
use crate::http::error::ApiError;
use crate::sms::delivery::DeliveryReport;
use crate::sms::status_callback::{CallbackReport, StatusCallback};

#[utoipa::path(
    post, path = "/v1/sms-status/{provider}", tag = "sms",
    params(
        ("provider" = String, Path, description = "The provider's name in the configuration"),
        ("token" = Option<String>, Query, description = "The callback secret, unless sent as `Authorization: Bearer`"),
    ),
    request_body(content = Object, description = "The provider's status report, as JSON or form fields", content_type = "application/json"),
    responses(
        (status = 204, description = "Recorded, or an interim status that needs nothing recorded"),
        (status = 401, description = "Missing or wrong callback secret", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No provider of this name takes status callbacks", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A configured field is missing", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 500, description = "Not stored: send it again", body = crate::http::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn status_callback(
    State(app): State<Arc<App>>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    RequestBody(body): RequestBody,
) -> Result<StatusCode, ApiError> {
    // Who calls is checked before anything of the body is read.
    let mut fields = form_fields(query.as_deref().unwrap_or_default().as_bytes())?;
    let callback = authenticate(&app, &provider, &headers, &fields)?;
    let body = body?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
    let from_body = if body.is_empty() {
        Map::new()
    } else if is_json {
        match serde_json::from_slice(&body) {
            Ok(Value::Object(map)) => map,
            _ => return Err(invalid("body", "must be a JSON object")),
        }
    } else {
        form_fields(&body)?
    };
    // Some providers put everything in the callback URL's query string, some in the body.
    fields.extend(from_body);
    receive(&app, callback, &provider, Value::Object(fields)).await
}

#[utoipa::path(
    get, path = "/v1/sms-status/{provider}", tag = "sms",
    params(
        ("provider" = String, Path, description = "The provider's name in the configuration"),
        ("token" = Option<String>, Query, description = "The callback secret, unless sent as `Authorization: Bearer`"),
    ),
    responses(
        (status = 204, description = "Recorded, or an interim status that needs nothing recorded"),
        (status = 401, description = "Missing or wrong callback secret", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No provider of this name takes status callbacks", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A configured field is missing", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 500, description = "Not stored: send it again", body = crate::http::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn status_callback_query(
    State(app): State<Arc<App>>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let fields = form_fields(query.as_deref().unwrap_or_default().as_bytes())?;
    let callback = authenticate(&app, &provider, &headers, &fields)?;
    receive(&app, callback, &provider, Value::Object(fields)).await
}

/// The provider's callback settings, once the caller has shown its secret (header or query).
fn authenticate<'a>(
    app: &'a App,
    provider: &str,
    headers: &HeaderMap,
    query: &Map<String, Value>,
) -> Result<&'a StatusCallback, ApiError> {
    let callback = app
        .brands
        .status_callback(provider)
        .ok_or_else(|| ApiError::not_found("a status callback of this provider"))?;
    let token =
        crate::http::bearer_token(headers).or_else(|| query.get("token").and_then(Value::as_str)).unwrap_or_default();
    if !callback.accepts_token(token) {
        return Err(ApiError::unauthorized(
            "send the provider's callback secret as `?token=` or `Authorization: Bearer`",
        ));
    }
    Ok(callback)
}

async fn receive(app: &App, callback: &StatusCallback, provider: &str, fields: Value) -> Result<StatusCode, ApiError> {
    let (provider_message_id, delivery, status, error_code) = match callback.read(&fields) {
        Ok(CallbackReport::Final { provider_message_id, delivery, status, error_code }) => {
            (provider_message_id, delivery, status, error_code)
        }
        Ok(CallbackReport::Interim { .. }) => return Ok(StatusCode::NO_CONTENT),
        Err(reason) => return Err(invalid("body", &reason)),
    };
    let report = DeliveryReport {
        provider: provider.to_owned(),
        provider_message_id,
        delivery,
        status,
        error_code,
        stored: None,
    };
    if crate::service::sms::hand_over_report(app, report).await {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::internal())
    }
}

fn form_fields(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(bytes).map_err(|_| invalid("body", "must be JSON or URL-encoded form fields"))?;
    Ok(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

fn invalid(field: &str, reason: &str) -> ApiError {
    ApiError::validation(vec![FieldError::new(field, reason)])
}
