//! Mobile numbers, normalised to E.164 by the `phonenumber` library (libphonenumber's metadata).

use phonenumber::{Mode, PhoneNumber, country, metadata::DATABASE};

use crate::FieldError;

/// What kind of line a number is, as far as the numbering plan tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberType {
    Mobile,
    FixedLine,
    FixedLineOrMobile,
    Voip,
    TollFree,
    PremiumRate,
    SharedCost,
    Personal,
    Pager,
    Other,
    Unknown,
}

impl NumberType {
    pub const ALL: [NumberType; 11] = [
        Self::Mobile,
        Self::FixedLine,
        Self::FixedLineOrMobile,
        Self::Voip,
        Self::TollFree,
        Self::PremiumRate,
        Self::SharedCost,
        Self::Personal,
        Self::Pager,
        Self::Other,
        Self::Unknown,
    ];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mobile => "mobile",
            Self::FixedLine => "fixed_line",
            Self::FixedLineOrMobile => "fixed_line_or_mobile",
            Self::Voip => "voip",
            Self::TollFree => "toll_free",
            Self::PremiumRate => "premium_rate",
            Self::SharedCost => "shared_cost",
            Self::Personal => "personal",
            Self::Pager => "pager",
            Self::Other => "other",
            Self::Unknown => "unknown",
        }
    }

    /// Whether an SMS to this kind of number can reach a phone in a customer's hand.
    pub fn can_receive_sms(self) -> bool {
        matches!(self, Self::Mobile | Self::FixedLineOrMobile)
    }
}

/// A valid phone number in E.164 form (`+4915112345678`), with its region and line type.
#[derive(Clone, PartialEq, Eq)]
pub struct E164 {
    e164: String,
    region: Option<String>,
    number_type: NumberType,
    /// Digits of the country calling code (the hint shows them).
    country_code_digits: usize,
}

impl std::fmt::Debug for E164 {
    // Numbers are personal data: never print them in full, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "E164({})", self.hint())
    }
}

impl E164 {
    /// Parses a number written internationally (`+49 151 …`) or nationally for `default_region`.
    pub fn parse(input: &str, default_region: Option<&str>) -> Result<Self, FieldError> {
        let region = default_region.and_then(|r| r.parse::<country::Id>().ok());
        let number =
            phonenumber::parse(region, input).map_err(|_| FieldError::new("phone", "is not a phone number"))?;
        if !number.is_valid() {
            return Err(FieldError::new("phone", "is not a valid number in its numbering plan"));
        }
        Ok(Self::from_number(&number))
    }

    fn from_number(number: &PhoneNumber) -> Self {
        use phonenumber::Type;
        let number_type = match number.number_type(&DATABASE) {
            Type::Mobile => NumberType::Mobile,
            Type::FixedLine => NumberType::FixedLine,
            Type::FixedLineOrMobile => NumberType::FixedLineOrMobile,
            Type::Voip => NumberType::Voip,
            Type::TollFree => NumberType::TollFree,
            Type::PremiumRate => NumberType::PremiumRate,
            Type::SharedCost => NumberType::SharedCost,
            Type::PersonalNumber => NumberType::Personal,
            Type::Pager => NumberType::Pager,
            Type::Unknown => NumberType::Unknown,
            _ => NumberType::Other,
        };
        Self {
            e164: number.format().mode(Mode::E164).to_string(),
            region: number.country().id().map(|id| id.as_ref().to_owned()),
            number_type,
            country_code_digits: number.country().code().to_string().len(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// ISO 3166-1 alpha-2 region of the number, when the numbering plan tells.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    pub fn number_type(&self) -> NumberType {
        self.number_type
    }

    /// The masked form shown to shops and customers: `+49 *** ****89`.
    pub fn hint(&self) -> String {
        let digits = self.e164.trim_start_matches('+');
        let code_len = self.country_code_digits.min(digits.len());
        let (code, rest) = digits.split_at(code_len);
        let keep = rest.len().min(2);
        let (_, tail) = rest.split_at(rest.len() - keep);
        format!("+{code} *** ****{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_national_and_international_forms() {
        let a = E164::parse("+49 151 23456789", None).unwrap();
        let b = E164::parse("0151 23456789", Some("DE")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "+4915123456789");
        assert_eq!(a.region(), Some("DE"));
        assert_eq!(a.number_type(), NumberType::Mobile);
        assert_eq!(a.hint(), "+49 *** ****89");
        assert!(!format!("{a:?}").contains("23456789"));
    }

    #[test]
    fn classifies_premium_rate_and_rejects_garbage() {
        let premium = E164::parse("+49 900 1234567", None).unwrap();
        assert_eq!(premium.number_type(), NumberType::PremiumRate);
        assert!(E164::parse("hello", None).is_err());
        assert!(E164::parse("+49 1", None).is_err());
    }
}
