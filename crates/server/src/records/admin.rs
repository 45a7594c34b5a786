//! The admin area's users, its audit log, and what it reads of orders.

use orderguard_domain::clock::Timestamp;
use orderguard_domain::money::Money;
use orderguard_domain::role::Role;
use orderguard_domain::verification::Status;

#[derive(Debug, Clone)]
pub struct AdminUser {
    pub id: String,
    pub username: String,
    /// Argon2id, PHC string.
    pub password_hash: String,
    pub role: Role,
    /// The one brand of a brand role.
    pub brand: Option<String>,
    /// The second factor's TOTP secret, encrypted; `None` until the user enrols.
    pub totp_secret_enc: Option<Vec<u8>>,
}

/// What a user looked at that holds personal data, or decided about an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// The trace of one order (`subject`: the order id).
    OrderTrace,
    /// A search of orders by the customer's number (`subject`: the number's hint).
    NumberSearch,
    /// An allow- or block-list entry was added (`subject`: list, kind, label and id).
    ListEntryAdded,
    /// An allow- or block-list entry was removed.
    ListEntryRemoved,
    /// A held order approved after review (`subject`: the order id).
    ReviewApprove,
    /// A held order's code sent after review (`subject`: the order id).
    ReviewSend,
    /// A held order rejected after review (`subject`: the order id).
    ReviewReject,
    /// A webhook endpoint was created (`subject`: its name and URL).
    WebhookEndpointCreated,
    /// A webhook endpoint was enabled, disabled, given a new secret or deleted (`subject`: its
    /// name and what changed).
    WebhookEndpointChanged,
    /// Webhook deliveries were sent again, or a test event (`subject`: the endpoint and which).
    WebhookReplayed,
    /// The retention job erased what had passed its retention period (`subject`: what, counted).
    RetentionRun,
    /// A person's data was exported (`subject`: the register's request id and what was found).
    SubjectExport,
    /// A person's data was erased (`subject`: the register's request id, what was erased and withheld).
    SubjectErase,
}

impl AuditAction {
    pub const ALL: [AuditAction; 13] = [
        Self::OrderTrace,
        Self::NumberSearch,
        Self::ListEntryAdded,
        Self::ListEntryRemoved,
        Self::ReviewApprove,
        Self::ReviewSend,
        Self::ReviewReject,
        Self::WebhookEndpointCreated,
        Self::WebhookEndpointChanged,
        Self::WebhookReplayed,
        Self::RetentionRun,
        Self::SubjectExport,
        Self::SubjectErase,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderTrace => "order_trace",
            Self::NumberSearch => "number_search",
            Self::ListEntryAdded => "list_entry_added",
            Self::ListEntryRemoved => "list_entry_removed",
            Self::ReviewApprove => "review_approve",
            Self::ReviewSend => "review_send",
            Self::ReviewReject => "review_reject",
            Self::WebhookEndpointCreated => "webhook_endpoint_created",
            Self::WebhookEndpointChanged => "webhook_endpoint_changed",
            Self::WebhookReplayed => "webhook_replayed",
            Self::RetentionRun => "retention_run",
            Self::SubjectExport => "subject_export",
            Self::SubjectErase => "subject_erase",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == value)
    }
}

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub username: String,
    pub role: Role,
    pub action: AuditAction,
    pub brand: Option<String>,
    pub subject: String,
}

impl AuditEntry {
    /// What the entry's hash in the audit chain covers, as entry number `seq`.
    pub fn link(&self, seq: i64) -> orderguard_domain::audit_chain::Link<'_> {
        orderguard_domain::audit_chain::Link {
            seq,
            at_ms: self.at.millis(),
            username: &self.username,
            role: self.role.as_str(),
            action: self.action.as_str(),
            brand: self.brand.as_deref(),
            subject: &self.subject,
        }
    }
}

/// One verification of an order, as its trace shows it.
#[derive(Debug, Clone)]
pub struct TracedVerification {
    pub id: String,
    pub status: Status,
    pub phone_hint: String,
    pub phone_enc: Option<Vec<u8>>,
    pub amount: Money,
    pub created_at: Timestamp,
}

/// A verification found by its number.
pub struct FoundVerification {
    pub order_id: String,
    pub verification_id: String,
    pub status: Status,
    pub created_at: Timestamp,
}
