//! Outgoing text: encoding and splitting into concatenated parts, for any string.

#![no_main]

use libfuzzer_sys::fuzz_target;
use orderguard::sms::smpp::encoding::{self, DATA_CODING_GSM7, DATA_CODING_UCS2, EncodingError};

const ESCAPE: u8 = 0x1B;

fuzz_target!(|input: (u8, u8, &str)| {
    let (reference, data_coding, text) = input;
    let (coding, bytes) = encoding::encode_text(text);
    let parts = check(coding, &bytes, reference);
    // Parts of an encoded text must each display on their own: no GSM-7 escape or UTF-16
    // surrogate pair is cut between two parts.
    for payload in parts.iter().map(|p| payload(p, parts.len())) {
        match coding {
            DATA_CODING_GSM7 => assert_ne!(payload.last(), Some(&ESCAPE), "part ends inside an escape pair"),
            DATA_CODING_UCS2 => {
                assert!(payload.len() % 2 == 0, "part cuts a UTF-16 unit");
                let units: Vec<u16> = payload.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                assert!(String::from_utf16(&units).is_ok(), "part cuts a surrogate pair");
            }
            other => panic!("encode_text chose data_coding {other}"),
        }
    }
    // Also bytes that no encoder made, under any data_coding: the split must still hold.
    check(data_coding, text.as_bytes(), reference);
});

/// Splits and checks what holds for any input; gives the parts (empty when there are too many).
fn check(data_coding: u8, bytes: &[u8], reference: u8) -> Vec<Vec<u8>> {
    let parts = match encoding::split_concatenated(data_coding, bytes, reference) {
        Ok(parts) => parts,
        Err(EncodingError::TooManyParts(n)) => {
            assert!(n > 255);
            return Vec::new();
        }
    };
    let total = parts.len();
    assert!(total >= 1);
    if total == 1 {
        assert_eq!(parts[0], bytes, "a single SMS is the text itself, without header");
    }
    for (i, part) in parts.iter().enumerate() {
        if total > 1 {
            let header = [0x05, 0x00, 0x03, reference, total as u8, i as u8 + 1];
            assert_eq!(part.get(..6), Some(&header[..]), "part {} of {total}", i + 1);
            assert!(part.len() > 6, "empty part");
        }
        assert!(air_octets(data_coding, part, total > 1) <= 140, "part of {} octets", part.len());
    }
    // Nothing lost or duplicated.
    let joined: Vec<u8> = parts.iter().flat_map(|p| payload(p, total)).copied().collect();
    assert_eq!(joined, bytes);
    parts
}

fn payload(part: &[u8], total: usize) -> &[u8] {
    if total > 1 { &part[6..] } else { part }
}

/// The part's size over the air. GSM-7 goes to the SMSC unpacked, one septet per octet, and is
/// packed 8 septets into 7 octets on the air; the 6-octet header then takes 7 septets (with its
/// fill bits). So a GSM-7 part's 140-octet limit is 160 septets, header included.
fn air_octets(data_coding: u8, part: &[u8], has_header: bool) -> usize {
    if data_coding != DATA_CODING_GSM7 {
        return part.len();
    }
    let septets = if has_header { 7 + part.len() - 6 } else { part.len() };
    (septets * 7).div_ceil(8)
}
