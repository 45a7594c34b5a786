use crate::FieldError;

/// A brand's slug: lower-case letters, digits and dashes, 2 to 40 characters, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrandSlug(String);

impl BrandSlug {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let valid_chars = input.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let starts_with_letter = input.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if !(2..=40).contains(&input.len()) || !valid_chars || !starts_with_letter {
            return Err(FieldError::new(
                "slug",
                "must be 2 to 40 characters of a-z, 0-9 and '-', starting with a letter",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BrandSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A shop domain (host name) such as `shop.example.com`, lower-cased.
pub fn parse_domain(input: &str) -> Result<String, FieldError> {
    let domain = input.trim().to_ascii_lowercase();
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if domain.len() > 253 || !domain.split('.').all(label_ok) {
        return Err(FieldError::new("shop_domains", format!("`{input}` is not a host name")));
    }
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(BrandSlug::parse("telco-one").is_ok());
        assert!(BrandSlug::parse("1telco").is_err());
        assert!(BrandSlug::parse("Telco").is_err());
        assert!(BrandSlug::parse("t").is_err());
    }

    #[test]
    fn domains() {
        assert_eq!(parse_domain("Shop.Example.COM").unwrap(), "shop.example.com");
        assert!(parse_domain("shop..example").is_err());
        assert!(parse_domain("shop/example").is_err());
    }
}
