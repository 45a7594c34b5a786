//! `/dev/outbox`: the messages kept by `outbox` providers, for development and demos.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::app::App;
use crate::http::error::ApiError;
use crate::http::pages::render;
use crate::records::sms::OutboxMessage;
use crate::service::sms::{OutboxQuery, outbox};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxFilter {
    /// Only this brand's messages.
    brand: Option<String>,
    /// Only messages to this number (E.164).
    to: Option<String>,
    /// Only messages of this verification.
    verification_id: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<i64>,
    /// If nothing matches yet, wait up to this many milliseconds (at most 10000) for a message.
    wait_ms: Option<u64>,
}

impl OutboxFilter {
    fn query(self) -> OutboxQuery {
        OutboxQuery {
            brand: self.brand,
            to: self.to,
            verification_id: self.verification_id,
            limit: self.limit.unwrap_or(100).clamp(1, 1000),
            wait: Duration::from_millis(self.wait_ms.unwrap_or(0).min(10_000)),
        }
    }
}

/// The development outbox as JSON: `[{id, brand, verification_id, to, text, created_at}]`, newest first.
#[utoipa::path(get, path = "/dev/outbox.json", tag = "development", params(OutboxFilter), responses((status = 200, body = [OutboxMessage])))]
pub async fn outbox_json(
    State(app): State<Arc<App>>,
    Query(filter): Query<OutboxFilter>,
) -> Result<Json<Vec<OutboxMessage>>, ApiError> {
    Ok(Json(outbox(&app, filter.query()).await?))
}

#[derive(askama::Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    messages: Vec<OutboxMessage>,
}

/// The development outbox as a page: every SMS the `outbox` provider kept, newest first.
#[utoipa::path(get, path = "/dev/outbox", tag = "development", params(OutboxFilter), responses((status = 200, description = "HTML page", content_type = "text/html")))]
pub async fn outbox_page(
    State(app): State<Arc<App>>,
    Query(filter): Query<OutboxFilter>,
) -> Result<Response, ApiError> {
    let messages = outbox(&app, filter.query()).await?;
    let mut response = render(&OutboxPage { messages });
    response.headers_mut().insert(axum::http::header::REFRESH, axum::http::HeaderValue::from_static("5"));
    Ok(response)
}
