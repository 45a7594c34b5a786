//! Delivery receipts: which message a deliver_sm reports on, and what became of it.
//!
//! SMSCs that speak v3.4 fully send the `receipted_message_id` and `message_state` TLVs; many others
//! only the informal text of SMPP v3.4 Appendix B (`id:… stat:… err:…`). Both are read, TLVs first.

use super::pdu::ShortMessage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    /// Not final: the SMSC is still trying.
    Enroute,
    Delivered,
    Expired,
    Deleted,
    Undeliverable,
    Accepted,
    Unknown,
    Rejected,
}

impl MessageState {
    /// From the `message_state` TLV (SMPP v3.4 §5.2.28).
    pub fn from_tlv(value: u8) -> Option<Self> {
        Some(match value {
            1 => Self::Enroute,
            2 => Self::Delivered,
            3 => Self::Expired,
            4 => Self::Deleted,
            5 => Self::Undeliverable,
            6 => Self::Accepted,
            7 => Self::Unknown,
            8 => Self::Rejected,
            _ => return None,
        })
    }

    /// From the receipt text's `stat:` (SMPP v3.4 Appendix B); states no SMSC should send read as
    /// `Unknown`.
    pub fn from_text(stat: &str) -> Self {
        match stat.to_ascii_uppercase().as_str() {
            "ENROUTE" => Self::Enroute,
            "DELIVRD" => Self::Delivered,
            "EXPIRED" => Self::Expired,
            "DELETED" => Self::Deleted,
            "UNDELIV" => Self::Undeliverable,
            "ACCEPTD" => Self::Accepted,
            "REJECTD" => Self::Rejected,
            _ => Self::Unknown,
        }
    }

    /// Whether the SMSC will report nothing further on the message.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Enroute | Self::Accepted)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The id the SMSC gave in submit_sm_resp.
    pub message_id: String,
    pub state: MessageState,
    /// The text's `err:`, network- or SMSC-specific; `None` when absent.
    pub error_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("the receipt names no message id")]
    NoMessageId,
    #[error("the receipt has no state")]
    NoState,
}

/// Reads the receipt carried by a deliver_sm (one whose esm_class says it is a receipt). Each of
/// the id and the state comes from its TLV when present, else from the text.
pub fn parse_receipt(sm: &ShortMessage) -> Result<Receipt, ReceiptError> {
    let text = String::from_utf8_lossy(&sm.short_message);
    let fields = TextFields::parse(&text);
    let message_id =
        sm.receipted_message_id().filter(|id| !id.is_empty()).or(fields.message_id).ok_or(ReceiptError::NoMessageId)?;
    let state = sm.message_state().and_then(MessageState::from_tlv).or(fields.state).ok_or(ReceiptError::NoState)?;
    Ok(Receipt { message_id, state, error_code: fields.error_code })
}

/// Reads `id:IIII sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD
/// err:E text:…`. Keys are matched without regard to case and only `id` and `stat` are required,
/// as SMSCs differ in the rest.
pub fn parse_text(text: &str) -> Result<Receipt, ReceiptError> {
    let fields = TextFields::parse(text);
    Ok(Receipt {
        message_id: fields.message_id.ok_or(ReceiptError::NoMessageId)?,
        state: fields.state.ok_or(ReceiptError::NoState)?,
        error_code: fields.error_code,
    })
}

struct TextFields {
    message_id: Option<String>,
    state: Option<MessageState>,
    error_code: Option<String>,
}

impl TextFields {
    fn parse(text: &str) -> Self {
        // The free text at the end may contain anything, including words that look like keys.
        let lower = text.to_ascii_lowercase();
        let fields_end = find_key(&lower, "text:").unwrap_or(text.len());
        let fields = text.get(..fields_end).unwrap_or(text);
        let lower_fields = lower.get(..fields_end).unwrap_or(&lower);
        let value = |key: &str| {
            let start = find_key(lower_fields, key)? + key.len();
            let rest = fields.get(start..)?;
            // An empty value is followed directly by the space before the next key.
            let value = if rest.starts_with(char::is_whitespace) { "" } else { rest.split_whitespace().next()? };
            Some(value).filter(|value| !value.is_empty())
        };
        Self {
            message_id: value("id:").map(str::to_owned),
            state: value("stat:").map(MessageState::from_text),
            error_code: value("err:").map(str::to_owned),
        }
    }
}

/// Where `key` starts as a whole key: at the beginning or after whitespace (so `id:` is not found
/// inside `msgid:`).
fn find_key(haystack: &str, key: &str) -> Option<usize> {
    haystack.match_indices(key).map(|(at, _)| at).find(|&at| {
        at == 0 || haystack.get(..at).and_then(|before| before.chars().next_back()).is_some_and(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::smpp::pdu::Tlv;

    const TEXT: &str = "id:0A1B2C sub:001 dlvrd:001 submit date:2611241950 done date:2611241951 stat:DELIVRD err:000 text:Your code 123456";

    fn receipt_sm(text: &str, tlvs: Vec<Tlv>) -> ShortMessage {
        ShortMessage { esm_class: 0x04, short_message: text.as_bytes().to_vec(), tlvs, ..ShortMessage::default() }
    }

    #[test]
    fn reads_the_text_form() {
        let receipt = parse_receipt(&receipt_sm(TEXT, Vec::new())).unwrap();
        assert_eq!(
            receipt,
            Receipt { message_id: "0A1B2C".into(), state: MessageState::Delivered, error_code: Some("000".into()) }
        );
        let receipt = parse_text(
            "ID:77 SUB:001 DLVRD:000 SUBMIT DATE:2611241950 DONE DATE:2611241951 STAT:UNDELIV ERR:034 TEXT:",
        )
        .unwrap();
        assert_eq!(
            receipt,
            Receipt { message_id: "77".into(), state: MessageState::Undeliverable, error_code: Some("034".into()) }
        );
        for (stat, state) in [
            ("EXPIRED", MessageState::Expired),
            ("DELETED", MessageState::Deleted),
            ("ACCEPTD", MessageState::Accepted),
            ("UNKNOWN", MessageState::Unknown),
            ("REJECTD", MessageState::Rejected),
            ("ENROUTE", MessageState::Enroute),
            ("WHATEVER", MessageState::Unknown),
        ] {
            assert_eq!(parse_text(&format!("id:1 stat:{stat}")).unwrap().state, state);
        }
    }

    #[test]
    fn free_text_cannot_fake_fields() {
        let receipt = parse_text("id:9 stat:REJECTD err: text:id:1 stat:DELIVRD err:000").unwrap();
        assert_eq!(receipt, Receipt { message_id: "9".into(), state: MessageState::Rejected, error_code: None });
        assert_eq!(parse_text("msgid:5 stat:DELIVRD"), Err(ReceiptError::NoMessageId));
    }

    #[test]
    fn tlvs_win_over_the_text() {
        let sm = receipt_sm(TEXT, vec![Tlv::receipted_message_id("abc"), Tlv::message_state(5)]);
        let receipt = parse_receipt(&sm).unwrap();
        assert_eq!(
            receipt,
            Receipt { message_id: "abc".into(), state: MessageState::Undeliverable, error_code: Some("000".into()) }
        );
        let only_tlvs = receipt_sm("", vec![Tlv::receipted_message_id("abc"), Tlv::message_state(8)]);
        assert_eq!(
            parse_receipt(&only_tlvs).unwrap(),
            Receipt { message_id: "abc".into(), state: MessageState::Rejected, error_code: None }
        );
        // A state outside the spec's range falls back to the text.
        let odd_state = receipt_sm(TEXT, vec![Tlv::message_state(99)]);
        assert_eq!(parse_receipt(&odd_state).unwrap().state, MessageState::Delivered);
    }

    #[test]
    fn incomplete_receipts_are_errors() {
        assert_eq!(parse_receipt(&receipt_sm("", Vec::new())), Err(ReceiptError::NoMessageId));
        assert_eq!(parse_receipt(&receipt_sm("id: stat:DELIVRD", Vec::new())), Err(ReceiptError::NoMessageId));
        assert_eq!(parse_receipt(&receipt_sm("id:1 stat:", Vec::new())), Err(ReceiptError::NoState));
        let id_only = receipt_sm("", vec![Tlv::receipted_message_id("abc")]);
        assert_eq!(parse_receipt(&id_only), Err(ReceiptError::NoState));
        assert!(MessageState::Delivered.is_final());
        assert!(!MessageState::Enroute.is_final());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed: u32 = 12345;
        for _ in 0..10_000 {
            let mut bytes = TEXT.as_bytes().to_vec();
            for _ in 0..4 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let at = (seed as usize >> 8) % bytes.len().max(1);
                if seed.is_multiple_of(3) {
                    bytes.truncate(at);
                } else if let Some(b) = bytes.get_mut(at) {
                    *b = (seed >> 16) as u8;
                }
            }
            let _ = parse_receipt(&receipt_sm(&String::from_utf8_lossy(&bytes), Vec::new()));
        }
    }
}
