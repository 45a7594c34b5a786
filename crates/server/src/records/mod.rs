//! The records the service reads and writes: plain typed data, stored by `store`, read by every
//! layer above it. Personal data appears only encrypted or keyed-hashed.

pub mod admin;
pub mod alert;
pub mod event;
pub mod keys;
pub mod lists;
pub mod market;
pub mod order;
pub mod privacy;
pub mod sms;
pub mod verification;

pub use event::{Event, NewEvent};
pub use verification::VerificationRecord;
