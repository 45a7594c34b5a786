//! Wakes `/dev/outbox.json?wait_ms=` requests when a message they wait for is kept: requests that
//! wait for one verification are woken only by its messages, so many waiters cost no extra reads.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::{oneshot, watch};

pub struct OutboxSignal {
    any: watch::Sender<u64>,
    by_verification: Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>,
}

impl Default for OutboxSignal {
    fn default() -> Self {
        Self { any: watch::Sender::new(0), by_verification: Mutex::default() }
    }
}

/// What a waiting request holds: resolves when a matching message may have been kept.
pub enum Waiter {
    Verification(oneshot::Receiver<()>),
    Any(watch::Receiver<u64>),
}

impl Waiter {
    pub async fn wait(self) {
        match self {
            Waiter::Verification(rx) => {
                let _ = rx.await;
            }
            Waiter::Any(mut rx) => {
                let _ = rx.changed().await;
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

    pub fn kept(&self, verification_id: &str) {
        self.any.send_modify(|count| *count += 1);
        let waiting = self.by_verification.lock().ok().and_then(|mut waiters| waiters.remove(verification_id));
        for waiter in waiting.into_iter().flatten() {
            let _ = waiter.send(());
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
