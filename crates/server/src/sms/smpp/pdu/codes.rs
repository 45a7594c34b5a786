//! Numbers SMPP v3.4 gives meaning to: command ids, command statuses and the flag values the
//! client sets or reads.

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
    /// ESME_RX_T_APPN; in a deliver_sm_resp it asks the SMSC to send the message again later.
    pub const TEMPORARY_APP_ERROR: u32 = 0x0000_0064;
}

/// The version this codec speaks, as sent in `interface_version`.
pub const INTERFACE_VERSION: u8 = 0x34;
/// `esm_class` bit set when short_message starts with a user data header (concatenation).
pub const ESM_CLASS_UDHI: u8 = 0x40;
/// `esm_class` message type of a deliver_sm that carries a delivery receipt.
pub const ESM_CLASS_DELIVERY_RECEIPT: u8 = 0x04;
/// `registered_delivery` asking for a receipt on final success or failure.
pub const REGISTERED_DELIVERY_FINAL: u8 = 0x01;
