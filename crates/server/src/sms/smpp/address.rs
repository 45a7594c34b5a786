//! Source and destination addresses with the type of number (TON) and numbering plan (NPI) that
//! SMSCs expect for each kind of sender id (SMPP v3.4 §5.2.5, §5.2.6).

/// TON: international number, written without `+`.
pub const TON_INTERNATIONAL: u8 = 0x01;
/// TON: a number the SMSC reads as it stands (short codes).
pub const TON_UNKNOWN: u8 = 0x00;
/// TON: letters and digits, shown as the sender's name.
pub const TON_ALPHANUMERIC: u8 = 0x05;
/// NPI: ISDN/telephone numbering plan (E.164).
pub const NPI_ISDN: u8 = 0x01;
/// NPI: none, for alphanumeric senders.
pub const NPI_UNKNOWN: u8 = 0x00;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub ton: u8,
    pub npi: u8,
    pub value: String,
}

/// The brand's sender id: `+4915…` is international, digits alone a short code, anything else
/// alphanumeric.
pub fn source(sender_id: &str) -> Address {
    if let Some(digits) = sender_id.strip_prefix('+') {
        return Address { ton: TON_INTERNATIONAL, npi: NPI_ISDN, value: digits.to_owned() };
    }
    if !sender_id.is_empty() && sender_id.bytes().all(|b| b.is_ascii_digit()) {
        return Address { ton: TON_UNKNOWN, npi: NPI_ISDN, value: sender_id.to_owned() };
    }
    Address { ton: TON_ALPHANUMERIC, npi: NPI_UNKNOWN, value: sender_id.to_owned() }
}

/// A customer's E.164 number.
pub fn destination(e164: &str) -> Address {
    Address { ton: TON_INTERNATIONAL, npi: NPI_ISDN, value: e164.trim_start_matches('+').to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_sender_gets_its_ton_and_npi() {
        assert_eq!(source("Nordtel"), Address { ton: 5, npi: 0, value: "Nordtel".into() });
        assert_eq!(source("+4915112345678"), Address { ton: 1, npi: 1, value: "4915112345678".into() });
        assert_eq!(source("82345"), Address { ton: 0, npi: 1, value: "82345".into() });
        assert_eq!(source("Shop 24"), Address { ton: 5, npi: 0, value: "Shop 24".into() });
        assert_eq!(destination("+447700900123"), Address { ton: 1, npi: 1, value: "447700900123".into() });
    }
}
