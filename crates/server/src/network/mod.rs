//! The telco's network APIs (GSMA Open Gateway / CAMARA): whether the SIM or the handset behind a
//! number changed recently, asked before a code is trusted to it. One `NetworkApi` per configured
//! gateway: its token source, a circuit breaker per API, a bound on calls in flight, and the time
//! budget of the brand's policy around all of it. Answers are not cached: a fresh swap must never
//! hide behind an earlier "no swap" (docs/network-apis.md).

mod answer;
mod camara;
mod oauth;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orderguard_domain::circuit::{Admission, CircuitBreaker};
use orderguard_domain::clock::Timestamp;
use orderguard_domain::swap::{SwapAnswer, SwapKind, SwapMethod, SwapPolicy};

use crate::config::{ConfigError, NetworkApiConfig};
use oauth::TokenSource;

const NO_SUCH_API: &str = "this gateway has no such API configured";

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

    /// Whether it says something about the gateway's health (for the breaker): an answer about
    /// one number (`400`, `403` without that subscriber's consent, `404`, `422`) does not, nor a
    /// call that was never made.
    fn is_gateway_failure(&self) -> bool {
        !matches!(self, Self::Refused { status: 400 | 403 | 404 | 422, .. } | Self::NotAsked(_))
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
    /// The longest a call (token included) may take, whatever the caller's budget.
    call_timeout: Duration,
    pub test_phone_number: Option<String>,
}

impl NetworkApi {
    pub fn new(name: &str, config: &NetworkApiConfig) -> Result<Self, ConfigError> {
        let invalid = |what: String| ConfigError::Invalid(format!("network_apis.{name}: {what}"));
        let mut urls = BTreeMap::new();
        for (kind, url) in [(SwapKind::SimSwap, &config.sim_swap_url), (SwapKind::DeviceSwap, &config.device_swap_url)]
        {
            if let Some(configured) = url {
                let url = crate::config::resolve_secrets(configured)?;
                // The configured text in the message: the resolved one may hold a secret.
                reqwest::Url::parse(&url).map_err(|e| invalid(format!("{}_url `{configured}`: {e}", kind.as_str())))?;
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
            call_timeout: Duration::from_millis(config.call_timeout_ms),
            test_phone_number: config.test_phone_number.clone(),
        })
    }

    pub fn serves(&self, kind: SwapKind) -> bool {
        self.urls.contains_key(&kind)
    }

    /// Asks about `phone` as `policy` says, within its time budget; never fails: a gateway that
    /// cannot answer gives `SwapAnswer::Unavailable` with the reason.
    pub async fn ask(self: &Arc<Self>, policy: &SwapPolicy, phone: &str, correlator: &str, now: Timestamp) -> Asked {
        let started = Instant::now();
        let budget = Duration::from_millis(policy.timeout_ms);
        let answer = match self.admit(policy.kind, now) {
            Err(e) => SwapAnswer::Unavailable { error: e.to_string() },
            Ok(()) => {
                // The call runs to its end (or the gateway's own timeout) in a task of its own, so
                // that the breaker and the token cache learn from it, and a token fetch is never cut
                // short, even when this caller's budget ends first.
                let narrowest = Arc::new(AtomicU32::new(0));
                let call = Call {
                    api: self.clone(),
                    policy: policy.clone(),
                    phone: phone.to_owned(),
                    correlator: correlator.to_owned(),
                    narrowest: narrowest.clone(),
                    caller_gives_up: started + budget,
                };
                match tokio::time::timeout(budget, tokio::spawn(call.run(now))).await {
                    Ok(Ok(Ok(answer))) => answer,
                    Ok(Ok(Err(error))) => SwapAnswer::Unavailable { error: error.to_string() },
                    Ok(Err(_)) => SwapAnswer::Unavailable { error: "the call failed".into() },
                    // Out of time: a "yes" already given for a wider band still counts.
                    Err(_) => match narrowest.load(Ordering::Relaxed) {
                        0 => SwapAnswer::Unavailable { error: CallError::Timeout.to_string() },
                        hours => SwapAnswer::Checked { swapped_within_hours: Some(hours) },
                    },
                }
            }
        };
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        Asked { answer, latency_ms, gateway: self.name.clone() }
    }

    fn admit(&self, kind: SwapKind, now: Timestamp) -> Result<(), CallError> {
        match self.breaker(kind, |b| b.admit(now.millis())) {
            None => Err(CallError::NotAsked(NO_SUCH_API)),
            Some(Admission::Skip) => Err(CallError::NotAsked("it failed repeatedly; asking again shortly")),
            Some(Admission::Send | Admission::Probe) => Ok(()),
        }
    }

    fn breaker<T>(&self, kind: SwapKind, f: impl FnOnce(&mut CircuitBreaker) -> T) -> Option<T> {
        let breaker = self.breakers.get(&kind)?;
        Some(f(&mut breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner)))
    }

    /// The operations of one check; `narrowest` keeps the narrowest band `check` found a swap in
    /// so far.
    async fn operations(
        &self,
        policy: &SwapPolicy,
        phone: &str,
        correlator: &str,
        narrowest: &AtomicU32,
    ) -> Result<SwapAnswer, CallError> {
        let base = self.urls.get(&policy.kind).ok_or(CallError::NotAsked(NO_SUCH_API))?;
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
                    let asked = self
                        .authorised(phone, |token| camara::check(&self.http, base, token, phone, hours, correlator))
                        .await;
                    match asked {
                        Ok(true) => {
                            swapped_within_hours = Some(hours);
                            narrowest.store(hours, Ordering::Relaxed);
                        }
                        Ok(false) => break,
                        // A wider band's "yes" stands when a narrower question fails.
                        Err(_) if swapped_within_hours.is_some() => break,
                        Err(e) => return Err(e),
                    }
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
    pub async fn probe(self: &Arc<Self>, now: Timestamp) -> Vec<(String, Result<String, String>)> {
        let mut results = Vec::new();
        let token = match (&self.test_phone_number, self.tokens.per_number()) {
            (Some(phone), _) => self.tokens.token(phone).await,
            // A three-legged token would start a real subscriber's sign-in.
            (None, true) => {
                results.push(("token".to_owned(), Err("CIBA needs test_phone_number to be checked".to_owned())));
                return results;
            }
            (None, false) => self.tokens.token("").await,
        };
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

/// One check in its own task.
struct Call {
    api: Arc<NetworkApi>,
    policy: SwapPolicy,
    phone: String,
    correlator: String,
    narrowest: Arc<AtomicU32>,
    /// After this, nobody waits for the answer: a call still queued then is not made.
    caller_gives_up: Instant,
}

impl Call {
    async fn run(self, now: Timestamp) -> Result<SwapAnswer, CallError> {
        let api = &self.api;
        let permit = tokio::time::timeout(api.call_timeout, api.in_flight.acquire()).await;
        let Ok(Ok(_permit)) = permit else { return Err(CallError::NotAsked("too many calls in flight")) };
        if Instant::now() >= self.caller_gives_up {
            return Err(CallError::NotAsked("nobody waits for the answer any more"));
        }
        let operations = api.operations(&self.policy, &self.phone, &self.correlator, &self.narrowest);
        let result = tokio::time::timeout(api.call_timeout, operations).await.unwrap_or(Err(CallError::Timeout));
        match &result {
            Ok(_) => {
                api.breaker(self.policy.kind, |b| b.succeeded());
            }
            Err(e) if e.is_gateway_failure() => {
                api.breaker(self.policy.kind, |b| b.failed(now.millis()));
            }
            Err(_) => {}
        }
        result
    }
}

/// The configured gateways by name.
pub fn build(configs: &BTreeMap<String, NetworkApiConfig>) -> Result<BTreeMap<String, Arc<NetworkApi>>, ConfigError> {
    configs.iter().map(|(name, config)| Ok((name.clone(), Arc::new(NetworkApi::new(name, config)?)))).collect()
}
