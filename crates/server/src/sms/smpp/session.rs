//! One SMPP session: a TCP connection to the SMSC, bound once, carrying asynchronous requests
//! matched to their responses by sequence number, with at most `window` requests outstanding.
//!
//! A reader task dispatches what the SMSC sends, a writer task writes what the session sends (so
//! neither blocks the other), and a keep-alive task sends enquire_link at a fixed interval. The
//! first of them to stop ends the session: every outstanding request then fails at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Semaphore, SemaphorePermit, mpsc, oneshot, watch};
use tokio::time::Instant;

use super::pdu::{self, Body, Pdu, PduError, ShortMessage, command, status};

#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    #[error("cannot connect to {address}: {error}")]
    Connect { address: String, error: String },
    #[error("the SMSC refused the bind with status {0:#x}")]
    BindRefused(u32),
    #[error("the SMSC did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the session is closed")]
    Closed,
    #[error("no place in the window came free in time")]
    WindowFull,
}

/// What the SMSC sends on its own: deliver_sm (receipts, mobile-originated messages).
pub type DeliverHandler = Arc<dyn Fn(ShortMessage, Responder) + Send + Sync>;

/// Answers one deliver_sm; dropping it unanswered lets the SMSC time out and send it again.
pub struct Responder {
    sequence_number: u32,
    outgoing: mpsc::UnboundedSender<Vec<u8>>,
}

impl Responder {
    pub fn respond(self, command_status: u32) {
        let resp = Pdu::new(command_status, self.sequence_number, Body::DeliverSmResp(pdu::SmResp::default()));
        let _ = self.outgoing.send(pdu::encode(&resp));
    }
}

pub struct Session {
    outgoing: mpsc::UnboundedSender<Vec<u8>>,
    pending: Mutex<HashMap<u32, oneshot::Sender<Pdu>>>,
    window: Semaphore,
    sequence: AtomicU32,
    closed: watch::Sender<bool>,
    response_timeout: Duration,
}

pub struct Opened {
    pub session: Arc<Session>,
    pub smsc_system_id: String,
    pub ended: oneshot::Receiver<String>,
}

pub struct SessionConfig {
    pub address: String,
    pub bind: Body,
    pub window: usize,
    pub response_timeout: Duration,
    pub enquire_link_interval: Duration,
}

impl Session {
    /// Connects and binds. Gives the session, the SMSC's `system_id` from the bind response, and a
    /// receiver that gets why the session ended, once it has.
    pub async fn open(config: SessionConfig, on_deliver: DeliverHandler) -> Result<Opened, SessionError> {
        let connect = TcpStream::connect(&config.address);
        let stream = tokio::time::timeout(config.response_timeout, connect)
            .await
            .map_err(|_| SessionError::Connect { address: config.address.clone(), error: "timed out".into() })?
            .map_err(|e| SessionError::Connect { address: config.address.clone(), error: e.to_string() })?;
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        let (outgoing, to_write) = mpsc::unbounded_channel();
        let (closed, _) = watch::channel(false);
        let session = Arc::new(Self {
            outgoing,
            pending: Mutex::new(HashMap::new()),
            window: Semaphore::new(config.window.max(1)),
            sequence: AtomicU32::new(0),
            closed,
            response_timeout: config.response_timeout,
        });
        let (ended_tx, ended) = oneshot::channel();
        let ending = Arc::new(Mutex::new(Some(ended_tx)));
        spawn_part(&session, &ending, write_loop(writer, to_write, session.closed.subscribe()));
        spawn_part(&session, &ending, read_loop(reader, session.clone(), on_deliver));
        spawn_part(&session, &ending, keep_alive(session.clone(), config.enquire_link_interval));
        // A bind answered late (or not at all) must not leave a session the SMSC counts as bound.
        let answer = match session.send_and_wait(config.bind, config.response_timeout).await {
            Ok(answer) => answer,
            Err(e) => {
                session.close();
                return Err(e);
            }
        };
        let smsc_system_id = match answer.body {
            Body::BindTransceiverResp(r) | Body::BindTransmitterResp(r) | Body::BindReceiverResp(r)
                if answer.command_status == status::OK =>
            {
                r.system_id
            }
            _ => {
                session.close();
                return Err(SessionError::BindRefused(answer.command_status));
            }
        };
        Ok(Opened { session, smsc_system_id, ended })
    }

    /// A place in the window, waited for until `deadline`: the submit_sm outstanding at once.
    pub async fn window_slot(&self, deadline: Instant) -> Result<SemaphorePermit<'_>, SessionError> {
        match tokio::time::timeout_at(deadline, self.window.acquire()).await {
            Ok(Ok(slot)) => Ok(slot),
            Ok(Err(_)) => Err(SessionError::Closed),
            Err(_) => Err(SessionError::WindowFull),
        }
    }

    /// Sends a request in the window place taken for it and waits up to `timeout` for its response
    /// (any status); the place is free again once the answer (or the timeout) is there.
    pub async fn request_in(
        &self,
        slot: SemaphorePermit<'_>,
        body: Body,
        timeout: Duration,
    ) -> Result<Pdu, SessionError> {
        let answer = self.send_and_wait(body, timeout).await;
        drop(slot);
        answer
    }

    /// Sends a request outside the window (bind, enquire_link, unbind: they must not queue behind
    /// submits) and waits up to `timeout` for its response.
    async fn send_and_wait(&self, body: Body, timeout: Duration) -> Result<Pdu, SessionError> {
        let sequence_number = self.next_sequence();
        let (tx, rx) = oneshot::channel();
        self.pending_map().insert(sequence_number, tx);
        if *self.closed.borrow() || self.outgoing.send(pdu::encode(&Pdu::new(0, sequence_number, body))).is_err() {
            self.pending_map().remove(&sequence_number);
            return Err(SessionError::Closed);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(SessionError::Closed),
            Err(_) => {
                self.pending_map().remove(&sequence_number);
                Err(SessionError::Timeout(timeout))
            }
        }
    }

    /// enquire_link and its answer: for the keep-alive and `orderguard doctor`.
    pub async fn enquire_link(&self) -> Result<Pdu, SessionError> {
        self.send_and_wait(Body::EnquireLink, self.response_timeout).await
    }

    pub fn is_open(&self) -> bool {
        !*self.closed.borrow()
    }

    /// Unbinds politely, then ends the session.
    pub async fn unbind(&self) {
        let _ = self.send_and_wait(Body::Unbind, Duration::from_secs(2)).await;
        self.close();
    }

    /// Ends the session now: outstanding requests fail, the connection is dropped.
    pub fn close(&self) {
        self.closed.send_replace(true);
        self.window.close();
        self.pending_map().clear();
    }

    /// Sequence numbers run from 1 to 0x7FFF_FFFF and wrap (SMPP v3.4 §5.1.4).
    fn next_sequence(&self) -> u32 {
        self.sequence.fetch_add(1, Ordering::Relaxed) % 0x7FFF_FFFF + 1
    }

    fn pending_map(&self) -> std::sync::MutexGuard<'_, HashMap<u32, oneshot::Sender<Pdu>>> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn send(&self, pdu: &Pdu) {
        let _ = self.outgoing.send(pdu::encode(pdu));
    }
}

/// Runs one of the session's tasks; the first to end closes the session and reports why.
fn spawn_part(
    session: &Arc<Session>,
    ending: &Arc<Mutex<Option<oneshot::Sender<String>>>>,
    part: impl Future<Output = String> + Send + 'static,
) {
    let (session, ending) = (session.clone(), ending.clone());
    let mut closed = session.closed.subscribe();
    tokio::spawn(async move {
        let reason = tokio::select! {
            reason = part => reason,
            _ = closed.wait_for(|c| *c) => "closed by orderguard".to_owned(),
        };
        session.close();
        if let Some(tx) = ending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            let _ = tx.send(reason);
        }
    });
}

async fn write_loop(
    mut writer: OwnedWriteHalf,
    mut to_write: mpsc::UnboundedReceiver<Vec<u8>>,
    mut closed: watch::Receiver<bool>,
) -> String {
    let mut batch = Vec::with_capacity(4096);
    loop {
        let first = tokio::select! {
            next = to_write.recv() => next,
            _ = closed.wait_for(|c| *c) => None,
        };
        let Some(first) = first else {
            // What was queued before the close (a generic_nack, an unbind_resp) still goes out.
            batch.clear();
            while let Ok(last) = to_write.try_recv() {
                batch.extend_from_slice(&last);
            }
            let _ = writer.write_all(&batch).await;
            let _ = writer.shutdown().await;
            return "closed by orderguard".into();
        };
        // Everything queued meanwhile goes out in the same write: far fewer system calls at a
        // wide window.
        batch.clear();
        batch.extend_from_slice(&first);
        while batch.len() < 64 * 1024 {
            match to_write.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if let Err(e) = writer.write_all(&batch).await {
            return format!("writing to the SMSC failed: {e}");
        }
    }
}

async fn read_loop(mut reader: OwnedReadHalf, session: Arc<Session>, on_deliver: DeliverHandler) -> String {
    let mut buffer: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0_u8; 16 * 1024];
    loop {
        loop {
            let length = match pdu::frame_length(&buffer) {
                Ok(Some(length)) if buffer.len() >= length => length,
                Ok(_) => break,
                Err(e) => return malformed(&session, &e),
            };
            let frame: Vec<u8> = buffer.drain(..length).collect();
            match pdu::decode(&frame) {
                Ok(pdu) => {
                    if let Some(reason) = dispatch(&session, pdu, &on_deliver) {
                        return reason;
                    }
                }
                Err(e) => undecodable(&session, &frame, &e),
            }
        }
        match reader.read(&mut chunk).await {
            Ok(0) => return "the SMSC closed the connection".into(),
            Ok(n) => buffer.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) => return format!("reading from the SMSC failed: {e}"),
        }
    }
}

/// A byte stream that cannot be split into PDUs: tell the SMSC (generic_nack) and end the
/// session, as SMPP v3.4 §2.10 allows; the provider binds again.
fn malformed(session: &Session, error: &PduError) -> String {
    tracing::error!(%error, "malformed PDU from the SMSC: closing the session");
    session.send(&Pdu::new(status::INVALID_COMMAND_LENGTH, 0, Body::GenericNack));
    format!("malformed PDU from the SMSC: {error}")
}

/// A whole PDU this client cannot read (an unknown command such as data_sm, or a bad body): a
/// request gets a generic_nack and the session goes on, so that an SMSC repeating it cannot keep
/// the session down; a response wakes its request with the failure.
fn undecodable(session: &Session, frame: &[u8], error: &PduError) {
    let Some((command_id, sequence_number)) = pdu::header_ids(frame) else { return };
    tracing::warn!(%error, command_id = format!("{command_id:#010x}"), "PDU from the SMSC not understood");
    if command_id & 0x8000_0000 != 0 {
        session.pending_map().remove(&sequence_number);
        return;
    }
    let status = match error {
        PduError::UnknownCommand(_) => status::INVALID_COMMAND_ID,
        _ => status::INVALID_COMMAND_LENGTH,
    };
    session.send(&Pdu::new(status, sequence_number, Body::GenericNack));
}

/// Handles one PDU from the SMSC; `Some(reason)` ends the session.
fn dispatch(session: &Session, pdu: Pdu, on_deliver: &DeliverHandler) -> Option<String> {
    let sequence_number = pdu.sequence_number;
    match pdu.body {
        Body::DeliverSm(sm) => {
            on_deliver(sm, Responder { sequence_number, outgoing: session.outgoing.clone() });
            None
        }
        Body::EnquireLink => {
            session.send(&Pdu::new(status::OK, sequence_number, Body::EnquireLinkResp));
            None
        }
        Body::Unbind => {
            session.send(&Pdu::new(status::OK, sequence_number, Body::UnbindResp));
            Some("the SMSC unbound".into())
        }
        _ if pdu.command_id & 0x8000_0000 != 0 => {
            // A response (or generic_nack) to one of ours; one nobody waits for any more timed out.
            if let Some(waiting) = session.pending_map().remove(&sequence_number) {
                let _ = waiting.send(pdu);
            }
            None
        }
        _ => {
            session.send(&Pdu::new(status::INVALID_COMMAND_ID, sequence_number, Body::GenericNack));
            None
        }
    }
}

/// Sends enquire_link every `interval`; a link that does not answer is dead.
async fn keep_alive(session: Arc<Session>, interval: Duration) -> String {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        tick.tick().await;
        match session.enquire_link().await {
            Ok(resp) if resp.command_id == command::ENQUIRE_LINK_RESP => {}
            Ok(resp) => return format!("enquire_link answered with {:#x}", resp.command_id),
            Err(e) => return format!("enquire_link failed: {e}"),
        }
    }
}
