//! Configured secrets: kept out of `Debug` output, and named in configured values (`${env:…}`,
//! `${file:…}`) instead of written into them.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

/// A configured secret (a password, token, API key or a body that may hold one). Its `Debug`
/// prints a placeholder and it has no `Serialize`, so that printing or storing a configuration
/// cannot carry it along; `expose_secret` is the one way to the value.
///
/// A newtype instead of the `secrecy` crate: `secrecy` requires `Zeroize`, which the HTTP body
/// (a `serde_json::Value`) lacks, and wiping the configured copy on drop would promise little, as
/// the resolved values live on in the providers (header values, the SMPP bind) while the server
/// runs.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn expose_secret(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Replaces `${env:NAME}` and `${file:PATH}` in a configured value by the secret they name.
pub fn resolve_secrets(value: &str) -> Result<String, ConfigError> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        let Some(end) = after.find('}') else {
            return Err(ConfigError::Invalid(format!("unclosed `${{` in `{value}`")));
        };
        let reference = after.get(..end).unwrap_or_default();
        let secret = if let Some(name) = reference.strip_prefix("env:") {
            std::env::var(name).map_err(|_| ConfigError::Invalid(format!("environment variable {name} is not set")))?
        } else if let Some(path) = reference.strip_prefix("file:") {
            std::fs::read_to_string(path)
                .map_err(|error| ConfigError::Read { path: PathBuf::from(path), error })?
                .trim_end()
                .to_owned()
        } else {
            return Err(ConfigError::Invalid(format!("`${{{reference}}}`: use ${{env:NAME}} or ${{file:PATH}}")));
        };
        out.push_str(&secret);
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_no_secret() {
        let secret: Secret<String> = "hunter22".into();
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some([redacted])");
        assert_eq!(secret.expose_secret(), "hunter22");
    }

    #[test]
    fn secrets_from_environment() {
        // SAFETY: only this test reads this variable.
        unsafe { std::env::set_var("OG_TEST_SECRET", "s3cret") };
        assert_eq!(resolve_secrets("Bearer ${env:OG_TEST_SECRET}").unwrap(), "Bearer s3cret");
        assert!(resolve_secrets("${env:OG_TEST_MISSING}").is_err());
        assert!(resolve_secrets("${vault:x}").is_err());
    }
}
