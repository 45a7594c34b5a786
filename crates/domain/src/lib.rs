//! Pure rules of orderguard. Nothing here reads the clock, the network or a database:
//! every function that depends on time takes `now`, every random choice takes an RNG.

pub mod activity;
pub mod alert;
pub mod audit_chain;
pub mod brand;
pub mod circuit;
pub mod clock;
pub mod code;
pub mod colour;
pub mod decision;
pub mod error;
pub mod event;
pub mod event_attributes;
pub mod limits;
pub mod lists;
pub mod money;
pub mod order;
pub mod phone;
pub mod policy;
#[cfg(test)]
mod properties;
pub mod reason;
pub mod receipt;
pub mod risk;
pub mod rng;
pub mod role;
pub mod sms_text;
pub mod swap;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod verification;
pub mod webhook;

pub use error::FieldError;
