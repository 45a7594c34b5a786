//! The instance's API as the simulation calls it: the shop's requests, the test harness's clock
//! and outbox, the handset network's delivery reports, run at most so many at a time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use orderguard_domain::money::{Currency, Money};
use serde_json::{Value, json};

use super::options::SmsStatus;
use super::plan::{self, Rng};
use super::report::SimulationError;

/// The instance's HTTP API, as a shop, a handset network and a test harness use it.
pub(super) struct Api {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) sms_status: Option<SmsStatus>,
}

impl Api {
    /// Sends a request and gives the answer if its status is one of `expected`.
    pub(super) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
        expected: &[u16],
    ) -> Result<(u16, Value), SimulationError> {
        let what = format!("{method} {path}");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|source| SimulationError::Http { what: what.clone(), source })?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|source| SimulationError::Http { what: what.clone(), source })?;
        if !expected.contains(&status) {
            return Err(SimulationError::Unexpected { what, status, body: text.chars().take(400).collect() });
        }
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    pub(super) async fn set_clock(&self, at: Option<i64>) -> Result<(), SimulationError> {
        let now = at.map(crate::clock::rfc3339);
        match self.call(reqwest::Method::POST, "/dev/clock", None, Some(json!({ "now": now })), &[200]).await {
            Err(SimulationError::Unexpected { status: 404, .. }) => Err(SimulationError::Setup(
                "the instance does not let its clock be moved: set `simulated_clock = true` under [dev] \
                 (development instances only)"
                    .into(),
            )),
            other => other.map(|_| ()),
        }
    }

    /// The newest SMS of a verification other than `not`, waiting a moment for it: (message id, code).
    pub(super) async fn sms(&self, verification: &str, not: Option<&str>) -> Result<(String, String), SimulationError> {
        let path = format!("/dev/outbox.json?verification_id={verification}&limit=1&wait_ms=5000");
        for _ in 0..100 {
            let (_, messages) = match self.call(reqwest::Method::GET, &path, None, None, &[200]).await {
                Err(SimulationError::Unexpected { status: 404, .. }) => {
                    return Err(SimulationError::Setup(
                        "the instance does not show its outbox: set `outbox_page = true` under [dev] and route the \
                         brands' SMS to an `outbox` provider"
                            .into(),
                    ));
                }
                other => other?,
            };
            let newest = messages.get(0);
            let id = newest.and_then(|m| m.get("id")?.as_str()).unwrap_or_default();
            if !id.is_empty() && Some(id) != not {
                let code = newest.and_then(|m| m.get("text")?.as_str()).and_then(plan::code_in).unwrap_or_default();
                return Ok((id.to_owned(), code));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(SimulationError::Setup(format!("no SMS arrived in the outbox for verification {verification}")))
    }

    pub(super) async fn report_delivery(&self, message_id: &str, delivered: bool) -> Result<(), SimulationError> {
        let Some(status) = &self.sms_status else { return Ok(()) };
        let path = format!("/v1/sms-status/{}", status.provider);
        let body = json!({ "message_id": message_id, "status": if delivered { "delivered" } else { "failed" } });
        self.call(reqwest::Method::POST, &path, Some(&status.token), Some(body), &[204]).await.map(|_| ())
    }
}

/// What the customer (or fraudster) does at a moment of the slot.
#[derive(Debug, Clone, Copy)]
pub(super) enum Action {
    EnterCode { right: bool },
    Resend,
    Cancel,
}
pub(super) type Job<T> = Pin<Box<dyn Future<Output = Result<T, SimulationError>> + Send>>;

/// Runs the jobs, at most `limit` at a time; their results in their order, or the first error.
pub(super) async fn in_parallel<T: Send + 'static>(jobs: Vec<Job<T>>, limit: usize) -> Result<Vec<T>, SimulationError> {
    let permits = Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let permits = permits.clone();
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (index, job.await)
        });
    }
    let mut results = Vec::with_capacity(set.len());
    while let Some(joined) = set.join_next().await {
        let (index, result) = joined.map_err(|e| SimulationError::Setup(format!("a simulated request failed: {e}")))?;
        results.push((index, result?));
    }
    results.sort_by_key(|(index, _)| *index);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}
/// A text field of an answer, empty when missing.
pub(super) fn text(answer: &Value, key: &str) -> String {
    answer.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

pub(super) fn money(minor: i64, currency: Currency) -> String {
    Money::from_minor(minor, currency).to_decimal()
}
/// Where an order comes from: the client's address and the shop's device id, if it sends one.
#[derive(Debug, Clone)]
pub(super) struct Client {
    pub(super) ip: String,
    pub(super) device: Option<String>,
}

pub(super) fn order_body(
    order_id: &str,
    product: plan::Product,
    currency: Currency,
    customer: &str,
    client: &Client,
    rng: &mut Rng,
) -> Value {
    let amount = money(product.price_minor, currency);
    json!({
        "order": {
            "id": order_id, "amount": amount, "currency": currency.code(),
            "items": [{ "sku": product.sku, "name": product.name, "quantity": 1, "unit_price": amount, "hardware": product.hardware }],
        },
        "customer": { "id": customer },
        "locale": if rng.chance(200) { Some("en") } else { None },
        "client": { "ip": client.ip, "device_id": client.device, "user_agent": "Mozilla/5.0 (orderguard simulate)" },
    })
}

/// A new verification as the API answered it.
pub(super) struct Answer {
    pub(super) id: String,
    pub(super) status: String,
    /// The risk reasons: why it was blocked or held.
    pub(super) reasons: Vec<String>,
}

/// Creates a verification, or `None` when the API refused the order (a problem with the
/// customer's number, say).
pub(super) fn create_job(api: &Arc<Api>, key: String, body: Value) -> Job<Option<Answer>> {
    let api = api.clone();
    Box::pin(async move {
        let (status, v) =
            api.call(reqwest::Method::POST, "/v1/verifications", Some(&key), Some(body), &[201, 422]).await?;
        let reasons = v.pointer("/risk/reasons").and_then(Value::as_array).into_iter().flatten();
        let reasons = reasons.filter_map(Value::as_str).map(str::to_owned).collect();
        Ok((status == 201).then(|| Answer { id: text(&v, "id"), status: text(&v, "status"), reasons }))
    })
}

pub(super) enum Acted {
    Checked {
        status: String,
        valid: bool,
    },
    Resent {
        message_id: String,
        code: String,
    },
    Canceled,
    /// No longer pending (it expired, or the attempts ran out in a parallel guess), or a resend
    /// came too soon.
    Refused,
    /// Refused by a lock or a hard limit (`429 limit-reached`): nothing was judged or sent.
    Locked,
}

/// A `429` that a limit or lock answered (not a resend's cooldown).
fn limit_reached(answer: &Value) -> bool {
    text(answer, "type").ends_with(":limit-reached")
}

pub(super) async fn act(
    api: &Api,
    key: &str,
    id: &str,
    action: Action,
    code: &str,
    message_id: Option<&str>,
) -> Result<Acted, SimulationError> {
    let post = |path: String, body: Option<Value>, expected: &'static [u16]| async move {
        api.call(reqwest::Method::POST, &path, Some(key), body, expected).await
    };
    Ok(match action {
        Action::EnterCode { .. } => {
            match post(format!("/v1/verifications/{id}/check"), Some(json!({ "code": code })), &[200, 409, 429]).await?
            {
                (200, v) => {
                    Acted::Checked { status: text(&v, "status"), valid: v.get("valid") == Some(&Value::Bool(true)) }
                }
                (429, _) => Acted::Locked,
                _ => Acted::Refused,
            }
        }
        Action::Resend => match post(format!("/v1/verifications/{id}/resend"), None, &[200, 409, 429]).await? {
            (200, _) => {
                let (message_id, code) = api.sms(id, message_id).await?;
                Acted::Resent { message_id, code }
            }
            (429, v) if limit_reached(&v) => Acted::Locked,
            _ => Acted::Refused,
        },
        Action::Cancel => match post(format!("/v1/verifications/{id}/cancel"), None, &[200, 409]).await? {
            (200, _) => Acted::Canceled,
            _ => Acted::Refused,
        },
    })
}
