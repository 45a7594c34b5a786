//! Secrets named in configured values instead of written into them.

use std::path::PathBuf;

use super::ConfigError;

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
    fn secrets_from_environment() {
        // SAFETY: only this test reads this variable.
        unsafe { std::env::set_var("OG_TEST_SECRET", "s3cret") };
        assert_eq!(resolve_secrets("Bearer ${env:OG_TEST_SECRET}").unwrap(), "Bearer s3cret");
        assert!(resolve_secrets("${env:OG_TEST_MISSING}").is_err());
        assert!(resolve_secrets("${vault:x}").is_err());
    }
}
