//! `/dev/outbox`: the messages kept by `outbox` providers, for development and demos.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::App;
use crate::http::error::ApiError;
use crate::service::ServiceError;
use crate::store::sms::{OutboxMessage, outbox_list};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
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

async fn list(app: &Arc<App>, filter: OutboxFilter) -> Result<Vec<OutboxMessage>, ServiceError> {
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(filter.wait_ms.unwrap_or(0).min(10_000));
    loop {
        let waiter = app.outbox_kept.subscribe(filter.verification_id.as_deref());
        let (brand, to, verification_id) = (filter.brand.clone(), filter.to.clone(), filter.verification_id.clone());
        let messages = app
            .store
            .read(move |conn| outbox_list(conn, brand.as_deref(), to.as_deref(), verification_id.as_deref(), limit))
            .await?;
        if !messages.is_empty() || tokio::time::Instant::now() >= deadline {
            if let Some(id) = &filter.verification_id {
                app.outbox_kept.forget(id);
            }
            return Ok(messages);
        }
        match tokio::time::timeout_at(deadline, waiter.wait()).await {
            // The message we waited for, handed over: no second read when it matches every filter.
            Ok(Some(message))
                if filter.brand.as_ref().is_none_or(|b| *b == message.brand)
                    && filter.to.as_ref().is_none_or(|t| *t == message.to) =>
            {
                return Ok(vec![message]);
            }
            Ok(_) => {}
            Err(_) => {
                if let Some(id) = &filter.verification_id {
                    app.outbox_kept.forget(id);
                }
                return Ok(messages);
            }
        }
    }
}

/// The development outbox as JSON: `[{id, brand, verification_id, to, text, created_at}]`, newest first.
#[utoipa::path(get, path = "/dev/outbox.json", tag = "development", params(OutboxFilter), responses((status = 200, body = [OutboxMessage])))]
pub async fn outbox_json(
    State(app): State<Arc<App>>,
    Query(filter): Query<OutboxFilter>,
) -> Result<Json<Vec<OutboxMessage>>, ApiError> {
    Ok(Json(list(&app, filter).await?))
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
    let messages = list(&app, filter).await?;
    let mut response = super::render(&OutboxPage { messages });
    response.headers_mut().insert(axum::http::header::REFRESH, axum::http::HeaderValue::from_static("5"));
    Ok(response)
}
