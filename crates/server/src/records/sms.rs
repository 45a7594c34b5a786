//! SMS on their way: the durable queue, delivery reports, and the development outbox.

#[derive(Debug, Clone)]
pub struct QueuedSms {
    pub id: String,
    pub verification_id: String,
    pub brand: String,
    pub order_id: String,
    /// The destination's ISO 3166 region, `ZZ` when unknown.
    pub country: String,
    pub to_enc: Vec<u8>,
    pub body_enc: Vec<u8>,
    pub attempts: i64,
    pub not_after: i64,
    /// Set by every claim: only the holder of the current token may send or settle the message.
    pub lease_token: String,
    pub claimed_at: i64,
}

/// A message a delivery report was recorded for.
#[derive(Debug, Clone)]
pub struct ReportedSms {
    pub id: String,
    pub verification_id: String,
    pub brand: String,
    pub order_id: String,
    pub submitted_at: Option<i64>,
    pub country: String,
}

#[derive(Debug, Clone)]
pub enum ReportMatch {
    /// The first final report of the message: recorded now.
    Recorded(ReportedSms),
    /// The message had a final report already (SMSCs repeat receipts they think were lost).
    AlreadyReported,
    /// No message handed to this provider has this id (yet: the hand-off may still be committing).
    Unknown,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OutboxMessage {
    pub id: String,
    pub brand: String,
    pub verification_id: Option<String>,
    pub to: String,
    pub text: String,
    /// RFC 3339.
    pub created_at: String,
    #[serde(skip)]
    pub created_at_ms: i64,
}
