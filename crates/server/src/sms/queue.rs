//! The hand-over of new SMS from the transaction that queued them to the SMS sender, and the lease
//! that keeps one message with one sender at a time.

use tokio::sync::mpsc;

use crate::records::sms::QueuedSms;

/// How long the instance that queues or claims an SMS keeps it for itself before any instance may
/// claim it again; renewed before each hand-off (see `jobs::sms_sender`).
pub const LEASE_MS: i64 = 30_000;

/// A claim younger than this is still ours without asking: its lease ran for `LEASE_MS`, and
/// every provider's worst-case hand-off is checked at start to fit in the remainder.
pub const UNCHECKED_CLAIM_MS: i64 = 5_000;

/// The longest one hand-off may take: what is left of a lease after an unchecked claim.
pub const LONGEST_HAND_OFF_MS: i64 = LEASE_MS - UNCHECKED_CLAIM_MS;

#[derive(Clone)]
pub struct SmsQueue {
    tx: mpsc::UnboundedSender<QueuedSms>,
}

impl SmsQueue {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<QueuedSms>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }

    /// Hands over a message claimed in the committed transaction that queued it.
    pub fn send(&self, claimed: QueuedSms) {
        // If the sender is gone, the lease runs out and a scan (of this or a restarted instance) sends it.
        let _ = self.tx.send(claimed);
    }
}
