//! The telco's network APIs (GSMA Open Gateway / CAMARA): whether the SIM or the handset behind a
//! number changed recently, asked before a code is trusted to it. One `NetworkApi` per configured
//! gateway: its token source, a circuit breaker per API, a bound on calls in flight, and the time
//! budget of the brand's policy around all of it. Answers are not cached: a fresh swap must never
//! hide behind an earlier "no swap", and the hard limits already bound the calls per number.

mod camara;
mod oauth;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orderguard_domain::circuit::{Admission, CircuitBreaker};
use orderguard_domain::clock::Timestamp;
use orderguard_domain::swap::{SwapAnswer, SwapKind, SwapMethod, SwapPolicy};

use crate::config::{ConfigError, NetworkApiConfig};
use oauth::TokenSource;

/// Why a call gave no answer; readable, without personal data.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("timed out")]
    Timeout,
    #[error("the gateway could not be reached")]
    Connect,
    #[error("the request failed")]
    Request,
    /// An error answer: the HTTP status and CAMARA's `code` and `message`.
    #[error("HTTP {status} {code}: {message}")]
    Refused { status: u16, code: String, message: String },
    #[error("{0}")]
    Unreadable(&'static str),
    #[error("token: {0}")]
    Token(String),
    /// Not asked: the breaker is open, or the gateway has no such API.
    #[error("{0}")]
    NotAsked(&'static str),
}

impl CallError {
    fn from_reqwest(e: reqwest::Error) -> Self {
        // The URL may hold a secret: never the error's own text.
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_connect() {
            Self::Connect
        } else {
            Self::Request
        }
    }

    /// Whether it says something about the gateway's health (for the breaker): a number the
    /// operator does not serve (`404`, `422`) does not.
    fn is_gateway_failure(&self) -> bool {
        !matches!(self, Self::Refused { status: 400 | 404 | 422, .. } | Self::NotAsked(_))
    }
}

/// One call's answer and what it cost.
#[derive(Debug, Clone)]
pub struct Asked {
    pub answer: SwapAnswer,
    pub latency_ms: i64,
    /// The gateway's configured name.
    pub gateway: String,
}

pub struct NetworkApi {
    pub name: String,
    http: reqwest::Client,
    urls: BTreeMap<SwapKind, String>,
    tokens: TokenSource,
    breakers: BTreeMap<SwapKind, Mutex<CircuitBreaker>>,
    in_flight: tokio::sync::Semaphore,
    pub test_phone_number: Option<String>,
}

impl NetworkApi {
    pub fn new(name: &str, config: &NetworkApiConfig) -> Result<Self, ConfigError> {
        let invalid = |what: String| ConfigError::Invalid(format!("network_apis.{name}: {what}"));
        let mut urls = BTreeMap::new();
        for (kind, url) in [(SwapKind::SimSwap, &config.sim_swap_url), (SwapKind::DeviceSwap, &config.device_swap_url)]
        {
            if let Some(url) = url {
                let url = crate::config::resolve_secrets(url)?;
                reqwest::Url::parse(&url).map_err(|e| invalid(format!("{}_url `{url}`: {e}", kind.as_str())))?;
                urls.insert(kind, url.trim_end_matches('/').to_owned());
            }
        }
        if urls.is_empty() {
            return Err(invalid("set sim_swap_url, device_swap_url or both".into()));
        }
        if !(1..=1024).contains(&config.max_concurrency) {
            return Err(invalid("max_concurrency must be 1 to 1024".into()));
        }
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|error| ConfigError::Read { path: path.to_owned(), error })
        };
        // Each call is bounded by its policy's budget; this only stops a request that outlives it.
        let mut builder =
            reqwest::Client::builder().timeout(Duration::from_secs(15)).redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = &config.ca_certificate {
            let certificate = reqwest::Certificate::from_pem(&read(ca)?)
                .map_err(|e| invalid(format!("ca_certificate {}: {e}", ca.display())))?;
            builder = builder.add_root_certificate(certificate);
        }
        match (&config.client_certificate, &config.client_key) {
            (Some(certificate), Some(key)) => {
                let mut pem = read(certificate)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                let identity = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| invalid(format!("the client certificate or key cannot be used: {e}")))?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => return Err(invalid("client_certificate and client_key go together".into())),
        }
        let http = builder.build().map_err(|e| invalid(format!("cannot build the HTTP client: {e}")))?;
        let open_ms = i64::try_from(config.breaker_open_ms).unwrap_or(i64::MAX);
        let breakers = urls
            .keys()
            .map(|kind| (*kind, Mutex::new(CircuitBreaker::new(config.breaker_failures, open_ms))))
            .collect();
        Ok(Self {
            name: name.to_owned(),
            tokens: TokenSource::new(name, &config.auth, &http)?,
            http,
            urls,
            breakers,
            in_flight: tokio::sync::Semaphore::new(config.max_concurrency),
            test_phone_number: config.test_phone_number.clone(),
        })
    }

    pub fn serves(&self, kind: SwapKind) -> bool {
        self.urls.contains_key(&kind)
    }

    /// Asks about `phone` as `policy` says, within its time budget; never fails: a gateway that
    /// cannot answer gives `SwapAnswer::Unavailable` with the reason.
    pub async fn ask(&self, policy: &SwapPolicy, phone: &str, correlator: &str, now: Timestamp) -> Asked {
        let started = Instant::now();
        let budget = Duration::from_millis(policy.timeout_ms);
        let result = match self.admit(policy.kind, now) {
            Err(e) => Err(e),
            Ok(()) => match tokio::time::timeout(budget, self.call(policy, phone, correlator)).await {
                Ok(result) => result,
                Err(_) => Err(CallError::Timeout),
            },
        };
        let answer = match result {
            Ok(answer) => {
                self.breaker(policy.kind, |b| b.succeeded());
                answer
            }
            Err(error) => {
                if error.is_gateway_failure() {
                    self.breaker(policy.kind, |b| b.failed(now.millis()));
                }
                SwapAnswer::Unavailable { error: error.to_string() }
            }
        };
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        Asked { answer, latency_ms, gateway: self.name.clone() }
    }

    fn admit(&self, kind: SwapKind, now: Timestamp) -> Result<(), CallError> {
        match self.breaker(kind, |b| b.admit(now.millis())) {
            None => Err(CallError::NotAsked("this gateway has no such API configured")),
            Some(Admission::Skip) => Err(CallError::NotAsked("it failed repeatedly; asking again shortly")),
            Some(Admission::Send | Admission::Probe) => Ok(()),
        }
    }

    fn breaker<T>(&self, kind: SwapKind, f: impl FnOnce(&mut CircuitBreaker) -> T) -> Option<T> {
        let breaker = self.breakers.get(&kind)?;
        Some(f(&mut breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner)))
    }

    async fn call(&self, policy: &SwapPolicy, phone: &str, correlator: &str) -> Result<SwapAnswer, CallError> {
        let base = self.urls.get(&policy.kind).ok_or(CallError::NotAsked("this gateway has no such API configured"))?;
        let _permit = self.in_flight.acquire().await.map_err(|_| CallError::NotAsked("shutting down"))?;
        match policy.method {
            SwapMethod::RetrieveDate => {
                let (latest_change, monitored_days) = self
                    .authorised(phone, |token| {
                        camara::retrieve_date(&self.http, base, policy.kind, token, phone, correlator)
                    })
                    .await?;
                Ok(SwapAnswer::Date { latest_change, monitored_days })
            }
            SwapMethod::Check => {
                // Widest first: most numbers were not swapped, and one "no" settles them.
                let mut swapped_within_hours = None;
                for hours in policy.check_ages() {
                    let swapped = self
                        .authorised(phone, |token| camara::check(&self.http, base, token, phone, hours, correlator))
                        .await?;
                    if !swapped {
                        break;
                    }
                    swapped_within_hours = Some(hours);
                }
                Ok(SwapAnswer::Checked { swapped_within_hours })
            }
        }
    }

    /// Runs `call` with a token; a `401` is answered by one new token and one more try.
    async fn authorised<T, F, Fut>(&self, phone: &str, call: F) -> Result<T, CallError>
    where
        F: Fn(oauth::Token) -> Fut,
        Fut: std::future::Future<Output = Result<T, CallError>>,
    {
        let token = self.tokens.token(phone).await?;
        let used = token.value.clone();
        match call(token).await {
            Err(CallError::Refused { status: 401, .. }) => {
                self.tokens.forget(phone, &used).await;
                call(self.tokens.token(phone).await?).await
            }
            other => other,
        }
    }

    /// For `orderguard doctor`: a token, then a call about the test number if one is set.
    pub async fn probe(&self, now: Timestamp) -> Vec<(String, Result<String, String>)> {
        let mut results = Vec::new();
        let token_for = self.test_phone_number.clone().unwrap_or_else(|| "+10000000000".into());
        let token = self.tokens.token(&token_for).await;
        results.push(("token".to_owned(), token.as_ref().map(|_| "obtained".to_owned()).map_err(|e| e.to_string())));
        if token.is_err() {
            return results;
        }
        let Some(phone) = &self.test_phone_number else {
            results.push(("calls".to_owned(), Ok("skipped: no test_phone_number".to_owned())));
            return results;
        };
        for kind in self.urls.keys() {
            let policy = SwapPolicy { timeout_ms: 5000, ..SwapPolicy::default_for(*kind) };
            let asked = self.ask(&policy, phone, "orderguard-doctor", now).await;
            let result = match asked.answer {
                SwapAnswer::Unavailable { error } => Err(error),
                _ => Ok(format!("answered in {} ms", asked.latency_ms)),
            };
            results.push((kind.as_str().to_owned(), result));
        }
        results
    }
}

/// The configured gateways by name.
pub fn build(configs: &BTreeMap<String, NetworkApiConfig>) -> Result<BTreeMap<String, Arc<NetworkApi>>, ConfigError> {
    configs.iter().map(|(name, config)| Ok((name.clone(), Arc::new(NetworkApi::new(name, config)?)))).collect()
}
