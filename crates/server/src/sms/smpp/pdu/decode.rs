//! Reading PDUs: total, so that any bytes give a `Pdu` or a `PduError`.

use super::{
    ADDR_MAX, ADDRESS_RANGE_MAX, Bind, BindResp, Body, HEADER_LEN, MAX_PDU_LEN, MESSAGE_ID_MAX, PASSWORD_MAX, Pdu,
    PduError, SERVICE_TYPE_MAX, SHORT_MESSAGE_MAX, SYSTEM_ID_MAX, SYSTEM_TYPE_MAX, ShortMessage, SmResp, TIME_MAX, Tlv,
    command,
};

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
    use super::super::fixtures::{bind, every_body};
    use super::super::{SmResp, encode};
    use super::*;

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
