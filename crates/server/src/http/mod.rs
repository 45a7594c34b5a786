//! HTTP: the router, cross-cutting layers, operational endpoints. Every route is added through
//! `OpenApiRouter::routes`, so every route is in `/openapi.json` (a test keeps it so).

pub mod admin;
pub mod api;
mod body;
pub mod client_ip;
pub mod dev;
pub mod error;
pub mod locale;
mod openapi_rules;
pub mod pages;
mod strict_json;
mod webhooks_doc;

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use error::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "orderguard",
        description = "SMS two-factor verification for the order process of telecom brands. \
            Authenticate with the brand's API key: `Authorization: Bearer og_…`. Errors are RFC 9457 \
            problem details (`application/problem+json`). Request bodies reject unknown fields."
    ),
    modifiers(&ApiKeyScheme),
    tags(
        (name = "verifications", description = "Start, check, resend and cancel verifications"),
        (name = "orders", description = "Report order outcomes"),
        (name = "sms", description = "Delivery status callbacks from SMS providers"),
        (name = "keys", description = "Public keys for receipts"),
        (name = "hosted page", description = "The customer's verification page (HTML forms)"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
        (name = "admin", description = "The admin area (HTML, signed-in users)"),
        (name = "webhooks", description = "What orderguard POSTs to the brands' webhook endpoints (docs/webhooks.md)"),
        (name = "development", description = "Development outbox and demo shop (only when enabled)"),
    )
)]
struct ApiDoc;

struct ApiKeyScheme;

impl utoipa::Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "api_key",
                SecurityScheme::Http(
                    HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("The brand's API key")).build(),
                ),
            );
        }
    }
}

/// Lists every reason code in the schema of `Risk.reasons`, from `RiskReason::ALL` itself, so the
/// document names each code the API can answer. After the routes are added: their schemas are
/// only then in the document.
fn describe_reason_codes(openapi: &mut utoipa::openapi::OpenApi) {
    use orderguard_domain::risk::RiskReason;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;
    let risk = openapi.components.as_mut().and_then(|c| c.schemas.get_mut("Risk"));
    let Some(RefOr::T(Schema::Object(risk))) = risk else { return };
    let Some(RefOr::T(Schema::Array(reasons))) = risk.properties.get_mut("reasons") else { return };
    let codes = |of: fn(&RiskReason) -> bool| {
        let listed = RiskReason::ALL.iter().filter(|r| of(r));
        listed.map(|r| format!("`{}`", r.as_str())).collect::<Vec<_>>().join(", ")
    };
    reasons.description = Some(format!(
        "Reason codes (docs/risk.md explains each): the scored rules that fired live ({}), what the \
         telco's network checks found (docs/network-apis.md: {}), and the hard limit or number range's \
         pause that refused the verification ({}). New codes may be added.",
        codes(|r| r.is_scored()),
        codes(|r| r.is_network_check()),
        codes(|r| !r.is_scored() && !r.is_network_check())
    ));
}

/// The application's routes and the OpenAPI document that describes them.
pub fn router(app: Arc<App>) -> axum::Router {
    let mut routes = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::create_verification))
        .routes(routes!(api::get_verification))
        .routes(routes!(api::check_verification))
        .routes(routes!(api::resend_verification))
        .routes(routes!(api::cancel_verification))
        .routes(routes!(api::report_order_outcome))
        .routes(routes!(api::sms_status::status_callback, api::sms_status::status_callback_query))
        .routes(routes!(jwks))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi_json))
        .routes(routes!(pages::hosted::page))
        .routes(routes!(pages::hosted::check))
        .routes(routes!(pages::hosted::resend))
        .routes(routes!(pages::hosted::cancel))
        .routes(routes!(pages::hosted::logo))
        .routes(routes!(pages::assets::asset))
        .routes(routes!(admin::home::home))
        .routes(routes!(admin::login::login_form, admin::login::login))
        .routes(routes!(admin::login::code_form, admin::login::code))
        .routes(routes!(admin::login::enrol_form, admin::login::enrol))
        .routes(routes!(admin::login::logout))
        .routes(routes!(admin::privacy::register))
        .routes(routes!(admin::privacy::export))
        .routes(routes!(admin::privacy::erase))
        .routes(routes!(admin::trace::trace))
        .routes(routes!(admin::trace::audit_log))
        .routes(routes!(admin::overview::overview))
        .routes(routes!(admin::overview::overview_csv))
        .routes(routes!(admin::overview::funnel))
        .routes(routes!(admin::overview::funnel_csv))
        .routes(routes!(admin::sms::sms))
        .routes(routes!(admin::sms::sms_csv))
        .routes(routes!(admin::market::market))
        .routes(routes!(admin::market::market_csv))
        .routes(routes!(admin::orders::orders))
        .routes(routes!(admin::report::report_page))
        .routes(routes!(admin::report::report_csv))
        .routes(routes!(admin::fraud::fraud))
        .routes(routes!(admin::fraud::fraud_csv))
        .routes(routes!(admin::live::live))
        .routes(routes!(admin::live::live_events))
        .routes(routes!(admin::search::orders_by_number))
        .routes(routes!(admin::reviews::queue))
        .routes(routes!(admin::reviews::review, admin::reviews::decide))
        .routes(routes!(admin::webhooks::endpoints, admin::webhooks::create))
        .routes(routes!(admin::webhooks::endpoint, admin::webhooks::act))
        .routes(routes!(admin::alerts::alerts_page))
        .routes(routes!(admin::alerts::alert_page, admin::alerts::change));
    if app.settings.dev.outbox_page {
        routes = routes.routes(routes!(dev::outbox::outbox_page)).routes(routes!(dev::outbox::outbox_json));
    }
    if app.settings.dev.simulated_clock {
        routes = routes.routes(routes!(dev::clock::get_clock, dev::clock::set_clock));
    }
    if app.settings.dev.demo_shop {
        routes = routes
            .routes(routes!(dev::demo_shop::index))
            .routes(routes!(dev::demo_shop::shop))
            .routes(routes!(dev::demo_shop::place_order))
            .routes(routes!(dev::demo_shop::order_page))
            .routes(routes!(dev::demo_shop::back_from_hosted_page))
            .routes(routes!(dev::demo_shop::submit_code))
            .routes(routes!(dev::demo_shop::resend))
            .routes(routes!(dev::demo_shop::cancel));
    }
    let dev_gateway = app.settings.dev.network_api.then(|| {
        let secret = app.settings.dev.network_api_secret.as_ref().map(|s| s.expose_secret().clone());
        Arc::new(dev::network::DevGateway::new(secret.unwrap_or_default(), &app.settings.dev.sim_swapped))
    });
    if let Some(gateway) = &dev_gateway {
        routes = routes
            .routes(routes!(dev::network::token))
            .routes(routes!(dev::network::sim_retrieve_date))
            .routes(routes!(dev::network::sim_check))
            .routes(routes!(dev::network::device_retrieve_date))
            .routes(routes!(dev::network::device_check))
            .routes(routes!(dev::network::set_swaps))
            .layer(axum::Extension(gateway.clone()));
    }
    if app.settings.dev.webhook_receiver {
        routes = routes
            .routes(routes!(dev::webhooks::receive))
            .routes(routes!(dev::webhooks::received_json))
            .routes(routes!(dev::webhooks::received_page))
            .layer(axum::Extension(Arc::new(dev::webhooks::DevReceiver::default())));
    }
    // On the public listener only behind its token (its own address is `metrics_router`).
    if app.metrics_token.is_some() {
        routes = routes.routes(routes!(metrics));
    }
    let (router, mut openapi) = routes.split_for_parts();
    describe_reason_codes(&mut openapi);
    let mut document = serde_json::to_value(&openapi).unwrap_or_default();
    webhooks_doc::add_webhooks(&mut document);
    openapi_rules::add_rules(&mut document);
    let openapi_json = document.to_string();
    let _ = app.openapi.set(openapi_json);
    router
        .fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(app.clone(), observe))
        .layer(DefaultBodyLimit::max(app.settings.limits.max_body_bytes))
        .with_state(app)
}

async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no-route", "Not found", "there is no such endpoint; see /openapi.json")
}

/// Metrics, a log line without personal data, and security headers on every response.
async fn observe(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = request.method().clone();
    let accepted = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::i18n::from_accept_language);
    let refused_method = method.clone();
    let mut response = locale::scope(accepted, async move {
        let response = next.run(request).await;
        // The router answers a wrong method with an empty body: a problem, as everywhere else.
        if response.status() != StatusCode::METHOD_NOT_ALLOWED || response.headers().contains_key(header::CONTENT_TYPE)
        {
            return response;
        }
        let allow = response.headers().get(header::ALLOW).cloned();
        let detail = format!("{refused_method} is not allowed here; see /openapi.json");
        let mut problem =
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed", detail)
                .into_response();
        problem.headers_mut().extend(allow.map(|allow| (header::ALLOW, allow)));
        problem
    })
    .await;
    let status = response.status();
    app.metrics.increment(
        "orderguard_http_requests_total",
        &[("route", &route), ("method", method.as_str()), ("status", status.as_str())],
    );
    app.metrics.observe(
        "orderguard_http_request_duration_seconds",
        &[("route", &route)],
        started.elapsed().as_secs_f64(),
    );
    tracing::debug!(%method, route, status = status.as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // A page that says who may frame it (the hosted page) must not be denied by the older header.
    let framing_declared = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|csp| csp.to_str().ok())
        .is_some_and(|csp| csp.contains("frame-ancestors"));
    if !framing_declared {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
    ));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    // Served under an https address, browsers are told to keep to https for a year.
    if app.public_url.starts_with("https://") {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

/// Public keys that verify receipts (JWKS, RFC 7517). Several keys during a rotation.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "keys", responses((status = 200, description = "JWK Set", content_type = "application/json")))]
async fn jwks(State(app): State<Arc<App>>) -> Response {
    let mut response = Json(app.signer.jwks()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = api::types::Health)))]
async fn healthz() -> Json<api::types::Health> {
    Json(api::types::Health { status: "ok".into() })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, body = api::types::Health), (status = 503, body = error::Problem, content_type = "application/problem+json")))]
async fn readyz(State(app): State<Arc<App>>) -> Result<Json<api::types::Health>, ApiError> {
    crate::service::health::ready(&app).await.map_err(|e| {
        tracing::warn!(error = %e, "not ready: the database does not take writes");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready", "the database does not take writes")
    })?;
    Ok(Json(api::types::Health { status: "ready".into() }))
}

/// Prometheus metrics (text exposition format), which name every brand's fraud and loss figures:
/// on their own address (`metrics.listen`, loopback by default), and on the public listener only
/// when `metrics.token` is set; with a token, only to requests that present it.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "`metrics.token` is set and the request does not present it", body = error::Problem, content_type = "application/problem+json"),
    )
)]
async fn metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = &app.metrics_token {
        let presented = bearer_token(&headers).unwrap_or_default();
        if !crate::crypto::constant_time_eq(presented.as_bytes(), token.expose_secret().as_bytes()) {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "metrics-refused",
                "Metrics need their token",
                "send `metrics.token` as `Authorization: Bearer <token>`",
            ));
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()).into_response())
}

/// The router of `metrics.listen`: `/metrics` alone (documented in the main document).
pub fn metrics_router(app: Arc<App>) -> axum::Router {
    let (router, _) = OpenApiRouter::new().routes(routes!(metrics)).split_for_parts();
    router.with_state(app)
}

/// The token of an `Authorization: Bearer …` header, trimmed.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ")?.trim())
}
/// This document: OpenAPI 3.1, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json(State(app): State<Arc<App>>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], app.openapi.get().cloned().unwrap_or_default()).into_response()
}
