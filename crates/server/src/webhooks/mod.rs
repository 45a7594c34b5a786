//! Outgoing webhooks: a brand's endpoints and the HTTP request that delivers one event to one of
//! them, signed per Standard Webhooks (`signature`). What is delivered when, and again after a
//! failure, is decided in `service::webhooks` from the durable deliveries in the store.

pub mod signature;

use std::time::{Duration, Instant};

use orderguard_domain::event::EventKind;

use crate::config::{ConfigError, WebhookConfig, resolve_secrets};
use signature::WebhookSecret;

/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(15);
/// The most of a receiver's answer kept in the delivery log.
const KEPT_ANSWER_CHARS: usize = 300;

/// One endpoint of a brand.
#[derive(Debug)]
pub struct WebhookEndpoint {
    pub name: String,
    pub url: String,
    /// `None`: every event type.
    pub events: Option<Vec<EventKind>>,
    pub secrets: Vec<WebhookSecret>,
    pub enabled: bool,
    pub description: Option<String>,
}

impl WebhookEndpoint {
    pub fn new(config: &WebhookConfig) -> Result<Self, String> {
        let name = &config.name;
        if name.is_empty()
            || name.len() > 40
            || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("webhooks: name `{name}` must be 1 to 40 of a-z, 0-9 and -"));
        }
        let field = |what: &str| format!("webhooks.{name}.{what}");
        check_url(&config.url).map_err(|e| format!("{}: {e}", field("url")))?;
        let events = if config.events.iter().any(|e| e == "*") {
            None
        } else {
            let kinds = config.events.iter().map(|e| {
                EventKind::parse(e)
                    .ok_or_else(|| format!("{}: `{e}` is not an event type (docs/webhooks.md)", field("events")))
            });
            Some(kinds.collect::<Result<Vec<_>, _>>()?)
        };
        if config.secrets.is_empty() || config.secrets.len() > 2 {
            return Err(format!("{}: one secret, or two during a rotation", field("secrets")));
        }
        let secrets = config
            .secrets
            .iter()
            .map(|s| {
                let reference = s.expose_secret();
                if !reference.trim_start().starts_with("${") {
                    return Err(format!(
                        "{}: name the secret with ${{env:NAME}} or ${{file:PATH}}, never write it here",
                        field("secrets")
                    ));
                }
                let text = resolve_secrets(reference).map_err(|e| format!("{}: {e}", field("secrets")))?;
                WebhookSecret::parse(text.trim()).map_err(|e| format!("{}: {e}", field("secrets")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            name: name.clone(),
            url: config.url.clone(),
            events,
            secrets,
            enabled: config.enabled,
            description: config.description.clone(),
        })
    }

    /// The event types it receives, as stored for the database's routing (`*` for all).
    pub fn subscribed(&self) -> Vec<String> {
        match &self.events {
            None => vec!["*".into()],
            Some(kinds) => kinds.iter().map(|k| k.as_str().to_owned()).collect(),
        }
    }
}

/// `https://…`, or `http://` to this machine only (development).
fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    let host = parsed.host_str().unwrap_or_default();
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>();
    let loopback = host == "localhost" || ip.is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("use https:// (plain http only to 127.0.0.1 or localhost, for development)".into()),
    }
}

/// How one attempt went.
#[derive(Debug)]
pub struct Attempt {
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    pub latency_ms: i64,
    /// The start of its answer, or why there was none.
    pub answer: String,
}

/// Sends the deliveries; one client for all endpoints.
pub struct Sender {
    http: reqwest::Client,
}

impl Sender {
    pub fn new() -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("orderguard-webhooks")
            .build()
            .map_err(|e| ConfigError::Invalid(format!("webhooks: cannot build the HTTP client: {e}")))?;
        Ok(Self { http })
    }

    /// POSTs `body` signed as `id` at `timestamp` (seconds).
    pub async fn send(&self, endpoint: &WebhookEndpoint, id: &str, timestamp: i64, body: String) -> Attempt {
        let signature = signature::sign(&endpoint.secrets, id, timestamp, &body);
        let started = Instant::now();
        let sent = self
            .http
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let (status, answer) = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                (Some(status), text.chars().filter(|c| !c.is_control()).take(KEPT_ANSWER_CHARS).collect())
            }
            Err(e) if e.is_timeout() => (None, "timed out".into()),
            Err(e) if e.is_connect() => (None, "could not connect".into()),
            Err(_) => (None, "the request failed".into()),
        };
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        Attempt { status, latency_ms, answer }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn targets_are_https_or_this_machine() {
        assert!(super::check_url("https://shop.example/hooks").is_ok());
        assert!(super::check_url("http://127.0.0.1:9000/hooks").is_ok());
        assert!(super::check_url("http://localhost/hooks").is_ok());
        assert!(super::check_url("http://shop.example/hooks").is_err());
        assert!(super::check_url("ftp://shop.example/hooks").is_err());
    }
}
