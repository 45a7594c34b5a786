//! Delivery receipts from the SMSC, turned into delivery reports.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::SmppProvider;
use crate::sms::delivery::{Delivery, DeliveryReport, DeliveryReports};
use crate::sms::smpp::pdu::{self, ShortMessage, status};
use crate::sms::smpp::receipt::{MessageState, parse_receipt};
use crate::sms::smpp::session::{DeliverHandler, Responder};

/// How long a receipt may wait to be stored before the SMSC is told to send it again.
const RECEIPT_STORE_TIMEOUT: Duration = Duration::from_secs(10);
/// Receipts of one session waiting to be stored before the SMSC is asked to wait: half the room
/// of the session's outgoing queue, so that the answers asking it to wait always find room.
const RECEIPTS_IN_FLIGHT: usize = super::super::session::OUTGOING_QUEUE / 2;
/// Ids of leading parts remembered to drop their receipts; a long message is rare for a code.
const LEADING_PARTS_KEPT: usize = 10_000;

impl SmppProvider {
    pub(super) fn remember_leading_part(&self, id: &str) {
        let mut parts = self.leading_parts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if parts.len() >= LEADING_PARTS_KEPT {
            parts.clear();
        }
        parts.insert(id.to_owned());
    }

    /// Whether `id` is a leading part's (forgotten once its receipt came).
    fn is_leading_part(&self, id: &str) -> bool {
        self.leading_parts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id)
    }
}

/// Receipts become delivery reports; the SMSC gets its deliver_sm_resp once the report is stored,
/// so that a receipt is never lost to a crash. Receipts for the leading parts of a long message
/// (only the last part's id is kept) and other deliver_sm (replies from handsets) are acknowledged
/// at once and dropped. At most `RECEIPTS_IN_FLIGHT` receipts wait to be stored per session: an
/// SMSC that floods is told to send the rest again later.
pub(super) fn receipt_handler(provider: Arc<SmppProvider>, reports: DeliveryReports) -> DeliverHandler {
    let in_flight = Arc::new(Semaphore::new(RECEIPTS_IN_FLIGHT));
    Arc::new(move |sm: ShortMessage, responder: Responder| {
        if sm.esm_class & 0x3C != pdu::ESM_CLASS_DELIVERY_RECEIPT {
            responder.respond(status::OK);
            return;
        }
        let receipt = match parse_receipt(&sm) {
            Ok(receipt) => receipt,
            Err(error) => {
                tracing::warn!(provider = %provider.name, %error, "unreadable delivery receipt ignored");
                responder.respond(status::OK);
                return;
            }
        };
        // An unknown state may still be followed by a real one: not final for orderguard.
        if !receipt.state.is_final()
            || receipt.state == MessageState::Unknown
            || provider.is_leading_part(&receipt.message_id)
        {
            responder.respond(status::OK);
            return;
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            responder.respond(status::TEMPORARY_APP_ERROR);
            return;
        };
        let delivery = if receipt.state == MessageState::Delivered { Delivery::Delivered } else { Delivery::Failed };
        let (stored, stored_rx) = tokio::sync::oneshot::channel();
        reports.report(DeliveryReport {
            provider: provider.name.clone(),
            provider_message_id: receipt.message_id,
            delivery,
            status: format!("{:?}", receipt.state).to_ascii_lowercase(),
            error_code: receipt.error_code,
            stored: Some(stored),
        });
        tokio::spawn(async move {
            match tokio::time::timeout(RECEIPT_STORE_TIMEOUT, stored_rx).await {
                Ok(Ok(())) => responder.respond(status::OK),
                _ => responder.respond(status::TEMPORARY_APP_ERROR),
            }
            drop(permit);
        });
    })
}
