//! PDUs the codec's tests share: one of every body.

use super::*;

pub fn bind() -> Bind {
    Bind {
        system_id: "smppclient1".into(),
        password: "password".into(),
        system_type: String::new(),
        interface_version: INTERFACE_VERSION,
        addr_ton: 0,
        addr_npi: 0,
        address_range: String::new(),
    }
}

pub fn submit() -> ShortMessage {
    ShortMessage {
        source_addr_ton: 5,
        source_addr: "Shop".into(),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: "491701234567".into(),
        registered_delivery: REGISTERED_DELIVERY_FINAL,
        short_message: b"Hello".to_vec(),
        ..ShortMessage::default()
    }
}

pub fn receipt() -> ShortMessage {
    ShortMessage {
        esm_class: ESM_CLASS_DELIVERY_RECEIPT,
        short_message:
            b"id:abc sub:001 dlvrd:001 submit date:2611241950 done date:2611241951 stat:DELIVRD err:000 text:Hello"
                .to_vec(),
        tlvs: vec![Tlv::receipted_message_id("abc"), Tlv::message_state(2), Tlv { tag: 0x1400, value: vec![1, 2, 3] }],
        ..submit()
    }
}

pub fn every_body() -> Vec<Pdu> {
    let resp =
        BindResp { system_id: "SMSC".into(), tlvs: vec![Tlv { tag: tag::SC_INTERFACE_VERSION, value: vec![0x34] }] };
    let bodies = vec![
        Body::BindTransmitter(bind()),
        Body::BindTransmitterResp(resp.clone()),
        Body::BindReceiver(Bind { system_type: "OTP".into(), address_range: "^49".into(), ..bind() }),
        Body::BindReceiverResp(BindResp { system_id: "SMSC".into(), tlvs: Vec::new() }),
        Body::BindTransceiver(bind()),
        Body::BindTransceiverResp(resp),
        Body::SubmitSm(submit()),
        Body::SubmitSmResp(SmResp { message_id: "5f3c9a".into() }),
        Body::DeliverSm(receipt()),
        Body::DeliverSmResp(SmResp::default()),
        Body::EnquireLink,
        Body::EnquireLinkResp,
        Body::Unbind,
        Body::UnbindResp,
        Body::GenericNack,
    ];
    bodies.into_iter().enumerate().map(|(i, body)| Pdu::new(0, i as u32 + 1, body)).collect()
}
