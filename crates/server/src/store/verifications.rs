use orderguard_domain::brand::BrandSlug;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::money::{Currency, Money};
use orderguard_domain::phone::NumberType;
use orderguard_domain::risk::{Assessment, Decision, RiskReason};
use orderguard_domain::sms_text::CodeEntry;
use orderguard_domain::verification::{Status, Verification};

use super::{Conn, Row, StoreError, Value};
use crate::records::VerificationRecord;

const COLUMNS: &str = "id, brand, order_id, customer_ref, phone_enc, phone_hash, phone_hint, phone_region, \
    number_type, amount_minor, currency, order_digest, order_summary, shipping_country, locale, return_url, \
    client_ip, status, code_hash, attempts, max_attempts, resends, max_resends, resend_cooldown_seconds, \
    code_ttl_seconds, expires_at, last_sent_at, risk_decision, risk_score, risk_reasons, hosted_token, \
    cancel_reason, idempotency_key, request_hash, created_at, updated_at, version, code_entry, receipt, range_ref, device_ref, network_checked_at, \
    lookup_key, device_enc, initial_decision, initial_reasons";

fn count(row: &Row, column: &'static str) -> Result<u32, StoreError> {
    u32::try_from(row.int(column)?).map_err(|_| StoreError::Column { column, expected: "a count" })
}

/// Reason codes are kept comma-joined.
fn reasons_text(reasons: &[RiskReason]) -> String {
    reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

fn parse_reasons(text: &str) -> Option<Vec<RiskReason>> {
    text.split(',').filter(|r| !r.is_empty()).map(RiskReason::parse).collect()
}

fn from_row(row: &Row) -> Result<VerificationRecord, StoreError> {
    let currency = row.parsed("currency", |c| Currency::parse(c).ok())?;
    Ok(VerificationRecord {
        id: row.text("id")?,
        brand: row.parsed("brand", |b| BrandSlug::parse(b).ok())?,
        order_id: row.text("order_id")?,
        customer_ref: row.text("customer_ref")?,
        phone_enc: row.opt_blob("phone_enc")?,
        phone_hash: row.blob("phone_hash")?,
        phone_hint: row.text("phone_hint")?,
        phone_region: row.opt_text("phone_region")?,
        number_type: row.parsed("number_type", NumberType::parse)?,
        amount: Money::from_minor(row.int("amount_minor")?, currency),
        order_digest: row.text("order_digest")?,
        order_summary: row.text("order_summary")?,
        shipping_country: row.opt_text("shipping_country")?,
        locale: row.text("locale")?,
        return_url: row.opt_text("return_url")?,
        client_ip: row.opt_text("client_ip")?,
        state: Verification {
            status: row.parsed("status", Status::parse)?,
            attempts: count(row, "attempts")?,
            max_attempts: count(row, "max_attempts")?,
            resends: count(row, "resends")?,
            max_resends: count(row, "max_resends")?,
            resend_cooldown_seconds: row.int("resend_cooldown_seconds")?,
            code_ttl_seconds: row.int("code_ttl_seconds")?,
            expires_at: Timestamp(row.int("expires_at")?),
            last_sent_at: Timestamp(row.int("last_sent_at")?),
        },
        code_hash: row.blob("code_hash")?,
        risk: Assessment {
            decision: row.parsed("risk_decision", Decision::parse)?,
            score: count(row, "risk_score")?,
            reasons: row.parsed("risk_reasons", parse_reasons)?,
        },
        hosted_token_hash: row.text("hosted_token")?,
        cancel_reason: row.opt_text("cancel_reason")?,
        idempotency_key: row.opt_text("idempotency_key")?,
        request_hash: row.opt_blob("request_hash")?,
        created_at: Timestamp(row.int("created_at")?),
        updated_at: Timestamp(row.int("updated_at")?),
        version: row.int("version")?,
        code_entry: row.parsed("code_entry", CodeEntry::parse)?,
        receipt: row.opt_text("receipt")?,
        range_ref: row.opt_text("range_ref")?,
        device_ref: row.opt_text("device_ref")?,
        network_checked_at: row.opt_int("network_checked_at")?.map(Timestamp),
        lookup_key: count(row, "lookup_key")?,
        device_enc: row.opt_blob("device_enc")?,
        initial_risk: match (row.opt_text("initial_decision")?, row.opt_text("initial_reasons")?) {
            (Some(decision), Some(reasons)) => Some((
                Decision::parse(&decision)
                    .ok_or(StoreError::Column { column: "initial_decision", expected: "a decision" })?,
                parse_reasons(&reasons)
                    .ok_or(StoreError::Column { column: "initial_reasons", expected: "reason codes" })?,
            )),
            _ => None,
        },
    })
}

pub fn insert(conn: &mut dyn Conn, v: &VerificationRecord) -> Result<(), StoreError> {
    let s = &v.state;
    conn.execute(
        &format!(
            "INSERT INTO verifications ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, \
             $34, $35, $36, $37, $38, $39, $40, $41, $42, $43, $44, $45, $46)"
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
            v.amount.minor.into(),
            v.amount.currency.code().into(),
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
            v.risk.decision.as_str().into(),
            v.risk.score.into(),
            reasons_text(&v.risk.reasons).into(),
            v.hosted_token_hash.as_str().into(),
            v.cancel_reason.clone().into(),
            v.idempotency_key.clone().into(),
            v.request_hash.clone().into(),
            v.created_at.millis().into(),
            v.updated_at.millis().into(),
            v.version.into(),
            v.code_entry.as_str().into(),
            v.receipt.clone().into(),
            v.range_ref.clone().into(),
            v.device_ref.clone().into(),
            v.network_checked_at.map(|at| at.millis()).into(),
            v.lookup_key.into(),
            v.device_enc.clone().into(),
            // Stored as it starts: the risk it has now is the one it started with.
            v.risk.decision.as_str().into(),
            reasons_text(&v.risk.reasons).into(),
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

/// A brand's verifications of one person, by the pseudonyms of their customer id or the keyed
/// hashes of their number (under each key still matched), oldest first.
pub fn of_subject(
    conn: &mut dyn Conn,
    brand: &str,
    customer_refs: &[String],
    phone_hashes: &[Vec<u8>],
) -> Result<Vec<VerificationRecord>, StoreError> {
    let mut found = Vec::new();
    for reference in customer_refs {
        found.extend(conn.query(
            &format!("SELECT {COLUMNS} FROM verifications WHERE brand = $1 AND customer_ref = $2"),
            &[brand.into(), reference.as_str().into()],
        )?);
    }
    for hash in phone_hashes {
        found.extend(conn.query(
            &format!("SELECT {COLUMNS} FROM verifications WHERE brand = $1 AND phone_hash = $2"),
            &[brand.into(), hash.as_slice().into()],
        )?);
    }
    let mut records = found.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    records.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    records.dedup_by(|a, b| a.id == b.id);
    Ok(records)
}

pub fn find_by_id(conn: &mut dyn Conn, id: &str) -> Result<Option<VerificationRecord>, StoreError> {
    conn.query_opt(&format!("SELECT {COLUMNS} FROM verifications WHERE id = $1"), &[id.into()])?
        .map(|r| from_row(&r))
        .transpose()
}

/// The verification whose stored hosted token is `stored` (its hash, or a token from before
/// tokens were hashed).
pub fn find_by_hosted_token(conn: &mut dyn Conn, stored: &str) -> Result<Option<VerificationRecord>, StoreError> {
    conn.query_opt(&format!("SELECT {COLUMNS} FROM verifications WHERE hosted_token = $1"), &[stored.into()])?
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
         code_hash = $6, cancel_reason = $7, updated_at = $8, version = $9, receipt = $12, \
         risk_decision = $13, risk_reasons = $14, risk_score = $15, network_checked_at = $16 \
         WHERE id = $10 AND version = $11",
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
            v.receipt.clone().into(),
            v.risk.decision.as_str().into(),
            reasons_text(&v.risk.reasons).into(),
            v.risk.score.into(),
            v.network_checked_at.map(|at| at.millis()).into(),
        ],
    )?;
    Ok(changed == 1)
}

/// Pending or held verifications whose time is up, oldest first.
pub fn due_for_expiry(conn: &mut dyn Conn, now: Timestamp, limit: i64) -> Result<Vec<VerificationRecord>, StoreError> {
    conn.query(
        &format!(
            "SELECT {COLUMNS} FROM verifications WHERE status IN ('pending', 'in_review') AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2"
        ),
        &[now.millis().into(), limit.into()],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// A brand's verifications held for review whose hold has not ended, the soonest to end first
/// (the index on status and expiry finds them).
pub fn held(
    conn: &mut dyn Conn,
    brand: &str,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<VerificationRecord>, StoreError> {
    conn.query(
        &format!(
            "SELECT {COLUMNS} FROM verifications WHERE status = 'in_review' AND expires_at > $1 AND brand = $2 \
             ORDER BY expires_at LIMIT $3"
        ),
        &[now.millis().into(), brand.into(), limit.into()],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Keeps an analyst's note with the verification; written in the transaction of the decision.
pub fn set_review_note(conn: &mut dyn Conn, id: &str, note: &str) -> Result<(), StoreError> {
    conn.execute("UPDATE verifications SET review_note = $1 WHERE id = $2", &[note.into(), id.into()])?;
    Ok(())
}

pub fn review_note(conn: &mut dyn Conn, brand: &str, id: &str) -> Result<Option<String>, StoreError> {
    match conn
        .query_opt("SELECT review_note FROM verifications WHERE id = $1 AND brand = $2", &[id.into(), brand.into()])?
    {
        Some(row) => row.opt_text("review_note"),
        None => Ok(None),
    }
}

/// The verifications of a brand's orders `order_ids`, oldest first.
pub fn facts_of_orders(
    conn: &mut dyn Conn,
    brand: &str,
    order_ids: &[&str],
) -> Result<Vec<crate::records::order::OrderFacts>, StoreError> {
    let mut facts = Vec::new();
    for chunk in order_ids.chunks(200) {
        let listed: Vec<String> = (2..2 + chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id, order_id, phone_region, risk_decision, risk_reasons, amount_minor, currency FROM verifications \
             WHERE brand = $1 AND order_id IN ({}) ORDER BY created_at",
            listed.join(", ")
        );
        let mut params: Vec<Value> = vec![brand.into()];
        params.extend(chunk.iter().map(|id| (*id).into()));
        for row in conn.query(&sql, &params)? {
            let currency = row.parsed("currency", |c| Currency::parse(c).ok())?;
            let order = crate::records::order::OrderFacts {
                order_id: row.text("order_id")?,
                verification_id: row.text("id")?,
                country: row.opt_text("phone_region")?,
                decision: row.parsed("risk_decision", Decision::parse)?,
                reasons: row.parsed("risk_reasons", parse_reasons)?,
                amount: Money::from_minor(row.int("amount_minor")?, currency),
            };
            facts.push(order);
        }
    }
    Ok(facts)
}

pub fn count_for_order(conn: &mut dyn Conn, brand: &str, order_id: &str) -> Result<u32, StoreError> {
    let row = conn.query_one(
        "SELECT COUNT(*) AS n FROM verifications WHERE brand = $1 AND order_id = $2",
        &[brand.into(), order_id.into()],
    )?;
    count(&row, "n")
}

impl From<Status> for Value {
    fn from(s: Status) -> Self {
        Value::Text(s.as_str().to_owned())
    }
}
