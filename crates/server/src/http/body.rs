//! Reading a request body within the configured size limit.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use http_body_util::BodyExt;

use super::error::ApiError;
use crate::app::App;

/// How much of an oversized body is still read (and thrown away) before the 413 is sent, unless the
/// limit is higher: a client that is still writing would otherwise see its connection reset
/// instead of the answer.
const DRAIN_LIMIT_BYTES: usize = 1024 * 1024;

/// The request body, or the problem that stopped it from being read.
pub struct RequestBody(pub Result<Bytes, ApiError>);

impl FromRequest<Arc<App>> for RequestBody {
    type Rejection = Infallible;

    async fn from_request(request: Request, app: &Arc<App>) -> Result<Self, Infallible> {
        Ok(Self(read(request, app.settings.limits.max_body_bytes).await))
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Request body too large",
        format!("the body may have at most {limit} bytes"),
    )
}

async fn read(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let drain_limit = DRAIN_LIMIT_BYTES.max(limit);
    if declared.is_some_and(|length| length > drain_limit) {
        return Err(too_large(limit));
    }
    let mut body = request.into_body();
    let mut kept = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed-body", "The body could not be read", e.to_string())
        })?;
        let Ok(data) = frame.into_data() else { continue };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            kept.extend_from_slice(&data);
        } else if seen > drain_limit {
            break;
        }
    }
    if seen > limit { Err(too_large(limit)) } else { Ok(Bytes::from(kept)) }
}
