//! The demo shops: a small checkout per brand that calls the API server-side with the brand's API
//! key, exactly as a real shop backend would, so a person can follow the whole flow in a browser.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::brand::{Brand, format_amount};
use crate::config::IdentityConfig;
use crate::http::error::PageError;
use crate::http::pages::{assets, render};

struct Product {
    sku: &'static str,
    name: &'static str,
    price: &'static str,
    hardware: bool,
}

const PRODUCTS: &[Product] = &[
    Product { sku: "PHONE-X-128", name: "Smartphone X 128 GB", price: "849.00", hardware: true },
    Product { sku: "ROUTER-5G", name: "5G home router", price: "299.00", hardware: true },
    Product { sku: "SIM-ONLY-20", name: "SIM only, 20 GB", price: "19.99", hardware: false },
];

pub struct DemoCustomer {
    pub id: String,
    pub phone: String,
    /// The demo's gateway says the SIM was swapped lately (`dev.sim_swapped`).
    pub sim_swapped: bool,
}

fn customers(app: &App, brand: &Brand) -> Vec<DemoCustomer> {
    match app.settings.identity.get(&brand.config.identity) {
        Some(IdentityConfig::Static { customers }) => {
            let swapped = &app.settings.dev.sim_swapped;
            let customer = |c: &crate::config::StaticCustomer| DemoCustomer {
                id: c.id.clone(),
                phone: c.phone.clone(),
                sim_swapped: swapped.contains(&c.phone),
            };
            customers.iter().map(customer).collect()
        }
        Some(IdentityConfig::Oidc(_) | IdentityConfig::Rest(_)) | None => Vec::new(),
    }
}

/// Verification ids in the shop's links are UUIDs; anything else never reaches the API call.
fn valid_id(id: &str) -> Result<(), PageError> {
    let ok = id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if ok { Ok(()) } else { Err(PageError::not_found("There is no such order.")) }
}

fn brand_or_404(app: &App, slug: &str) -> Result<Arc<Brand>, PageError> {
    app.brands.get(slug).cloned().ok_or_else(|| PageError::not_found("There is no demo shop for this brand."))
}

/// Calls this server's own API as the brand's shop.
async fn call_api(
    app: &App,
    brand: &Brand,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> Result<(u16, Value), PageError> {
    let key = app.settings.dev.demo_api_keys.get(brand.slug.as_str()).ok_or_else(|| {
        PageError::new(StatusCode::SERVICE_UNAVAILABLE, "The demo shop has no API key for this brand.")
    })?;
    let mut request = app.http.request(method, format!("{}{path}", app.local_url)).bearer_auth(key.expose_secret());
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(idempotency_key) = idempotency_key {
        request = request.header("Idempotency-Key", idempotency_key);
    }
    let response = request
        .send()
        .await
        .map_err(|e| PageError::new(StatusCode::BAD_GATEWAY, format!("The shop could not reach orderguard: {e}")))?;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

fn problem_text(body: &Value) -> String {
    body.get("detail").and_then(Value::as_str).unwrap_or("unexpected answer").to_owned()
}

#[derive(askama::Template)]
#[template(path = "demo_index.html")]
struct IndexPage {
    brands: Vec<(String, String, String)>,
}

/// The demo's start page: one shop per brand.
#[utoipa::path(get, path = "/demo", tag = "development", responses((status = 200, description = "HTML page", content_type = "text/html")))]
pub async fn index(State(app): State<Arc<App>>) -> Response {
    let brands =
        app.brands.all().map(|b| (b.slug.to_string(), b.name.clone(), b.theme.primary_color.clone())).collect();
    render(&IndexPage { brands })
}

/// How the shop lets the customer confirm: its own code form (the API's check), or orderguard's
/// hosted page, full-page or in an iframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    Own,
    Redirect,
    Iframe,
}

impl Style {
    const ALL: [Style; 3] = [Style::Own, Style::Redirect, Style::Iframe];

    fn as_str(self) -> &'static str {
        match self {
            Style::Own => "own",
            Style::Redirect => "redirect",
            Style::Iframe => "iframe",
        }
    }

    fn label(self, de: bool) -> &'static str {
        match (self, de) {
            (Style::Own, true) => "Code im Shop eingeben (API)",
            (Style::Own, false) => "Code on the shop's page (API)",
            (Style::Redirect, true) => "Bestätigungsseite von orderguard (Weiterleitung)",
            (Style::Redirect, false) => "orderguard's hosted page (redirect)",
            (Style::Iframe, true) => "Bestätigungsseite im Shop eingebettet (iframe)",
            (Style::Iframe, false) => "orderguard's hosted page inside the shop (iframe)",
        }
    }

    /// Each demo brand shows a different integration first.
    fn default_for(brand: &Brand) -> Self {
        if brand.slug.as_str() == "skyline" { Style::Iframe } else { Style::Own }
    }
}

#[derive(askama::Template)]
#[template(path = "demo_shop.html")]
struct ShopPage<'a> {
    brand: &'a Brand,
    de: bool,
    customers: Vec<DemoCustomer>,
    products: Vec<(&'static str, &'static str, String, bool)>,
    styles: Vec<(&'static str, &'static str, bool)>,
}

/// A brand's demo checkout.
#[utoipa::path(get, path = "/demo/{brand}", tag = "development", params(("brand" = String, Path)), responses((status = 200, description = "HTML page", content_type = "text/html"), (status = 404, description = "Unknown brand", content_type = "text/html")))]
pub async fn shop(State(app): State<Arc<App>>, Path(slug): Path<String>) -> Result<Response, PageError> {
    let brand = brand_or_404(&app, &slug)?;
    let locale = brand.locale_for(None);
    let products = PRODUCTS
        .iter()
        .map(|p| {
            let price = orderguard_domain::money::Currency::parse("EUR")
                .and_then(|eur| orderguard_domain::money::Money::parse(p.price, eur))
                .map(|m| format_amount(m, &locale))
                .unwrap_or_default();
            (p.sku, p.name, price, p.hardware)
        })
        .collect();
    let de = locale == "de";
    let chosen = Style::default_for(&brand);
    let styles = Style::ALL.iter().map(|s| (s.as_str(), s.label(de), *s == chosen)).collect();
    Ok(render(&ShopPage { brand: &brand, de, customers: customers(&app, &brand), products, styles }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OrderForm {
    customer: String,
    sku: String,
    style: Option<Style>,
}

/// The shop's own origin as the browser sees it, for the return URL (the API accepts it only on
/// one of the brand's shop domains).
fn shop_origin(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// Places a demo order: the shop asks orderguard for a verification.
#[utoipa::path(post, path = "/demo/{brand}/orders", tag = "development", params(("brand" = String, Path)), request_body(content = OrderForm, content_type = "application/x-www-form-urlencoded"), responses((status = 303, description = "To the order page")))]
pub async fn place_order(
    State(app): State<Arc<App>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(form): Form<OrderForm>,
) -> Result<Response, PageError> {
    let brand = brand_or_404(&app, &slug)?;
    let product = PRODUCTS
        .iter()
        .find(|p| p.sku == form.sku)
        .ok_or_else(|| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, "Please choose a product."))?;
    let order_id = format!("DEMO-{}", crate::ids::random_token(6).to_uppercase());
    let style = form.style.unwrap_or(Style::default_for(&brand));
    let return_url = format!("{}/demo/{slug}/return", shop_origin(&headers));
    let code_entry = match style {
        Style::Own => "shop",
        Style::Redirect => "hosted",
        Style::Iframe => "embedded",
    };
    let body = json!({
        "return_url": return_url,
        "code_entry": code_entry,
        "order": {
            "id": order_id, "amount": product.price, "currency": "EUR", "shipping_country": "DE",
            "items": [{ "sku": product.sku, "name": product.name, "quantity": 1, "unit_price": product.price, "hardware": product.hardware }],
        },
        "customer": { "id": form.customer },
        "locale": brand.locale_for(None),
        "client": { "ip": "127.0.0.1", "user_agent": "orderguard demo shop" },
    });
    match call_api(&app, &brand, reqwest::Method::POST, "/v1/verifications", Some(body), Some(&order_id)).await? {
        (201, v) => {
            let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
            let hosted_url = v.get("hosted_url").and_then(Value::as_str).unwrap_or_default();
            Ok(match style {
                Style::Own => Redirect::to(&format!("/demo/{slug}/orders/{id}")).into_response(),
                Style::Redirect => Redirect::to(hosted_url).into_response(),
                Style::Iframe => Redirect::to(&format!("/demo/{slug}/orders/{id}?style=iframe")).into_response(),
            })
        }
        (_, problem) => Err(PageError::new(StatusCode::UNPROCESSABLE_ENTITY, problem_text(&problem))),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Notice {
    /// What just happened: `wrong`, `resent`, `too_soon`, `error`.
    notice: Option<String>,
    detail: Option<String>,
    /// `iframe`: the hosted page inside the order page.
    style: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "demo_order.html")]
struct OrderPage<'a> {
    brand: &'a Brand,
    de: bool,
    /// The hosted page for the iframe, when the shop embeds it.
    frame_url: Option<String>,
    hosted_origin: String,
    script: String,
    v: Value,
    status: String,
    /// The decision's reason codes, comma-separated (what stopped or held the order).
    reasons: String,
    notice: String,
    detail: String,
    receipt_claims: String,
}

/// A demo order waiting for its code, or its result.
#[utoipa::path(get, path = "/demo/{brand}/orders/{id}", tag = "development", params(("brand" = String, Path), ("id" = String, Path), Notice), responses((status = 200, description = "HTML page", content_type = "text/html")))]
pub async fn order_page(
    State(app): State<Arc<App>>,
    Path((slug, id)): Path<(String, String)>,
    Query(notice): Query<Notice>,
) -> Result<Response, PageError> {
    valid_id(&id)?;
    let brand = brand_or_404(&app, &slug)?;
    let v = match call_api(&app, &brand, reqwest::Method::GET, &format!("/v1/verifications/{id}"), None, None).await? {
        (200, v) => v,
        (_, problem) => return Err(PageError::not_found(problem_text(&problem))),
    };
    let status = v.get("status").and_then(Value::as_str).unwrap_or_default().to_owned();
    let reasons = v.pointer("/risk/reasons").and_then(Value::as_array).into_iter().flatten();
    let reasons = reasons.filter_map(Value::as_str).collect::<Vec<_>>().join(", ");
    let receipt_claims = v
        .get("receipt")
        .and_then(Value::as_str)
        .and_then(|jws| jws.split('.').nth(1))
        .and_then(|payload| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|claims| serde_json::to_string_pretty(&claims).ok())
        .unwrap_or_default();
    let locale = brand.locale_for(None);
    let hosted_url = v.get("hosted_url").and_then(Value::as_str).and_then(|u| reqwest::Url::parse(u).ok());
    let hosted_origin = hosted_url.as_ref().map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    let frame_url =
        hosted_url.filter(|_| notice.style.as_deref() == Some("iframe") && status == "pending").map(|mut u| {
            u.query_pairs_mut().append_pair("embed", "1");
            u.to_string()
        });
    let framing = frame_url.is_some();
    let mut response = render(&OrderPage {
        brand: &brand,
        de: locale == "de",
        frame_url,
        script: assets::url("demo-shop.js"),
        v,
        status,
        reasons,
        notice: notice.notice.unwrap_or_default(),
        detail: notice.detail.unwrap_or_default(),
        receipt_claims,
        hosted_origin: hosted_origin.clone(),
    });
    if framing
        && let Ok(csp) = HeaderValue::from_str(&format!(
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             frame-src {hosted_origin}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ))
    {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Ok(response)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReturnQuery {
    /// The `status` next to it is not read: the shop asks the API instead of trusting the query.
    verification_id: String,
}

/// The shop's return URL: the hosted page sends the customer here with the outcome; the shop
/// reads the verification (with its receipt) from the API instead of trusting the query.
#[utoipa::path(get, path = "/demo/{brand}/return", tag = "development", params(("brand" = String, Path), ReturnQuery), responses((status = 303, description = "To the order page")))]
pub async fn back_from_hosted_page(
    State(app): State<Arc<App>>,
    Path(slug): Path<String>,
    Query(query): Query<ReturnQuery>,
) -> Result<Response, PageError> {
    valid_id(&query.verification_id)?;
    brand_or_404(&app, &slug)?;
    Ok(Redirect::to(&format!("/demo/{slug}/orders/{}", query.verification_id)).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CodeForm {
    code: String,
}

fn back(slug: &str, id: &str, notice: &str, detail: &str) -> Response {
    let detail: String = detail
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    Redirect::to(&format!("/demo/{slug}/orders/{id}?notice={notice}&detail={detail}")).into_response()
}

/// The shop's own code form: checks the code through the API.
#[utoipa::path(post, path = "/demo/{brand}/orders/{id}/check", tag = "development", params(("brand" = String, Path), ("id" = String, Path)), request_body(content = CodeForm, content_type = "application/x-www-form-urlencoded"), responses((status = 303, description = "Back to the order page")))]
pub async fn submit_code(
    State(app): State<Arc<App>>,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    valid_id(&id)?;
    let brand = brand_or_404(&app, &slug)?;
    Ok(
        match call_api(
            &app,
            &brand,
            reqwest::Method::POST,
            &format!("/v1/verifications/{id}/check"),
            Some(json!({ "code": form.code })),
            None,
        )
        .await?
        {
            (200, r) if r.get("valid").and_then(Value::as_bool) == Some(true) => back(&slug, &id, "approved", ""),
            (200, r) => {
                let left = r.get("attempts_remaining").and_then(Value::as_u64).unwrap_or(0);
                back(&slug, &id, "wrong", &left.to_string())
            }
            (_, problem) => back(&slug, &id, "error", &problem_text(&problem)),
        },
    )
}

/// Asks for a new code.
#[utoipa::path(post, path = "/demo/{brand}/orders/{id}/resend", tag = "development", operation_id = "demo_resend", params(("brand" = String, Path), ("id" = String, Path)), responses((status = 303, description = "Back to the order page")))]
pub async fn resend(
    State(app): State<Arc<App>>,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    valid_id(&id)?;
    let brand = brand_or_404(&app, &slug)?;
    let path = format!("/v1/verifications/{id}/resend");
    Ok(match call_api(&app, &brand, reqwest::Method::POST, &path, None, None).await? {
        (200, _) => back(&slug, &id, "resent", ""),
        (_, problem) => back(&slug, &id, "error", &problem_text(&problem)),
    })
}

/// Aborts the order.
#[utoipa::path(post, path = "/demo/{brand}/orders/{id}/cancel", tag = "development", operation_id = "demo_cancel", params(("brand" = String, Path), ("id" = String, Path)), responses((status = 303, description = "Back to the order page")))]
pub async fn cancel(
    State(app): State<Arc<App>>,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    valid_id(&id)?;
    let brand = brand_or_404(&app, &slug)?;
    let body = json!({ "reason": "customer aborted in the demo shop" });
    let path = format!("/v1/verifications/{id}/cancel");
    Ok(match call_api(&app, &brand, reqwest::Method::POST, &path, Some(body), None).await? {
        (200, _) => back(&slug, &id, "canceled", ""),
        (_, problem) => back(&slug, &id, "error", &problem_text(&problem)),
    })
}
