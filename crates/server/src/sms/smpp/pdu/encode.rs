//! Writing PDUs.

use super::{
    ADDR_MAX, ADDRESS_RANGE_MAX, Body, MESSAGE_ID_MAX, PASSWORD_MAX, Pdu, SERVICE_TYPE_MAX, SHORT_MESSAGE_MAX,
    SYSTEM_ID_MAX, SYSTEM_TYPE_MAX, TIME_MAX, Tlv, status,
};

/// Writes the PDU; infallible so that a caller's send path has no error to handle. Strings are cut
/// to the spec's maximum length (and at a NUL) and short_message to 254 octets; anything else is
/// written as given, so callers keep C-octet strings ASCII.
pub fn encode(pdu: &Pdu) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&pdu.body.command_id().to_be_bytes());
    out.extend_from_slice(&pdu.command_status.to_be_bytes());
    out.extend_from_slice(&pdu.sequence_number.to_be_bytes());
    let w = &mut out;
    match &pdu.body {
        Body::BindTransmitter(bind) | Body::BindReceiver(bind) | Body::BindTransceiver(bind) => {
            put_cstr(w, &bind.system_id, SYSTEM_ID_MAX);
            put_cstr(w, &bind.password, PASSWORD_MAX);
            put_cstr(w, &bind.system_type, SYSTEM_TYPE_MAX);
            w.extend_from_slice(&[bind.interface_version, bind.addr_ton, bind.addr_npi]);
            put_cstr(w, &bind.address_range, ADDRESS_RANGE_MAX);
        }
        Body::BindTransmitterResp(resp) | Body::BindReceiverResp(resp) | Body::BindTransceiverResp(resp) => {
            if !(pdu.command_status != status::OK && resp.system_id.is_empty() && resp.tlvs.is_empty()) {
                put_cstr(w, &resp.system_id, SYSTEM_ID_MAX);
                put_tlvs(w, &resp.tlvs);
            }
        }
        Body::SubmitSm(sm) | Body::DeliverSm(sm) => {
            put_cstr(w, &sm.service_type, SERVICE_TYPE_MAX);
            w.extend_from_slice(&[sm.source_addr_ton, sm.source_addr_npi]);
            put_cstr(w, &sm.source_addr, ADDR_MAX);
            w.extend_from_slice(&[sm.dest_addr_ton, sm.dest_addr_npi]);
            put_cstr(w, &sm.destination_addr, ADDR_MAX);
            w.extend_from_slice(&[sm.esm_class, sm.protocol_id, sm.priority_flag]);
            put_cstr(w, &sm.schedule_delivery_time, TIME_MAX);
            put_cstr(w, &sm.validity_period, TIME_MAX);
            w.extend_from_slice(&[
                sm.registered_delivery,
                sm.replace_if_present_flag,
                sm.data_coding,
                sm.sm_default_msg_id,
            ]);
            let message = sm.short_message.get(..SHORT_MESSAGE_MAX).unwrap_or(&sm.short_message);
            w.push(u8::try_from(message.len()).unwrap_or(u8::MAX));
            w.extend_from_slice(message);
            put_tlvs(w, &sm.tlvs);
        }
        Body::SubmitSmResp(resp) | Body::DeliverSmResp(resp) => {
            if !(pdu.command_status != status::OK && resp.message_id.is_empty()) {
                put_cstr(w, &resp.message_id, MESSAGE_ID_MAX);
            }
        }
        Body::EnquireLink | Body::EnquireLinkResp | Body::Unbind | Body::UnbindResp | Body::GenericNack => {}
    }
    let length = u32::try_from(out.len()).unwrap_or(u32::MAX).to_be_bytes();
    if let Some(prefix) = out.get_mut(..4) {
        prefix.copy_from_slice(&length);
    }
    out
}

fn put_cstr(out: &mut Vec<u8>, value: &str, max: usize) {
    let bytes = value.as_bytes();
    let bytes = bytes.split(|&b| b == 0).next().unwrap_or_default();
    let bytes = bytes.get(..max - 1).unwrap_or(bytes);
    out.extend_from_slice(bytes);
    out.push(0);
}

fn put_tlvs(out: &mut Vec<u8>, tlvs: &[Tlv]) {
    for tlv in tlvs {
        let value = tlv.value.get(..usize::from(u16::MAX)).unwrap_or(&tlv.value);
        out.extend_from_slice(&tlv.tag.to_be_bytes());
        out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(value);
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{bind, submit};
    use super::super::{BindResp, HEADER_LEN, SmResp, decode};
    use super::*;

    #[test]
    fn error_responses_without_body_round_trip() {
        for body in [
            Body::SubmitSmResp(SmResp::default()),
            Body::BindTransceiverResp(BindResp { system_id: String::new(), tlvs: Vec::new() }),
        ] {
            let pdu = Pdu::new(status::THROTTLED, 7, body);
            let bytes = encode(&pdu);
            assert_eq!(bytes.len(), HEADER_LEN);
            assert_eq!(decode(&bytes), Ok(pdu));
        }
    }

    #[test]
    fn bind_transceiver_matches_the_spec_bytes() {
        let expected: Vec<u8> = [
            &[0, 0, 0, 0x2A, 0, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, 0, 0x01][..],
            b"smppclient1\0",
            b"password\0",
            b"\0",
            &[0x34, 0x00, 0x00],
            b"\0",
        ]
        .concat();
        let pdu = Pdu::new(0, 1, Body::BindTransceiver(bind()));
        assert_eq!(encode(&pdu), expected);
        assert_eq!(decode(&expected), Ok(pdu));
    }

    #[test]
    fn submit_sm_matches_the_spec_bytes() {
        let expected: Vec<u8> = [
            &[0, 0, 0, 0x36, 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0x02][..],
            b"\0",
            &[0x05, 0x00],
            b"Shop\0",
            &[0x01, 0x01],
            b"491701234567\0",
            &[0x00, 0x00, 0x00],
            b"\0\0",
            &[0x01, 0x00, 0x00, 0x00],
            &[0x05],
            b"Hello",
        ]
        .concat();
        let pdu = Pdu::new(0, 2, Body::SubmitSm(submit()));
        assert_eq!(encode(&pdu), expected);
        assert_eq!(decode(&expected), Ok(pdu));
    }
}
