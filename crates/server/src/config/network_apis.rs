//! `[network_apis]`: the telco gateways that answer CAMARA SIM Swap and Device Swap, and how
//! orderguard authenticates there (docs/network-apis.md).

use std::path::PathBuf;

use serde::Deserialize;

use super::Secret;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkApiConfig {
    /// The SIM Swap API's base, up to and without `/check`: `https://gw.example/sim-swap/v2`.
    pub sim_swap_url: Option<String>,
    /// The Device Swap API's base: `https://gw.example/device-swap/v1`.
    pub device_swap_url: Option<String>,
    pub auth: NetworkAuth,
    /// A CA certificate (PEM file) for a gateway with a private CA.
    pub ca_certificate: Option<PathBuf>,
    /// Mutual TLS: orderguard's client certificate and key (PEM files), where the gateway asks.
    pub client_certificate: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Calls in flight at once to this gateway; more wait (within their time budget).
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
    /// The longest one call may take, token included, whatever a brand's budget: the breaker
    /// counts a call that takes longer as failed.
    #[serde(default = "default_call_timeout_ms")]
    pub call_timeout_ms: u64,
    /// Failed calls in a row after which the gateway is not asked for `breaker_open_ms`.
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: u32,
    #[serde(default = "default_breaker_open_ms")]
    pub breaker_open_ms: u64,
    /// A number `orderguard doctor` may ask about (the operator's test number).
    pub test_phone_number: Option<String>,
}

fn default_max_concurrency() -> usize {
    32
}

fn default_call_timeout_ms() -> u64 {
    5000
}

fn default_breaker_failures() -> u32 {
    5
}

fn default_breaker_open_ms() -> u64 {
    10_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NetworkAuth {
    /// A token the gateway issued once (`${env:…}` / `${file:…}` work here).
    Bearer { token: Secret<String> },
    /// Two-legged OAuth 2.0: orderguard's own token from the gateway's token endpoint.
    ClientCredentials(OAuthClientConfig),
    /// Three-legged: OpenID Connect CIBA with `login_hint=tel:+…` gives a token per number.
    Ciba(OAuthClientConfig),
}

/// orderguard as a client of the gateway's authorisation server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientConfig {
    pub token_url: String,
    /// CIBA only: the backchannel authentication endpoint.
    pub backchannel_url: Option<String>,
    pub client_id: String,
    /// Sent as `client_secret_basic` (or `client_secret_post`, see `client_auth`); or instead a
    /// private key for `private_key_jwt`.
    pub client_secret: Option<Secret<String>>,
    /// How the secret is sent: `basic` (default, HTTP Basic) or `post` (form fields), for token
    /// endpoints that accept only one.
    pub client_auth: Option<String>,
    /// A PEM private key (EC P-256, RSA or Ed25519) whose public key the gateway holds.
    pub private_key: Option<PathBuf>,
    /// `kid` of that key at the gateway.
    pub key_id: Option<String>,
    /// Scopes asked for. Client credentials: by default none; CIBA: `openid` is added, and the
    /// purpose (e.g. `dpv:FraudPreventionAndDetection#sim-swap`) belongs here.
    #[serde(default)]
    pub scope: Option<String>,
}
