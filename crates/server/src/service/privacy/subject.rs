//! Data-subject requests: a copy of everything held on a person (Art. 15), and its erasure
//! (Art. 17) with what must be kept withheld and why (Art. 17(3)). A person is named by their
//! customer id or their number; both are looked up by their keyed hashes only. Each request goes
//! into the register and the audit log.

use orderguard_domain::clock::Timestamp;
use orderguard_domain::order::{OrderOutcome, hex};
use orderguard_domain::phone::E164;
use orderguard_domain::role::Role;
use orderguard_domain::verification::Status;
use serde_json::{Value, json};

use crate::brand::Brand;
use crate::clock::rfc3339;
use crate::crypto::Secrets;
use crate::records::VerificationRecord;
use crate::records::admin::{AuditAction, AuditEntry};
use crate::records::lists::ListEntry;
use crate::records::privacy::{PrivacyRequest, RequestKind};
use crate::service::ServiceError;
use crate::service::verifications::activity::Keyed;
use crate::store::{self, Store};

/// The one month of Art. 12(3), as 30 days.
const ANSWER_WITHIN_MS: i64 = 30 * 86_400_000;

/// Whom the request is about, as the privacy officer names them.
pub enum Subject {
    Customer(String),
    Phone(E164),
}

impl Subject {
    /// How the register names the person: never their id or full number.
    fn named_by(&self) -> String {
        match self {
            Self::Customer(_) => "customer id".into(),
            Self::Phone(phone) => format!("number {}", phone.hint()),
        }
    }
}

/// Who answers, when the request came in, and the privacy officer's reference for it.
pub struct Request {
    pub by: String,
    /// The role of who answers (`privacy_officer` in the admin area, `operator` on the command line).
    pub role: Role,
    pub reference: String,
    pub received_at: Timestamp,
}

/// What an erasure did.
#[derive(Debug, Default, serde::Serialize)]
pub struct ErasureReport {
    pub request_id: String,
    pub verifications_erased: usize,
    /// Found again, with nothing left to erase (an earlier request or retention erased them).
    pub verifications_already_erased: usize,
    pub withheld: Vec<Withheld>,
    pub list_entries_removed: usize,
    pub counters_forgotten: u64,
}

/// What an erasure keeps, and why.
#[derive(Debug, serde::Serialize)]
pub struct Withheld {
    pub what: String,
    pub reason: String,
}

/// The person's verifications and the keys their data is kept under.
struct Found {
    verifications: Vec<VerificationRecord>,
    /// List values and counter subjects: the keyed hashes of their numbers, customer and devices.
    list_values: Vec<String>,
    counters: Vec<String>,
}

async fn find(store: &Store, secrets: &Secrets, brand: &Brand, subject: &Subject) -> Result<Found, ServiceError> {
    let slug = brand.slug.to_string();
    let (customer_refs, phone_hashes) = match subject {
        Subject::Customer(id) => (secrets.customer_refs(&slug, id), Vec::new()),
        Subject::Phone(phone) => (Vec::new(), secrets.phone_hashes(phone.as_str())),
    };
    let (slug_inside, references, hashes) = (slug.clone(), customer_refs.clone(), phone_hashes.clone());
    let verifications =
        store.read(move |conn| store::verifications::of_subject(conn, &slug_inside, &references, &hashes)).await?;
    let mut list_values: Vec<String> = customer_refs;
    list_values.extend(phone_hashes.iter().map(|h| hex(h)));
    let mut counters = Vec::new();
    for v in &verifications {
        if !v.phone_hash.is_empty() {
            list_values.push(hex(&v.phone_hash));
        }
        // During a look-up key rotation: what the other key keyed of this number and device.
        if let Some(keyed) = Keyed::of_stored(secrets, v) {
            list_values.extend(keyed.phone_hashes.iter().map(|h| hex(h)));
            list_values.extend(keyed.device_refs.iter().cloned());
            counters.extend(keyed.device_refs.iter().map(|d| format!("d:{slug}:{d}")));
        }
        if !v.customer_ref.is_empty() {
            list_values.push(v.customer_ref.clone());
        }
        list_values.extend(v.device_ref.clone());
        counters.extend(v.device_ref.as_ref().map(|d| format!("d:{slug}:{d}")));
    }
    list_values.sort();
    list_values.dedup();
    for value in &list_values {
        // A number's hash is 64 hex digits; pseudonyms and device references are shorter.
        counters.push(if value.len() == 64 { format!("n:{value}") } else { format!("c:{slug}:{value}") });
    }
    counters.sort();
    counters.dedup();
    Ok(Found { verifications, list_values, counters })
}

fn register_entry(
    brand: &Brand,
    kind: RequestKind,
    subject: &Subject,
    request: &Request,
    now: Timestamp,
) -> PrivacyRequest {
    PrivacyRequest {
        id: crate::ids::new_id(now.millis()),
        brand: brand.slug.to_string(),
        kind,
        named_by: subject.named_by(),
        reference: request.reference.clone(),
        received_at: request.received_at.millis(),
        due_at: request.received_at.millis() + ANSWER_WITHIN_MS,
        answered_at: Some(now.millis()),
        answered_by: Some(request.by.clone()),
        outcome: None,
    }
}

fn audit_entry(request: &Request, action: AuditAction, brand: &Brand, subject: String, now: Timestamp) -> AuditEntry {
    AuditEntry {
        at: now,
        username: request.by.clone(),
        role: request.role,
        action,
        brand: Some(brand.slug.to_string()),
        subject,
    }
}

fn verification_json(
    secrets: &Secrets,
    v: &VerificationRecord,
    events: Vec<Value>,
    review_note: Option<String>,
    outcome: Option<OrderOutcome>,
) -> Value {
    let phone = v.phone_enc.as_deref().and_then(|sealed| secrets.decrypt_string(sealed).ok());
    json!({
        "id": v.id,
        "order_id": v.order_id,
        "created_at": rfc3339(v.created_at.millis()),
        "status": v.state.status.as_str(),
        "phone": phone,
        "phone_hint": v.phone_hint,
        "phone_region": v.phone_region,
        "number_type": v.number_type.as_str(),
        "customer_pseudonym": v.customer_ref,
        "amount": v.amount.to_decimal(),
        "currency": v.amount.currency.code(),
        "order_items": serde_json::from_str::<Value>(&v.order_summary).unwrap_or(Value::Null),
        "shipping_country": v.shipping_country,
        "cancel_reason": v.cancel_reason,
        "locale": v.locale,
        "client_ip_prefix": v.client_ip,
        "device_id": v.device_enc.as_deref().and_then(|sealed| secrets.decrypt_string(sealed).ok()),
        "device_reference": v.device_ref,
        "risk": {
            "decision": v.risk.decision.as_str(),
            "score": v.risk.score,
            "reasons": v.risk.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        },
        "review_note": review_note,
        "reported_outcome": outcome.map(OrderOutcome::as_str),
        "events": events,
    })
}

fn list_entry_json(e: &ListEntry) -> Value {
    json!({
        "list": e.list.as_str(),
        "kind": e.kind.as_str(),
        "label": e.label,
        "reason": e.reason,
        "created_at": rfc3339(e.created_at.millis()),
        "expires_at": e.expires_at.map(|t| rfc3339(t.millis())),
    })
}

/// Everything held on the person, as JSON (Art. 15); registered and audited.
pub async fn export(
    store: &Store,
    secrets: &Secrets,
    brand: &Brand,
    subject: &Subject,
    request: &Request,
    now: Timestamp,
) -> Result<(PrivacyRequest, Value), ServiceError> {
    let found = find(store, secrets, brand, subject).await?;
    let slug = brand.slug.to_string();
    let ids: Vec<(String, String)> = found.verifications.iter().map(|v| (v.id.clone(), v.order_id.clone())).collect();
    let values = found.list_values.clone();
    let (events, notes, outcomes, lists, audit) = store
        .read(move |conn| -> Result<_, ServiceError> {
            let (mut events, mut notes, mut outcomes) = (Vec::new(), Vec::new(), Vec::new());
            for (id, order_id) in &ids {
                events.push(store::events::for_verification(conn, &slug, id)?);
                notes.push(store::verifications::review_note(conn, &slug, id)?);
                outcomes.push(store::orders::reported_outcome(conn, &slug, order_id)?);
            }
            let lists = store::lists::with_values(conn, &slug, &values)?;
            let orders: Vec<String> = ids.iter().map(|(_, order)| order.clone()).collect();
            let audit = store::admin::audit_about(conn, &slug, &orders)?;
            Ok((events, notes, outcomes, lists, audit))
        })
        .await?;
    let verifications: Vec<Value> = found
        .verifications
        .iter()
        .zip(events)
        .zip(notes.into_iter().zip(outcomes))
        .map(|((v, events), (note, outcome))| {
            let events = events.iter().map(|e| serde_json::to_value(e).unwrap_or(Value::Null)).collect();
            verification_json(secrets, v, events, note, outcome.map(|o| o.outcome))
        })
        .collect();
    let audit: Vec<Value> = audit
        .iter()
        .map(|e| json!({"at": rfc3339(e.at.millis()), "user": e.username, "role": e.role.as_str(), "action": e.action.as_str(), "subject": e.subject}))
        .collect();
    let mut entry = register_entry(brand, RequestKind::Export, subject, request, now);
    let summary = format!(
        "{} verification(s), {} list entr(ies), {} audit entr(ies)",
        verifications.len(),
        lists.len(),
        audit.len()
    );
    entry.outcome = Some(format!("exported {summary}"));
    let document = json!({
        "request": { "id": entry.id, "brand": entry.brand, "named_by": entry.named_by, "reference": entry.reference },
        "exported_at": rfc3339(now.millis()),
        "controller": brand.name,
        "verifications": verifications,
        "list_entries": lists.iter().map(list_entry_json).collect::<Vec<_>>(),
        "audit_entries": audit,
        "note": "Events are the verification's history without personal data; numbers are shown only where still held. \
                 Counters kept for fraud limits hold no more than counts under keyed hashes.",
    });
    let audit = audit_entry(request, AuditAction::SubjectExport, brand, format!("{}: {summary}", entry.id), now);
    save(store, secrets, entry.clone(), audit).await?;
    Ok((entry, document))
}

async fn save(store: &Store, secrets: &Secrets, entry: PrivacyRequest, audit: AuditEntry) -> Result<(), ServiceError> {
    let chain = secrets.audit_chain().clone();
    store
        .write(move |conn| -> Result<(), ServiceError> {
            store::privacy::register_request(conn, &entry)?;
            store::admin::audit(conn, &chain, &audit)?;
            Ok(())
        })
        .await
}

/// Why an order's data must stay despite the request (Art. 17(3)(e): legal claims).
fn withholding_reason(outcome: OrderOutcome) -> Option<&'static str> {
    match outcome {
        OrderOutcome::Chargeback => {
            Some("a chargeback was reported for the order: kept for the legal claim (Art. 17(3)(e))")
        }
        OrderOutcome::FraudConfirmed => {
            Some("the order was reported as confirmed fraud: kept for the legal claim (Art. 17(3)(e))")
        }
        OrderOutcome::Completed | OrderOutcome::Canceled | OrderOutcome::HardwareDamaged => None,
    }
}

/// Erases the person's personal fields and look-up hashes, keeping the aggregates (Art. 17);
/// idempotent. Registered and audited.
pub async fn erase(
    store: &Store,
    secrets: &Secrets,
    brand: &Brand,
    subject: &Subject,
    request: &Request,
    now: Timestamp,
) -> Result<(PrivacyRequest, ErasureReport), ServiceError> {
    let found = find(store, secrets, brand, subject).await?;
    let mut entry = register_entry(brand, RequestKind::Erase, subject, request, now);
    let slug = brand.slug.to_string();
    let audit = audit_entry(request, AuditAction::SubjectErase, brand, String::new(), now);
    let chain = secrets.audit_chain().clone();
    let register = entry.clone();
    let report = store
        .write(move |conn| -> Result<ErasureReport, ServiceError> {
            let mut report = ErasureReport { request_id: register.id.clone(), ..ErasureReport::default() };
            for v in &found.verifications {
                if matches!(v.state.status, Status::Pending | Status::InReview) {
                    report.withheld.push(Withheld {
                        what: format!("verification {} of order {}", v.id, v.order_id),
                        reason: "still in progress (a code to type, or an order held for review): ask again once it \
                                 has ended, within minutes to hours"
                            .into(),
                    });
                    continue;
                }
                let outcome = store::orders::reported_outcome(conn, &slug, &v.order_id)?;
                if let Some(reason) = outcome.and_then(|o| withholding_reason(o.outcome)) {
                    report.withheld.push(Withheld {
                        what: format!("verification {} of order {}", v.id, v.order_id),
                        reason: reason.into(),
                    });
                    continue;
                }
                if store::privacy::erase_personal_fields(conn, &v.id, now.millis())? {
                    report.verifications_erased += 1;
                } else {
                    report.verifications_already_erased += 1;
                }
                store::privacy::unlink_order(conn, &slug, &v.id, &v.order_id)?;
            }
            for list_entry in store::lists::with_values(conn, &slug, &found.list_values)? {
                if list_entry.list == orderguard_domain::lists::ListName::Block {
                    report.withheld.push(Withheld {
                        what: format!("block-list entry {} ({})", list_entry.id, list_entry.label),
                        reason: "kept to prevent fraud with this number or account (Art. 17(3)(e), Art. 21(1))".into(),
                    });
                } else {
                    store::lists::remove(conn, &slug, &list_entry.id)?;
                    report.list_entries_removed += 1;
                }
            }
            report.counters_forgotten = store::privacy::forget_activity(conn, &found.counters)?;
            for key in &found.list_values {
                store::privacy::replace_in_activity(conn, key)?;
            }
            let mut register = register;
            register.outcome = Some(summary(&report));
            store::privacy::register_request(conn, &register)?;
            let audit = AuditEntry { subject: format!("{}: {}", register.id, summary(&report)), ..audit };
            store::admin::audit(conn, &chain, &audit)?;
            Ok(report)
        })
        .await?;
    entry.outcome = Some(summary(&report));
    Ok((entry, report))
}

fn summary(report: &ErasureReport) -> String {
    format!(
        "erased {} verification(s) ({} erased before), removed {} list entr(ies), forgot {} counter(s), withheld {}",
        report.verifications_erased,
        report.verifications_already_erased,
        report.list_entries_removed,
        report.counters_forgotten,
        report.withheld.len()
    )
}

/// Makes what an erasure removed leave the database files (see `store::privacy::reclaim`).
pub async fn reclaim(store: &Store, rewrite_postgres_tables: bool) -> Result<(), ServiceError> {
    Ok(store.read(move |conn| store::privacy::reclaim(conn, rewrite_postgres_tables)).await?)
}

/// The register of requests, newest first.
pub async fn register(store: &Store, brand: Option<String>) -> Result<Vec<PrivacyRequest>, ServiceError> {
    Ok(store.read(move |conn| store::privacy::requests(conn, brand.as_deref(), 1000)).await?)
}
