//! Delivery status callbacks of HTTP providers: who may call (a shared secret) and how the
//! provider's fields and status words map to delivered or failed.

use serde_json::Value;

use super::delivery::Delivery;
use crate::config::{ConfigError, StatusCallbackConfig, resolve_secrets};

pub struct StatusCallback {
    token: String,
    message_id_field: String,
    status_field: String,
    error_field: Option<String>,
    delivered: Vec<String>,
    failed: Vec<String>,
}

/// What one callback says.
#[derive(Debug, PartialEq, Eq)]
pub enum CallbackReport {
    Final {
        provider_message_id: String,
        delivery: Delivery,
        status: String,
        error_code: Option<String>,
    },
    /// Not final yet (`accepted`, `buffered`, …): nothing to record.
    Interim {
        status: String,
    },
}

impl StatusCallback {
    pub fn new(provider: &str, config: &StatusCallbackConfig) -> Result<Self, ConfigError> {
        let token = resolve_secrets(config.token.expose_secret())?;
        if token.chars().count() < 16 {
            return Err(ConfigError::Invalid(format!(
                "sms_providers.{provider}.status_callback.token must be at least 16 characters"
            )));
        }
        if config.delivered.is_empty() || config.failed.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "sms_providers.{provider}.status_callback needs `delivered` and `failed` status values"
            )));
        }
        Ok(Self {
            token,
            message_id_field: config.message_id_field.clone(),
            status_field: config.status_field.clone(),
            error_field: config.error_field.clone(),
            delivered: config.delivered.iter().map(|s| s.to_lowercase()).collect(),
            failed: config.failed.iter().map(|s| s.to_lowercase()).collect(),
        })
    }

    /// Compares in constant time, so that the secret cannot be guessed byte by byte.
    pub fn accepts_token(&self, presented: &str) -> bool {
        crate::crypto::constant_time_eq(presented.as_bytes(), self.token.as_bytes())
    }

    /// Reads a callback whose fields are a JSON object (form and query fields become strings).
    pub fn read(&self, fields: &Value) -> Result<CallbackReport, String> {
        let status = field(fields, &self.status_field)
            .ok_or_else(|| format!("the callback has no `{}` field", self.status_field))?;
        let word = status.to_lowercase();
        let delivery = if self.delivered.contains(&word) {
            Delivery::Delivered
        } else if self.failed.contains(&word) {
            Delivery::Failed
        } else {
            return Ok(CallbackReport::Interim { status });
        };
        let provider_message_id = field(fields, &self.message_id_field)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| format!("the callback has no `{}` field", self.message_id_field))?;
        let error_code = self.error_field.as_deref().and_then(|f| field(fields, f));
        Ok(CallbackReport::Final { provider_message_id, delivery, status: word, error_code })
    }
}

/// A top-level field by name, or any field by JSON pointer; numbers read as their digits.
fn field(fields: &Value, name: &str) -> Option<String> {
    let value = if name.starts_with('/') { fields.pointer(name) } else { fields.get(name) }?;
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn callback() -> StatusCallback {
        StatusCallback::new(
            "vonage",
            &StatusCallbackConfig {
                token: "0123456789abcdef".into(),
                message_id_field: "messageId".into(),
                status_field: "status".into(),
                error_field: Some("err-code".into()),
                delivered: vec!["delivered".into()],
                failed: vec!["failed".into(), "rejected".into(), "expired".into()],
            },
        )
        .unwrap()
    }

    #[test]
    fn maps_final_and_interim_statuses() {
        let c = callback();
        assert_eq!(
            c.read(&json!({ "messageId": "abc", "status": "DELIVERED", "err-code": "0" })).unwrap(),
            CallbackReport::Final {
                provider_message_id: "abc".into(),
                delivery: Delivery::Delivered,
                status: "delivered".into(),
                error_code: Some("0".into()),
            }
        );
        assert!(matches!(
            c.read(&json!({ "messageId": "abc", "status": "rejected", "err-code": 6 })).unwrap(),
            CallbackReport::Final { delivery: Delivery::Failed, error_code: Some(code), .. } if code == "6"
        ));
        assert_eq!(
            c.read(&json!({ "status": "buffered" })).unwrap(),
            CallbackReport::Interim { status: "buffered".into() }
        );
        assert!(c.read(&json!({ "status": "delivered" })).unwrap_err().contains("messageId"));
        assert!(c.read(&json!({ "messageId": "abc" })).unwrap_err().contains("status"));
    }

    #[test]
    fn tokens_must_be_long_and_match_exactly() {
        let c = callback();
        assert!(c.accepts_token("0123456789abcdef"));
        assert!(!c.accepts_token("0123456789abcdeF"));
        assert!(!c.accepts_token(""));
        let mut short = StatusCallbackConfig {
            token: "short".into(),
            message_id_field: "id".into(),
            status_field: "s".into(),
            error_field: None,
            delivered: vec!["ok".into()],
            failed: vec!["no".into()],
        };
        assert!(StatusCallback::new("x", &short).is_err());
        short.token = "0123456789abcdef".into();
        short.failed.clear();
        assert!(StatusCallback::new("x", &short).is_err());
    }
}
