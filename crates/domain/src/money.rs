use crate::FieldError;

/// An ISO 4217 currency code with its number of minor-unit digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// The ISO 4217 codes of money in circulation (no precious metals, funds or test codes, nor
/// currencies replaced: BGN by the euro in 2026, ANG by XCG in 2025).
/// The ISO 4217 currencies in circulation, in order.
pub const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD", "BIF", "BMD", "BND",
    "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE",
    "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD",
    "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY",
    "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD",
    "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO",
    "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF",
    "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED", "VES", "VND",
    "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

const ZERO_DECIMALS: &[&str] =
    &["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"];
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

impl Currency {
    /// A currency an order or a report names now: an ISO 4217 code in circulation.
    pub fn parse_iso(input: &str) -> Result<Self, FieldError> {
        let currency = Self::parse(input)?;
        if ISO_4217.binary_search(&input).is_err() {
            return Err(FieldError::new("currency", format!("`{input}` is not an ISO 4217 currency in circulation")));
        }
        Ok(currency)
    }

    /// Any three capitals: what was accepted once (stored orders, counters) stays readable when a
    /// currency leaves circulation.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let bytes = input.as_bytes();
        let [a, b, c] = bytes else {
            return Err(FieldError::new("currency", "must be a three-letter ISO 4217 code such as EUR"));
        };
        if !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(FieldError::new("currency", "must be a three-letter ISO 4217 code in capitals such as EUR"));
        }
        let exponent = if ZERO_DECIMALS.contains(&input) {
            0
        } else if THREE_DECIMALS.contains(&input) {
            3
        } else {
            2
        };
        Ok(Self { code: [*a, *b, *c], exponent })
    }

    pub fn code(&self) -> &str {
        // Built only from three ASCII capitals in `parse`.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

/// An amount in minor units of a currency (cents for EUR). Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    /// Parses a non-negative decimal string such as `"199.99"` with at most as many decimals as the
    /// currency has.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new(
                "amount",
                format!(
                    "must be a non-negative decimal string with at most {} decimals, such as \"{}\"",
                    currency.exponent,
                    Money { minor: 19999 * 10_i64.pow(u32::from(currency.exponent)) / 100, currency }.to_decimal()
                ),
            )
        };
        let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || whole.len() > 15
            || !digits_only(whole)
            || !digits_only(fraction)
            || fraction.len() > usize::from(currency.exponent)
            || (amount.contains('.') && fraction.is_empty())
        {
            return Err(invalid());
        }
        let scale = 10_i64.pow(u32::from(currency.exponent));
        let padded = format!("{fraction:0<width$}", width = usize::from(currency.exponent));
        let whole: i64 = whole.parse().map_err(|_| invalid())?;
        let fraction: i64 = if padded.is_empty() { 0 } else { padded.parse().map_err(|_| invalid())? };
        let minor = whole.checked_mul(scale).and_then(|w| w.checked_add(fraction)).ok_or_else(invalid)?;
        Ok(Self { minor, currency })
    }

    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// The amount as a decimal string with the currency's number of decimals: `"199.90"`.
    pub fn to_decimal(&self) -> String {
        let exponent = u32::from(self.currency.exponent);
        if exponent == 0 {
            return self.minor.to_string();
        }
        let scale = 10_i64.pow(exponent);
        format!("{}.{:0width$}", self.minor / scale, self.minor % scale, width = exponent as usize)
    }
}

/// Reference rates for setting sums in different currencies side by side (the market comparison
/// of brands that sell in different currencies): each currency's value in one base currency of the
/// operator's choice. For comparisons only; no amount an order is charged is ever converted.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeRates {
    base: Currency,
    rates: Vec<(Currency, f64)>,
}

impl Default for ExchangeRates {
    fn default() -> Self {
        Self { base: Currency { code: *b"EUR", exponent: 2 }, rates: Vec::new() }
    }
}

impl ExchangeRates {
    /// `base` and `(code, value of one unit in base)` pairs: ISO 4217 codes in circulation,
    /// positive values.
    pub fn parse<'a>(base: &str, rates: impl IntoIterator<Item = (&'a str, f64)>) -> Result<Self, FieldError> {
        let base = Currency::parse_iso(base)?;
        let mut parsed = Vec::new();
        for (code, value) in rates {
            let currency = Currency::parse_iso(code).map_err(|e| FieldError::new("exchange_rates", e.reason))?;
            if !(value.is_finite() && value > 0.0) {
                return Err(FieldError::new("exchange_rates", format!("{code}: must be a positive number")));
            }
            parsed.push((currency, value));
        }
        Ok(Self { base, rates: parsed })
    }

    pub fn base(&self) -> Currency {
        self.base
    }

    /// `money` in whole units of the base currency (fractions kept); `None` without a rate.
    pub fn to_base(&self, money: Money) -> Option<f64> {
        let units = money.minor as f64 / 10_f64.powi(i32::from(money.currency.exponent));
        if money.currency == self.base {
            return Some(units);
        }
        Some(units * self.rates.iter().find(|(c, _)| *c == money.currency)?.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_into_the_base_currency() {
        let rates = ExchangeRates::parse("EUR", [("GBP", 1.2)]).unwrap();
        let (gbp, nok) = (Currency::parse("GBP").unwrap(), Currency::parse("NOK").unwrap());
        assert_eq!(rates.to_base(Money::from_minor(10_000, gbp)), Some(120.0));
        assert_eq!(rates.to_base(Money::from_minor(1_250, eur())), Some(12.5), "the base needs no rate");
        assert_eq!(rates.to_base(Money::from_minor(500, nok)), None);
        assert_eq!(ExchangeRates::default().base(), eur());
        assert!(ExchangeRates::parse("EUR", [("GBP", 0.0)]).is_err());
        assert!(ExchangeRates::parse("EUR", [("XAU", 1.0)]).is_err());
        assert!(ExchangeRates::parse("euro", []).is_err());
    }

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    #[test]
    fn parses_decimal_strings_exactly() {
        assert_eq!(Money::parse("199.99", eur()).unwrap().minor, 19999);
        assert_eq!(Money::parse("5", eur()).unwrap().minor, 500);
        assert_eq!(Money::parse("0.5", eur()).unwrap().to_decimal(), "0.50");
        assert_eq!(Money::parse("1200", Currency::parse("JPY").unwrap()).unwrap().to_decimal(), "1200");
        assert_eq!(Money::parse("1.234", Currency::parse("KWD").unwrap()).unwrap().minor, 1234);
    }

    #[test]
    fn rejects_what_is_not_an_amount() {
        for bad in ["", "-1", "1.999", "1e3", "1,50", " 1", "1.", ".5", "99999999999999999"] {
            assert!(Money::parse(bad, eur()).is_err(), "{bad}");
        }
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse_iso("ABC").is_err(), "three capitals are not yet a currency");
        assert!(Currency::parse_iso("XAU").is_err(), "gold is not money an order is paid in");
        assert!(Currency::parse_iso("BGN").is_err(), "the lev gave way to the euro");
        assert_eq!(Currency::parse("BGN").map(|c| c.exponent()), Ok(2), "a stored order in lev stays readable");
        assert!(Currency::parse_iso("EUR").is_ok() && Currency::parse_iso("XCG").is_ok());
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]), "sorted, for the binary search");
        assert!(ZERO_DECIMALS.iter().chain(THREE_DECIMALS).all(|c| ISO_4217.contains(c)));
        assert!(Currency::parse("EURO").is_err());
    }
}
