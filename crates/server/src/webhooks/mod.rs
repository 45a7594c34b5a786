//! Outgoing webhooks: a brand's endpoints and the HTTP request that delivers one event to one of
//! them, signed per Standard Webhooks (`signature`). What is delivered when, and again after a
//! failure, is decided in `service::webhooks` from the durable deliveries in the store.

pub mod signature;
pub mod targets;

use std::time::{Duration, Instant};

use orderguard_domain::event::EventKind;

use crate::config::{ConfigError, WebhookConfig, resolve_secrets};
use signature::WebhookSecret;
use targets::{GuardedResolver, TargetGuard};

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
    /// Signs `v1a` as well, when set.
    pub signing_key: Option<signature::SigningKey>,
    pub enabled: bool,
    pub description: Option<String>,
    /// Made in the admin area or on the command line: sent with the stricter guard.
    pub stored: bool,
}

/// A name for an endpoint: 1 to 40 of a-z, 0-9 and `-`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 40
        || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!("the name `{name}` must be 1 to 40 of a-z, 0-9 and -"));
    }
    Ok(())
}

/// A URL to send to: https (plain http to this machine only) and not a private address unless
/// allowed; a name is resolved now (blocking), and again at every delivery.
pub fn check_target(url: &str, guard: &TargetGuard) -> Result<(), String> {
    let host = check_url(url)?;
    guard.check_declared(&host)
}

/// Event types as written (`*` for all); `None` means all.
pub fn parse_events(events: &[String]) -> Result<Option<Vec<EventKind>>, String> {
    if events.is_empty() {
        return Err("name at least one event type, or *".into());
    }
    if events.iter().any(|e| e == "*") {
        return Ok(None);
    }
    let kinds = events
        .iter()
        .map(|e| EventKind::parse(e).ok_or_else(|| format!("`{e}` is not an event type (docs/webhooks.md)")));
    Ok(Some(kinds.collect::<Result<Vec<_>, _>>()?))
}

/// Event types as stored for the database's routing (`*` for all).
pub fn subscribed(events: Option<&[EventKind]>) -> Vec<String> {
    match events {
        None => vec!["*".into()],
        Some(kinds) => kinds.iter().map(|k| k.as_str().to_owned()).collect(),
    }
}

impl WebhookEndpoint {
    pub fn new(config: &WebhookConfig, guard: &TargetGuard) -> Result<Self, String> {
        let name = &config.name;
        check_name(name).map_err(|e| format!("webhooks: {e}"))?;
        let field = |what: &str| format!("webhooks.{name}.{what}");
        check_target(&config.url, guard).map_err(|e| format!("{}: {e}", field("url")))?;
        let events = parse_events(&config.events).map_err(|e| format!("{}: {e}", field("events")))?;
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
        let signing_key = match &config.signing_key {
            None => None,
            Some(key) => {
                let pem = resolve_secrets(key.expose_secret()).map_err(|e| format!("{}: {e}", field("signing_key")))?;
                Some(signature::SigningKey::parse(&pem).map_err(|e| format!("{}: {e}", field("signing_key")))?)
            }
        };
        Ok(Self {
            name: name.clone(),
            url: config.url.clone(),
            events,
            secrets,
            signing_key,
            enabled: config.enabled,
            description: config.description.clone(),
            stored: false,
        })
    }

    /// An endpoint kept in the database, for sending: its URL and its unsealed secrets (what
    /// it subscribes to is in the database's routing).
    pub fn stored(name: &str, url: &str, secrets: Vec<WebhookSecret>) -> Self {
        let (name, url) = (name.to_owned(), url.to_owned());
        Self { name, url, events: None, secrets, signing_key: None, enabled: true, description: None, stored: true }
    }
}

/// `https://…`, or `http://` to this machine only (development); gives the host.
fn check_url(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("put no user or password in the URL: the signature authenticates the delivery".into());
    }
    let host = parsed.host_str().unwrap_or_default();
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>();
    let loopback = host == "localhost" || ip.is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(host.to_owned()),
        "http" if loopback => Ok(host.to_owned()),
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

/// Sends the deliveries: a client for the endpoints of the configuration file and one for those
/// made in the admin area, each with a resolver that refuses the targets its guard refuses.
pub struct Sender {
    configured: Client,
    stored: Client,
}

struct Client {
    http: reqwest::Client,
    guard: std::sync::Arc<TargetGuard>,
}

impl Client {
    fn new(guard: TargetGuard) -> Result<Self, ConfigError> {
        let guard = std::sync::Arc::new(guard);
        let http = reqwest::Client::builder()
            .dns_resolver(std::sync::Arc::new(GuardedResolver(guard.clone())))
            // A proxy would resolve the target itself, past the guard.
            .no_proxy()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("orderguard-webhooks")
            .build()
            .map_err(|e| ConfigError::Invalid(format!("webhooks: cannot build the HTTP client: {e}")))?;
        Ok(Self { http, guard })
    }
}

impl Sender {
    pub fn new(configured: TargetGuard, stored: TargetGuard) -> Result<Self, ConfigError> {
        Ok(Self { configured: Client::new(configured)?, stored: Client::new(stored)? })
    }

    /// POSTs `body` signed as `id` at `timestamp` (seconds).
    pub async fn send(&self, endpoint: &WebhookEndpoint, id: &str, timestamp: i64, body: String) -> Attempt {
        let signature = signature::sign(&endpoint.secrets, endpoint.signing_key.as_ref(), id, timestamp, &body);
        let client = if endpoint.stored { &self.stored } else { &self.configured };
        let started = Instant::now();
        // An address in the URL is not resolved, so the resolver's check does not see it.
        let host = reqwest::Url::parse(&endpoint.url).ok().and_then(|u| u.host_str().map(str::to_owned));
        if let Err(refused) = client.guard.check_literal(host.as_deref().unwrap_or_default()) {
            return Attempt { status: None, latency_ms: 0, answer: refused };
        }
        let sent = client
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
                let text = answer_start(response).await;
                (Some(status), text.chars().filter(|c| !c.is_control()).take(KEPT_ANSWER_CHARS).collect())
            }
            // The resolver's refusal of a private address comes back inside the error.
            Err(e) => match refused_by_guard(&e) {
                Some(refused) => (None, refused),
                None if e.is_timeout() => (None, "timed out".into()),
                None if e.is_connect() => (None, "could not connect".into()),
                None => (None, "the request failed".into()),
            },
        };
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        Attempt { status, latency_ms, answer }
    }
}

/// The first bytes of a receiver's answer: what the log keeps, and no more is read (a receiver
/// could answer without end).
async fn answer_start(mut response: reqwest::Response) -> String {
    let mut kept = Vec::new();
    while kept.len() < KEPT_ANSWER_CHARS * 4 {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// The target guard's refusal, if that is what stopped the request.
fn refused_by_guard(e: &reqwest::Error) -> Option<String> {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        let text = s.to_string();
        if text.contains(targets::REFUSED_MARK) {
            return Some(text);
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A receiver that answers without end does not hold the sender: it reads the start and stops.
    #[tokio::test]
    async fn an_endless_answer_is_cut_short() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0_u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = "HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: chunked\r\n\r\n";
            socket.write_all(head.as_bytes()).await.unwrap();
            let chunk = format!("{:x}\r\n{}\r\n", 8192, "x".repeat(8192));
            while socket.write_all(chunk.as_bytes()).await.is_ok() {}
        });
        let guard = super::TargetGuard { allow_private: true, ..Default::default() };
        let sender = super::Sender::new(guard.clone(), guard).unwrap();
        let secret = super::WebhookSecret::parse(&super::WebhookSecret::generate()).unwrap();
        let endpoint = super::WebhookEndpoint::stored("endless", &url, vec![secret]);
        let sent =
            tokio::time::timeout(std::time::Duration::from_secs(5), sender.send(&endpoint, "msg_1", 1, "{}".into()))
                .await
                .expect("the sender stops reading");
        assert_eq!(sent.status, Some(500));
        assert_eq!(sent.answer.len(), super::KEPT_ANSWER_CHARS);
    }

    #[test]
    fn targets_are_https_or_this_machine() {
        assert!(super::check_url("https://shop.example/hooks").is_ok());
        assert!(super::check_url("http://127.0.0.1:9000/hooks").is_ok());
        assert!(super::check_url("http://localhost/hooks").is_ok());
        assert!(super::check_url("http://shop.example/hooks").is_err());
        assert!(super::check_url("ftp://shop.example/hooks").is_err());
        assert!(super::check_url("https://user:pass@shop.example/hooks").is_err());
    }
}
