//! The telco's OpenID Connect provider. The shop passes the customer's access token or ID token;
//! orderguard checks it with the provider (signature against the JWKS, or introspection for opaque
//! access tokens) and reads `phone_number` and `phone_number_verified` from the token, the
//! introspection answer or userinfo. The token's `sub` becomes the customer id.

use std::time::{Duration, Instant};

use orderguard_domain::clock::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::client::ServiceClient;
use super::jwt::{self, Expectations, JwkSet, TokenError};
use super::{BoxFuture, CustomerIdentity, CustomerRequest, IdentityConnector, IdentityError};
use crate::config::{ConfigError, OidcConfig, resolve_secrets};

/// An unknown `kid` fetches the JWKS again at most this often: tokens with made-up key ids must
/// not turn into a flood of requests to the provider.
const FORCED_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
const STALE_GRACE: Duration = Duration::from_secs(24 * 3600);
const FAILURE_MEMORY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub jwks_uri: String,
    pub introspection_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
}

/// A value fetched from the provider, when, and a recent failure to fetch it again.
struct Cached<T> {
    value: Option<(T, Instant)>,
    failed: Option<(IdentityError, Instant)>,
    /// The last refetch asked for by an unknown key id.
    forced_at: Option<Instant>,
}

impl<T: Clone> Cached<T> {
    fn fresh(&self, within: Duration) -> Option<T> {
        self.value.as_ref().filter(|(_, at)| at.elapsed() < within).map(|(v, _)| v.clone())
    }

    /// While the provider is away, what it said last is used for a day rather than refusing
    /// every customer; a failure is remembered for a second so that waiting requests do not each
    /// repeat it.
    fn fallback(&self) -> Option<T> {
        self.fresh(STALE_GRACE)
    }

    /// The answer while a fetch failed a moment ago: the last value, else that failure.
    fn failing(&self) -> Option<Result<T, IdentityError>> {
        let (failure, _) = self.failed.as_ref().filter(|(_, at)| at.elapsed() < FAILURE_MEMORY)?;
        Some(self.fallback().ok_or_else(|| failure.clone()))
    }

    /// Keeps what was fetched; a failure is remembered and answered with the last value if any.
    fn store(&mut self, fetched: Result<T, IdentityError>) -> Result<T, IdentityError> {
        match fetched {
            Ok(value) => {
                self.value = Some((value.clone(), Instant::now()));
                Ok(value)
            }
            Err(e) => {
                self.failed = Some((e.clone(), Instant::now()));
                self.fallback().ok_or(e)
            }
        }
    }
}

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Self { value: None, failed: None, forced_at: None }
    }
}

pub struct OidcConnector {
    /// As configured and compared exactly (a trailing `/` counts).
    issuer: String,
    audiences: Vec<String>,
    client_ids: Vec<String>,
    algorithms: Vec<String>,
    client: Option<(String, String)>,
    leeway_seconds: i64,
    cache_for: Duration,
    /// One look-up in all may take this long, however many requests it needs.
    deadline: Duration,
    service: ServiceClient,
    // Separate locks: a slow JWKS fetch must not hold up introspection, which needs discovery only.
    discovery: Mutex<Cached<Discovery>>,
    keys: Mutex<Cached<JwkSet>>,
}

/// What `orderguard doctor` learns from the provider.
pub struct OidcCheck {
    pub keys: usize,
    pub introspection: Option<Result<(), String>>,
}

impl OidcConnector {
    pub fn new(name: &str, config: &OidcConfig) -> Result<Self, ConfigError> {
        let invalid = |what: String| ConfigError::Invalid(format!("identity.{name}: {what}"));
        reqwest::Url::parse(&config.issuer).map_err(|e| invalid(format!("issuer `{}`: {e}", config.issuer)))?;
        if config.audiences.is_empty() && config.client_ids.is_empty() {
            return Err(invalid(
                "name the access tokens' audiences, the shops' client_ids (for ID tokens), or both".into(),
            ));
        }
        if !(10..=86_400).contains(&config.cache_seconds) {
            return Err(invalid("cache_seconds must be 10 to 86400".into()));
        }
        if let Some(bad) = config.algorithms.iter().find(|a| !jwt::SUPPORTED_ALGORITHMS.contains(&a.as_str())) {
            return Err(invalid(format!(
                "algorithm `{bad}` cannot be used (asymmetric ones only: {})",
                jwt::SUPPORTED_ALGORITHMS.join(", ")
            )));
        }
        if !(100..=20_000).contains(&config.timeout_ms)
            || config.retries > 3
            || !(0..=300).contains(&config.leeway_seconds)
        {
            return Err(invalid("timeout_ms must be 100 to 20000, retries 0 to 3, leeway_seconds 0 to 300".into()));
        }
        let client = match (&config.client_id, &config.client_secret) {
            (Some(id), Some(secret)) => Some((id.clone(), resolve_secrets(secret.expose_secret())?)),
            (None, None) => None,
            _ => return Err(invalid("client_id and client_secret go together".into())),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            // A redirect would carry the customer's token (introspection re-posts it) elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            issuer: config.issuer.clone(),
            audiences: config.audiences.clone(),
            client_ids: config.client_ids.clone(),
            algorithms: config.algorithms.clone(),
            client,
            leeway_seconds: config.leeway_seconds,
            cache_for: Duration::from_secs(config.cache_seconds),
            deadline: Duration::from_millis(config.timeout_ms.saturating_mul(3)),
            service: ServiceClient::new(http, config.retries),
            discovery: Mutex::new(Cached::default()),
            keys: Mutex::new(Cached::default()),
        })
    }

    async fn discovery(&self, now: Timestamp) -> Result<Discovery, IdentityError> {
        let mut cache = self.discovery.lock().await;
        if let Some(discovery) = cache.fresh(self.cache_for) {
            return Ok(discovery);
        }
        if let Some(answer) = cache.failing() {
            return answer;
        }
        let fetched = self.fetch_discovery(now).await;
        cache.store(fetched)
    }

    async fn fetch_discovery(&self, now: Timestamp) -> Result<Discovery, IdentityError> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'));
        let answer = self.service.send(now, |http| http.get(&url)).await?;
        if !answer.status.is_success() {
            return Err(IdentityError::Unavailable(format!("discovery answered HTTP {}", answer.status)));
        }
        let discovery: Discovery = serde_json::from_value(answer.json)
            .map_err(|_| IdentityError::Unavailable("the discovery document lacks issuer or jwks_uri".into()))?;
        // OpenID Connect Discovery §4.3: the document must name exactly the issuer it was fetched for.
        if discovery.issuer != self.issuer {
            return Err(IdentityError::Unavailable(format!("discovery names the issuer `{}`", discovery.issuer)));
        }
        Ok(discovery)
    }

    /// The provider's keys; `refresh` fetches them again (an unknown `kid`: the provider rotated),
    /// unless they were fetched within `FORCED_REFRESH_INTERVAL` (made-up key ids must not turn
    /// into a flood of requests).
    async fn keys(&self, refresh: bool, now: Timestamp) -> Result<JwkSet, IdentityError> {
        let mut cache = self.keys.lock().await;
        if let Some(keys) = cache.fresh(self.cache_for) {
            let refreshed_lately = cache.forced_at.is_some_and(|at| at.elapsed() < FORCED_REFRESH_INTERVAL);
            if !refresh || refreshed_lately {
                return Ok(keys);
            }
        }
        if refresh {
            cache.forced_at = Some(Instant::now());
        }
        if let Some(answer) = cache.failing() {
            return answer;
        }
        let fetched = self.fetch_keys(now).await;
        cache.store(fetched)
    }

    async fn fetch_keys(&self, now: Timestamp) -> Result<JwkSet, IdentityError> {
        let discovery = self.discovery(now).await?;
        let answer = self.service.send(now, |http| http.get(&discovery.jwks_uri)).await?;
        if !answer.status.is_success() {
            return Err(IdentityError::Unavailable(format!("the JWKS answered HTTP {}", answer.status)));
        }
        JwkSet::from_json(&answer.json).ok_or_else(|| IdentityError::Unavailable("the JWKS is not a key set".into()))
    }

    /// A JWT checked against the provider's keys (a key id the cached keys lack fetches the keys
    /// once more), for the audiences of its kind.
    async fn verified_claims(
        &self,
        token: &str,
        kind: JwtKind,
        now: Timestamp,
    ) -> Result<Map<String, Value>, IdentityError> {
        let expect = Expectations {
            issuer: &self.issuer,
            audiences: match kind {
                JwtKind::AccessToken => &self.audiences,
                JwtKind::IdToken => &self.client_ids,
            },
            allowed_algorithms: &self.algorithms,
            leeway_seconds: self.leeway_seconds,
            now_seconds: now.millis() / 1000,
        };
        let unverified = jwt::parse(token)?;
        // RFC 9068 marks access tokens `at+jwt`: such a token is no ID token, nor is a logout token.
        let typ = unverified.typ.as_deref().map(str::to_ascii_lowercase);
        if kind == JwtKind::IdToken && matches!(typ.as_deref(), Some("at+jwt" | "application/at+jwt" | "logout+jwt")) {
            return Err(TokenError::Malformed("it is not an ID token (typ)").into());
        }
        let keys = self.keys(false, now).await?;
        let claims = match unverified.verify(&keys, &expect) {
            Err(TokenError::UnknownKey(_)) => {
                let keys = self.keys(true, now).await?;
                jwt::parse(token)?.verify(&keys, &expect)?
            }
            verified => verified?,
        };
        match kind {
            JwtKind::IdToken => {
                if claims.contains_key("events") {
                    return Err(TokenError::Malformed("it is a logout token, not an ID token").into());
                }
                // OpenID Connect Core §3.1.3.7: with several audiences, `azp` names the shop.
                let several = jwt::audiences(&claims).len() > 1;
                let azp = claims.get("azp").and_then(Value::as_str);
                if (several || azp.is_some()) && !azp.is_some_and(|a| self.client_ids.iter().any(|c| c == a)) {
                    return Err(TokenError::WrongAudience.into());
                }
            }
            JwtKind::AccessToken => {
                // RFC 9068 §2.2: the client the token was issued to, when the token says.
                if let Some(client) = claims.get("client_id").and_then(Value::as_str)
                    && !self.client_ids.is_empty()
                    && !self.client_ids.iter().any(|c| c == client)
                {
                    return Err(TokenError::WrongAudience.into());
                }
            }
        }
        Ok(claims)
    }

    /// RFC 7662 for an opaque access token, with orderguard's client credentials; the answer is
    /// held to what a JWT access token must satisfy: issuer, audience (or the shop's client), lifetime.
    async fn introspect(&self, token: &str, now: Timestamp) -> Result<Map<String, Value>, IdentityError> {
        let Some((client_id, secret)) = &self.client else {
            return Err(TokenError::Malformed("this brand takes JWT access tokens and ID tokens only").into());
        };
        let endpoint = self
            .discovery(now)
            .await?
            .introspection_endpoint
            .ok_or_else(|| IdentityError::Unavailable("the provider offers no introspection endpoint".into()))?;
        // RFC 6749 §2.3.1: the client's id and secret are form-encoded before Basic authentication.
        let (user, password) = (form_encode(client_id), form_encode(secret));
        let answer = self
            .service
            .send(now, |http| {
                http.post(&endpoint)
                    .basic_auth(&user, Some(&password))
                    .form(&[("token", token), ("token_type_hint", "access_token")])
            })
            .await?;
        match answer.status.as_u16() {
            200 => {}
            401 | 403 => {
                return Err(IdentityError::Unavailable(format!(
                    "introspection refused orderguard's client credentials (HTTP {})",
                    answer.status
                )));
            }
            _ => return Err(IdentityError::Unavailable(format!("introspection answered HTTP {}", answer.status))),
        }
        let Value::Object(claims) = answer.json else {
            return Err(IdentityError::Unavailable("introspection answered no JSON object".into()));
        };
        if claims.get("active") != Some(&Value::Bool(true)) {
            return Err(TokenError::Inactive.into());
        }
        // A refresh token (or any other kind) passed by mistake must not count as an access token.
        if let Some(kind) = claims.get("token_type").and_then(Value::as_str)
            && !matches!(kind.to_ascii_lowercase().as_str(), "bearer" | "access_token" | "dpop")
        {
            return Err(TokenError::Malformed("it is not an access token").into());
        }
        if let Some(issuer) = claims.get("iss").and_then(Value::as_str)
            && issuer != self.issuer
        {
            return Err(TokenError::WrongIssuer(issuer.chars().take(64).collect()).into());
        }
        let audiences = jwt::audiences(&claims);
        let for_us = if audiences.is_empty() {
            // No audience: the token belongs to its client, which must be one of the shops.
            claims.get("client_id").and_then(Value::as_str).is_some_and(|c| self.client_ids.iter().any(|id| id == c))
        } else {
            audiences.iter().any(|a| self.audiences.iter().any(|e| e == a))
        };
        if !for_us {
            return Err(TokenError::WrongAudience.into());
        }
        jwt::check_lifetime(&claims, self.leeway_seconds, now.millis() / 1000, false)?;
        Ok(claims)
    }

    /// Userinfo with the customer's access token, for the phone claims a token does not carry.
    async fn userinfo(&self, token: &str, sub: &str, now: Timestamp) -> Result<Map<String, Value>, IdentityError> {
        let Some(endpoint) = self.discovery(now).await?.userinfo_endpoint else {
            return Ok(Map::new());
        };
        let answer = self.service.send(now, |http| http.get(&endpoint).bearer_auth(token)).await?;
        match answer.status.as_u16() {
            200 => {}
            401 => return Err(TokenError::Inactive.into()),
            403 => return Err(TokenError::Malformed("userinfo refused it: it lacks the `phone` scope").into()),
            _ => return Err(IdentityError::Unavailable(format!("userinfo answered HTTP {}", answer.status))),
        }
        let Value::Object(claims) = answer.json else {
            return Err(IdentityError::Unavailable("userinfo answered without a JSON object".into()));
        };
        // OpenID Connect Core §5.3.2: userinfo about someone else must not be used.
        if claims.get("sub").and_then(Value::as_str) != Some(sub) {
            return Err(IdentityError::Unavailable("userinfo answered for another subject".into()));
        }
        Ok(claims)
    }

    async fn identify(&self, customer: &CustomerRequest, now: Timestamp) -> Result<CustomerIdentity, IdentityError> {
        // The access token, and whether it is a JWT already checked here.
        let (mut claims, access_token) = match customer {
            CustomerRequest::AccessToken(token) if jwt::looks_like_jwt(token) => {
                (self.verified_claims(token, JwtKind::AccessToken, now).await?, Some((token, true)))
            }
            CustomerRequest::AccessToken(token) => (self.introspect(token, now).await?, Some((token, false))),
            CustomerRequest::IdToken(token) => (self.verified_claims(token, JwtKind::IdToken, now).await?, None),
            CustomerRequest::Id(_) => {
                return Err(IdentityError::WrongReference(
                    "this brand identifies customers by their token: send customer.access_token or customer.id_token",
                ));
            }
        };
        let sub = claims.get("sub").and_then(Value::as_str).ok_or(TokenError::MissingClaim("sub"))?.to_owned();
        if !claims.contains_key("phone_number")
            && let Some((token, checked_jwt)) = access_token
        {
            let more = match self.userinfo(token, &sub, now).await {
                // A JWT access token for orderguard's audience may not be good for userinfo (another
                // audience): it is valid, it just brings no more claims.
                Err(IdentityError::TokenRejected(e)) if checked_jwt => {
                    tracing::warn!(error = %e, "userinfo refused a valid JWT access token: its phone claims are unknown");
                    Map::new()
                }
                other => other?,
            };
            // Number and flag from the same source.
            claims.remove("phone_number_verified");
            claims.extend(more);
        }
        let phone = claims.get("phone_number").and_then(Value::as_str).map(str::to_owned);
        let phone_verified = match claims.get("phone_number_verified") {
            Some(Value::Bool(verified)) => *verified,
            Some(Value::String(text)) => text == "true",
            _ => false,
        };
        Ok(CustomerIdentity { customer_id: sub, phone, phone_verified, phone_changed_at: None })
    }

    /// For `orderguard doctor`: discovery, the JWKS, and the introspection credentials (a made-up
    /// token must come back inactive, not refused).
    pub async fn check(&self, now: Timestamp) -> Result<OidcCheck, IdentityError> {
        let keys = self.keys(true, now).await?.keys.len();
        let introspection = match &self.client {
            None => None,
            Some(_) => Some(match self.introspect("orderguard-doctor-probe", now).await {
                Err(IdentityError::TokenRejected(TokenError::Inactive)) => Ok(()),
                Err(e) => Err(e.to_string()),
                Ok(_) => Err("a made-up token was called active".into()),
            }),
        };
        Ok(OidcCheck { keys, introspection })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JwtKind {
    AccessToken,
    IdToken,
}

/// `application/x-www-form-urlencoded` for one value (RFC 6749 Appendix B).
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => char::from(b).to_string(),
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

impl IdentityConnector for OidcConnector {
    fn resolve<'a>(
        &'a self,
        customer: &'a CustomerRequest,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CustomerIdentity, IdentityError>> {
        Box::pin(async move {
            tokio::time::timeout(self.deadline, self.identify(customer, now))
                .await
                .unwrap_or_else(|_| Err(IdentityError::Unavailable("the provider took too long".into())))
        })
    }
}
