//! Delivery reports: what a provider tells later about a message it took (an SMPP receipt, an
//! HTTP status callback). They travel on a channel to `jobs::delivery_reports`, which has them
//! recorded as `sms.delivered` / `sms.failed` events.

use tokio::sync::{mpsc, oneshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    Failed,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug)]
pub struct DeliveryReport {
    /// The provider's name in the configuration.
    pub provider: String,
    /// The id the provider gave the message at hand-off.
    pub provider_message_id: String,
    pub delivery: Delivery,
    /// The state in words (SMPP: `delivered`, `undeliverable`, `expired`, …; HTTP: the provider's
    /// status, lower case) and the provider's error code.
    pub status: String,
    pub error_code: Option<String>,
    /// Told once the report is stored (or known to be a repeat), so that an SMSC gets its
    /// deliver_sm_resp only then and sends a receipt again if this instance dies before.
    pub stored: Option<oneshot::Sender<()>>,
}

impl DeliveryReport {
    /// Tells the provider that the report is stored (or a known repeat).
    pub fn acknowledge(self) {
        if let Some(stored) = self.stored {
            let _ = stored.send(());
        }
    }
}

/// Where providers hand their reports.
#[derive(Clone)]
pub struct DeliveryReports {
    tx: mpsc::UnboundedSender<DeliveryReport>,
}

impl DeliveryReports {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<DeliveryReport>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }

    pub fn report(&self, report: DeliveryReport) {
        // Without a receiver the server is stopping; the provider repeats unacknowledged reports.
        let _ = self.tx.send(report);
    }
}
