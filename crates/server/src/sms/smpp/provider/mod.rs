//! The SMPP provider (ESME): keeps its binds to the SMSC up, submits messages over them within the
//! window and rate the SMSC allows, and turns delivery receipts into delivery reports.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU8, AtomicUsize};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::pdu::{self, Bind, Body, status};
use super::session::{Responder, Session, SessionConfig, SessionError};
use super::tls::SmppTls;
use crate::config::{ConfigError, SmppBindMode, SmppProviderConfig, resolve_secrets};
use crate::metrics::Metrics;
use crate::sms::delivery::DeliveryReports;
use binds::{BindKind, BindSlot};

mod binds;
mod pacing;
mod receipts;
mod sending;

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
    tls: Option<Arc<SmppTls>>,
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
        let password = resolve_secrets(config.password.expose_secret())?;
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
        let tls = if config.tls {
            // `[::1]:3550`: the certificate names the address without its brackets.
            let host = config
                .address
                .rsplit_once(':')
                .map_or("", |(host, _)| host.trim_start_matches('[').trim_end_matches(']'));
            let server_name = config.tls_server_name.as_deref().unwrap_or(host);
            Some(Arc::new(SmppTls::new(server_name, config.ca_certificate.as_deref()).map_err(invalid)?))
        } else if config.ca_certificate.is_some() || config.tls_server_name.is_some() {
            return Err(invalid("ca_certificate and tls_server_name need tls = true".into()));
        } else {
            None
        };
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
            .map(|(i, kind)| Arc::new(BindSlot::new(kind, i + 1, config.max_per_second)))
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
            tls,
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
            tls: self.tls.clone(),
        }
    }
}

fn rand_u8() -> u8 {
    let [value] = crate::ids::random_bytes::<1>();
    value
}
