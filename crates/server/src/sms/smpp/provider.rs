//! The SMPP provider (ESME): keeps its binds to the SMSC up, submits messages over them within the
//! window and rate the SMSC allows, and turns delivery receipts into delivery reports.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use super::address;
use super::encoding::{encode_text, split_concatenated};
use super::pdu::{self, Bind, Body, ShortMessage, status};
use super::receipt::{MessageState, parse_receipt};
use super::session::{DeliverHandler, Opened, Responder, Session, SessionConfig, SessionError};
use crate::config::{ConfigError, SmppBindMode, SmppProviderConfig, resolve_secrets};
use crate::identity::BoxFuture;
use crate::metrics::Metrics;
use crate::sms::delivery::{Delivery, DeliveryReport, DeliveryReports};
use crate::sms::{OutgoingSms, SmsError, SmsGateway, Submitted};

const RECONNECT_MIN: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(30);
/// Bounds of the pause a bind takes when the SMSC throttles.
const THROTTLE_PAUSE_MIN: Duration = Duration::from_millis(20);
const THROTTLE_PAUSE_MAX: Duration = Duration::from_secs(1);
/// How long a receipt may wait to be stored before the SMSC is told to send it again.
const RECEIPT_STORE_TIMEOUT: Duration = Duration::from_secs(10);
/// deliver_sm_resp status asking the SMSC to repeat the receipt later (ESME_RX_T_APPN).
const TEMPORARY_APP_ERROR: u32 = 0x64;
/// Receipts of one session waiting to be stored before the SMSC is asked to wait.
const RECEIPTS_IN_FLIGHT: usize = 1024;
/// Ids of leading parts remembered to drop their receipts; a long message is rare for a code.
const LEADING_PARTS_KEPT: usize = 10_000;
/// A session that lasted this long was healthy: the next reconnect starts with a short pause again.
const HEALTHY_SESSION: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BindKind {
    Transceiver,
    Transmitter,
    Receiver,
}

impl BindKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Transceiver => "transceiver",
            Self::Transmitter => "transmitter",
            Self::Receiver => "receiver",
        }
    }
}

/// One connection the provider keeps bound.
struct BindSlot {
    kind: BindKind,
    label: String,
    current: Mutex<Option<Arc<Session>>>,
    pacing: Mutex<Pacing>,
}

impl BindSlot {
    fn session(&self) -> Option<Arc<Session>> {
        self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone().filter(|s| s.is_open())
    }

    fn set_session(&self, session: Option<Arc<Session>>) {
        *self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = session;
    }

    fn pacing(&self) -> std::sync::MutexGuard<'_, Pacing> {
        self.pacing.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// When each submit_sm of a bind may go out: no faster than the configured rate, and not while
/// the SMSC throttles. A throttling answer pauses the bind; the pause doubles while the SMSC keeps
/// throttling submits sent after the last pause began (answers to earlier ones say nothing new)
/// and is forgotten at the first accepted submit. SMSCs that count per second are thus met with
/// pauses of at most about a second, and nothing is booked far ahead.
#[derive(Debug)]
struct Pacing {
    interval: Duration,
    pause: Duration,
    next: Instant,
    paused_at: Instant,
}

impl Pacing {
    fn new(max_per_second: Option<u32>, now: Instant) -> Self {
        let interval = max_per_second.map_or(Duration::ZERO, |rate| Duration::from_secs(1) / rate.max(1));
        Self { interval, pause: Duration::ZERO, next: now, paused_at: now }
    }

    /// Books the next free turn if it comes by `latest`, and gives its time; a turn that would come
    /// too late is not booked, so that messages which give up do not push the others back.
    fn book(&mut self, now: Instant, latest: Instant) -> Option<Instant> {
        let turn = self.next.max(now);
        if turn > latest {
            return None;
        }
        self.next = turn + self.interval;
        Some(turn)
    }

    /// A submit sent at `sent` was throttled.
    fn throttled(&mut self, sent: Instant, now: Instant) {
        if sent >= self.paused_at {
            self.pause = (self.pause * 2).clamp(THROTTLE_PAUSE_MIN, THROTTLE_PAUSE_MAX);
            self.paused_at = now;
        }
        self.next = self.next.max(now + self.pause);
    }

    fn accepted(&mut self) {
        self.pause = Duration::ZERO;
    }
}

/// What a running provider needs from the server.
#[derive(Clone)]
pub struct ProviderContext {
    pub reports: DeliveryReports,
    pub metrics: Arc<Metrics>,
}

pub struct SmppProvider {
    name: String,
    address: String,
    bind: Bind,
    window: usize,
    registered_delivery: u8,
    enquire_link_interval: Duration,
    send_timeout: Duration,
    response_timeout: Duration,
    slots: Vec<Arc<BindSlot>>,
    next_slot: AtomicUsize,
    next_reference: AtomicU8,
    /// SMSC ids of the leading parts of long messages, whose receipts say nothing more than the
    /// last part's.
    leading_parts: Mutex<HashSet<String>>,
    stop: watch::Sender<bool>,
    metrics: OnceLock<Arc<Metrics>>,
}

/// What `orderguard doctor` learns from one bind.
#[derive(Debug)]
pub struct Probe {
    pub bind_kind: &'static str,
    pub smsc_system_id: String,
    pub bind: Duration,
    pub enquire_link: Duration,
}

impl SmppProvider {
    pub fn new(name: &str, config: &SmppProviderConfig) -> Result<Self, ConfigError> {
        let invalid = |what: String| ConfigError::Invalid(format!("sms_providers.{name}: {what}"));
        if !config.address.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        {
            return Err(invalid(format!("address `{}` must be host:port", config.address)));
        }
        let system_id = resolve_secrets(&config.system_id)?;
        let password = resolve_secrets(&config.password)?;
        for (field, value, max) in [
            ("system_id", &system_id, 15),
            ("password", &password, 8),
            ("system_type", &config.system_type, 12),
            ("address_range", &config.address_range, 40),
        ] {
            if value.len() > max || !value.is_ascii() {
                return Err(invalid(format!("{field} must be at most {max} ASCII characters")));
            }
        }
        if !(1..=16).contains(&config.binds) || !(1..=1000).contains(&config.window) {
            return Err(invalid("binds must be 1 to 16 and window 1 to 1000".into()));
        }
        if config.max_per_second == Some(0) {
            return Err(invalid("max_per_second must be at least 1 (leave it out for no cap)".into()));
        }
        if !(1..=300).contains(&config.enquire_link_seconds) {
            return Err(invalid("enquire_link_seconds must be 1 to 300".into()));
        }
        // A sender holds a message for a lease; the whole hand-off must end within it.
        let allowed_ms = crate::sms::queue::LONGEST_HAND_OFF_MS;
        let allowed_ms = u64::try_from(allowed_ms).unwrap_or(0);
        if !(500..=allowed_ms).contains(&config.send_timeout_ms) {
            return Err(invalid(format!("send_timeout_ms must be 500 to {allowed_ms}")));
        }
        if !(100..=config.send_timeout_ms).contains(&config.response_timeout_ms) {
            return Err(invalid("response_timeout_ms must be 100 to send_timeout_ms".into()));
        }
        let kinds: Vec<BindKind> = match config.bind_mode {
            SmppBindMode::Transceiver => vec![BindKind::Transceiver; config.binds],
            SmppBindMode::TransmitterReceiver => {
                let mut kinds = vec![BindKind::Transmitter; config.binds];
                kinds.push(BindKind::Receiver);
                kinds
            }
        };
        let slots = kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| {
                Arc::new(BindSlot {
                    kind,
                    label: format!("{}-{}", kind.as_str(), i + 1),
                    current: Mutex::new(None),
                    pacing: Mutex::new(Pacing::new(config.max_per_second, Instant::now())),
                })
            })
            .collect();
        Ok(Self {
            name: name.to_owned(),
            address: config.address.clone(),
            bind: Bind {
                system_id,
                password,
                system_type: config.system_type.clone(),
                interface_version: pdu::INTERFACE_VERSION,
                addr_ton: 0,
                addr_npi: 0,
                address_range: config.address_range.clone(),
            },
            window: config.window,
            registered_delivery: if config.delivery_receipts { pdu::REGISTERED_DELIVERY_FINAL } else { 0 },
            enquire_link_interval: Duration::from_secs(config.enquire_link_seconds),
            send_timeout: Duration::from_millis(config.send_timeout_ms),
            response_timeout: Duration::from_millis(config.response_timeout_ms),
            slots,
            next_slot: AtomicUsize::new(0),
            next_reference: AtomicU8::new(rand_u8()),
            leading_parts: Mutex::new(HashSet::new()),
            stop: watch::channel(false).0,
            metrics: OnceLock::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Starts keeping every bind up, until `stop`.
    pub fn start(self: &Arc<Self>, context: &ProviderContext) {
        let _ = self.metrics.set(context.metrics.clone());
        for slot in &self.slots {
            tokio::spawn(self.clone().keep_bound(slot.clone(), context.clone()));
        }
    }

    /// Unbinds every session and stops reconnecting.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    fn remember_leading_part(&self, id: &str) {
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

    /// Whether a bind that can send is up within `timeout`.
    pub async fn wait_until_bound(&self, timeout: Duration) -> bool {
        self.transmitting_slot(Instant::now() + timeout).await.is_ok()
    }

    /// Binds once, asks enquire_link, unbinds: for `orderguard doctor`.
    pub async fn probe(&self) -> Result<Probe, SessionError> {
        let started = Instant::now();
        let kind = self.slots.first().map_or(BindKind::Transceiver, |s| s.kind);
        let opened =
            Session::open(self.session_config(kind), Arc::new(|_, r: Responder| r.respond(status::OK))).await?;
        let bind = started.elapsed();
        let asked = Instant::now();
        let answer = opened.session.enquire_link().await;
        let enquire_link = asked.elapsed();
        opened.session.unbind().await;
        answer?;
        Ok(Probe { bind_kind: kind.as_str(), smsc_system_id: opened.smsc_system_id, bind, enquire_link })
    }

    fn session_config(&self, kind: BindKind) -> SessionConfig {
        let bind = self.bind.clone();
        SessionConfig {
            address: self.address.clone(),
            bind: match kind {
                BindKind::Transceiver => Body::BindTransceiver(bind),
                BindKind::Transmitter => Body::BindTransmitter(bind),
                BindKind::Receiver => Body::BindReceiver(bind),
            },
            window: self.window,
            response_timeout: self.response_timeout,
            enquire_link_interval: self.enquire_link_interval,
        }
    }

    /// Binds, and binds again after the session ends, with growing pauses while the SMSC is away.
    async fn keep_bound(self: Arc<Self>, slot: Arc<BindSlot>, context: ProviderContext) {
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
    async fn transmitting_slot(&self, deadline: Instant) -> Result<(Arc<BindSlot>, Arc<Session>), SmsError> {
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

/// Receipts become delivery reports; the SMSC gets its deliver_sm_resp once the report is stored,
/// so that a receipt is never lost to a crash. Receipts for the leading parts of a long message
/// (only the last part's id is kept) and other deliver_sm (replies from handsets) are acknowledged
/// at once and dropped. At most `RECEIPTS_IN_FLIGHT` receipts wait to be stored per session: an
/// SMSC that floods is told to send the rest again later.
fn receipt_handler(provider: Arc<SmppProvider>, reports: DeliveryReports) -> DeliverHandler {
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
            responder.respond(TEMPORARY_APP_ERROR);
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
                _ => responder.respond(TEMPORARY_APP_ERROR),
            }
            drop(permit);
        });
    })
}

/// Resolves once the provider is told to stop.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Statuses after which the same message may well pass later or elsewhere.
fn is_temporary(code: u32) -> bool {
    matches!(code, status::SYSTEM_ERROR | status::INCORRECT_BIND_STATUS | TEMPORARY_APP_ERROR)
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
        0x64 => "temporary application error (ESME_RX_T_APPN)",
        0x65 => "permanent application error (ESME_RX_P_APPN)",
        0x66 => "rejected by the SMSC (ESME_RX_R_APPN)",
        _ => "",
    };
    if name.is_empty() { format!("status {code:#x}") } else { format!("{name}, status {code:#x}") }
}

fn rand_u8() -> u8 {
    let [value] = crate::ids::random_bytes::<1>();
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_keeps_the_configured_rate() {
        let start = Instant::now();
        let mut pacing = Pacing::new(Some(100), start);
        let far = start + Duration::from_secs(60);
        let turns: Vec<Duration> = (0..3).map(|_| pacing.book(start, far).unwrap() - start).collect();
        assert_eq!(turns, [Duration::ZERO, Duration::from_millis(10), Duration::from_millis(20)]);
        // Turns that would come too late are refused and not booked.
        let soon = start + Duration::from_millis(25);
        assert_eq!(pacing.book(start, soon), None);
        assert_eq!(pacing.book(start, soon), None);
        assert_eq!(pacing.book(start, far), Some(start + Duration::from_millis(30)));
    }

    #[test]
    fn throttling_pauses_the_bind_longer_while_it_goes_on() {
        let start = Instant::now();
        let mut pacing = Pacing::new(None, start);
        let far = start + Duration::from_secs(60);
        assert_eq!(pacing.book(start, far), Some(start), "no cap: no wait");
        // A window's worth of submits sent together and throttled pauses the bind once.
        let answered = start + Duration::from_millis(3);
        for _ in 0..20 {
            pacing.throttled(start, answered);
        }
        assert_eq!(pacing.book(answered, far), Some(answered + THROTTLE_PAUSE_MIN));
        // A submit sent after the pause and throttled again doubles it.
        let later = answered + THROTTLE_PAUSE_MIN;
        pacing.throttled(later, later);
        assert_eq!(pacing.book(later, far), Some(later + THROTTLE_PAUSE_MIN * 2));
        for n in 0..10 {
            let now = later + Duration::from_secs(n);
            pacing.throttled(now, now);
        }
        assert_eq!(pacing.pause, THROTTLE_PAUSE_MAX);
        pacing.accepted();
        let now = later + Duration::from_secs(20);
        assert_eq!(pacing.book(now, now + Duration::from_secs(60)), Some(now), "an accepted submit ends the pauses");
    }
}
