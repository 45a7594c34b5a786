//! `/dev/clock`: the instance's clock, which `orderguard simulate` moves to live through weeks of
//! traffic in minutes. Only served with `dev.simulated_clock`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use orderguard_domain::FieldError;
use orderguard_domain::clock::Timestamp;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::http::api::parse_json;
use crate::http::body::RequestBody;
use crate::http::error::ApiError;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetClock {
    /// RFC 3339; `null` goes back to the wall clock.
    now: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClockReading {
    /// RFC 3339, as the instance reads its clock now.
    now: String,
}

fn reading(app: &App) -> Json<ClockReading> {
    Json(ClockReading { now: crate::clock::rfc3339(app.clock.now().millis()) })
}

#[utoipa::path(get, path = "/dev/clock", tag = "development", responses((status = 200, body = ClockReading)))]
pub async fn get_clock(State(app): State<Arc<App>>) -> Json<ClockReading> {
    reading(&app)
}

/// Moves the clock; it runs on from the time given.
#[utoipa::path(
    post, path = "/dev/clock", tag = "development", request_body = SetClock,
    responses((status = 200, body = ClockReading), (status = 422, description = "Not an RFC 3339 time"))
)]
pub async fn set_clock(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RequestBody(body): RequestBody,
) -> Result<Json<ClockReading>, ApiError> {
    let (request, _): (SetClock, _) = parse_json(&headers, body)?;
    let at = match request.now {
        None => None,
        Some(text) => Some(crate::clock::parse_rfc3339(&text).map(Timestamp).ok_or_else(|| {
            ApiError::validation(vec![FieldError::new("now", "must be an RFC 3339 time like 2026-10-01T08:00:00Z")])
        })?),
    };
    app.clock.set_simulated(at);
    Ok(reading(&app))
}
