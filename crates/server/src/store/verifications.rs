use orderguard_domain::clock::Timestamp;
use orderguard_domain::sms_text::CodeEntry;
use orderguard_domain::verification::{Status, Verification};

use super::{Conn, Row, StoreError, Value};

/// A verification as stored. Personal data is held only encrypted (`phone_enc`) or keyed-hashed.
#[derive(Debug, Clone)]
pub struct VerificationRecord {
    pub id: String,
    pub brand: String,
    pub order_id: String,
    pub customer_ref: String,
    pub phone_enc: Option<Vec<u8>>,
    pub phone_hash: Vec<u8>,
    pub phone_hint: String,
    pub phone_region: Option<String>,
    pub number_type: String,
    pub amount_minor: i64,
    pub currency: String,
    pub order_digest: String,
    /// JSON array of the items, for the hosted page's order summary.
    pub order_summary: String,
    pub shipping_country: Option<String>,
    pub locale: String,
    pub return_url: Option<String>,
    pub code_entry: CodeEntry,
    pub client_ip: Option<String>,
    pub state: Verification,
    pub code_hash: Vec<u8>,
    pub risk_decision: String,
    pub risk_score: i64,
    pub risk_reasons: String,
    pub hosted_token: String,
    pub cancel_reason: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<Vec<u8>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

const COLUMNS: &str = "id, brand, order_id, customer_ref, phone_enc, phone_hash, phone_hint, phone_region, \
    number_type, amount_minor, currency, order_digest, order_summary, shipping_country, locale, return_url, \
    client_ip, status, code_hash, attempts, max_attempts, resends, max_resends, resend_cooldown_seconds, \
    code_ttl_seconds, expires_at, last_sent_at, risk_decision, risk_score, risk_reasons, hosted_token, \
    cancel_reason, idempotency_key, request_hash, created_at, updated_at, version, code_entry";

fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

fn from_row(row: &Row) -> Result<VerificationRecord, StoreError> {
    let status = row.text(17)?;
    Ok(VerificationRecord {
        id: row.text(0)?,
        brand: row.text(1)?,
        order_id: row.text(2)?,
        customer_ref: row.text(3)?,
        phone_enc: row.opt_blob(4)?,
        phone_hash: row.blob(5)?,
        phone_hint: row.text(6)?,
        phone_region: row.opt_text(7)?,
        number_type: row.text(8)?,
        amount_minor: row.int(9)?,
        currency: row.text(10)?,
        order_digest: row.text(11)?,
        order_summary: row.text(12)?,
        shipping_country: row.opt_text(13)?,
        locale: row.text(14)?,
        return_url: row.opt_text(15)?,
        client_ip: row.opt_text(16)?,
        state: Verification {
            status: Status::parse(&status).ok_or(StoreError::Column { index: 17, expected: "a status" })?,
            attempts: count(row.int(19)?),
            max_attempts: count(row.int(20)?),
            resends: count(row.int(21)?),
            max_resends: count(row.int(22)?),
            resend_cooldown_seconds: row.int(23)?,
            code_ttl_seconds: row.int(24)?,
            expires_at: Timestamp(row.int(25)?),
            last_sent_at: Timestamp(row.int(26)?),
        },
        code_hash: row.blob(18)?,
        risk_decision: row.text(27)?,
        risk_score: row.int(28)?,
        risk_reasons: row.text(29)?,
        hosted_token: row.text(30)?,
        cancel_reason: row.opt_text(31)?,
        idempotency_key: row.opt_text(32)?,
        request_hash: row.opt_blob(33)?,
        created_at: row.int(34)?,
        updated_at: row.int(35)?,
        version: row.int(36)?,
        code_entry: CodeEntry::parse(&row.text(37)?)
            .ok_or(StoreError::Column { index: 37, expected: "a code entry" })?,
    })
}

pub fn insert(conn: &mut dyn Conn, v: &VerificationRecord) -> Result<(), StoreError> {
    let s = &v.state;
    conn.execute(
        &format!(
            "INSERT INTO verifications ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, \
             $34, $35, $36, $37, $38)"
        ),
        &[
            v.id.as_str().into(),
            v.brand.as_str().into(),
            v.order_id.as_str().into(),
            v.customer_ref.as_str().into(),
            v.phone_enc.clone().into(),
            v.phone_hash.clone().into(),
            v.phone_hint.as_str().into(),
            v.phone_region.clone().into(),
            v.number_type.as_str().into(),
            v.amount_minor.into(),
            v.currency.as_str().into(),
            v.order_digest.as_str().into(),
            v.order_summary.as_str().into(),
            v.shipping_country.clone().into(),
            v.locale.as_str().into(),
            v.return_url.clone().into(),
            v.client_ip.clone().into(),
            s.status.as_str().into(),
            v.code_hash.clone().into(),
            s.attempts.into(),
            s.max_attempts.into(),
            s.resends.into(),
            s.max_resends.into(),
            s.resend_cooldown_seconds.into(),
            s.code_ttl_seconds.into(),
            s.expires_at.millis().into(),
            s.last_sent_at.millis().into(),
            v.risk_decision.as_str().into(),
            v.risk_score.into(),
            v.risk_reasons.as_str().into(),
            v.hosted_token.as_str().into(),
            v.cancel_reason.clone().into(),
            v.idempotency_key.clone().into(),
            v.request_hash.clone().into(),
            v.created_at.into(),
            v.updated_at.into(),
            v.version.into(),
            v.code_entry.as_str().into(),
        ],
    )?;
    Ok(())
}

/// A brand's verification; another brand's id is simply not found.
pub fn find(conn: &mut dyn Conn, brand: &str, id: &str) -> Result<Option<VerificationRecord>, StoreError> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM verifications WHERE id = $1 AND brand = $2"),
        &[id.into(), brand.into()],
    )?
    .map(|r| from_row(&r))
    .transpose()
}

pub fn find_by_id(conn: &mut dyn Conn, id: &str) -> Result<Option<VerificationRecord>, StoreError> {
    conn.query_opt(&format!("SELECT {COLUMNS} FROM verifications WHERE id = $1"), &[id.into()])?
        .map(|r| from_row(&r))
        .transpose()
}

pub fn find_by_hosted_token(conn: &mut dyn Conn, token: &str) -> Result<Option<VerificationRecord>, StoreError> {
    conn.query_opt(&format!("SELECT {COLUMNS} FROM verifications WHERE hosted_token = $1"), &[token.into()])?
        .map(|r| from_row(&r))
        .transpose()
}

pub fn find_by_idempotency_key(
    conn: &mut dyn Conn,
    brand: &str,
    key: &str,
) -> Result<Option<VerificationRecord>, StoreError> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM verifications WHERE brand = $1 AND idempotency_key = $2"),
        &[brand.into(), key.into()],
    )?
    .map(|r| from_row(&r))
    .transpose()
}

/// Writes the state changed by the domain, only if nobody changed the row since it was read.
/// `false` means a parallel request won: read again and decide again.
pub fn update_state(conn: &mut dyn Conn, v: &VerificationRecord, now: Timestamp) -> Result<bool, StoreError> {
    let s = &v.state;
    let changed = conn.execute(
        "UPDATE verifications SET status = $1, attempts = $2, resends = $3, expires_at = $4, last_sent_at = $5, \
         code_hash = $6, cancel_reason = $7, updated_at = $8, version = $9 WHERE id = $10 AND version = $11",
        &[
            s.status.as_str().into(),
            s.attempts.into(),
            s.resends.into(),
            s.expires_at.millis().into(),
            s.last_sent_at.millis().into(),
            v.code_hash.clone().into(),
            v.cancel_reason.clone().into(),
            now.millis().into(),
            (v.version + 1).into(),
            v.id.as_str().into(),
            v.version.into(),
        ],
    )?;
    Ok(changed == 1)
}

/// Pending verifications whose code has expired, oldest first.
pub fn due_for_expiry(conn: &mut dyn Conn, now: Timestamp, limit: i64) -> Result<Vec<VerificationRecord>, StoreError> {
    conn.query(
        &format!(
            "SELECT {COLUMNS} FROM verifications WHERE status = 'pending' AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2"
        ),
        &[now.millis().into(), limit.into()],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// The brand's verifications to a number since `since`, counted up to `cap` (enough for a threshold, and
/// bounded work however busy the number is).
pub fn count_to_number_since(
    conn: &mut dyn Conn,
    brand: &str,
    phone_hash: &[u8],
    since: Timestamp,
    cap: u32,
) -> Result<u32, StoreError> {
    let row = conn.query_one(
        "SELECT COUNT(*) FROM (SELECT 1 FROM verifications WHERE brand = $1 AND phone_hash = $2 AND created_at >= $3 \
         LIMIT $4) AS recent",
        &[brand.into(), phone_hash.into(), since.millis().into(), cap.into()],
    )?;
    Ok(count(row.int(0)?))
}

/// Failed verifications of a customer since `since`, counted up to `cap`.
pub fn count_failed_for_customer_since(
    conn: &mut dyn Conn,
    brand: &str,
    customer_ref: &str,
    since: Timestamp,
    cap: u32,
) -> Result<u32, StoreError> {
    let row = conn.query_one(
        "SELECT COUNT(*) FROM (SELECT 1 FROM verifications WHERE brand = $1 AND customer_ref = $2 \
         AND created_at >= $3 AND status = 'failed' LIMIT $4) AS recent",
        &[brand.into(), customer_ref.into(), since.millis().into(), cap.into()],
    )?;
    Ok(count(row.int(0)?))
}

pub fn count_for_order(conn: &mut dyn Conn, brand: &str, order_id: &str) -> Result<u32, StoreError> {
    let row = conn.query_one(
        "SELECT COUNT(*) FROM verifications WHERE brand = $1 AND order_id = $2",
        &[brand.into(), order_id.into()],
    )?;
    Ok(count(row.int(0)?))
}

impl From<Status> for Value {
    fn from(s: Status) -> Self {
        Value::Text(s.as_str().to_owned())
    }
}
