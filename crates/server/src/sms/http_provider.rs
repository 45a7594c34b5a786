use std::time::Duration;

use super::{OutgoingSms, SmsError, SmsGateway, Submitted};
use crate::config::{ConfigError, HttpProviderConfig, resolve_secrets};
use crate::identity::BoxFuture;

/// A generic HTTP SMS API: a JSON POST built from a template, with timeout and retries.
pub struct HttpProvider {
    client: reqwest::Client,
    url: String,
    headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    body: serde_json::Value,
    retries: u32,
    message_id_pointer: Option<String>,
}

impl HttpProvider {
    pub fn new(name: &str, config: &HttpProviderConfig) -> Result<Self, ConfigError> {
        let invalid = |what: String| ConfigError::Invalid(format!("sms_providers.{name}: {what}"));
        let url = resolve_secrets(&config.url)?;
        // The message names the configured URL, never the one with secrets filled in.
        reqwest::Url::parse(&url).map_err(|e| invalid(format!("url `{}`: {e}", config.url)))?;
        let headers = config
            .headers
            .iter()
            .map(|(key, value)| {
                let name = reqwest::header::HeaderName::from_bytes(key.as_bytes())
                    .map_err(|_| invalid(format!("`{key}` is not a header name")))?;
                let value = reqwest::header::HeaderValue::from_str(&resolve_secrets(value)?)
                    .map_err(|_| invalid(format!("the value of header `{key}` is not valid")))?;
                Ok((name, value))
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.timeout_ms))
            .build()
            .map_err(|e| invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            url,
            headers,
            body: config.body.clone(),
            retries: config.retries,
            message_id_pointer: config.message_id_pointer.clone(),
        })
    }

    fn render(&self, sms: &OutgoingSms<'_>) -> serde_json::Value {
        fn fill(value: &serde_json::Value, sms: &OutgoingSms<'_>) -> serde_json::Value {
            match value {
                serde_json::Value::String(s) => serde_json::Value::String(
                    s.replace("{to}", sms.to)
                        .replace("{text}", sms.text)
                        .replace("{sender}", sms.sender_id)
                        .replace("{id}", sms.message_id)
                        .replace("{brand}", sms.brand),
                ),
                serde_json::Value::Array(items) => items.iter().map(|v| fill(v, sms)).collect(),
                serde_json::Value::Object(map) => {
                    map.iter().map(|(k, v)| (k.clone(), fill(v, sms))).collect::<serde_json::Map<_, _>>().into()
                }
                other => other.clone(),
            }
        }
        fill(&self.body, sms)
    }

    async fn attempt(&self, body: &serde_json::Value) -> Result<Submitted, SmsError> {
        let mut request = self.client.post(&self.url).json(body);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| SmsError::Unavailable(without_url(&e)))?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(SmsError::Unavailable(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(SmsError::Rejected(format!("HTTP {status}")));
        }
        let answer: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
        let provider_message_id = self.message_id_pointer.as_deref().and_then(|p| answer.pointer(p)).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        Ok(Submitted { provider_message_id })
    }
}

/// Errors may carry the URL, which can hold a credential: keep only what went wrong.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_owned()
}

impl SmsGateway for HttpProvider {
    fn send<'a>(&'a self, sms: &'a OutgoingSms<'a>) -> BoxFuture<'a, Result<Submitted, SmsError>> {
        Box::pin(async move {
            let body = self.render(sms);
            let mut last = SmsError::Unavailable("not tried".into());
            for attempt in 0..=self.retries {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt - 1))).await;
                }
                match self.attempt(&body).await {
                    Ok(done) => return Ok(done),
                    Err(SmsError::Rejected(reason)) => return Err(SmsError::Rejected(reason)),
                    Err(e) => last = e,
                }
            }
            Err(last)
        })
    }
}
