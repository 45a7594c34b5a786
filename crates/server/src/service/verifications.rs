use std::sync::Arc;

use orderguard_domain::FieldError;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::code::OtpCode;
use orderguard_domain::money::{Currency, Money};
use orderguard_domain::order::{Order, OrderInput};
use orderguard_domain::phone::E164;
use orderguard_domain::receipt::{Approved, ReceiptClaims};
use orderguard_domain::risk::{self, Decision, Signals};
use orderguard_domain::sms_text::CodeEntry;
use orderguard_domain::verification::{CheckOutcome, Rejection, Status, Verification};
use rand_core::OsRng;
use serde_json::json;

use super::ServiceError;
use crate::App;
use crate::brand::Brand;
use crate::identity::{CustomerIdentity, CustomerRequest, IdentityError};
use crate::store::events::{self, NewEvent};
use crate::store::sms::{self as sms_store, QueuedSms};
use crate::store::verifications::{self as store, VerificationRecord};
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

/// Attempts for a change that lost a race (see `store::verifications::update_state`).
const MAX_RETRIES: usize = 8;

fn event<'a>(v: &'a VerificationRecord, kind: &'static str, at: Timestamp, attrs: serde_json::Value) -> NewEvent<'a> {
    NewEvent {
        brand: &v.brand,
        verification_id: Some(&v.id),
        order_id: Some(&v.order_id),
        kind,
        at: at.millis(),
        attrs,
    }
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

/// How long the instance that queues or claims an SMS keeps it for itself before any instance may
/// claim it again; renewed before each hand-off (see `jobs::sms_sender`).
pub const SMS_LEASE_MS: i64 = 30_000;

/// Asks the brand's identity service for the customer; every answer is measured, and a failure is
/// recorded as an `identity.failed` event of the order (there is no verification yet).
async fn resolve_customer(
    app: &Arc<App>,
    brand: &Arc<Brand>,
    new: &NewVerification,
) -> Result<CustomerIdentity, IdentityError> {
    let connector = brand.config.identity.as_str();
    let started = std::time::Instant::now();
    let resolved = brand.identity.resolve(&new.customer).await;
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
        let (slug, order_id, now) = (brand.slug.to_string(), new.order.id.clone(), crate::clock::now().millis());
        let attrs = serde_json::json!({
            "connector": connector, "reason": result, "detail": e.to_string(), "customer_field": new.customer.field(),
        });
        let recorded = app
            .store
            .write(move |conn| {
                crate::store::events::append(
                    conn,
                    &crate::store::events::NewEvent {
                        brand: &slug,
                        verification_id: None,
                        order_id: Some(&order_id),
                        kind: "identity.failed",
                        at: now,
                        attrs,
                    },
                )
            })
            .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "recording identity.failed failed");
        }
    }
    resolved
}

pub async fn create(app: &Arc<App>, brand: &Arc<Brand>, new: NewVerification) -> Result<Created, ServiceError> {
    let slug = brand.slug.to_string();
    if let Some(url) = &new.return_url
        && !brand.allows_return_url(url)
    {
        return Err(FieldError::new("return_url", "must be an http(s) URL on one of the brand's shop domains").into());
    }
    let identity = match resolve_customer(app, brand, &new).await {
        Ok(identity) => identity,
        // A retry of a request that already succeeded gets its verification even now.
        Err(e) => return replay_or(app, &slug, &new, e.into()).await,
    };
    let raw_phone = identity.phone.ok_or(ServiceError::PhoneMissing)?;
    if !identity.phone_verified && !brand.policy.allow_unverified_phone {
        return Err(ServiceError::PhoneUnverified);
    }
    let phone =
        E164::parse(&raw_phone, brand.default_region.as_deref()).map_err(|e| ServiceError::PhoneInvalid(e.reason))?;

    let now = crate::clock::now();
    let id = crate::ids::new_id(now.millis());
    let policy = &brand.policy;
    let code = OtpCode::generate(policy.code_length, &mut OsRng);
    let locale = brand.locale_for(new.locale.as_deref());
    let mut record = VerificationRecord {
        id: id.clone(),
        brand: slug.clone(),
        order_id: new.order.id.clone(),
        customer_ref: app.secrets.customer_ref(&slug, &identity.customer_id),
        phone_enc: Some(app.secrets.encrypt(phone.as_str().as_bytes())),
        phone_hash: app.secrets.phone_hash(phone.as_str()),
        phone_hint: phone.hint(),
        phone_region: phone.region().map(str::to_owned),
        number_type: phone.number_type().as_str().to_owned(),
        amount_minor: new.order.amount.minor,
        currency: new.order.amount.currency.code().to_owned(),
        order_digest: new.order.digest(),
        order_summary: order_summary(&new.order).to_string(),
        shipping_country: new.order.shipping_country.clone(),
        locale: locale.clone(),
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
        risk_decision: String::new(),
        risk_score: 0,
        risk_reasons: String::new(),
        hosted_token: crate::ids::random_token(24),
        cancel_reason: None,
        idempotency_key: new.idempotency_key.clone(),
        request_hash: Some(new.request_hash.clone()),
        created_at: now.millis(),
        updated_at: now.millis(),
        version: 0,
    };
    let sms = QueuedSms {
        id: crate::ids::new_id(now.millis()),
        verification_id: id.clone(),
        brand: slug.clone(),
        order_id: new.order.id.clone(),
        country: phone.region().unwrap_or("ZZ").to_owned(),
        to_enc: app.secrets.encrypt(phone.as_str().as_bytes()),
        body_enc: app.secrets.encrypt(
            brand.sms_text(&locale, code.as_str(), new.order.amount, new.code_entry, &app.public_host).as_bytes(),
        ),
        attempts: 1,
        not_after: record.state.expires_at.millis(),
        lease_token: crate::ids::random_token(16),
        claimed_at: now.millis(),
    };
    let has_hardware = new.order.has_hardware();
    // What the identity service said about the number: kept with the trace for risk reviews.
    let (phone_verified, phone_changed_at) = (identity.phone_verified, identity.phone_changed_at);
    let new_amount = new.order.amount;
    let shipping_country = new.order.shipping_country.clone();
    let request_hash = new.request_hash.clone();
    let brand_for_risk = brand.clone();
    let result = app
        .store
        .write(move |conn| -> Result<(Created, Option<QueuedSms>), ServiceError> {
            if let Some(key) = &record.idempotency_key
                && let Some(existing) = store::find_by_idempotency_key(conn, &record.brand, key)?
            {
                return idempotent_replay(existing, &request_hash).map(|c| (c, None));
            }
            // Risk is assessed in the transaction that stores the verification, so the velocity
            // counts include every verification committed before this one.
            let policy = &brand_for_risk.policy;
            let velocity_cap = policy.max_verifications_per_number_per_hour.saturating_add(1);
            let to_number = store::count_to_number_since(
                conn,
                &record.brand,
                &record.phone_hash,
                now.plus_seconds(-3600),
                velocity_cap,
            )?;
            let failed = store::count_failed_for_customer_since(
                conn,
                &record.brand,
                &record.customer_ref,
                now.plus_seconds(-86_400),
                10,
            )?;
            let assessment = risk::assess(
                policy,
                &Signals {
                    phone_region: record.phone_region.as_deref(),
                    number_type: phone.number_type(),
                    order_amount: new_amount,
                    order_has_hardware: has_hardware,
                    shipping_country: shipping_country.as_deref(),
                    verifications_to_number_last_hour: to_number,
                    failed_verifications_of_customer_last_day: failed,
                },
            );
            let blocked = assessment.decision == Decision::Deny;
            if blocked {
                record.state.status = Status::Blocked;
            }
            record.risk_decision = assessment.decision.as_str().to_owned();
            record.risk_score = i64::from(assessment.score);
            record.risk_reasons = assessment.reasons.join(",");
            store::insert(conn, &record)?;
            let v = &record;
            events::append(
                conn,
                &event(v, "verification.created", now, json!({
                    "amount": v.amount_minor, "currency": v.currency, "locale": v.locale,
                    "phone_region": v.phone_region, "number_type": v.number_type, "hardware": has_hardware,
                    "phone_verified": phone_verified,
                    "phone_changed_at": phone_changed_at.map(crate::clock::rfc3339),
                })),
            )?;
            events::append(
                conn,
                &event(v, "risk.assessed", now, json!({
                    "decision": assessment.decision.as_str(), "score": assessment.score, "reasons": assessment.reasons,
                })),
            )?;
            let queued = if blocked {
                events::append(
                    conn,
                    &event(v, "verification.blocked", now, json!({
                        "reasons": assessment.reasons, "amount": v.amount_minor, "currency": v.currency,
                    })),
                )?;
                None
            } else {
                sms_store::enqueue_claimed(conn, &sms, SMS_LEASE_MS)?;
                events::append(conn, &event(v, "sms.queued", now, json!({ "message_id": sms.id })))?;
                Some(sms)
            };
            Ok((Created { record, replayed: false }, queued))
        })
        .await;
    let (created, queued) = match result {
        // Two requests with one new key raced on PostgreSQL: the other one's verification stands.
        Err(ServiceError::Store(StoreError::Duplicate)) if new.idempotency_key.is_some() => {
            return replay_or(app, &slug, &new, ServiceError::Conflict).await;
        }
        other => other?,
    };
    if !created.replayed {
        // As in the event log: every verification is created, some are blocked straight away.
        app.metrics.increment("orderguard_verification_events_total", &[("brand", &slug), ("type", "created")]);
        if queued.is_none() {
            app.metrics.increment("orderguard_verification_events_total", &[("brand", &slug), ("type", "blocked")]);
        }
        for reason in created.record.risk_reasons.split(',').filter(|r| !r.is_empty()) {
            app.metrics.increment("orderguard_risk_reasons_total", &[("brand", &slug), ("reason", reason)]);
        }
    }
    if let Some(sms) = queued {
        app.sms_queue.send(sms);
    }
    Ok(created)
}

/// The verification an earlier request with the same Idempotency-Key created, or `error`.
async fn replay_or(
    app: &Arc<App>,
    brand: &str,
    new: &NewVerification,
    error: ServiceError,
) -> Result<Created, ServiceError> {
    let Some(key) = new.idempotency_key.clone() else { return Err(error) };
    let brand = brand.to_owned();
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

pub async fn get(app: &Arc<App>, brand: &str, id: &str) -> Result<VerificationRecord, ServiceError> {
    let (brand, id) = (brand.to_owned(), id.to_owned());
    app.store.read(move |conn| store::find(conn, &brand, &id)).await?.ok_or(ServiceError::NotFound)
}

pub enum CheckResult {
    Approved { record: VerificationRecord, receipt: String },
    Wrong { record: VerificationRecord, attempts_remaining: u32 },
    Failed { record: VerificationRecord },
}

/// Loads, lets the domain decide, writes with a compare-and-set; retries when a parallel request
/// changed the verification in between. An error from `decide` rolls back everything it wrote.
/// An expired verification is recorded as expired.
async fn change<T: Send + 'static>(
    app: &Arc<App>,
    brand: &str,
    id: &str,
    decide: impl Fn(&mut dyn Conn, &mut VerificationRecord, Timestamp) -> Result<T, ServiceError>
    + Send
    + Sync
    + Clone
    + 'static,
) -> Result<T, ServiceError> {
    for _ in 0..MAX_RETRIES {
        let (brand, id, decide) = (brand.to_owned(), id.to_owned(), decide.clone());
        let now = crate::clock::now();
        let outcome = app
            .store
            .write(move |conn| -> Result<Result<T, ServiceError>, ServiceError> {
                let mut record = store::find(conn, &brand, &id)?.ok_or(ServiceError::NotFound)?;
                if record.state.is_expired(now) {
                    expire(conn, &mut record, now)?;
                    return Ok(Err(ServiceError::Rejected(Rejection::Expired)));
                }
                // Any error rolls the whole change back; only an expiry (above) is kept with a refusal.
                decide(conn, &mut record, now).map(Ok)
            })
            .await;
        match outcome {
            Err(ServiceError::Conflict) => continue,
            Err(e) => return Err(e),
            Ok(result) => return result,
        }
    }
    Err(ServiceError::Conflict)
}

/// Writes `record`'s changed state; a lost race becomes `Conflict` so the change is retried.
fn save(conn: &mut dyn Conn, record: &mut VerificationRecord, now: Timestamp) -> Result<(), ServiceError> {
    if !store::update_state(conn, record, now)? {
        return Err(ServiceError::Conflict);
    }
    record.updated_at = now.millis();
    Ok(())
}

pub fn expire(conn: &mut dyn Conn, record: &mut VerificationRecord, now: Timestamp) -> Result<(), ServiceError> {
    record.state.expire(now)?;
    save(conn, record, now)?;
    events::append(
        conn,
        &event(
            record,
            "verification.expired",
            now,
            json!({ "attempts": record.state.attempts, "resends": record.state.resends }),
        ),
    )?;
    Ok(())
}

pub async fn check(app: &Arc<App>, brand: &Arc<Brand>, id: &str, code: &str) -> Result<CheckResult, ServiceError> {
    let code = OtpCode::parse(code)?;
    let hasher = app.secrets.code_hasher().clone();
    let (outcome, record) = change(app, brand.slug.as_str(), id, move |conn, record, now| {
        let matches = hasher.matches(&record.id, &code, &record.code_hash);
        let outcome = record.state.check(matches, now)?;
        save(conn, record, now)?;
        let attempt = record.state.attempts;
        match outcome {
            CheckOutcome::Approved => {
                events::append(conn, &event(record, "verification.approved", now, json!({ "attempts": attempt, "resends": record.state.resends, "seconds_since_sent": (now.millis() - record.state.last_sent_at.millis()) / 1000 })))?;
            }
            CheckOutcome::WrongCode { .. } => {
                events::append(conn, &event(record, "check.failed", now, json!({ "attempt": attempt })))?;
            }
            CheckOutcome::Failed => {
                events::append(conn, &event(record, "check.failed", now, json!({ "attempt": attempt })))?;
                events::append(
                    conn,
                    &event(record, "verification.failed", now, json!({
                        "attempts": attempt, "risk": record.risk_decision,
                        "amount": record.amount_minor, "currency": record.currency,
                    })),
                )?;
            }
        }
        Ok((outcome, record.clone()))
    })
    .await?;
    let slug = brand.slug.to_string();
    let kind = match outcome {
        CheckOutcome::Approved => "approved",
        CheckOutcome::WrongCode { .. } => "check_failed",
        CheckOutcome::Failed => "failed",
    };
    app.metrics.increment("orderguard_verification_events_total", &[("brand", &slug), ("type", kind)]);
    if outcome == CheckOutcome::Approved {
        let attempt = record.state.attempts.to_string();
        app.metrics.increment("orderguard_approvals_by_attempt_total", &[("brand", &slug), ("attempt", &attempt)]);
        // Approved at `updated_at` (set by the approving save): the same span as the event's.
        let since_sent = record.updated_at - record.state.last_sent_at.millis();
        app.metrics.observe("orderguard_time_to_approve_seconds", &[("brand", &slug)], since_sent as f64 / 1000.0);
    }
    Ok(match outcome {
        CheckOutcome::Approved => {
            let receipt = receipt(app, &record, crate::clock::now())
                .ok_or(ServiceError::Internal("the approved verification's receipt could not be signed"))?;
            CheckResult::Approved { record, receipt }
        }
        CheckOutcome::WrongCode { attempts_remaining } => CheckResult::Wrong { record, attempts_remaining },
        CheckOutcome::Failed => CheckResult::Failed { record },
    })
}

/// The signed receipt of an approved verification, issued at `now`.
pub fn receipt(app: &App, record: &VerificationRecord, now: Timestamp) -> Option<String> {
    if record.state.status != Status::Approved {
        return None;
    }
    let amount = Money::from_minor(record.amount_minor, Currency::parse(&record.currency).ok()?);
    let approved = Approved {
        brand: &record.brand,
        verification_id: &record.id,
        order_id: &record.order_id,
        amount,
        order_digest: &record.order_digest,
        at: Timestamp(record.updated_at),
    };
    let claims = ReceiptClaims::new(&app.public_url, &approved, now);
    app.signer.sign(&claims, now.millis())
}

pub async fn resend(app: &Arc<App>, brand: &Arc<Brand>, id: &str) -> Result<VerificationRecord, ServiceError> {
    let secrets_hasher = app.secrets.code_hasher().clone();
    let brand_for_text = brand.clone();
    let app_for_crypto = app.clone();
    let (record, sms) = change(app, brand.slug.as_str(), id, move |conn, record, now| {
        record.state.resend(now)?;
        let code = OtpCode::generate(brand_for_text.policy.code_length, &mut OsRng);
        record.code_hash = secrets_hasher.hash(&record.id, &code).to_vec();
        let phone_enc =
            record.phone_enc.clone().ok_or(ServiceError::Internal("the number of this verification was erased"))?;
        let phone = app_for_crypto
            .secrets
            .decrypt(&phone_enc)
            .map_err(|_| ServiceError::Internal("the number cannot be decrypted with the current secret key"))?;
        let amount = Money::from_minor(record.amount_minor, Currency::parse(&record.currency)?);
        let message = QueuedSms {
            id: crate::ids::new_id(now.millis()),
            verification_id: record.id.clone(),
            brand: record.brand.clone(),
            order_id: record.order_id.clone(),
            country: record.phone_region.clone().unwrap_or_else(|| "ZZ".into()),
            to_enc: app_for_crypto.secrets.encrypt(&phone),
            body_enc: app_for_crypto.secrets.encrypt(
                brand_for_text
                    .sms_text(&record.locale, code.as_str(), amount, record.code_entry, &app_for_crypto.public_host)
                    .as_bytes(),
            ),
            attempts: 1,
            not_after: record.state.expires_at.millis(),
            lease_token: crate::ids::random_token(16),
            claimed_at: now.millis(),
        };
        save(conn, record, now)?;
        // The earlier code stops working: its SMS must not go out any more.
        sms_store::supersede_unsent(conn, &record.id, now.millis())?;
        sms_store::enqueue_claimed(conn, &message, SMS_LEASE_MS)?;
        events::append(
            conn,
            &event(
                record,
                "verification.resent",
                now,
                json!({ "resend": record.state.resends, "message_id": message.id }),
            ),
        )?;
        Ok((record.clone(), message))
    })
    .await?;
    app.metrics
        .increment("orderguard_verification_events_total", &[("brand", brand.slug.as_str()), ("type", "resent")]);
    app.sms_queue.send(sms);
    Ok(record)
}

pub const MAX_CANCEL_REASON: usize = 500;

pub async fn cancel(
    app: &Arc<App>,
    brand: &Arc<Brand>,
    id: &str,
    reason: Option<String>,
) -> Result<VerificationRecord, ServiceError> {
    if reason.as_ref().is_some_and(|r| r.len() > MAX_CANCEL_REASON) {
        return Err(FieldError::new("reason", format!("must be at most {MAX_CANCEL_REASON} characters")).into());
    }
    let record = change(app, brand.slug.as_str(), id, move |conn, record, now| {
        record.state.cancel(now)?;
        record.cancel_reason = reason.clone();
        save(conn, record, now)?;
        // The free-text reason may name people: it stays with the verification (erasable), not in
        // the permanent event log.
        events::append(conn, &event(record, "verification.canceled", now, json!({ "with_reason": reason.is_some() })))?;
        Ok(record.clone())
    })
    .await?;
    app.metrics
        .increment("orderguard_verification_events_total", &[("brand", brand.slug.as_str()), ("type", "canceled")]);
    Ok(record)
}

/// Expires pending verifications whose time is up; returns how many.
pub async fn sweep_expired(app: &Arc<App>) -> Result<usize, ServiceError> {
    let now = crate::clock::now();
    let expired = app
        .store
        .write(move |conn| -> Result<Vec<String>, ServiceError> {
            let mut brands = Vec::new();
            for mut record in store::due_for_expiry(conn, now, 500)? {
                match expire(conn, &mut record, now) {
                    Ok(()) => brands.push(record.brand),
                    // A check or another instance changed it meanwhile: the next sweep looks again.
                    Err(ServiceError::Conflict) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(brands)
        })
        .await?;
    for brand in &expired {
        app.metrics.increment("orderguard_verification_events_total", &[("brand", brand), ("type", "expired")]);
    }
    Ok(expired.len())
}

/// Parses the order from its wire form; errors name the field under `order`.
pub fn parse_order(input: &OrderInput<'_>) -> Result<Order, FieldError> {
    Order::parse(input).map_err(|e| e.within("order"))
}
