//! Background workers: the SMS sender, the delivery report recorder, the expiry sweeper, the
//! dashboards' counters, the webhook deliveries, the alert evaluator, the key ring's reload and
//! the event log's months.

pub mod alerts;
pub mod delivery_reports;
pub mod event_log;
pub mod keyring;
pub mod rollups;
pub mod sms_sender;
pub mod sweeper;
pub mod webhooks;
