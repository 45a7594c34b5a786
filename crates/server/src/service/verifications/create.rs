//! Starting a verification: the customer's number from the identity service, the risk decision
//! and, unless denied, the code and its SMS, all stored in one transaction.

use std::sync::Arc;

use orderguard_domain::FieldError;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::code::OtpCode;
use orderguard_domain::event::EventKind;
use orderguard_domain::order::Order;
use orderguard_domain::phone::E164;
use orderguard_domain::risk::{self, Assessment, Decision, Signals};
use orderguard_domain::sms_text::CodeEntry;
use orderguard_domain::verification::{Status, Verification};
use rand_core::OsRng;
use serde_json::json;

use super::{code_sms, event};
use crate::app::App;
use crate::brand::Brand;
use crate::identity::{CustomerIdentity, CustomerRequest, IdentityError};
use crate::records::sms::QueuedSms;
use crate::records::{NewEvent, VerificationRecord};
use crate::service::ServiceError;
use crate::store::events;
use crate::store::sms as sms_store;
use crate::store::verifications as store;
use crate::store::{Conn, StoreError};

/// A new verification as asked for by the shop, already parsed.
pub struct NewVerification {
    pub order: Order,
    pub customer: CustomerRequest,
    pub locale: Option<String>,
    pub client_ip: Option<std::net::IpAddr>,
    pub return_url: Option<String>,
    pub code_entry: CodeEntry,
    pub idempotency_key: Option<String>,
    /// SHA-256 of the request body, to tell a replay from a reuse of the key.
    pub request_hash: Vec<u8>,
}

pub struct Created {
    pub record: VerificationRecord,
    /// The same Idempotency-Key and body were seen before: this is the earlier verification.
    pub replayed: bool,
}

/// Truncates an address before it is stored: /24 for IPv4, /48 for IPv6.
pub fn truncate_ip(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

fn idempotent_replay(existing: VerificationRecord, request_hash: &[u8]) -> Result<Created, ServiceError> {
    if existing.request_hash.as_deref() == Some(request_hash) {
        Ok(Created { record: existing, replayed: true })
    } else {
        Err(ServiceError::IdempotencyMismatch)
    }
}

/// Asks the brand's identity service for the customer; every answer is measured, and a failure is
/// recorded as an `identity.failed` event of the order (there is no verification yet).
async fn resolve_customer(
    app: &Arc<App>,
    brand: &Arc<Brand>,
    new: &NewVerification,
    now: Timestamp,
) -> Result<CustomerIdentity, IdentityError> {
    let connector = brand.config.identity.as_str();
    let started = std::time::Instant::now();
    let resolved = brand.identity.resolve(&new.customer, now).await;
    let result = resolved.as_ref().map_or_else(IdentityError::kind, |_| "resolved");
    app.metrics.observe(
        "orderguard_identity_duration_seconds",
        &[("connector", connector)],
        started.elapsed().as_secs_f64(),
    );
    app.metrics.increment(
        "orderguard_identity_total",
        &[("brand", brand.slug.as_str()), ("connector", connector), ("result", result)],
    );
    // The service failing, or refusing the customer's token (forged tokens matter to fraud teams);
    // an unknown id or a wrong kind of reference is the shop's input, answered as such.
    if let Err(e @ (IdentityError::Unavailable(_) | IdentityError::TokenRejected(_))) = &resolved {
        let (slug, order_id) = (brand.slug.to_string(), new.order.id.clone());
        let attrs = json!({
            "connector": connector, "reason": result, "detail": e.to_string(), "customer_field": new.customer.field(),
        });
        let recorded = app
            .store
            .write(move |conn| {
                events::append(conn, &NewEvent::of_order(&slug, &order_id, EventKind::IdentityFailed, now, attrs))
            })
            .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "recording identity.failed failed");
        }
    }
    resolved
}

pub async fn create(
    app: &Arc<App>,
    brand: &Arc<Brand>,
    new: NewVerification,
    now: Timestamp,
) -> Result<Created, ServiceError> {
    if let Some(url) = &new.return_url
        && !brand.allows_return_url(url)
    {
        return Err(FieldError::new("return_url", "must be an http(s) URL on one of the brand's shop domains").into());
    }
    let identity = match resolve_customer(app, brand, &new, now).await {
        Ok(identity) => identity,
        // A retry of a request that already succeeded gets its verification even now.
        Err(e) => return replay_or(app, brand, &new, e.into()).await,
    };
    let raw_phone = identity.phone.ok_or(ServiceError::PhoneMissing)?;
    if !identity.phone_verified && !brand.policy.allow_unverified_phone {
        return Err(ServiceError::PhoneUnverified);
    }
    let phone =
        E164::parse(&raw_phone, brand.default_region.as_deref()).map_err(|e| ServiceError::PhoneInvalid(e.reason))?;

    let id = crate::ids::new_id(now.millis());
    let policy = &brand.policy;
    let code = OtpCode::generate(policy.code_length, &mut OsRng);
    let mut record = VerificationRecord {
        id: id.clone(),
        brand: brand.slug.clone(),
        order_id: new.order.id.clone(),
        customer_ref: app.secrets.customer_ref(brand.slug.as_str(), &identity.customer_id),
        phone_enc: Some(app.secrets.encrypt(phone.as_str().as_bytes())),
        phone_hash: app.secrets.phone_hash(phone.as_str()),
        phone_hint: phone.hint(),
        phone_region: phone.region().map(str::to_owned),
        number_type: phone.number_type(),
        amount: new.order.amount,
        order_digest: new.order.digest(),
        order_summary: order_summary(&new.order).to_string(),
        shipping_country: new.order.shipping_country.clone(),
        locale: brand.locale_for(new.locale.as_deref()),
        return_url: new.return_url.clone(),
        code_entry: new.code_entry,
        client_ip: new.client_ip.map(truncate_ip),
        state: Verification {
            status: Status::Pending,
            attempts: 0,
            max_attempts: policy.max_attempts,
            resends: 0,
            max_resends: policy.max_resends,
            resend_cooldown_seconds: policy.resend_cooldown_seconds,
            code_ttl_seconds: policy.code_ttl_seconds,
            expires_at: now.plus_seconds(policy.code_ttl_seconds),
            last_sent_at: now,
        },
        code_hash: app.secrets.code_hasher().hash(&id, &code).to_vec(),
        risk: Assessment { decision: Decision::Allow, score: 0, reasons: Vec::new() },
        hosted_token: crate::ids::random_token(24),
        cancel_reason: None,
        idempotency_key: new.idempotency_key.clone(),
        request_hash: Some(new.request_hash.clone()),
        created_at: now,
        updated_at: now,
        version: 0,
    };
    let sms = code_sms(app, brand, &record, &code, now)?;
    let has_hardware = new.order.has_hardware();
    // What the identity service said about the number: kept with the trace for risk reviews.
    let (phone_verified, phone_changed_at) = (identity.phone_verified, identity.phone_changed_at);
    let request_hash = new.request_hash.clone();
    let brand_for_risk = brand.clone();
    let result = app
        .store
        .write(move |conn| -> Result<(Created, Option<QueuedSms>), ServiceError> {
            if let Some(key) = &record.idempotency_key
                && let Some(existing) = store::find_by_idempotency_key(conn, record.brand.as_str(), key)?
            {
                return idempotent_replay(existing, &request_hash).map(|c| (c, None));
            }
            // Risk is assessed in the transaction that stores the verification, so the velocity
            // counts include every verification committed before this one.
            record.risk = assess(conn, &brand_for_risk, &record, has_hardware, now)?;
            let blocked = record.risk.decision == Decision::Deny;
            if blocked {
                record.state.status = Status::Blocked;
            }
            store::insert(conn, &record)?;
            let v = &record;
            events::append(
                conn,
                &event(
                    v,
                    EventKind::VerificationCreated,
                    now,
                    json!({
                        "amount": v.amount.minor, "currency": v.amount.currency.code(), "locale": v.locale,
                        "phone_region": v.phone_region, "number_type": v.number_type, "hardware": has_hardware,
                        "phone_verified": phone_verified,
                        "phone_changed_at": phone_changed_at.map(crate::clock::rfc3339),
                    }),
                ),
            )?;
            let risk = &v.risk;
            events::append(
                conn,
                &event(
                    v,
                    EventKind::RiskAssessed,
                    now,
                    json!({
                        "decision": risk.decision, "score": risk.score, "reasons": risk.reasons,
                    }),
                ),
            )?;
            let queued = if blocked {
                events::append(
                    conn,
                    &event(
                        v,
                        EventKind::VerificationBlocked,
                        now,
                        json!({
                            "reasons": risk.reasons, "amount": v.amount.minor, "currency": v.amount.currency.code(),
                        }),
                    ),
                )?;
                None
            } else {
                sms_store::enqueue_claimed(conn, &sms, crate::sms::queue::LEASE_MS)?;
                events::append(conn, &event(v, EventKind::SmsQueued, now, json!({ "message_id": sms.id })))?;
                Some(sms)
            };
            Ok((Created { record, replayed: false }, queued))
        })
        .await;
    let (created, queued) = match result {
        // Two requests with one new key raced on PostgreSQL: the other one's verification stands.
        Err(ServiceError::Store(StoreError::Duplicate)) if new.idempotency_key.is_some() => {
            return replay_or(app, brand, &new, ServiceError::Conflict).await;
        }
        other => other?,
    };
    if !created.replayed {
        let slug = brand.slug.as_str();
        // As in the event log: every verification is created, some are blocked straight away.
        app.metrics.increment("orderguard_verification_events_total", &[("brand", slug), ("type", "created")]);
        if queued.is_none() {
            app.metrics.increment("orderguard_verification_events_total", &[("brand", slug), ("type", "blocked")]);
        }
        for reason in &created.record.risk.reasons {
            app.metrics.increment("orderguard_risk_reasons_total", &[("brand", slug), ("reason", reason.as_str())]);
        }
    }
    if let Some(sms) = queued {
        app.sms_queue.send(sms);
    }
    Ok(created)
}

/// Gathers the signals inside the creating transaction and lets the domain's rules decide.
fn assess(
    conn: &mut dyn Conn,
    brand: &Brand,
    record: &VerificationRecord,
    has_hardware: bool,
    now: Timestamp,
) -> Result<Assessment, StoreError> {
    let policy = &brand.policy;
    let slug = record.brand.as_str();
    let velocity_cap = policy.max_verifications_per_number_per_hour.saturating_add(1);
    let to_number =
        store::count_to_number_since(conn, slug, &record.phone_hash, now.plus_seconds(-3600), velocity_cap)?;
    let failed =
        store::count_failed_for_customer_since(conn, slug, &record.customer_ref, now.plus_seconds(-86_400), 10)?;
    Ok(risk::assess(
        policy,
        &Signals {
            phone_region: record.phone_region.as_deref(),
            number_type: record.number_type,
            order_amount: record.amount,
            order_has_hardware: has_hardware,
            shipping_country: record.shipping_country.as_deref(),
            verifications_to_number_last_hour: to_number,
            failed_verifications_of_customer_last_day: failed,
        },
    ))
}

/// The verification an earlier request with the same Idempotency-Key created, or `error`.
async fn replay_or(
    app: &Arc<App>,
    brand: &Brand,
    new: &NewVerification,
    error: ServiceError,
) -> Result<Created, ServiceError> {
    let Some(key) = new.idempotency_key.clone() else { return Err(error) };
    let brand = brand.slug.to_string();
    match app.store.read(move |conn| store::find_by_idempotency_key(conn, &brand, &key)).await? {
        Some(existing) => idempotent_replay(existing, &new.request_hash),
        None => Err(error),
    }
}

fn order_summary(order: &Order) -> serde_json::Value {
    order
        .items
        .iter()
        .map(|i| json!({ "sku": i.sku, "name": i.name, "quantity": i.quantity, "unit_price": i.unit_price.to_decimal(), "hardware": i.hardware }))
        .collect()
}
