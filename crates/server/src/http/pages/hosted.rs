//! The hosted verification page at a verification's `hosted_url`: the customer confirms the order
//! with the code on a page in the brand's look and language. Plain forms with POST-redirect-GET,
//! so it works without JavaScript; `/assets/hosted.js` improves it (WebOTP, live countdowns,
//! checks without a reload, the outcome posted to the shop page that embeds it). The unguessable
//! token in the URL is the customer's capability.

use std::sync::Arc;

use axum::Form;
use axum::Json;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use fluent_bundle::FluentValue;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::money::Money;
use orderguard_domain::verification::{Rejection, Status};
use serde::{Deserialize, Serialize};

use super::{assets, render};
use crate::app::App;
use crate::brand::{Brand, format_amount};
use crate::http::error::PageError;
use crate::http::locale;
use crate::i18n::{Texts, supported};
use crate::records::VerificationRecord;
use crate::service::ServiceError;
use crate::service::verifications::{self as service, CheckResult, TypedFrom};

/// Texts of one page in one language, for the templates.
pub struct Tr<'a> {
    pub texts: &'a Texts,
    pub locale: &'a str,
}

impl Tr<'_> {
    pub fn t(&self, key: &str) -> String {
        self.texts.get(self.locale, key, &[])
    }

    pub fn t1(&self, key: &str, name: &str, value: impl Into<FluentValue<'static>>) -> String {
        self.texts.get(self.locale, key, &[(name, value.into())])
    }
}

/// The page's query: `notice` after a form was sent, `lang` to switch language, `embed=1` inside
/// the shop's iframe. Every link and form of the page keeps `lang` and `embed`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// What just happened: `wrong`, `invalid`, `resent`, `too_soon`, `no_resends`.
    notice: Option<String>,
    /// `de` or `en`: overrides the verification's language.
    lang: Option<String>,
    /// `1` when the page runs inside the shop's iframe.
    embed: Option<String>,
}

impl PageQuery {
    fn embedded(&self) -> bool {
        self.embed.as_deref() == Some("1")
    }

    /// The query string that keeps the page's language and embedding, plus a notice.
    fn keep(&self, brand: &Brand, notice: Option<&str>) -> String {
        let mut pairs = Vec::new();
        if let Some(notice) = notice {
            pairs.push(format!("notice={notice}"));
        }
        if let Some(lang) = self.lang.as_deref().and_then(supported).filter(|l| brand.locales.iter().any(|b| b == l)) {
            pairs.push(format!("lang={lang}"));
        }
        if self.embedded() {
            pairs.push("embed=1".into());
        }
        if pairs.is_empty() { String::new() } else { format!("?{}", pairs.join("&")) }
    }
}

/// A malformed query (a repeated or unknown parameter) is ignored: the page still works.
fn page_query(query: Result<Query<PageQuery>, QueryRejection>) -> PageQuery {
    query.map(|Query(q)| q).unwrap_or_default()
}

/// A page for people who reached no verification (the request's language, else English).
fn error_page(app: &App, status: StatusCode, key: &str) -> PageError {
    PageError::new(status, app.texts.get(locale::current(), key, &[]))
}

async fn load(app: &Arc<App>, token: &str) -> Result<(Arc<Brand>, VerificationRecord), PageError> {
    service::by_hosted_token(app, token).await.map_err(|e| match e {
        ServiceError::NotFound => error_page(app, StatusCode::NOT_FOUND, "link-invalid"),
        other => {
            tracing::error!(error = %other, "loading a hosted page failed");
            error_page(app, StatusCode::INTERNAL_SERVER_ERROR, "error-generic")
        }
    })
}

struct Item {
    name: String,
    quantity: u64,
    price: String,
}

struct Notice {
    text: String,
    /// Errors are announced at once (`role="alert"`), news politely.
    alert: bool,
}

#[derive(askama::Template)]
#[template(path = "hosted.html")]
struct HostedPage<'a> {
    brand: &'a Brand,
    tr: Tr<'a>,
    languages: Vec<(&'static str, &'static str, String)>,
    token: &'a str,
    keep: String,
    embedded: bool,
    status: &'static str,
    outcome: String,
    /// For a refused order: a person can review the decision (GDPR Art. 22).
    review_right: Option<String>,
    amount: String,
    items: Vec<Item>,
    phone_hint: &'a str,
    attempts_remaining: u32,
    resends_remaining: u32,
    resend_wait_seconds: i64,
    expires_in_seconds: i64,
    notice: Option<Notice>,
    verification_id: &'a str,
    return_url: Option<String>,
    parent_origin: Option<String>,
    script: String,
}

/// Where the customer goes back to the shop, with the outcome: `?verification_id=…&status=…`.
/// The shop confirms the outcome with `GET /v1/verifications/{id}`, which carries the receipt.
fn back_to_shop(record: &VerificationRecord) -> Option<String> {
    let url = record.return_url.as_ref()?;
    let mut url = reqwest::Url::parse(url).ok()?;
    url.query_pairs_mut()
        .append_pair("verification_id", &record.id)
        .append_pair("status", record.state.status.as_str());
    Some(url.to_string())
}

/// The origin of the shop page around the iframe: the return URL's, which is on a shop domain.
fn shop_origin(record: &VerificationRecord) -> Option<String> {
    let url = reqwest::Url::parse(record.return_url.as_ref()?).ok()?;
    Some(url.origin().ascii_serialization())
}

/// The page's language: `?lang=` if the brand speaks it, else the verification's.
fn page_locale<'a>(brand: &Brand, query: &PageQuery, record: &'a VerificationRecord) -> &'a str {
    match query.lang.as_deref().and_then(supported).filter(|l| brand.locales.iter().any(|b| b == l)) {
        Some(lang) => lang,
        None => &record.locale,
    }
}

fn outcome_key(status: Status) -> &'static str {
    match status {
        Status::Pending => "",
        Status::Approved => "outcome-approved",
        Status::Canceled => "outcome-canceled",
        Status::Expired => "outcome-expired",
        Status::Failed => "outcome-failed",
        Status::Undeliverable => "outcome-undeliverable",
        Status::Blocked => "outcome-blocked",
        Status::InReview => "outcome-in-review",
    }
}

fn notice_text(tr: &Tr<'_>, notice: &str, record: &VerificationRecord, resend_wait: i64) -> Option<Notice> {
    let (text, alert) = match notice {
        "wrong" => (tr.t1("notice-wrong", "attempts", record.state.attempts_remaining()), true),
        "invalid" => (tr.t("notice-invalid"), true),
        "resent" => (tr.t("notice-resent"), false),
        "too_soon" => (tr.t1("notice-too-soon", "seconds", resend_wait), true),
        "no_resends" => (tr.t("notice-no-resends"), true),
        "locked" => (tr.t("notice-locked"), true),
        _ => return None,
    };
    Some(Notice { text, alert })
}

/// The hosted verification page.
#[utoipa::path(get, path = "/v/{token}", tag = "hosted page", params(("token" = String, Path, description = "From `hosted_url`"), PageQuery), responses((status = 200, description = "HTML page", content_type = "text/html"), (status = 404, description = "Unknown link", content_type = "text/html")))]
pub async fn page(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = page_query(query);
    let (brand, mut record) = load(&app, &token).await?;
    let now = app.clock.now();
    // Shown as expired at once; the sweeper records it shortly.
    if record.state.is_expired(now) {
        record.state.status = Status::Expired;
    }
    let locale = page_locale(&brand, &query, &record).to_owned();
    let tr = Tr { texts: &brand.texts, locale: &locale };
    let currency = record.amount.currency;
    let items = serde_json::from_str::<Vec<serde_json::Value>>(&record.order_summary)
        .unwrap_or_default()
        .iter()
        .map(|item| Item {
            name: item.get("name").and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
            quantity: item.get("quantity").and_then(serde_json::Value::as_u64).unwrap_or(1),
            price: item
                .get("unit_price")
                .and_then(|v| v.as_str())
                .and_then(|p| Money::parse(p, currency).ok())
                .map(|m| format_amount(m, &locale))
                .unwrap_or_default(),
        })
        .collect();
    let resend_wait_seconds = now.seconds_until(record.state.resend_available_at()).max(0);
    let languages = brand
        .locales
        .iter()
        .filter_map(|l| supported(l))
        .map(|l| {
            let name = if l == "de" { "Deutsch" } else { "English" };
            let href = PageQuery { lang: Some(l.into()), embed: query.embed.clone(), notice: None }.keep(&brand, None);
            (l, name, href)
        })
        .collect();
    let status = record.state.status;
    let mut response = render(&HostedPage {
        brand: &brand,
        notice: query
            .notice
            .as_deref()
            .filter(|_| status == Status::Pending)
            .and_then(|notice| notice_text(&tr, notice, &record, resend_wait_seconds)),
        tr,
        languages,
        token: &token,
        keep: query.keep(&brand, None),
        embedded: query.embedded(),
        status: status.as_str(),
        outcome: brand.texts.get(&locale, outcome_key(status), &[]),
        review_right: (status == Status::Blocked).then(|| brand.review_right(&locale)),
        amount: format_amount(record.amount, &locale),
        items,
        phone_hint: &record.phone_hint,
        attempts_remaining: record.state.attempts_remaining(),
        resends_remaining: record.state.resends_remaining(),
        resend_wait_seconds,
        expires_in_seconds: now.seconds_until(record.state.expires_at).max(0),
        verification_id: &record.id,
        return_url: back_to_shop(&record),
        parent_origin: shop_origin(&record),
        script: assets::url("hosted.js"),
    });
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&brand)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    if let Ok(language) = HeaderValue::from_str(&locale) {
        headers.insert(header::CONTENT_LANGUAGE, language);
    }
    Ok(response)
}

/// The brand's shop origins as CSP sources: HTTPS, and for a local development host also plain
/// HTTP on any port.
fn shop_sources(brand: &Brand) -> String {
    brand
        .shop_domains
        .iter()
        .map(|d| {
            let local = d == "localhost" || d.ends_with(".localhost") || d == "127.0.0.1";
            if local { format!(" https://{d}:* http://{d}:*") } else { format!(" https://{d}") }
        })
        .collect()
}

/// Only the brand's shops may frame the page. Forms may lead back to the shop: browsers apply
/// `form-action` to the redirect after a form is sent, so the shop domains are allowed there too.
fn content_security_policy(brand: &Brand) -> String {
    let shops = shop_sources(brand);
    format!(
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; form-action 'self'{shops}; frame-ancestors{shops}; base-uri 'none'"
    )
}

/// The answer to a form: JSON for the page's script (`Accept: application/json`), else a redirect.
#[derive(Serialize)]
struct FormAnswer {
    status: &'static str,
    attempts_remaining: u32,
    /// The page's message for what happened, in the page's language.
    message: Option<String>,
    /// Where to go now: the shop, or the page showing the outcome.
    redirect: Option<String>,
}

/// A form sent from the hosted page: the verification it acts on and how to answer.
pub struct PageAction {
    token: String,
    query: PageQuery,
    wants_json: bool,
    brand: Arc<Brand>,
    record: VerificationRecord,
    /// When the form came in: the one clock reading of the request.
    now: Timestamp,
}

impl FromRequestParts<Arc<App>> for PageAction {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, PageError> {
        let Path(token) = Path::<String>::from_request_parts(parts, app)
            .await
            .map_err(|_| error_page(app, StatusCode::NOT_FOUND, "link-invalid"))?;
        let query = page_query(Query::<PageQuery>::from_request_parts(parts, app).await);
        let (brand, record) = load(app, &token).await?;
        Ok(Self { token, query, wants_json: wants_json(&parts.headers), brand, record, now: app.clock.now() })
    }
}

/// What an action on the page led to.
enum Outcome {
    /// Still pending: back to the page with this notice.
    Notice(&'static str, VerificationRecord),
    /// Ended: back to the shop, or to the page showing the outcome.
    Finished(VerificationRecord),
}

impl PageAction {
    fn page_url(&self, notice: Option<&str>) -> String {
        format!("/v/{}{}", self.token, self.query.keep(&self.brand, notice))
    }

    fn respond(&self, app: &App, result: Result<Outcome, ServiceError>) -> Result<Response, PageError> {
        Ok(match result {
            Ok(Outcome::Notice(notice, record)) => self.notice(notice, &record),
            Ok(Outcome::Finished(record)) => self.finished(&record),
            // The refusal carries the verification as it is now: an expiry may just have been recorded.
            Err(ServiceError::Refused { rejection, record }) => match rejection {
                Rejection::ResendTooSoon { .. } => self.notice("too_soon", &record),
                Rejection::ResendLimit => self.notice("no_resends", &record),
                Rejection::Limited { .. } => self.notice("locked", &record),
                Rejection::NotPending(_) | Rejection::Expired => self.finished(&record),
            },
            Err(ServiceError::Validation(_)) => self.notice("invalid", &self.record),
            Err(other) => {
                tracing::error!(error = %other, "hosted page action failed");
                return Err(error_page(app, StatusCode::INTERNAL_SERVER_ERROR, "error-generic"));
            }
        })
    }

    /// Back to the page, with a notice.
    fn notice(&self, notice: &str, record: &VerificationRecord) -> Response {
        if self.wants_json {
            let locale = page_locale(&self.brand, &self.query, record);
            let tr = Tr { texts: &self.brand.texts, locale };
            let wait = self.now.seconds_until(record.state.resend_available_at()).max(0);
            return Json(FormAnswer {
                status: record.state.status.as_str(),
                attempts_remaining: record.state.attempts_remaining(),
                message: notice_text(&tr, notice, record, wait).map(|n| n.text),
                redirect: None,
            })
            .into_response();
        }
        Redirect::to(&self.page_url(Some(notice))).into_response()
    }

    /// After a final outcome: back to the shop if it gave a return URL (inside the iframe, the page
    /// shows the outcome and tells the shop page), else the page shows the result.
    fn finished(&self, record: &VerificationRecord) -> Response {
        let target = match back_to_shop(record) {
            Some(url) if !self.query.embedded() => url,
            _ => self.page_url(None),
        };
        if self.wants_json {
            return Json(FormAnswer {
                status: record.state.status.as_str(),
                attempts_remaining: record.state.attempts_remaining(),
                message: None,
                redirect: Some(target),
            })
            .into_response();
        }
        Redirect::to(&target).into_response()
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct HostedCodeForm {
    code: String,
}

/// The code typed on the hosted page.
#[utoipa::path(post, path = "/v/{token}/check", tag = "hosted page", params(("token" = String, Path), PageQuery), request_body(content = HostedCodeForm, content_type = "application/x-www-form-urlencoded"), responses((status = 303, description = "Back to the page, or to the shop's return URL when finished"), (status = 200, description = "With `Accept: application/json`: `{status, attempts_remaining, message, redirect}`")))]
pub async fn check(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    action: PageAction,
    form: Result<Form<HostedCodeForm>, FormRejection>,
) -> Result<Response, PageError> {
    // A form without a code is answered like a code that is not digits.
    let code = form.map(|Form(f)| f.code).unwrap_or_default();
    // The page records who typed the code: compared with the order's client (relayed codes).
    let ip = crate::http::client_ip::client_ip(peer.ip(), &headers, &app.trusted_proxies);
    let typed_from = TypedFrom { ip: Some(ip), device_id: None };
    let checked = service::check(&app, &action.brand, &action.record.id, &code, typed_from, action.now).await;
    let result = checked.map(|checked| match checked {
        CheckResult::Wrong { record, .. } => Outcome::Notice("wrong", record),
        CheckResult::Approved { record, .. } | CheckResult::Failed { record } | CheckResult::Held { record } => {
            Outcome::Finished(record)
        }
    });
    action.respond(&app, result)
}

/// A new code, from the hosted page.
#[utoipa::path(post, path = "/v/{token}/resend", tag = "hosted page", params(("token" = String, Path), PageQuery), responses((status = 303, description = "Back to the page")))]
pub async fn resend(State(app): State<Arc<App>>, action: PageAction) -> Result<Response, PageError> {
    let result = service::resend(&app, &action.brand, &action.record.id, action.now).await;
    action.respond(&app, result.map(|record| Outcome::Notice("resent", record)))
}

/// The customer aborts on the hosted page.
#[utoipa::path(post, path = "/v/{token}/cancel", tag = "hosted page", params(("token" = String, Path), PageQuery), responses((status = 303, description = "To the shop's return URL, or back to the page")))]
pub async fn cancel(State(app): State<Arc<App>>, action: PageAction) -> Result<Response, PageError> {
    let reason = Some("canceled on the hosted page".into());
    let result = service::cancel(&app, &action.brand, &action.record.id, reason, action.now).await;
    action.respond(&app, result.map(Outcome::Finished))
}

/// The brand's logo, as configured in its theme.
#[utoipa::path(get, path = "/brands/{slug}/logo", tag = "hosted page", params(("slug" = String, Path)), responses((status = 200, description = "The image"), (status = 404, description = "No logo")))]
pub async fn logo(State(app): State<Arc<App>>, Path(slug): Path<String>) -> Response {
    let Some(logo) = app.brands.get(&slug).and_then(|b| b.theme.logo.as_ref()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = logo.bytes.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(logo.content_type));
    // The URL carries the content's version; an SVG opened directly runs nothing.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    response
}
