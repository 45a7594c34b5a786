//! Keeping the binds up: one task per bind binds, waits for the session to end and binds again.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::pacing::Pacing;
use super::receipts::receipt_handler;
use super::{ProviderContext, SmppProvider, rand_u8};
use crate::sms::SmsError;
use crate::sms::smpp::session::{Opened, Session};

const RECONNECT_MIN: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(30);
/// A session that lasted this long was healthy: the next reconnect starts with a short pause again.
const HEALTHY_SESSION: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BindKind {
    Transceiver,
    Transmitter,
    Receiver,
}

impl BindKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Transceiver => "transceiver",
            Self::Transmitter => "transmitter",
            Self::Receiver => "receiver",
        }
    }
}

/// One connection the provider keeps bound.
pub(super) struct BindSlot {
    pub(super) kind: BindKind,
    /// Names the bind in logs and metrics, such as `transmitter-2`.
    label: String,
    current: Mutex<Option<Arc<Session>>>,
    pacing: Mutex<Pacing>,
}

impl BindSlot {
    pub(super) fn new(kind: BindKind, number: usize, max_per_second: Option<u32>) -> Self {
        Self {
            kind,
            label: format!("{}-{number}", kind.as_str()),
            current: Mutex::new(None),
            pacing: Mutex::new(Pacing::new(max_per_second, Instant::now())),
        }
    }

    fn session(&self) -> Option<Arc<Session>> {
        self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone().filter(|s| s.is_open())
    }

    fn set_session(&self, session: Option<Arc<Session>>) {
        *self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = session;
    }

    pub(super) fn pacing(&self) -> std::sync::MutexGuard<'_, Pacing> {
        self.pacing.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SmppProvider {
    /// Whether a bind that can send is up within `timeout`.
    pub async fn wait_until_bound(&self, timeout: Duration) -> bool {
        self.transmitting_slot(Instant::now() + timeout).await.is_ok()
    }

    /// Binds, and binds again after the session ends, with growing pauses while the SMSC is away.
    pub(super) async fn keep_bound(self: Arc<Self>, slot: Arc<BindSlot>, context: ProviderContext) {
        let mut stop = self.stop.subscribe();
        let mut pause = RECONNECT_MIN;
        let labels = [("provider", self.name.as_str()), ("bind", slot.label.as_str())];
        loop {
            let handler = receipt_handler(self.clone(), context.reports.clone());
            let opened = tokio::select! {
                opened = Session::open(self.session_config(slot.kind), handler) => opened,
                _ = stopped(&mut stop) => return,
            };
            match opened {
                Ok(Opened { session, ended, .. }) => {
                    tracing::info!(provider = %self.name, bind = %slot.label, "SMPP bound");
                    let bound_at = Instant::now();
                    slot.set_session(Some(session.clone()));
                    context.metrics.set_gauge("orderguard_smpp_bind_up", &labels, 1);
                    context.metrics.increment("orderguard_smpp_binds_total", &labels);
                    let reason = tokio::select! {
                        reason = ended => reason.unwrap_or_default(),
                        _ = stopped(&mut stop) => {
                            slot.set_session(None);
                            session.unbind().await;
                            context.metrics.set_gauge("orderguard_smpp_bind_up", &labels, 0);
                            return;
                        }
                    };
                    slot.set_session(None);
                    context.metrics.set_gauge("orderguard_smpp_bind_up", &labels, 0);
                    // An SMSC that drops every session at once must not get a bind every 250 ms.
                    if bound_at.elapsed() >= HEALTHY_SESSION {
                        pause = RECONNECT_MIN;
                    }
                    tracing::warn!(provider = %self.name, bind = %slot.label, %reason, "SMPP session ended; binding again");
                }
                Err(error) => {
                    tracing::warn!(provider = %self.name, bind = %slot.label, %error, "SMPP bind failed");
                }
            }
            // Jitter keeps the binds of many instances from hammering a restarting SMSC together.
            let jittered = pause.mul_f64(0.75 + f64::from(rand_u8()) / 512.0);
            tokio::select! {
                _ = tokio::time::sleep(jittered) => {}
                _ = stopped(&mut stop) => return,
            }
            pause = (pause * 2).min(RECONNECT_MAX);
        }
    }

    /// A bound transmitting slot, taking turns; waits for one (a reconnect) until `deadline`.
    pub(super) async fn transmitting_slot(&self, deadline: Instant) -> Result<(Arc<BindSlot>, Arc<Session>), SmsError> {
        loop {
            let start = self.next_slot.fetch_add(1, Ordering::Relaxed);
            let count = self.slots.len();
            for offset in 0..count {
                let Some(slot) = self.slots.get((start + offset) % count) else { continue };
                if slot.kind == BindKind::Receiver {
                    continue;
                }
                if let Some(session) = slot.session() {
                    return Ok((slot.clone(), session));
                }
            }
            if Instant::now() + Duration::from_millis(50) >= deadline {
                return Err(SmsError::Unavailable("no bind to the SMSC is up".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Resolves once the provider is told to stop.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
