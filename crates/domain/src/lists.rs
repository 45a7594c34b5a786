//! Allow and block lists: what an entry names, and the keys a verification is looked up by.
//! A block-list match refuses the verification before anything else; an allow-list match skips
//! the scored rules, never the hard limits or the block list (which wins where both match).

use std::net::IpAddr;

use crate::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListName {
    Allow,
    Block,
}

impl ListName {
    pub const ALL: [ListName; 2] = [Self::Allow, Self::Block];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Block => "block",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == value)
    }
}

/// What an entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// One number, kept as its keyed hash.
    Number,
    /// One customer of the brand, kept as its pseudonym.
    Customer,
    /// One device id of the shop, kept as its keyed reference.
    Device,
    /// Client addresses in a CIDR range (`198.51.100.0/24`, `2001:db8::/32`).
    IpRange,
    /// Numbers starting with an E.164 prefix (`+4990`).
    NumberPrefix,
}

impl ListKind {
    pub const ALL: [ListKind; 5] = [Self::Number, Self::Customer, Self::Device, Self::IpRange, Self::NumberPrefix];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Customer => "customer",
            Self::Device => "device",
            Self::IpRange => "ip_range",
            Self::NumberPrefix => "number_prefix",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }
}

/// A CIDR range with its host bits cleared, as entries store it.
pub fn parse_cidr(text: &str) -> Result<String, FieldError> {
    let invalid = || FieldError::new("ip_range", "must be a CIDR range such as 198.51.100.0/24 or 2001:db8::/32");
    let (address, length) = text.trim().split_once('/').ok_or_else(invalid)?;
    let address: IpAddr = address.parse().map_err(|_| invalid())?;
    let length: u8 = length.parse().map_err(|_| invalid())?;
    let most = if address.is_ipv4() { 32 } else { 128 };
    if length > most {
        return Err(invalid());
    }
    Ok(network(address, length))
}

fn network(address: IpAddr, length: u8) -> String {
    match address {
        IpAddr::V4(v4) => {
            let mask = if length == 0 { 0 } else { u32::MAX << (32 - u32::from(length)) };
            format!("{}/{length}", std::net::Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = if length == 0 { 0 } else { u128::MAX << (128 - u32::from(length)) };
            format!("{}/{length}", std::net::Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// Every range an address lies in, as entries store them: one lookup finds any entry for it.
pub fn networks_of(address: IpAddr) -> Vec<String> {
    let most = if address.is_ipv4() { 32 } else { 128 };
    (0..=most).map(|length| network(address, length)).collect()
}

/// An E.164 prefix as entries store it: `+` and 1 to 15 digits.
pub fn parse_number_prefix(text: &str) -> Result<String, FieldError> {
    let text = text.trim();
    let digits = text.strip_prefix('+').unwrap_or_default();
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new("number_prefix", "must be + and 1 to 15 digits, such as +4990"));
    }
    Ok(text.to_owned())
}

/// Every prefix of an E.164 number that an entry could name (the number itself included).
pub fn prefixes_of(e164: &str) -> Vec<String> {
    (2..=e164.len()).filter_map(|end| e164.get(..end)).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_normalised_and_found_by_each_address() {
        assert_eq!(parse_cidr("198.51.100.77/24").unwrap(), "198.51.100.0/24");
        assert_eq!(parse_cidr("2001:db8:1::5/32").unwrap(), "2001:db8::/32");
        assert!(parse_cidr("198.51.100.0/33").is_err() && parse_cidr("nonsense").is_err());
        let address: IpAddr = "198.51.100.23".parse().unwrap();
        assert!(networks_of(address).contains(&"198.51.100.0/24".to_owned()));
        assert!(networks_of(address).contains(&"0.0.0.0/0".to_owned()));
        assert_eq!(networks_of("2001:db8::1".parse().unwrap()).len(), 129);
    }

    #[test]
    fn prefixes_cover_the_number() {
        assert_eq!(prefixes_of("+4990"), vec!["+4", "+49", "+499", "+4990"]);
        assert_eq!(parse_number_prefix("+4990").unwrap(), "+4990");
        assert!(parse_number_prefix("4990").is_err() && parse_number_prefix("+49a").is_err());
    }
}
