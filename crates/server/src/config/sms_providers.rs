//! `[sms_providers]`: how each SMS provider is reached.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Secret, yes};

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SmsProviderConfig {
    /// Keeps messages in the database for `/dev/outbox`: development and demos only.
    Outbox(OutboxProviderConfig),
    Http(HttpProviderConfig),
    Smpp(SmppProviderConfig),
}

impl SmsProviderConfig {
    /// Where the provider's delivery reports come in, if they do over HTTP.
    pub fn status_callback(&self) -> Option<&StatusCallbackConfig> {
        match self {
            Self::Outbox(outbox) => outbox.status_callback.as_ref(),
            Self::Http(http) => http.status_callback.as_ref(),
            Self::Smpp(_) => None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxProviderConfig {
    /// Delivery reports for kept messages, posted by whoever plays the handset network (such as
    /// `orderguard simulate`), as an HTTP provider's would be.
    pub status_callback: Option<StatusCallbackConfig>,
}

/// An SMSC reached over SMPP v3.4 (docs/sms.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppProviderConfig {
    /// `host:port` of the SMSC.
    pub address: String,
    /// Up to 15 characters; `${env:NAME}` and `${file:PATH}` work here and in `password`.
    pub system_id: String,
    /// Up to 8 characters.
    pub password: Secret<String>,
    #[serde(default)]
    pub system_type: String,
    /// The `address_range` of the bind (receivers: which numbers' messages to get); usually empty.
    #[serde(default)]
    pub address_range: String,
    /// `transceiver` (one connection per bind) or `transmitter_receiver` (a transmitter per bind
    /// plus one receiver for the delivery receipts).
    #[serde(default)]
    pub bind_mode: SmppBindMode,
    /// Parallel binds (connections) to the SMSC; messages are spread over them.
    #[serde(default = "one")]
    pub binds: usize,
    /// submit_sm PDUs sent and not yet answered, per bind.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Highest rate of submit_sm per bind, as the SMSC contract allows; none when absent.
    pub max_per_second: Option<u32>,
    /// Ask for delivery receipts (`registered_delivery`).
    #[serde(default = "yes")]
    pub delivery_receipts: bool,
    #[serde(default = "default_enquire_link_seconds")]
    pub enquire_link_seconds: u64,
    /// How long a hand-off may take in all: waiting for a bind, throttling pauses and every part.
    #[serde(default = "default_send_timeout_ms")]
    pub send_timeout_ms: u64,
    /// Longest time to wait for the SMSC's answer to one PDU.
    #[serde(default = "default_response_timeout_ms")]
    pub response_timeout_ms: u64,
    /// SMPP over TLS (rustls), for SMSCs that require it; the certificate is checked against
    /// `ca_certificate`, else the public roots.
    #[serde(default)]
    pub tls: bool,
    /// A PEM file with the CA (or CAs) that signed the SMSC's certificate.
    pub ca_certificate: Option<std::path::PathBuf>,
    /// The name in the SMSC's certificate, when it is not the host of `address`.
    pub tls_server_name: Option<String>,
}

impl SmppProviderConfig {
    /// An account at an SMSC with every other key at its default, as a configuration file without
    /// them would give.
    pub fn account(address: &str, system_id: &str, password: &str) -> Self {
        Self {
            address: address.to_owned(),
            system_id: system_id.to_owned(),
            password: password.into(),
            system_type: String::new(),
            address_range: String::new(),
            bind_mode: SmppBindMode::default(),
            binds: one(),
            window: default_window(),
            max_per_second: None,
            delivery_receipts: yes(),
            enquire_link_seconds: default_enquire_link_seconds(),
            send_timeout_ms: default_send_timeout_ms(),
            response_timeout_ms: default_response_timeout_ms(),
            tls: false,
            ca_certificate: None,
            tls_server_name: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmppBindMode {
    #[default]
    Transceiver,
    TransmitterReceiver,
}

fn one() -> usize {
    1
}

fn default_window() -> usize {
    10
}

fn default_enquire_link_seconds() -> u64 {
    30
}

fn default_send_timeout_ms() -> u64 {
    10_000
}

fn default_response_timeout_ms() -> u64 {
    5_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProviderConfig {
    pub url: String,
    /// Header name → value; values may use `${env:NAME}` and `${file:PATH}` for secrets.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret<String>>,
    /// The body; every string in it may use `{to}` (E.164), `{to_digits}` (without `+`), `{text}`,
    /// `{encoding}` (`text` for GSM-7, `unicode` otherwise), `{sender}`, `{id}`, `{brand}`, and
    /// `${env:NAME}` / `${file:PATH}` for secrets.
    pub body: Secret<serde_json::Value>,
    /// `json`, or `form` (URL-encoded; the body must then be a flat table).
    #[serde(default)]
    pub format: HttpBodyFormat,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Retries of one hand-off after a timeout, a connection error or a 5xx/429 answer.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// JSON pointer to the provider's message id in its answer, e.g. `/messages/0/message-id`.
    pub message_id_pointer: Option<String>,
    /// For APIs that answer 200 to a refused message: a JSON pointer into the answer and the
    /// values that mean accepted (e.g. `/messages/0/status` and `["0"]`).
    pub accepted_pointer: Option<String>,
    #[serde(default)]
    pub accepted_values: Vec<String>,
    /// The provider's delivery status callbacks, at `/v1/sms-status/{provider name}`.
    pub status_callback: Option<StatusCallbackConfig>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HttpBodyFormat {
    #[default]
    Json,
    Form,
}

/// How to read a provider's delivery status callback (JSON body, form body or query string).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusCallbackConfig {
    /// A secret the provider sends as `Authorization: Bearer …` or as `?token=…` in the callback
    /// URL; at least 16 characters. Use `${env:NAME}` or `${file:PATH}`.
    pub token: Secret<String>,
    /// Field with the provider's message id: a name (`messageId`) or a JSON pointer (`/data/id`).
    pub message_id_field: String,
    pub status_field: String,
    /// Field with the provider's error code, kept with the event.
    pub error_field: Option<String>,
    /// Status values that mean delivered, and those that mean it failed for good; others (such as
    /// `accepted` or `buffered`) are interim and ignored.
    pub delivered: Vec<String>,
    pub failed: Vec<String>,
}

fn default_timeout_ms() -> u64 {
    5000
}

fn default_retries() -> u32 {
    2
}
