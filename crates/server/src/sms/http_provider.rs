use std::time::Duration;

use super::{OutgoingSms, SmsError, SmsGateway, Submitted};
use crate::config::{ConfigError, HttpBodyFormat, HttpProviderConfig, resolve_secrets};
use crate::identity::BoxFuture;

/// A generic HTTP SMS API: a JSON POST built from a template, with timeout and retries.
pub struct HttpProvider {
    client: reqwest::Client,
    url: String,
    headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    body: serde_json::Value,
    format: HttpBodyFormat,
    retries: u32,
    message_id_pointer: Option<String>,
    accepted: Option<(String, Vec<String>)>,
}

impl HttpProvider {
    pub fn new(name: &str, config: &HttpProviderConfig) -> Result<Self, ConfigError> {
        let invalid = |what: String| ConfigError::Invalid(format!("sms_providers.{name}: {what}"));
        if !(100..=20_000).contains(&config.timeout_ms) || config.retries > 5 {
            return Err(invalid("timeout_ms must be 100 to 20000 and retries 0 to 5".into()));
        }
        // A sender holds a message for a lease; the whole hand-off must end within it.
        let worst_case_ms = Self::worst_case_ms(config);
        let allowed_ms = crate::sms::queue::LONGEST_HAND_OFF_MS;
        if worst_case_ms > allowed_ms {
            return Err(invalid(format!(
                "timeout_ms × (retries + 1) plus back-off is {worst_case_ms} ms, more than the {allowed_ms} ms a \
                 sender holds a message: lower timeout_ms or retries"
            )));
        }
        let flat =
            config.body.expose_secret().as_object().is_some_and(|m| m.values().all(|v| v.is_string() || v.is_number()));
        if config.format == HttpBodyFormat::Form && !flat {
            return Err(invalid("with format = \"form\" the body must be a flat table of texts and numbers".into()));
        }
        if config.status_callback.is_some() && config.message_id_pointer.is_none() {
            return Err(invalid(
                "status_callback needs message_id_pointer: callbacks name messages by the provider's id".into(),
            ));
        }
        let url = resolve_secrets(&config.url)?;
        // The message names the configured URL, never the one with secrets filled in.
        reqwest::Url::parse(&url).map_err(|e| invalid(format!("url `{}`: {e}", config.url)))?;
        let headers = config
            .headers
            .iter()
            .map(|(key, value)| {
                let name = reqwest::header::HeaderName::from_bytes(key.as_bytes())
                    .map_err(|_| invalid(format!("`{key}` is not a header name")))?;
                let value = reqwest::header::HeaderValue::from_str(&resolve_secrets(value.expose_secret())?)
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
            body: resolve_body_secrets(config.body.expose_secret())?,
            format: config.format,
            retries: config.retries,
            message_id_pointer: config.message_id_pointer.clone(),
            accepted: config.accepted_pointer.clone().map(|pointer| (pointer, config.accepted_values.clone())),
        })
    }

    /// The longest one hand-off can take: every attempt timing out, plus the back-off between them.
    fn worst_case_ms(config: &HttpProviderConfig) -> i64 {
        let attempts = i64::from(config.retries) + 1;
        let backoff: i64 = (1..=i64::from(config.retries)).map(Self::backoff_ms).sum();
        i64::try_from(config.timeout_ms).unwrap_or(i64::MAX).saturating_mul(attempts).saturating_add(backoff)
    }

    fn backoff_ms(retry: i64) -> i64 {
        200 * (1 << (retry - 1).clamp(0, 10))
    }

    fn render(&self, sms: &OutgoingSms<'_>) -> serde_json::Value {
        // `text` or `unicode`: what aggregators such as Vonage call GSM-7 and UCS-2 messages.
        let encoding = match orderguard_domain::sms_text::encoding(sms.text) {
            orderguard_domain::sms_text::Encoding::Gsm7 => "text",
            orderguard_domain::sms_text::Encoding::Ucs2 => "unicode",
        };
        fn fill(value: &serde_json::Value, sms: &OutgoingSms<'_>, encoding: &str) -> serde_json::Value {
            match value {
                serde_json::Value::String(s) => serde_json::Value::String(
                    s.replace("{to_digits}", sms.to.trim_start_matches('+'))
                        .replace("{encoding}", encoding)
                        .replace("{to}", sms.to)
                        .replace("{text}", sms.text)
                        .replace("{sender}", sms.sender_id)
                        .replace("{id}", sms.message_id)
                        .replace("{brand}", sms.brand),
                ),
                serde_json::Value::Array(items) => items.iter().map(|v| fill(v, sms, encoding)).collect(),
                serde_json::Value::Object(map) => map
                    .iter()
                    .map(|(k, v)| (k.clone(), fill(v, sms, encoding)))
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
                other => other.clone(),
            }
        }
        fill(&self.body, sms, encoding)
    }

    async fn attempt(&self, body: &serde_json::Value) -> Result<Submitted, SmsError> {
        let mut request = match self.format {
            HttpBodyFormat::Json => self.client.post(&self.url).json(body),
            HttpBodyFormat::Form => self.client.post(&self.url).form(body),
        };
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
        let text_at = |pointer: &str| {
            answer.pointer(pointer).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        if let Some((pointer, values)) = &self.accepted {
            let said = text_at(pointer).unwrap_or_default();
            if !values.contains(&said) {
                return Err(SmsError::Rejected(format!("the provider answered `{said}` at {pointer}")));
            }
        }
        let provider_message_id = self.message_id_pointer.as_deref().and_then(text_at);
        Ok(Submitted { provider_message_id, kept: None })
    }
}

/// Secrets in the body's strings are filled in once, at start.
fn resolve_body_secrets(body: &serde_json::Value) -> Result<serde_json::Value, ConfigError> {
    Ok(match body {
        serde_json::Value::String(s) => serde_json::Value::String(resolve_secrets(s)?),
        serde_json::Value::Array(items) => items.iter().map(resolve_body_secrets).collect::<Result<_, _>>()?,
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), resolve_body_secrets(v)?)))
            .collect::<Result<serde_json::Map<_, _>, ConfigError>>()?
            .into(),
        other => other.clone(),
    })
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
                    let backoff = u64::try_from(Self::backoff_ms(i64::from(attempt))).unwrap_or(0);
                    tokio::time::sleep(Duration::from_millis(backoff)).await;
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
