//! Starting a verification: the customer's number from the identity service, the risk decision
//! and, unless denied, the code and its SMS, all stored in one transaction.

use std::sync::Arc;

use orderguard_domain::FieldError;
use orderguard_domain::activity::{Burst, DAY_MS, HOUR_MS};
use orderguard_domain::clock::Timestamp;
use orderguard_domain::code::OtpCode;
use orderguard_domain::event::EventKind;
use orderguard_domain::limits::LimitHit;
use orderguard_domain::lists::ListName;
use orderguard_domain::order::Order;
use orderguard_domain::phone::E164;
use orderguard_domain::policy::ReviewAction;
use orderguard_domain::risk::{self, Assessment, Decision, RiskReason, RuleOutcome, Signals};
use orderguard_domain::sms_text::CodeEntry;
use orderguard_domain::swap::{self, SwapAnswer, SwapPolicy, WhenUnavailable};
use orderguard_domain::verification::{Status, Verification};
use rand_core::OsRng;
use serde_json::json;

use super::activity::{self, Activity, Budget, Keyed, Subjects};
use super::network::{self, CheckedOn, NetworkCheck};
use super::{code_sms, event};
use crate::app::App;
use crate::brand::Brand;
use crate::identity::{CustomerIdentity, CustomerRequest, IdentityError};
use crate::records::lists::ListMatch;
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
    /// The shop's identifier of the customer's device, if it has one.
    pub device_id: Option<String>,
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
    /// A hard limit blocked it: a new verification can succeed after this many seconds.
    pub retry_after_seconds: Option<i64>,
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
        Ok(Created { record: existing, replayed: true, retry_after_seconds: None })
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

    if !brand.policy.swap_checks.is_empty()
        && let Ok(replayed) = replay_or(app, brand, &new, ServiceError::NotFound).await
    {
        // A retry of a request that succeeded costs the gateway no second call.
        return Ok(replayed);
    }
    let id = crate::ids::new_id(now.millis());
    let policy = &brand.policy;
    let keyed = Keyed::of(&app.secrets, phone.as_str(), new.device_id.as_deref(), new.client_ip);
    let code = OtpCode::generate(policy.code_length, &mut OsRng);
    let mut record = VerificationRecord {
        id: id.clone(),
        brand: brand.slug.clone(),
        order_id: new.order.id.clone(),
        customer_ref: app.secrets.customer_ref(brand.slug.as_str(), &identity.customer_id),
        phone_enc: Some(app.secrets.encrypt(phone.as_str().as_bytes())),
        phone_hash: keyed.phone_hashes.first().cloned().unwrap_or_default(),
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
        hosted_token_hash: crate::crypto::hosted_token_hash(&app.secrets.hosted_token(&id)),
        cancel_reason: None,
        idempotency_key: new.idempotency_key.clone(),
        request_hash: Some(new.request_hash.clone()),
        created_at: now,
        updated_at: now,
        version: 0,
        receipt: None,
        range_ref: keyed.range_refs.first().cloned(),
        device_ref: keyed.device_refs.first().cloned(),
        network_checked_at: None,
        lookup_key: keyed.generation,
        device_enc: new.device_id.as_deref().map(|d| app.secrets.encrypt(d.as_bytes())),
        initial_risk: None,
    };
    let list_keys = crate::service::lists::keys_of(&crate::service::lists::Lookup {
        phone_hashes: &keyed.phone_hashes,
        e164: phone.as_str(),
        customer_ref: &record.customer_ref,
        device_refs: &keyed.device_refs,
        client_ip: new.client_ip,
    });
    let sms = code_sms(app, brand, &record, &code, now)?;
    // Asked before the transaction, and before any code exists: a slow gateway holds no lock.
    // Not for a verification the block list or a hard limit refuses anyway: a flood of refused
    // creates must not cost the gateway calls (nor fill its calls in flight).
    let refused_anyway = !policy.swap_checks.is_empty() && {
        let (subjects, keys, slug, limits) =
            (Subjects::of_new(&record, &keyed), list_keys.clone(), brand.slug.to_string(), brand.limits);
        app.store.read(move |conn| activity::refused_before_asking(conn, &slug, &limits, subjects, &keys, now)).await?
    };
    let network =
        if refused_anyway { Vec::new() } else { network::run(app, brand, phone.as_str(), &id, |_| true, now).await };
    record.network_checked_at = network::answered(&network).then_some(now);
    let facts = Facts {
        has_hardware: new.order.has_hardware(),
        // What the identity service said about the number: kept with the trace for risk reviews.
        phone_verified: identity.phone_verified,
        phone_changed_at: identity.phone_changed_at,
        range_digits: activity::range_of(phone.as_str()).len().saturating_sub(1),
        network,
        network_skipped: refused_anyway,
        device_refs: keyed.device_refs.clone(),
    };
    let request_hash = new.request_hash.clone();
    let brand_for_risk = brand.clone();
    let metrics = app.metrics.clone();
    let result = app
        .store
        .write(move |conn| -> Result<(Created, Option<QueuedSms>, Screening), ServiceError> {
            if let Some(key) = &record.idempotency_key
                && let Some(existing) = store::find_by_idempotency_key(conn, record.brand.as_str(), key)?
            {
                return idempotent_replay(existing, &request_hash).map(|c| (c, None, Screening::default()));
            }
            // Counted in the transaction that stores the verification, on locked rows: every
            // verification committed before this one is in the counts, and none after it.
            let risk_started = std::time::Instant::now();
            let listed = crate::store::lists::matching(conn, record.brand.as_str(), &list_keys, now)?;
            let subjects = Subjects::of_new(&record, &keyed);
            let mut activity = Activity::lock(conn, subjects, now)?;
            let policy = &brand_for_risk.policy;
            let mut budget = match policy.sms_budget(record.phone_region.as_deref()) {
                Some(limit) => {
                    let country = record.phone_region.as_deref().unwrap_or("ZZ");
                    Some(Budget::lock(conn, record.brand.as_str(), country, limit, now)?)
                }
                None => None,
            };
            let screening = screen(&brand_for_risk, &mut record, &mut activity, budget.as_mut(), &listed, &facts, now);
            activity.save(conn, now)?;
            if let Some(budget) = budget.filter(|_| screening.sends) {
                budget.save(conn, now)?;
            }
            let labels = [("brand", record.brand.as_str())];
            metrics.observe("orderguard_risk_duration_seconds", &labels, risk_started.elapsed().as_secs_f64());
            store::insert(conn, &record)?;
            let queued = record_creation(conn, &record, &screening, &facts, &sms, &brand_for_risk.policy_version, now)?;
            let retry_after_seconds = screening.limit.map(|hit| hit.retry_after_seconds(now));
            Ok((Created { record, replayed: false, retry_after_seconds }, queued, screening))
        })
        .await;
    let (created, queued, screening) = match result {
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
        for reason in &screening.shadow_reasons {
            let labels = [("brand", slug), ("reason", reason.as_str())];
            app.metrics.increment("orderguard_risk_shadow_reasons_total", &labels);
        }
        if let Some(hit) = screening.limit {
            let labels = [("action", "create"), ("brand", slug), ("limit", hit.reason.as_str())];
            app.metrics.increment("orderguard_limit_refusals_total", &labels);
        }
    }
    if let Some(sms) = queued {
        app.sms_queue.send(sms);
    }
    Ok(created)
}

/// What the order and the identity service told, beyond the record.
struct Facts {
    has_hardware: bool,
    phone_verified: bool,
    phone_changed_at: Option<i64>,
    /// Digits of the number that name its range (for the burst event; the range itself is personal data).
    range_digits: usize,
    /// What the telco's network said about the number.
    network: Vec<NetworkCheck>,
    /// Not asked, as a hard limit or the block list refused it just before.
    network_skipped: bool,
    /// The device's references under every matched look-up key (a device the customer used before
    /// a rotation is still known).
    device_refs: Vec<String>,
}

/// How a new verification was screened, beyond its `risk` (for its events and metrics).
#[derive(Debug, Default)]
struct Screening {
    /// The hard limit or pumping pause that refused it.
    limit: Option<LimitHit>,
    /// A burst to the number's range that this verification found.
    burst: Option<Burst>,
    /// The list entry that decided: a block-list entry refused, an allow-list entry skipped the
    /// scored rules.
    listed: Option<ListMatch>,
    rules: Vec<RuleOutcome>,
    shadow_reasons: Vec<RiskReason>,
    /// The code goes out.
    sends: bool,
}

/// Decides a new verification in this order: the block list, hard limits, the range's pumping
/// pause, the scored rules (unless allow-listed), then whether the code goes out (`review` holds
/// it unless the brand sends anyway; the burst rule and the day's SMS budget may still stop it). Sets the record's risk and status and counts it in `activity`.
fn screen(
    brand: &Brand,
    record: &mut VerificationRecord,
    activity: &mut Activity,
    budget: Option<&mut Budget>,
    listed: &[ListMatch],
    facts: &Facts,
    now: Timestamp,
) -> Screening {
    if let Some(entry) = listed.iter().find(|m| m.list == ListName::Block) {
        record.risk = Assessment { decision: Decision::Deny, score: 0, reasons: vec![RiskReason::BlockList] };
        record.state.status = Status::Blocked;
        return Screening { listed: Some(entry.clone()), ..Screening::default() };
    }
    let allowed = listed.iter().find(|m| m.list == ListName::Allow).cloned();
    let slug = record.brand.as_str();
    let policy = &brand.policy;
    let exempt_from_burst = activity.exempt_from_burst(policy, record.phone_region.as_deref(), now);
    let refused = brand.limits.create_refused(slug, &activity.customer, &activity.number, now).or_else(|| {
        let until = activity.range.blocked_until.filter(|_| !exempt_from_burst && activity.range.is_blocked(now));
        until.map(|until| LimitHit { reason: RiskReason::RangeBurst, until: Timestamp(until) })
    });
    if let Some(hit) = refused {
        // Not counted: a refused attempt must not prolong the window that refuses it.
        record.risk = Assessment { decision: Decision::Deny, score: 0, reasons: vec![hit.reason] };
        record.state.status = Status::Blocked;
        return Screening { limit: Some(hit), ..Screening::default() };
    }

    let mut screening = Screening { listed: allowed.clone(), ..Screening::default() };
    if allowed.is_some() {
        record.risk = Assessment { decision: Decision::Allow, score: 0, reasons: Vec::new() };
    } else {
        let evaluation = risk::assess(policy, &signals(record, activity, facts, now));
        screening.shadow_reasons = evaluation.shadow_reasons();
        record.risk = evaluation.assessment;
        screening.rules = evaluation.rules;
    }
    // Not skipped by the allow list: a swapped SIM receives the code whoever the customer is.
    let mut findings: Vec<_> = facts.network.iter().map(|c| c.finding.clone()).collect();
    if facts.network_skipped {
        // The refusal seen just before is gone (its window ended in between): nobody was asked,
        // so the order waits for an analyst rather than go out unchecked.
        let unasked = SwapAnswer::Unavailable { error: "not asked: a hard limit refused just before".into() };
        findings = policy
            .swap_checks
            .iter()
            .map(|p| swap::judge(&SwapPolicy { when_unavailable: WhenUnavailable::Review, ..p.clone() }, &unasked, now))
            .collect();
    }
    let network_shadow = swap::apply(&mut record.risk, &findings, policy.review_score, policy.deny_score);
    screening.shadow_reasons.extend(network_shadow);
    screening.rules.extend(findings.iter().map(|f| f.rule_outcome()));
    count_creation(record, activity, now);
    // A swap worth a review always holds: sending the code marked for review would send it to
    // the SIM that may be the fraudster's.
    let swap_review = findings.iter().any(|f| !f.shadow && f.action == Some(swap::FindingAction::Review));
    let holds = record.risk.decision == Decision::Review && (policy.review_action == ReviewAction::Hold || swap_review);
    match record.risk.decision {
        Decision::Deny => record.state.status = Status::Blocked,
        _ if holds => record.state.hold(now, policy.review_hold_seconds),
        _ => {
            if !exempt_from_burst && let Some(burst) = activity.range.start_burst_with_next(now) {
                record.risk.reasons.push(RiskReason::RangeBurst);
                record.risk.decision = Decision::Deny;
                record.state.status = Status::Blocked;
                screening.limit = Some(LimitHit { reason: RiskReason::RangeBurst, until: burst.until });
                screening.burst = Some(burst);
                return screening;
            }
            if let Some(budget) = budget {
                if budget.is_spent() {
                    // Past the day's budget: held and reported, not sent.
                    record.risk.reasons.push(RiskReason::SmsBudgetReached);
                    record.risk.decision = Decision::Review;
                    record.state.hold(now, policy.review_hold_seconds);
                    return screening;
                }
                budget.record_sent();
            }
            activity.record_sent(exempt_from_burst, now);
            screening.sends = true;
        }
    }
    screening
}

/// The counts the scored rules read, from the activity before this verification.
fn signals<'a>(record: &'a VerificationRecord, activity: &Activity, facts: &Facts, now: Timestamp) -> Signals<'a> {
    let hour = |times: &orderguard_domain::activity::Times| times.count_within(now, HOUR_MS);
    let on_device = activity.device.as_ref().map(|device| {
        let others = device.customers.count_after(Timestamp(now.millis() - DAY_MS));
        others + u32::from(!device.customers.contains(&record.customer_ref))
    });
    let known = |seen: &orderguard_domain::activity::SeenSet, key: Option<&String>| {
        key.filter(|_| !seen.is_empty()).map(|key| seen.contains(key))
    };
    Signals {
        phone_region: record.phone_region.as_deref(),
        number_type: record.number_type,
        order_amount: record.amount,
        order_has_hardware: facts.has_hardware,
        shipping_country: record.shipping_country.as_deref(),
        verifications_to_number_last_hour: hour(&activity.number.created),
        verifications_of_customer_last_hour: hour(&activity.customer.created),
        verifications_from_network_last_hour: activity.network.as_ref().map(|n| hour(&n.created)),
        verifications_from_device_last_hour: activity.device.as_ref().map(|d| hour(&d.created)),
        customers_on_device_last_day: on_device,
        wrong_codes_of_customer_last_day: activity.customer.wrong_codes.count(now, DAY_MS),
        wrong_codes_to_number_last_day: activity
            .number
            .wrong_codes
            .get(record.brand.as_str())
            .map_or(0, |w| w.count(now, DAY_MS)),
        number_changed_days_ago: facts.phone_changed_at.map(|at| (now.millis() - at).max(0) / DAY_MS),
        device_known: facts
            .device_refs
            .first()
            .filter(|_| !activity.customer.devices.is_empty())
            .map(|_| facts.device_refs.iter().any(|d| activity.customer.devices.contains(d))),
        shipping_country_known: known(&activity.customer.shipping_countries, record.shipping_country.as_ref()),
    }
}

/// Counts a verification that no limit refused.
fn count_creation(record: &VerificationRecord, activity: &mut Activity, now: Timestamp) {
    activity.number.created.record(now);
    activity.customer.created.record(now);
    for source in [activity.network.as_mut(), activity.device.as_mut()].into_iter().flatten() {
        source.created.record(now);
        source.customers.record(&record.customer_ref, now);
    }
}

/// The events of a new verification, and its SMS unless it was blocked or held.
fn record_creation(
    conn: &mut dyn Conn,
    v: &VerificationRecord,
    screening: &Screening,
    facts: &Facts,
    sms: &QueuedSms,
    policy_version: &str,
    now: Timestamp,
) -> Result<Option<QueuedSms>, ServiceError> {
    let created = json!({
        "amount": v.amount.minor, "currency": v.amount.currency.code(), "locale": v.locale,
        "phone_region": v.phone_region, "number_type": v.number_type, "hardware": facts.has_hardware,
        "phone_verified": facts.phone_verified,
        "phone_changed_at": facts.phone_changed_at.map(crate::clock::rfc3339),
    });
    let mut written = vec![event(v, EventKind::VerificationCreated, now, created)];
    for check in &facts.network {
        let attrs = network::event_attrs(check, CheckedOn::Create);
        written.push(event(v, EventKind::NetworkChecked, now, attrs));
    }
    let risk = &v.risk;
    let retry_after_seconds = screening.limit.map(|hit| hit.retry_after_seconds(now));
    let assessed = json!({
        "decision": risk.decision, "score": risk.score, "reasons": risk.reasons,
        "shadow_reasons": screening.shadow_reasons, "rules": screening.rules,
        "policy_version": policy_version,
        "network": facts.network.iter().map(|c| json!({
            "api": c.policy.kind, "outcome": c.finding.outcome, "age_band": c.finding.age_band,
        })).collect::<Vec<_>>(),
        "list": screening.listed.as_ref().map(|m| json!({ "list": m.list, "kind": m.kind, "entry": m.id })),
    });
    written.push(event(v, EventKind::RiskAssessed, now, assessed));
    if let Some(burst) = screening.burst {
        let attrs = json!({
            "range_digits": facts.range_digits, "unconfirmed": burst.unconfirmed,
            "usual_rate": burst.usual_rate, "until": crate::clock::rfc3339(burst.until.millis()),
        });
        written.push(event(v, EventKind::RangeBurst, now, attrs));
    }
    let queued = match v.state.status {
        Status::Blocked => {
            let attrs = json!({
                "reasons": risk.reasons, "amount": v.amount.minor, "currency": v.amount.currency.code(),
                "retry_after_seconds": retry_after_seconds,
            });
            written.push(event(v, EventKind::VerificationBlocked, now, attrs));
            None
        }
        Status::InReview => {
            let attrs = json!({
                "reasons": risk.reasons, "expires_at": crate::clock::rfc3339(v.state.expires_at.millis()),
            });
            written.push(event(v, EventKind::VerificationHeld, now, attrs));
            None
        }
        _ => {
            sms_store::enqueue_claimed(conn, sms, crate::sms::queue::LEASE_MS)?;
            written.push(event(v, EventKind::SmsQueued, now, json!({ "message_id": sms.id })));
            Some(sms.clone())
        }
    };
    // One statement for all of them: on PostgreSQL each statement is a round trip.
    events::append_many(conn, &written)?;
    Ok(queued)
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
