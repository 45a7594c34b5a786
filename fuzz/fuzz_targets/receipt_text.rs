//! Delivery receipts: the free-form text any SMSC may send, and whole deliver_sm PDUs.

#![no_main]

use libfuzzer_sys::fuzz_target;
use orderguard::sms::smpp::pdu::{self, Body, ShortMessage};
use orderguard::sms::smpp::receipt;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(r) = receipt::parse_text(text) {
            // Values are single words: never empty, never with the separator in them.
            assert!(!r.message_id.is_empty() && !r.message_id.contains(char::is_whitespace));
            assert!(r.error_code.is_none_or(|e| !e.is_empty() && !e.contains(char::is_whitespace)));
        }
    }

    // Without TLVs a receipt is its text alone, so both readers must agree.
    let sm = ShortMessage { short_message: data.to_vec(), ..ShortMessage::default() };
    assert_eq!(receipt::parse_receipt(&sm), receipt::parse_text(&String::from_utf8_lossy(data)));

    // As a deliver_sm: command_length is set to the input's length, so that mutations which grow or
    // shrink the body still reach the body (and its TLVs) instead of failing the length check.
    let mut bytes = data.to_vec();
    if let (Some(prefix), Ok(len)) = (bytes.get_mut(..4), u32::try_from(data.len())) {
        prefix.copy_from_slice(&len.to_be_bytes());
    }
    if let Ok(pdu::Pdu { body: Body::DeliverSm(sm), .. }) = pdu::decode(&bytes) {
        let _ = receipt::parse_receipt(&sm);
    }
});
