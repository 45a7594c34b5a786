//! Wakes `/dev/outbox.json?wait_ms=` requests when a message they wait for is kept: a request that
//! waits for one verification gets its message handed over, so many waiters cost no extra reads.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::{oneshot, watch};

use crate::records::sms::OutboxMessage;

pub struct OutboxSignal {
    any: watch::Sender<u64>,
    by_verification: Mutex<HashMap<String, Vec<oneshot::Sender<OutboxMessage>>>>,
}

impl Default for OutboxSignal {
    fn default() -> Self {
        Self { any: watch::Sender::new(0), by_verification: Mutex::default() }
    }
}

/// What a waiting request holds: resolves when a matching message may have been kept, with the
/// message itself when the request waits for one verification.
pub enum Waiter {
    Verification(oneshot::Receiver<OutboxMessage>),
    Any(watch::Receiver<u64>),
}

impl Waiter {
    pub async fn wait(self) -> Option<OutboxMessage> {
        match self {
            Waiter::Verification(rx) => rx.await.ok(),
            Waiter::Any(mut rx) => {
                let _ = rx.changed().await;
                None
            }
        }
    }
}

impl OutboxSignal {
    /// Subscribe before looking, so that a message kept in between is not missed.
    pub fn subscribe(&self, verification_id: Option<&str>) -> Waiter {
        match verification_id {
            Some(id) => {
                let (tx, rx) = oneshot::channel();
                if let Ok(mut waiters) = self.by_verification.lock() {
                    let list = waiters.entry(id.to_owned()).or_default();
                    list.retain(|w| !w.is_closed());
                    list.push(tx);
                }
                Waiter::Verification(rx)
            }
            None => Waiter::Any(self.any.subscribe()),
        }
    }

    pub fn kept(&self, message: &OutboxMessage) {
        self.any.send_modify(|count| *count += 1);
        let Some(id) = &message.verification_id else { return };
        let waiting = self.by_verification.lock().ok().and_then(|mut waiters| waiters.remove(id));
        for waiter in waiting.into_iter().flatten() {
            let _ = waiter.send(message.clone());
        }
    }

    /// Forgets waiters that gave up (timed out), so the map does not grow.
    pub fn forget(&self, verification_id: &str) {
        if let Ok(mut waiters) = self.by_verification.lock()
            && let Some(list) = waiters.get_mut(verification_id)
        {
            list.retain(|w| !w.is_closed());
            if list.is_empty() {
                waiters.remove(verification_id);
            }
        }
    }
}
