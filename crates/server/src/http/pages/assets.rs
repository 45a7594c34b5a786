//! The pages' scripts: written for orderguard, embedded in the binary, served with their content
//! hash in the URL so that a new version is never mixed with a cached old one.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const ASSETS: &[(&str, &str)] = &[
    ("hosted.js", include_str!("../../../assets/hosted.js")),
    ("demo-shop.js", include_str!("../../../assets/demo-shop.js")),
    ("admin-live.js", include_str!("../../../assets/admin-live.js")),
];

static VERSIONS: LazyLock<Vec<(&str, String)>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|(name, body)| {
            (*name, crate::crypto::sha256(body.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect())
        })
        .collect()
});

/// The URL of an asset, with its version.
pub fn url(name: &str) -> String {
    let version = VERSIONS.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v.as_str());
    format!("/assets/{name}?v={version}")
}

/// A script of the pages.
#[utoipa::path(get, path = "/assets/{name}", tag = "hosted page", params(("name" = String, Path)), responses((status = 200, description = "JavaScript", content_type = "text/javascript"), (status = 404, description = "No such asset")))]
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, body)) = ASSETS.iter().find(|(n, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    response
}
