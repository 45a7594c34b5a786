//! Background workers: the SMS sender, the delivery report recorder, the expiry sweeper and the
//! dashboards' counters, and the webhook deliveries.

pub mod delivery_reports;
pub mod rollups;
pub mod sms_sender;
pub mod sweeper;
pub mod webhooks;
