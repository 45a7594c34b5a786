//! SMPP v3.4 PDUs: the bytes on the wire and back, without I/O.
//!
//! Decoding is total: every byte sequence from the network gives a `Pdu` or a `PduError`, so a
//! misbehaving SMSC can only close its session, never crash the server.

/// Command ids (SMPP v3.4 §5.1.2.1); a response is its request's id with the top bit set.
pub mod command {
    pub const GENERIC_NACK: u32 = 0x8000_0000;
    pub const BIND_RECEIVER: u32 = 0x0000_0001;
    pub const BIND_RECEIVER_RESP: u32 = 0x8000_0001;
    pub const BIND_TRANSMITTER: u32 = 0x0000_0002;
    pub const BIND_TRANSMITTER_RESP: u32 = 0x8000_0002;
    pub const SUBMIT_SM: u32 = 0x0000_0004;
    pub const SUBMIT_SM_RESP: u32 = 0x8000_0004;
    pub const DELIVER_SM: u32 = 0x0000_0005;
    pub const DELIVER_SM_RESP: u32 = 0x8000_0005;
    pub const UNBIND: u32 = 0x0000_0006;
    pub const UNBIND_RESP: u32 = 0x8000_0006;
    pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
    pub const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
    pub const ENQUIRE_LINK: u32 = 0x0000_0015;
    pub const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;
}

/// The command_status values the client acts on (SMPP v3.4 §5.1.3).
pub mod status {
    pub const OK: u32 = 0x0000_0000;
    pub const INVALID_COMMAND_LENGTH: u32 = 0x0000_0002;
    pub const INVALID_COMMAND_ID: u32 = 0x0000_0003;
    pub const INCORRECT_BIND_STATUS: u32 = 0x0000_0004;
    pub const ALREADY_BOUND: u32 = 0x0000_0005;
    pub const SYSTEM_ERROR: u32 = 0x0000_0008;
    pub const INVALID_DESTINATION: u32 = 0x0000_000B;
    pub const BIND_FAILED: u32 = 0x0000_000D;
    pub const INVALID_PASSWORD: u32 = 0x0000_000E;
    pub const INVALID_SYSTEM_ID: u32 = 0x0000_000F;
    pub const MESSAGE_QUEUE_FULL: u32 = 0x0000_0014;
    pub const THROTTLED: u32 = 0x0000_0058;
}

/// Optional parameter tags (SMPP v3.4 §5.3.2) the client reads.
pub mod tag {
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    pub const MESSAGE_STATE: u16 = 0x0427;
    pub const SC_INTERFACE_VERSION: u16 = 0x0210;
}

/// The version this codec speaks, as sent in `interface_version`.
pub const INTERFACE_VERSION: u8 = 0x34;
/// `esm_class` bit set when short_message starts with a user data header (concatenation).
pub const ESM_CLASS_UDHI: u8 = 0x40;
/// `esm_class` message type of a deliver_sm that carries a delivery receipt.
pub const ESM_CLASS_DELIVERY_RECEIPT: u8 = 0x04;
/// `registered_delivery` asking for a receipt on final success or failure.
pub const REGISTERED_DELIVERY_FINAL: u8 = 0x01;

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

/// submit_sm_resp and deliver_sm_resp. A response with an error status may carry no body; that
/// decodes as an empty `message_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmResp {
    pub message_id: String,
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

/// The length of the PDU starting at `header`, once its first four bytes are there; `None` until
/// then. Splits a TCP byte stream into PDUs for `decode`.
pub fn frame_length(header: &[u8]) -> Result<Option<usize>, PduError> {
    let Some(Ok(length)) = header.get(..4).map(<[u8; 4]>::try_from) else { return Ok(None) };
    let declared = u32::from_be_bytes(length);
    let length = usize::try_from(declared).map_err(|_| PduError::CommandLengthOutOfRange(declared))?;
    if (HEADER_LEN..=MAX_PDU_LEN).contains(&length) {
        Ok(Some(length))
    } else {
        Err(PduError::CommandLengthOutOfRange(declared))
    }
}

/// command_id and sequence_number of a whole frame (as `frame_length` cut it), even when its body
/// cannot be decoded: enough to answer it with a generic_nack and keep the session.
pub fn header_ids(frame: &[u8]) -> Option<(u32, u32)> {
    let word = |at: usize| frame.get(at..at + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(u32::from_be_bytes);
    Some((word(4)?, word(12)?))
}

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

/// Reads exactly one PDU: `bytes` must be the whole PDU, command_length included, and nothing more.
pub fn decode(bytes: &[u8]) -> Result<Pdu, PduError> {
    let declared = frame_length(bytes)?.ok_or(PduError::ShortBuffer(bytes.len()))?;
    if declared != bytes.len() {
        return Err(PduError::LengthMismatch { declared, actual: bytes.len() });
    }
    let mut r = Reader { rest: bytes.get(4..).unwrap_or_default() };
    let command_id = r.u32("command_id")?;
    let command_status = r.u32("command_status")?;
    let sequence_number = r.u32("sequence_number")?;
    let body = match command_id {
        command::BIND_TRANSMITTER => Body::BindTransmitter(read_bind(&mut r)?),
        command::BIND_RECEIVER => Body::BindReceiver(read_bind(&mut r)?),
        command::BIND_TRANSCEIVER => Body::BindTransceiver(read_bind(&mut r)?),
        command::BIND_TRANSMITTER_RESP => Body::BindTransmitterResp(read_bind_resp(&mut r)?),
        command::BIND_RECEIVER_RESP => Body::BindReceiverResp(read_bind_resp(&mut r)?),
        command::BIND_TRANSCEIVER_RESP => Body::BindTransceiverResp(read_bind_resp(&mut r)?),
        command::SUBMIT_SM => Body::SubmitSm(read_short_message(&mut r)?),
        command::DELIVER_SM => Body::DeliverSm(read_short_message(&mut r)?),
        command::SUBMIT_SM_RESP => Body::SubmitSmResp(read_sm_resp(&mut r)?),
        command::DELIVER_SM_RESP => Body::DeliverSmResp(read_sm_resp(&mut r)?),
        command::ENQUIRE_LINK => Body::EnquireLink,
        command::ENQUIRE_LINK_RESP => Body::EnquireLinkResp,
        command::UNBIND => Body::Unbind,
        command::UNBIND_RESP => Body::UnbindResp,
        command::GENERIC_NACK => Body::GenericNack,
        other => return Err(PduError::UnknownCommand(other)),
    };
    if !r.rest.is_empty() {
        return Err(PduError::TrailingBytes(r.rest.len()));
    }
    Ok(Pdu { command_id, command_status, sequence_number, body })
}

fn read_bind(r: &mut Reader<'_>) -> Result<Bind, PduError> {
    Ok(Bind {
        system_id: r.cstr("system_id", SYSTEM_ID_MAX)?,
        password: r.cstr("password", PASSWORD_MAX)?,
        system_type: r.cstr("system_type", SYSTEM_TYPE_MAX)?,
        interface_version: r.u8("interface_version")?,
        addr_ton: r.u8("addr_ton")?,
        addr_npi: r.u8("addr_npi")?,
        address_range: r.cstr("address_range", ADDRESS_RANGE_MAX)?,
    })
}

fn read_bind_resp(r: &mut Reader<'_>) -> Result<BindResp, PduError> {
    if r.rest.is_empty() {
        return Ok(BindResp { system_id: String::new(), tlvs: Vec::new() });
    }
    // SMSCs name themselves with longer ids than the 16 octets v3.4 allows (node-smpp does): read
    // what they send, up to the length of a message id.
    Ok(BindResp { system_id: r.cstr("system_id", MESSAGE_ID_MAX)?, tlvs: r.tlvs()? })
}

fn read_short_message(r: &mut Reader<'_>) -> Result<ShortMessage, PduError> {
    Ok(ShortMessage {
        service_type: r.cstr("service_type", SERVICE_TYPE_MAX)?,
        source_addr_ton: r.u8("source_addr_ton")?,
        source_addr_npi: r.u8("source_addr_npi")?,
        source_addr: r.cstr("source_addr", ADDR_MAX)?,
        dest_addr_ton: r.u8("dest_addr_ton")?,
        dest_addr_npi: r.u8("dest_addr_npi")?,
        destination_addr: r.cstr("destination_addr", ADDR_MAX)?,
        esm_class: r.u8("esm_class")?,
        protocol_id: r.u8("protocol_id")?,
        priority_flag: r.u8("priority_flag")?,
        schedule_delivery_time: r.cstr("schedule_delivery_time", TIME_MAX)?,
        validity_period: r.cstr("validity_period", TIME_MAX)?,
        registered_delivery: r.u8("registered_delivery")?,
        replace_if_present_flag: r.u8("replace_if_present_flag")?,
        data_coding: r.u8("data_coding")?,
        sm_default_msg_id: r.u8("sm_default_msg_id")?,
        short_message: {
            let length = r.u8("sm_length")?;
            if usize::from(length) > SHORT_MESSAGE_MAX {
                return Err(PduError::ShortMessageTooLong(length));
            }
            r.bytes("short_message", usize::from(length))?.to_vec()
        },
        tlvs: r.tlvs()?,
    })
}

fn read_sm_resp(r: &mut Reader<'_>) -> Result<SmResp, PduError> {
    if r.rest.is_empty() {
        return Ok(SmResp::default());
    }
    Ok(SmResp { message_id: r.cstr("message_id", MESSAGE_ID_MAX)? })
}

/// Reads from the front of a slice; every read checks the length, so none can panic.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], PduError> {
        if n > self.rest.len() {
            return Err(PduError::Truncated(field));
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, PduError> {
        let (&first, rest) = self.rest.split_first().ok_or(PduError::Truncated(field))?;
        self.rest = rest;
        Ok(first)
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, PduError> {
        let bytes = self.bytes(field, 2)?;
        Ok(u16::from_be_bytes(bytes.try_into().map_err(|_| PduError::Truncated(field))?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, PduError> {
        let bytes = self.bytes(field, 4)?;
        Ok(u32::from_be_bytes(bytes.try_into().map_err(|_| PduError::Truncated(field))?))
    }

    /// A NUL-terminated ASCII string of at most `max` bytes, NUL included.
    fn cstr(&mut self, field: &'static str, max: usize) -> Result<String, PduError> {
        let window = self.rest.get(..max).unwrap_or(self.rest);
        let Some(nul) = window.iter().position(|&b| b == 0) else {
            return Err(if window.len() < max {
                PduError::Truncated(field)
            } else {
                PduError::MissingNul { field, max }
            });
        };
        let value = self.bytes(field, nul)?;
        self.bytes(field, 1)?;
        if !value.is_ascii() {
            return Err(PduError::NotAscii(field));
        }
        Ok(String::from_utf8_lossy(value).into_owned())
    }

    /// Optional parameters up to the end of the body.
    fn tlvs(&mut self) -> Result<Vec<Tlv>, PduError> {
        let mut tlvs = Vec::new();
        while !self.rest.is_empty() {
            let tag = self.u16("TLV tag")?;
            let length = self.u16("TLV length")?;
            let value = self.bytes("TLV value", usize::from(length))?.to_vec();
            tlvs.push(Tlv { tag, value });
        }
        Ok(tlvs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind() -> Bind {
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

    fn submit() -> ShortMessage {
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

    fn receipt() -> ShortMessage {
        ShortMessage {
            esm_class: ESM_CLASS_DELIVERY_RECEIPT,
            short_message:
                b"id:abc sub:001 dlvrd:001 submit date:2611241950 done date:2611241951 stat:DELIVRD err:000 text:Hello"
                    .to_vec(),
            tlvs: vec![
                Tlv::receipted_message_id("abc"),
                Tlv::message_state(2),
                Tlv { tag: 0x1400, value: vec![1, 2, 3] },
            ],
            ..submit()
        }
    }

    fn every_body() -> Vec<Pdu> {
        let resp = BindResp {
            system_id: "SMSC".into(),
            tlvs: vec![Tlv { tag: tag::SC_INTERFACE_VERSION, value: vec![0x34] }],
        };
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

    #[test]
    fn every_body_round_trips() {
        for pdu in every_body() {
            let bytes = encode(&pdu);
            assert_eq!(frame_length(&bytes), Ok(Some(bytes.len())));
            assert_eq!(decode(&bytes), Ok(pdu));
        }
    }

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

    #[test]
    fn every_truncation_is_an_error() {
        for pdu in every_body() {
            let bytes = encode(&pdu);
            for n in 0..bytes.len() {
                assert!(decode(&bytes[..n]).is_err(), "{:?} cut at {n}", pdu.body);
                // The same prefix with command_length adjusted to it: the body itself is short.
                if n >= HEADER_LEN && n < bytes.len() {
                    let mut cut = bytes[..n].to_vec();
                    cut[..4].copy_from_slice(&(n as u32).to_be_bytes());
                    let empty_resp = n == HEADER_LEN
                        && matches!(
                            pdu.body,
                            Body::BindTransmitterResp(_)
                                | Body::BindReceiverResp(_)
                                | Body::BindTransceiverResp(_)
                                | Body::SubmitSmResp(_)
                                | Body::DeliverSmResp(_)
                        );
                    // Cutting off whole TLVs still leaves a valid PDU; then it must be read exactly.
                    if let Ok(decoded) = decode(&cut) {
                        assert!(empty_resp || encode(&decoded) == cut, "{:?} cut at {n}", pdu.body);
                    }
                }
            }
        }
    }

    #[test]
    fn rejects_bad_lengths_and_garbage() {
        let bytes = encode(&Pdu::new(0, 1, Body::EnquireLink));
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), Err(PduError::LengthMismatch { declared: 16, actual: 17 }));
        longer[3] = 17;
        assert_eq!(decode(&longer), Err(PduError::TrailingBytes(1)));
        let mut small = bytes.clone();
        small[3] = 15;
        assert_eq!(decode(&small), Err(PduError::CommandLengthOutOfRange(15)));
        assert_eq!(frame_length(&small), Err(PduError::CommandLengthOutOfRange(15)));
        assert_eq!(frame_length(&[0, 1, 0, 1]), Err(PduError::CommandLengthOutOfRange(65537)));
        assert_eq!(frame_length(&[0, 1, 0, 0]), Ok(Some(65536)));
        assert_eq!(frame_length(&[0, 0, 0]), Ok(None));
        let mut unknown = bytes;
        unknown[7] = 0x99;
        assert_eq!(decode(&unknown), Err(PduError::UnknownCommand(0x99)));
    }

    #[test]
    fn rejects_missing_nul_and_overlong_strings() {
        let mut bytes = encode(&Pdu::new(0, 1, Body::BindTransceiver(bind())));
        // Replace the NUL after "smppclient1" so system_id runs into the password.
        bytes[HEADER_LEN + 11] = b'x';
        assert_eq!(decode(&bytes), Err(PduError::MissingNul { field: "system_id", max: 16 }));
        let mut bytes = encode(&Pdu::new(0, 1, Body::EnquireLinkResp));
        bytes[7] = 0x09;
        bytes.extend_from_slice(b"abc");
        bytes[3] = bytes.len() as u8;
        assert_eq!(decode(&bytes), Err(PduError::Truncated("system_id")));
        let long = Bind { system_id: "a".repeat(40), password: "p\0q".into(), ..bind() };
        let decoded = decode(&encode(&Pdu::new(0, 1, Body::BindTransceiver(long)))).unwrap();
        assert_eq!(
            decoded.body,
            Body::BindTransceiver(Bind { system_id: "a".repeat(15), password: "p".into(), ..bind() })
        );
        let mut non_ascii = encode(&Pdu::new(0, 1, Body::SubmitSmResp(SmResp { message_id: "ab".into() })));
        non_ascii[HEADER_LEN] = 0xC3;
        assert_eq!(decode(&non_ascii), Err(PduError::NotAscii("message_id")));
    }

    #[test]
    fn reads_receipt_tlvs() {
        let sm = receipt();
        assert_eq!(sm.receipted_message_id().as_deref(), Some("abc"));
        assert_eq!(sm.message_state(), Some(2));
        assert_eq!(submit().message_state(), None);
    }

    #[test]
    fn mutated_pdus_never_panic() {
        let valid: Vec<Vec<u8>> = every_body().iter().map(encode).collect();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize
        };
        let mut decoded_ok = 0;
        for _ in 0..10_000 {
            let mut bytes = valid[next() % valid.len()].clone();
            for _ in 0..1 + next() % 4 {
                let at = next() % bytes.len().max(1);
                match next() % 5 {
                    0 if !bytes.is_empty() => bytes[at] = next() as u8,
                    1 if !bytes.is_empty() => {
                        bytes.remove(at);
                    }
                    2 => bytes.insert(at.min(bytes.len()), next() as u8),
                    3 => bytes.truncate(at),
                    _ if bytes.len() >= 4 => {
                        let len = bytes.len() as u32;
                        bytes[..4].copy_from_slice(&len.to_be_bytes());
                    }
                    _ => {}
                }
            }
            if let Ok(pdu) = decode(&bytes) {
                decoded_ok += 1;
                assert_eq!(decode(&encode(&pdu)).map(|p| p.body), Ok(pdu.body));
            }
        }
        assert!(decoded_ok > 0);
    }
}
