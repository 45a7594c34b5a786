//! The telco's customer API: `GET {base_url}{path}` with the customer id, authenticated by a bearer
//! token, basic credentials or a client certificate; JSON pointers say where the number, its
//! verified flag and the time it last changed are.

use orderguard_domain::clock::Timestamp;
use std::time::Duration;

use serde_json::Value;

use super::client::ServiceClient;
use super::{BoxFuture, CustomerIdentity, CustomerRequest, IdentityConnector, IdentityError};
use crate::config::{ConfigError, RestAuth, RestConfig, resolve_secrets};

pub struct RestDirectory {
    base_url: String,
    path: String,
    auth: Credentials,
    phone_pointer: String,
    phone_verified_pointer: Option<String>,
    phone_changed_at_pointer: Option<String>,
    service: ServiceClient,
}

enum Credentials {
    None,
    Bearer(String),
    Basic(String, String),
}

impl RestDirectory {
    pub fn new(name: &str, config: &RestConfig) -> Result<Self, ConfigError> {
        let invalid = |what: String| ConfigError::Invalid(format!("identity.{name}: {what}"));
        let base_url = resolve_secrets(&config.base_url)?;
        reqwest::Url::parse(&base_url).map_err(|e| invalid(format!("base_url `{}`: {e}", config.base_url)))?;
        if !config.path.starts_with('/') || !config.path.contains("{id}") {
            return Err(invalid("path must start with / and contain {id}".into()));
        }
        for pointer in [
            Some(&config.phone_pointer),
            config.phone_verified_pointer.as_ref(),
            config.phone_changed_at_pointer.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if !pointer.starts_with('/') {
                return Err(invalid(format!("`{pointer}` is not a JSON pointer (they start with /)")));
            }
        }
        if !(100..=20_000).contains(&config.timeout_ms) || config.retries > 3 {
            return Err(invalid("timeout_ms must be 100 to 20000 and retries 0 to 3".into()));
        }
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|error| ConfigError::Read { path: path.to_owned(), error })
        };
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = &config.ca_certificate {
            let certificate = reqwest::Certificate::from_pem(&read(ca)?)
                .map_err(|e| invalid(format!("ca_certificate {}: {e}", ca.display())))?;
            builder = builder.add_root_certificate(certificate);
        }
        let auth = match &config.auth {
            RestAuth::None => Credentials::None,
            RestAuth::Bearer { token } => Credentials::Bearer(resolve_secrets(token.expose_secret())?),
            RestAuth::Basic { username, password } => {
                Credentials::Basic(resolve_secrets(username)?, resolve_secrets(password.expose_secret())?)
            }
            RestAuth::Mtls { certificate, key } => {
                let mut pem = read(certificate)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                let identity = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| invalid(format!("auth: the client certificate or key cannot be used: {e}")))?;
                builder = builder.identity(identity);
                Credentials::None
            }
        };
        let http = builder.build().map_err(|e| invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            path: config.path.clone(),
            auth,
            phone_pointer: config.phone_pointer.clone(),
            phone_verified_pointer: config.phone_verified_pointer.clone(),
            phone_changed_at_pointer: config.phone_changed_at_pointer.clone(),
            service: ServiceClient::new(http, config.retries),
        })
    }

    async fn identify(&self, customer: &CustomerRequest, now: Timestamp) -> Result<CustomerIdentity, IdentityError> {
        let CustomerRequest::Id(id) = customer else {
            return Err(IdentityError::WrongReference("this brand identifies customers by customer.id"));
        };
        let encoded: String = url_encode(id);
        let url = format!("{}{}", self.base_url, self.path.replace("{id}", &encoded));
        let answer = self
            .service
            .send(now, |http| {
                let request = http.get(&url);
                match &self.auth {
                    Credentials::None => request,
                    Credentials::Bearer(token) => request.bearer_auth(token),
                    Credentials::Basic(user, password) => request.basic_auth(user, Some(password)),
                }
            })
            .await?;
        match answer.status.as_u16() {
            200 if answer.json.is_object() => {}
            200 => {
                return Err(IdentityError::Unavailable("the customer service answered without a JSON object".into()));
            }
            // Gone, or an id the service cannot even read: not a customer it knows.
            400 | 404 | 410 => return Err(IdentityError::UnknownCustomer),
            401 | 403 => {
                return Err(IdentityError::Unavailable(format!(
                    "the customer service refused orderguard's credentials (HTTP {})",
                    answer.status
                )));
            }
            _ => {
                return Err(IdentityError::Unavailable(format!(
                    "the customer service answered HTTP {}",
                    answer.status
                )));
            }
        }
        let text = |pointer: &str| answer.json.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
        let phone = text(&self.phone_pointer).filter(|p| !p.trim().is_empty());
        // A service without a verified flag holds verified numbers only.
        let phone_verified = match &self.phone_verified_pointer {
            None => true,
            Some(pointer) => matches!(answer.json.pointer(pointer), Some(Value::Bool(true))),
        };
        let phone_changed_at =
            self.phone_changed_at_pointer.as_deref().and_then(text).and_then(|at| crate::clock::parse_rfc3339(&at));
        Ok(CustomerIdentity { customer_id: id.clone(), phone, phone_verified, phone_changed_at })
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3): an id is one path segment.
fn url_encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

impl IdentityConnector for RestDirectory {
    fn resolve<'a>(
        &'a self,
        customer: &'a CustomerRequest,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CustomerIdentity, IdentityError>> {
        Box::pin(self.identify(customer, now))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_one_path_segment() {
        assert_eq!(super::url_encode("100234"), "100234");
        assert_eq!(super::url_encode("a/../b c"), "a%2F..%2Fb%20c");
    }
}
