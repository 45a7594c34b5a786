//! SMPP v3.4: the wire codec, text encodings and delivery receipts, all without I/O, so that the
//! client built on them can be tested byte for byte and the parsers fuzzed.

pub mod encoding;
pub mod pdu;
pub mod receipt;
