//! The telco's OpenID Connect provider. The shop passes the customer's access token or ID token;
//! orderguard checks it with the provider (signature against the JWKS, or introspection for opaque
//! access tokens) and reads `phone_number` and `phone_number_verified` from the token, the
//! introspection answer or userinfo. The token's `sub` becomes the customer id.

use std::time::{Duration, Instant};

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

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub jwks_uri: String,
    pub introspection_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
}

#[derive(Default)]
struct Cache {
    discovery: Option<(Discovery, Instant)>,
    keys: Option<(JwkSet, Instant)>,
    forced_at: Option<Instant>,
}

pub struct OidcConnector {
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<String>,
    client: Option<(String, String)>,
    leeway_seconds: i64,
    cache_for: Duration,
    service: ServiceClient,
    cache: Mutex<Cache>,
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
        if config.audiences.is_empty() {
            return Err(invalid("audiences needs at least one value (the resource or the shop's client id)".into()));
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
            (Some(id), Some(secret)) => Some((id.clone(), resolve_secrets(secret)?)),
            (None, None) => None,
            _ => return Err(invalid("client_id and client_secret go together".into())),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .build()
            .map_err(|e| invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            issuer: config.issuer.trim_end_matches('/').to_owned(),
            audiences: config.audiences.clone(),
            algorithms: config.algorithms.clone(),
            client,
            leeway_seconds: config.leeway_seconds,
            cache_for: Duration::from_secs(config.cache_seconds),
            service: ServiceClient::new(http, config.retries),
            cache: Mutex::new(Cache::default()),
        })
    }

    async fn discovery(&self) -> Result<Discovery, IdentityError> {
        let mut cache = self.cache.lock().await;
        if let Some((discovery, at)) = &cache.discovery
            && at.elapsed() < self.cache_for
        {
            return Ok(discovery.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let answer = self.service.send(|http| http.get(&url)).await?;
        if !answer.status.is_success() {
            return Err(IdentityError::Unavailable(format!("discovery answered HTTP {}", answer.status)));
        }
        let discovery: Discovery = serde_json::from_value(answer.json)
            .map_err(|_| IdentityError::Unavailable("the discovery document lacks issuer or jwks_uri".into()))?;
        // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
        if discovery.issuer.trim_end_matches('/') != self.issuer {
            return Err(IdentityError::Unavailable(format!("discovery names the issuer `{}`", discovery.issuer)));
        }
        cache.discovery = Some((discovery.clone(), Instant::now()));
        Ok(discovery)
    }

    /// The provider's keys; `refresh` fetches them again (an unknown `kid`: the provider rotated).
    async fn keys(&self, refresh: bool) -> Result<JwkSet, IdentityError> {
        let discovery = self.discovery().await?;
        let mut cache = self.cache.lock().await;
        let fresh = cache.keys.as_ref().filter(|(_, at)| at.elapsed() < self.cache_for).map(|(k, _)| k.clone());
        match fresh {
            Some(keys) if !refresh => return Ok(keys),
            Some(keys) if cache.forced_at.is_some_and(|at| at.elapsed() < FORCED_REFRESH_INTERVAL) => return Ok(keys),
            _ => {}
        }
        if refresh {
            cache.forced_at = Some(Instant::now());
        }
        let answer = self.service.send(|http| http.get(&discovery.jwks_uri)).await?;
        if !answer.status.is_success() {
            return Err(IdentityError::Unavailable(format!("the JWKS answered HTTP {}", answer.status)));
        }
        let keys: JwkSet = serde_json::from_value(answer.json)
            .map_err(|_| IdentityError::Unavailable("the JWKS is not a key set".into()))?;
        cache.keys = Some((keys.clone(), Instant::now()));
        Ok(keys)
    }

    /// A JWT (access token or ID token) checked against the provider's keys; a key id the cached
    /// keys lack fetches the keys once more before the token is refused.
    async fn verified_claims(&self, token: &str) -> Result<Map<String, Value>, IdentityError> {
        let expect = Expectations {
            issuer: &self.issuer,
            audiences: &self.audiences,
            allowed_algorithms: &self.algorithms,
            leeway_seconds: self.leeway_seconds,
            now_seconds: crate::clock::now().millis() / 1000,
        };
        let keys = self.keys(false).await?;
        match jwt::parse(token)?.verify(&keys, &expect) {
            Err(TokenError::UnknownKey(_)) => {
                let keys = self.keys(true).await?;
                Ok(jwt::parse(token)?.verify(&keys, &expect)?)
            }
            verified => Ok(verified?),
        }
    }

    /// RFC 7662 for an opaque access token, with orderguard's client credentials.
    async fn introspect(&self, token: &str) -> Result<Map<String, Value>, IdentityError> {
        let Some((client_id, secret)) = &self.client else {
            return Err(IdentityError::Unavailable(
                "opaque access tokens need introspection: the connector needs client_id and client_secret".into(),
            ));
        };
        let endpoint = self
            .discovery()
            .await?
            .introspection_endpoint
            .ok_or_else(|| IdentityError::Unavailable("the provider offers no introspection endpoint".into()))?;
        let answer = self
            .service
            .send(|http| {
                http.post(&endpoint)
                    .basic_auth(client_id, Some(secret))
                    .form(&[("token", token), ("token_type_hint", "access_token")])
            })
            .await?;
        if !answer.status.is_success() {
            return Err(IdentityError::Unavailable(format!(
                "introspection answered HTTP {} (are client_id and client_secret right?)",
                answer.status
            )));
        }
        let Value::Object(claims) = answer.json else {
            return Err(IdentityError::Unavailable("introspection answered no JSON object".into()));
        };
        if claims.get("active") != Some(&Value::Bool(true)) {
            return Err(TokenError::Inactive.into());
        }
        if let Some(issuer) = claims.get("iss").and_then(Value::as_str)
            && issuer.trim_end_matches('/') != self.issuer
        {
            return Err(TokenError::WrongIssuer(issuer.to_owned()).into());
        }
        Ok(claims)
    }

    /// Userinfo with the customer's access token, for the phone claims a token does not carry.
    async fn userinfo(&self, token: &str, sub: &str) -> Result<Map<String, Value>, IdentityError> {
        let Some(endpoint) = self.discovery().await?.userinfo_endpoint else {
            return Ok(Map::new());
        };
        let answer = self.service.send(|http| http.get(&endpoint).bearer_auth(token)).await?;
        if answer.status == reqwest::StatusCode::UNAUTHORIZED || answer.status == reqwest::StatusCode::FORBIDDEN {
            return Err(TokenError::Inactive.into());
        }
        let Value::Object(claims) = answer.json else {
            return Err(IdentityError::Unavailable(format!("userinfo answered HTTP {} without JSON", answer.status)));
        };
        // OpenID Connect Core §5.3.2: userinfo about someone else must not be used.
        if claims.get("sub").and_then(Value::as_str) != Some(sub) {
            return Err(IdentityError::Unavailable("userinfo answered for another subject".into()));
        }
        Ok(claims)
    }

    async fn identify(&self, customer: &CustomerRequest) -> Result<CustomerIdentity, IdentityError> {
        // The access token, and whether it is a JWT already checked here.
        let (mut claims, access_token) = match customer {
            CustomerRequest::AccessToken(token) if jwt::looks_like_jwt(token) => {
                (self.verified_claims(token).await?, Some((token, true)))
            }
            CustomerRequest::AccessToken(token) => (self.introspect(token).await?, Some((token, false))),
            CustomerRequest::IdToken(token) => (self.verified_claims(token).await?, None),
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
            let more = match self.userinfo(token, &sub).await {
                // A JWT access token for orderguard's audience may not be good for userinfo (another
                // audience): it is valid, it just brings no more claims.
                Err(IdentityError::TokenRejected(_)) if checked_jwt => Map::new(),
                other => other?,
            };
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
    pub async fn check(&self) -> Result<OidcCheck, IdentityError> {
        let keys = self.keys(true).await?.keys.len();
        let introspection = match &self.client {
            None => None,
            Some(_) => Some(match self.introspect("orderguard-doctor-probe").await {
                Err(IdentityError::TokenRejected(TokenError::Inactive)) => Ok(()),
                Err(e) => Err(e.to_string()),
                Ok(_) => Err("a made-up token was called active".into()),
            }),
        };
        Ok(OidcCheck { keys, introspection })
    }
}

impl IdentityConnector for OidcConnector {
    fn resolve<'a>(&'a self, customer: &'a CustomerRequest) -> BoxFuture<'a, Result<CustomerIdentity, IdentityError>> {
        Box::pin(self.identify(customer))
    }
}
