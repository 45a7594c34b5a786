//! SMPP v3.4 PDUs: the bytes on the wire and back, without I/O.
//!
//! Decoding is total: every byte sequence from the network gives a `Pdu` or a `PduError`, so a
//! misbehaving SMSC can only close its session, never crash the server.

mod codes;
mod decode;
mod encode;
#[cfg(test)]
mod fixtures;
mod tlv;

pub use codes::{
    ESM_CLASS_DELIVERY_RECEIPT, ESM_CLASS_UDHI, INTERFACE_VERSION, REGISTERED_DELIVERY_FINAL, command, status,
};
pub use decode::{decode, frame_length, header_ids};
pub use encode::encode;
pub use tlv::{Tlv, tag};

pub const HEADER_LEN: usize = 16;
/// Larger PDUs are refused before reading them, so that a peer cannot make us buffer much.
pub const MAX_PDU_LEN: usize = 64 * 1024;

// Maximum lengths of C-octet strings, counting the terminating NUL (SMPP v3.4 §4).
const SYSTEM_ID_MAX: usize = 16;
const PASSWORD_MAX: usize = 9;
const SYSTEM_TYPE_MAX: usize = 13;
const ADDRESS_RANGE_MAX: usize = 41;
const SERVICE_TYPE_MAX: usize = 6;
const ADDR_MAX: usize = 21;
const TIME_MAX: usize = 17;
const MESSAGE_ID_MAX: usize = 65;
const SHORT_MESSAGE_MAX: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    #[error("buffer of {0} bytes is shorter than a PDU header")]
    ShortBuffer(usize),
    #[error("command_length {0} is outside 16..=65536")]
    CommandLengthOutOfRange(u32),
    #[error("command_length {declared} does not match the {actual} bytes given")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("unknown command_id {0:#010x}")]
    UnknownCommand(u32),
    #[error("PDU body ends inside {0}")]
    Truncated(&'static str),
    #[error("{field} has no NUL within its {max} bytes")]
    MissingNul { field: &'static str, max: usize },
    #[error("{0} is not ASCII")]
    NotAscii(&'static str),
    #[error("sm_length {0} is over 254")]
    ShortMessageTooLong(u8),
    #[error("{0} bytes after the end of the PDU body")]
    TrailingBytes(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// As read by `decode`; `encode` writes `body.command_id()`, so the two cannot disagree on the wire.
    pub command_id: u32,
    pub command_status: u32,
    pub sequence_number: u32,
    pub body: Body,
}

impl Pdu {
    pub fn new(command_status: u32, sequence_number: u32, body: Body) -> Self {
        Self { command_id: body.command_id(), command_status, sequence_number, body }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    BindTransmitter(Bind),
    BindTransmitterResp(BindResp),
    BindReceiver(Bind),
    BindReceiverResp(BindResp),
    BindTransceiver(Bind),
    BindTransceiverResp(BindResp),
    SubmitSm(ShortMessage),
    SubmitSmResp(SmResp),
    DeliverSm(ShortMessage),
    DeliverSmResp(SmResp),
    EnquireLink,
    EnquireLinkResp,
    Unbind,
    UnbindResp,
    GenericNack,
}

impl Body {
    pub fn command_id(&self) -> u32 {
        match self {
            Body::BindTransmitter(_) => command::BIND_TRANSMITTER,
            Body::BindTransmitterResp(_) => command::BIND_TRANSMITTER_RESP,
            Body::BindReceiver(_) => command::BIND_RECEIVER,
            Body::BindReceiverResp(_) => command::BIND_RECEIVER_RESP,
            Body::BindTransceiver(_) => command::BIND_TRANSCEIVER,
            Body::BindTransceiverResp(_) => command::BIND_TRANSCEIVER_RESP,
            Body::SubmitSm(_) => command::SUBMIT_SM,
            Body::SubmitSmResp(_) => command::SUBMIT_SM_RESP,
            Body::DeliverSm(_) => command::DELIVER_SM,
            Body::DeliverSmResp(_) => command::DELIVER_SM_RESP,
            Body::EnquireLink => command::ENQUIRE_LINK,
            Body::EnquireLinkResp => command::ENQUIRE_LINK_RESP,
            Body::Unbind => command::UNBIND,
            Body::UnbindResp => command::UNBIND_RESP,
            Body::GenericNack => command::GENERIC_NACK,
        }
    }
}

/// bind_transmitter, bind_receiver and bind_transceiver share this body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    pub interface_version: u8,
    pub addr_ton: u8,
    pub addr_npi: u8,
    pub address_range: String,
}

/// The three bind responses share this body. An SMSC refusing a bind may send no body at all; that
/// decodes as an empty `system_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindResp {
    pub system_id: String,
    pub tlvs: Vec<Tlv>,
}

/// submit_sm and deliver_sm share this body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShortMessage {
    pub service_type: String,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: String,
    pub dest_addr_ton: u8,
    pub dest_addr_npi: u8,
    pub destination_addr: String,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: String,
    pub validity_period: String,
    pub registered_delivery: u8,
    pub replace_if_present_flag: u8,
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    /// Written with its length as `sm_length`; at most 254 octets.
    pub short_message: Vec<u8>,
    pub tlvs: Vec<Tlv>,
}

/// submit_sm_resp and deliver_sm_resp. A response with an error status may carry no body; that
/// decodes as an empty `message_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmResp {
    pub message_id: String,
}

#[cfg(test)]
mod tests {
    use super::fixtures::every_body;
    use super::*;

    #[test]
    fn every_body_round_trips() {
        for pdu in every_body() {
            let bytes = encode(&pdu);
            assert_eq!(frame_length(&bytes), Ok(Some(bytes.len())));
            assert_eq!(decode(&bytes), Ok(pdu));
        }
    }
}
