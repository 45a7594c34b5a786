//! Background workers: the SMS sender, the delivery report recorder, the expiry sweeper, the
//! dashboards' counters, the webhook deliveries and the alert evaluator.

pub mod alerts;
pub mod delivery_reports;
pub mod rollups;
pub mod sms_sender;
pub mod sweeper;
pub mod webhooks;
