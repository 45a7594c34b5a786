//! One SMPP session: a TCP connection to the SMSC, bound once, carrying asynchronous requests
//! matched to their responses by sequence number, with at most `window` requests outstanding.
//!
//! A reader task dispatches what the SMSC sends, a writer task writes what the session sends (so
//! neither blocks the other), and a keep-alive task sends enquire_link at a fixed interval. The
//! first of them to stop ends the session: every outstanding request then fails at once.
//!
//! The queue of PDUs to write is bounded: an SMSC that stops reading must not fill memory. Our
//! requests wait for room in it (within their timeout, else they were not sent); the reader takes
//! room for the answer to each request of the SMSC before it reads on (responses need none), so
//! that an SMSC sending without reading what it is answered soon finds its own writes blocked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, SemaphorePermit, mpsc, oneshot, watch};
use tokio::time::Instant;

use super::pdu::{self, Body, Pdu, PduError, ShortMessage, command, status};
use super::tls::SmppTls;

#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    #[error("cannot connect to {address}: {error}")]
    Connect { address: String, error: String },
    #[error("TLS with {address} failed: {error}")]
    Tls { address: String, error: String },
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
    /// The room in the outgoing queue the reader took for this answer.
    room: mpsc::OwnedPermit<Vec<u8>>,
}

impl Responder {
    pub fn respond(self, command_status: u32) {
        let resp = Pdu::new(command_status, self.sequence_number, Body::DeliverSmResp(pdu::SmResp::default()));
        self.room.send(pdu::encode(&resp));
    }
}

/// PDUs waiting to be written, at most: far more than a window of submits and the answers to a
/// burst of receipts, far less than memory.
pub const OUTGOING_QUEUE: usize = 1024;

pub struct Session {
    outgoing: mpsc::Sender<Vec<u8>>,
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
    /// SMPP over TLS; plain TCP without it.
    pub tls: Option<Arc<SmppTls>>,
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
        let (outgoing, to_write) = mpsc::channel(OUTGOING_QUEUE.max(config.window + 16));
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
        match &config.tls {
            None => {
                let (reader, writer) = stream.into_split();
                spawn_part(&session, &ending, write_loop(writer, to_write, session.closed.subscribe()));
                spawn_part(&session, &ending, read_loop(reader, session.clone(), on_deliver));
            }
            Some(tls) => {
                let handshake = tokio::time::timeout(config.response_timeout, tls.connect(stream));
                let stream = handshake
                    .await
                    .map_err(|_| SessionError::Tls { address: config.address.clone(), error: "timed out".into() })?
                    .map_err(|e| SessionError::Tls { address: config.address.clone(), error: e.to_string() })?;
                let (reader, writer) = tokio::io::split(stream);
                spawn_part(&session, &ending, write_loop(writer, to_write, session.closed.subscribe()));
                spawn_part(&session, &ending, read_loop(reader, session.clone(), on_deliver));
            }
        }
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
        // Waits for room in the queue: an SMSC that does not read holds its senders back. No room
        // in time means not sent (so another provider may send it without a duplicate).
        let room = match tokio::time::timeout(timeout, self.outgoing.reserve()).await {
            Ok(Ok(room)) if !*self.closed.borrow() => room,
            Ok(_) => return Err(SessionError::Closed),
            Err(_) => return Err(SessionError::WindowFull),
        };
        let sequence_number = self.next_sequence();
        let (tx, rx) = oneshot::channel();
        self.pending_map().insert(sequence_number, tx);
        room.send(pdu::encode(&Pdu::new(0, sequence_number, body)));
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
    mut writer: impl AsyncWrite + Unpin,
    mut to_write: mpsc::Receiver<Vec<u8>>,
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

async fn read_loop(mut reader: impl AsyncRead + Unpin, session: Arc<Session>, on_deliver: DeliverHandler) -> String {
    let mut buffer: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0_u8; 16 * 1024];
    loop {
        loop {
            let length = match pdu::frame_length(&buffer) {
                Ok(Some(length)) if buffer.len() >= length => length,
                Ok(_) => break,
                Err(e) => return malformed(&session, &e).await,
            };
            // Room for the answer to a request, before it is read: while the SMSC does not read our
            // answers, we stop reading its requests. Responses to ours need no room.
            let request = pdu::header_ids(buffer.get(..length).unwrap_or_default())
                .is_some_and(|(command_id, _)| command_id & 0x8000_0000 == 0);
            let room = if request {
                match session.outgoing.clone().reserve_owned().await {
                    Ok(room) => Some(room),
                    Err(_) => return "closed by orderguard".into(),
                }
            } else {
                None
            };
            let frame: Vec<u8> = buffer.drain(..length).collect();
            match pdu::decode(&frame) {
                Ok(pdu) => {
                    if let Some(reason) = dispatch(&session, pdu, room, &on_deliver) {
                        return reason;
                    }
                }
                Err(e) => undecodable(&session, &frame, room, &e),
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
async fn malformed(session: &Session, error: &PduError) -> String {
    tracing::error!(%error, "malformed PDU from the SMSC: closing the session");
    if let Ok(room) = session.outgoing.try_reserve() {
        room.send(pdu::encode(&Pdu::new(status::INVALID_COMMAND_LENGTH, 0, Body::GenericNack)));
    }
    format!("malformed PDU from the SMSC: {error}")
}

/// A whole PDU this client cannot read (an unknown command such as data_sm, or a bad body): a
/// request gets a generic_nack and the session goes on, so that an SMSC repeating it cannot keep
/// the session down; a response wakes its request with the failure.
fn undecodable(session: &Session, frame: &[u8], room: Option<mpsc::OwnedPermit<Vec<u8>>>, error: &PduError) {
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
    if let Some(room) = room {
        room.send(pdu::encode(&Pdu::new(status, sequence_number, Body::GenericNack)));
    }
}

/// Handles one PDU from the SMSC; `Some(reason)` ends the session.
fn dispatch(
    session: &Session,
    pdu: Pdu,
    room: Option<mpsc::OwnedPermit<Vec<u8>>>,
    on_deliver: &DeliverHandler,
) -> Option<String> {
    let sequence_number = pdu.sequence_number;
    let answer = |room: Option<mpsc::OwnedPermit<Vec<u8>>>, status: u32, body: Body| {
        if let Some(room) = room {
            room.send(pdu::encode(&Pdu::new(status, sequence_number, body)));
        }
    };
    match pdu.body {
        Body::DeliverSm(sm) => {
            if let Some(room) = room {
                on_deliver(sm, Responder { sequence_number, room });
            }
            None
        }
        Body::EnquireLink => {
            answer(room, status::OK, Body::EnquireLinkResp);
            None
        }
        Body::Unbind => {
            answer(room, status::OK, Body::UnbindResp);
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
            answer(room, status::INVALID_COMMAND_ID, Body::GenericNack);
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// An SMSC that binds, then sends receipts faster than they are answered: orderguard reads on
    /// only while there is room for the answers, so it holds at most `OUTGOING_QUEUE` of them and
    /// the rest waits in the connection (the SMSC's writes stall once that is full).
    #[tokio::test]
    async fn an_smsc_that_stops_reading_is_held_back() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let smsc = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut header = [0_u8; 16];
            socket.read_exact(&mut header).await.unwrap();
            let length = usize::try_from(u32::from_be_bytes(header[..4].try_into().unwrap())).unwrap();
            let mut rest = vec![0_u8; length - 16];
            socket.read_exact(&mut rest).await.unwrap();
            let sequence = u32::from_be_bytes(header[12..16].try_into().unwrap());
            let bound = Body::BindTransceiverResp(pdu::BindResp { system_id: "smsc".into(), tlvs: Vec::new() });
            socket.write_all(&pdu::encode(&Pdu::new(status::OK, sequence, bound))).await.unwrap();
            let receipt = ShortMessage { short_message: b"id:1 stat:DELIVRD".to_vec(), ..ShortMessage::default() };
            for n in 0..3 * OUTGOING_QUEUE {
                let sequence = u32::try_from(n).unwrap() + 100;
                socket.write_all(&pdu::encode(&Pdu::new(0, sequence, Body::DeliverSm(receipt.clone())))).await.unwrap();
            }
            socket
        });
        // A receiver that answers nothing yet: it keeps each answer's room.
        let (seen, kept) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Vec::new())));
        let (seen_inside, kept_inside) = (seen.clone(), kept.clone());
        let on_deliver: DeliverHandler = Arc::new(move |_, responder| {
            seen_inside.fetch_add(1, Ordering::Relaxed);
            kept_inside.lock().unwrap().push(responder);
        });
        let bind = Body::BindTransceiver(pdu::Bind {
            system_id: "og".into(),
            password: "pw".into(),
            system_type: String::new(),
            interface_version: 0x34,
            addr_ton: 0,
            addr_npi: 0,
            address_range: String::new(),
        });
        let config = SessionConfig {
            address,
            bind,
            window: 10,
            response_timeout: Duration::from_secs(5),
            enquire_link_interval: Duration::from_secs(600),
            tls: None,
        };
        let opened = Session::open(config, on_deliver).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(seen.load(Ordering::Relaxed), OUTGOING_QUEUE, "read no further than it can answer");
        // Answers going out make room: reading goes on.
        for responder in kept.lock().unwrap().drain(..) {
            responder.respond(status::OK);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(seen.load(Ordering::Relaxed) > OUTGOING_QUEUE);
        opened.session.close();
        smsc.abort();
    }
}
