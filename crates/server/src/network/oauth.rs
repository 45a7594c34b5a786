//! Access tokens for a gateway's network APIs, as CAMARA's security profile has them: a static
//! bearer token; two-legged OAuth 2.0 client credentials (RFC 6749 §4.4), cached until shortly
//! before expiry and refreshed once for all parallel calls; or three-legged OpenID Connect CIBA
//! (poll mode) with `login_hint=tel:+…`, a token per number. The client authenticates with a
//! secret (`client_secret_basic`) or a signed assertion (`private_key_jwt`, RFC 7523).
//!
//! Hand-written on reqwest: the grants are two form posts and one JSON answer, and the `oauth2`
//! crate covers only the first of the three (no CIBA, `private_key_jwt` only as extra parameters)
//! while adding chrono and a second `rand` to the build.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::json;

use super::CallError;
use crate::config::{ConfigError, NetworkAuth, OAuthClientConfig, resolve_secrets};

/// A token is refreshed this long before the gateway says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// Per-number CIBA tokens kept at most; past it they are all dropped.
const MOST_NUMBER_TOKENS: usize = 10_000;
/// Lifetimes and intervals a server gives are believed up to this (a day).
const LONGEST: Duration = Duration::from_secs(86_400);
const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// A token and how it identifies the number: a three-legged token names it itself, so the call's
/// body must not (CAMARA: `UNNECESSARY_IDENTIFIER`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub value: String,
    pub names_the_number: bool,
}

type Slot = std::sync::Arc<tokio::sync::Mutex<Option<Cached>>>;

#[derive(Clone)]
pub struct Cached {
    value: String,
    fresh_until: Instant,
}

impl Cached {
    fn fresh(&self) -> bool {
        Instant::now() < self.fresh_until
    }
}

pub enum TokenSource {
    Static(String),
    ClientCredentials {
        client: OAuthClient,
        cached: tokio::sync::Mutex<Option<Cached>>,
    },
    /// One slot per number: parallel calls about one number (SIM and device) share one sign-in.
    Ciba {
        client: OAuthClient,
        backchannel_url: String,
        by_number: std::sync::Mutex<HashMap<String, Slot>>,
    },
}

pub struct OAuthClient {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    auth: ClientAuth,
    scope: Option<String>,
}

enum ClientAuth {
    /// `client_secret_basic`.
    Secret(String),
    /// `client_secret_post`.
    SecretInForm(String),
    PrivateKey {
        key: Box<EncodingKey>,
        algorithm: Algorithm,
        key_id: Option<String>,
    },
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthErrorAnswer {
    error: String,
    error_description: Option<String>,
    interval: Option<u64>,
}

#[derive(Deserialize)]
struct BackchannelAnswer {
    auth_req_id: String,
    expires_in: Option<u64>,
    interval: Option<u64>,
}

impl TokenSource {
    pub fn new(name: &str, auth: &NetworkAuth, http: &reqwest::Client) -> Result<Self, ConfigError> {
        let invalid = |what: String| ConfigError::Invalid(format!("network_apis.{name}.auth: {what}"));
        Ok(match auth {
            NetworkAuth::Bearer { token } => Self::Static(resolve_secrets(token.expose_secret())?),
            NetworkAuth::ClientCredentials(config) => {
                if config.backchannel_url.is_some() {
                    return Err(invalid("backchannel_url belongs to `ciba`".into()));
                }
                Self::ClientCredentials {
                    client: OAuthClient::new(config, http).map_err(invalid)?,
                    cached: tokio::sync::Mutex::new(None),
                }
            }
            NetworkAuth::Ciba(config) => {
                let Some(backchannel_url) = &config.backchannel_url else {
                    return Err(invalid("`ciba` needs backchannel_url".into()));
                };
                let backchannel_url = resolve_secrets(backchannel_url)?;
                reqwest::Url::parse(&backchannel_url).map_err(|e| invalid(format!("backchannel_url: {e}")))?;
                Self::Ciba {
                    client: OAuthClient::new(config, http).map_err(invalid)?,
                    backchannel_url,
                    by_number: std::sync::Mutex::new(HashMap::new()),
                }
            }
        })
    }

    /// A token for a call about `phone`: from the cache while it is fresh.
    pub async fn token(&self, phone: &str) -> Result<Token, CallError> {
        match self {
            Self::Static(value) => Ok(Token { value: value.clone(), names_the_number: false }),
            Self::ClientCredentials { client, cached } => {
                // Held while fetching: parallel calls wait here and then take the fresh token.
                let mut cached = cached.lock().await;
                if let Some(token) = cached.as_ref().filter(|t| t.fresh()) {
                    return Ok(Token { value: token.value.clone(), names_the_number: false });
                }
                let fresh = client.grant(&[("grant_type", "client_credentials")]).await?;
                let value = fresh.value.clone();
                *cached = Some(fresh);
                Ok(Token { value, names_the_number: false })
            }
            Self::Ciba { client, backchannel_url, by_number } => {
                let slot = {
                    let mut slots = lock(by_number);
                    if slots.len() >= MOST_NUMBER_TOKENS && !slots.contains_key(phone) {
                        slots.clear();
                    }
                    slots.entry(phone.to_owned()).or_default().clone()
                };
                let mut cached = slot.lock().await;
                if let Some(token) = cached.as_ref().filter(|t| t.fresh()) {
                    return Ok(Token { value: token.value.clone(), names_the_number: true });
                }
                let fresh = client.ciba(backchannel_url, phone).await?;
                let value = fresh.value.clone();
                *cached = Some(fresh);
                Ok(Token { value, names_the_number: true })
            }
        }
    }

    /// Whether a token names one number (three-legged): `orderguard doctor` needs a test number.
    pub fn per_number(&self) -> bool {
        matches!(self, Self::Ciba { .. })
    }

    /// The gateway refused `used` (401): the next `token` fetches a new one, unless a parallel
    /// call already did.
    pub async fn forget(&self, phone: &str, used: &str) {
        match self {
            Self::Static(_) => {}
            Self::ClientCredentials { cached, .. } => {
                let mut cached = cached.lock().await;
                if cached.as_ref().is_some_and(|t| t.value == used) {
                    *cached = None;
                }
            }
            Self::Ciba { by_number, .. } => {
                let slot = lock(by_number).get(phone).cloned();
                if let Some(slot) = slot {
                    let mut cached = slot.lock().await;
                    if cached.as_ref().is_some_and(|t| t.value == used) {
                        *cached = None;
                    }
                }
            }
        }
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl OAuthClient {
    fn new(config: &OAuthClientConfig, http: &reqwest::Client) -> Result<Self, String> {
        let token_url = resolve_secrets(&config.token_url).map_err(|e| e.to_string())?;
        reqwest::Url::parse(&token_url).map_err(|e| format!("token_url: {e}"))?;
        let auth = match (&config.client_secret, &config.private_key) {
            (Some(secret), None) => {
                let secret = resolve_secrets(secret.expose_secret()).map_err(|e| e.to_string())?;
                match config.client_auth.as_deref() {
                    None | Some("basic") => ClientAuth::Secret(secret),
                    Some("post") => ClientAuth::SecretInForm(secret),
                    Some(other) => return Err(format!("client_auth must be `basic` or `post`, not `{other}`")),
                }
            }
            (None, Some(path)) => {
                let pem = std::fs::read(path).map_err(|e| format!("private_key {}: {e}", path.display()))?;
                let (key, algorithm) = signing_key(&pem)
                    .ok_or_else(|| format!("private_key {}: not an EC P-256, Ed25519 or RSA key", path.display()))?;
                ClientAuth::PrivateKey { key: Box::new(key), algorithm, key_id: config.key_id.clone() }
            }
            _ => return Err("set either client_secret or private_key".into()),
        };
        Ok(Self {
            http: http.clone(),
            token_url,
            client_id: config.client_id.clone(),
            auth,
            scope: config.scope.clone(),
        })
    }

    /// A form post to an endpoint of the authorisation server, authenticated as this client.
    fn post(&self, url: &str, form: &[(&str, &str)]) -> Result<reqwest::RequestBuilder, CallError> {
        let mut fields: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let request = self.http.post(url);
        let request = match &self.auth {
            ClientAuth::Secret(secret) => request.basic_auth(form_encode(&self.client_id), Some(form_encode(secret))),
            ClientAuth::SecretInForm(secret) => {
                fields.push(("client_id", self.client_id.clone()));
                fields.push(("client_secret", secret.clone()));
                request
            }
            ClientAuth::PrivateKey { key, algorithm, key_id } => {
                fields.push(("client_id", self.client_id.clone()));
                fields.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()));
                fields.push(("client_assertion", self.assertion(key, *algorithm, key_id.clone())?));
                request
            }
        };
        Ok(request.form(&fields))
    }

    /// RFC 7523 §3: issued by and about this client, for the token endpoint, used once.
    fn assertion(&self, key: &EncodingKey, algorithm: Algorithm, key_id: Option<String>) -> Result<String, CallError> {
        // The gateway checks these against its own clock: the real time, never a simulated one.
        let now = crate::clock::real_now().millis() / 1000;
        let claims = json!({
            "iss": self.client_id, "sub": self.client_id, "aud": self.token_url,
            "jti": crate::ids::random_token(16), "iat": now, "exp": now + 60,
        });
        let header = Header { kid: key_id, ..Header::new(algorithm) };
        jsonwebtoken::encode(&header, &claims, key)
            .map_err(|_| CallError::Token("the client assertion could not be signed".into()))
    }

    /// A token grant with the configured scope.
    async fn grant(&self, form: &[(&str, &str)]) -> Result<Cached, CallError> {
        let mut fields = form.to_vec();
        if let Some(scope) = self.scope.as_deref() {
            fields.push(("scope", scope));
        }
        let response = self.post(&self.token_url, &fields)?.send().await.map_err(CallError::from_reqwest)?;
        let status = response.status();
        if status.is_success() {
            return self.token_from(response).await;
        }
        Err(oauth_error(status, response).await.1)
    }

    /// CIBA in poll mode: ask the backchannel endpoint to authenticate the number's subscriber
    /// (the operator decides at once for fraud prevention, or after its consent flow), then poll the
    /// token endpoint at the interval it asks for; the caller's time budget bounds the wait.
    async fn ciba(&self, backchannel_url: &str, phone: &str) -> Result<Cached, CallError> {
        let login_hint = format!("tel:{phone}");
        let scope = match self.scope.as_deref() {
            Some(scope) if scope.split(' ').any(|s| s == "openid") => scope.to_owned(),
            Some(scope) => format!("openid {scope}"),
            None => "openid".to_owned(),
        };
        let form = [("login_hint", login_hint.as_str()), ("scope", scope.as_str())];
        let response = self.post(backchannel_url, &form)?.send().await.map_err(CallError::from_reqwest)?;
        let status = response.status();
        if !status.is_success() {
            return Err(oauth_error(status, response).await.1);
        }
        let started: BackchannelAnswer = serde_json::from_slice(&super::answer::read_limited(response).await?)
            .map_err(|_| CallError::Token("the backchannel endpoint answered without auth_req_id".into()))?;
        let mut interval = seconds(started.interval.unwrap_or(0));
        let gives_up = Instant::now() + seconds(started.expires_in.unwrap_or(120));
        loop {
            let form = [("grant_type", CIBA_GRANT), ("auth_req_id", started.auth_req_id.as_str())];
            let response = self.post(&self.token_url, &form)?.send().await.map_err(CallError::from_reqwest)?;
            let status = response.status();
            if status.is_success() {
                return self.token_from(response).await;
            }
            let (answer, error) = oauth_error(status, response).await;
            match answer.as_ref().map(|a| a.error.as_str()) {
                Some("authorization_pending") => {}
                Some("slow_down") => interval = (interval + Duration::from_secs(5)).min(LONGEST),
                _ => return Err(error),
            }
            if let Some(asked) = answer.and_then(|a| a.interval) {
                interval = interval.max(seconds(asked));
            }
            if Instant::now() + interval >= gives_up {
                return Err(CallError::Token("the subscriber's authentication did not complete".into()));
            }
            tokio::time::sleep(interval.max(Duration::from_millis(200))).await;
        }
    }

    async fn token_from(&self, response: reqwest::Response) -> Result<Cached, CallError> {
        let answer: TokenAnswer = serde_json::from_slice(&super::answer::read_limited(response).await?)
            .map_err(|_| CallError::Token("the token endpoint answered without an access token".into()))?;
        // Without `expires_in` a token is used for a minute; a short-lived one for half its life.
        let lifetime = seconds(answer.expires_in.unwrap_or(60));
        let fresh_until = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN).max(lifetime / 2);
        Ok(Cached { value: answer.access_token, fresh_until })
    }
}

/// An error answer of the authorisation server (RFC 6749 §5.2), readable.
async fn oauth_error(
    status: reqwest::StatusCode,
    response: reqwest::Response,
) -> (Option<OAuthErrorAnswer>, CallError) {
    let body = super::answer::read_limited(response).await.unwrap_or_default();
    let answer: Option<OAuthErrorAnswer> = serde_json::from_slice(&body).ok();
    let detail = match &answer {
        Some(a) => match &a.error_description {
            Some(description) => format!("{}: {}", super::answer::scrub(&a.error), super::answer::scrub(description)),
            None => super::answer::scrub(&a.error),
        },
        None => "no OAuth error body".into(),
    };
    let error = if status.is_server_error() {
        CallError::Token(format!("the token endpoint is failing (HTTP {status})"))
    } else {
        CallError::Token(format!("the token endpoint refused (HTTP {}: {detail})", status.as_u16()))
    };
    (answer, error)
}

/// A lifetime or interval a server gave, believed up to a day.
fn seconds(value: u64) -> Duration {
    Duration::from_secs(value).min(LONGEST)
}

/// `client_secret_basic` encodes id and secret as form values first (RFC 6749 §2.3.1).
fn form_encode(value: &str) -> String {
    serde_urlencoded::to_string([("", value)]).map(|s| s.trim_start_matches('=').to_owned()).unwrap_or_default()
}

/// The key of a PEM file and the algorithm it signs with, tried by signing once.
fn signing_key(pem: &[u8]) -> Option<(EncodingKey, Algorithm)> {
    let candidates = [
        (EncodingKey::from_ec_pem(pem).ok(), Algorithm::ES256),
        (EncodingKey::from_ed_pem(pem).ok(), Algorithm::EdDSA),
        (EncodingKey::from_rsa_pem(pem).ok(), Algorithm::RS256),
    ];
    candidates.into_iter().find_map(|(key, algorithm)| {
        let key = key?;
        jsonwebtoken::encode(&Header::new(algorithm), &json!({ "probe": true }), &key).ok()?;
        Some((key, algorithm))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_server_cannot_make_times_overflow() {
        let far = super::seconds(u64::MAX);
        assert_eq!(far, super::LONGEST);
        assert!(std::time::Instant::now().checked_add(far).is_some());
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(super::form_encode("a b+c/d"), "a+b%2Bc%2Fd");
        assert_eq!(super::form_encode("plain"), "plain");
    }
}
