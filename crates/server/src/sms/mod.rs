//! Sending SMS: one trait, one implementation per kind of provider.

pub mod delivery;
mod http_provider;
mod outbox;
pub mod outbox_signal;
pub mod queue;
pub mod smpp;
pub mod status_callback;

use std::sync::{Arc, Mutex};

use orderguard_domain::circuit::CircuitBreaker;
use orderguard_domain::clock::Timestamp;

pub use http_provider::HttpProvider;
pub use outbox::OutboxProvider;
pub use smpp::SmppProvider;

use crate::identity::BoxFuture;

pub struct OutgoingSms<'a> {
    pub message_id: &'a str,
    pub brand: &'a str,
    pub verification_id: &'a str,
    pub sender_id: &'a str,
    /// E.164.
    pub to: &'a str,
    /// The destination's ISO 3166 region (`DE`), `ZZ` when unknown: for routes and metrics.
    pub country: &'a str,
    pub text: &'a str,
    /// When it is handed over.
    pub at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Submitted {
    pub provider_message_id: Option<String>,
    /// A message the `outbox` provider keeps: stored in the transaction that records the hand-off,
    /// so keeping it costs no write of its own.
    pub kept: Option<crate::records::sms::OutboxMessage>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SmsError {
    /// The provider refused this message; another provider may still take it.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The provider could not be reached or answered with a temporary failure.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

pub trait SmsGateway: Send + Sync {
    fn send<'a>(&'a self, sms: &'a OutgoingSms<'a>) -> BoxFuture<'a, Result<Submitted, SmsError>>;
}

/// A provider with the name it has in the configuration and its circuit breaker, shared by every
/// route that names it.
#[derive(Clone)]
pub struct NamedGateway {
    pub name: String,
    pub gateway: Arc<dyn SmsGateway>,
    pub breaker: Arc<Mutex<CircuitBreaker>>,
}
