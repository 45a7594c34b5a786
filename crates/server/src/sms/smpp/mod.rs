//! SMPP v3.4. The wire codec, addresses, text encodings and delivery receipts are without I/O, so
//! that they can be tested byte for byte and the parsers fuzzed; `session` and `provider` are the
//! client (ESME) built on them.

pub mod address;
pub mod encoding;
pub mod pdu;
mod provider;
pub mod receipt;
mod session;
mod tls;

pub use provider::{Probe, ProviderContext, SmppProvider};
pub use session::SessionError;
