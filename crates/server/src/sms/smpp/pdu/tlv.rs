//! Optional parameters (TLVs): kept as bytes on the wire, read where the client needs them.

use super::ShortMessage;

/// Optional parameter tags (SMPP v3.4 §5.3.2) the client reads.
pub mod tag {
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    pub const MESSAGE_STATE: u16 = 0x0427;
    pub const SC_INTERFACE_VERSION: u16 = 0x0210;
}

/// An optional parameter, kept as bytes so that unknown ones survive a round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    pub tag: u16,
    pub value: Vec<u8>,
}

impl Tlv {
    pub fn receipted_message_id(id: &str) -> Self {
        let mut value = id.as_bytes().to_vec();
        value.push(0);
        Self { tag: tag::RECEIPTED_MESSAGE_ID, value }
    }

    pub fn message_state(state: u8) -> Self {
        Self { tag: tag::MESSAGE_STATE, value: vec![state] }
    }
}

impl ShortMessage {
    pub fn tlv(&self, tag: u16) -> Option<&[u8]> {
        self.tlvs.iter().find(|t| t.tag == tag).map(|t| t.value.as_slice())
    }

    /// The SMSC's id of the message a receipt is about. Tolerates a missing NUL, as some SMSCs
    /// send one.
    pub fn receipted_message_id(&self) -> Option<String> {
        let value = self.tlv(tag::RECEIPTED_MESSAGE_ID)?;
        let id = value.split(|&b| b == 0).next().unwrap_or_default();
        Some(String::from_utf8_lossy(id).into_owned())
    }

    /// The raw `message_state` (1 enroute … 8 rejected, SMPP v3.4 §5.2.28).
    pub fn message_state(&self) -> Option<u8> {
        match self.tlv(tag::MESSAGE_STATE)? {
            [state] => Some(*state),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{receipt, submit};

    #[test]
    fn reads_receipt_tlvs() {
        let sm = receipt();
        assert_eq!(sm.receipted_message_id().as_deref(), Some("abc"));
        assert_eq!(sm.message_state(), Some(2));
        assert_eq!(submit().message_state(), None);
    }
}
