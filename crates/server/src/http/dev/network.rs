//! `/dev/camara`: a development-only telco gateway, so that the demo shows the SIM swap check work
//! without a real operator. It speaks the CAMARA wire format (SIM Swap v2, Device Swap v1) behind
//! an OAuth 2.0 client-credentials token endpoint, as a gateway does. Its numbers: those in
//! `dev.sim_swapped` had their SIM "swapped" three hours before the instance's clock reads;
//! `POST /dev/camara/swaps` sets changes for others (the simulation's SIM-swap attackers). Only
//! served with `dev.network_api`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use orderguard_domain::clock::Timestamp;
use orderguard_domain::swap::SwapKind;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::http::api::parse_json;
use crate::http::body::RequestBody;
use crate::http::error::ApiError;

/// The client id the demo's configuration uses at `/dev/camara/token`.
pub const CLIENT_ID: &str = "orderguard-demo";
const SWAPPED_HOURS_AGO: i64 = 3;
const HOUR_MS: i64 = 3_600_000;

/// Changes of one number, absolute (RFC 3339 in milliseconds).
#[derive(Debug, Clone, Default)]
struct Changes {
    sim: Option<i64>,
    device: Option<i64>,
}

pub struct DevGateway {
    client_secret: String,
    /// Swapped three hours before "now", whenever now is.
    always_recent: HashSet<String>,
    changes: Mutex<HashMap<String, Changes>>,
    tokens: Mutex<HashSet<String>>,
}

impl DevGateway {
    pub fn new(client_secret: String, sim_swapped: &[String]) -> Self {
        Self {
            client_secret,
            always_recent: sim_swapped.iter().cloned().collect(),
            changes: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashSet::new()),
        }
    }

    fn latest(&self, kind: SwapKind, phone: &str, now: Timestamp) -> Option<i64> {
        if kind == SwapKind::SimSwap && self.always_recent.contains(phone) {
            return Some(now.millis() - SWAPPED_HOURS_AGO * HOUR_MS);
        }
        let changes = self.changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let known = changes.get(phone)?;
        // A change the clock has not reached yet has not happened (the simulation sets them ahead).
        match kind {
            SwapKind::SimSwap => known.sim,
            SwapKind::DeviceSwap => known.device,
        }
        .filter(|at| *at <= now.millis())
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        crate::http::bearer_token(headers)
            .is_some_and(|t| self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(t))
    }
}

/// A CAMARA error body.
fn camara_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "status": status.as_u16(), "code": code, "message": message }))).into_response()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    grant_type: String,
}

/// OAuth 2.0 client credentials (`client_secret_basic`).
#[utoipa::path(
    post, path = "/dev/camara/token", tag = "development",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "An access token"), (status = 401, description = "Wrong client credentials"))
)]
pub async fn token(
    Extension(gateway): Extension<Arc<DevGateway>>,
    headers: HeaderMap,
    Form(request): Form<TokenRequest>,
) -> Response {
    use base64::Engine;
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let expected = format!("{CLIENT_ID}:{}", gateway.client_secret);
    // Without a configured secret nobody gets a token.
    if gateway.client_secret.is_empty()
        || !credentials.is_some_and(|c| crate::crypto::constant_time_eq(c.as_bytes(), expected.as_bytes()))
    {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "invalid_client" }))).into_response();
    }
    if request.grant_type != "client_credentials" {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": "unsupported_grant_type" }))).into_response();
    }
    let token = crate::ids::random_token(24);
    let mut tokens = gateway.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if tokens.len() > 10_000 {
        tokens.clear();
    }
    tokens.insert(token.clone());
    Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": 3600 })).into_response()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SwapRequest {
    phone_number: Option<String>,
    max_age: Option<i64>,
}

fn answer(app: &App, gateway: &DevGateway, headers: &HeaderMap, body: Value, kind: SwapKind, check: bool) -> Response {
    if !gateway.authorised(headers) {
        return camara_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "Request not authenticated");
    }
    let Ok(request) = serde_json::from_value::<SwapRequest>(body) else {
        return camara_error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "Client specified an invalid argument");
    };
    let Some(phone) = request.phone_number.filter(|p| orderguard_domain::phone::E164::parse(p, None).is_ok()) else {
        return camara_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "MISSING_IDENTIFIER",
            "The device cannot be identified.",
        );
    };
    let now = app.clock.now();
    let latest = gateway.latest(kind, &phone, now);
    if check {
        let max_age = request.max_age.unwrap_or(240);
        if !(1..=2400).contains(&max_age) {
            return camara_error(StatusCode::BAD_REQUEST, "OUT_OF_RANGE", "maxAge must be 1 to 2400 hours");
        }
        let swapped = latest.is_some_and(|at| now.millis() - at < max_age * HOUR_MS);
        return Json(json!({ "swapped": swapped })).into_response();
    }
    let field = if kind == SwapKind::SimSwap { "latestSimChange" } else { "latestDeviceChange" };
    match latest {
        Some(at) => Json(json!({ field: crate::clock::rfc3339(at) })).into_response(),
        None => Json(json!({ field: null, "monitoredPeriod": 120 })).into_response(),
    }
}

macro_rules! swap_route {
    ($name:ident, $path:literal, $kind:expr, $check:expr, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(
            post, path = $path, tag = "development", request_body = SwapRequest,
            responses((status = 200, description = "CAMARA answer"), (status = 401, description = "No valid token"))
        )]
        pub async fn $name(
            State(app): State<Arc<App>>,
            Extension(gateway): Extension<Arc<DevGateway>>,
            headers: HeaderMap,
            Json(body): Json<Value>,
        ) -> Response {
            answer(&app, &gateway, &headers, body, $kind, $check)
        }
    };
}

swap_route!(
    sim_retrieve_date,
    "/dev/camara/sim-swap/v2/retrieve-date",
    SwapKind::SimSwap,
    false,
    "CAMARA SIM Swap `retrieve-date`."
);
swap_route!(sim_check, "/dev/camara/sim-swap/v2/check", SwapKind::SimSwap, true, "CAMARA SIM Swap `check`.");
swap_route!(
    device_retrieve_date,
    "/dev/camara/device-swap/v1/retrieve-date",
    SwapKind::DeviceSwap,
    false,
    "CAMARA Device Swap `retrieve-date`."
);
swap_route!(
    device_check,
    "/dev/camara/device-swap/v1/check",
    SwapKind::DeviceSwap,
    true,
    "CAMARA Device Swap `check`."
);

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSwaps {
    /// E.164.
    phone: String,
    /// RFC 3339; `null`: no change known.
    sim_changed_at: Option<String>,
    device_changed_at: Option<String>,
}

/// Sets when a number's SIM and handset last changed (for simulations).
#[utoipa::path(
    post, path = "/dev/camara/swaps", tag = "development", request_body = SetSwaps,
    responses((status = 204, description = "Set"), (status = 422, description = "Not a number or not an RFC 3339 time"))
)]
pub async fn set_swaps(
    Extension(gateway): Extension<Arc<DevGateway>>,
    headers: HeaderMap,
    RequestBody(body): RequestBody,
) -> Result<StatusCode, ApiError> {
    let (request, _): (SetSwaps, _) = parse_json(&headers, body)?;
    let time = |field: &'static str, text: &Option<String>| -> Result<Option<i64>, ApiError> {
        text.as_deref()
            .map(|t| {
                crate::clock::parse_rfc3339(t).ok_or_else(|| {
                    ApiError::validation(vec![orderguard_domain::FieldError::new(field, "must be an RFC 3339 time")])
                })
            })
            .transpose()
    };
    let changes = Changes {
        sim: time("sim_changed_at", &request.sim_changed_at)?,
        device: time("device_changed_at", &request.device_changed_at)?,
    };
    let phone = orderguard_domain::phone::E164::parse(&request.phone, None)
        .map_err(|e| ApiError::validation(vec![orderguard_domain::FieldError::new("phone", e.reason)]))?;
    gateway
        .changes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(phone.as_str().to_owned(), changes);
    Ok(StatusCode::NO_CONTENT)
}
