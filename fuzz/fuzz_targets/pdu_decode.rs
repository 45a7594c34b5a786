//! Bytes from an SMSC: framing and decoding never panic, and what decodes survives encode.

#![no_main]

use libfuzzer_sys::fuzz_target;
use orderguard::sms::smpp::pdu::{self, Body, Pdu};

fuzz_target!(|data: &[u8]| {
    // The session calls frame_length on every partial read, so it sees any prefix of a stream.
    let framed = pdu::frame_length(data);
    let Ok(decoded) = pdu::decode(data) else { return };
    // decode takes exactly one whole PDU, so the framing must have said so.
    assert_eq!(framed, Ok(Some(data.len())));
    let encoded = pdu::encode(&decoded);
    assert_eq!(pdu::frame_length(&encoded), Ok(Some(encoded.len())));
    let again = pdu::decode(&encoded).expect("an encoded PDU decodes");
    assert_eq!(again, as_encoded(decoded));
});

/// A decoded PDU as encode writes it. Bytes need not match (an error response's empty body may be
/// sent or left out), but the PDU must, except for one cut encode makes on purpose: a bind
/// response's system_id is read up to 64 octets, as SMSCs send longer ids than v3.4 allows, but
/// written with the spec's 15.
fn as_encoded(mut pdu: Pdu) -> Pdu {
    if let Body::BindTransmitterResp(resp) | Body::BindReceiverResp(resp) | Body::BindTransceiverResp(resp) =
        &mut pdu.body
    {
        // Decoded C-octet strings are ASCII, so any byte index is a char boundary.
        resp.system_id.truncate(15);
    }
    pdu
}
