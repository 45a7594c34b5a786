//! HTTP to an identity service: a timeout per request, retries with back-off after timeouts,
//! connection errors and 5xx answers (not after answers, nor requests that cannot be built), and a
//! circuit breaker so that a service that is down makes requests fail at once instead of each
//! waiting for its timeouts.

use std::sync::Mutex;
use std::time::Duration;

use orderguard_domain::circuit::{Admission, CircuitBreaker};
use orderguard_domain::clock::Timestamp;
use serde_json::Value;

use super::IdentityError;

pub struct ServiceClient {
    http: reqwest::Client,
    retries: u32,
    breaker: Mutex<CircuitBreaker>,
}

/// An answer that was not a server error: its status and its JSON (`Null` when it had none).
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub json: Value,
}

impl ServiceClient {
    pub fn new(http: reqwest::Client, retries: u32) -> Self {
        // Five failed requests in a row open the breaker for 10 s; then one request probes.
        Self { http, retries, breaker: Mutex::new(CircuitBreaker::new(5, 10_000)) }
    }

    /// Sends the request built by `request`, again after a failure, up to `retries` times; `now`
    /// times the circuit breaker.
    pub async fn send(
        &self,
        now: Timestamp,
        request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, IdentityError> {
        if self.breaker().admit(now.millis()) == Admission::Skip {
            return Err(IdentityError::Unavailable("it failed repeatedly; trying again shortly".into()));
        }
        let mut last = String::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                // 100 ms, 200 ms, … with jitter, so that many requests do not retry in step.
                let base = 100_u64 << attempt.min(6);
                let [jitter] = crate::ids::random_bytes::<1>();
                tokio::time::sleep(Duration::from_millis(base / 2 + u64::from(jitter) * base / 510)).await;
            }
            match request(&self.http).send().await {
                // A request that could not even be built (say, a token with a character no header
                // may hold) fails the same way every time and says nothing about the service.
                Err(e) if e.is_builder() => {
                    return Err(IdentityError::Unavailable("the request could not be built".into()));
                }
                Ok(response) if !response.status().is_server_error() => {
                    self.breaker().succeeded();
                    let status = response.status();
                    let json = response.json().await.unwrap_or(Value::Null);
                    return Ok(Answer { status, json });
                }
                Ok(response) => last = format!("HTTP {}", response.status()),
                Err(e) if e.is_timeout() => last = "timed out".into(),
                Err(e) if e.is_connect() => last = "connection failed".into(),
                // The URL may hold a secret: never put the error's text (which names it) in messages.
                Err(_) => last = "request failed".into(),
            }
        }
        self.breaker().failed(now.millis());
        Err(IdentityError::Unavailable(last))
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, CircuitBreaker> {
        self.breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
