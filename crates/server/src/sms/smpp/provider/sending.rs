//! Sending a message: its parts over one bind, within the window and the pacing, again while the
//! SMSC throttles.

use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::SmppProvider;
use super::binds::BindSlot;
use crate::identity::BoxFuture;
use crate::sms::smpp::address;
use crate::sms::smpp::encoding::{encode_text, split_concatenated};
use crate::sms::smpp::pdu::{self, Body, ShortMessage, status};
use crate::sms::smpp::session::{Session, SessionError};
use crate::sms::{OutgoingSms, SmsError, SmsGateway, Submitted};

impl SmppProvider {
    /// Submits one PDU on the bind, in the window, paced, and again while the SMSC throttles. A
    /// submit goes out only with a whole `response_timeout` left before `deadline`: one sent with
    /// less would likely time out, and the next provider would then send the message a second time.
    async fn submit(
        &self,
        slot: &BindSlot,
        session: &Session,
        sm: &ShortMessage,
        deadline: Instant,
        country: &str,
    ) -> Result<String, SmsError> {
        let latest_send = deadline.checked_sub(self.response_timeout).unwrap_or(deadline);
        let too_late = || SmsError::Unavailable("the SMSC's window or rate limit leaves no time to send".into());
        loop {
            let place = session.window_slot(latest_send).await.map_err(|e| match e {
                SessionError::WindowFull => too_late(),
                other => SmsError::Unavailable(other.to_string()),
            })?;
            let turn = slot.pacing().book(Instant::now(), latest_send).ok_or_else(too_late)?;
            // A timer, even one already due, costs up to a millisecond: only wait when there is a wait.
            if turn > Instant::now() {
                tokio::time::sleep_until(turn).await;
            }
            let sent = Instant::now();
            let resp = session.request_in(place, Body::SubmitSm(sm.clone()), self.response_timeout).await.map_err(
                |e| match e {
                    SessionError::Timeout(t) => SmsError::Unavailable(format!("no submit_sm_resp within {t:?}")),
                    other => SmsError::Unavailable(other.to_string()),
                },
            )?;
            match (resp.command_status, resp.body) {
                (status::OK, Body::SubmitSmResp(r)) => {
                    slot.pacing().accepted();
                    return Ok(r.message_id);
                }
                (status::THROTTLED | status::MESSAGE_QUEUE_FULL, _) => {
                    if let Some(metrics) = self.metrics.get() {
                        metrics.increment(
                            "orderguard_sms_throttled_total",
                            &[("provider", &self.name), ("country", country)],
                        );
                    }
                    slot.pacing().throttled(sent, Instant::now());
                }
                (code, _) if is_temporary(code) => {
                    return Err(SmsError::Unavailable(format!("the SMSC answered {}", status_name(code))));
                }
                (code, _) => return Err(SmsError::Rejected(format!("the SMSC refused it: {}", status_name(code)))),
            }
        }
    }

    /// Sends the message (all its parts over one bind, in order); the provider's id of the last
    /// part names it, as its receipt arrives last.
    pub async fn send_message(&self, sms: &OutgoingSms<'_>) -> Result<String, SmsError> {
        let deadline = Instant::now() + self.send_timeout;
        let (data_coding, octets) = encode_text(sms.text);
        let reference = self.next_reference.fetch_add(1, Ordering::Relaxed);
        let parts =
            split_concatenated(data_coding, &octets, reference).map_err(|e| SmsError::Rejected(e.to_string()))?;
        let source = address::source(sms.sender_id);
        let destination = address::destination(sms.to);
        let esm_class = if parts.len() > 1 { pdu::ESM_CLASS_UDHI } else { 0 };
        let (slot, session) = self.transmitting_slot(deadline).await?;
        let mut message_id = String::new();
        let count = parts.len();
        for (index, part) in parts.into_iter().enumerate() {
            let sm = ShortMessage {
                source_addr_ton: source.ton,
                source_addr_npi: source.npi,
                source_addr: source.value.clone(),
                dest_addr_ton: destination.ton,
                dest_addr_npi: destination.npi,
                destination_addr: destination.value.clone(),
                esm_class,
                registered_delivery: self.registered_delivery,
                data_coding,
                short_message: part,
                ..ShortMessage::default()
            };
            message_id = self.submit(&slot, &session, &sm, deadline, sms.country).await?;
            if index + 1 < count {
                self.remember_leading_part(&message_id);
            }
        }
        Ok(message_id)
    }
}

impl SmsGateway for SmppProvider {
    fn send<'a>(&'a self, sms: &'a OutgoingSms<'a>) -> BoxFuture<'a, Result<Submitted, SmsError>> {
        Box::pin(async move {
            let id = self.send_message(sms).await?;
            Ok(Submitted { provider_message_id: Some(id), kept: None })
        })
    }
}

/// Statuses after which the same message may well pass later or elsewhere.
fn is_temporary(code: u32) -> bool {
    matches!(code, status::SYSTEM_ERROR | status::INCORRECT_BIND_STATUS | status::TEMPORARY_APP_ERROR)
}

fn status_name(code: u32) -> String {
    let name = match code {
        status::INVALID_DESTINATION => "invalid destination address (ESME_RINVDSTADR)",
        status::SYSTEM_ERROR => "system error (ESME_RSYSERR)",
        status::INCORRECT_BIND_STATUS => "not bound to send (ESME_RINVBNDSTS)",
        0x0A => "invalid source address (ESME_RINVSRCADR)",
        0x45 => "submit failed (ESME_RSUBMITFAIL)",
        0x61 => "invalid scheduled delivery time (ESME_RINVSCHED)",
        0x62 => "invalid validity period (ESME_RINVEXPIRY)",
        status::TEMPORARY_APP_ERROR => "temporary application error (ESME_RX_T_APPN)",
        0x65 => "permanent application error (ESME_RX_P_APPN)",
        0x66 => "rejected by the SMSC (ESME_RX_R_APPN)",
        _ => "",
    };
    if name.is_empty() { format!("status {code:#x}") } else { format!("{name}, status {code:#x}") }
}
