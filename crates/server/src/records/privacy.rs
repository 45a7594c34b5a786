//! The register of data-subject requests, and the logs retention prunes.

/// A log kept beside the verifications, with a retention period of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetainedLog {
    ReviewNotes,
    AuditLog,
    WebhookDeliveries,
    Alerts,
}

impl RetainedLog {
    pub const ALL: [RetainedLog; 4] = [Self::ReviewNotes, Self::AuditLog, Self::WebhookDeliveries, Self::Alerts];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReviewNotes => "review notes",
            Self::AuditLog => "audit log entries",
            Self::WebhookDeliveries => "webhook deliveries",
            Self::Alerts => "resolved alerts",
        }
    }
}

/// What the person asked for: a copy of their data (Art. 15) or its erasure (Art. 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Export,
    Erase,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Export => "export",
            Self::Erase => "erase",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Export, Self::Erase].into_iter().find(|k| k.as_str() == value)
    }
}

/// One request in the register. It names the person only by how they were found (`customer`,
/// or the hint of a number), never by their id or number: the register outlives an erasure.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PrivacyRequest {
    pub id: String,
    pub brand: String,
    pub kind: RequestKind,
    pub named_by: String,
    /// The privacy officer's own reference for the case (a ticket number).
    pub reference: String,
    pub received_at: i64,
    /// One month after receipt (Art. 12(3)).
    pub due_at: i64,
    pub answered_at: Option<i64>,
    pub answered_by: Option<String>,
    /// What was done: counts erased and withheld, or exported.
    pub outcome: Option<String>,
}
