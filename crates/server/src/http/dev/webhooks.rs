//! `/dev/webhooks`: the demo's own webhook receiver. Each demo brand's endpoint `demo-receiver`
//! points here; what arrived is listed with whether its signature verified against the brand's
//! secret, so that a newcomer sees the deliveries without a receiver of their own. Kept in memory
//! (the newest 500). Only served with `dev.webhook_receiver`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::http::pages::render;
use crate::webhooks::signature;

/// The endpoint name the demo gives its receiver at every brand.
pub const ENDPOINT: &str = "demo-receiver";
const KEPT: usize = 500;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Received {
    brand: String,
    /// `webhook-id`.
    id: String,
    #[serde(rename = "type")]
    kind: String,
    /// RFC 3339, when it arrived.
    received_at: String,
    /// The signature matched the brand's secret.
    verified: bool,
    body: serde_json::Value,
}

#[derive(Default)]
pub struct DevReceiver(Mutex<VecDeque<Received>>);

impl DevReceiver {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Received>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Receives a delivery to `brand`'s demo endpoint.
#[utoipa::path(
    post, path = "/dev/webhooks/{brand}", tag = "development", params(("brand" = String, Path)),
    request_body(content = String, content_type = "application/json"),
    responses((status = 204, description = "Received"), (status = 404, description = "No such brand"))
)]
pub async fn receive(
    State(app): State<Arc<App>>,
    Extension(receiver): Extension<Arc<DevReceiver>>,
    Path(brand): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(endpoint) = app.brands.get(&brand).and_then(|b| b.webhooks.iter().find(|e| e.name == ENDPOINT).cloned())
    else {
        return StatusCode::NOT_FOUND;
    };
    let (id, timestamp) = (header(&headers, "webhook-id"), header(&headers, "webhook-timestamp"));
    let text = String::from_utf8_lossy(&body);
    let verified = signature::verify(&endpoint.secrets, id, timestamp, &text, header(&headers, "webhook-signature"));
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let kind = body.get("type").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    let received_at = crate::clock::rfc3339(app.clock.now().millis());
    let mut kept = receiver.lock();
    if kept.len() >= KEPT {
        kept.pop_back();
    }
    kept.push_front(Received { brand, id: id.to_owned(), kind, received_at, verified, body });
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReceivedFilter {
    /// Only this brand's deliveries.
    brand: Option<String>,
}

fn received(receiver: &DevReceiver, filter: &ReceivedFilter) -> Vec<Received> {
    let kept = receiver.lock();
    kept.iter().filter(|r| filter.brand.as_ref().is_none_or(|b| *b == r.brand)).cloned().collect()
}

/// What the demo's receiver got, newest first.
#[utoipa::path(get, path = "/dev/webhooks.json", tag = "development", params(ReceivedFilter), responses((status = 200, body = [Received])))]
pub async fn received_json(
    Extension(receiver): Extension<Arc<DevReceiver>>,
    Query(filter): Query<ReceivedFilter>,
) -> Json<Vec<Received>> {
    Json(received(&receiver, &filter))
}

#[derive(askama::Template)]
#[template(path = "dev_webhooks.html")]
struct ReceivedPage {
    deliveries: Vec<Received>,
}

/// What the demo's receiver got, as a page.
#[utoipa::path(get, path = "/dev/webhooks", tag = "development", params(ReceivedFilter), responses((status = 200, description = "HTML page", content_type = "text/html")))]
pub async fn received_page(
    Extension(receiver): Extension<Arc<DevReceiver>>,
    Query(filter): Query<ReceivedFilter>,
) -> Response {
    let mut response = render(&ReceivedPage { deliveries: received(&receiver, &filter) });
    response.headers_mut().insert(axum::http::header::REFRESH, axum::http::HeaderValue::from_static("5"));
    response
}
