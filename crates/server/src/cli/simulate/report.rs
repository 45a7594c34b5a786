//! What the API answered, per brand: the figures the dashboards must show.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::defences::Defences;

/// What the API answered, per brand.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tally {
    pub started: u64,
    pub blocked: u64,
    /// Held for review (`in_review`): no code was sent.
    #[serde(default)]
    pub held: u64,
    pub approved: u64,
    pub failed: u64,
    pub canceled: u64,
    pub expired: u64,
    pub resent: u64,
    pub wrong_codes: u64,
    /// Checks and resends a lock or limit refused (`429`).
    #[serde(default)]
    pub refused_by_lock: u64,
    pub sms_delivered: u64,
    pub sms_failed: u64,
    pub orders_without_two_factor: u64,
    /// Outcome → orders reported with it.
    pub outcomes: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    /// RFC 3339: the first and last simulated moment.
    pub from: String,
    pub to: String,
    pub brands: BTreeMap<String, Tally>,
    /// What the fraud defences let through, attackers and honest customers apart.
    #[serde(default)]
    pub defences: Defences,
    /// The incidents placed on known days for the alert rules.
    #[serde(default)]
    pub incidents: Vec<Incident>,
}

/// An incident: what, on which brand, from when until when (RFC 3339), and the alert rule it
/// should raise.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Incident {
    pub name: String,
    pub brand: String,
    pub at: String,
    pub until: String,
    pub alert_rule: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    #[error("{0}")]
    Setup(String),
    #[error("{what}: {source}")]
    Http { what: String, source: reqwest::Error },
    #[error("{what}: answered {status}: {body}")]
    Unexpected { what: String, status: u16, body: String },
    #[error("{0}")]
    Unsettled(&'static str),
}
