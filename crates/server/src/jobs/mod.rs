//! Background workers: the SMS sender and the expiry sweeper.

pub mod sms_sender;
pub mod sweeper;
