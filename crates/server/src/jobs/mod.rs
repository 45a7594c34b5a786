//! Background workers: the SMS sender, the delivery report recorder and the expiry sweeper.

pub mod delivery_reports;
pub mod sms_sender;
pub mod sweeper;
