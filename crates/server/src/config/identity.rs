//! `[identity]`: where each brand's customers and their numbers are looked up.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Secret, yes};

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum IdentityConfig {
    /// Customers listed here: for demos, tests and small deployments.
    Static { customers: Vec<StaticCustomer> },
    /// The telco's OpenID Connect provider: the shop passes the customer's token (docs/integration.md).
    Oidc(OidcConfig),
    /// The telco's customer API: `GET {base_url}{path}` per customer id.
    Rest(RestConfig),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL; its `/.well-known/openid-configuration` is read from there.
    pub issuer: String,
    /// `aud` values accepted in access tokens: the resource (API identifier) they are issued for.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// The shops' client ids at the provider: ID tokens must be issued to one of them, and opaque
    /// access tokens without an audience must belong to one of them.
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// Signature algorithms accepted; only asymmetric ones (RS*, PS*, ES256, ES384, EdDSA).
    #[serde(default = "default_token_algorithms")]
    pub algorithms: Vec<String>,
    /// orderguard's own client at the provider, for introspecting opaque access tokens (RFC 7662).
    pub client_id: Option<String>,
    /// `${env:NAME}` / `${file:PATH}` work here.
    pub client_secret: Option<Secret<String>>,
    /// Clock difference tolerated for `exp` and `nbf`.
    #[serde(default = "default_leeway_seconds")]
    pub leeway_seconds: i64,
    /// How long discovery and the JWKS are kept; an unknown `kid` fetches the JWKS again sooner.
    #[serde(default = "default_jwks_cache_seconds")]
    pub cache_seconds: u64,
    #[serde(default = "default_identity_timeout_ms")]
    pub timeout_ms: u64,
    /// Retries after a timeout, a connection error or a 5xx answer.
    #[serde(default = "one_retry")]
    pub retries: u32,
}

fn default_token_algorithms() -> Vec<String> {
    ["RS256", "PS256", "ES256", "EdDSA"].map(String::from).to_vec()
}

fn default_leeway_seconds() -> i64 {
    30
}

fn default_jwks_cache_seconds() -> u64 {
    600
}

fn default_identity_timeout_ms() -> u64 {
    3000
}

fn one_retry() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestConfig {
    pub base_url: String,
    /// Appended to `base_url`; `{id}` is the customer id (URL-encoded).
    #[serde(default = "default_rest_path")]
    pub path: String,
    #[serde(default)]
    pub auth: RestAuth,
    /// A CA certificate (PEM file) for a service with a private CA.
    pub ca_certificate: Option<PathBuf>,
    /// JSON pointers into the answer: the number, whether it is verified (absent: the service
    /// holds only verified numbers), when it last changed (RFC 3339; a risk signal).
    pub phone_pointer: String,
    pub phone_verified_pointer: Option<String>,
    pub phone_changed_at_pointer: Option<String>,
    #[serde(default = "default_identity_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "one_retry")]
    pub retries: u32,
}

fn default_rest_path() -> String {
    "/customers/{id}".into()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RestAuth {
    #[default]
    None,
    Bearer {
        token: Secret<String>,
    },
    Basic {
        username: String,
        password: Secret<String>,
    },
    /// Mutual TLS: orderguard's client certificate and key (PEM files).
    Mtls {
        certificate: PathBuf,
        key: PathBuf,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticCustomer {
    pub id: String,
    pub phone: String,
    #[serde(default = "yes")]
    pub phone_verified: bool,
}
